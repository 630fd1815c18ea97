"""The licensees' withdrawal feed: every erratum of every release a licensee holds (or
ever held) a license to, in ``seq`` order.

``seq`` is given under a transaction-scoped lock (``datasetcards.services.taint_release``),
so seq order is commit order: once a reader has seen seq N, no erratum with a lower seq
can commit later, and polling with ``after=N`` never skips one. Each erratum carries its
Ed25519 signature over the RFC 8785 canonical JSON of its ``statement()``, verifiable
with the registry's JWKS. Ids, purposes and times only: never personal data."""

from __future__ import annotations

from dataclasses import dataclass

from datasetcards.models import Release, ReleaseErratum

MAX_LIMIT = 1000
DEFAULT_LIMIT = 100


@dataclass(frozen=True)
class FeedPage:
    entries: list[ReleaseErratum]
    # The seq to pass as ``after`` next time: the last entry's, or ``after`` itself
    # when there was nothing new (so a poller can always store it).
    next_cursor: int
    has_more: bool


def feed_page(*, licensee_id: int, after: int = 0, limit: int = DEFAULT_LIMIT) -> FeedPage:
    """Errata after ``after`` of every release ever licensed to the licensee, oldest
    first, at most ``limit`` (one query)."""
    limit = max(1, min(limit, MAX_LIMIT))
    held = Release.objects.filter(licenses__licensee_id=licensee_id).values("pk")
    rows = list(
        ReleaseErratum.objects.filter(seq__gt=after, release__in=held)
        .select_related("release__dataset")
        .order_by("seq")[: limit + 1]
    )
    entries = rows[:limit]
    next_cursor = entries[-1].seq if entries and entries[-1].seq is not None else after
    return FeedPage(entries=entries, next_cursor=next_cursor, has_more=len(rows) > limit)
