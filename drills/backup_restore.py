"""Backup and restore under load: ``pg_dump`` of the live database while the mixed
traffic runs at DRILL_BACKUP_RATE, restored with ``pg_restore`` into a new database.
Besides the drill's world, the database holds a synthetic corpus of
DRILL_BACKUP_RECORDINGS recordings (``generate_corpus``, 30,000: ~0.1M consent events),
so the dump takes long enough for writes to land while it runs.

The dump is taken from a snapshot the drill exported itself (``pg_export_snapshot`` in a
repeatable-read transaction, then ``pg_dump --snapshot``), so the drill can count every
table in exactly the state the dump holds while writes continue. A signed audit
checkpoint is written first, so the restore has one to verify.

Passes when: no request failed during the dump; every table of the restored database
has the rows the snapshot had; ``manage.py verify_audit_chain`` passes on the restored
database (hash chain and signed checkpoints); the append-only triggers came back with it
(an UPDATE of a consent event is refused there).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import psycopg

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from drills.harness import drill
from drills.harness.drill import Verdict, say, setting
from drills.harness.load import FixedRateLoad
from drills.harness.stack import CLIENT_HEADERS, DATABASE, Stack
from drills.harness.traffic import Traffic

NAME = "backup-restore"
RATE = setting("DRILL_BACKUP_RATE", 10)
RECORDINGS = int(setting("DRILL_BACKUP_RECORDINGS", 30_000))
WARM_UP = 15.0
RESTORED = "registry_restored"


def table_counts(conn: psycopg.Connection[Any]) -> dict[str, int]:
    """Rows of every table of the public schema, in the connection's transaction."""
    tables = [
        row[0]
        for row in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
        )
    ]
    counts = {}
    for table in tables:
        row = conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()  # noqa: S608
        counts[table] = int(row[0]) if row else 0
    return counts


def update_refused(dsn: str) -> bool:
    """True when the restored database refuses to rewrite a consent event."""
    with psycopg.connect(dsn) as conn:
        try:
            conn.execute(
                "UPDATE consent_consentevent SET purpose = purpose "
                "WHERE id = (SELECT min(id) FROM consent_consentevent)"
            )
        except psycopg.Error:
            conn.rollback()
            return True
        conn.rollback()
        return False


def backup_restore(workdir: Path) -> Verdict:
    stack = Stack(workdir)
    try:
        world = stack.start()
        if RECORDINGS:
            # The generator refuses production settings: it is for scratch databases.
            corpus = stack.manage(
                "generate_corpus",
                "--recordings",
                str(RECORDINGS),
                "--verbosity",
                "0",
                env=stack.django_env(DJANGO_ENV="development", DEBUG="false"),
            )
            say(f"{NAME}: {corpus.strip().splitlines()[-1]}")
        checkpoint = stack.manage("verify_audit_chain", "--checkpoint", "--verbosity", "0")
        say(f"{NAME}: {checkpoint.strip().splitlines()[-1]}")
        load = FixedRateLoad(
            base_url=stack.url, rate=RATE, calls=Traffic(world), headers=CLIENT_HEADERS
        ).start(3600)
        time.sleep(WARM_UP)
        dump = workdir / "registry.dump"
        with psycopg.connect(stack.postgres.dsn(DATABASE)) as snapshot:
            snapshot.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            snapshot.read_only = True
            row = snapshot.execute("SELECT pg_export_snapshot()").fetchone()
            snapshot_id = str(row[0]) if row else ""
            expected = table_counts(snapshot)
            started = time.monotonic()
            stack.postgres.tool(
                "pg_dump", "--format=custom", f"--snapshot={snapshot_id}", "-f", str(dump), DATABASE
            )
            dumped = time.monotonic() - started
        during_dump = load.elapsed()
        say(f"{NAME}: dumped in {dumped:.1f} s ({dump.stat().st_size / 1e6:.1f} MB)")
        stack.postgres.create_database(RESTORED)
        started = time.monotonic()
        stack.postgres.tool(
            "pg_restore", "--exit-on-error", "--no-owner", "-j", "2", "-d", RESTORED, str(dump)
        )
        restored_in = time.monotonic() - started
        load.stop()
        report = load.wait()
        with psycopg.connect(stack.postgres.dsn(RESTORED)) as restored:
            found = table_counts(restored)
        mismatched = {
            table: (expected.get(table), found.get(table))
            for table in sorted(set(expected) | set(found))
            if expected.get(table) != found.get(table)
        }
        restored_env = stack.django_env(DATABASE_URL=stack.postgres.url(RESTORED))
        try:
            verification = stack.manage("verify_audit_chain", "--verbosity", "1", env=restored_env)
            chain_ok = "audit chain OK" in verification
        except RuntimeError as exc:
            verification, chain_ok = str(exc), False
        chain_line = next(
            (line for line in verification.splitlines() if "audit chain" in line),
            verification.strip()[-300:],
        )
        triggers = update_refused(stack.postgres.dsn(RESTORED))
        events = expected.get("consent_consentevent", 0)
        live_events = live_count(stack, "consent_consentevent")
        figures = {
            "rate": RATE,
            "dump_s": round(dumped, 1),
            "dump_mb": round(dump.stat().st_size / 1e6, 2),
            "restore_s": round(restored_in, 1),
            "tables": len(expected),
            "rows": sum(expected.values()),
            "events_in_snapshot": events,
            "events_live_after": live_events,
            "mismatched_tables": mismatched,
            "verify_audit_chain": chain_line,
            "append_only_trigger_restored": triggers,
            "requests": report.requests,
            "errors": report.errors,
            "load_s_until_dump_done": round(during_dump, 1),
        }
        say(f"{NAME}: figures {figures}")
        failures = []
        if report.errors:
            failures.append(f"{report.errors} requests failed ({report.failure_kinds()})")
        if mismatched:
            failures.append(f"row counts differ: {mismatched}")
        if not chain_ok:
            failures.append(f"verify_audit_chain on the restore: {chain_line}")
        if not triggers:
            failures.append("the restored database accepts an UPDATE of a consent event")
        summary = (
            f"pg_dump under {RATE:g} req/s in {dumped:.1f} s ({figures['dump_mb']} MB), "
            f"restored in {restored_in:.1f} s: {len(expected)} tables, {sum(expected.values())} "
            f"rows, counts {'match' if not mismatched else 'DIFFER'} the dump's snapshot "
            f"({events} events; {live_events} live by then); restored {chain_line}; "
            f"append-only triggers {'restored' if triggers else 'MISSING'}; "
            f"{report.requests} requests, {report.errors} errors"
        )
        if failures:
            summary += " | " + "; ".join(failures)
        return Verdict(NAME, not failures, summary, figures)
    except BaseException:
        for log in ("web.log", "postgres.log"):
            say(f"--- tail of {log}:\n{stack.log_tail(log)}")
        raise
    finally:
        stack.close()


def live_count(stack: Stack, table: str) -> int:
    with psycopg.connect(stack.postgres.dsn(DATABASE)) as conn:
        row = conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()  # noqa: S608
        return int(row[0]) if row else 0


if __name__ == "__main__":
    drill.run(NAME, backup_restore, time_limit=1500)
