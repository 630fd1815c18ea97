"""Propagation figures for `make bench` (issue: withdrawal propagation).

- plan: a speaker on 1,000 (and 10,000) recordings held in 50 releases licensed to 20
  licensees (50 licenses) and 5 derived models withdraws training consent; the time of
  the whole act (event, state, outbox row, the set-based plan, commit, and publishing
  its targets to the broker) is timed, p95 of 10 withdrawals.
- delivery: the webhook targets of 10 such withdrawals are delivered by 4 worker
  processes to a local HTTP receiver; targets/s against the baseline of the same number
  of signed POSTs sent one after another from this process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parents[1]
RELEASES, LICENSEES, MODELS = 50, 20, 5


def bench_dataset(slug: str, purposes: list[str]) -> Any:
    """A dataset of every recording the purposes allow (the bench's own, by slug)."""
    from datasetcards import services as datasets
    from datasetcards.models import Dataset

    return Dataset.objects.filter(slug=slug).first() or datasets.create_dataset(
        slug=slug,
        name=f"Bench {slug}",
        description="Synthetic corpus for the benchmark.",
        purpose_statement="Measuring the registry at scale.",
        intended_purposes=purposes,
        license_spdx="CC-BY-NC-4.0",
        phase_fit=["post"],
        owner="bench",
        redress_contact="bench@example.org",
        processing_description="none",
        isolated_at_source_only=False,
    )


def fan_out(speaker_id: int, tag: str) -> dict[str, int]:
    """Put every call of ``speaker_id`` into 50 releases (one dataset each), license
    them to 20 licensees and declare 5 models on them. The items are written with one
    INSERT … SELECT per release; the release is then marked built."""
    from django.db import connection
    from django.utils import timezone

    from datasetcards import services as datasets
    from datasetcards.models import Release, ReleaseStatus
    from registry import services as catalogue

    now = timezone.now()
    releases = []
    for index in range(RELEASES):
        dataset = bench_dataset(f"fanout-{tag}-{index}", ["training"])
        release = Release.objects.create(
            dataset=dataset, version="1.0.0", status=ReleaseStatus.BUILDING, as_of=now
        )
        with connection.cursor() as cursor:
            cursor.execute(
                """INSERT INTO datasetcards_releaseitem (release_id, recording_id, track_id)
                   SELECT %s, t.recording_id, t.id FROM registry_track t
                    WHERE t.recording_id IN
                          (SELECT recording_id FROM registry_track WHERE speaker_id = %s)""",
                [release.pk, speaker_id],
            )
            tracks = cursor.rowcount
        Release.objects.filter(pk=release.pk).update(
            status=ReleaseStatus.CURRENT,
            manifest_sha256="0" * 64,
            built_at=now,
            track_count=tracks,
            recording_count=tracks // 2,
        )
        releases.append(Release.objects.get(pk=release.pk))
    licensees = [
        catalogue.register_licensee(
            name=f"Licensee {tag} {j}",
            slug=f"licensee-{tag}-{j}",
            contact_email=f"licensing-{j}@example.org",
            jurisdiction="US-CA",
        )
        for j in range(LICENSEES)
    ]
    for index, release in enumerate(releases):
        datasets.grant_license(
            licensee=licensees[index % LICENSEES],
            dataset=release.dataset,
            purposes_allowed=["training"],
            derived_model_action="retrain",
            starts_on=now.date(),
            releases=[release],
        )
    for m in range(MODELS):
        model = catalogue.register_derived_model(
            licensee=licensees[m],
            name=f"bench-{tag}",
            version=f"{m}.0",
            withdrawal_action="retrain",
        )
        datasets.record_model_training(model=model, releases=[releases[m]])
    return {"licensees": len(licensees), "releases": len(releases)}


def plan_size(speaker_id: int) -> int:
    from propagation.models import Propagation

    latest = Propagation.objects.filter(speaker_id=speaker_id).order_by("-id").first()
    return latest.targets.count() if latest else 0


class _Receiver:
    def __init__(self) -> None:
        self.times: list[float] = []
        self.keys: set[str] = set()
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    receiver.times.append(time.perf_counter())
                    receiver.keys.add(self.headers.get("Idempotency-Key", ""))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def reset(self) -> None:
        with self.lock:
            self.times.clear()
            self.keys.clear()


def delivery_throughput(speaker_id: int, withdraw: Any, workers: int = 4) -> dict[str, float]:
    """Webhook targets/s with ``workers`` worker processes, against sequential POSTs."""
    from django.conf import settings
    from django.utils import timezone

    from propagation import services, webhooks
    from propagation.models import REACHED_STATUSES, PropagationTarget, TargetKind, TargetStatus
    from registry.models import Licensee

    receiver = _Receiver()
    for licensee in Licensee.objects.filter(slug__startswith="licensee-"):
        services.register_webhook(licensee=licensee, url=receiver.url)

    def set_aside(targets: Any) -> None:
        """Marked done without delivery: not part of what this phase times."""
        now = timezone.now()
        targets.update(status=TargetStatus.ACKNOWLEDGED, delivered_at=now, acknowledged_at=now)

    # Only what this phase creates is measured: older targets are set aside.
    set_aside(PropagationTarget.objects.exclude(status__in=REACHED_STATUSES))
    first_new = (
        PropagationTarget.objects.order_by("-id").values_list("id", flat=True).first()
    ) or 0
    for _ in range(10):
        withdraw(speaker_id)
    webhook_kinds = [TargetKind.LICENSE, TargetKind.DERIVED_MODEL]
    new = PropagationTarget.objects.filter(id__gt=first_new)
    # Release targets were measured with the plan; here only the notices are timed.
    set_aside(new.exclude(kind__in=webhook_kinds))
    notices = new.filter(kind__in=webhook_kinds)
    count = notices.count()

    # Baseline: the same number of signed POSTs of a real notice body, one after
    # another, from this process.
    sample = notices.select_related("propagation", "license").first()
    body = json.dumps(services.notice_body(sample)).encode() if sample else b"{}"
    started = time.perf_counter()
    for _ in range(count):
        webhooks.post(url=receiver.url, body=body, idempotency_key=str(uuid.uuid4()), secrets=["s"])
    baseline = count / (time.perf_counter() - started)
    receiver.reset()

    # Same database, broker and queue as this process (set by run.py before setup);
    # no beat: the withdrawals' own kicks queued every target.
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "registry.settings"}
    print(f"[bench] delivering {count} notices through {settings.CELERY_BROKER_URL.split(':')[0]}")
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "registry",
            "worker",
            "--pool",
            "prefork",
            "--concurrency",
            str(workers),
            "--without-mingle",
            "--without-gossip",
            "--loglevel",
            "ERROR",
            "--hostname",
            f"bench-{uuid.uuid4().hex[:6]}@localhost",
        ],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        started = time.perf_counter()
        deadline = started + 600
        while notices.exclude(status__in=REACHED_STATUSES).exists():
            if time.perf_counter() > deadline:
                raise SystemExit("bench: webhook delivery did not finish within 10 minutes")
            time.sleep(0.5)
        wall = time.perf_counter() - started
    finally:
        worker.terminate()
        worker.wait(timeout=60)
    window = (max(receiver.times) - min(receiver.times)) if len(receiver.times) > 1 else wall
    receiver.server.shutdown()
    duplicates = len(receiver.times) - len(receiver.keys)
    return {
        "delivery: webhook targets": count,
        f"delivery: targets/s, {workers} workers": count / max(window, 1e-9),
        "delivery: targets/s, sequential POST baseline": baseline,
        f"delivery: {workers} workers / sequential POSTs": (count / max(window, 1e-9)) / baseline,
        "delivery: wall s incl. worker start": wall,
        "delivery: duplicate notices": duplicates,
    }
