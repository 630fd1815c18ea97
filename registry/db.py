"""Database session helpers for the places that need them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connections, transaction


@contextmanager
def without_parallel_workers(using: str = "default") -> Iterator[None]:
    """Run the block in a transaction whose queries get no PostgreSQL parallel workers.

    For short keyset pages over millions of rows: the planner picks a parallel index
    walk whose workers cost more to start than the page takes (an eligibility page at
    6M tracks: 13 ms with 2 workers, 4 ms without, and a third of the CPU). Bulk reads
    (manifests, exports, card figures) keep them."""
    with transaction.atomic(using=using), connections[using].cursor() as cursor:
        cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0")
        yield
