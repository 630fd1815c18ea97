"""The parts of the drills' harness that hold logic: percentiles, the RSS flatness rule,
the receiver's signature check and deduplication, the fixed-rate load and its retries,
the CPU arithmetic, and the outsider's signature verifier. No stack is started."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from drills.harness.checks import canonical, receipt_verifies, verify_with_jwks
from drills.harness.cpu import CpuUse
from drills.harness.load import Call, FixedRateLoad, percentile
from drills.harness.receiver import DeliveryLedger, signature_valid, summarize
from drills.harness.rss import flatness

MB = 1024  # samples are in kB

# --- percentiles ---------------------------------------------------------------------


def test_percentile_is_the_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 95) == 95
    assert percentile(values, 50) == 50
    assert percentile(values, 100) == 100
    assert percentile(list(reversed(values)), 99) == 99


def test_percentile_of_few_values_takes_the_rank_above() -> None:
    assert percentile([10.0, 20.0, 30.0], 95) == 30
    assert percentile([7.0], 95) == 7
    assert percentile([], 95) == 0


# --- RSS flatness ----------------------------------------------------------------------


def test_memory_that_settles_after_warm_up_is_flat() -> None:
    warm_up = [60 * MB + i * 2 * MB for i in range(20)]  # +40 MB while loading
    plateau = [100 * MB + (i % 3) * MB for i in range(80)]  # noise of 2 MB
    result = flatness(warm_up + plateau)
    assert result is not None
    assert result.flat
    assert abs(result.growth_mb) <= 2


def test_memory_that_keeps_growing_is_not_flat() -> None:
    leak = [100 * MB + i * MB // 2 for i in range(100)]  # +0.5 MB a sample, 50 MB in all
    result = flatness(leak)
    assert result is not None
    assert not result.flat
    assert result.growth_mb > 25


def test_one_spike_at_the_end_does_not_make_memory_unflat() -> None:
    samples = [100 * MB] * 99 + [300 * MB]
    result = flatness(samples)
    assert result is not None
    assert result.flat


def test_the_allowance_is_a_share_of_large_processes() -> None:
    # 5 % of 400 MB = 20 MB > the 10 MB floor: +15 MB is still flat, +30 MB is not.
    base = [400 * MB] * 40
    grown = [415 * MB] * 40
    assert flatness(base + grown).flat
    assert not flatness(base + [430 * MB] * 40).flat


def test_too_few_samples_after_warm_up_are_not_judged() -> None:
    assert flatness([100 * MB] * 8) is None  # 7 left after the warm-up
    assert flatness([100 * MB] * 10) is not None


# --- the receiver ----------------------------------------------------------------------

SECRET = "whsec_test"


def signed(body: bytes, *, secret: str = SECRET, at: float | None = None) -> str:
    """A Registry-Signature header made by the registry's own signer."""
    from propagation.webhooks import signature_header

    return signature_header(body=body, secrets=[secret], timestamp=int(at or time.time()))


def test_the_receiver_accepts_the_registrys_signature_and_refuses_others() -> None:
    body = b'{"id": "n1"}'
    now = time.time()
    assert signature_valid(header=signed(body), body=body, secret=SECRET, now=now)
    assert not signature_valid(header=signed(body), body=body + b" ", secret=SECRET, now=now)
    assert not signature_valid(
        header=signed(body, secret="other"), body=body, secret=SECRET, now=now
    )
    stale = signed(body, at=now - 301)
    assert not signature_valid(header=stale, body=body, secret=SECRET, now=now)


def test_the_ledger_acts_on_the_first_post_of_a_key_only() -> None:
    ledger = DeliveryLedger(SECRET)
    body = b'{"id": "n1"}'
    now = time.time()
    assert ledger.record(key="n1", body=body, signature=signed(body), now=now)
    assert not ledger.record(key="n1", body=body, signature=signed(body), now=now)
    assert ledger.snapshot()["n1"] == {"posts": 2, "bad_signatures": 0, "bodies": 1}


def test_a_redelivered_notice_counts_once_logically() -> None:
    ledger = DeliveryLedger(SECRET)
    now = time.time()
    for key in ("a", "a", "b"):
        body = json.dumps({"id": key}).encode()
        ledger.record(key=key, body=body, signature=signed(body), now=now)
    summary = summarize(ledger.snapshot(), expected={"a", "b"})
    assert (summary.logical, summary.raw, summary.redeliveries) == (2, 3, 1)
    assert summary.exactly_once


def test_missing_unexpected_changed_or_unsigned_notices_are_not_exactly_once() -> None:
    ledger = DeliveryLedger(SECRET)
    now = time.time()
    ledger.record(key="a", body=b"1", signature=signed(b"1"), now=now)
    ledger.record(key="a", body=b"2", signature=signed(b"2"), now=now)  # body changed
    ledger.record(key="x", body=b"3", signature="t=1,v1=00", now=now)  # unknown, unsigned
    summary = summarize(ledger.snapshot(), expected={"a", "b"})
    assert summary.missing == 1  # b
    assert summary.unexpected == 1  # x
    assert summary.changed_bodies == 1
    assert summary.bad_signatures == 1
    assert not summary.exactly_once


# --- the fixed-rate load ---------------------------------------------------------------


@pytest.fixture
def server() -> Iterator[tuple[str, dict[str, Any]]]:
    """A local HTTP server: GET /ok answers 200; POST /flaky answers 503 until told."""
    state: dict[str, Any] = {"flaky": 2, "hits": 0}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self, status: int, body: bytes = b"{}") -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            with lock:
                state["hits"] += 1
            self._answer(200)

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with lock:
                state["flaky"] -= 1
                failing = state["flaky"] >= 0
            self._answer(503 if failing else 201, b'{"done": true}')

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", state
    httpd.shutdown()
    httpd.server_close()


def test_the_load_sends_one_request_per_slot_at_the_rate(server) -> None:
    url, state = server
    load = FixedRateLoad(
        base_url=url,
        rate=40,
        calls=lambda i: Call("read", "GET", f"/ok?{i}", frozenset({200})),
        clients=4,
    )
    started = time.monotonic()
    report = load.start(0.5).wait()
    assert report.requests == 20 == state["hits"]
    assert report.errors == 0
    assert time.monotonic() - started >= 0.45  # the last slot is due at 0.475 s
    assert report.lag(99) < 250


def test_a_patient_call_retries_5xx_with_the_same_request_until_answered(server) -> None:
    url, _state = server
    seen: list[tuple[int, Any]] = []
    call = Call(
        "act",
        "POST",
        "/flaky",
        frozenset({201}),
        headers={"Idempotency-Key": "k1"},
        body={"x": 1},
        patient=True,
        done=lambda status, body: seen.append((status, body)),
    )
    report = FixedRateLoad(base_url=url, rate=10, calls=lambda i: call, clients=1).start(0.1).wait()
    assert [(o.status, o.retries, o.ok) for o in report.outcomes] == [(201, 2, True)]
    assert seen == [(201, {"done": True})]


def test_an_impatient_call_that_gets_a_5xx_is_an_error(server) -> None:
    url, _state = server
    seen: list[int] = []
    call = Call("act", "POST", "/flaky", frozenset({201}), done=lambda s, _b: seen.append(s))
    report = FixedRateLoad(base_url=url, rate=10, calls=lambda i: call, clients=1).start(0.1).wait()
    assert report.errors == 1
    assert report.failure_kinds() == "act:503 x1"
    assert seen == [0]  # the caller learns it has no answer it can use


def test_a_refused_connection_is_retried_then_counted_as_no_answer() -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    report = (
        FixedRateLoad(
            base_url=f"http://127.0.0.1:{port}",
            rate=10,
            calls=lambda i: Call("read", "GET", "/", frozenset({200})),
            clients=1,
        )
        .start(0.1)
        .wait()
    )
    assert [(o.status, o.retries, o.ok) for o in report.outcomes] == [(0, 2, False)]


# --- CPU arithmetic --------------------------------------------------------------------


def test_cpu_of_other_processes_is_the_machine_minus_ours() -> None:
    use = CpuUse(
        wall=10.0, by_role={"web": 6.0, "postgres": 4.0}, machine_busy=15.0, machine_total=20.0
    )
    assert use.cores("web") == 0.6
    assert use.machine_cores == 2
    assert use.others_cores == 0.5
    assert "web 0.60 cores (6.0 ms/req)" in use.describe(1000)


# --- signatures as an outsider checks them ---------------------------------------------


def test_the_outsiders_verifier_accepts_the_registrys_signatures_only() -> None:
    from registry import signing

    payload = {"receipt": "of a consent", "n": 1}
    jwks = signing.jwks()
    signature = signing.sign(payload)
    assert verify_with_jwks(canonical(payload), signature, jwks)
    assert receipt_verifies({"receipt": payload, "signature": signature}, jwks)
    assert not verify_with_jwks(canonical({**payload, "n": 2}), signature, jwks)
    assert not verify_with_jwks(canonical(payload), {**signature, "kid": "retired-long-ago"}, jwks)
    assert not verify_with_jwks(canonical(payload), signature, {"keys": []})
