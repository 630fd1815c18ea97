"""Broker outage during load: the broker Redis is SIGKILLed (it keeps nothing on disk,
so every queued message is lost with it) for DRILL_OUTAGE_SECONDS (60) while the mixed
traffic runs at DRILL_OUTAGE_RATE, then started again, empty.

Passes when: no request failed (consent acts are accepted while the broker is down:
the withdrawal and its outbox row commit, the kick only logs); /healthz answered 503
while it was down and 200 again after; every withdrawal's targets were reached after
the broker came back (the beat sweep publishes what no kick could and re-sends what the
broker lost) and the licensee received each notice (logically) exactly once; every
outbox row published; the consent state consistent.
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
from drills.harness.receiver import summarize
from drills.harness.stack import CLIENT_HEADERS, Stack
from drills.harness.traffic import Traffic

NAME = "broker-outage"
OUTAGE = setting("DRILL_OUTAGE_SECONDS", 60)
RATE = setting("DRILL_OUTAGE_RATE", 10)
BEFORE, AFTER = 20.0, 30.0
DRAIN_SECONDS = 240


def unpublished_outbox_rows() -> int:
    from consent.models import ConsentOutbox

    return ConsentOutbox.objects.filter(published_at__isnull=True).count()


def broker_outage(workdir: Path) -> Verdict:
    stack = Stack(workdir)
    try:
        world = stack.start()
        traffic = Traffic(world)
        after = checks.last_target_id()
        load = FixedRateLoad(
            base_url=stack.url, rate=RATE, calls=traffic, headers=CLIENT_HEADERS
        ).start(BEFORE + OUTAGE + AFTER)
        health = HealthProbe(f"{stack.url}/healthz", load.elapsed).start()
        time.sleep(BEFORE)
        down = load.elapsed()
        stack.broker.kill()
        say(f"{NAME}: broker killed at {down:.1f} s; down for {OUTAGE:g} s")
        time.sleep(OUTAGE)
        restarting = load.elapsed()
        stack.broker.start()  # returns once it answers PING
        up, up_at = load.elapsed(), time.time()
        say(f"{NAME}: broker back (empty) at {up:.1f} s")
        report = load.wait()
        health.stop()
        withdrawn_while_down = sum(
            1 for o in report.outcomes if o.name == "withdraw" and down <= o.due < up and o.ok
        )
        state, _ = checks.wait_for_propagation(after, DRAIN_SECONDS)
        drained = checks.last_reached_at(after) - up_at
        ledger = summarize(stack.ledger(), state.notice_keys)
        unpublished = unpublished_outbox_rows()
        problems = checks.consent_state_problems()
        while_down = health.between(down + 2, restarting)
        back_at = health.first(200, restarting)
        figures = {
            "rate": RATE,
            "outage_s": OUTAGE,
            "requests": report.requests,
            "errors": report.errors,
            "retries": report.retries,
            "p95_ms": round(report.latency(95)),
            "p95_ms_during_outage": round(report.latency(95, start=down, end=up)),
            "p95_ms_during_outage_by_call": {
                name: round(report.latency(95, name, down, up)) for name in report.by_name()
            },
            "withdrawals_during_outage": withdrawn_while_down,
            "healthz_during_outage": dict(while_down),
            "healthz_200_after_s": None if back_at is None else round(back_at - restarting, 1),
            "targets": state.total,
            "by_status": state.by_status,
            "delivered_within_s_of_return": round(drained, 1),
            "notices": ledger.logical,
            "redeliveries": ledger.redeliveries,
        }
        say(f"{NAME}: figures {figures}")
        failures = []
        if report.errors:
            failures.append(f"{report.errors} requests failed ({report.failure_kinds()})")
        if set(while_down) != {503}:
            failures.append(f"/healthz while down: {dict(while_down)} (want only 503)")
        if back_at is None:
            failures.append("/healthz never 200 after the broker returned")
        if state.unreached:
            failures.append(f"{state.unreached} targets not reached: {state.by_status}")
        if not ledger.exactly_once:
            failures.append(f"receiver: {ledger}")
        if unpublished:
            failures.append(f"{unpublished} outbox rows never published")
        if problems:
            failures.append(f"consent state: {problems}")
        summary = (
            f"broker down {OUTAGE:g} s under {RATE:g} req/s: {report.requests} requests, "
            f"{report.errors} errors; {withdrawn_while_down} withdrawals accepted while down; "
            f"/healthz 503 while down, 200 {figures['healthz_200_after_s']} s after; "
            f"{state.total} targets of {ledger.logical} notices + releases all reached "
            f"{drained:.0f} s after the broker returned, each notice received once "
            f"({ledger.redeliveries} redeliveries), none lost"
        )
        if failures:
            summary += " | " + "; ".join(failures)
        return Verdict(NAME, not failures, summary, figures)
    except BaseException:
        for log in ("web.log", "worker.log", "beat.log"):
            say(f"--- tail of {log}:\n{stack.log_tail(log)}")
        raise
    finally:
        stack.close()


if __name__ == "__main__":
    drill.run(NAME, broker_outage, time_limit=BEFORE + OUTAGE + AFTER + DRAIN_SECONDS + 600)
