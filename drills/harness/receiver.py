"""A licensee's webhook endpoint on loopback, in a process of its own.

It does what the README asks of a licensee, written independently of the registry's
code: verify ``Registry-Signature`` (HMAC-SHA256 of ``"<t>." + body`` under the
endpoint secret, ``t`` within 5 minutes) and deduplicate by ``Idempotency-Key``. The
ledger counts every POST per key, so a drill can tell logical deliveries (distinct keys)
from raw ones (redeliveries of a notice whose first answer was lost).

    python -m drills.harness.receiver --port N

``POST /hooks`` records a notice; ``PUT /config`` sets ``secret``, ``delay`` (seconds
before answering) and ``status``; ``GET /ledger`` returns the counts per key and
``GET /in-flight`` how many notices are waiting for their answer now.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SIGNATURE_TOLERANCE_SECONDS = 300


def signature_valid(*, header: str, body: bytes, secret: str, now: float) -> bool:
    """The README's rule: one ``v1`` equals the HMAC of ``"<t>." + body`` and ``t`` is
    within the tolerance of our clock."""
    timestamp, candidates = None, []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit():
            timestamp = int(value)
        elif name == "v1":
            candidates.append(value)
    if timestamp is None or not candidates or not secret:
        return False
    if abs(now - timestamp) > SIGNATURE_TOLERANCE_SECONDS:
        return False
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, "sha256").hexdigest()
    return any(hmac.compare_digest(expected, candidate) for candidate in candidates)


@dataclass
class KeyRecord:
    """Every POST seen under one Idempotency-Key."""

    posts: int = 0
    bad_signatures: int = 0
    body_digests: set[str] = field(default_factory=set)


class DeliveryLedger:
    """Counts POSTs per Idempotency-Key; thread-safe."""

    def __init__(self, secret: str = "") -> None:
        self.secret = secret
        self.keys: dict[str, KeyRecord] = {}
        self.lock = threading.Lock()

    def record(self, *, key: str, body: bytes, signature: str, now: float) -> bool:
        """Record one POST; True when it is the first of its key (the licensee acts on
        it), False for a redelivery it only acknowledges again."""
        valid = signature_valid(header=signature, body=body, secret=self.secret, now=now)
        with self.lock:
            entry = self.keys.setdefault(key, KeyRecord())
            entry.posts += 1
            entry.bad_signatures += 0 if valid else 1
            entry.body_digests.add(hashlib.sha256(body).hexdigest())
            return entry.posts == 1

    def snapshot(self) -> dict[str, dict[str, Any]]:
        with self.lock:
            return {
                key: {
                    "posts": entry.posts,
                    "bad_signatures": entry.bad_signatures,
                    "bodies": len(entry.body_digests),
                }
                for key, entry in self.keys.items()
            }


@dataclass(frozen=True)
class LedgerSummary:
    """What the licensee saw, against the notices the registry says it sent."""

    logical: int  # distinct keys received
    raw: int  # POSTs received
    missing: int  # expected keys never received
    unexpected: int  # keys received that no expected notice has
    changed_bodies: int  # keys whose body differed between POSTs (must be 0)
    bad_signatures: int  # POSTs whose signature did not verify (must be 0)

    @property
    def redeliveries(self) -> int:
        return self.raw - self.logical

    @property
    def exactly_once(self) -> bool:
        """Every expected notice received, nothing else, each one body, all signed:
        after deduplication by key the licensee acted on each notice exactly once."""
        return not (self.missing or self.unexpected or self.changed_bodies or self.bad_signatures)


def summarize(snapshot: dict[str, dict[str, Any]], expected: Iterable[str]) -> LedgerSummary:
    wanted = set(expected)
    seen = set(snapshot)
    return LedgerSummary(
        logical=len(seen & wanted),
        raw=sum(int(entry["posts"]) for key, entry in snapshot.items() if key in wanted),
        missing=len(wanted - seen),
        unexpected=len(seen - wanted),
        changed_bodies=sum(1 for entry in snapshot.values() if int(entry["bodies"]) > 1),
        bad_signatures=sum(int(entry["bad_signatures"]) for entry in snapshot.values()),
    )


def serve(port: int) -> None:
    ledger = DeliveryLedger()
    config: dict[str, Any] = {"delay": 0.0, "status": 200}
    waiting = [0]
    waiting_lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length", 0)))

        def _answer(self, status: int, payload: bytes = b"ok") -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_POST(self) -> None:
            body = self._body()
            ledger.record(
                key=self.headers.get("Idempotency-Key", ""),
                body=body,
                signature=self.headers.get("Registry-Signature", ""),
                now=time.time(),
            )
            with waiting_lock:
                waiting[0] += 1
            try:
                if config["delay"]:
                    time.sleep(float(config["delay"]))
            finally:
                with waiting_lock:
                    waiting[0] -= 1
            self._answer(int(config["status"]))

        def do_PUT(self) -> None:
            update = json.loads(self._body() or b"{}")
            if "secret" in update:
                ledger.secret = str(update.pop("secret"))
            config.update(update)
            self._answer(200)

        def do_GET(self) -> None:
            if self.path == "/in-flight":
                self._answer(200, json.dumps({"in_flight": waiting[0]}).encode())
                return
            self._answer(200, json.dumps(ledger.snapshot()).encode())

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    serve(parser.parse_args().port)
