"""A realistic synthetic corpus at production scale, loaded with PostgreSQL COPY.

``manage.py generate_corpus --recordings N --seed S`` writes speakers (reused with a
long-tail distribution), two-channel recordings and their tracks, a consent history
per speaker (requests, grants, refusals, ~5 % withdrawals, a few expired biometric
consents) and the derived consent states, for mixed jurisdictions and languages.

Bulk loading bypasses the row triggers (``session_replication_role = replica``), so
this module does what they would: it assigns ids from the sequences, links every event
into the hash chain with the same serialisation as ``consent_event_digest_input`` (a
JSON array; see migration 0002 — ``verify_audit_chain`` proves they agree) and checks the
track coverage invariant with one set-based query before committing. Deterministic for
a seed: the same seed on an empty database gives the same rows.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from consent import demo
from consent.models import ChainHead, ConsentNotice, JurisdictionRule, Purpose
from registry import pii

GENESIS = "0" * 64
PLACES = [  # (jurisdiction, language, notice jurisdiction, weight)
    ("US-CA", "en", "US", 25),
    ("US-NY", "en", "US", 15),
    ("US-IL", "en", "US", 10),
    ("US-TX", "en", "US", 10),
    ("DE", "de", "EU", 15),
    ("FR", "fr", "EU", 10),
    ("JP", "ja", "JP", 15),
]
# Share of speakers who give each purpose (the rest refuse when asked).
GIVE_RATE: dict[str, float] = {
    Purpose.RECORDING: 1.0,
    Purpose.TRAINING: 0.95,
    Purpose.REDISTRIBUTION: 0.7,
    Purpose.BIOMETRIC: 0.15,
    Purpose.LIKENESS: 0.1,
}
WITHDRAWAL_RATE = 0.05
BIPA_DAYS = 1095
BATCH = 20_000


def _ts(value: object) -> str | None:
    """A UTC timestamp as the chain serialises it (to_char … 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')."""
    if not isinstance(value, datetime.datetime):
        return None
    return value.astimezone(datetime.UTC).isoformat(timespec="microseconds")[:-6] + "Z"


def jsonb_order(item: object) -> object:
    """``item`` with every object's keys in jsonb order: by length, then bytes."""
    if isinstance(item, dict):
        return {k: jsonb_order(item[k]) for k in sorted(item, key=lambda k: (len(k.encode()), k))}
    if isinstance(item, list):
        return [jsonb_order(i) for i in item]
    return item


def jsonb_text(value: object) -> str:
    """``value`` as PostgreSQL prints jsonb: ", " and ": " separators, object keys
    ordered by length then bytes, non-ASCII kept."""
    return json.dumps(jsonb_order(value), ensure_ascii=False)


NULL = "\\N"  # COPY text format's NULL


def _copy(table: str, columns: list[str], rows: Iterator[tuple[object, ...]]) -> int:
    """COPY rows in text format. Values are generated here and never contain a tab, a
    newline or a backslash, so ``str()`` of each is already valid COPY text (use NULL
    for NULL); this keeps the per-row cost in C."""
    count = 0
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
    ):
        lines: list[str] = []
        for row in rows:
            lines.append("\t".join(map(str, row)))
            if len(lines) >= BATCH:
                copy.write("\n".join(lines) + "\n")
                count += len(lines)
                lines.clear()
        if lines:
            copy.write("\n".join(lines) + "\n")
            count += len(lines)
    return count


def _uuid(rng: random.Random) -> str:
    digits = f"{rng.getrandbits(128):032x}"
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


def _reserve(table: str, count: int) -> int:
    """Take ``count`` ids from the table's sequence; returns the first."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
        sequence = cursor.fetchone()[0]
        cursor.execute("SELECT nextval(%s)", [sequence])
        first = int(cursor.fetchone()[0])
        cursor.execute("SELECT setval(%s, %s)", [sequence, first + max(count, 1) - 1])
    return first


@dataclass
class CorpusStats:
    speakers: int = 0
    recordings: int = 0
    tracks: int = 0
    events: int = 0
    consents: int = 0
    withdrawals: int = 0
    expired: int = 0
    hubs: dict[int, int] = field(default_factory=dict)


def generate_corpus(
    *,
    recordings: int,
    seed: int = 1,
    hub_recordings: tuple[int, ...] = (),
    progress: Callable[[str, int], object] | None = None,
) -> CorpusStats:
    """Load ``recordings`` two-channel recordings with ~N/3 speakers and their consent
    history. ``hub_recordings`` adds one speaker per entry who is on that many calls."""
    if recordings < 1:
        raise ValueError("recordings must be positive")
    tick = progress or (lambda stage, n: None)
    stats = CorpusStats()
    demo.publish_demo_notices()
    notices = {
        (n.purpose, n.jurisdiction_id, n.language): n
        for n in ConsentNotice.objects.filter(status="active").order_by("version")
    }
    rules: dict[tuple[str, str], list[dict[str, object]]] = {}
    for rule in JurisdictionRule.objects.all():
        ordered = jsonb_order(
            {"id": rule.pk, "jurisdiction": rule.jurisdiction_id, "citation": rule.citation}
        )
        rules.setdefault((rule.jurisdiction_id, rule.purpose), []).append(ordered)  # type: ignore[arg-type]
    names = [pii.encrypt(f"Synthetic Speaker {i}") for i in range(256)]
    rules_json: dict[tuple[str, str], str] = {}
    now = timezone.now().replace(microsecond=0)
    start = now - datetime.timedelta(days=4 * 365)

    n_speakers = max(2, recordings // 3) + len(hub_recordings)
    # Seeded by the seed and where the ids start: reproducible on a fresh database, and
    # a second load into the same database gets fresh public ids.
    speaker0 = _reserve("registry_speaker", n_speakers)
    rng = random.Random(f"{seed}-{speaker0}")
    weights = [w for *_, w in PLACES]
    places = rng.choices(range(len(PLACES)), weights=weights, k=n_speakers)
    first_seen = [
        start + datetime.timedelta(seconds=rng.randrange(3 * 365 * 86400))
        for _ in range(n_speakers)
    ]

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        rebuild = _drop_secondary_indexes_if_empty(cursor)
        stats.speakers = _copy(
            "registry_speaker",
            [
                "id",
                "public_id",
                "name",
                "jurisdiction",
                "preferred_language",
                "age_verification_method",
                "age_attested_minimum",
                "age_verified_at",
                "created_at",
                "updated_at",
            ],
            (
                (
                    speaker0 + i,
                    _uuid(rng),
                    names[i % len(names)],
                    PLACES[places[i]][0],
                    PLACES[places[i]][1],
                    "platform_attestation",
                    18,
                    first_seen[i],
                    first_seen[i],
                    first_seen[i],
                )
                for i in range(n_speakers)
            ),
        )
        tick("speakers", stats.speakers)

        # Calls: each pairs two speakers drawn from a long tail (a few speak a lot).
        regular = n_speakers - len(hub_recordings)
        pairs: list[tuple[int, int]] = []
        hub_plan = [
            h
            for hub in range(len(hub_recordings))
            for h in [regular + hub] * min(hub_recordings[hub], recordings)
        ]
        for r in range(recordings):
            a = hub_plan[r] if r < len(hub_plan) else int(regular * rng.random() ** 3)
            b = int(regular * rng.random() ** 3)
            while b == a:
                b = rng.randrange(regular)
            pairs.append((a, b))
        for hub, count in enumerate(hub_recordings):
            stats.hubs[speaker0 + regular + hub] = min(count, recordings)
        recording0 = _reserve("registry_recording", recordings)
        recorded_at = [
            min(
                now,
                max(first_seen[a], first_seen[b])
                + datetime.timedelta(minutes=1 + rng.randrange(200 * 1440)),
            )
            for a, b in pairs
        ]
        durations = [rng.randint(4 * 60_000, 20 * 60_000) for _ in range(recordings)]
        rates = rng.choices([16_000, 24_000, 48_000], weights=[5, 2, 3], k=recordings)
        prefix = f"corpus-{seed}-{recording0}"
        stats.recordings = _copy(
            "registry_recording",
            [
                "id",
                "public_id",
                "external_ref",
                "recorded_at",
                "duration_ms",
                "sample_rate_hz",
                "channel_count",
                "isolated_at_source",
                "language",
                "jurisdiction",
                "audio_uri",
                "audio_sha256",
                "status",
                "created_at",
                "updated_at",
            ],
            (
                (
                    recording0 + r,
                    _uuid(rng),
                    f"{prefix}-{r}",
                    recorded_at[r],
                    durations[r],
                    rates[r],
                    2,
                    r % 20 != 0,
                    PLACES[places[pairs[r][0]]][1],
                    PLACES[places[pairs[r][0]]][0],
                    f"s3://corpus/{prefix}-{r}.flac",
                    hashlib.sha256(f"{prefix}-{r}".encode()).hexdigest(),
                    "available",
                    now,
                    now,
                )
                for r in range(recordings)
            ),
        )
        tick("recordings", stats.recordings)
        track0 = _reserve("registry_track", 2 * recordings)
        stats.tracks = _copy(
            "registry_track",
            [
                "id",
                "public_id",
                "recording_id",
                "channel",
                "speaker_id",
                "audio_name",
                "audio_sha256",
                "created_at",
            ],
            (
                (
                    track0 + 2 * r + c,
                    _uuid(rng),
                    recording0 + r,
                    c,
                    speaker0 + pairs[r][c],
                    "",  # the corpus has no per-channel audio objects
                    "",
                    now,
                )
                for r in range(recordings)
                for c in (0, 1)
            ),
        )
        tick("tracks", stats.tracks)

        head = ChainHead.objects.filter(pk=1).first()
        seq, prev = (head.seq, head.hash) if head else (0, GENESIS)
        event_rows: list[tuple[object, ...]] = []
        consent_rows: list[tuple[object, ...]] = []
        # Ids are known only once every speaker's history is planned; reserve generously.
        plans = []
        for i in range(n_speakers):
            jurisdiction, language, notice_place, _ = PLACES[places[i]]
            plans.append((i, jurisdiction, language, notice_place))
        per_speaker = 3 * len(Purpose.values)  # request, answer, withdrawal or expiry
        event0 = _reserve("consent_consentevent", n_speakers * per_speaker)
        consent0 = _reserve("consent_consent", n_speakers * len(Purpose.values))
        event_id, consent_id = event0, consent0
        for i, jurisdiction, language, notice_place in plans:
            t = first_seen[i]
            for purpose in Purpose.values:
                notice = notices[(purpose, notice_place, language)]
                applied = rules.get((jurisdiction, purpose), []) + rules.get(
                    (jurisdiction.split("-")[0], purpose), []
                )
                history = [("request", "requested", "system", "platform")]
                gives = rng.random() < GIVE_RATE[purpose]
                history.append(
                    ("give", "given", "web_form_signed", "speaker")
                    if gives
                    else ("refuse", "refused", "web_form", "speaker")
                )
                expires = None
                if gives and purpose == Purpose.BIOMETRIC and jurisdiction == "US-IL":
                    expires = t + datetime.timedelta(days=BIPA_DAYS, seconds=3)
                    if expires <= now:
                        history.append(("expire", "expired", "system", "system"))
                if (
                    gives
                    and purpose in (Purpose.TRAINING, Purpose.REDISTRIBUTION)
                    and (rng.random() < WITHDRAWAL_RATE)
                ):
                    history.append(("withdraw", "withdrawn", "web_form", "speaker"))
                given_at = None
                rules_text = rules_json.setdefault(
                    (jurisdiction, purpose), json.dumps(applied, ensure_ascii=False)
                )
                for step, (action, state, method, actor) in enumerate(history):
                    t = t + datetime.timedelta(seconds=1 + step)
                    occurred = expires if action == "expire" and expires else t
                    seq += 1
                    at = _ts(occurred)
                    until = _ts(expires) if action in ("give", "expire") else None
                    applied_text = rules_text if action == "give" else "[]"
                    evidence = (
                        hashlib.sha256(str(seq).encode()).hexdigest()
                        if method == "web_form_signed"
                        else ""
                    )
                    public_id = _uuid(rng)
                    # The chain's serialisation, field by field (see event_digest_input).
                    digest_input = (
                        f'[{seq}, "{public_id}", {speaker0 + i}, "{purpose}", "{action}", '
                        f'"{state}", null, {notice.pk}, "{notice.language}", '
                        f'"{notice.text_sha256}", "{jurisdiction}", {applied_text}, "{method}", '
                        f'"{evidence}", "{actor}", "", "", "", "{at}", "{at}", '
                        f'{f"{chr(34)}{until}{chr(34)}" if until else "null"}, "{prev}"]'
                    )
                    digest = hashlib.sha256(digest_input.encode()).hexdigest()
                    event_rows.append(
                        (
                            event_id,
                            public_id,
                            seq,
                            speaker0 + i,
                            purpose,
                            action,
                            state,
                            NULL,
                            notice.pk,
                            notice.language,
                            notice.text_sha256,
                            jurisdiction,
                            applied_text,
                            method,
                            evidence,
                            actor,
                            "",
                            "",
                            "",
                            at,
                            at,
                            until or NULL,
                            prev,
                            digest,
                        )
                    )
                    prev = digest
                    if action == "give":
                        given_at = occurred
                    stats.withdrawals += action == "withdraw"
                    stats.expired += action == "expire"
                    last_event, last_state, last_at = event_id, state, occurred
                    event_id += 1
                consent_rows.append(
                    (
                        consent_id,
                        speaker0 + i,
                        purpose,
                        NULL,
                        NULL,
                        last_state,
                        notice.pk,
                        given_at
                        if given_at and last_state in ("given", "renewed", "withdrawn", "expired")
                        else NULL,
                        last_at,
                        expires or NULL,
                        last_event,
                    )
                )
                consent_id += 1
            if len(event_rows) >= BATCH * 5:
                stats.events += _flush_events(event_rows)
                tick("events", stats.events)
        stats.events += _flush_events(event_rows)
        stats.consents = _copy(
            "consent_consent",
            [
                "id",
                "speaker_id",
                "purpose",
                "session_id",
                "recording_id",
                "state",
                "notice_id",
                "given_at",
                "state_since",
                "expires_at",
                "last_event_id",
            ],
            iter(consent_rows),
        )
        tick("consents", stats.consents)
        cursor.execute(
            "INSERT INTO consent_chainhead (id, seq, hash) VALUES (1, %s, %s) "
            "ON CONFLICT (id) DO UPDATE SET seq = EXCLUDED.seq, hash = EXCLUDED.hash",
            [seq, prev],
        )
        if rebuild:
            tick("indexes", 0)
            cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
            for statement in rebuild:
                cursor.execute(statement)
            tick("indexes", len(rebuild))
        _check_loaded(recording0, recordings)
    # Fresh statistics, or the planner plans for the empty tables it last saw (e.g. a
    # hash join over every speaker to explain one recording).
    with connection.cursor() as cursor:
        for table in BULK_TABLES:
            cursor.execute(f"ANALYZE {table}")
    tick("analyzed", len(BULK_TABLES))
    return stats


BULK_TABLES = (
    "registry_speaker",
    "registry_recording",
    "registry_track",
    "consent_consentevent",
    "consent_consent",
)


def _drop_secondary_indexes_if_empty(cursor: object) -> list[str]:
    """On a first load into empty tables, building each index once after the COPY is
    several times faster than maintaining it row by row. Returns the statements that
    rebuild what was dropped (same names, same definitions), run before commit."""
    cur: Any = cursor
    cur.execute(
        "SELECT bool_and(NOT EXISTS (SELECT 1 FROM registry_speaker)) "
        "AND NOT EXISTS (SELECT 1 FROM consent_consentevent)"
    )
    if not cur.fetchone()[0]:
        return []
    rebuild: list[str] = []
    for table in BULK_TABLES:
        cur.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = %s::regclass AND contype = 'u'",
            [table],
        )
        constraints = cur.fetchall()
        for name, definition in constraints:
            cur.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
            rebuild.append(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        cur.execute(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i "
            "WHERE i.tablename = %s AND i.indexname NOT IN "
            "(SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass)",
            [table, table],
        )
        for name, definition in cur.fetchall():
            cur.execute(f'DROP INDEX "{name}"')
            rebuild.append(definition)
    return rebuild


EVENT_COLUMNS = [
    "id",
    "public_id",
    "seq",
    "speaker_id",
    "purpose",
    "action",
    "state",
    "session_id",
    "notice_id",
    "notice_language",
    "notice_sha256",
    "jurisdiction",
    "rules_applied",
    "evidence_method",
    "evidence_sha256",
    "actor_kind",
    "actor_ref",
    "ip_hash",
    "user_agent_hash",
    "occurred_at",
    "recorded_at",
    "expires_at",
    "prev_hash",
    "hash",
]


def _flush_events(rows: list[tuple[object, ...]]) -> int:
    count = _copy("consent_consentevent", EVENT_COLUMNS, iter(rows))
    rows.clear()
    return count


def _check_loaded(recording0: int, recordings: int) -> None:
    """The invariants the bypassed triggers enforce, checked once, set-based."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT count(*) FROM registry_recording r
            WHERE r.id BETWEEN %s AND %s AND r.channel_count <> (
                SELECT count(*) FROM registry_track t
                WHERE t.recording_id = r.id AND t.channel < r.channel_count)
            """,
            [recording0, recording0 + recordings - 1],
        )
        broken = cursor.fetchone()[0]
    if broken:
        raise RuntimeError(f"{broken} generated recordings do not cover their channels")
