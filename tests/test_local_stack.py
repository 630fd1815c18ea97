"""`make run` end to end, minus the venv: the launcher starts an embedded PostgreSQL,
migrates, seeds, and supervises web + worker + beat; it stops everything on SIGTERM."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

from registry import local_services

pytestmark = pytest.mark.slow

BASE_DIR = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def _poll(url: str, accept, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        try:
            status, body = _get(url)
            last = f"{status} {body[:200]}"
            if accept(status, body):
                return body
        except OSError as error:
            last = repr(error)
        time.sleep(0.5)
    raise AssertionError(f"{url} never became ready; last answer: {last}")


def _embedded_postgres_running(pgdata: Path) -> bool:
    pid_file = pgdata / "postmaster.pid"
    if not pid_file.exists():
        return False
    pid = int(pid_file.read_text().splitlines()[0])
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_make_run_serves_home_admin_and_healthz_with_a_consuming_worker() -> None:
    # Short path: the server's Unix socket lives in the data dir (limit ~100 chars).
    local_dir = BASE_DIR / ".local" / f"t{os.getpid()}"
    port = _free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "CELERY_BROKER_URL", "DJANGO_ENV", "LOCAL_DIR"}
    }
    env |= {"WEB_PORT": str(port), "WORKER_HEARTBEAT_SECONDS": "2"}
    launcher = subprocess.Popen(
        [sys.executable, "-m", "registry.local_services", "run", "--local-dir", str(local_dir)],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        health = _poll(base + "/healthz", lambda s, b: s == 200, timeout=120)
        assert json.loads(health)["database"]["ok"] is True
        # The beat-scheduled heartbeat proves a worker consumes the (filesystem) broker.
        _poll(
            base + "/healthz",
            lambda s, b: s == 200 and json.loads(b)["worker"]["last_heartbeat"] is not None,
            timeout=60,
        )
        status, home = _get(base + "/")
        assert status == 200
        assert "<dd>23</dd>" in home  # the seeded speakers
        assert _get(base + "/admin/login/")[0] == 200
        assert _get(base + "/signin/")[0] == 200
        assert _embedded_postgres_running(local_dir / "pgdata")
        assert (local_dir / "broker" / "queue").is_dir()
    finally:
        launcher.send_signal(signal.SIGTERM)
        try:
            output = launcher.communicate(timeout=60)[0].decode(errors="replace")
        except subprocess.TimeoutExpired:
            os.killpg(launcher.pid, signal.SIGKILL)
            output = launcher.communicate()[0].decode(errors="replace")
    try:
        assert launcher.returncode == 0, output[-3000:]
        assert "[local] ready" in output
        assert "demo-staff / demo-staff-pass" in output
        assert "demo-speaker-01@example.org / demo-speaker-pass" in output
        # Everything stopped: the web port is free and the database is down.
        with pytest.raises(urllib.error.URLError):
            _get(base + "/healthz")
        assert not _embedded_postgres_running(local_dir / "pgdata")
    finally:
        shutil.rmtree(local_dir, ignore_errors=True)


def test_make_test_prefers_database_url_then_local_postgres_then_embedded(
    monkeypatch, tmp_path
) -> None:
    @contextmanager
    def fake_embedded(local_dir: Path):
        yield "embedded://"

    monkeypatch.setattr(local_services, "embedded_postgres", fake_embedded)

    monkeypatch.setenv("DATABASE_URL", "postgres://u@db.example/x")
    with local_services.database_url("test", tmp_path) as url:
        assert url == "postgres://u@db.example/x"

    monkeypatch.delenv("DATABASE_URL")
    monkeypatch.setattr(local_services, "_postgres_answers", lambda url: True)
    with local_services.database_url("test", tmp_path) as url:
        assert url == "postgres://postgres@127.0.0.1:5432/registry"
    # `make run` never uses the machine's PostgreSQL unless told to.
    with local_services.database_url("run", tmp_path) as url:
        assert url == "embedded://"

    monkeypatch.setattr(local_services, "_postgres_answers", lambda url: False)
    with local_services.database_url("test", tmp_path) as url:
        assert url == "embedded://"


def test_postgres_probe_says_no_for_a_closed_port() -> None:
    assert local_services._postgres_answers("postgres://postgres@127.0.0.1:1/postgres") is False
