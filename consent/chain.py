"""The audit chain: verify that no consent event was edited, removed or reordered,
and write signed checkpoints of its head."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.utils import timezone

from consent.models import AuditCheckpoint, ChainHead, ConsentEvent
from registry import signing

GENESIS = "0" * 64

# One batch of the chain, checked in SQL with the same hash function the insert
# trigger used: a row is broken if its hash is not the hash of its content, if it does
# not point at the previous row's hash, or if a sequence number is missing.
_BATCH_SQL = """
WITH batch AS (
    SELECT e.seq, e.hash, e.prev_hash, consent_event_hash(e) AS recomputed
    FROM consent_consentevent e
    WHERE e.seq > %(after)s
    ORDER BY e.seq
    LIMIT %(limit)s
), linked AS (
    SELECT seq, hash, prev_hash, recomputed,
           coalesce(lag(hash) OVER (ORDER BY seq), %(carry)s) AS expected_prev,
           coalesce(lag(seq) OVER (ORDER BY seq), %(after)s) + 1 AS expected_seq
    FROM batch
)
SELECT
    (SELECT count(*) FROM batch),
    (SELECT seq FROM batch ORDER BY seq DESC LIMIT 1),
    (SELECT hash FROM batch ORDER BY seq DESC LIMIT 1),
    broken.seq, broken.why, broken.expected_seq
FROM (SELECT 1) AS one
LEFT JOIN LATERAL (
    SELECT seq, expected_seq,
           CASE WHEN seq <> expected_seq THEN 'missing'
                WHEN hash <> recomputed THEN 'edited'
                ELSE 'relinked' END AS why
    FROM linked
    WHERE seq <> expected_seq OR hash <> recomputed OR prev_hash <> expected_prev
    ORDER BY seq
    LIMIT 1
) AS broken ON true
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
    *, batch_size: int = 100_000, on_batch: Callable[[int], object] | None = None
) -> ChainReport:
    """Recompute the whole chain in batches; stop at the first broken link.

    All batches and the head are read from one snapshot (REPEATABLE READ), so events
    appended while it runs cannot look like a removed tail."""
    if connection.in_atomic_block:  # the caller's transaction already fixes the view
        return _verify_chain(batch_size=batch_size, on_batch=on_batch)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        return _verify_chain(batch_size=batch_size, on_batch=on_batch)


def _verify_chain(*, batch_size: int, on_batch: Callable[[int], object] | None) -> ChainReport:
    report = ChainReport()
    after, carry = 0, GENESIS
    with connection.cursor() as cursor:
        while True:
            cursor.execute(_BATCH_SQL, {"after": after, "limit": batch_size, "carry": carry})
            count, last_seq, last_hash, broken_seq, why, expected_seq = cursor.fetchone()
            if broken_seq is not None:
                report.events_checked += expected_seq - after - 1
                report.broken_at = broken_seq
                report.problem = _describe(broken_seq, why, expected_seq)
                return report
            if not count:
                break
            report.events_checked += count
            after, carry = last_seq, last_hash
            if on_batch:
                on_batch(count)
    report.head_seq, report.head_hash = after, carry
    head = ChainHead.objects.filter(pk=1).first()
    if head is None and after:
        report.problem = "the chain head is missing although events exist"
    elif head is not None and (head.seq, head.hash) != (after, carry):
        report.problem = (
            f"the chain head says #{head.seq} but the log ends at #{after}: "
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
