"""A real Celery worker and beat, started as processes, consume tasks through real Redis."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from registry.models import WorkerHeartbeat
from registry.tasks import record_worker_heartbeat
from tests.processes import stop, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

BASE_DIR = Path(__file__).resolve().parents[2]


@pytest.fixture
def celery_processes(subprocess_env, tmp_path) -> Iterator[dict[str, str]]:
    """A worker and a beat on a queue of their own, so nothing else can take the work."""
    queue = f"test-{uuid.uuid4().hex[:12]}"
    hostname = f"test-worker-{uuid.uuid4().hex[:6]}@localhost"
    env = {
        **subprocess_env,
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        "WORKER_HEARTBEAT_SECONDS": "1",
        "CELERY_BEAT_SCHEDULE_FILENAME": str(tmp_path / "beat-schedule"),
    }
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "registry",
            "worker",
            "--pool",
            "solo",
            "--hostname",
            hostname,
            "--loglevel",
            "WARNING",
            "--without-mingle",
            "--without-gossip",
        ],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    beat = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "registry", "beat", "--loglevel", "WARNING"],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        yield {"queue": queue, "hostname": hostname}
    finally:
        stop(beat)
        stop(worker)


def test_a_task_sent_through_redis_is_executed_by_a_real_worker_process(
    celery_processes: dict[str, str],
) -> None:
    probe = f"probe-{uuid.uuid4().hex[:8]}"
    record_worker_heartbeat.apply_async(kwargs={"name": probe}, queue=celery_processes["queue"])
    heartbeat = wait_for(lambda: WorkerHeartbeat.objects.filter(name=probe).first())
    # Written by the worker process, not by this one (no eager mode anywhere).
    assert heartbeat.hostname == celery_processes["hostname"]


def test_beat_schedules_the_heartbeat_and_the_worker_runs_it(
    celery_processes: dict[str, str],
) -> None:
    first = wait_for(lambda: WorkerHeartbeat.objects.filter(name="celery").first())
    assert first.hostname == celery_processes["hostname"]
    # Beat keeps firing every second: the heartbeat moves forward.
    wait_for(
        lambda: WorkerHeartbeat.objects.filter(
            name="celery",
            beat_at__gt=first.beat_at,
        ).exists()
    )


def test_tasks_are_configured_to_survive_a_worker_crash() -> None:
    from registry.celery import app

    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.worker_prefetch_multiplier == 1
    assert app.conf.task_always_eager is False
