"""Order: an act cannot predate what it answers (the request that asked for it, the
notice's publication), and a request is evidence of asking, never an act."""

from __future__ import annotations

import datetime

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from consent import services
from consent.errors import ActBeforeRequest, EvidenceNotAllowed, NoticeNotYetPublished
from consent.models import (
    ActorKind,
    Consent,
    ConsentAction,
    ConsentEvent,
    ConsentNotice,
    EvidenceMethod,
    Purpose,
    evidence_label,
)
from consent.rules import AFFIRMATIVE_METHODS
from consent.selectors import current_notice
from tests.consent.conftest import give, signed, spoken
from tests.factories import SpeakerFactory

pytestmark = pytest.mark.django_db


def a_session(speaker):
    return services.create_recording_session(
        external_ref=f"call-{speaker.pk}",
        jurisdiction="US-IL",
        language="en",
        speakers=[speaker, SpeakerFactory()],
    )


def test_session_consent_dated_before_the_session_asked_is_refused(notices):
    speaker = SpeakerFactory()
    session = a_session(speaker)
    before = ConsentEvent.objects.count()
    with pytest.raises(ActBeforeRequest) as raised:
        give(
            speaker,
            Purpose.RECORDING,
            session=session,
            evidence=signed(occurred_at=session.created_at - datetime.timedelta(minutes=1)),
        )
    assert raised.value.code == "act_before_request"
    assert ConsentEvent.objects.count() == before
    assert Consent.objects.get(speaker=speaker, session=session).state == "requested"


def test_session_consent_dated_after_the_session_asked_is_accepted(notices):
    speaker = SpeakerFactory()
    session = a_session(speaker)
    consent = give(
        speaker, Purpose.RECORDING, session=session, evidence=signed(occurred_at=timezone.now())
    )
    assert consent.state == "given"


def test_an_optional_purpose_for_a_call_cannot_predate_the_invitation_either(notices):
    speaker = SpeakerFactory()
    session = a_session(speaker)
    with pytest.raises(ActBeforeRequest):
        give(
            speaker,
            Purpose.TRAINING,
            session=session,
            evidence=signed(occurred_at=session.created_at - datetime.timedelta(hours=2)),
        )


def test_a_refusal_dated_before_the_request_is_refused(notices):
    speaker = SpeakerFactory()
    session = a_session(speaker)
    with pytest.raises(ActBeforeRequest):
        services.refuse_consent(
            speaker=speaker,
            purpose=Purpose.RECORDING,
            notice=current_notice(speaker=speaker, purpose=Purpose.RECORDING),
            evidence=signed(occurred_at=session.created_at - datetime.timedelta(days=1)),
            actor=services.Actor.of_speaker(speaker),
            session=session,
        )


def test_a_general_consent_cannot_predate_its_own_request(notices):
    speaker = SpeakerFactory()
    services.request_consent(
        speaker=speaker, purpose=Purpose.TRAINING, actor=services.Actor(ActorKind.PLATFORM, "p")
    )
    asked = ConsentEvent.objects.get(speaker=speaker, action=ConsentAction.REQUEST).occurred_at
    with pytest.raises(ActBeforeRequest):
        give(speaker, Purpose.TRAINING, evidence=spoken(occurred_at=asked - datetime.timedelta(1)))


def test_an_act_dated_before_its_notice_was_published_is_refused(notices):
    speaker = SpeakerFactory()
    notice = current_notice(speaker=speaker, purpose=Purpose.TRAINING)
    with pytest.raises(NoticeNotYetPublished) as raised:
        give(
            speaker,
            Purpose.TRAINING,
            evidence=spoken(occurred_at=notice.created_at - datetime.timedelta(days=3)),
        )
    assert raised.value.code == "notice_not_yet_published"
    assert not Consent.objects.filter(speaker=speaker, purpose=Purpose.TRAINING).exists()


def test_a_paper_form_signed_after_publication_but_recorded_later_is_accepted(notices):
    speaker = SpeakerFactory()
    notice = ConsentNotice.objects.filter(pk=current_notice(speaker=speaker, purpose="training").pk)
    notice.update(created_at=timezone.now() - datetime.timedelta(days=10))
    consent = give(
        speaker,
        Purpose.TRAINING,
        evidence=spoken(occurred_at=timezone.now() - datetime.timedelta(days=2)),
    )
    assert consent.last_event.occurred_at < consent.last_event.recorded_at


def test_session_requests_are_written_with_the_request_method(notices):
    speaker = SpeakerFactory()
    session = a_session(speaker)
    request = ConsentEvent.objects.get(speaker=speaker, session=session)
    assert (request.action, request.evidence_method) == (
        ConsentAction.REQUEST,
        EvidenceMethod.REQUEST,
    )
    assert request.evidence_label == "Request by the collection platform"


def test_an_old_request_stored_with_the_system_method_reads_as_a_request():
    assert evidence_label(action="request", method="system") == (
        "Request by the collection platform"
    )
    assert evidence_label(action="expire", method="system") == "System (expiry by schedule)"


def test_the_request_method_can_never_count_as_an_act(notices):
    assert EvidenceMethod.REQUEST not in AFFIRMATIVE_METHODS
    speaker = SpeakerFactory()
    with pytest.raises(EvidenceNotAllowed):
        give(speaker, Purpose.TRAINING, evidence=services.Evidence(method=EvidenceMethod.REQUEST))


def test_the_database_refuses_the_request_method_on_anything_but_a_request(notices):
    speaker = SpeakerFactory()
    consent = give(speaker, Purpose.TRAINING)
    event = consent.last_event
    event.pk = None
    event.public_id = None
    event.seq = 0
    event.evidence_method = EvidenceMethod.REQUEST
    with pytest.raises(IntegrityError, match="event_request_evidence"), transaction.atomic():
        ConsentEvent.objects.create(
            **{
                f.attname: getattr(event, f.attname)
                for f in ConsentEvent._meta.concrete_fields
                if f.attname not in ("id", "public_id", "seq", "prev_hash", "hash")
            }
        )
