"""Database restart mid-load: PostgreSQL is stopped in immediate mode (a crash: no
checkpoint, every backend killed mid-transaction) for DRILL_DB_DOWN_SECONDS (20) while
the mixed traffic runs at DRILL_DB_RATE, then started again (crash recovery).

The collection platform behaves as a careful client: a consent act that gets no answer
or a 5xx is sent again with the same Idempotency-Key until it is answered.

Passes when: /healthz answered 503 (promptly, never 200) while the database was down
and 200 again after, with the same web, worker and beat processes (no manual action);
every request due outside the outage succeeded; every act was answered and made exactly
the events its answer names (none twice, none lost: the events after the drill began
are exactly those); no partial consent state (``checks.CONSENT_INVARIANTS``); the audit
chain verifies; every withdrawal's targets reached.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from drills.harness import checks, drill
from drills.harness.drill import Verdict, say, setting
from drills.harness.load import FixedRateLoad, HealthProbe
from drills.harness.stack import CLIENT_HEADERS, Stack
from drills.harness.traffic import Traffic

NAME = "db-restart"
DOWN = setting("DRILL_DB_DOWN_SECONDS", 20)
RATE = setting("DRILL_DB_RATE", 10)
BEFORE, AFTER = 20.0, 40.0
# Requests due this long after the restart may still meet connections being re-made.
SETTLE = 5.0
DRAIN_SECONDS = 240


def db_restart(workdir: Path) -> Verdict:
    stack = Stack(workdir)
    try:
        world = stack.start()
        traffic = Traffic(world, patient_acts=True)
        seq_before = checks.last_event_seq()
        after = checks.last_target_id()
        pids = process_ids(stack)
        load = FixedRateLoad(
            base_url=stack.url, rate=RATE, calls=traffic, headers=CLIENT_HEADERS, patience=180
        ).start(BEFORE + DOWN + AFTER)
        health = HealthProbe(f"{stack.url}/healthz", load.elapsed).start()
        time.sleep(BEFORE)
        down = load.elapsed()
        stack.postgres.stop("immediate")
        say(f"{NAME}: PostgreSQL crashed (immediate stop) at {down:.1f} s")
        time.sleep(DOWN)
        restarting = load.elapsed()
        stack.postgres.start()
        up = load.elapsed()
        say(f"{NAME}: PostgreSQL back at {up:.1f} s (recovery took {up - restarting:.1f} s)")
        report = load.wait()
        health.stop()
        recovered = health.first(200, restarting)
        window_end = (recovered if recovered is not None else up) + SETTLE
        outside = report.failures(0, down) + report.failures(window_end, float("inf"))
        inside = report.failures(down, window_end)
        while_down = health.between(down + 1, restarting)
        after_recovery = health.between(window_end, float("inf"))
        acts = list(traffic.acts)
        unanswered = [act for act in acts if not act.status]
        reported_events = [event for act in acts for event in act.events]
        counted = checks.events_with_ids(reported_events)
        written = checks.last_event_seq() - seq_before
        problems = checks.consent_state_problems()
        chain_ok, chain_detail = checks.audit_chain_ok()
        state, _ = checks.wait_for_propagation(after, DRAIN_SECONDS)
        same_processes = pids == process_ids(stack)
        figures = {
            "rate": RATE,
            "down_s": DOWN,
            "recovery_s": round(up - restarting, 1),
            "healthz_while_down": dict(while_down),
            "healthz_slowest_ms_while_down": round(health.slowest_ms(down, restarting)),
            "healthz_200_after_restart_s": None
            if recovered is None
            else round(recovered - restarting, 1),
            "healthz_after_recovery": dict(after_recovery),
            "requests": report.requests,
            "failed_during_outage": report.failure_kinds(down, window_end),
            "failed_outside_outage": len(outside),
            "acts": len(acts),
            "acts_unanswered": len(unanswered),
            "act_retries": sum(
                o.retries for o in report.outcomes if o.name in ("give", "withdraw")
            ),
            "events_reported": len(reported_events),
            "events_written": written,
            "targets": state.total,
            "by_status": state.by_status,
            "audit_chain": chain_detail,
        }
        say(f"{NAME}: figures {figures}")
        failures = []
        if set(while_down) != {503}:
            failures.append(f"/healthz while down: {dict(while_down)} (want only 503)")
        if recovered is None or set(after_recovery) != {200}:
            failures.append(f"/healthz after the restart: {dict(after_recovery)}")
        if not same_processes:
            failures.append("a web, worker or beat process was replaced")
        if outside:
            failures.append(f"{len(outside)} requests failed outside the outage")
        if unanswered:
            failures.append(f"{len(unanswered)} acts never answered")
        if written != len(reported_events) or any(n != 1 for n in counted.values()):
            failures.append(
                f"{written} events written for {len(reported_events)} answered "
                f"({sum(1 for n in counted.values() if n != 1)} answers not matching one event)"
            )
        if problems:
            failures.append(f"partial consent state: {problems}")
        if not chain_ok:
            failures.append(f"audit chain: {chain_detail}")
        if state.unreached:
            failures.append(f"{state.unreached} targets not reached: {state.by_status}")
        summary = (
            f"PostgreSQL crashed for {DOWN:g} s under {RATE:g} req/s: /healthz 503 while down "
            f"(slowest {figures['healthz_slowest_ms_while_down']} ms), 200 again "
            f"{figures['healthz_200_after_restart_s']} s after the restart, same processes; "
            f"{len(inside)} requests failed during the outage, {len(outside)} outside; "
            f"{len(acts)} acts ({figures['act_retries']} retried with their key) -> exactly "
            f"{written} events, no partial consent state, audit chain OK; "
            f"{state.total} targets reached"
        )
        if failures:
            summary += " | " + "; ".join(failures)
        return Verdict(NAME, not failures, summary, figures)
    except BaseException:
        for log in ("web.log", "worker.log", "beat.log", "postgres.log"):
            say(f"--- tail of {log}:\n{stack.log_tail(log)}")
        raise
    finally:
        stack.close()


def process_ids(stack: Stack) -> dict[str, int]:
    """The web, worker and beat processes (and whether they are still running)."""
    children = {"web": stack.web, "worker": stack.worker, "beat": stack.beat}
    return {
        name: child.pid if child.alive() else -child.pid
        for name, child in children.items()
        if child is not None
    }


if __name__ == "__main__":
    drill.run(NAME, db_restart, time_limit=BEFORE + DOWN + AFTER + DRAIN_SECONDS + 600)
