"""Hostile input shared by the bad-input pass (tests/security): strings a speaker, staff
member or API client may send, values of the wrong JSON type, and a guard that proves a
refused request changed nothing in the database."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction

# --- Strings ---------------------------------------------------------------------------

# Only representable in a JSON text as an escape ("\ud800"): UTF-8 cannot carry it.
LONE_SURROGATE = "a\ud800b"
XSS = {
    "script": "<script>alert(1)</script>",
    "attribute_break": '"><img src=x onerror=alert(1)>',
    "javascript_url": "javascript:alert(1)",
    "svg": "<svg/onload=alert(1)>",
    "single_quote_break": "'><a href=javascript:alert(1)>x</a>",
}
SQL = {
    "or_true": "' OR '1'='1",
    "drop_table": "x'; DROP TABLE registry_speaker; --",
    "union": "' UNION SELECT password FROM auth_user --",
    "comment": "admin'--",
    "percent_like": "%_%\\",
}
UNICODE = {
    # PostgreSQL text cannot hold NUL: it must be refused before it reaches SQL.
    "nul": "a\x00b",
    "rtl_override": "abc\u202eexe.txt",
    "zero_width": "a\u200bb\u200dc\ufeff",
    "emoji_4_byte": "🎙️👩🏽‍🚀𝕏",
    # NFKC changes these: fullwidth letters, a ligature, the Kelvin and Ångström signs.
    "nfkc_changes": "ＡＢＣ ﬁ \u212a \u212b",
    "combining": "e\u0301\u0301\u0301",
    "cjk": "録音への同意",
    "newlines": "line1\r\nline2\u2028line3",
    "very_long": "x" * 100_000,
}
HOSTILE_STRINGS: dict[str, str] = {**XSS, **SQL, **UNICODE}
# For JSON members (no HTML is rendered from them here; test_escaping.py covers pages):
# one script, the SQL that matters, every unicode case, and what JSON alone can carry.
HOSTILE_JSON_TEXT: dict[str, str] = {
    "script": XSS["script"],
    **{name: SQL[name] for name in ("or_true", "drop_table", "percent_like")},
    **UNICODE,
    "lone_surrogate": LONE_SURROGATE,
}
# One of each kind, for places tried many times over (every query parameter, header).
HOSTILE_SAMPLE: dict[str, str] = {
    "script": XSS["script"],
    "attribute_break": XSS["attribute_break"],
    "or_true": SQL["or_true"],
    "percent_like": SQL["percent_like"],
    "nul": UNICODE["nul"],
    "unicode_mix": "ＡＢＣ\u202e\u200b🎙️ﬁ\u212a e\u0301",
    "very_long": "x" * 10_000,
}


def json_body(value: Any) -> bytes:
    """JSON as a client sends it: non-ASCII escaped, so lone surrogates survive."""
    return json.dumps(value, ensure_ascii=True).encode()


# --- Wrong JSON types ------------------------------------------------------------------

SAMPLES: dict[str, Any] = {
    "string": "text",
    "number": 7,
    "boolean": True,
    "null": None,
    "object": {"$gt": ""},
    "array": ["a", 1],
}
SCHEMA_KINDS = {"integer": "number", "number": "number"}


def json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "object"
    return "array"


def wrong_types(value: Any, schema: dict[str, Any] | None = None) -> Iterator[tuple[str, Any]]:
    """Values of every JSON type but the one the schema declares (else ``value``'s);
    null is wrong only where the schema does not allow it."""
    schema = schema or {}
    declared = schema.get("type")
    kind = SCHEMA_KINDS.get(declared, declared) if declared else json_kind(value)
    for name, sample in SAMPLES.items():
        if name == kind or (name == "null" and schema.get("nullable")):
            continue
        yield name, sample


# --- Database state --------------------------------------------------------------------

# Not state a request may be refused for changing: the test client's own session (messages
# live there) and when a token was last used (written at most once a minute).
IGNORED_TABLES = {"django_session"}
IGNORED_COLUMNS = {("registry_apitoken", "last_used_at")}


_DIGEST_SQL: dict[str, str] = {}


def _digest_sql() -> dict[str, str]:
    """Per table: its row count and a checksum of every row (built once per process)."""
    if _DIGEST_SQL:
        return _DIGEST_SQL
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.table_name, c.column_name
            FROM information_schema.columns c
            JOIN information_schema.tables t
              ON t.table_schema = c.table_schema AND t.table_name = c.table_name
            WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'
            ORDER BY c.table_name, c.ordinal_position
            """
        )
        columns: dict[str, list[str]] = {}
        for table, column in cursor.fetchall():
            if table not in IGNORED_TABLES and (table, column) not in IGNORED_COLUMNS:
                columns.setdefault(table, []).append(column)
    for table, names in columns.items():
        row = "ROW(" + ", ".join(connection.ops.quote_name(n) for n in names) + ")::text"
        _DIGEST_SQL[table] = (
            f"SELECT '{table}', count(*), "  # names from the catalogue, quoted
            f"md5(coalesce(string_agg(md5({row}), '' ORDER BY md5({row})), '')) "
            f"FROM {connection.ops.quote_name(table)}"
        )
    return _DIGEST_SQL


def table_digests(tables: set[str] | None = None) -> dict[str, tuple[int, str]]:
    """Row count and a checksum of all rows, per table (all tables, or these)."""
    statements = [sql for table, sql in _digest_sql().items() if tables is None or table in tables]
    if not statements:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(statements))
        return {table: (count, digest) for table, count, digest in cursor.fetchall()}


def _writes_per_table() -> dict[str, int]:
    """Rows inserted, updated or deleted so far in this transaction, per table (rolled-
    back savepoints included): cheap, so only the tables written to are checksummed."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_xact_user_tables "
            "WHERE n_tup_ins + n_tup_upd + n_tup_del > 0"
        )
        return {table: int(count) for table, count in cursor.fetchall()}


@dataclass
class StateGuard:
    """Tells whether the database changed since the last ``accept()``.

    Tests run inside one transaction, so PostgreSQL's per-transaction counters show
    which tables a request tried to write; only those are checksummed and compared."""

    digests: dict[str, tuple[int, str]] = field(default_factory=dict)
    writes: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.digests = table_digests()
        self.writes = _writes_per_table()

    def _written(self) -> tuple[dict[str, int], set[str]]:
        writes = _writes_per_table()
        moved = {t for t, n in writes.items() if self.writes.get(t) != n}
        return writes, moved & _digest_sql().keys()

    def accept(self) -> None:
        """The current state is the new reference (after a request that may write)."""
        writes, moved = self._written()
        self.digests.update(table_digests(moved))
        self.writes = writes

    catch_up = accept  # what set-up wrote between requests is not a request's doing

    def changed_tables(self) -> list[str]:
        """Tables whose rows differ from the reference (none when nothing was written)."""
        writes, moved = self._written()
        if not moved:
            return []
        now = table_digests(moved)
        changed = sorted(t for t in moved if now.get(t) != self.digests.get(t))
        if not changed:
            self.writes = writes  # written and rolled back: the reference still holds
        return changed


@contextmanager
def own_savepoint() -> Iterator[None]:
    """One request in a savepoint, so one that fails with an exception leaves the test's
    transaction usable. Marked as TestCase marks its own blocks, so the services'
    durable blocks may still open inside."""
    block = transaction.atomic()
    block._from_testcase = True
    with block:
        yield


@dataclass
class Findings:
    """What a pass found, gathered so one run reports every endpoint at fault."""

    problems: list[str] = field(default_factory=list)

    def add(self, where: str, what: str) -> None:
        self.problems.append(f"{where}: {what}")

    def check(self) -> None:
        shown = "\n".join(self.problems[:60])
        more = f"\n… and {len(self.problems) - 60} more" if len(self.problems) > 60 else ""
        assert not self.problems, f"{len(self.problems)} problem(s):\n{shown}{more}"


def short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}…({len(text)} chars)"
