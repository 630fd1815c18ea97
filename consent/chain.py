"""The audit chain: verify that no consent event was edited, removed or reordered,
and write signed checkpoints of its head."""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import connection, connections, transaction
from django.utils import timezone

from consent.models import AuditCheckpoint, ChainHead, ConsentEvent
from registry import signing

GENESIS = "0" * 64

# One range of sequence numbers, read once: the first row that is missing, was edited
# (its hash is not the hash of its content, computed by the insert trigger's own
# function) or does not point at the previous row's hash. Ranges are independent (the
# row before the range supplies the link), so they run on several connections at once.
_RANGE_SQL = """
WITH batch AS (
    SELECT e.seq, e.hash, e.prev_hash, consent_event_hash(e) AS recomputed
    FROM consent_consentevent e
    WHERE e.seq > %(after)s AND e.seq <= %(until)s
), linked AS (
    SELECT seq, hash, prev_hash, recomputed,
           coalesce(lag(hash) OVER (ORDER BY seq), %(carry)s) AS expected_prev,
           coalesce(lag(seq) OVER (ORDER BY seq), %(after)s) + 1 AS expected_seq
    FROM batch
)
SELECT seq, expected_seq,
       CASE WHEN seq <> expected_seq THEN 'missing'
            WHEN hash <> recomputed THEN 'edited'
            ELSE 'relinked' END AS why
FROM linked
WHERE seq <> expected_seq OR hash <> recomputed OR prev_hash <> expected_prev
ORDER BY seq
LIMIT 1
"""


@dataclass
class ChainReport:
    events_checked: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS
    broken_at: int | None = None
    problem: str = ""
    checkpoints_checked: int = 0
    checkpoint_problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.broken_at is None and not self.checkpoint_problems and not self.problem


def _describe(seq: int, why: str, expected_seq: int) -> str:
    if why == "missing":
        return f"events #{expected_seq}..#{seq - 1} are missing before event #{seq}"
    if why == "edited":
        return f"event #{seq} does not match its hash: its content was changed"
    return f"event #{seq} does not link to the event before it"


def verify_chain(
    *,
    batch_size: int = 100_000,
    on_batch: Callable[[int], object] | None = None,
    workers: int | None = None,
) -> ChainReport:
    """Recompute the whole chain; report the first broken link.

    Links are walked in order from one REPEATABLE READ snapshot (events appended while
    it runs cannot look like a removed tail); the expensive part, recomputing every
    row's hash, runs over ranges on ``workers`` connections at once (one per core by
    default). Inside a caller's transaction everything runs on its connection."""
    if connection.in_atomic_block:  # the caller's transaction already fixes the view
        return _verify_chain(batch_size=batch_size, on_batch=on_batch, workers=1)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            cursor.execute("SET LOCAL work_mem = '64MB'")  # the window sort stays in memory
        return _verify_chain(
            batch_size=batch_size, on_batch=on_batch, workers=workers or os.cpu_count() or 1
        )


def _in_threads(work: Callable[[int], None], count: int, workers: int) -> None:
    """Run ``work(0..count-1)`` on ``workers`` threads, each with its own database
    connection for all the items it takes (closed when it is done)."""
    pending: queue.SimpleQueue[int] = queue.SimpleQueue()
    for index in range(count):
        pending.put(index)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            while True:
                try:
                    index = pending.get_nowait()
                except queue.Empty:
                    return
                work(index)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections["default"].close()

    threads = [threading.Thread(target=worker) for _ in range(min(workers, count))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


def _check_range(
    after: int,
    until: int,
    *,
    final: bool,
    on_batch: Callable[[int], object] | None,
) -> tuple[int, str, int] | None:
    """(seq, why, expected seq) of the first broken row in (after, until], or None."""
    with connections["default"].cursor() as cursor:
        carry = GENESIS
        if after:
            cursor.execute("SELECT hash FROM consent_consentevent WHERE seq = %s", [after])
            row = cursor.fetchone()
            carry = row[0] if row else "missing"  # then the first row cannot link
        cursor.execute(_RANGE_SQL, {"after": after, "until": until, "carry": carry})
        broken = cursor.fetchone()
        if broken is None:
            cursor.execute(
                "SELECT count(*) FROM consent_consentevent WHERE seq > %s AND seq <= %s",
                [after, until],
            )
            present = cursor.fetchone()[0]
            if present < until - after and not final:
                # Rows missing at the end of this range, before the next one. (At
                # the end of the log the head check reports it instead.)
                broken = (until + 1, after + present + 1, "missing")
    if on_batch:
        on_batch(until - after)
    return None if broken is None else (int(broken[0]), str(broken[2]), int(broken[1]))


def _verify_chain(
    *, batch_size: int, on_batch: Callable[[int], object] | None, workers: int
) -> ChainReport:
    report = ChainReport()
    head = ChainHead.objects.filter(pk=1).first()
    last = ConsentEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
    until = max(last, head.seq if head else 0)
    ranges = [(start, min(start + batch_size, until)) for start in range(0, until, batch_size)]
    results: list[tuple[int, str, int] | None] = [None] * len(ranges)

    def check(index: int) -> None:
        after, end = ranges[index]
        results[index] = _check_range(after, end, final=end == until, on_batch=on_batch)

    if workers > 1 and len(ranges) > 1:
        _in_threads(check, len(ranges), workers)
    else:
        for index in range(len(ranges)):
            check(index)
    broken = [result for result in results if result is not None]
    if broken:
        seq, why, expected_seq = min(broken)
        report.broken_at, report.events_checked = seq, expected_seq - 1
        report.problem = _describe(seq, why, expected_seq)
        return report
    report.events_checked = until
    report.head_seq = until
    report.head_hash = (
        ConsentEvent.objects.filter(seq=until).values_list("hash", flat=True).first() or GENESIS
    )
    if head is None and until:
        report.problem = "the chain head is missing although events exist"
    elif head is not None and (head.seq, head.hash) != (report.head_seq, report.head_hash):
        report.problem = (
            f"the chain head says #{head.seq} but the log ends at #{last}: "
            "events at the end were removed"
        )
    _verify_checkpoints(report)
    return report


def _checkpoint_payload(checkpoint: AuditCheckpoint) -> dict[str, object]:
    return {
        "seq": checkpoint.seq,
        "headHash": checkpoint.head_hash,
        "eventCount": checkpoint.event_count,
        "createdAt": checkpoint.created_at.isoformat(),
    }


def _verify_checkpoints(report: ChainReport) -> None:
    hashes = dict(
        ConsentEvent.objects.filter(seq__in=AuditCheckpoint.objects.values("seq")).values_list(
            "seq", "hash"
        )
    )
    for checkpoint in AuditCheckpoint.objects.order_by("seq"):
        report.checkpoints_checked += 1
        signature = {"alg": signing.ALGORITHM, "kid": checkpoint.kid, "value": checkpoint.signature}
        if not signing.verify(_checkpoint_payload(checkpoint), signature):
            report.checkpoint_problems.append(f"checkpoint #{checkpoint.pk}: bad signature")
        elif checkpoint.seq and hashes.get(checkpoint.seq) != checkpoint.head_hash:
            report.checkpoint_problems.append(
                f"checkpoint #{checkpoint.pk}: event #{checkpoint.seq} no longer has the "
                "hash that was signed"
            )


class ChainBroken(Exception):
    """The chain does not verify; no checkpoint may vouch for it."""


def write_checkpoint() -> AuditCheckpoint:
    """Verify the chain, then sign its head (seq, hash, count, time) and store it
    (append-only). Refuses to sign a broken chain."""
    report = verify_chain()
    if not report.ok:
        raise ChainBroken("; ".join(p for p in [report.problem, *report.checkpoint_problems] if p))
    with transaction.atomic():
        head = ChainHead.objects.filter(pk=1).first()
        seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS)
        checkpoint = AuditCheckpoint(
            seq=seq, head_hash=head_hash, event_count=seq, created_at=timezone.now()
        )
        signature = signing.sign(_checkpoint_payload(checkpoint))
        checkpoint.kid, checkpoint.signature = signature["kid"], signature["value"]
        checkpoint.save()
    return checkpoint
