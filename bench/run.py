#!/usr/bin/env python
"""`make bench`: the scale figures of issue #5, each measured in one run beside its
baseline, at N/10 and at N recordings (BENCH_RECORDINGS, default 30,000).

It creates a fresh database (BENCH_DATABASE, default registry_bench) on the same server
`make test` would use, migrates it, loads N/10 recordings with `generate_corpus`,
measures, loads the rest, measures again, and prints a Markdown table with each goal.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

BASE_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BASE_DIR))

from bench import api, propagation  # noqa: E402 - after the path is set

N = int(os.environ.get("BENCH_RECORDINGS", "30000"))
DATABASE = os.environ.get("BENCH_DATABASE", "registry_bench")
NAIVE_SAMPLE = int(os.environ.get("BENCH_NAIVE_SAMPLE", "20000"))
OUT_DIR = BASE_DIR / ".local" / "bench"


def _database_url(server_url: str, name: str) -> str:
    parts = urlsplit(server_url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def _fresh_database(server_url: str) -> str:
    import psycopg

    admin = _database_url(server_url, "postgres").replace("postgres://", "postgresql://", 1)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DATABASE}"')
    return _database_url(server_url, DATABASE)


def _redis_reachable(host: str = "127.0.0.1", port: int = 6379) -> bool:
    import socket

    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "registry.settings")
    # Propagation tasks go to a queue of the bench's own, on Redis when there is one
    # (else the serverless filesystem broker of `make run`); the worker processes the
    # bench starts inherit both.
    os.environ.setdefault("CELERY_TASK_DEFAULT_QUEUE", f"bench-{os.getpid()}")
    if "CELERY_BROKER_URL" not in os.environ and _redis_reachable():
        os.environ["CELERY_BROKER_URL"] = "redis://127.0.0.1:6379/5"
    os.environ["DJANGO_ENV"] = "development"
    os.environ["DEBUG"] = "false"  # no query log growing in memory
    import django

    django.setup()


# --- the export, run in a child process so its peak RSS is its own -------------------


def export_child(mode: str, out_path: str) -> None:
    from django.core.paginator import Paginator

    from consent.eligibility import eligible_tracks
    from consent.exports import copy_to, eligible_tracks_select, export_eligible_tracks_jsonl
    from consent.models import Purpose

    started = time.perf_counter()
    rows = 0
    with open(out_path, "wb") as out:
        if mode == "ours":
            export_eligible_tracks_jsonl(out=out, purpose=Purpose.TRAINING)
        elif mode == "copy":
            sql, params = eligible_tracks_select(purpose=Purpose.TRAINING)
            copy_to(out, f"COPY ({sql}) TO STDOUT", params)
        else:  # the naive way: ORM objects, page by page with OFFSET
            tracks = (
                eligible_tracks(purpose=Purpose.TRAINING)
                .select_related("recording", "speaker")
                .order_by("recording_id", "channel")
            )
            pages = Paginator(tracks, 1000)
            for number in pages.page_range:
                for track in pages.page(number).object_list:
                    recording = track.recording
                    line = {
                        "track": str(track.public_id),
                        "channel": track.channel,
                        "recording": str(recording.public_id),
                        "speaker": str(track.speaker.public_id),
                        "recorded_at": recording.recorded_at.isoformat(),
                        "duration_ms": recording.duration_ms,
                        "sample_rate_hz": recording.sample_rate_hz,
                        "language": recording.language,
                        "jurisdiction": recording.jurisdiction,
                        "isolated_at_source": recording.isolated_at_source,
                        "audio_uri": recording.audio_uri,
                        "audio_sha256": recording.audio_sha256,
                    }
                    out.write(json.dumps(line).encode() + b"\n")
                    rows += 1
                if rows >= NAIVE_SAMPLE:
                    break
    seconds = time.perf_counter() - started
    if mode != "naive":
        with open(out_path, "rb") as written:
            rows = sum(1 for _ in written)
    print(json.dumps({"seconds": seconds, "rows": rows, "peak_rss_mb": _peak_rss_mb()}))


def _peak_rss_mb() -> float:
    """This process's own high-water RSS. (ru_maxrss would also count the pages a
    forked child shared with its parent before exec, i.e. the bench's own memory.)"""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _export(mode: str) -> dict[str, float]:
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    return _child("--export", mode, str(OUT_DIR / f"{mode}.out"))


def _child(*args: str) -> dict[str, float]:
    """Run this script in a child process (same database) and read its JSON line."""
    result = subprocess.run(
        [sys.executable, __file__, *args],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


# --- the in-process figures -------------------------------------------------------------


def _explain_figures() -> tuple[int, float]:
    import random

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from consent.eligibility import explain_eligibility
    from consent.models import Purpose
    from registry.models import Recording

    ids = list(Recording.objects.values_list("pk", flat=True)[:5000])
    sample = random.Random(5).sample(ids, min(20, len(ids)))
    queries, times = [], []
    for recording in Recording.objects.filter(pk__in=sample):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            explain_eligibility(recording, Purpose.TRAINING)
            times.append(time.perf_counter() - started)
        queries.append(len(captured))
    return max(queries), statistics.median(times) * 1000


def _withdraw_training(speaker_id: int) -> float:
    """Give training consent if it is not in force, then time one withdrawal: event,
    state, outbox row, propagation plan, commit, publication of the plan's targets."""
    from consent import services
    from consent.models import Consent, EvidenceMethod, Purpose
    from consent.selectors import current_notice
    from registry.models import Speaker

    speaker = Speaker.objects.get(pk=speaker_id)
    actor = services.Actor.of_speaker(speaker)
    consent = Consent.objects.filter(speaker=speaker, purpose="training", session=None).first()
    if consent is None or not consent.is_valid:
        services.give_consent(
            speaker=speaker,
            purpose=Purpose.TRAINING,
            notice=current_notice(speaker=speaker, purpose=Purpose.TRAINING),
            evidence=services.Evidence(method=EvidenceMethod.WEB_FORM_SIGNED, signed_name="B"),
            actor=actor,
        )
    started = time.perf_counter()
    services.withdraw_consent(
        speaker=speaker,
        purpose=Purpose.TRAINING,
        evidence=services.Evidence(method=EvidenceMethod.WEB_FORM),
        actor=actor,
    )
    return time.perf_counter() - started


def _withdrawal_p95(speaker_id: int, cycles: int = 10) -> float:
    durations = sorted(_withdraw_training(speaker_id) for _ in range(cycles))
    return durations[max(0, round(0.95 * len(durations)) - 1)] * 1000


def _verify_rate() -> tuple[int, float]:
    from consent import chain

    started = time.perf_counter()
    report = chain.verify_chain()
    seconds = time.perf_counter() - started
    if not report.ok:
        raise SystemExit(f"audit chain broken: {report.problem}")
    return report.events_checked, report.events_checked / seconds


def measure(hubs: dict[int, int]) -> dict[str, float]:
    ours, copy, naive = _export("ours"), _export("copy"), _export("naive")
    figures = {
        "tracks exported": ours["rows"],
        "export: ours / COPY": ours["seconds"] / max(copy["seconds"], 1e-9),
        "export: ours, s": ours["seconds"],
        "export: COPY, s": copy["seconds"],
        "export: peak RSS of ours, MB": ours["peak_rss_mb"],
        "export: naive / ours (per row)": (naive["seconds"] / max(naive["rows"], 1))
        / (ours["seconds"] / max(ours["rows"], 1)),
    }
    figures["explain_eligibility: queries"], figures["explain_eligibility: ms"] = _explain_figures()
    # Hub 1 is meant to be on 1,000 calls, hub 2 on 10,000 (fewer when N is small), each
    # call held in 50 releases licensed to 20 licensees, 5 models trained on them.
    for number, (speaker_id, calls) in enumerate(sorted(hubs.items()), start=1):
        propagation.fan_out(speaker_id, tag=f"{speaker_id}")
        figures[f"withdraw hub {number}: recordings of the speaker"] = calls
        figures[f"withdraw hub {number}: p95 ms"] = _withdrawal_p95(speaker_id)
        figures[f"withdraw hub {number}: targets planned"] = propagation.plan_size(speaker_id)
    first_hub = sorted(hubs.items())[0][0]
    figures.update(propagation.delivery_throughput(first_hub, _withdraw_training))
    figures["verify_audit_chain: events"], figures["verify_audit_chain: events/s"] = _verify_rate()
    figures.update(_release_and_cards(copy["seconds"]))
    # The REST API through gunicorn on loopback (bench/api.py): manifest vs COPY,
    # eligibility pages and consent writes under 8 clients.
    figures.update(api.measure(os.environ["DATABASE_URL"]))
    return figures


def _release_and_cards(copy_seconds: float) -> dict[str, float]:
    """Build a release of a training + redistribution dataset (set-based INSERT,
    streamed manifest hash, SQL aggregates), then render its cards. The baseline is the
    bare COPY of the training-eligible tracks measured above, in the same process."""
    from datasetcards import services as datasets

    dataset = propagation.bench_dataset("bench", ["training", "redistribution"])
    version = f"1.{dataset.releases.count()}.0"
    started = time.perf_counter()
    release = datasets.create_release(dataset=dataset, version=version, enqueue=False)
    release = datasets.build_release(release_id=release.pk)
    build = time.perf_counter() - started
    cards = _child("--cards", str(release.pk))
    return {
        "release: tracks frozen": release.track_count,
        "release: build s": build,
        "release: build / COPY of eligible tracks": build / max(copy_seconds, 1e-9),
        "cards: figures (SQL aggregates) s": cards["figures_seconds"],
        "cards: JSON + Croissant s": cards["json_seconds"],
        "cards: PDF s": cards["pdf_seconds"],
        "cards: peak RSS of the rendering process, MB": cards["peak_rss_mb"],
        "bench: peak RSS MB": _peak_rss_mb(),
    }


def cards_child(release_id: str) -> None:
    """The card's figures are frozen at build; recompute them here to time the SQL
    aggregates the cards need, then the renderings, in a process of their own so the
    peak RSS is the cards' and not the corpus generator's."""
    from datasetcards.cards import croissant, native, pdf
    from datasetcards.cards.render import signed_card
    from datasetcards.figures import release_figures
    from datasetcards.models import Release

    release = Release.objects.select_related("dataset").get(pk=int(release_id))
    started = time.perf_counter()
    release_figures(release)
    figures_seconds = time.perf_counter() - started
    card = signed_card(release)
    croissant.build_croissant(release, card)
    json_seconds = time.perf_counter() - started
    started = time.perf_counter()
    pdf.build_pdf(release, native.build_card(release))
    pdf_seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "figures_seconds": figures_seconds,
                "json_seconds": json_seconds,
                "pdf_seconds": pdf_seconds,
                "peak_rss_mb": _peak_rss_mb(),
            }
        )
    )


GOALS = {
    "export: ours / COPY": "≤ 1.5",
    "export: peak RSS of ours, MB": "≤ 200, flat",
    "export: naive / ours (per row)": "≥ 10",
    "explain_eligibility: queries": "≤ 2",
    "verify_audit_chain: events/s": "≥ 200,000",
    "cards: JSON + Croissant s": "≤ 30 (at 3M; includes the SQL aggregates)",
    "cards: PDF s": "≤ 10 (at 3M)",
    "cards: peak RSS of the rendering process, MB": "flat",
    "manifest: HTTP / COPY": "≤ 1.5 (at 6M tracks)",
    "eligibility page: p95 ms (8 clients)": "reported",
    "consent write: errors": "0",
    "eligibility page: errors": "0",
    "consent write: grants/s (8 clients)": "≥ 300",
    "consent write: grant p95 ms": "≤ 50",
    "consent write: withdrawals/s (8 clients)": "≥ 300",
    "consent write: withdrawal p95 ms": "≤ 50",
    "bench: peak RSS MB": "flat",
}


def _goal(name: str) -> str:
    if name == "withdraw hub 1: p95 ms":
        return "≤ 1,000 (at 1,000 recordings)"
    if name == "withdraw hub 2: p95 ms":
        return "≤ 5,000 (at 10,000 recordings)"
    if name.endswith("targets planned"):
        return "50 releases + 50 licenses (20 licensees) + 5 models"
    return GOALS.get(name, "")


def main() -> int:
    from registry import local_services

    with local_services.database_url("test", BASE_DIR / ".local") as server_url:
        url = _fresh_database(server_url)
        _setup_django(url)
        from django.core.management import call_command

        from consent.corpus import generate_corpus

        call_command("migrate", verbosity=0)
        first = max(N // 10, 100)
        results = []
        for size, hubs in ((first, (1000,)), (N - first, (1000, 10000))):
            started = time.perf_counter()
            stats = generate_corpus(
                recordings=size, seed=1, hub_recordings=tuple(min(h, size // 10) for h in hubs)
            )
            load = time.perf_counter() - started
            figures = {"generate_corpus: recordings/s": size / load}
            figures.update(measure(stats.hubs))
            results.append(figures)
            print(f"[bench] measured after loading {size} recordings", flush=True)

        names = list(dict.fromkeys(name for r in results for name in r))
        print(f"\n## make bench, {time.strftime('%Y-%m-%d')}, N = {N:,} recordings")
        print(
            f"machine: {os.cpu_count()} cores, {platform.machine()}, "
            f"Python {platform.python_version()}\n"
        )
        print(f"| figure | N/10 = {first:,} | N = {N:,} | N vs N/10 | goal |")
        print("|---|---|---|---|---|")
        for name in names:
            low, high = results[0].get(name), results[1].get(name)
            slope = f"{high / low:.2f}x" if low and high else ""
            print(f"| {name} | {_fmt(low)} | {_fmt(high)} | {slope} | {_goal(name)} |")
        _explain_plan()
    return 0


def _fmt(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:,.0f}" if value >= 100 else f"{value:,.2f}"


def _explain_plan() -> None:
    from django.db import connection

    from consent.exports import eligible_tracks_select
    from consent.models import Purpose

    sql, params = eligible_tracks_select(purpose=Purpose.TRAINING)
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) {sql}", list(params))  # type: ignore[arg-type]
        plan = [row[0] for row in cursor.fetchall()]
    print("\nEXPLAIN (ANALYZE, BUFFERS) of the eligible-tracks query (training):\n")
    print("```")
    print("\n".join(plan))
    print("```")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--export":
        _setup_django(os.environ["DATABASE_URL"])
        export_child(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 3 and sys.argv[1] == "--cards":
        _setup_django(os.environ["DATABASE_URL"])
        cards_child(sys.argv[2])
    else:
        sys.exit(main())
