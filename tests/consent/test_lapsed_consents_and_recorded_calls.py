"""Two rules the state machine (test_rules_state_machine.py) found broken: a consent past
its expiry is not "given" for any act, even before the hourly expiry job has run (the act
first records the expiry, as the job would); and a call's recording consent cannot be
renewed once the call was recorded."""

from __future__ import annotations

import datetime

import pytest
import time_machine

from consent import services
from consent.errors import ConsentAlreadyGiven, SessionNotOpen
from consent.models import Consent, ConsentEvent, ConsentOutbox, ConsentState, OutboxKind, Purpose
from tests.consent.conftest import give, publish, refuse, renew, withdraw
from tests.consent.test_sessions import _session, _start
from tests.factories import SpeakerFactory

pytestmark = pytest.mark.django_db


def _actions(speaker) -> list[str]:
    return list(
        ConsentEvent.objects.filter(speaker=speaker, purpose=Purpose.BIOMETRIC)
        .order_by("seq")
        .values_list("action", flat=True)
    )


@pytest.fixture
def lapsed(notices):
    """An Illinois biometric consent (BIPA: three years) one hour past its expiry, the
    expiry job not yet run."""
    speaker = SpeakerFactory(jurisdiction="US-IL")
    consent = give(speaker, Purpose.BIOMETRIC)
    assert consent.expires_at is not None
    with time_machine.travel(consent.expires_at + datetime.timedelta(hours=1), tick=False):
        yield speaker, consent


def test_a_lapsed_consent_can_be_refused_and_the_log_reads_expired_then_refused(lapsed) -> None:
    speaker, consent = lapsed
    refused = refuse(speaker, Purpose.BIOMETRIC)
    assert refused.state == ConsentState.REFUSED
    assert _actions(speaker) == ["give", "expire", "refuse"]
    expiry = ConsentEvent.objects.get(speaker=speaker, action="expire")
    # Dated when it lapsed, by the system, exactly as the hourly job writes it.
    assert (expiry.occurred_at, expiry.evidence_method) == (consent.expires_at, "system")
    assert ConsentOutbox.objects.filter(kind=OutboxKind.EXPIRY).count() == 1


def test_withdrawing_a_lapsed_consent_writes_no_withdrawal(lapsed) -> None:
    speaker, _consent = lapsed
    answer = withdraw(speaker, Purpose.BIOMETRIC)
    assert answer is not None
    assert answer.state == ConsentState.EXPIRED
    assert _actions(speaker) == ["give", "expire"]
    assert not ConsentOutbox.objects.filter(kind=OutboxKind.WITHDRAWAL).exists()


def test_giving_again_after_a_lapse_records_the_expiry_first(lapsed) -> None:
    speaker, consent = lapsed
    again = give(speaker, Purpose.BIOMETRIC)
    assert again.state == ConsentState.GIVEN
    assert again.given_at is not None
    assert again.given_at > consent.expires_at
    assert _actions(speaker) == ["give", "expire", "give"]


def test_an_erasure_request_records_a_lapsed_consent_as_expired_not_withdrawn(lapsed) -> None:
    speaker, _consent = lapsed
    services.request_erasure(
        speaker=speaker,
        evidence=services.Evidence(method="web_form"),
        actor=services.Actor.of_speaker(speaker),
    )
    assert _actions(speaker) == ["give", "expire"]


def test_the_expiry_job_after_an_act_on_a_lapsed_consent_finds_nothing_left(lapsed) -> None:
    speaker, _consent = lapsed
    refuse(speaker, Purpose.BIOMETRIC)
    assert services.expire_consents() == 0
    assert _actions(speaker) == ["give", "expire", "refuse"]


def test_a_consent_still_in_force_is_not_settled_by_an_act(notices) -> None:
    speaker = SpeakerFactory(jurisdiction="US-IL")
    give(speaker, Purpose.BIOMETRIC)
    with pytest.raises(ConsentAlreadyGiven):
        give(speaker, Purpose.BIOMETRIC)
    assert _actions(speaker) == ["give"]


def test_a_calls_recording_consent_cannot_be_renewed_after_the_call_was_recorded(
    notices,
) -> None:
    session, (a, b) = _session()
    give(a, Purpose.RECORDING, session=session)
    give(b, Purpose.RECORDING, session=session)
    _start(session)
    newer = publish(Purpose.RECORDING, "US", "en")
    with pytest.raises(SessionNotOpen):
        renew(a, Purpose.RECORDING, session=session, notice=newer)
    row = Consent.objects.get(speaker=a, purpose=Purpose.RECORDING, session=session)
    assert (row.state, row.notice.version) == (ConsentState.GIVEN, 1)
