"""The REST API's figures (issue #9), each beside a baseline measured in the same run:

- the manifest of a release streamed through the HTTP endpoint (gunicorn on loopback)
  vs PostgreSQL's own ``COPY`` of the same rows to the same kind of sink;
- the eligibility query: page latency p95 with 8 clients at once;
- the consent write path of the collection API (a grant, then a withdrawal, per
  speaker): requests/s and p95 with 8 clients at once;
- bulk ingestion: recordings/s of one JSONL batch.

Called by ``bench/run.py`` on its corpus; ``python bench/api.py`` runs it alone on a
fresh corpus of BENCH_RECORDINGS recordings (its own database, BENCH_API_DATABASE).
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parents[1]
CONCURRENCY = 8
WEB_WORKERS = int(os.environ.get("BENCH_WEB_WORKERS", "4"))
WRITES = int(os.environ.get("BENCH_API_WRITES", "1500"))  # speakers: a grant + a withdrawal each
PAGES = int(os.environ.get("BENCH_API_PAGES", "400"))  # eligibility pages; baseline requests x4
BULK = int(os.environ.get("BENCH_API_BULK", "1000"))  # calls in the bulk batch


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def gunicorn(database_url: str) -> Iterator[str]:
    """The production web server on loopback, against the bench database."""
    import httpx

    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DJANGO_ENV": "development",
        "DEBUG": "false",
        # The bench measures the server, not the per-token limit of production.
        "API_RATE": "100000000/min",
        "CONN_MAX_AGE": "60",
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "registry.wsgi",
            "-c",
            "python:registry.gunicorn_config",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(WEB_WORKERS),
            "--threads",
            os.environ.get("BENCH_WEB_THREADS", "1"),
            "--no-control-socket",
            "--log-level",
            "warning",
        ],
        cwd=BASE_DIR,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code < 500:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("gunicorn did not start")
            time.sleep(0.3)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) >= 2 else values[0]


def load(
    requests: list[Callable[[Any], int]], *, concurrency: int = CONCURRENCY
) -> dict[str, float]:
    """Run ``requests`` (each takes an httpx.Client and returns the status) from
    ``concurrency`` threads, one keep-alive client each; latency per request."""
    import httpx

    latencies: list[float] = []
    failures: list[int] = []
    lock = threading.Lock()
    queue = list(reversed(requests))

    def worker() -> None:
        with httpx.Client(timeout=60) as client:
            while True:
                with lock:
                    if not queue:
                        return
                    request = queue.pop()
                started = time.perf_counter()
                status = request(client)
                elapsed = time.perf_counter() - started
                with lock:
                    latencies.append(elapsed)
                    if status >= 400:
                        failures.append(status)

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    return {
        "requests": len(latencies),
        "errors": len(failures),
        "per_second": len(latencies) / wall,
        "p95_ms": p95(latencies) * 1000,
        "median_ms": statistics.median(latencies) * 1000,
    }


# --- set-up: a release of every track with recording consent, licensed to one licensee --


def licensed_release(*, reuse: bool = False) -> tuple[Any, str]:
    """A release of a recording-only dataset (every call whose speakers consented to
    being recorded: the largest release the corpus allows) and a licensee token."""
    from bench.propagation import bench_dataset
    from datasetcards import services as datasets
    from datasetcards.models import Release
    from registry import tokens

    existing = Release.objects.filter(dataset__slug="bench-api", status="current").last()
    if reuse and existing is not None:
        licensee = existing.licenses.get().licensee
        scopes = ["datasets:read", "feed:read"]
        issued = tokens.issue_api_token(
            name="bench", kind="licensee", scopes=scopes, licensee=licensee
        )
        return existing, issued.secret
    from registry import services as registry
    from registry import tokens
    from registry.models import Licensee

    dataset = bench_dataset("bench-api", ["recording"])
    release = datasets.create_release(
        dataset=dataset, version=f"1.{dataset.releases.count()}.0", enqueue=False
    )
    release = datasets.build_release(release_id=release.pk)
    licensee = Licensee.objects.filter(slug="bench-api").first() or registry.register_licensee(
        name="Bench builder", slug="bench-api", contact_email="b@example.org", jurisdiction="US"
    )
    datasets.grant_license(
        licensee=licensee,
        dataset=dataset,
        purposes_allowed=["recording"],
        derived_model_action="retrain",
        starts_on=datetime.datetime.now(tz=datetime.UTC).date(),
        releases=[release],
    )
    issued = tokens.issue_api_token(
        name="bench",
        kind="licensee",
        scopes=["datasets:read", "feed:read"],
        licensee=licensee,
    )
    return release, issued.secret


# --- the manifest -----------------------------------------------------------------------


def copy_seconds(release_id: int) -> tuple[float, int]:
    """Baseline: PostgreSQL's COPY of the manifest's rows, read to the end by this
    process (what the endpoint does before writing to the socket)."""
    from datasetcards.manifest import manifest_chunks

    started = time.perf_counter()
    size = sum(len(chunk) for chunk in manifest_chunks(release_id))
    return time.perf_counter() - started, size


def manifest_over_http(base: str, bearer: str, release: Any) -> tuple[float, int, str]:
    import hashlib

    import httpx

    digest = hashlib.sha256()
    size = 0
    started = time.perf_counter()
    with httpx.stream(
        "GET",
        f"{base}/api/v1/releases/{release.public_id}/manifest",
        headers={"Authorization": f"Bearer {bearer}", "Accept-Encoding": "identity"},
        timeout=3600,
    ) as response:
        response.raise_for_status()
        for chunk in response.iter_raw(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return time.perf_counter() - started, size, digest.hexdigest()


def manifest_figures(base: str, bearer: str, release: Any) -> dict[str, float]:
    copy, copy_size = copy_seconds(release.pk)
    http, size, sha256 = manifest_over_http(base, bearer, release)
    if sha256 != release.manifest_sha256 or size != copy_size:
        raise RuntimeError("the manifest over HTTP is not the release's manifest")
    return {
        "manifest: tracks": release.track_count,
        "manifest: MB": size / 1e6,
        "manifest: COPY s": copy,
        "manifest: HTTP (gunicorn) s": http,
        "manifest: HTTP / COPY": http / max(copy, 1e-9),
    }


# --- the eligibility query ----------------------------------------------------------------


def eligibility_figures(
    base: str, bearer: str, release: Any, pages: int = PAGES
) -> dict[str, float]:
    """Pages of eligible tracks (training) under 8 clients: first pages with different
    filters, and pages deep into the cursor chain."""
    headers = {"Authorization": f"Bearer {bearer}"}
    url = f"{base}/api/v1/eligibility/tracks/"
    filters = [
        {},
        {"language": "en"},
        {"jurisdiction": "US-CA"},
        {"isolated_at_source": "true"},
        {"min_duration_ms": "60000"},
        {"recorded_after": "2024-01-01T00:00:00Z"},
    ]
    # A few cursors deep into the chain, fetched once before the clock starts.
    import httpx

    cursors: list[str] = []
    with httpx.Client(timeout=120, headers=headers) as client:
        next_url: str | None = f"{url}?purpose=recording&release={release.public_id}"
        for _ in range(5):
            if next_url is None:
                break
            body = client.get(next_url).json()
            next_url = body.get("next")
            if next_url:
                cursors.append(next_url)

    def page(index: int) -> Callable[[Any], int]:
        if cursors and index % 3 == 0:
            target = cursors[index % len(cursors)]
            return lambda client: client.get(target, headers=headers).status_code
        params = {
            "purpose": "recording",
            "release": str(release.public_id),
            **filters[index % len(filters)],
        }
        return lambda client: client.get(url, params=params, headers=headers).status_code

    result = load([page(i) for i in range(pages)])
    return {
        "eligibility page: p95 ms (8 clients)": result["p95_ms"],
        "eligibility page: median ms": result["median_ms"],
        "eligibility page: pages/s": result["per_second"],
        "eligibility page: errors": result["errors"],
    }


# --- the consent write path of the collection API ------------------------------------------


def collector_bearer() -> str:
    from registry import tokens

    issued = tokens.issue_api_token(
        name="bench platform",
        kind="collector",
        scopes=["consent:write", "recordings:ingest"],
    )
    return issued.secret


def bench_speakers(count: int) -> list[tuple[str, str]]:
    """Fresh speakers (registration is not timed) and the training notice each must see."""
    from consent.selectors import current_notice
    from registry import services as registry

    speakers = []
    tag = uuid.uuid4().hex[:8]
    for index in range(count):
        speaker = registry.register_speaker(
            name=f"Bench Speaker {index}",
            email=f"bench-{tag}-{index}@example.org",
            jurisdiction="US-IL",
            preferred_language="en",
            age_verification_method="platform_attestation",
            age_attested_minimum=21,
        )
        notice = current_notice(speaker=speaker, purpose="training")
        if notice is None:
            raise RuntimeError("no training notice for US-IL/en: were the demo notices published?")
        speakers.append((str(speaker.public_id), str(notice.public_id)))
    return speakers


def request_ceiling(base: str, bearer: str, requests: int = PAGES * 4) -> dict[str, float]:
    """Baselines for the write path on the same server and clients: a page that touches
    no database, and an authenticated API read of three indexed queries (the current
    notices): how many requests/s this machine serves before any consent work."""
    headers = {"Authorization": f"Bearer {bearer}"}
    pages = {
        "baseline: static JSON page (no database)": f"{base}/.well-known/jwks.json",
        "baseline: authenticated API read (3 queries)": f"{base}/api/v1/notices/"
        "?jurisdiction=US-IL&language=en&purpose=training",
    }
    figures = {}
    for name, url in pages.items():

        def get(client: Any, url: str = url) -> int:
            return int(client.get(url, headers=headers).status_code)

        result = load([get] * requests)
        figures[f"{name}: requests/s"] = result["per_second"]
        figures[f"{name}: p95 ms"] = result["p95_ms"]
    return figures


def consent_write_figures(
    base: str, bearer: str, speakers: list[tuple[str, str]]
) -> dict[str, float]:
    """Each speaker gives training consent (signed web form), then withdraws it: two
    requests per speaker through ``POST /api/v1/speakers/<id>/consents/``, each with its
    own Idempotency-Key, 8 clients at once; all the grants first, then the withdrawals."""
    headers = {"Authorization": f"Bearer {bearer}"}

    def act(speaker: str, body: dict[str, Any]) -> Callable[[Any], int]:
        def call(client: Any) -> int:
            return int(
                client.post(
                    f"{base}/api/v1/speakers/{speaker}/consents/",
                    json=body,
                    headers={**headers, "Idempotency-Key": str(uuid.uuid4())},
                ).status_code
            )

        return call

    evidence = {"method": "web_form_signed", "signed_name": "Bench Speaker"}
    grants = load(
        [
            act(s, {"action": "give", "purpose": "training", "notice": n, "evidence": evidence})
            for s, n in speakers
        ]
    )
    withdrawals = load(
        [
            act(
                s, {"action": "withdraw", "purpose": "training", "evidence": {"method": "web_form"}}
            )
            for s, _ in speakers
        ]
    )
    every = grants["requests"] + withdrawals["requests"]
    return {
        "consent write: grants/s (8 clients)": grants["per_second"],
        "consent write: grant p95 ms": grants["p95_ms"],
        "consent write: withdrawals/s (8 clients)": withdrawals["per_second"],
        "consent write: withdrawal p95 ms": withdrawals["p95_ms"],
        "consent write: requests": every,
        "consent write: errors": grants["errors"] + withdrawals["errors"],
    }


# --- bulk ingestion ---------------------------------------------------------------------------


def bulk_batch(lines: int) -> bytes:
    """``lines`` calls, each from its own open session of two speakers who gave
    recording consent an hour before the call (set up through the services, not timed)."""
    from consent.models import EvidenceMethod
    from consent.selectors import current_notice
    from consent.services import Actor, Evidence, create_recording_session, give_consent
    from registry import services as registry

    tag = uuid.uuid4().hex[:8]
    body: list[dict[str, Any]] = []
    for index in range(lines):
        pair = []
        for channel in (0, 1):
            speaker = registry.register_speaker(
                name=f"Bulk Speaker {index}-{channel}",
                jurisdiction="US-CA",
                preferred_language="en",
                age_verification_method="platform_attestation",
                age_attested_minimum=21,
            )
            notice = current_notice(speaker=speaker, purpose="recording")
            if notice is None:
                raise RuntimeError("no recording notice for US-CA/en")
            give_consent(
                speaker=speaker,
                purpose="recording",
                notice=notice,
                evidence=Evidence(method=EvidenceMethod.WEB_FORM),
                actor=Actor.of_speaker(speaker),
            )
            pair.append(speaker)
        session = create_recording_session(
            external_ref=f"bulk-{tag}-{index}", jurisdiction="US-CA", language="en", speakers=pair
        )
        line = {
            "session": str(session.public_id),
            "external_ref": f"bulk-call-{tag}-{index}",
            "duration_ms": 600_000,
            "sample_rate_hz": 16_000,
            "channel_count": 2,
            "isolated_at_source": True,
            "audio_uri": f"s3://bench/{tag}/{index}.flac",
            "audio_sha256": f"{index:064x}",
            "tracks": [{"channel": c, "speaker": str(s.public_id)} for c, s in enumerate(pair)],
        }
        body.append(line)
    # Every consent above was given before this moment: the calls happen now.
    recorded_at = datetime.datetime.now(tz=datetime.UTC).isoformat()
    text = "".join(json.dumps({**line, "recorded_at": recorded_at}) + "\n" for line in body)
    return text.encode()


def bulk_figures(base: str, bearer: str, lines: int = BULK) -> dict[str, float]:
    """One JSONL batch of ``lines`` calls through ``POST recordings/bulk/``."""
    import httpx

    batch = bulk_batch(lines)
    time.sleep(1.0)  # recorded_at is now safely in the past
    started = time.perf_counter()
    response = httpx.post(
        f"{base}/api/v1/recordings/bulk/",
        content=batch,
        headers={"Authorization": f"Bearer {bearer}", "Content-Type": "application/x-ndjson"},
        timeout=600,
    )
    seconds = time.perf_counter() - started
    if response.status_code != 201:
        raise RuntimeError(f"bulk ingestion refused: {response.status_code} {response.text[:500]}")
    return {"bulk ingestion: recordings": lines, "bulk ingestion: recordings/s": lines / seconds}


def measure(database_url: str, *, reuse: bool = False) -> dict[str, float]:
    """Every API figure on the corpus in the current database."""
    started = time.perf_counter()
    release, bearer = licensed_release(reuse=reuse)
    print(f"[bench] API release ready in {time.perf_counter() - started:.0f} s", flush=True)
    figures: dict[str, float] = {}
    parts = os.environ.get("BENCH_API_PARTS", "manifest,eligibility,writes,bulk").split(",")
    with gunicorn(database_url) as base:
        if "manifest" in parts:
            figures.update(manifest_figures(base, bearer, release))
        if "eligibility" in parts:
            figures.update(eligibility_figures(base, bearer, release))
        if "writes" in parts:
            speakers = bench_speakers(WRITES)
            collector = collector_bearer()
            figures.update(request_ceiling(base, collector))
            figures.update(consent_write_figures(base, collector, speakers))
        if "bulk" in parts:
            figures.update(bulk_figures(base, collector_bearer()))
    return figures


def main() -> int:
    """A fresh corpus of BENCH_RECORDINGS, then every API figure. With BENCH_API_REUSE=1
    an existing bench database (and its latest API release) is measured again as is."""
    sys.path.insert(0, str(BASE_DIR))
    from bench import run

    n = int(os.environ.get("BENCH_RECORDINGS", "30000"))
    run.DATABASE = os.environ.get("BENCH_API_DATABASE", "registry_bench_api")
    reuse = os.environ.get("BENCH_API_REUSE") == "1"
    from registry import local_services

    with local_services.database_url("test", BASE_DIR / ".local") as server_url:
        if reuse:
            url = run._database_url(server_url, run.DATABASE)
            run._setup_django(url)
        else:
            url = run._fresh_database(server_url)
            run._setup_django(url)
            from django.core.management import call_command

            from consent.corpus import generate_corpus

            call_command("migrate", verbosity=0)
            started = time.perf_counter()
            generate_corpus(recordings=n, seed=1)
            print(f"[bench] {n:,} recordings loaded in {time.perf_counter() - started:.0f} s")
        figures = measure(url, reuse=reuse)
    print(json.dumps({"recordings": n, "run": str(uuid.uuid4())[:8], **figures}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
