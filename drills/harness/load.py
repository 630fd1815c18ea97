"""Fixed-rate HTTP load from threads (open loop: request ``i`` is due at ``i / rate``
seconds whatever happened to the others), with status and latency per request.

Latency is measured from the moment a request was *due*, not from when a free thread
sent it, so a server that falls behind shows it in the percentiles instead of quietly
lowering the rate (coordinated omission); the start lag is recorded too.

Every call the drills make may be repeated safely (GETs, and consent acts carrying an
``Idempotency-Key``), so a connection error before any answer is retried at once, as a
real client would, and counted; a ``patient`` call (an act during a database restart)
also retries 5xx answers until ``patience`` runs out, with the same key.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

TRANSPORT_RETRIES = 2


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100) of ``values``; 0.0 for none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass
class Call:
    """One request of the mix and what counts as success for it."""

    name: str
    method: str
    path: str
    expect: frozenset[int]
    headers: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None
    patient: bool = False
    # Told the final status (0: no answer) and JSON body, e.g. to track a speaker's state.
    done: Callable[[int, Any], None] | None = None


@dataclass(frozen=True)
class Outcome:
    due: float  # seconds after the start at which it was due
    name: str
    status: int  # 0: no HTTP answer
    latency_ms: float  # due -> final answer
    lag_ms: float  # due -> first send
    retries: int
    ok: bool


@dataclass
class LoadReport:
    target_rate: float
    seconds: float
    outcomes: list[Outcome]

    @property
    def requests(self) -> int:
        return len(self.outcomes)

    def failures(self, start: float = 0.0, end: float = math.inf) -> list[Outcome]:
        return [o for o in self.outcomes if not o.ok and start <= o.due < end]

    @property
    def errors(self) -> int:
        return len(self.failures())

    @property
    def retries(self) -> int:
        return sum(o.retries for o in self.outcomes)

    @property
    def achieved_rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def latency(
        self, q: float, name: str | None = None, start: float = 0.0, end: float = math.inf
    ) -> float:
        """Percentile ``q`` of latency, of one call kind and/or of requests due in
        ``[start, end)``."""
        return percentile(
            [
                o.latency_ms
                for o in self.outcomes
                if (name is None or o.name == name) and start <= o.due < end
            ],
            q,
        )

    def lag(self, q: float) -> float:
        return percentile([o.lag_ms for o in self.outcomes], q)

    def by_name(self) -> Counter[str]:
        return Counter(o.name for o in self.outcomes)

    def failure_kinds(self, start: float = 0.0, end: float = math.inf) -> str:
        kinds = Counter(f"{o.name}:{o.status or 'no answer'}" for o in self.failures(start, end))
        return ", ".join(f"{kind} x{count}" for kind, count in kinds.most_common(8)) or "none"


class FixedRateLoad:
    """``calls(i)`` builds request ``i`` (None: skip the slot); ``clients`` threads, each
    with its own keep-alive connection, send them at ``rate`` per second."""

    def __init__(
        self,
        *,
        base_url: str,
        rate: float,
        calls: Callable[[int], Call | None],
        clients: int = 32,
        timeout: float = 30.0,
        patience: float = 120.0,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.base_url = base_url
        self.rate = rate
        self.calls = calls
        self.clients = clients
        self.timeout = timeout
        self.patience = patience
        self.headers = headers or {}
        self.outcomes: list[Outcome] = []
        self._next = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._started = 0.0
        self._seconds = 0.0

    def start(self, seconds: float) -> FixedRateLoad:
        """Start the clients; the clock starts once every client has its connection
        pool, so building them does not count as lag."""
        self._seconds = seconds
        ready = threading.Barrier(self.clients + 1)
        self._threads = [
            threading.Thread(target=self._client, args=(ready,), name=f"load-{n}", daemon=True)
            for n in range(self.clients)
        ]
        for thread in self._threads:
            thread.start()
        ready.wait()
        self._started = time.monotonic()
        ready.wait()
        return self

    def elapsed(self) -> float:
        return time.monotonic() - self._started

    def stop(self) -> None:
        self._stop.set()

    def wait(self) -> LoadReport:
        for thread in self._threads:
            thread.join()
        ran = min(self._seconds, self.elapsed())
        with self._lock:
            outcomes = sorted(self.outcomes, key=lambda o: o.due)
        return LoadReport(self.rate, ran, outcomes)

    def _slot(self) -> tuple[int, float] | None:
        with self._lock:
            index = self._next
            self._next += 1
        due = index / self.rate
        if due >= self._seconds or self._stop.is_set():
            return None
        return index, due

    def _client(self, ready: threading.Barrier) -> None:
        with httpx.Client(
            base_url=self.base_url, timeout=self.timeout, headers=self.headers
        ) as client:
            ready.wait()  # every client built
            ready.wait()  # the clock is set
            while (slot := self._slot()) is not None:
                index, due = slot
                if self._stop.wait(max(0.0, due - self.elapsed())):
                    return
                call = self.calls(index)
                if call is not None:
                    outcome = self._send(client, call, due)
                    with self._lock:
                        self.outcomes.append(outcome)

    def _send(self, client: httpx.Client, call: Call, due: float) -> Outcome:
        lag = self.elapsed() - due
        deadline = due + (self.patience if call.patient else self.timeout)
        retries, status, body = 0, 0, None
        while True:
            try:
                response = client.request(
                    call.method, call.path, json=call.body, headers=call.headers
                )
                status = response.status_code
                body = _json(response) if call.done else None
            except httpx.TransportError:
                status, body = 0, None
            again = status == 0 and retries < TRANSPORT_RETRIES
            again = again or (call.patient and (status == 0 or status >= 500))
            if not again or self.elapsed() >= deadline or self._stop.is_set():
                break
            retries += 1
            time.sleep(min(2.0, 0.1 * 2**retries))
        ok = status in call.expect
        if call.done is not None:
            call.done(status if ok else 0, body if ok else None)
        return Outcome(
            due, call.name, status, (self.elapsed() - due) * 1000, lag * 1000, retries, ok
        )


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


class HealthProbe:
    """Polls ``GET /healthz`` every ``interval`` seconds in a thread: (t, status, ms),
    t in seconds on the same clock as ``clock`` (status 0: no answer)."""

    def __init__(self, url: str, clock: Callable[[], float], interval: float = 0.5) -> None:
        self.url = url
        self.clock = clock
        self.interval = interval
        self.samples: list[tuple[float, int, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="healthz", daemon=True)

    def start(self) -> HealthProbe:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        with httpx.Client(timeout=10) as client:
            while not self._stop.is_set():
                at, started = self.clock(), time.perf_counter()
                try:
                    status = client.get(self.url).status_code
                except httpx.HTTPError:
                    status = 0
                self.samples.append((at, status, (time.perf_counter() - started) * 1000))
                self._stop.wait(self.interval)

    def between(self, start: float, end: float) -> Counter[int]:
        """Statuses seen in ``[start, end)``."""
        return Counter(status for at, status, _ in self.samples if start <= at < end)

    def first(self, status: int, after: float) -> float | None:
        """When ``status`` was first seen at or after ``after``."""
        return next((at for at, s, _ in self.samples if at >= after and s == status), None)

    def slowest_ms(self, start: float, end: float) -> float:
        return max((ms for at, _, ms in self.samples if start <= at < end), default=0.0)
