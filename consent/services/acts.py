"""Every write to consent. One purpose per call, always: there is deliberately no
function that grants several purposes at once (bundling is what regulators fine).

Each entry point validates against the rules in force at that moment, locks the
speaker (so concurrent calls for one speaker are serialised), appends the event (the
database links it into the hash chain), updates the derived ``Consent`` row, and writes
an outbox row for withdrawals and expiries, all in one transaction.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.utils import timezone

from consent.errors import (
    ConsentAlreadyGiven,
    ConsentIsValid,
    ConsentNotRenewable,
    ErasureInProgress,
    InvitationClosed,
    NotAParticipant,
    SessionNotOpen,
    SpeakerErased,
)
from consent.models import (
    ACTION_RESULT,
    VALID_STATES,
    Consent,
    ConsentAction,
    ConsentEvent,
    ConsentNotice,
    ConsentOutbox,
    ConsentSignature,
    ConsentState,
    ErasureRequest,
    ErasureStatus,
    EvidenceMethod,
    OutboxKind,
    Purpose,
    RecordingSession,
    SessionStatus,
)
from consent.receipts import issue_receipt
from consent.rules import Requirements
from consent.selectors import current_notice
from consent.services.checks import (
    Actor,
    Evidence,
    check_act,
    check_act_order,
    check_affirmative_act,
    check_notice_current,
    check_purpose,
    evidence_digest,
)
from consent.signals import outbox_written
from registry import pii
from registry.models import Speaker

# Called inside an act's transaction with the consent it left and the events it wrote
# (none for a withdrawal that found nothing in force). The API stores its idempotent
# answer there, so the answer is kept exactly when the act commits.
ActRecorded = Callable[[Consent | None, list[ConsentEvent]], None]


def _lock_speaker(speaker: Speaker) -> Speaker:
    # NO KEY UPDATE: serialises acts on this speaker without blocking inserts that merely
    # reference the row (tracks, events take KEY SHARE through their foreign keys).
    locked = Speaker.objects.select_for_update(no_key=True).get(pk=speaker.pk)
    if locked.erased_at is not None:
        raise SpeakerErased("this speaker's data was erased", field="speaker")
    return locked


def check_no_erasure_pending(speaker: Speaker) -> None:
    """After asking for erasure, nothing may come back into force (the caller holds the
    speaker lock, and ``request_erasure`` takes the same lock, so this cannot race)."""
    if (
        ErasureRequest.objects.filter(speaker=speaker)
        .exclude(status=ErasureStatus.COMPLETED)
        .exists()
    ):
        raise ErasureInProgress(
            "the speaker asked for erasure; no new consent can be recorded", field="speaker"
        )


def _lock_consent(
    speaker: Speaker, purpose: str, session: RecordingSession | None
) -> Consent | None:
    return (
        Consent.objects.select_for_update()
        .filter(speaker=speaker, purpose=purpose, session=session)
        .first()
    )


def _append(
    *,
    speaker: Speaker,
    purpose: str,
    action: str,
    notice: ConsentNotice,
    evidence: Evidence,
    actor: Actor,
    session: RecordingSession | None,
    current: Consent | None,
    at: datetime.datetime,
    requirements: Requirements | None,
    given_at: datetime.datetime | None = None,
    within_erasure: bool = False,
) -> Consent:
    """Write the event, its signature, the derived state and the outbox row."""
    state = ACTION_RESULT[ConsentAction(action)]
    expires_at = None
    if state in VALID_STATES and requirements and requirements.retention_days:
        expires_at = at + datetime.timedelta(days=requirements.retention_days)
    elif action == ConsentAction.EXPIRE and current is not None:
        expires_at = current.expires_at  # keep when it lapsed, for the record
    event = ConsentEvent.objects.create(
        speaker=speaker,
        purpose=purpose,
        action=action,
        state=state,
        session=session,
        notice=notice,
        notice_language=notice.language,
        notice_sha256=notice.text_sha256,
        jurisdiction=speaker.jurisdiction,
        rules_applied=list(requirements.rules) if requirements else [],
        evidence_method=evidence.method,
        evidence_sha256=evidence_digest(evidence),
        actor_kind=actor.kind,
        actor_ref=actor.ref[:100],
        ip_hash=pii.keyed_digest("ip", evidence.ip_address) if evidence.ip_address else "",
        user_agent_hash=pii.keyed_digest("user-agent", evidence.user_agent)
        if evidence.user_agent
        else "",
        occurred_at=evidence.occurred_at or at,
        recorded_at=at,
        expires_at=expires_at,
    )
    if evidence.signed_name.strip():
        ConsentSignature.objects.create(event=event, signed_name=evidence.signed_name.strip())
    issue_receipt(event)  # issued with the event, under today's controller and key
    ConsentNotice.objects.filter(pk=notice.pk, first_served_at__isnull=True).update(
        first_served_at=at
    )
    values = {
        "state": state,
        "notice": notice,
        "state_since": at,
        "expires_at": expires_at,
        "last_event": event,
        "given_at": given_at if state in VALID_STATES else (current.given_at if current else None),
        "recording": session.recording if session else None,
    }
    if current is None:
        consent = Consent.objects.create(
            speaker=speaker, purpose=purpose, session=session, **values
        )
    else:
        for name, value in values.items():
            setattr(current, name, value)
        current.save(update_fields=list(values))
        consent = current
    if action in (ConsentAction.WITHDRAW, ConsentAction.EXPIRE):
        announce(
            event=event,
            kind=OutboxKind.WITHDRAWAL if action == ConsentAction.WITHDRAW else OutboxKind.EXPIRY,
            payload={
                "event": str(event.public_id),
                "speaker": str(speaker.public_id),
                "purpose": purpose,
                "session": str(session.public_id) if session else None,
                "effective_at": at.isoformat(),
                "within_erasure": within_erasure,
            },
        )
    return consent


def settle_lapsed(
    speaker: Speaker, row: Consent | None, *, at: datetime.datetime
) -> Consent | None:
    """Record the expiry of a locked consent row whose ``expires_at`` has passed but that
    the hourly job has not expired yet, in the caller's transaction; the row otherwise.

    Eligibility already treats such a consent as lapsed; every act judges it the same way
    (a refusal is not "withdraw it instead", a withdrawal writes nothing, a renewal starts
    anew) and the log still reads "expired" before the act, exactly as the job writes it.
    """
    if row is None or row.state not in VALID_STATES or row.in_force_at(at):
        return row
    return _append(
        speaker=speaker,
        purpose=row.purpose,
        action=ConsentAction.EXPIRE,
        notice=row.notice,
        evidence=Evidence(method=EvidenceMethod.SYSTEM, occurred_at=row.expires_at),
        actor=Actor.system(),
        session=row.session,
        current=row,
        at=at,
        requirements=None,
    )


def announce(**fields: Any) -> ConsentOutbox:
    """Write an outbox row and tell the apps above (propagation plans it in this
    same transaction)."""
    row = ConsentOutbox.objects.create(**fields)
    outbox_written.send(sender=ConsentOutbox, row=row)
    return row


def _check_session(
    session: RecordingSession | None, speaker: Speaker, *, giving: bool
) -> RecordingSession | None:
    """The session as it is now (the caller's copy may be stale), if the speaker is in it."""
    if session is None:
        return None
    session = RecordingSession.objects.select_for_update(no_key=True).get(pk=session.pk)
    participant = session.participants.filter(speaker=speaker).first()
    if participant is None:
        raise NotAParticipant("the speaker is not a participant of this session", field="session")
    if giving and participant.is_closed:
        raise InvitationClosed(
            f"this participant's invitation is closed ({participant.closed_reason})",
            reason=participant.closed_reason,
            field="session",
        )
    if giving and session.status == SessionStatus.CANCELLED:
        raise SessionNotOpen("the session was cancelled", field="session")
    return session


def _give_or_renew(
    *,
    action: str,
    speaker: Speaker,
    purpose: str,
    notice: ConsentNotice,
    evidence: Evidence,
    actor: Actor,
    session: RecordingSession | None,
    on_recorded: ActRecorded | None = None,
) -> Consent:
    purpose = check_act(purpose=purpose, evidence=evidence, actor=actor)
    at = timezone.now()
    with transaction.atomic(durable=True):
        speaker = _lock_speaker(speaker)
        check_no_erasure_pending(speaker)
        session = _check_session(session, speaker, giving=True)
        if session is not None and purpose == Purpose.RECORDING and session.recording_id:
            # Given or renewed after the call started, the consent would name a notice
            # the participants never saw before they were recorded.
            raise SessionNotOpen(
                "recording consent for a call must be given (or renewed) before the "
                "recording starts",
                field="session",
            )
        requirements = check_affirmative_act(
            speaker=speaker,
            purpose=purpose,
            notice=notice,
            evidence=evidence,
            actor=actor,
            at=at,
            session=session,
        )
        check_act_order(
            speaker=speaker, purpose=purpose, notice=notice, session=session, evidence=evidence
        )
        current = settle_lapsed(speaker, _lock_consent(speaker, purpose, session), at=at)
        valid_now = current is not None and current.in_force_at(at)
        if action == ConsentAction.GIVE:
            if valid_now:
                raise ConsentAlreadyGiven(
                    f"{purpose} consent is already given; renew it to accept a newer notice",
                    field="purpose",
                )
            given_at = at
        else:
            if current is None or current.state not in (*VALID_STATES, ConsentState.EXPIRED):
                raise ConsentNotRenewable(
                    f"only a given or expired {purpose} consent can be renewed", field="purpose"
                )
            # Renewing a consent still in force keeps its start; after expiry it starts anew.
            given_at = current.given_at if valid_now and current.given_at else at
        consent = _append(
            speaker=speaker,
            purpose=purpose,
            action=action,
            notice=notice,
            evidence=evidence,
            actor=actor,
            session=session,
            current=current,
            at=at,
            requirements=requirements,
            given_at=given_at,
        )
        if on_recorded is not None:
            on_recorded(consent, [consent.last_event])
        return consent


def give_consent(
    *,
    speaker: Speaker,
    purpose: str,
    notice: ConsentNotice,
    evidence: Evidence,
    actor: Actor,
    session: RecordingSession | None = None,
    on_recorded: ActRecorded | None = None,
) -> Consent:
    """Record that ``speaker`` gave consent for one ``purpose`` after reading ``notice``.

    Refuses unless the notice is the current one for the speaker's jurisdiction and
    language, the speaker meets the minimum age, and the evidence method is one the
    rules in force allow. Recording consent for a session must precede the recording.
    """
    return _give_or_renew(
        action=ConsentAction.GIVE,
        speaker=speaker,
        purpose=purpose,
        notice=notice,
        evidence=evidence,
        actor=actor,
        session=session,
        on_recorded=on_recorded,
    )


def renew_consent(
    *,
    speaker: Speaker,
    purpose: str,
    notice: ConsentNotice,
    evidence: Evidence,
    actor: Actor,
    session: RecordingSession | None = None,
    on_recorded: ActRecorded | None = None,
) -> Consent:
    """Renew a given (or expired) consent under the current notice, with the same checks
    as giving. A renewal of a still-valid consent keeps its start (``given_at``)."""
    return _give_or_renew(
        action=ConsentAction.RENEW,
        speaker=speaker,
        purpose=purpose,
        notice=notice,
        evidence=evidence,
        actor=actor,
        session=session,
        on_recorded=on_recorded,
    )


def refuse_consent(
    *,
    speaker: Speaker,
    purpose: str,
    notice: ConsentNotice,
    evidence: Evidence,
    actor: Actor,
    session: RecordingSession | None = None,
    on_recorded: ActRecorded | None = None,
) -> Consent:
    """Record a refusal. A consent that is currently given must be withdrawn instead."""
    purpose = check_act(purpose=purpose, evidence=evidence, actor=actor)
    at = timezone.now()
    with transaction.atomic(durable=True):
        speaker = _lock_speaker(speaker)
        session = _check_session(session, speaker, giving=False)
        check_notice_current(speaker=speaker, purpose=purpose, notice=notice, at=at)
        check_act_order(
            speaker=speaker, purpose=purpose, notice=notice, session=session, evidence=evidence
        )
        current = settle_lapsed(speaker, _lock_consent(speaker, purpose, session), at=at)
        if current is not None and current.state in VALID_STATES:
            raise ConsentIsValid(
                f"{purpose} consent is given; withdraw it instead of refusing", field="purpose"
            )
        consent = _append(
            speaker=speaker,
            purpose=purpose,
            action=ConsentAction.REFUSE,
            notice=notice,
            evidence=evidence,
            actor=actor,
            session=session,
            current=current,
            at=at,
            requirements=None,
        )
        if on_recorded is not None:
            on_recorded(consent, [consent.last_event])
        return consent


def withdraw_consent(
    *,
    speaker: Speaker,
    purpose: str,
    evidence: Evidence,
    actor: Actor,
    session: RecordingSession | None = None,
    on_recorded: ActRecorded | None = None,
) -> Consent | None:
    """Withdraw one purpose. Never harder than giving: any affirmative method will do.

    Idempotent: withdrawing a consent that is not in force returns its current state
    (``None`` when there never was one) and writes no event. The withdrawal event and
    its outbox row are committed together, so propagation cannot miss it.
    """
    purpose = check_act(purpose=purpose, evidence=evidence, actor=actor)
    at = timezone.now()
    with transaction.atomic(durable=True):
        speaker = _lock_speaker(speaker)
        scopes = Consent.objects.select_for_update(of=("self",)).filter(
            speaker=speaker, purpose=purpose
        )
        if session is not None:
            scopes = scopes.filter(session=session)
        # A withdrawal without a session withdraws the purpose everywhere, including
        # consents given for single calls: one act undoes them all.
        rows = list(scopes.select_related("notice", "session").order_by("id"))
        requested = next(
            (row for row in rows if row.session_id == getattr(session, "pk", None)), None
        )
        written: list[ConsentEvent] = []
        for row in rows:
            settle_lapsed(speaker, row, at=at)
            if row.state not in VALID_STATES:
                continue
            withdrawn = withdraw_row(speaker, row, evidence=evidence, actor=actor, at=at)
            written.append(withdrawn.last_event)
            requested = requested if requested is not None else withdrawn
        if on_recorded is not None:
            on_recorded(requested, written)
        return requested


def withdraw_row(
    speaker: Speaker,
    row: Consent,
    *,
    evidence: Evidence,
    actor: Actor,
    at: datetime.datetime,
    within_erasure: bool = False,
) -> Consent:
    """Withdraw one locked consent row in the caller's transaction (event, state, outbox).
    ``within_erasure``: the erasure's own outbox row carries the propagation, so this
    one is announced as part of it (no second round of notices)."""
    return _append(
        speaker=speaker,
        purpose=row.purpose,
        action=ConsentAction.WITHDRAW,
        notice=row.notice,
        evidence=evidence,
        actor=actor,
        session=row.session,
        current=row,
        at=at,
        requirements=None,
        within_erasure=within_erasure,
    )


def request_consent(
    *,
    speaker: Speaker,
    purpose: str,
    actor: Actor,
    session: RecordingSession | None = None,
) -> Consent:
    """Record that the speaker was asked for one purpose (DPV "requested"), under the
    notice they will be shown. A no-op when a consent for this scope already exists."""
    purpose = check_purpose(purpose)
    with transaction.atomic(durable=True):
        return record_request(
            speaker=_lock_speaker(speaker),
            purpose=purpose,
            actor=actor,
            session=session,
            at=timezone.now(),
        )


def record_request(
    *,
    speaker: Speaker,
    purpose: str,
    actor: Actor,
    session: RecordingSession | None,
    at: datetime.datetime,
) -> Consent:
    """``request_consent`` inside the caller's transaction, the speaker already locked."""
    current = _lock_consent(speaker, purpose, session)
    if current is not None:
        return current
    return _append(
        speaker=speaker,
        purpose=purpose,
        action=ConsentAction.REQUEST,
        notice=current_notice(speaker=speaker, purpose=purpose, at=at),
        evidence=Evidence(method=EvidenceMethod.REQUEST),
        actor=actor,
        session=session,
        current=None,
        at=at,
        requirements=None,
    )


def write_system_refusal(
    *,
    speaker: Speaker,
    purpose: str,
    session: RecordingSession | None,
    current: Consent | None,
    evidence: Evidence,
    actor: Actor,
    at: datetime.datetime,
) -> Consent:
    """A refusal the system records on the speaker's answer (an invitation's age gate),
    in the caller's transaction with the speaker locked: not an act of choice, so it
    skips the affirmative-act checks, under the notice the speaker was asked with."""
    notice = (
        current.notice
        if current is not None
        else current_notice(speaker=speaker, purpose=purpose, at=at)
    )
    return _append(
        speaker=speaker,
        purpose=purpose,
        action=ConsentAction.REFUSE,
        notice=notice,
        evidence=evidence,
        actor=actor,
        session=session,
        current=current,
        at=at,
        requirements=None,
    )


def expire_consents(*, at: datetime.datetime | None = None, batch_size: int = 500) -> int:
    """Mark every consent whose expiry has passed as expired (scheduled by beat).

    Each consent expires in its own short transaction that locks the speaker first,
    in the same order as every other act, so expiry never deadlocks with a speaker's
    own give or withdraw; a speaker busy right now is skipped (SKIP LOCKED) and picked
    up by the next run, and two schedulers never expire one consent twice. Never
    writes events dated in the future: ``at`` is at most now.
    """
    now = timezone.now()
    at = min(at or now, now)
    expired = 0
    while True:
        due = list(
            Consent.objects.filter(state__in=VALID_STATES, expires_at__lte=at)
            .order_by("expires_at", "id")
            .values_list("pk", "speaker_id")[:batch_size]
        )
        progress = 0
        for consent_id, speaker_id in due:
            with transaction.atomic():
                speaker = (
                    Speaker.objects.select_for_update(no_key=True, skip_locked=True)
                    .filter(pk=speaker_id)
                    .first()
                )
                consent = (
                    Consent.objects.select_for_update(of=("self",))
                    .select_related("notice", "session")
                    .filter(pk=consent_id, state__in=VALID_STATES, expires_at__lte=at)
                    .first()
                    if speaker is not None
                    else None
                )
                if speaker is None or consent is None:
                    continue
                settle_lapsed(speaker, consent, at=now)
                expired += 1
                progress += 1
        if len(due) < batch_size or progress == 0:
            return expired
