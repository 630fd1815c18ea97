"""Concurrent acts on one speaker are serialised; expiry is scheduled, idempotent and
announced through the outbox; new notice versions list who must re-consent."""

from __future__ import annotations

import contextlib
import datetime
import itertools
import threading

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from consent import services
from consent.models import (
    Consent,
    ConsentEvent,
    ConsentOutbox,
    ConsentState,
    OutboxKind,
    Purpose,
)
from consent.selectors import consents_needing_reconsent, needs_reconsent
from consent.tasks import expire_consents, write_audit_checkpoint
from tests.consent.conftest import give, publish, renew, withdraw
from tests.factories import SpeakerFactory


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_grants_and_withdrawals_end_in_the_state_of_the_last_event(notices) -> None:
    speaker = SpeakerFactory()
    give(speaker, Purpose.TRAINING)
    errors: list[Exception] = []
    barrier = threading.Barrier(4)

    def worker(act) -> None:
        try:
            barrier.wait()
            for _ in range(5):
                with contextlib.suppress(services.ConsentAlreadyGiven):
                    act(speaker, Purpose.TRAINING)
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(act,)) for act in (give, withdraw) * 2]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    consent = Consent.objects.get(speaker=speaker, purpose="training")
    last = ConsentEvent.objects.filter(speaker=speaker, purpose="training").order_by("seq").last()
    assert consent.last_event_id == last.pk
    assert consent.state == last.state
    # Serialised: the events alternate, never two gives or two withdrawals in a row.
    states = list(
        ConsentEvent.objects.filter(speaker=speaker, purpose="training")
        .order_by("seq")
        .values_list("state", flat=True)
    )
    assert all(a != b for a, b in itertools.pairwise(states))
    assert ConsentOutbox.objects.count() == states.count("withdrawn")


@pytest.mark.django_db
def test_expire_consents_expires_what_is_due_once_and_announces_it(notices) -> None:
    speaker = SpeakerFactory(jurisdiction="US-IL")
    consent = give(speaker, Purpose.BIOMETRIC)
    due = consent.expires_at
    give(speaker, Purpose.TRAINING)  # never expires
    with time_machine.travel(due - datetime.timedelta(seconds=1), tick=False):
        assert services.expire_consents() == 0
    # Asking for a future moment expires nothing early: events are never post-dated.
    assert services.expire_consents(at=due) == 0
    with time_machine.travel(due, tick=False):
        assert services.expire_consents() == 1
    consent.refresh_from_db()
    assert consent.state == ConsentState.EXPIRED
    event = consent.last_event
    assert (event.action, event.evidence_method, event.actor_kind) == ("expire", "system", "system")
    assert ConsentOutbox.objects.get().kind == OutboxKind.EXPIRY
    assert consent.expires_at == due
    assert event.recorded_at == due
    with time_machine.travel(due + datetime.timedelta(days=1), tick=False):
        assert services.expire_consents() == 0
    assert Consent.objects.get(speaker=speaker, purpose="training").state == ConsentState.GIVEN


@pytest.mark.django_db
def test_an_expired_consent_can_be_renewed_and_starts_a_new_period(notices) -> None:
    speaker = SpeakerFactory(jurisdiction="US-IL")
    consent = give(speaker, Purpose.BIOMETRIC)
    with time_machine.travel(consent.expires_at + datetime.timedelta(hours=1), tick=False):
        services.expire_consents()
        renewed = renew(speaker, Purpose.BIOMETRIC)
    assert renewed.state == ConsentState.RENEWED
    assert renewed.given_at > consent.given_at


@pytest.mark.django_db
def test_beat_tasks_expire_and_checkpoint(notices) -> None:
    assert expire_consents.apply().get() == 0
    give(SpeakerFactory(), Purpose.RECORDING)
    assert write_audit_checkpoint.apply().get() == 1


@pytest.mark.django_db
def test_a_new_notice_version_lists_who_must_reconsent_without_changing_their_consent(
    notices,
) -> None:
    a, b = SpeakerFactory(), SpeakerFactory()
    give(a, Purpose.TRAINING)
    give(b, Purpose.TRAINING)
    withdraw(b, Purpose.TRAINING)
    new = publish("training", "US", "en", body="We now also train speech translation models.")
    pending = consents_needing_reconsent(notice=new)
    assert list(pending.values_list("speaker", flat=True)) == [a.pk]
    consent = Consent.objects.get(speaker=a, purpose="training")
    assert consent.state == ConsentState.GIVEN  # not silently re-consented, not dropped
    assert needs_reconsent(consent)
    renew(a, Purpose.TRAINING, notice=new)
    assert not consents_needing_reconsent(notice=new).exists()
    assert timezone.now() >= consent.given_at


@pytest.mark.django_db
def test_the_admin_shows_how_many_must_reconsent_under_a_new_notice(notices, admin_client) -> None:
    speaker = SpeakerFactory()
    give(speaker, Purpose.TRAINING)
    new = publish("training", "US", "en", body="Changed purpose wording.")
    page = admin_client.get(f"/admin/consent/consentnotice/?q=&id__exact={new.pk}")
    assert page.status_code == 200
    assert 'class="field-must_reconsent">1<' in page.content.decode()
