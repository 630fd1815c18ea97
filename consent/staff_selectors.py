"""Reads for compliance staff over the API: find one speaker exactly (through the email
blind index, never by decrypting the table), their consent history and current states,
how far each of their withdrawals has travelled, and the event log of a period streamed
out of PostgreSQL.

Only the lookup returns personal data; everything else names speakers by public id."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Collection, Iterable

from django.db.models import F, QuerySet

from consent.models import Consent, ConsentEvent
from consent.selectors import needs_reconsent
from registry.errors import NotFound
from registry.models import Speaker
from registry.selectors import get_speaker_by_email

# One row of the event log as staff see it (the API and both export formats): ids,
# the act, the notice shown and the chain links. No IP or user-agent digests, no actor
# reference, no signed name: the speaker is named by public id only.
EVENT_COLUMNS = {
    "seq": "seq",
    "id": "public_id",
    "speaker": "speaker__public_id",
    "purpose": "purpose",
    "action": "action",
    "state": "state",
    "notice_id": "notice__public_id",
    "notice_version": "notice__version",
    "notice_language": "notice_language",
    "jurisdiction": "jurisdiction",
    "evidence_method": "evidence_method",
    "actor_kind": "actor_kind",
    "occurred_at": "occurred_at",
    "recorded_at": "recorded_at",
    "expires_at": "expires_at",
    "session": "session__public_id",
    "hash": "hash",
    "prev_hash": "prev_hash",
}
_TIMESTAMPS = ("occurred_at", "recorded_at", "expires_at")
_OWN_COLUMNS = [path for path in EVENT_COLUMNS.values() if "__" not in path]


def get_speaker_for_staff(*, public_id: uuid.UUID | str) -> Speaker:
    """The speaker with this public id, personal data left encrypted (deferred); NotFound
    otherwise."""
    speaker = (
        Speaker.objects.only("id", "public_id", "jurisdiction", "erased_at")
        .filter(public_id=public_id)
        .first()
    )
    if speaker is None:
        raise NotFound("no such speaker")
    return speaker


def find_speakers(*, email: str | None = None, public_id: uuid.UUID | None = None) -> list[Speaker]:
    """The speaker (zero or one) with exactly this email or public id.

    An email is matched only through its blind index (``registry.pii`` normalises it:
    NFKC, trimmed, case-folded), so one row is read and decrypted, never the table, and
    there is no partial match."""
    if email is not None:
        found = get_speaker_by_email(email=email)
    elif public_id is not None:
        found = Speaker.objects.filter(public_id=public_id).first()
    else:
        found = None
    return [found] if found is not None else []


def _event_rows() -> QuerySet[ConsentEvent]:
    """Events with the related ids staff see as ``x_<column>`` annotations: joins to
    the notice and session for their public ids, none to the speaker's personal data."""
    related = {name: path for name, path in EVENT_COLUMNS.items() if "__" in path}
    return ConsentEvent.objects.only(*_OWN_COLUMNS).annotate(
        **{f"x_{name}": F(path) for name, path in related.items()}
    )


def speaker_events(*, speaker: Speaker) -> QuerySet[ConsentEvent]:
    """The speaker's consent events in chain (seq) order."""
    return _event_rows().filter(speaker_id=speaker.pk).order_by("seq")


def speaker_consents(*, speaker: Speaker) -> QuerySet[Consent]:
    """The speaker's current consent states: one per purpose for all recordings, and one
    per purpose and recording session where consent was given for one call."""
    return (
        Consent.objects.filter(speaker_id=speaker.pk)
        .select_related("notice", "session", "recording", "last_event")
        .order_by("id")
    )


def reconsent_by_notice(consents: Iterable[Consent]) -> dict[int, bool]:
    """Whether valid consents given under each notice must be asked again
    (``consent.selectors.needs_reconsent``, asked once per notice, not per consent)."""
    flags: dict[int, bool] = {}
    for consent in consents:
        if consent.is_valid and consent.notice_id not in flags:
            flags[consent.notice_id] = needs_reconsent(consent)
    return flags


# --- The event log of a period, streamed -----------------------------------------------

EXPORT_FORMATS = ("csv", "jsonl")


def _export_rows(
    *,
    start: datetime.datetime,
    end: datetime.datetime,
    jurisdiction: str | None,
    purpose: str | None,
) -> tuple[str, tuple[object, ...]]:
    """The SQL (and parameters) of the period's events with every column as ``x_<name>``."""
    rows = ConsentEvent.objects.filter(occurred_at__gte=start, occurred_at__lt=end)
    if jurisdiction:
        rows = rows.filter(jurisdiction=jurisdiction)
    if purpose:
        rows = rows.filter(purpose=purpose)
    queryset = (
        rows.annotate(**{f"x_{name}": F(path) for name, path in EVENT_COLUMNS.items()})
        .values(*(f"x_{name}" for name in EVENT_COLUMNS))
        .order_by()
    )
    sql, params = queryset.query.sql_with_params()
    return sql, tuple(params)


def copy_column(name: str, timestamps: Collection[str]) -> str:
    """Column ``x_<name>`` of a COPY over an annotated query (alias ``t``); timestamps as
    RFC 3339 in UTC with microseconds, the same text in CSV and JSON lines (PostgreSQL
    would otherwise write "2025-01-01 12:00:00+00" in CSV). The API and admin exports
    both use it."""
    if name in timestamps:
        return f"""to_char(t.x_{name} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""
    return f"t.x_{name}"


def _column(name: str) -> str:
    return copy_column(name, _TIMESTAMPS)


def events_export_statement(
    *,
    start: datetime.datetime,
    end: datetime.datetime,
    fmt: str,
    jurisdiction: str | None = None,
    purpose: str | None = None,
) -> tuple[str, tuple[object, ...]]:
    """``COPY (…) TO STDOUT`` of the events that occurred in [start, end), optionally of
    one jurisdiction and purpose, in seq order: CSV with a header, or one JSON object per
    line shaped like the API's event (the notice nested)."""
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"unknown export format {fmt!r}")
    sql, params = _export_rows(start=start, end=end, jurisdiction=jurisdiction, purpose=purpose)
    if fmt == "csv":
        columns = ", ".join(f"{_column(name)} AS {name}" for name in EVENT_COLUMNS)
        select = f"SELECT {columns} FROM ({sql}) AS t ORDER BY t.x_seq"  # noqa: S608
        return f"COPY ({select}) TO STDOUT WITH (FORMAT csv, HEADER true)", params
    notice = ("notice_id", "notice_version", "notice_language")
    pairs = []
    for name in EVENT_COLUMNS:
        if name == "notice_id":
            inner = ", ".join(f"'{n.removeprefix('notice_')}', {_column(n)}" for n in notice)
            pairs.append(f"'notice', json_build_object({inner})")
        elif name not in notice:
            pairs.append(f"'{name}', {_column(name)}")
    # Text-format COPY escapes backslashes; no exported value can hold one (ids, hex
    # digests, choices, codes checked by constraints, timestamps).
    select = f"SELECT json_build_object({', '.join(pairs)}) FROM ({sql}) AS t ORDER BY t.x_seq"  # noqa: S608
    return f"COPY ({select}) TO STDOUT", params
