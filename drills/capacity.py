"""Where the soak's mixed load saturates this machine (not a drill: a measurement that
tells which DRILL_RATE the soak can hold).

The same stack and traffic as ``drills/soak.py``, stepped through DRILL_CAPACITY_RATES
(requests/s, default 20,30,40,50,60,80,100) for DRILL_CAPACITY_STEP_SECONDS each (60).
A rate is *held* when requests start on time (p99 start lag <= 1,000 ms: the load
generator kept up) and p95 stays <= 1,000 ms; the verdict line names the highest rate
held, and each step reports the CPU each role used (``drills.harness.cpu``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from drills.harness import drill
from drills.harness.cpu import CpuMeter
from drills.harness.drill import Verdict, say, setting
from drills.harness.load import FixedRateLoad
from drills.harness.stack import CLIENT_HEADERS, Stack
from drills.harness.traffic import Traffic

NAME = "capacity"
RATES = [
    float(r) for r in os.environ.get("DRILL_CAPACITY_RATES", "20,30,40,50,60,80,100").split(",")
]
STEP = setting("DRILL_CAPACITY_STEP_SECONDS", 60)
LAG_LIMIT_MS = 1000
P95_LIMIT_MS = 1000


def capacity(workdir: Path) -> Verdict:
    stack = Stack(workdir)
    try:
        world = stack.start()
        traffic = Traffic(world)
        held, rows = 0.0, {}
        for rate in RATES:
            meter = CpuMeter(stack.cpu_roles).start()
            report = (
                FixedRateLoad(
                    base_url=stack.url, rate=rate, calls=traffic, clients=48, headers=CLIENT_HEADERS
                )
                .start(STEP)
                .wait()
            )
            cpu = meter.stop()
            ok = (
                report.errors == 0
                and report.lag(99) <= LAG_LIMIT_MS
                and report.latency(95) <= P95_LIMIT_MS
            )
            rows[f"{rate:g}/s"] = {
                "p50_ms": round(report.latency(50)),
                "p95_ms": round(report.latency(95)),
                "lag_p99_ms": round(report.lag(99)),
                "errors": report.errors,
                "held": ok,
                "cpu": cpu.describe(report.requests),
            }
            say(f"capacity: {rate:g}/s -> {rows[f'{rate:g}/s']}")
            if not ok:
                break
            held = rate
        summary = (
            f"highest mixed rate held {held:g} req/s (p95 <= {P95_LIMIT_MS} ms, start lag "
            f"p99 <= {LAG_LIMIT_MS} ms); steps: "
            + ", ".join(
                f"{r} p95 {v['p95_ms']} ms{'' if v['held'] else ' (not held)'}"
                for r, v in rows.items()
            )
        )
        return Verdict(NAME, held > 0, summary, {"held_rate": held, "steps": rows})
    finally:
        stack.close()


if __name__ == "__main__":
    drill.run(NAME, capacity, time_limit=len(RATES) * (STEP + 60) + 600)
