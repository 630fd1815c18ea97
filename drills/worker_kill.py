"""Worker kill: SIGKILL a Celery worker every DRILL_KILL_EVERY seconds (20) while
withdrawals propagate, for DRILL_KILL_SECONDS (120).

The kills alternate between the two ways a worker dies: one pool process (the parent
sees it die: its message goes back to the queue at once, ``reject_on_worker_lost``) and
the whole worker with its pool (a crashed host: what it had taken from Redis comes back
only through the beat sweep, and a claim it held only when its lease runs out), in
which case the drill starts a new one as a supervisor would. The licensee's endpoint
answers after DRILL_RECEIVER_DELAY (1 s) and each kill waits (up to 10 s) until a
notice is in flight there, so kills land mid-delivery.

Passes when: at least one delivery attempt was interrupted (a claim with no logged
outcome: the drill tested what it claims); every target reached a final state and none
is dead; the licensee received every notice and nothing else, each under one key with
one body (redeliveries of an interrupted notice are counted, and deduplicated by its
Idempotency-Key); one erratum per release target; each model flagged once per notice;
no request failed; the consent state consistent.
"""

from __future__ import annotations

import os
import random
import signal
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from drills.harness import checks, drill
from drills.harness.drill import Verdict, say, setting
from drills.harness.load import FixedRateLoad
from drills.harness.processes import children_of
from drills.harness.receiver import summarize
from drills.harness.stack import CLIENT_HEADERS, COMPRESSED_TIMERS, Stack
from drills.harness.traffic import Traffic

NAME = "worker-kill"
SECONDS = setting("DRILL_KILL_SECONDS", 120)
EVERY = setting("DRILL_KILL_EVERY", 20)
RATE = setting("DRILL_KILL_RATE", 3)
DELAY = setting("DRILL_RECEIVER_DELAY", 1.0)
# A claim of a killed worker is taken back after the lease; the sweep runs every 5 s.
DRAIN_SECONDS = float(COMPRESSED_TIMERS["PROPAGATION_LEASE_SECONDS"]) + 120
MIX = ("act", "feed", "act", "eligible_tracks")


def kill_one(stack: Stack, number: int, rng: random.Random) -> str:
    """Odd kills: one pool process; even kills: the whole worker, then a new one. Each
    waits for a notice in flight at the receiver first."""
    deadline = time.monotonic() + 10
    while not stack.notices_in_flight() and time.monotonic() < deadline:
        time.sleep(0.05)
    worker = stack.worker
    if worker is None:
        raise RuntimeError("no worker to kill")
    pool = children_of(worker.pid)
    if number % 2 == 1 and pool:
        victim = rng.choice(pool)
        os.kill(victim, signal.SIGKILL)
        return f"pool process {victim}"
    worker.kill()
    stack.worker = stack.start_worker(stack.env)
    return f"whole worker {worker.pid} (restarted as {stack.worker.pid})"


def worker_kill(workdir: Path) -> Verdict:
    stack = Stack(workdir)
    rng = random.Random(11)  # noqa: S311 - which process dies, not a secret
    try:
        world = stack.start()
        stack.configure_receiver(delay=DELAY)
        traffic = Traffic(world, mix=MIX)
        after = checks.last_target_id()
        load = FixedRateLoad(
            base_url=stack.url, rate=RATE, calls=traffic, headers=CLIENT_HEADERS
        ).start(SECONDS)
        kills: list[str] = []
        next_kill = time.monotonic() + EVERY
        while load.elapsed() < SECONDS - 1:
            if time.monotonic() >= next_kill:
                kills.append(kill_one(stack, len(kills) + 1, rng))
                say(f"{NAME}: kill {len(kills)} at {load.elapsed():.0f} s: {kills[-1]}")
                next_kill += EVERY
            time.sleep(0.2)
        report = load.wait()
        ended = time.monotonic()
        state, _ = checks.wait_for_propagation(after, DRAIN_SECONDS)
        settled = time.monotonic() - ended
        ledger = summarize(stack.ledger(), state.notice_keys)
        problems = checks.consent_state_problems()
        attempts = delivery_attempts(after)
        interrupted = interrupted_attempts(after)
        withdrawals = sum(1 for act in traffic.answered_acts() if act.action == "withdraw")
        figures = {
            "kills": kills,
            "rate": RATE,
            "requests": report.requests,
            "errors": report.errors,
            "withdrawals": withdrawals,
            "targets": state.total,
            "by_status": state.by_status,
            "settled_after_load_s": round(settled, 1),
            "notices": ledger.logical,
            "raw_posts": ledger.raw,
            "redeliveries": ledger.redeliveries,
            "release_targets": state.release_targets,
            "errata": state.errata,
            "model_targets": state.model_targets,
            "model_flags": state.model_flags,
            "delivery_attempts": attempts,
            "interrupted_attempts": interrupted,
        }
        say(f"{NAME}: figures {figures}")
        failures = []
        if len(kills) < 2:
            failures.append(f"only {len(kills)} kills (DRILL_KILL_SECONDS too short)")
        if not interrupted:
            failures.append("no kill interrupted a delivery")
        if report.errors:
            failures.append(f"{report.errors} requests failed ({report.failure_kinds()})")
        if state.unfinished or state.by_status.get("dead"):
            failures.append(f"targets not final or dead: {state.by_status}")
        if not ledger.exactly_once:
            failures.append(f"receiver: {ledger}")
        if state.errata != state.release_targets:
            failures.append(f"{state.errata} errata for {state.release_targets} release targets")
        if state.model_flags != state.model_targets:
            failures.append(f"models flagged {state.model_flags} times for {state.model_targets}")
        if problems:
            failures.append(f"consent state: {problems}")
        summary = (
            f"{len(kills)} SIGKILLs in {SECONDS:g} s ({sum('pool' in k for k in kills)} pool "
            f"process, {sum('whole' in k for k in kills)} whole worker) interrupted "
            f"{interrupted} delivery attempts; {withdrawals} "
            f"withdrawals -> {state.total} targets all final {settled:.0f} s after the load "
            f"(0 dead); {ledger.logical} notices, 0 duplicates after dedup by key "
            f"({ledger.redeliveries} redeliveries of interrupted notices, same key and body); "
            f"{state.errata} errata for {state.release_targets} releases, models flagged "
            f"{state.model_flags}x for {state.model_targets} notices"
        )
        if failures:
            summary += " | " + "; ".join(failures)
        return Verdict(NAME, not failures, summary, figures)
    except BaseException:
        for log in ("worker.log", "beat.log", "web.log"):
            say(f"--- tail of {log}:\n{stack.log_tail(log)}")
        raise
    finally:
        stack.close()


def delivery_attempts(after_target: int) -> dict[str, int]:
    from django.db.models import Count

    from propagation.models import DeliveryAttempt

    rows = (
        DeliveryAttempt.objects.filter(target_id__gt=after_target)
        .values("outcome")
        .annotate(n=Count("id"))
    )
    return {row["outcome"]: row["n"] for row in rows}


def interrupted_attempts(after_target: int) -> int:
    """Claims that never logged an outcome: attempts a kill cut short."""
    from django.db.models import Sum

    from propagation.models import DeliveryAttempt, PropagationTarget

    claimed = PropagationTarget.objects.filter(id__gt=after_target).aggregate(n=Sum("attempts"))
    logged = DeliveryAttempt.objects.filter(target_id__gt=after_target).count()
    return int(claimed["n"] or 0) - logged


if __name__ == "__main__":
    drill.run(NAME, worker_kill, time_limit=SECONDS + DRAIN_SECONDS + 600)
