"""Consent test set-up: notices for every purpose where the seeded rules apply, and a
one-line way to perform each act."""

from __future__ import annotations

import hashlib

import pytest

from consent import services
from consent.models import ConsentNotice, EvidenceMethod, Purpose
from consent.selectors import current_notice
from registry.models import Speaker

NOTICE_PLACES = [("US", "en"), ("EU", "en"), ("EU", "de"), ("EU", "fr"), ("JP", "ja"), ("JP", "en")]


def publish(purpose: str, jurisdiction: str = "US", language: str = "en", **overrides: str):
    text = {
        "title": f"{purpose} consent ({jurisdiction}, {language})",
        "body": f"We ask for your {purpose} consent. You can withdraw it at any time.",
        "allows": f"Use of your voice for {purpose}.",
        "does_not_allow": "Anything else.",
        "retention_schedule": "Voiceprints are destroyed 3 years after your last session "
        "or when the purpose is met, whichever is first.",
    }
    text.update(overrides)
    return services.publish_notice(
        purpose=purpose, jurisdiction=jurisdiction, language=language, **text
    )


@pytest.fixture
def notices(db) -> dict[tuple[str, str, str], ConsentNotice]:
    return {
        (purpose, jurisdiction, language): publish(purpose, jurisdiction, language)
        for purpose in Purpose.values
        for jurisdiction, language in NOTICE_PLACES
    }


def signed(name: str = "Test Speaker", **kwargs) -> services.Evidence:
    return services.Evidence(method=EvidenceMethod.WEB_FORM_SIGNED, signed_name=name, **kwargs)


def spoken(**kwargs) -> services.Evidence:
    return services.Evidence(
        method=EvidenceMethod.SPOKEN_PHRASE,
        document_sha256=hashlib.sha256(b"I agree").hexdigest(),
        **kwargs,
    )


def give(speaker: Speaker, purpose: str, evidence: services.Evidence | None = None, **kwargs):
    notice = kwargs.pop("notice", None) or current_notice(speaker=speaker, purpose=purpose)
    return services.give_consent(
        speaker=speaker,
        purpose=purpose,
        notice=notice,
        evidence=evidence or signed(),
        actor=services.Actor.of_speaker(speaker),
        **kwargs,
    )


def withdraw(speaker: Speaker, purpose: str, **kwargs):
    return services.withdraw_consent(
        speaker=speaker,
        purpose=purpose,
        evidence=services.Evidence(method=EvidenceMethod.WEB_FORM),
        actor=services.Actor.of_speaker(speaker),
        **kwargs,
    )


def renew(speaker: Speaker, purpose: str, **kwargs):
    notice = kwargs.pop("notice", None) or current_notice(speaker=speaker, purpose=purpose)
    return services.renew_consent(
        speaker=speaker,
        purpose=purpose,
        notice=notice,
        evidence=signed(),
        actor=services.Actor.of_speaker(speaker),
        **kwargs,
    )


def refuse(speaker: Speaker, purpose: str, **kwargs):
    notice = kwargs.pop("notice", None) or current_notice(speaker=speaker, purpose=purpose)
    return services.refuse_consent(
        speaker=speaker,
        purpose=purpose,
        notice=notice,
        evidence=services.Evidence(method=EvidenceMethod.WEB_FORM),
        actor=services.Actor.of_speaker(speaker),
        **kwargs,
    )


def give_all(speaker: Speaker, *purposes: str) -> None:
    for purpose in purposes or Purpose.values:
        give(speaker, purpose)
