"""Re-encryption of personal data after a PII key rotation (``manage.py rotate_pii_keys``).

Covers every encrypted column of every installed model (found through the field
classes, so a new app's encrypted field is rotated without touching this code), and
rebuilds blind indexes declared on a model as ``BLIND_INDEXES = {index_column:
source_column}`` under the current blind-index key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.db import connection, transaction

from registry import pii
from registry.errors import InvalidInput
from registry.fields import EncryptedDateField, EncryptedTextField


@dataclass(frozen=True)
class EncryptedTable:
    table: str
    pk: str
    columns: tuple[str, ...]
    blind_indexes: tuple[tuple[str, str], ...]  # (index column, source column)

    def count(self) -> int:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM {self.table}")  # noqa: S608 - our tables
            return int(cursor.fetchone()[0])


def encrypted_tables() -> Iterator[EncryptedTable]:
    for model in apps.get_models():
        fields = [
            f
            for f in model._meta.concrete_fields
            if isinstance(f, EncryptedTextField | EncryptedDateField)
        ]
        if not fields:
            continue
        column_of = {f.name: str(f.column) for f in model._meta.concrete_fields}
        indexes = getattr(model, "BLIND_INDEXES", {})
        yield EncryptedTable(
            table=model._meta.db_table,
            pk=str(model._meta.pk.column),
            columns=tuple(str(f.column) for f in fields),
            blind_indexes=tuple((column_of[i], column_of[s]) for i, s in indexes.items()),
        )


@dataclass
class PiiRotationResult:
    tables: int = 0
    rows_examined: int = 0
    rows_rewritten: int = 0
    values_reencrypted: int = 0


def _rotate_batch(
    table: EncryptedTable, rows: list[tuple[Any, ...]], result: PiiRotationResult
) -> list[tuple[Any, ...]]:
    updates = []
    width = len(table.columns)
    for row in rows:
        pk, tokens, old_indexes = row[0], row[1 : 1 + width], row[1 + width :]
        new_tokens, changed = [], 0
        for token in tokens:
            if token is None or pii.is_encrypted_with_primary_key(str(token)):
                new_tokens.append(token)
            else:
                new_tokens.append(pii.reencrypt(str(token)))
                changed += 1
        new_indexes = []
        for _index_column, source_column in table.blind_indexes:
            source = tokens[table.columns.index(source_column)]
            new_indexes.append(pii.email_blind_index(pii.decrypt(str(source))) if source else None)
        if changed or tuple(new_indexes) != tuple(old_indexes):
            updates.append((*new_tokens, *new_indexes, pk))
            result.values_reencrypted += changed
        result.rows_examined += 1
    return updates


def rotate_pii_keys(
    *, batch_size: int = 500, on_batch: Callable[[int], object] | None = None
) -> PiiRotationResult:
    """Re-encrypt all personal data under the primary key; rebuild blind indexes.

    Works in batches, each its own transaction with its rows locked, so it can run
    while the service is live and be interrupted and resumed; values already under the
    primary key are left alone, so a second run rewrites nothing.
    """
    if batch_size < 1:
        raise InvalidInput("batch_size must be positive", field="batch_size")
    result = PiiRotationResult()
    for table in encrypted_tables():
        result.tables += 1
        index_columns = [index for index, _ in table.blind_indexes]
        selected = ", ".join([table.pk, *table.columns, *index_columns])
        assignments = ", ".join(f"{c} = %s" for c in (*table.columns, *index_columns))
        last = None
        while True:
            with transaction.atomic(), connection.cursor() as cursor:
                where = f"WHERE {table.pk} > %s " if last is not None else ""
                cursor.execute(
                    f"SELECT {selected} FROM {table.table} {where}"  # noqa: S608 - our tables
                    f"ORDER BY {table.pk} LIMIT %s FOR UPDATE",
                    [*([last] if last is not None else []), batch_size],
                )
                rows = cursor.fetchall()
                if not rows:
                    break
                updates = _rotate_batch(table, rows, result)
                if updates:
                    cursor.executemany(
                        f"UPDATE {table.table} SET {assignments} "  # noqa: S608
                        f"WHERE {table.pk} = %s",
                        updates,
                    )
                    result.rows_rewritten += len(updates)
                last = rows[-1][0]
            if on_batch:
                on_batch(len(rows))
    return result
