"""CPU time the stack's processes used over a run, against the whole machine's: how
many cores each role took, its CPU per request, and how much of the machine other
processes (not the drill's) were using meanwhile. Measured from /proc, so it holds on a
shared machine where latencies alone would mislead."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from drills.harness.processes import cpu_seconds, machine_cpu_seconds


@dataclass(frozen=True)
class CpuUse:
    wall: float
    by_role: dict[str, float]  # CPU seconds
    machine_busy: float  # CPU seconds, every process on the machine
    machine_total: float

    def cores(self, role: str) -> float:
        return self.by_role.get(role, 0.0) / self.wall if self.wall else 0.0

    @property
    def machine_cores(self) -> float:
        return self.machine_total / self.wall if self.wall else 0.0

    @property
    def others_cores(self) -> float:
        """Cores busy with processes that are not the drill's."""
        ours = sum(self.by_role.values())
        return max(0.0, self.machine_busy - ours) / self.wall if self.wall else 0.0

    def describe(self, requests: int) -> str:
        parts = [
            f"{role} {self.cores(role):.2f} cores ({seconds * 1000 / max(requests, 1):.1f} ms/req)"
            for role, seconds in sorted(self.by_role.items(), key=lambda item: -item[1])
        ]
        return (
            ", ".join(parts)
            + f"; machine busy {self.machine_busy / self.wall:.2f} of {self.machine_cores:.0f} "
            f"cores, {self.others_cores:.2f} by other processes"
        )


@dataclass
class CpuMeter:
    """``roles()`` names the processes by role (asked at start and stop: a process that
    exits in between is not counted)."""

    roles: Callable[[], dict[str, list[int]]]
    _start: dict[int, float] = field(default_factory=dict)
    _machine: tuple[float, float] = (0.0, 0.0)
    _at: float = 0.0

    def start(self) -> CpuMeter:
        self._start = {pid: cpu_seconds(pid) for pids in self.roles().values() for pid in pids}
        self._machine = machine_cpu_seconds()
        self._at = time.monotonic()
        return self

    def stop(self) -> CpuUse:
        wall = time.monotonic() - self._at
        busy, total = machine_cpu_seconds()
        by_role = {
            role: sum(max(0.0, cpu_seconds(pid) - self._start.get(pid, 0.0)) for pid in pids)
            for role, pids in self.roles().items()
        }
        return CpuUse(wall, by_role, busy - self._machine[0], total - self._machine[1])
