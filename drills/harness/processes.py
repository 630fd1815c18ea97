"""Child processes of a drill.

Each child runs in a session of its own, so a drill can stop or SIGKILL one service with
everything it forked (gunicorn's workers, Celery's pool) without touching the others,
and dies with the drill if the drill itself is killed: util-linux ``setpriv`` sets
``PR_SET_PDEATHSIG`` before exec (no ``preexec_fn``, which is unsafe while the load
threads run). Children must be started from the main thread: the death signal follows
the thread that forked them. Every child started here is remembered and ``stop_all``
ends the ones still running, by pid; the drill's ``finally`` and ``atexit`` call it.
Each session id is also appended to ``DRILL_SESSIONS_FILE`` when set, so
``drills/run.py`` can find anything that outlived the drill.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
SETPRIV = shutil.which("setpriv")
_started: list[Child] = []


def _wrapped(argv: list[str], user: tuple[int, int] | None) -> list[str]:
    """``argv`` run through setpriv: death signal, and the unprivileged user if any."""
    if SETPRIV is None:
        if user is not None:
            raise RuntimeError("running a service as an unprivileged user needs setpriv")
        return argv
    options = ["--pdeathsig", "KILL"]
    if user is not None:
        options += [f"--reuid={user[0]}", f"--regid={user[1]}", "--clear-groups"]
    return [SETPRIV, *options, "--", *argv]


def wait_until(condition: Callable[[], object], timeout: float, what: str) -> object:
    """Poll ``condition`` until it returns something truthy; raise after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout:.0f} s")
        time.sleep(0.2)


@dataclass
class Child:
    """One service process: its argv, environment, log file and (when running as root
    would be refused, e.g. PostgreSQL) the unprivileged uid/gid to run it as."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    cwd: Path = BASE_DIR
    user: tuple[int, int] | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self) -> Child:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            out.write(f"\n--- {self.name} started at {time.strftime('%H:%M:%S')}\n".encode())
            out.flush()
            self.process = subprocess.Popen(  # noqa: S603 - our own argv
                _wrapped(self.argv, self.user),
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _started.append(self)
        if sessions := os.environ.get("DRILL_SESSIONS_FILE"):
            # For drills/run.py: every process of this session is ours, whatever it
            # does to its title or environment.
            with open(sessions, "a") as record:
                record.write(f"{self.process.pid}\n")
        return self

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError(f"{self.name} is not started")
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def send(self, signum: int, *, group: bool = True) -> None:
        """Send ``signum`` to the child (and everything in its session when ``group``)."""
        if not self.alive():
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if group:
                os.killpg(self.pid, signum)
            else:
                os.kill(self.pid, signum)

    def wait(self, timeout: float) -> bool:
        if self.process is None:
            return True
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return False
        return True

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 30.0) -> None:
        """Ask it to stop (``signum`` to the leader only: it stops its own children),
        then SIGKILL its whole session if it has not exited within ``timeout``."""
        if self.process is None:
            return
        self.send(signum, group=False)
        if not self.wait(timeout):
            self.kill()
        self._reap_session()

    def kill(self) -> None:
        """SIGKILL the child and everything in its session, at once (a crash)."""
        self.send(signal.SIGKILL, group=True)
        self.wait(10)
        self._reap_session()

    def _reap_session(self) -> None:
        # Children that outlived their leader (e.g. a pool process) still carry its
        # session id; end them by that id, never by name.
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)
        if self in _started:
            _started.remove(self)


def stop_all() -> None:
    """End every child still running, newest first (web before the database)."""
    for child in reversed(list(_started)):
        child.stop(timeout=15)


def children_of(pid: int) -> list[int]:
    """Direct children of ``pid`` (all its threads), from /proc."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            found.extend(int(p) for p in (task / "children").read_text().split())
    return found


def rss_kb(pid: int) -> int | None:
    """Resident set size of ``pid`` in kB (VmRSS), or None once it has exited."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` and of the children it has reaped (PostgreSQL's
    backends that closed, for its postmaster), so far; 0.0 once it has exited."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    # After the command comes field 3; utime, stime, cutime, cstime are 14-17 (man proc).
    return sum(int(value) for value in fields[11:15]) / CLOCK_TICKS


def machine_cpu_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, all cores."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    total = sum(values[:8])  # guest time is already counted in user
    return (total - idle) / CLOCK_TICKS, total / CLOCK_TICKS
