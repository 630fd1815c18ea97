"""What every drill script shares: settings from the environment, a hard time limit,
clean-up of processes and the temporary directory whatever happens (a failure, Ctrl-C,
SIGTERM from ``drills/run.py``, the time limit), progress on stderr and exactly one
verdict line on stdout; the exit status is 0 only for PASS.

A drill also writes its figures as JSON to ``DRILL_REPORT`` when set (``drills/run.py``
tabulates them).
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn

from drills.harness.processes import stop_all

_started = time.monotonic()


def setting(name: str, default: float) -> float:
    """A number from the environment (``DRILL_SOAK_SECONDS=60``), else ``default``."""
    raw = os.environ.get(name, "").strip()
    return float(raw) if raw else default


def say(message: str) -> None:
    print(f"[{time.monotonic() - _started:6.1f}s] {message}", file=sys.stderr, flush=True)


@dataclass
class Verdict:
    name: str
    passed: bool
    summary: str
    figures: dict[str, Any] = field(default_factory=dict)

    @property
    def line(self) -> str:
        return f"{self.name}: {'PASS' if self.passed else 'FAIL'} {self.summary}"


class DrillInterrupted(BaseException):
    """SIGTERM, SIGINT or the hard time limit: unwind so ``finally`` blocks clean up."""


def _interrupt(signum: int, _frame: FrameType | None) -> NoReturn:
    reason = "time limit" if signum == signal.SIGALRM else signal.Signals(signum).name
    raise DrillInterrupted(reason)


def run(name: str, body: Callable[[Path], Verdict], *, time_limit: float) -> NoReturn:
    """Run ``body(workdir)`` under a hard time limit and exit with its verdict."""
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGALRM):
        signal.signal(signum, _interrupt)
    signal.alarm(max(1, int(time_limit)))
    atexit.register(stop_all)
    given = os.environ.get("DRILL_WORKDIR")
    workdir = Path(given) if given else Path(tempfile.mkdtemp(prefix=f"drill-{name}-"))
    workdir.mkdir(parents=True, exist_ok=True)
    say(f"{name}: working in {workdir} (time limit {time_limit:.0f} s)")
    try:
        verdict = body(workdir)
    except DrillInterrupted as exc:
        verdict = Verdict(name, False, f"interrupted ({exc})")
    except Exception as exc:
        traceback.print_exc(file=sys.stderr)
        verdict = Verdict(name, False, f"{type(exc).__name__}: {str(exc)[:300]}")
    finally:
        signal.alarm(0)
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, signal.SIG_IGN)  # let the clean-up finish
        stop_all()
        if os.environ.get("DRILL_KEEP") != "1" and not given:
            import shutil

            shutil.rmtree(workdir, ignore_errors=True)
    verdict.figures.setdefault("wall_s", round(time.monotonic() - _started, 1))
    if report := os.environ.get("DRILL_REPORT"):
        Path(report).write_text(json.dumps({"line": verdict.line, **verdict.figures}))
    print(verdict.line, flush=True)
    sys.exit(0 if verdict.passed else 1)
