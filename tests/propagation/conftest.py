"""A world a withdrawal can travel through: two speakers on three calls (each channel's
audio stored), a third pair on another call, two datasets with releases, a licensee
with a webhook pointing at a local HTTP receiver, a derived model, a voiceprint."""

from __future__ import annotations

import datetime
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.utils import timezone

from consent.services.audio import store_recording_audio, store_track_audio
from consent.services.biometrics import enroll_voiceprint
from datasetcards import services as datasets
from datasetcards.models import Dataset, License, Release
from propagation import services as propagation
from propagation import webhooks
from propagation.models import PropagationTarget, TargetStatus
from registry.models import DerivedModel, Licensee, Recording, Speaker, VoiceprintTemplate
from tests.consent.conftest import give_all, notices  # noqa: F401 - fixture
from tests.factories import DerivedModelFactory, LicenseeFactory, RecordingFactory, SpeakerFactory

ALL = ("recording", "training", "redistribution", "biometric")


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> dict[str, Any]:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A licensee's webhook endpoint on 127.0.0.1: records every request; answers with
    the next queued status (default 200), optionally after a delay."""

    url: str = ""
    secret: str = ""
    requests: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    default_status: int = 200
    delay: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self) -> int:
        with self.lock:
            return self.statuses.pop(0) if self.statuses else self.default_status

    def verified(self) -> list[Received]:
        return [
            r
            for r in self.requests
            if webhooks.verify_signature(
                header=r.headers.get("Registry-Signature", ""), body=r.body, secret=self.secret
            )
        ]

    def keys(self) -> list[str]:
        return [r.headers["Idempotency-Key"] for r in self.requests]


def start_receiver() -> tuple[Receiver, ThreadingHTTPServer]:
    receiver = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with receiver.lock:
                receiver.requests.append(Received(dict(self.headers.items()), body))
            if receiver.delay:
                time.sleep(receiver.delay)
            status = receiver.answer()
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/withdrawals"
    return receiver, server


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver, server = start_receiver()
    yield receiver
    server.shutdown()
    server.server_close()


@pytest.fixture
def audio_dir(settings, tmp_path) -> Path:
    """The "audio" storage in a folder of this test's own."""
    location = tmp_path / "audio"
    settings.STORAGES = {
        **settings.STORAGES,
        "audio": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(location)},
        },
    }
    return location


@dataclass
class World:
    a: Speaker  # the one who withdraws
    b: Speaker  # a's partner on every call
    others: list[Speaker]
    calls: list[Recording]  # a + b
    other_call: Recording
    training: Dataset  # needs training + redistribution
    biometric: Dataset  # needs biometric
    release: Release
    biometric_release: Release
    licensee: Licensee
    license: License
    model: DerivedModel
    voiceprint: VoiceprintTemplate
    secret: str

    def targets(self, **filters: Any) -> list[PropagationTarget]:
        return list(PropagationTarget.objects.filter(**filters).order_by("kind", "id"))


def make_dataset(slug: str, purposes: list[str], **options: Any) -> Dataset:
    """A dataset for tests (every recording, unless ``options`` narrow it)."""
    return datasets.create_dataset(
        slug=slug,
        name=f"Dataset {slug}",
        description="Two-channel conversations between consenting adults.",
        purpose_statement="Teaches full-duplex models when to speak and when to listen.",
        intended_purposes=purposes,
        license_spdx="CC-BY-NC-4.0",
        phase_fit=["post"],
        owner="Voice Consent Registry (test)",
        redress_contact="privacy@registry.example",
        processing_description="None.",
        **{"isolated_at_source_only": False, **options},
    )


def built_release(dataset: Dataset) -> Release:
    release = datasets.create_release(dataset=dataset, version="1.0.0", enqueue=False)
    return datasets.build_release(release_id=release.pk)


def make_world(receiver: Receiver, *, calls: int = 3) -> World:
    a, b, c, d = (SpeakerFactory() for _ in range(4))
    # Consent before the calls: recording consent given after a call never counts.
    with time_machine.travel(timezone.now() - datetime.timedelta(hours=2)):
        for speaker in (a, b, c, d):
            give_all(speaker, *ALL)
    recorded = timezone.now() - datetime.timedelta(hours=1)
    calls_made: list[Recording] = [
        RecordingFactory(speakers=[a, b], recorded_at=recorded, with_audio=False)
        for _ in range(calls)
    ]
    calls_made.append(RecordingFactory(speakers=[c, d], recorded_at=recorded, with_audio=False))
    for index, recording in enumerate(calls_made):
        # The mixed file and each channel on its own, all in the "audio" storage.
        calls_made[index] = store_recording_audio(
            recording=recording, content=f"mixed {recording.public_id}".encode()
        )
        for track in recording.tracks.all():
            store_track_audio(track=track, content=f"audio of {track.public_id}".encode())
    pair_calls, other = calls_made[:-1], calls_made[-1]
    training = make_dataset("duplex", ["training", "redistribution"])
    biometric = make_dataset("voiceprints", ["biometric"])
    release, biometric_release = built_release(training), built_release(biometric)
    licensee = LicenseeFactory()
    license_ = datasets.grant_license(
        licensee=licensee,
        dataset=training,
        purposes_allowed=["training", "redistribution"],
        derived_model_action="retrain",
        starts_on=timezone.now().date(),
        releases=[release],
        ack_deadline_days=14,
    )
    model = DerivedModelFactory(licensee=licensee, withdrawal_action="retrain")
    datasets.record_model_training(model=model, releases=[release])
    issued = propagation.register_webhook(licensee=licensee, url=receiver.url)
    receiver.secret = issued.secret
    voiceprint = enroll_voiceprint(speaker=a, template=b"template-bytes-of-a")
    return World(
        a=a,
        b=b,
        others=[c, d],
        calls=pair_calls,
        other_call=other,
        training=training,
        biometric=biometric,
        release=release,
        biometric_release=biometric_release,
        licensee=licensee,
        license=license_,
        model=model,
        voiceprint=voiceprint,
        secret=issued.secret,
    )


@pytest.fixture
def world(notices, receiver, audio_dir) -> World:  # noqa: F811 - the imported fixture
    return make_world(receiver)


def deliver_all(*, rounds: int = 5) -> dict[str, int]:
    """Run every due target in this process (what a worker does), until none is due."""
    seen: dict[str, int] = {}
    for _ in range(rounds):
        due = list(
            PropagationTarget.objects.filter(
                status__in=[TargetStatus.PENDING, TargetStatus.FAILED],
                next_attempt_at__lte=timezone.now(),
            ).values_list("pk", flat=True)
        )
        if not due:
            break
        for target_id in due:
            outcome = propagation.deliver(target_id=target_id, token=f"test-{target_id}")
            seen[outcome.status] = seen.get(outcome.status, 0) + 1
    return seen
