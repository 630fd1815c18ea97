"""Which jurisdiction rules apply to a speaker, for a purpose, at a moment.

Rules are rows (``JurisdictionRule``), read here and nowhere else. Every rule in force
for the speaker's jurisdiction and its parents (US-IL → US, DE → EU) applies at once,
and where they differ the strictest wins: the highest minimum age, the shortest
retention, the intersection of allowed evidence methods.
"""

from __future__ import annotations

import datetime
import functools
from dataclasses import dataclass, field

from django.db.models import Q

from consent.errors import JurisdictionNotSupported
from consent.models import EvidenceMethod, Jurisdiction, JurisdictionRule
from registry.models import MINIMUM_AGE_FLOOR

EXPLICIT_METHODS = frozenset(
    {EvidenceMethod.WEB_FORM_SIGNED, EvidenceMethod.SIGNED_PAPER, EvidenceMethod.SPOKEN_PHRASE}
)
WRITTEN_METHODS = frozenset({EvidenceMethod.WEB_FORM_SIGNED, EvidenceMethod.SIGNED_PAPER})
# What a person can do. SYSTEM only ever records an expiry and REQUEST that someone was
# asked: neither is ever an act (check_evidence_shape refuses both for every act).
AFFIRMATIVE_METHODS = frozenset(
    {
        EvidenceMethod.WEB_FORM,
        EvidenceMethod.WEB_FORM_SIGNED,
        EvidenceMethod.SPOKEN_PHRASE,
        EvidenceMethod.SIGNED_PAPER,
    }
)


@dataclass(frozen=True)
class Requirements:
    """The combined effect of every rule in force."""

    jurisdictions: tuple[str, ...]
    min_age: int = MINIMUM_AGE_FLOOR
    requires_written: bool = False
    requires_explicit: bool = False
    requires_retention_schedule: bool = False
    retention_days: int | None = None
    notice_in_speaker_language: bool = False
    requires_speaker_act: bool = False
    # What the law asks of recording; this product asks every participant regardless.
    all_party_recording_by_law: bool = False
    allowed_methods: frozenset[str] = AFFIRMATIVE_METHODS
    rules: tuple[dict[str, object], ...] = field(default_factory=tuple)


@functools.cache
def _parents() -> dict[str, str | None]:
    """Jurisdiction → parent. Jurisdictions come with migrations and change nowhere else;
    a save or delete through the model (admin, tests) clears this per-process copy (see
    apps.py). A data migration adding a jurisdiction is followed by a restart of web and
    worker processes (every deploy restarts them)."""
    return dict(Jurisdiction.objects.values_list("code", "parent_id"))


def forget_jurisdictions(**_: object) -> None:
    _parents.cache_clear()


def jurisdiction_chain(code: str) -> tuple[str, ...]:
    """The jurisdiction and its parents, most specific first. An unknown subdivision
    falls back to its country (US-WA → US); an unknown country is not supported."""
    known = _parents()
    current: str | None = code if code in known else code.split("-")[0]
    if current not in known:
        raise JurisdictionNotSupported(
            f"no consent rules are defined for jurisdiction {code!r}", field="jurisdiction"
        )
    chain: list[str] = []
    while current is not None and current not in chain:
        chain.append(current)
        current = known.get(current)
    return tuple(chain)


def rules_in_force(
    *, chain: tuple[str, ...], purpose: str, at: datetime.datetime
) -> list[JurisdictionRule]:
    day = at.date()
    return list(
        JurisdictionRule.objects.filter(
            Q(purpose=purpose) | Q(purpose=""),
            jurisdiction_id__in=chain,
            effective_from__lte=day,
        )
        .filter(Q(effective_to__isnull=True) | Q(effective_to__gt=day))
        .order_by("jurisdiction_id", "purpose", "effective_from", "id")
    )


def requirements_for(*, jurisdiction: str, purpose: str, at: datetime.datetime) -> Requirements:
    """Combine every rule in force for ``purpose`` in ``jurisdiction`` at ``at``."""
    chain = jurisdiction_chain(jurisdiction)
    rules = rules_in_force(chain=chain, purpose=purpose, at=at)
    min_age = MINIMUM_AGE_FLOOR
    retention: int | None = None
    allowed: frozenset[str] = AFFIRMATIVE_METHODS
    written = explicit = schedule = own_language = speaker_act = all_party = False
    for rule in rules:
        min_age = max(min_age, rule.min_age or 0)
        if rule.retention_days is not None:
            retention = min(retention or rule.retention_days, rule.retention_days)
        written |= rule.requires_written
        explicit |= rule.requires_explicit
        schedule |= rule.requires_retention_schedule
        own_language |= rule.notice_in_speaker_language
        speaker_act |= rule.requires_speaker_act
        all_party |= bool(rule.all_party_recording)
        if rule.allowed_evidence_methods:
            allowed &= frozenset(rule.allowed_evidence_methods)
    if written:
        allowed &= WRITTEN_METHODS
    if explicit:
        allowed &= EXPLICIT_METHODS
    return Requirements(
        jurisdictions=chain,
        min_age=min_age,
        requires_written=written,
        requires_explicit=explicit,
        requires_retention_schedule=schedule,
        retention_days=retention,
        notice_in_speaker_language=own_language,
        requires_speaker_act=speaker_act,
        all_party_recording_by_law=all_party,
        allowed_methods=allowed,
        rules=tuple(
            {"id": rule.pk, "jurisdiction": rule.jurisdiction_id, "citation": rule.citation}
            for rule in rules
        ),
    )
