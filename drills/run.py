"""Run every drill in sequence (``make drill``), each in a process of its own with a hard
time limit, and print their verdict lines and a summary table; exit 1 if any failed.

    python drills/run.py                 # the full drills (~25 min on 2 cores)
    python drills/run.py --ci            # the fast variant (``make drill-ci``, ~14 min)
    python drills/run.py --only soak,db-restart

``--ci`` shortens what the environment does not set: a 1-minute soak, a 20 s broker
outage, 60 s of worker kills, a 10 s database outage, a 3,000-recording backup corpus.
After each drill, any process still carrying the run's ``DRILL_RUN_ID`` is a clean-up
bug: it is reported, and ended by its pid.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[1]
DRILLS = ("soak", "broker-outage", "worker-kill", "db-restart", "backup-restore", "key-rotation")
CI_SETTINGS = {
    "DRILL_SOAK_SECONDS": "60",
    "DRILL_OUTAGE_SECONDS": "20",
    "DRILL_KILL_SECONDS": "60",
    "DRILL_DB_DOWN_SECONDS": "10",
    "DRILL_BACKUP_RECORDINGS": "3000",
}
# Beyond the drill's own limit (it stops itself first): stack start-up and clean-up.
OUTER_MARGIN = 900
# The figures of each drill that go into the summary table.
KEY_FIGURES = {
    "soak": ("rate", "requests", "errors", "p95_ms", "p99_ms", "memory"),
    "broker-outage": (
        "outage_s",
        "withdrawals_during_outage",
        "p95_ms_during_outage",
        "healthz_200_after_s",
        "delivered_within_s_of_return",
        "redeliveries",
    ),
    "worker-kill": ("kills", "targets", "settled_after_load_s", "redeliveries"),
    "db-restart": (
        "down_s",
        "healthz_200_after_restart_s",
        "failed_outside_outage",
        "act_retries",
        "events_written",
    ),
    "backup-restore": ("rows", "dump_s", "restore_s", "dump_mb", "mismatched_tables"),
    "key-rotation": ("rotation_s", "transport_retries", "pii_census", "receipts_before"),
}


def script(name: str) -> Path:
    return BASE_DIR / "drills" / f"{name.replace('-', '_')}.py"


def machine() -> str:
    """nproc, RAM, CPU model, load average, git revision and date, for the record."""
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    kb = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    revision = subprocess.run(  # noqa: S603 - fixed argv
        ["git", "-C", str(BASE_DIR), "rev-parse", "--short", "HEAD"],  # noqa: S607
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    now = datetime.datetime.now(tz=datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"{now}; {os.cpu_count()} cores ({model}), {kb / 1024 / 1024:.1f} GiB RAM, "
        f"load average {load}; git {revision or 'unknown'}"
    )


def leftovers(run_id: str, sessions: set[int]) -> list[int]:
    """Processes still in one of the drill's sessions, carrying the run's marker in their
    environment, or descending from one of those (PostgreSQL's children start sessions
    of their own, and gunicorn, Celery and PostgreSQL rewrite their environment when
    they set their process titles). None should outlive a drill."""
    marker = f"DRILL_RUN_ID={run_id}".encode()
    parents: dict[int, int] = {}
    found: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            pid = int(entry.name)
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            parents[pid] = int(stat[1])
            if int(stat[3]) in sessions or marker in (entry / "environ").read_bytes().split(b"\0"):
                found.add(pid)
    grown = True
    while grown:
        children = {pid for pid, parent in parents.items() if parent in found} - found
        found |= children
        grown = bool(children)
    return sorted(found)


def run_one(name: str, env: dict[str, str], limit: float) -> tuple[str, dict[str, object]]:
    """The drill's verdict line and figures (a FAIL line if it died without one)."""
    run_id = uuid.uuid4().hex[:12]
    workdir = tempfile.mkdtemp(prefix=f"drill-{name}-")
    try:
        return _run_in(name, env, limit, run_id, workdir)
    finally:
        if env.get("DRILL_KEEP") == "1":
            print(f"[drills] {name}: kept {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def _run_in(
    name: str, env: dict[str, str], limit: float, run_id: str, workdir: str
) -> tuple[str, dict[str, object]]:
    """Run the drill's script with its own marker, work directory and report file."""
    # PostgreSQL runs unprivileged when the drill runs as root: it must traverse this.
    Path(workdir).chmod(0o711)
    report = Path(workdir) / "report.json"
    child_env = {
        **env,
        "DRILL_RUN_ID": run_id,
        "DRILL_WORKDIR": str(Path(workdir) / "work"),
        "DRILL_REPORT": str(report),
        "DRILL_SESSIONS_FILE": str(Path(workdir) / "sessions"),
    }
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and script
        [sys.executable, str(script(name))],
        cwd=BASE_DIR,
        env=child_env,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, _ = process.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGTERM)  # the drill cleans up on SIGTERM
        try:
            out, _ = process.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            out, _ = process.communicate()
    except KeyboardInterrupt:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=120)
        raise
    finally:
        recorded = Path(workdir) / "sessions"
        sessions = (
            {int(pid) for pid in recorded.read_text().split()} if recorded.exists() else set()
        )
        stray = leftovers(run_id, sessions)
        for pid in stray:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if stray:
            print(f"[drills] {name}: {len(stray)} stray processes ended", file=sys.stderr)
    figures: dict[str, object] = {}
    if report.exists():
        figures = json.loads(report.read_text())
    lines = [line for line in (out or "").splitlines() if line.startswith(f"{name}: ")]
    line = lines[-1] if lines else f"{name}: FAIL no verdict (exit {process.returncode})"
    if process.returncode != 0 and ": PASS" in line:
        line = f"{name}: FAIL exit {process.returncode} after: {line}"
    return line, figures


def _short(value: object) -> str:
    if isinstance(value, list):
        return str(len(value)) if value and isinstance(value[0], str) else "/".join(map(str, value))
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items()) or "none"
    return str(value)


def main() -> int:
    parser = argparse.ArgumentParser(prog="drills/run.py")
    parser.add_argument("--ci", action="store_true", help="the fast variant for CI")
    parser.add_argument("--only", default="", help=f"comma-separated subset of {DRILLS}")
    args = parser.parse_args()
    chosen = [d.strip() for d in args.only.split(",") if d.strip()] or list(DRILLS)
    unknown = set(chosen) - set(DRILLS)
    if unknown:
        parser.error(f"unknown drills: {sorted(unknown)}")
    env = dict(os.environ)
    if args.ci:
        for name, value in CI_SETTINGS.items():
            env.setdefault(name, value)
    header = machine()
    print(f"[drills] {header}", file=sys.stderr, flush=True)
    results = []
    for name in chosen:
        started = time.monotonic()
        limit = float(env.get("DRILL_SOAK_SECONDS", "600")) + OUTER_MARGIN * 2
        line, figures = run_one(name, env, limit)
        results.append((name, line, time.monotonic() - started, figures))
        print(f"[drills] {line}", file=sys.stderr, flush=True)
    failed = [name for name, line, _, _ in results if ": PASS " not in line]
    print(f"drills ({'ci' if args.ci else 'full'}): {header}")
    for _, line, _, _ in results:
        print(line)
    print()
    print("| drill | verdict | wall s | key figures |")
    print("|---|---|---|---|")
    for name, _line, seconds, figures in results:
        shown = "; ".join(
            f"{key} {_short(figures[key])}" for key in KEY_FIGURES.get(name, ()) if key in figures
        )
        print(f"| {name} | {'FAIL' if name in failed else 'PASS'} | {seconds:.0f} | {shown} |")
    print(f"\n{len(results) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
