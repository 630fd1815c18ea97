"""Read-replica routing for the heavy read paths (manifests, eligibility exports).

Only code that asks for it reads from the replica: ``with replica_reads(): …``. The
consent rules are decided on the primary (a withdrawal must be seen at once), so the
default stays there; a replica serves bulk reads where seconds of lag are acceptable and
documented (a withdrawal also reaches builders through the withdrawal feed)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.conf import settings

REPLICA = "replica"
_use_replica: ContextVar[bool] = ContextVar("use_replica", default=False)


def read_alias() -> str:
    """The alias reads should use right now."""
    return REPLICA if _use_replica.get() and REPLICA in settings.DATABASES else "default"


@contextmanager
def replica_reads() -> Iterator[str]:
    """Route reads inside the block to the replica (when one is configured)."""
    token = _use_replica.set(True)
    try:
        yield read_alias()
    finally:
        _use_replica.reset(token)


class ReadReplicaRouter:
    def db_for_read(self, model: Any, **hints: Any) -> str | None:
        return REPLICA if read_alias() == REPLICA else None

    def db_for_write(self, model: Any, **hints: Any) -> str | None:
        return "default"

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool | None:
        return True  # the replica holds the same rows

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool | None:
        return db == "default"
