"""The drills' shared harness: dedicated services on loopback (``stack``), their child
processes (``processes``), a seeded world (``world``), fixed-rate load (``load``), RSS
sampling (``rss``), a webhook receiver (``receiver``), consistency checks (``checks``)
and the verdict/timeout plumbing every drill script uses (``drill``)."""
