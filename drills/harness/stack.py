"""A dedicated registry stack on loopback: its own PostgreSQL cluster, a broker Redis and
a cache Redis, the webhook receiver, then gunicorn, a Celery worker and beat as separate
processes, in production mode (``DJANGO_ENV=production``, fresh secrets).

What differs from a production deployment, and why (printed in the README):
- the per-token API limit is lifted (one collector token carries the whole load);
- webhooks may go to ``http://127.0.0.1`` (the receiver), which production refuses;
- the client sends ``X-Forwarded-Proto: https`` as the TLS proxy in front would;
- the cache (rate limits) and the broker are separate Redis servers, so the broker
  drill stops the broker only;
- propagation's timers are compressed so a drill fits in minutes (sweep every 5 s,
  re-dispatch after 20 s, lease 180 s: still above the task's 150 s time limit).

The drill process itself sets Django up against the same database, to seed the world
and to check invariants with SQL; everything under load goes through HTTP.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx

from drills.harness.processes import BASE_DIR, PYTHON, Child, children_of, wait_until
from drills.harness.services import Postgres, Redis, free_port
from drills.harness.world import World, build_world

DATABASE = "registry"
# Only these of the caller's variables reach the stack: nothing can point it at the
# machine's shared PostgreSQL or Redis (DATABASE_URL, REDIS_URL, a developer's .env).
INHERITED = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "USER", "LOGNAME")
COMPRESSED_TIMERS = {
    "PROPAGATION_SWEEP_SECONDS": "5",
    "PROPAGATION_REDISPATCH_SECONDS": "20",
    "PROPAGATION_LEASE_SECONDS": "180",
    "PROPAGATION_RETRY_BASE_SECONDS": "2",
    "PROPAGATION_RETRY_CAP_SECONDS": "60",
}
CLIENT_HEADERS = {"X-Forwarded-Proto": "https"}


def fresh_secrets() -> dict[str, str]:
    from registry.generate_keys import fresh_secrets as generate

    return generate()


class Stack:
    """Start with ``start()``; ``close()`` stops everything it started."""

    def __init__(
        self,
        workdir: Path,
        *,
        web_workers: int = 3,
        worker_concurrency: int = 2,
        preload: bool = False,
    ) -> None:
        self.workdir = workdir
        self.web_workers = web_workers
        self.worker_concurrency = worker_concurrency
        self.preload = preload
        self.run_id = os.environ.get("DRILL_RUN_ID") or uuid.uuid4().hex[:12]
        self.base = self._inherited()
        self.postgres = Postgres(workdir, self.base)
        self.broker = Redis(workdir, "broker", self.base)
        self.cache = Redis(workdir, "cache", self.base)
        self.web_port = free_port()
        self.receiver_port = free_port()
        self.secrets = fresh_secrets()
        self.env: dict[str, str] = {}
        self.web: Child | None = None
        self.worker: Child | None = None
        self.beat: Child | None = None
        self.receiver: Child | None = None
        self._generation = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    @property
    def receiver_url(self) -> str:
        return f"http://127.0.0.1:{self.receiver_port}"

    def _inherited(self) -> dict[str, str]:
        env = {name: os.environ[name] for name in INHERITED if name in os.environ}
        env["PATH"] = os.pathsep.join([str(Path(PYTHON).parent), env.get("PATH", "")])
        env["DRILL_RUN_ID"] = self.run_id  # marks every process of this run
        return env

    def django_env(self, **overrides: str) -> dict[str, str]:
        env = {
            **self.base,
            "DJANGO_READ_DOT_ENV": "false",
            "DJANGO_SETTINGS_MODULE": "registry.settings",
            "DJANGO_ENV": "production",
            **self.secrets,
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "PUBLIC_BASE_URL": "https://registry.drill.invalid",
            "EMAIL_URL": "consolemail://",
            "TRUST_X_FORWARDED_PROTO": "true",
            "WEBHOOK_ALLOW_HTTP": "true",
            "WEBHOOK_ALLOW_PRIVATE_ADDRESSES": "true",
            "DATABASE_URL": self.postgres.url(DATABASE),
            "REDIS_URL": self.cache.url(0),
            "CACHE_URL": self.cache.url(2),
            "CELERY_BROKER_URL": self.broker.url(0),
            "CELERY_BEAT_SCHEDULE_FILENAME": str(self.workdir / "beat-schedule"),
            "LOCAL_DIR": str(self.workdir / "local"),
            "AUDIO_STORAGE_OPTIONS": json.dumps({"location": str(self.workdir / "audio")}),
            "API_RATE": "100000000/min",
            "LOG_LEVEL": "WARNING",
            **COMPRESSED_TIMERS,
        }
        env.update(overrides)
        return env

    # --- bring-up ------------------------------------------------------------------------

    def start(self, *, speakers: int = 40) -> World:
        """Services, schema, world, then web + worker + beat; returns the world."""
        self.postgres.init()
        self.postgres.start()
        self.postgres.create_database(DATABASE)
        self.broker.start()
        self.cache.start()
        self.receiver = Child(
            "receiver",
            [PYTHON, "-m", "drills.harness.receiver", "--port", str(self.receiver_port)],
            self.base,
            self.workdir / "receiver.log",
        ).start()
        self.env = self.django_env()
        self.manage("migrate", "--noinput")
        self.setup_django()
        wait_until(self._receiver_answers, 30, "webhook receiver")
        world = build_world(speakers=speakers, receiver_url=f"{self.receiver_url}/hooks")
        self.configure_receiver(secret=world.webhook_secret)
        self.web = self.start_web(self.env)
        self.worker = self.start_worker(self.env)
        self.beat = self.start_beat(self.env)
        wait_until(self.healthy, 90, "web answering /healthz")
        wait_until(self._heartbeat, 90, "a worker running beat's heartbeat")
        return world

    def manage(self, *args: str, env: dict[str, str] | None = None) -> str:
        result = subprocess.run(  # noqa: S603 - our own interpreter and manage.py
            [PYTHON, str(BASE_DIR / "manage.py"), *args],
            cwd=BASE_DIR,
            env=env or self.env,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"manage.py {args[0]} failed: {result.stderr.strip()[-2000:]}")
        return result.stdout  # the command's report; progress bars go to stderr

    def setup_django(self) -> None:
        """Django in this process, on the drill's database, with the stack's settings."""
        keep = {k: v for k, v in os.environ.items() if k.startswith("DRILL_")}
        os.environ.clear()
        os.environ.update({**self.env, **keep})
        sys.path.insert(0, str(BASE_DIR))
        import django

        django.setup()

    def start_web(self, env: dict[str, str]) -> Child:
        self._generation += 1
        argv = [
            PYTHON,
            "-m",
            "gunicorn",
            "registry.wsgi",
            "-c",
            "python:registry.gunicorn_config",
            "--bind",
            f"127.0.0.1:{self.web_port}",
            "--workers",
            str(self.web_workers),
            "--reuse-port",
            "--no-control-socket",
            "--log-level",
            "warning",
            "--graceful-timeout",
            "30",
        ]
        if self.preload:
            # The app is imported before the socket is bound: a new instance started next
            # to a running one (SO_REUSEPORT) serves from its first accepted connection.
            argv.append("--preload")
        child = Child(f"web-{self._generation}", argv, env, self.workdir / "web.log").start()
        wait_until(
            lambda: child.alive() and len(children_of(child.pid)) >= self.web_workers,
            90,
            "gunicorn workers forked",
        )
        return child

    def start_worker(self, env: dict[str, str]) -> Child:
        self._generation += 1
        name = f"drill-{self._generation}@localhost"
        child = Child(
            f"worker-{self._generation}",
            [
                PYTHON,
                "-m",
                "celery",
                "-A",
                "registry",
                "worker",
                "--loglevel",
                "WARNING",
                "--concurrency",
                str(self.worker_concurrency),
                "--hostname",
                name,
            ],
            env,
            self.workdir / "worker.log",
        ).start()
        wait_until(
            lambda: child.alive() and len(children_of(child.pid)) >= self.worker_concurrency,
            90,
            "Celery pool forked",
        )
        return child

    def start_beat(self, env: dict[str, str]) -> Child:
        return Child(
            "beat",
            [PYTHON, "-m", "celery", "-A", "registry", "beat", "--loglevel", "WARNING"],
            env,
            self.workdir / "beat.log",
        ).start()

    # --- probes --------------------------------------------------------------------------

    def healthz(self, timeout: float = 10.0) -> int:
        """/healthz status, 0 when no answer came."""
        try:
            return httpx.get(f"{self.url}/healthz", timeout=timeout).status_code
        except httpx.HTTPError:
            return 0

    def healthy(self) -> bool:
        return self.healthz() == 200

    def _heartbeat(self) -> bool:
        from django.db import connection

        from registry.models import WorkerHeartbeat

        connection.close()  # a fresh look (and no connection kept across a restart)
        return WorkerHeartbeat.objects.exists()

    def _receiver_answers(self) -> bool:
        try:
            return httpx.get(f"{self.receiver_url}/ledger", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def configure_receiver(self, **config: Any) -> None:
        httpx.put(f"{self.receiver_url}/config", json=config, timeout=10).raise_for_status()

    def ledger(self) -> dict[str, dict[str, Any]]:
        response = httpx.get(f"{self.receiver_url}/ledger", timeout=60)
        response.raise_for_status()
        return dict(response.json())

    def notices_in_flight(self) -> int:
        """Notices the receiver holds right now (a delivery waiting for its answer)."""
        try:
            response = httpx.get(f"{self.receiver_url}/in-flight", timeout=5)
            return int(response.json()["in_flight"])
        except (httpx.HTTPError, ValueError, KeyError):
            return 0

    def roles(self) -> dict[str, list[int]]:
        """The processes whose memory a drill samples, by role."""
        roles: dict[str, list[int]] = {}
        if self.web is not None and self.web.alive():
            roles["web"] = children_of(self.web.pid)
        if self.worker is not None and self.worker.alive():
            roles["worker"] = [self.worker.pid, *children_of(self.worker.pid)]
        if self.beat is not None and self.beat.alive():
            roles["beat"] = [self.beat.pid]
        return roles

    def cpu_roles(self) -> dict[str, list[int]]:
        """``roles`` plus PostgreSQL and the drill process itself (the load generator)."""
        roles = self.roles()
        if self.postgres.child is not None and self.postgres.child.alive():
            leader = self.postgres.child.pid
            roles["postgres"] = [leader, *children_of(leader)]
        roles["load generator"] = [os.getpid()]
        return roles

    # --- restarts ------------------------------------------------------------------------

    def roll_web(self, env: dict[str, str]) -> None:
        """Rolling restart: a new gunicorn shares the port (SO_REUSEPORT), then the old
        one stops gracefully (finishes its requests, closes its listener)."""
        old = self.web
        self.web = self.start_web(env)
        if old is not None:
            old.stop(timeout=60)

    def roll_worker(self, env: dict[str, str]) -> None:
        """A new worker first, then a warm shutdown of the old one (it finishes its
        tasks and gives back what it had prefetched)."""
        old = self.worker
        self.worker = self.start_worker(env)
        if old is not None:
            old.stop(timeout=120)

    def restart_beat(self, env: dict[str, str]) -> None:
        if self.beat is not None:
            self.beat.stop(timeout=30)
        self.beat = self.start_beat(env)

    # --- tear-down -----------------------------------------------------------------------

    def log_tail(self, name: str, lines: int = 30) -> str:
        path = self.workdir / name
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def close(self) -> None:
        for child in (self.beat, self.worker, self.web, self.receiver):
            if child is not None:
                child.stop(timeout=30)
        self.broker.stop()
        self.cache.stop()
        self.postgres.stop("fast")
