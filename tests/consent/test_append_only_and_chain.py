"""The event log is append-only (PostgreSQL refuses changes) and forms a hash chain that
`verify_audit_chain` recomputes; tampering is found and located."""

from __future__ import annotations

import itertools

import pgtrigger
import pytest
from django.core.management import CommandError, call_command
from django.db import ProgrammingError, connection, transaction

from consent import chain
from consent.models import (
    AuditCheckpoint,
    ChainHead,
    ConsentEvent,
    ConsentNotice,
    EvidenceMethod,
    Purpose,
)
from consent.services import Evidence
from tests.consent.conftest import give, withdraw
from tests.factories import SpeakerFactory

pytestmark = pytest.mark.django_db

PROTECTED = ProgrammingError  # what pgtrigger.Protect raises


def _events(n: int = 3) -> list[ConsentEvent]:
    """n give/withdraw pairs; gives by plain web form, so no signature rows hang off them."""
    speaker = SpeakerFactory()
    for _ in range(n):
        give(speaker, Purpose.TRAINING, evidence=Evidence(method=EvidenceMethod.WEB_FORM))
        withdraw(speaker, Purpose.TRAINING)
    return list(ConsentEvent.objects.order_by("seq"))


def _delete_event(seq: int) -> None:
    """What an attacker with table access would do: remove an event and its receipt."""
    with pgtrigger.ignore(
        "consent.ConsentEvent:consent_event_append_only",
        "consent.ConsentReceipt:receipt_append_only",
    ):
        _raw(
            "DELETE FROM consent_consentreceipt WHERE event_id IN "
            "(SELECT id FROM consent_consentevent WHERE seq = %s)",
            [seq],
        )
        _raw("DELETE FROM consent_consentevent WHERE seq = %s", [seq])


def _raw(sql: str, params: list[object] | None = None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])


def test_events_are_linked_into_one_chain_by_the_database(notices) -> None:
    events = _events(2)
    assert [e.seq for e in events] == [1, 2, 3, 4]
    assert events[0].prev_hash == "0" * 64
    for before, after in itertools.pairwise(events):
        assert after.prev_hash == before.hash
    head = ChainHead.objects.get()
    assert (head.seq, head.hash) == (4, events[-1].hash)


def test_the_created_event_object_carries_its_chain_fields(notices) -> None:
    consent = give(SpeakerFactory(), Purpose.RECORDING)
    assert consent.last_event.seq >= 1
    assert len(consent.last_event.hash) == 64


def test_raw_update_of_a_consent_event_is_refused(notices) -> None:
    event = _events(1)[0]
    with (
        pytest.raises(PROTECTED, match="Cannot update or delete rows from consent_consentevent"),
        transaction.atomic(),
    ):
        _raw("UPDATE consent_consentevent SET state = 'given' WHERE id = %s", [event.pk])


def test_raw_delete_of_a_consent_event_is_refused(notices) -> None:
    event = _events(1)[0]
    with (
        pytest.raises(PROTECTED, match="Cannot update or delete rows from consent_consentevent"),
        transaction.atomic(),
    ):
        _raw("DELETE FROM consent_consentevent WHERE id = %s", [event.pk])


def test_orm_update_of_a_consent_event_is_refused(notices) -> None:
    _events(1)
    with pytest.raises(PROTECTED), transaction.atomic():
        ConsentEvent.objects.update(purpose="likeness")


def test_a_served_notice_cannot_be_edited_or_deleted(notices) -> None:
    _events(1)
    notice = ConsentNotice.objects.get(pk=ConsentEvent.objects.first().notice_id)
    with (
        pytest.raises(PROTECTED, match="Cannot update rows from consent_consentnotice"),
        transaction.atomic(),
    ):
        _raw("UPDATE consent_consentnotice SET body = 'changed' WHERE id = %s", [notice.pk])
    with pytest.raises(PROTECTED), transaction.atomic():
        _raw("DELETE FROM consent_consentnotice WHERE id = %s", [notice.pk])
    # Retiring it (status only) stays possible.
    _raw("UPDATE consent_consentnotice SET status = 'retired' WHERE id = %s", [notice.pk])


def test_an_unserved_notice_can_still_be_corrected(notices) -> None:
    notice = notices[("likeness", "JP", "ja")]
    _raw("UPDATE consent_consentnotice SET title = 'typo fixed' WHERE id = %s", [notice.pk])


def test_checkpoints_are_append_only(notices) -> None:
    checkpoint = chain.write_checkpoint()
    with pytest.raises(PROTECTED), transaction.atomic():
        _raw("DELETE FROM consent_auditcheckpoint WHERE id = %s", [checkpoint.pk])


def test_an_intact_chain_verifies(notices) -> None:
    _events(3)
    chain.write_checkpoint()
    report = chain.verify_chain(batch_size=2)  # batches cross the chain several times
    assert report.ok, report
    assert report.events_checked == 6
    assert report.checkpoints_checked == 1


def test_an_empty_chain_verifies(db) -> None:
    assert chain.verify_chain().ok


def test_an_edited_row_is_found_and_located(notices) -> None:
    events = _events(3)
    with pgtrigger.ignore("consent.ConsentEvent:consent_event_append_only"):
        _raw("UPDATE consent_consentevent SET purpose = 'likeness' WHERE seq = 4")
    report = chain.verify_chain(batch_size=2)
    assert not report.ok
    assert report.broken_at == 4
    assert "content was changed" in report.problem
    assert report.events_checked == 3
    assert events  # the others are untouched


def test_an_edit_with_a_recomputed_hash_is_found_at_the_next_link(notices) -> None:
    _events(3)
    with pgtrigger.ignore("consent.ConsentEvent:consent_event_append_only"):
        _raw(
            "UPDATE consent_consentevent SET purpose = 'likeness' WHERE seq = 2;"
            "UPDATE consent_consentevent e SET hash = consent_event_hash(e) WHERE seq = 2"
        )
    report = chain.verify_chain()
    assert report.broken_at == 3
    assert "does not link" in report.problem


def test_a_deleted_row_is_found(notices) -> None:
    _events(3)
    _delete_event(5)
    report = chain.verify_chain()
    assert report.broken_at == 6
    assert "#5..#5 are missing" in report.problem


def test_removing_the_newest_events_is_found_through_the_head(notices) -> None:
    events = _events(2)
    # Detach what points at the newest event first, as someone covering tracks would.
    outbox = "SELECT id FROM consent_consentoutbox WHERE event_id = %s"
    plans = f"SELECT id FROM propagation_propagation WHERE outbox_id IN ({outbox})"
    _raw(
        f"DELETE FROM propagation_propagationtarget WHERE propagation_id IN ({plans})",
        [events[3].pk],
    )
    _raw(f"DELETE FROM propagation_propagation WHERE outbox_id IN ({outbox})", [events[3].pk])
    _raw("DELETE FROM consent_consentoutbox WHERE event_id = %s", [events[3].pk])
    _raw("UPDATE consent_consent SET last_event_id = %s", [events[2].pk])
    _delete_event(4)
    report = chain.verify_chain()
    assert not report.ok
    assert "were removed" in report.problem


def test_a_checkpoint_with_a_forged_signature_is_reported(notices) -> None:
    _events(1)
    checkpoint = chain.write_checkpoint()
    with pgtrigger.ignore("consent.AuditCheckpoint:checkpoint_append_only"):
        AuditCheckpoint.objects.filter(pk=checkpoint.pk).update(head_hash="f" * 64)
    report = chain.verify_chain()
    assert report.checkpoint_problems == [f"checkpoint #{checkpoint.pk}: bad signature"]


def test_verify_audit_chain_command_reports_success_and_writes_a_checkpoint(
    notices, capsys
) -> None:
    _events(2)
    call_command("verify_audit_chain", "--checkpoint")
    out = capsys.readouterr().out
    assert "audit chain OK: 4 events" in out
    assert "checkpoint written at #4" in out
    assert AuditCheckpoint.objects.get().seq == 4


def test_verify_audit_chain_command_fails_on_tampering(notices) -> None:
    _events(2)
    with pgtrigger.ignore("consent.ConsentEvent:consent_event_append_only"):
        _raw("UPDATE consent_consentevent SET actor_ref = 'someone else' WHERE seq = 1")
    with pytest.raises(CommandError, match="BROKEN: event #1 does not match its hash"):
        call_command("verify_audit_chain")


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_parallel_verification_finds_the_same_first_break(notices) -> None:
    _events(4)  # 8 events, checked in ranges of 2 on two connections
    assert chain.verify_chain(batch_size=2, workers=2).ok
    with pgtrigger.ignore("consent.ConsentEvent:consent_event_append_only"):
        _raw("UPDATE consent_consentevent SET purpose = 'likeness' WHERE seq IN (3, 6)")
    report = chain.verify_chain(batch_size=2, workers=2)
    assert report.broken_at == 3
    assert "content was changed" in report.problem
