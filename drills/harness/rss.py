"""Resident memory of the stack's processes over a run, and the rule that calls it flat.

The rule (printed with every verdict): drop the warm-up (the first ``WARMUP_SHARE`` of
a process's samples: imports, connection pools and caches fill there), split the rest
into quarters; growth = median of the last quarter - median of the first. The process
is flat when growth <= max(``TOLERANCE_MB``, ``TOLERANCE_SHARE`` of the first quarter's
median). A leak of 1 kB per request at 100 req/s over 3 web workers grows each by ~16 MB
in 8 minutes and fails it; the medians ignore a single spike from one large response.
"""

from __future__ import annotations

import statistics
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from drills.harness.processes import rss_kb

WARMUP_SHARE = 0.2
TOLERANCE_MB = 10.0
TOLERANCE_SHARE = 0.05
RULE = (
    f"flat = median of the last quarter within max({TOLERANCE_MB:.0f} MB, "
    f"{TOLERANCE_SHARE:.0%}) of the first quarter's, after {WARMUP_SHARE:.0%} warm-up"
)


@dataclass(frozen=True)
class Flatness:
    first_mb: float
    last_mb: float
    allowed_mb: float

    @property
    def growth_mb(self) -> float:
        return self.last_mb - self.first_mb

    @property
    def flat(self) -> bool:
        return self.growth_mb <= self.allowed_mb


def flatness(samples_kb: list[int]) -> Flatness | None:
    """The rule above on one process's samples (None: too few to judge, < 8 after
    warm-up)."""
    kept = samples_kb[int(len(samples_kb) * WARMUP_SHARE) :]
    if len(kept) < 8:
        return None
    quarter = len(kept) // 4
    first = statistics.median(kept[:quarter]) / 1024
    last = statistics.median(kept[-quarter:]) / 1024
    return Flatness(first, last, max(TOLERANCE_MB, TOLERANCE_SHARE * first))


@dataclass
class RssSampler:
    """Samples VmRSS of every process ``roles()`` names, every ``interval`` seconds,
    in a thread; ``roles`` is asked each time, so a restarted process is followed."""

    roles: Callable[[], dict[str, list[int]]]
    interval: float = 2.0
    samples: dict[tuple[str, int], list[int]] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> RssSampler:
        self._thread = threading.Thread(target=self._run, name="rss", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            for role, pids in self.roles().items():
                for pid in pids:
                    kb = rss_kb(pid)
                    if kb is not None:
                        self.samples.setdefault((role, pid), []).append(kb)
            self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def judge(self) -> dict[str, list[tuple[int, Flatness]]]:
        """Per role, each process that was sampled long enough to judge."""
        judged: dict[str, list[tuple[int, Flatness]]] = {}
        for (role, pid), samples in sorted(self.samples.items()):
            result = flatness(samples)
            if result is not None:
                judged.setdefault(role, []).append((pid, result))
        return judged


def describe(judged: dict[str, list[tuple[int, Flatness]]]) -> tuple[bool, str]:
    """(all flat, "web +2.1 MB, worker +0.4 MB, ..."): the worst growth per role."""
    parts, ok = [], True
    for role, results in judged.items():
        worst = max(results, key=lambda item: item[1].growth_mb)[1]
        ok = ok and all(result.flat for _, result in results)
        mark = "" if all(result.flat for _, result in results) else " NOT FLAT"
        parts.append(f"{role} {worst.growth_mb:+.1f} MB of {worst.first_mb:.0f}{mark}")
    if not parts:
        return False, "no RSS samples"
    return ok, ", ".join(parts)
