"""Propagation through real processes: a Celery worker (prefork) and beat on a queue of
their own, the web side acting in a process of its own, a local HTTP receiver as the
licensee. Broker outage, a SIGKILLed worker child and a licensee that is down."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from consent.models import ConsentOutbox
from datasetcards.models import ReleaseStatus
from propagation.models import (
    REACHED_STATUSES,
    AudioTombstone,
    DeliveryAttempt,
    PropagationTarget,
    TargetKind,
    TargetStatus,
)
from registry.models import DerivedModelStatus, Track
from tests.processes import stop, wait_for
from tests.propagation.conftest import Receiver, World, make_world

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

BASE_DIR = Path(__file__).resolve().parents[2]


@dataclass
class Stack:
    env: dict[str, str]
    worker: subprocess.Popen[bytes]
    beat: subprocess.Popen[bytes]

    def act(self, *acts: str) -> dict[str, list[int]]:
        """Do what the web process does, in a process of its own."""
        result = subprocess.run(
            [sys.executable, "-m", "tests.propagation.actor", *acts],
            cwd=BASE_DIR,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        return json.loads(result.stdout.strip().splitlines()[-1])

    def worker_children(self) -> list[int]:
        path = Path(f"/proc/{self.worker.pid}/task/{self.worker.pid}/children")
        return [int(pid) for pid in path.read_text().split()]


def _start(env: dict[str, str], log: Path, *args: str) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:  # read it when a test fails
        return subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "registry", *args, "--loglevel", "WARNING"],
            cwd=BASE_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


@dataclass
class RedisServer:
    """A Redis of this test's own, so it can be stopped without touching anyone else's."""

    port: int
    directory: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(lambda: _pong(self.port), 10, "redis up")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None
        wait_for(lambda: not _pong(self.port), 10, "redis down")


@pytest.fixture
def redis_server(tmp_path) -> Iterator[RedisServer]:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = RedisServer(port, tmp_path)
    server.start()
    yield server
    if server.process is not None:
        server.process.terminate()
        server.process.wait(timeout=10)


def _pong(port: int) -> bool:
    result = subprocess.run(
        ["redis-cli", "-p", str(port), "ping"], capture_output=True, text=True, check=False
    )
    return result.stdout.strip() == "PONG"


@pytest.fixture
def stack(subprocess_env, tmp_path, audio_dir, redis_server) -> Iterator[Stack]:
    env = {
        **subprocess_env,
        "CELERY_BROKER_URL": f"redis://127.0.0.1:{redis_server.port}/0",
        "CELERY_TASK_DEFAULT_QUEUE": f"test-{uuid.uuid4().hex[:12]}",
        "CELERY_BEAT_SCHEDULE_FILENAME": str(tmp_path / "beat-schedule"),
        "AUDIO_STORAGE_OPTIONS": json.dumps({"location": str(audio_dir)}),
        "PROPAGATION_SWEEP_SECONDS": "1",
        "PROPAGATION_REDISPATCH_SECONDS": "3",
        "PROPAGATION_RETRY_BASE_SECONDS": "0.5",
        "PROPAGATION_RETRY_CAP_SECONDS": "2",
        "PROPAGATION_MAX_ATTEMPTS": "3",
        "PROPAGATION_LEASE_SECONDS": "120",
        "WEBHOOK_TIMEOUT_SECONDS": "20",
    }
    worker = _start(
        env,
        tmp_path / "worker.log",
        "worker",
        "--pool",
        "prefork",
        "--concurrency",
        "2",
        "--without-mingle",
        "--without-gossip",
        "--hostname",
        f"prop-{uuid.uuid4().hex[:6]}@localhost",
    )
    beat = _start(env, tmp_path / "beat.log", "beat")
    try:
        yield Stack(env, worker, beat)
    finally:
        stop(beat)
        stop(worker)


@pytest.fixture
def live_world(notices, receiver) -> World:
    return make_world(receiver)


def _reached(**filters: object) -> bool:
    targets = PropagationTarget.objects.filter(**filters)
    return targets.exists() and not targets.exclude(status__in=REACHED_STATUSES).exists()


def test_a_withdrawal_reaches_release_licensee_model_and_audio_through_the_worker(
    stack: Stack, live_world: World, receiver: Receiver, audio_dir: Path
) -> None:
    world = live_world
    own_audio = [t.audio_name for t in Track.objects.filter(speaker=world.a)]
    stack.act(f"withdraw:{world.a.pk}:recording")
    wait_for(lambda: _reached(propagation__speaker=world.a), 90, "every target reached")
    world.release.refresh_from_db()
    assert world.release.status == ReleaseStatus.TAINTED
    world.model.refresh_from_db()
    assert world.model.status == DerivedModelStatus.FLAGGED
    assert AudioTombstone.objects.filter(track__speaker=world.a).count() == len(world.calls)
    assert all(not (audio_dir / name).exists() for name in own_audio)
    # The licensee got one verified notice per notified target, each exactly once.
    notified = PropagationTarget.objects.filter(
        kind__in=[TargetKind.LICENSE, TargetKind.DERIVED_MODEL]
    )
    assert sorted(r.headers["Idempotency-Key"] for r in receiver.verified()) == sorted(
        str(t.idempotency_key) for t in notified
    )
    # Every attempt was logged by the worker process, with latency and status code.
    attempts = DeliveryAttempt.objects.filter(target__in=notified)
    assert {a.status_code for a in attempts} == {200}
    assert all(a.worker.startswith("prop-") for a in attempts)


def test_withdrawals_made_while_the_broker_is_down_are_delivered_once_it_returns(
    stack: Stack, live_world: World, receiver: Receiver, redis_server: RedisServer
) -> None:
    world = live_world
    redis_server.stop()
    # The acts commit although nothing can be published: the outbox holds them.
    stack.act(
        f"withdraw:{world.a.pk}:training",
        f"withdraw:{world.b.pk}:redistribution",
        f"withdraw:{world.others[0].pk}:training",
    )
    rows = ConsentOutbox.objects.all()
    assert rows.count() == 3
    assert not rows.filter(published_at__isnull=False).exists()
    time.sleep(2)
    assert receiver.requests == []
    keys = {
        str(t.idempotency_key)
        for t in PropagationTarget.objects.filter(
            kind__in=[TargetKind.LICENSE, TargetKind.DERIVED_MODEL]
        )
    }
    assert len(keys) == 6  # three withdrawals x (license + model)
    redis_server.start()
    wait_for(lambda: _reached(), 90, "all delivered after the broker returned")
    assert not ConsentOutbox.objects.filter(published_at__isnull=True).exists()
    time.sleep(3)  # room for any duplicate to show up
    delivered = [r.headers["Idempotency-Key"] for r in receiver.verified()]
    assert sorted(delivered) == sorted(keys), "each notice exactly once"


def test_a_worker_killed_mid_delivery_redelivers_with_the_same_idempotency_key(
    stack: Stack, live_world: World, receiver: Receiver
) -> None:
    world = live_world
    receiver.delay = 6.0  # long enough to kill the child while it waits for the reply
    stack.act(f"withdraw:{world.a.pk}:training")
    wait_for(lambda: receiver.requests, 60, "first notice in flight")
    receiver.delay = 0.0
    for child in stack.worker_children():
        os.kill(child, signal.SIGKILL)
    wait_for(lambda: _reached(propagation__speaker=world.a), 90, "delivered after the kill")
    first_key = receiver.requests[0].headers["Idempotency-Key"]
    target = PropagationTarget.objects.get(idempotency_key=first_key)
    assert target.status in REACHED_STATUSES
    # The licensee saw the interrupted notice again under the same key: one logical
    # delivery. Every key it saw belongs to one target of this withdrawal.
    keys = receiver.keys()
    assert keys.count(first_key) >= 2
    assert set(keys) == {
        str(t.idempotency_key)
        for t in PropagationTarget.objects.filter(
            kind__in=[TargetKind.LICENSE, TargetKind.DERIVED_MODEL]
        )
    }
    world.model.refresh_from_db()
    assert world.model.withdrawals_pending == 1  # flagged once despite the redelivery


def test_a_licensee_that_is_down_goes_dead_then_a_staff_retry_delivers(
    stack: Stack, live_world: World, receiver: Receiver
) -> None:
    world = live_world
    receiver.default_status = 503
    stack.act(f"withdraw:{world.a.pk}:training")
    license_target = lambda: PropagationTarget.objects.get(kind=TargetKind.LICENSE)  # noqa: E731
    wait_for(lambda: license_target().status == TargetStatus.DEAD, 60, "dead after retries")
    target = license_target()
    assert target.attempts == 3
    attempts = DeliveryAttempt.objects.filter(target=target).order_by("started_at")
    assert [a.status_code for a in attempts] == [503, 503, 503]
    gaps = [
        (b.started_at - a.started_at).total_seconds()
        for a, b in zip(attempts, list(attempts)[1:], strict=False)
    ]
    assert all(gap >= 0.25 for gap in gaps)  # backoff: never retried at once
    receiver.default_status = 200
    stack.act(f"retry:{target.pk}")
    wait_for(lambda: license_target().status == TargetStatus.DELIVERED, 60, "delivered by retry")
    assert receiver.keys().count(str(target.idempotency_key)) == 4
