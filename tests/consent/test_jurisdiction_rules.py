"""One test per seeded rule: it exists with its citation, and it is enforced. Plus:
rules are data (a new row changes behaviour, no code), and effective dates count."""

from __future__ import annotations

import datetime
import importlib

import pytest
import time_machine
from django.utils import timezone

from consent.errors import (
    BelowMinimumAge,
    EvidenceNotAllowed,
    NoticeIncomplete,
    NoticeUnavailable,
)
from consent.models import ConsentState, JurisdictionRule, Purpose
from consent.rules import jurisdiction_chain, requirements_for
from consent.selectors import current_notice
from consent.services import Evidence, retire_notice
from registry.models import AgeVerificationMethod
from tests.consent.conftest import give, publish, spoken
from tests.factories import SpeakerFactory

pytestmark = pytest.mark.django_db

SEED = importlib.import_module("consent.migrations.0003_seed_jurisdiction_rules")
WEB_FORM = Evidence(method="web_form")


def _citations(event) -> list[str]:
    return [rule["citation"] for rule in event.rules_applied]


@pytest.mark.parametrize("seeded", SEED.RULES, ids=lambda r: f"{r['jurisdiction']}-{r['purpose']}")
def test_every_seeded_rule_exists_with_its_citation_and_dates(seeded) -> None:
    rule = JurisdictionRule.objects.get(
        jurisdiction_id=seeded["jurisdiction"],
        purpose=seeded["purpose"],
        citation=seeded["citation"],
    )
    assert rule.citation.strip()
    assert rule.summary.strip()
    assert rule.effective_from.isoformat() == seeded["effective_from"]


def test_subdivisions_inherit_their_country_and_unknown_ones_fall_back(db) -> None:
    assert jurisdiction_chain("US-IL") == ("US-IL", "US")
    assert jurisdiction_chain("US-WA") == ("US",)
    assert jurisdiction_chain("DE") == ("DE", "EU")


def test_us_adults_only_rule_sets_the_minimum_age(notices) -> None:
    requirements = requirements_for(jurisdiction="US-NY", purpose="training", at=timezone.now())
    assert requirements.min_age == 18
    assert any("age-of-majority" in r["citation"] for r in requirements.rules)


def test_us_federal_recording_floor_applies_but_every_participant_is_still_asked(notices) -> None:
    speaker = SpeakerFactory(jurisdiction="US-NY")
    event = give(speaker, Purpose.RECORDING).last_event
    assert "18 U.S.C. § 2511(2)(d)" in _citations(event)
    requirements = requirements_for(jurisdiction="US-NY", purpose="recording", at=timezone.now())
    assert requirements.all_party_recording_by_law is False  # the federal floor
    illinois = requirements_for(jurisdiction="US-IL", purpose="recording", at=timezone.now())
    assert illinois.all_party_recording_by_law is True
    # Whatever the law, eligibility needs every participant (test_eligibility covers it).


def test_illinois_all_party_recording_rule_is_applied_to_recording_consent(notices) -> None:
    event = give(SpeakerFactory(jurisdiction="US-IL"), Purpose.RECORDING).last_event
    assert "720 ILCS 5/14-2(a) (Illinois eavesdropping)" in _citations(event)


def test_illinois_bipa_needs_written_consent_a_schedule_and_expires_in_three_years(
    notices,
) -> None:
    speaker = SpeakerFactory(jurisdiction="US-IL")
    with pytest.raises(EvidenceNotAllowed, match="web_form_signed"):
        give(speaker, Purpose.BIOMETRIC, evidence=WEB_FORM)
    consent = give(speaker, Purpose.BIOMETRIC)  # typed-name signature
    assert consent.expires_at - consent.given_at == datetime.timedelta(days=1095)
    assert "740 ILCS 14/15(a)-(b) (Biometric Information Privacy Act)" in _citations(
        consent.last_event
    )


def test_illinois_bipa_refuses_a_notice_without_a_retention_schedule(notices) -> None:
    speaker = SpeakerFactory(jurisdiction="US-IL")
    publish("biometric", "US", "en", retention_schedule="")
    with pytest.raises(NoticeIncomplete, match="retention schedule"):
        give(speaker, Purpose.BIOMETRIC)


def test_california_all_party_recording_rule_is_applied(notices) -> None:
    event = give(SpeakerFactory(jurisdiction="US-CA"), Purpose.RECORDING).last_event
    assert "Cal. Penal Code § 632" in _citations(event)


def test_california_likeness_needs_written_consent(notices) -> None:
    speaker = SpeakerFactory(jurisdiction="US-CA")
    with pytest.raises(EvidenceNotAllowed):
        give(speaker, Purpose.LIKENESS, evidence=WEB_FORM)
    assert give(speaker, Purpose.LIKENESS).state == ConsentState.GIVEN
    # The same click is enough for likeness elsewhere in the US.
    assert give(SpeakerFactory(jurisdiction="US-NY"), Purpose.LIKENESS, evidence=WEB_FORM)


def test_texas_cubi_applies_to_biometric_consent(notices) -> None:
    consent = give(SpeakerFactory(jurisdiction="US-TX"), Purpose.BIOMETRIC, evidence=WEB_FORM)
    assert "Tex. Bus. & Com. Code § 503.001 (CUBI)" in _citations(consent.last_event)


def test_texas_traiga_amendment_is_in_force_only_from_2026(notices) -> None:
    citation = "Tex. Bus. & Com. Code § 503.001 as amended by HB 149 (TRAIGA, 2025)"
    before = requirements_for(
        jurisdiction="US-TX",
        purpose="biometric",
        at=datetime.datetime(2025, 12, 31, 12, tzinfo=datetime.UTC),
    )
    after = requirements_for(
        jurisdiction="US-TX",
        purpose="biometric",
        at=datetime.datetime(2026, 1, 1, 12, tzinfo=datetime.UTC),
    )
    assert citation not in [r["citation"] for r in before.rules]
    assert citation in [r["citation"] for r in after.rules]
    assert "system" not in after.allowed_methods  # only the speaker's own act is consent
    with pytest.raises(EvidenceNotAllowed):
        give(
            SpeakerFactory(jurisdiction="US-TX"),
            Purpose.BIOMETRIC,
            evidence=Evidence(method="system"),
        )


def test_eu_notices_must_be_in_the_speakers_language(notices) -> None:
    speaker = SpeakerFactory(jurisdiction="DE", preferred_language="de")
    assert current_notice(speaker=speaker, purpose="training").language == "de"
    retire_notice(notice=notices[("training", "EU", "de")])
    with pytest.raises(NoticeUnavailable, match="speaker's language"):
        current_notice(speaker=speaker, purpose="training")
    # Where no rule demands it, English is the fallback.
    us = SpeakerFactory(jurisdiction="US-NY", preferred_language="es")
    assert current_notice(speaker=us, purpose="training").language == "en"


def test_eu_biometric_needs_explicit_consent(notices) -> None:
    speaker = SpeakerFactory(jurisdiction="FR", preferred_language="fr")
    with pytest.raises(EvidenceNotAllowed):
        give(speaker, Purpose.BIOMETRIC, evidence=WEB_FORM)
    consent = give(speaker, Purpose.BIOMETRIC, evidence=spoken())
    assert "GDPR Art. 9(1), Art. 9(2)(a)" in _citations(consent.last_event)
    assert consent.last_event.notice_language == "fr"


def test_japan_adult_age_and_appi_apply(notices) -> None:
    speaker = SpeakerFactory(jurisdiction="JP", preferred_language="ja")
    consent = give(speaker, Purpose.TRAINING)
    assert any(c.startswith("Civil Code Art. 4") for c in _citations(consent.last_event))
    assert consent.last_event.notice_language == "ja"


def test_japan_third_party_provision_rule_applies_to_redistribution(notices) -> None:
    consent = give(
        SpeakerFactory(jurisdiction="JP", preferred_language="ja"), Purpose.REDISTRIBUTION
    )
    assert "APPI Art. 27(1)" in _citations(consent.last_event)


def test_a_new_rule_row_changes_behaviour_without_code(notices) -> None:
    speaker = SpeakerFactory(
        jurisdiction="US-NY",
        date_of_birth=None,
        age_verification_method=AgeVerificationMethod.PLATFORM_ATTESTATION,
        age_attested_minimum=18,
    )
    JurisdictionRule.objects.create(
        jurisdiction_id="US-NY",
        purpose="likeness",
        effective_from=timezone.now().date(),
        min_age=21,
        citation="Hypothetical N.Y. likeness statute",
        summary="21 and over.",
    )
    with pytest.raises(BelowMinimumAge, match="at least 21"):
        give(speaker, Purpose.LIKENESS)
    # Other purposes are untouched by it.
    assert give(speaker, Purpose.TRAINING).state == ConsentState.GIVEN


def test_a_rule_not_yet_in_force_does_not_apply(notices) -> None:
    tomorrow = timezone.now().date() + datetime.timedelta(days=1)
    JurisdictionRule.objects.create(
        jurisdiction_id="US-NY",
        purpose="training",
        effective_from=tomorrow,
        min_age=99,
        citation="Future statute",
        summary="Not yet.",
    )
    speaker = SpeakerFactory(jurisdiction="US-NY")
    assert give(speaker, Purpose.TRAINING).state == ConsentState.GIVEN
    with time_machine.travel(tomorrow + datetime.timedelta(days=1), tick=False):
        other = SpeakerFactory(jurisdiction="US-NY")
        with pytest.raises(BelowMinimumAge):
            give(other, Purpose.TRAINING)
