"""The licensees' withdrawal feed: every erratum of every release a licensee holds (or
ever held) a license to, in ``seq`` order of its feed entries.

An entry is written when the erratum is (for every licensee holding the release) and
when a license gains a release that already has errata, each under one
transaction-scoped lock (``datasetcards.services.post_to_feeds``): seq order is commit
order, so once a reader has seen seq N no entry with a lower seq can appear, and polling
with ``after=N`` never skips one. Each erratum carries its
Ed25519 signature over the RFC 8785 canonical JSON of its ``statement()``, verifiable
with the registry's JWKS. Ids, purposes and times only: never personal data."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.db.models import F

from datasetcards.models import ReleaseErratum

MAX_LIMIT = 1000
DEFAULT_LIMIT = 100


@dataclass(frozen=True)
class FeedPage:
    entries: Sequence[ReleaseErratum]
    # The seq to pass as ``after`` next time: the last entry's, or ``after`` itself
    # when there was nothing new (so a poller can always store it).
    next_cursor: int
    has_more: bool


def feed_page(*, licensee_id: int, after: int = 0, limit: int = DEFAULT_LIMIT) -> FeedPage:
    """Errata after ``after`` of every release ever licensed to the licensee, oldest
    first, at most ``limit`` (one query)."""
    limit = max(1, min(limit, MAX_LIMIT))
    rows = list(
        ReleaseErratum.objects.filter(
            feed_entries__licensee_id=licensee_id, feed_entries__seq__gt=after
        )
        .annotate(seq=F("feed_entries__seq"))  # the position in this licensee's feed
        .select_related("release__dataset")
        .order_by("seq")[: limit + 1]
    )
    entries = rows[:limit]
    next_cursor = int(entries[-1].seq) if entries else after
    return FeedPage(entries=entries, next_cursor=next_cursor, has_more=len(rows) > limit)
