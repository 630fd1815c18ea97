"""The small world every drill acts in, built through the registry's own services in the
drill process (Django set up against the drill's database):

- ``speakers`` speakers in four jurisdictions, each with recording, training and
  redistribution consent (written: typed-name signature), two calls per pair of them;
- a training + redistribution dataset and its built release of every call;
- a licensee holding it, with a webhook to the drill's receiver and a derived model
  trained on it, so a training withdrawal reaches three targets (the release's erratum,
  the license's notice, the model's notice);
- API tokens: the collection platform's, the licensee's and a staff one.
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass
from typing import Any

PLACES = (("US-IL", "en"), ("US-CA", "en"), ("DE", "de"), ("JP", "ja"))
GIVEN = ("recording", "training", "redistribution")


@dataclass
class SpeakerCard:
    """What the collection platform knows of a speaker: ids, never personal data, plus
    the email the drill registered (for the staff lookup after a key rotation)."""

    id: str
    email: str
    notices: dict[str, str]  # purpose -> current notice public id
    training_given: bool = True


@dataclass
class World:
    speakers: list[SpeakerCard]
    recordings: list[str]
    release: str
    release_path: str  # /datasets/<slug>/<version>/
    licensee_token: str
    collector_token: str
    staff_token: str
    webhook_secret: str


def _evidence(name: str) -> Any:
    from consent.models import EvidenceMethod
    from consent.services import Evidence

    return Evidence(method=EvidenceMethod.WEB_FORM_SIGNED, signed_name=name)


def _register(count: int, tag: str) -> list[tuple[Any, str]]:
    from consent.selectors import current_notice
    from consent.services import Actor, give_consent
    from registry import services as registry

    people = []
    for index in range(count):
        jurisdiction, language = PLACES[(index // 2) % len(PLACES)]  # pairs share a place
        name = f"Drill Speaker {index}"
        email = f"drill-{tag}-{index}@example.org"
        speaker = registry.register_speaker(
            name=name,
            email=email,
            jurisdiction=jurisdiction,
            preferred_language=language,
            age_verification_method="platform_attestation",
            age_attested_minimum=21,
        )
        for purpose in GIVEN:
            give_consent(
                speaker=speaker,
                purpose=purpose,
                notice=current_notice(speaker=speaker, purpose=purpose),
                evidence=_evidence(name),
                actor=Actor.of_speaker(speaker),
            )
        people.append((speaker, email))
    return people


def _record_calls(people: list[tuple[Any, str]], tag: str, per_pair: int) -> list[str]:
    """``per_pair`` calls for each pair, through a session each, recorded now (after
    every consent above)."""
    from django.utils import timezone

    from consent.services import create_recording_session
    from consent.services.ingestion import RecordingLine, ingest_recording

    recordings = []
    for pair in range(len(people) // 2):
        a, b = people[2 * pair][0], people[2 * pair + 1][0]
        for call in range(per_pair):
            ref = f"drill-{tag}-{pair}-{call}"
            session = create_recording_session(
                external_ref=ref,
                jurisdiction=a.jurisdiction,
                language=a.preferred_language,
                speakers=[a, b],
            )
            ingested = ingest_recording(
                line=RecordingLine(
                    line=1,
                    session=session.public_id,
                    external_ref=ref,
                    recorded_at=timezone.now(),
                    duration_ms=600_000,
                    sample_rate_hz=16_000,
                    channel_count=2,
                    isolated_at_source=True,
                    tracks=((0, a.public_id), (1, b.public_id)),
                    audio_uri=f"s3://drill/{ref}.flac",
                    audio_sha256=uuid.uuid5(uuid.NAMESPACE_URL, ref).hex * 2,
                )
            )
            recordings.append(str(ingested.recording.public_id))
    return recordings


def build_world(*, speakers: int, receiver_url: str, calls_per_pair: int = 2) -> World:
    """Seed the world above; returns what the load needs (ids and bearer tokens)."""
    from django.utils import timezone

    from consent import demo
    from consent.selectors import current_notice
    from datasetcards import services as datasets
    from propagation import services as propagation
    from registry import services as registry
    from registry import tokens

    tag = uuid.uuid4().hex[:6]
    demo.publish_demo_notices()
    people = _register(speakers, tag)
    recordings = _record_calls(people, tag, calls_per_pair)
    dataset = datasets.create_dataset(
        slug=f"drill-{tag}",
        name="Drill conversations",
        description="Two-channel conversations between consenting adults (drill data).",
        purpose_statement="Exercises the registry under faults.",
        intended_purposes=["training", "redistribution"],
        license_spdx="CC-BY-NC-4.0",
        phase_fit=["post"],
        owner="Voice Consent Registry (drill)",
        redress_contact="privacy@registry.example",
        processing_description="None.",
        isolated_at_source_only=False,
    )
    release = datasets.create_release(dataset=dataset, version="1.0.0", enqueue=False)
    release = datasets.build_release(release_id=release.pk)
    licensee = registry.register_licensee(
        name="Drill builder", slug=f"drill-{tag}", contact_email="b@example.org", jurisdiction="US"
    )
    datasets.grant_license(
        licensee=licensee,
        dataset=dataset,
        purposes_allowed=["training", "redistribution"],
        derived_model_action="retrain",
        starts_on=timezone.now().date() - datetime.timedelta(days=1),
        releases=[release],
    )
    propagation.declare_derived_model(
        licensee=licensee,
        name="drill-duplex",
        version="1.0",
        withdrawal_action="retrain",
        release_ids=[release.public_id],
    )
    webhook = propagation.register_webhook(licensee=licensee, url=receiver_url)

    def bearer(kind: str, scopes: list[str], **extra: Any) -> str:
        return tokens.issue_api_token(
            name=f"drill {kind}", kind=kind, scopes=scopes, **extra
        ).secret

    cards = [
        SpeakerCard(
            id=str(speaker.public_id),
            email=email,
            notices={
                p: str(current_notice(speaker=speaker, purpose=p).public_id)
                for p in ("training", "redistribution")
            },
        )
        for speaker, email in people
    ]
    return World(
        speakers=cards,
        recordings=recordings,
        release=str(release.public_id),
        release_path=f"/datasets/{dataset.slug}/{release.version}/",
        licensee_token=bearer(
            "licensee", ["datasets:read", "feed:read", "webhooks:manage"], licensee=licensee
        ),
        collector_token=bearer("collector", ["consent:write", "recordings:ingest"]),
        staff_token=bearer("staff", ["staff:read"]),
        webhook_secret=webhook.secret,
    )
