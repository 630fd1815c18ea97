"""Acts as the web process does, in a process of its own (so its on-commit publication
goes to the broker and queue of the worker under test):

    python -m tests.propagation.actor withdraw:<speaker pk>:<purpose> erase:<speaker pk>
        retry:<target pk>

Prints one JSON line: the ids of the propagations it caused."""

from __future__ import annotations

import json
import os
import sys


def main(argv: list[str]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "registry.settings")
    import django

    django.setup()
    from consent import services as consent
    from consent.models import ConsentOutbox
    from consent.selectors import current_notice  # noqa: F401 - settings side effects
    from propagation import services as propagation
    from registry.models import Speaker

    before = ConsentOutbox.objects.order_by("-id").values_list("id", flat=True).first() or 0
    evidence = consent.Evidence(method="web_form_signed", signed_name="Test Speaker")
    for act in argv:
        verb, _, rest = act.partition(":")
        if verb == "withdraw":
            speaker_pk, purpose = rest.split(":")
            speaker = Speaker.objects.get(pk=int(speaker_pk))
            consent.withdraw_consent(
                speaker=speaker,
                purpose=purpose,
                evidence=evidence,
                actor=consent.Actor.of_speaker(speaker),
            )
        elif verb == "erase":
            speaker = Speaker.objects.get(pk=int(rest))
            consent.request_erasure(
                speaker=speaker, evidence=evidence, actor=consent.Actor.of_speaker(speaker)
            )
        elif verb == "retry":
            propagation.retry_targets(target_ids=[int(rest)])
        else:
            raise SystemExit(f"unknown act {act!r}")
    rows = ConsentOutbox.objects.filter(id__gt=before).values_list("propagation__id", flat=True)
    print(json.dumps({"propagations": list(rows)}))


if __name__ == "__main__":
    main(sys.argv[1:])
