"""Delivery of propagation targets: relay, claims, handlers, retries, acknowledgements.

Nothing is lost:
  - the plan commits with the consent event (``planning.plan`` runs inside it);
  - after commit a kick publishes it; if the broker is down the kick only logs, and the
    beat sweep publishes every outbox row still unpublished, then re-dispatches every
    target that is due and was not dispatched recently;
  - a task claims its target with a conditional UPDATE (row count checked), so two
    deliveries of one message never both act; a message redelivered after its worker
    died takes its own claim back (same task id), anyone else waits out the lease;
  - every handler is idempotent (an erratum per target key, a tombstone per track, a
    flag stamped once), and every attempt leaves a ``DeliveryAttempt`` row;
  - failures retry with exponential backoff and jitter up to ``PROPAGATION_MAX_ATTEMPTS``,
    then the target is dead and waits for staff (``retry_targets``).
"""

from __future__ import annotations

import contextlib
import datetime
import hmac
import json
import logging
import random
import urllib.parse
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from consent.models import (
    ConsentOutbox,
    ConsentSignature,
    ErasureRequest,
    ErasureStatus,
    OutboxKind,
)
from datasetcards import services as datasets
from datasetcards.models import Release, ReleaseItem
from propagation import planning, webhooks
from propagation.models import (
    INTERNAL_KINDS,
    REACHED_STATUSES,
    AttemptOutcome,
    AudioTombstone,
    DeliveryAttempt,
    ModelStatusReport,
    Propagation,
    PropagationStatus,
    PropagationTarget,
    TargetKind,
    TargetStatus,
    WebhookEndpoint,
)
from propagation.selectors import licensed_releases_by_id
from registry import pii
from registry.errors import InvalidInput, NotFound, RegistryError
from registry.models import (
    DerivedModel,
    Licensee,
    Recording,
    Speaker,
    Track,
    VoiceprintTemplate,
)
from registry.services import (
    STORAGE_URI_PREFIX,
    audio_storage,
    flag_derived_model,
    mark_recording_audio_deleted,
    register_derived_model,
    report_derived_model_status,
)

logger = logging.getLogger(__name__)

_T = TypeVar("_T")


class DeliveryFailed(Exception):
    """The target could not be reached this time (retried with backoff)."""

    def __init__(self, error: str, *, status_code: int | None = None) -> None:
        super().__init__(error)
        self.error = error[:500]
        self.status_code = status_code


# --- planning hook and publication ---------------------------------------------------


def on_outbox_written(*, row: ConsentOutbox, **_: Any) -> None:
    """Receiver of ``consent.signals.outbox_written``: plan in the event's transaction,
    publish after it commits."""
    propagation = planning.plan(row)
    transaction.on_commit(lambda: kick(outbox_ids=[row.pk]), robust=True)
    logger.info("propagation %s planned", propagation.public_id)


def on_release_built(*, release: Release, **_: Any) -> None:
    """Receiver of ``datasetcards.signals.release_built`` (inside the build's
    transaction): withdrawals made while it was building reach it."""
    new = planning.reach_late_release(release=release)
    if new:
        _send_after_commit(new)
        logger.info("release %s: %d late withdrawal targets", release.public_id, len(new))


def kick(*, outbox_ids: list[int]) -> bool:
    """Ask a worker to publish these outbox rows now: one small message, so the
    speaker's request does not wait for the fan-out. If the broker is down this only
    logs, and the beat sweep publishes the rows later. Never raises: the withdrawal is
    already committed and acknowledged."""
    try:
        _send_publish(outbox_ids)
    except Exception as exc:  # broker down, connection refused, timeouts…
        logger.warning("publishing deferred to the sweep (%s)", type(exc).__name__)
        return False
    return True


@contextlib.contextmanager
def _producer() -> Iterator[Any]:
    """A pooled producer whose broker connection is up, or an error at once.

    ``retry=False`` alone does not fail fast: before publishing, kombu retries the
    connection itself for up to CELERY_BROKER_CONNECTION_TIMEOUT (each message then took
    ~6 s during a broker outage, and every withdrawal's request waited that long: the
    broker-outage drill). One attempt; the sweep sends what this could not."""
    from registry.celery import app

    with app.producer_or_acquire() as producer:
        producer.connection.ensure_connection(max_retries=0)
        yield producer


def _send_publish(outbox_ids: list[int]) -> None:
    from propagation import tasks  # tasks import this module

    # Fail fast; the sweep retries publication, not the speaker's request.
    with _producer() as producer:
        tasks.publish.apply_async(kwargs={"outbox_ids": outbox_ids}, retry=False, producer=producer)


def _send(target_ids: Iterable[int]) -> int:
    """Queue delivery tasks; raises if the broker refuses (callers roll back)."""
    from propagation import tasks  # tasks import this module

    sent = 0
    with _producer() as producer:
        for target_id in target_ids:
            tasks.deliver_target.apply_async(args=(target_id,), retry=False, producer=producer)
            sent += 1
    return sent


def publish(*, outbox_ids: list[int] | None = None, limit: int = 200) -> int:
    """Send the pending targets of unpublished outbox rows to the queue and mark the
    rows published, in one transaction: if the broker fails half-way nothing is marked
    and the sweep sends them all again (claims make the duplicates harmless). Returns
    the number of rows published."""
    with transaction.atomic():
        rows = ConsentOutbox.objects.select_for_update(skip_locked=True, of=("self",)).filter(
            published_at__isnull=True
        )
        if outbox_ids is not None:
            rows = rows.filter(pk__in=outbox_ids)
        batch = list(rows.select_related("event", "erasure_request").order_by("id")[:limit])
        if not batch:
            return 0
        for row in batch:
            planning.plan(row)  # rows written before propagation existed get one now
        now = timezone.now()
        due = PropagationTarget.objects.filter(
            propagation__outbox__in=batch, status=TargetStatus.PENDING
        )
        ids = list(due.values_list("pk", flat=True))
        _send(ids)
        PropagationTarget.objects.filter(pk__in=ids).update(dispatched_at=now)
        ConsentOutbox.objects.filter(pk__in=[row.pk for row in batch]).update(published_at=now)
    return len(batch)


def sweep(*, now: datetime.datetime | None = None) -> int:
    """Beat's safety net: publish what no kick published, re-dispatch targets that are
    due and not recently dispatched, and reclaim claims whose lease ran out."""
    while publish():
        pass
    now = now or timezone.now()
    lease = datetime.timedelta(seconds=settings.PROPAGATION_LEASE_SECONDS)
    quiet = datetime.timedelta(seconds=settings.PROPAGATION_REDISPATCH_SECONDS)
    due = PropagationTarget.objects.filter(
        Q(status__in=[TargetStatus.PENDING, TargetStatus.FAILED], next_attempt_at__lte=now)
        & (Q(dispatched_at__isnull=True) | Q(dispatched_at__lt=now - quiet))
        | Q(status=TargetStatus.IN_PROGRESS, claimed_at__lt=now - lease)
    ).filter(propagation__outbox__published_at__isnull=False)
    ids = list(due.order_by("next_attempt_at").values_list("pk", flat=True)[:5000])
    if ids:
        with transaction.atomic():
            PropagationTarget.objects.filter(pk__in=ids).update(dispatched_at=now)
            _send(ids)
        logger.info("sweep re-dispatched %d targets", len(ids))
    # A propagation whose last targets finished in two transactions at once may have
    # been left open by both: close every open one with nothing left to do.
    for propagation_id in (
        Propagation.objects.filter(status=PropagationStatus.OPEN)
        .exclude(targets__status__in=[s for s in TargetStatus if s != TargetStatus.ACKNOWLEDGED])
        .values_list("pk", flat=True)[:1000]
    ):
        with transaction.atomic():
            _complete_if_done(propagation_id, now=now)
    return len(ids)


# --- one delivery ---------------------------------------------------------------------


def backoff_seconds(attempt: int) -> float:
    """Exponential backoff with full jitter in its upper half: base·2^(n-1), capped."""
    ceiling = min(
        settings.PROPAGATION_RETRY_CAP_SECONDS,
        settings.PROPAGATION_RETRY_BASE_SECONDS * 2 ** max(0, attempt - 1),
    )
    return float(random.uniform(ceiling / 2, ceiling))  # noqa: S311 - jitter, not crypto


@dataclass(frozen=True)
class Outcome:
    status: str  # skipped | delivered | acknowledged | failed | dead
    retry_in: float | None = None


def claim(*, target_id: int, token: str, now: datetime.datetime) -> bool:
    """Take the target for this task message, or report that someone else holds it or
    it is done. A conditional UPDATE: exactly one claimant wins."""
    lease = datetime.timedelta(seconds=settings.PROPAGATION_LEASE_SECONDS)
    claimable = (
        Q(status__in=[TargetStatus.PENDING, TargetStatus.FAILED], next_attempt_at__lte=now)
        | Q(status=TargetStatus.IN_PROGRESS, claim_token=token)
        | Q(status=TargetStatus.IN_PROGRESS, claimed_at__lt=now - lease)
    )
    claimed = (
        PropagationTarget.objects.filter(pk=target_id)
        .filter(claimable)
        .update(
            status=TargetStatus.IN_PROGRESS,
            claim_token=token,
            claimed_at=now,
            attempts=F("attempts") + 1,
        )
    )
    return claimed == 1


def deliver(*, target_id: int, token: str, worker: str = "") -> Outcome:
    """Claim one target and carry the withdrawal to it (idempotent)."""
    started = timezone.now()
    if not claim(target_id=target_id, token=token, now=started):
        return Outcome("skipped")
    target = PropagationTarget.objects.select_related(
        "propagation", "release", "license", "derived_model", "track", "voiceprint"
    ).get(pk=target_id)
    status_code: int | None = None
    try:
        status_code = HANDLERS[TargetKind(target.kind)](target)
    except DeliveryFailed as exc:
        return _failed(target, token, started, exc.error, exc.status_code, worker)
    except Exception as exc:
        # A bug or an outage of our own storage: retried like any failure. Database
        # errors quote row values and HTTP errors URLs, so only the class is logged.
        logger.error(
            "target %s failed unexpectedly (%s)", target.idempotency_key, type(exc).__name__
        )
        return _failed(target, token, started, type(exc).__name__, None, worker)
    return _succeeded(target, token, started, status_code, worker)


def _latency_ms(started: datetime.datetime) -> int:
    return max(0, round((timezone.now() - started).total_seconds() * 1000))


def _log_attempt(
    target: PropagationTarget,
    started: datetime.datetime,
    outcome: str,
    status_code: int | None,
    error: str,
    worker: str,
) -> None:
    DeliveryAttempt.objects.create(
        target=target,
        number=target.attempts,
        started_at=started,
        latency_ms=_latency_ms(started),
        outcome=outcome,
        status_code=status_code,
        error=error[:500],
        worker=worker[:200],
    )


def _succeeded(
    target: PropagationTarget,
    token: str,
    started: datetime.datetime,
    status_code: int | None,
    worker: str,
) -> Outcome:
    now = timezone.now()
    internal = target.kind in INTERNAL_KINDS
    values: dict[str, Any] = {
        "status": TargetStatus.ACKNOWLEDGED if internal else TargetStatus.DELIVERED,
        "delivered_at": now,
        "last_error": "",
        "claim_token": "",
    }
    if internal:
        values["acknowledged_at"] = now
    with transaction.atomic():
        _log_attempt(target, started, AttemptOutcome.DELIVERED, status_code, "", worker)
        # Only while we still hold the claim (a lease thief may have finished it).
        PropagationTarget.objects.filter(
            pk=target.pk, status=TargetStatus.IN_PROGRESS, claim_token=token
        ).update(**values)
        _complete_if_done(target.propagation_id, now=now)
    return Outcome(values["status"])


def _failed(
    target: PropagationTarget,
    token: str,
    started: datetime.datetime,
    error: str,
    status_code: int | None,
    worker: str,
) -> Outcome:
    now = timezone.now()
    dead = target.attempts >= settings.PROPAGATION_MAX_ATTEMPTS
    retry_in = None if dead else backoff_seconds(target.attempts)
    with transaction.atomic():
        _log_attempt(target, started, AttemptOutcome.FAILED, status_code, error, worker)
        PropagationTarget.objects.filter(
            pk=target.pk, status=TargetStatus.IN_PROGRESS, claim_token=token
        ).update(
            status=TargetStatus.DEAD if dead else TargetStatus.FAILED,
            last_error=error[:500],
            claim_token="",
            next_attempt_at=None if dead else now + datetime.timedelta(seconds=retry_in or 0),
            died_at=now if dead else None,
            dispatched_at=now,
        )
    if dead:
        logger.error(
            "target %s dead after %d attempts (%s)", target.idempotency_key, target.attempts, error
        )
        alert_compliance(
            subject=f"Withdrawal target dead: {target.kind} {target.idempotency_key}",
            lines=[
                f"A {target.kind} target of a withdrawal gave up after {target.attempts} "
                "attempts and waits for staff.",
                f"target: {target.idempotency_key}",
                f"last error: {error[:200]}",
                f"retry it in the admin: {_admin_target_url(target.pk)}",
            ],
        )
    return Outcome(TargetStatus.DEAD if dead else TargetStatus.FAILED, retry_in)


def compliance_addresses() -> list[str]:
    """Where alerts go: every active compliance officer with an address, plus
    ``COMPLIANCE_ALERT_EMAILS``."""
    from django.contrib.auth import get_user_model

    officers = (
        get_user_model()
        .objects.filter(groups__name="Compliance officer", is_active=True)
        .exclude(email="")
        .values_list("email", flat=True)
    )
    return sorted({*officers, *settings.COMPLIANCE_ALERT_EMAILS})


def alert_compliance(*, subject: str, lines: list[str]) -> None:
    """Email compliance officers once the caller's transaction commits (ids, kinds and
    error classes only: never personal data). A mail failure is logged, not raised."""

    def send_alert() -> None:
        recipients = compliance_addresses()
        if not recipients:
            logger.warning("compliance alert with no recipient: %s", subject)
            return
        send_mail(f"[consent registry] {subject}", "\n".join(lines), None, recipients)

    transaction.on_commit(send_alert, robust=True)


def _admin_target_url(target_id: int) -> str:
    return settings.PUBLIC_BASE_URL + reverse(
        "admin:propagation_propagationtarget_change", args=[target_id]
    )


def _complete_if_done(propagation_id: int, *, now: datetime.datetime) -> None:
    """Close the propagation when every target is acknowledged (inside a transaction).
    The propagation row is locked first, so of two targets finishing at once the
    second waits and then sees the first's commit."""
    propagation = Propagation.objects.select_for_update().get(pk=propagation_id)
    open_targets = PropagationTarget.objects.filter(propagation_id=propagation_id).exclude(
        status=TargetStatus.ACKNOWLEDGED
    )
    if propagation.status == PropagationStatus.OPEN and not open_targets.exists():
        propagation.status = PropagationStatus.COMPLETED
        propagation.completed_at = now
        propagation.save(update_fields=["status", "completed_at"])
    _complete_erasure_if_done(propagation.speaker_id, now=now)


def _complete_erasure_if_done(speaker_id: int, *, now: datetime.datetime) -> None:
    """An erasure is complete once the personal data is gone and every target of every
    propagation of the speaker has been reached (licensees may acknowledge later)."""
    erasure = (
        ErasureRequest.objects.select_for_update()
        .filter(speaker_id=speaker_id)
        .exclude(status=ErasureStatus.COMPLETED)
        .first()
    )
    if erasure is None:
        return
    targets = PropagationTarget.objects.filter(propagation__speaker_id=speaker_id)
    if targets.exclude(status__in=REACHED_STATUSES).exists():
        if erasure.status == ErasureStatus.RECEIVED:
            erasure.status = ErasureStatus.IN_PROGRESS
            erasure.save(update_fields=["status"])
        return
    if not targets.filter(kind=TargetKind.PERSONAL_DATA).exists():
        return  # the erasure's own plan is not written yet
    erasure.status = ErasureStatus.COMPLETED
    erasure.completed_at = now
    erasure.save(update_fields=["status", "completed_at"])


def _need(value: _T | None) -> _T:
    """A target's object of its kind (a check constraint guarantees it is there)."""
    if value is None:
        raise DeliveryFailed("target has no object of its kind")
    return value


# --- handlers: each idempotent, each returns the HTTP status it got (if any) ----------


def _withdrawn_recordings(propagation: Propagation) -> list[int]:
    """The recordings frozen on the plan (see ``planning.plan``)."""
    return list(propagation.recording_ids)


def _reason(propagation: Propagation) -> str:
    if propagation.kind == OutboxKind.ERASURE:
        return "erasure requested by a speaker"
    cause = "expiry" if propagation.kind == OutboxKind.EXPIRY else "withdrawal"
    return f"{cause} of {propagation.purpose} consent by a speaker"


def _taint_release(target: PropagationTarget) -> None:
    propagation = target.propagation
    # Only built releases get targets (planning's HELD_STATUSES, or the build's own end
    # through ``planning.reach_late_release``).
    release = _need(target.release)
    recording_ids = list(
        Recording.objects.filter(pk__in=_withdrawn_recordings(propagation)).values_list(
            "public_id", flat=True
        )
    )
    datasets.taint_release(
        release_id=release.pk,
        source_key=target.idempotency_key,
        reason=_reason(propagation),
        purpose=propagation.purpose,
        effective_at=propagation.effective_at,
        recording_ids=recording_ids,
    )
    # Licenses and models that came to hold it after the plan (a release that was
    # still building then) are reached too.
    _send_after_commit(planning.extend_to_holders(propagation=propagation, release_id=release.pk))


def is_partner_channel(target: PropagationTarget) -> bool:
    """An audio target on another participant's channel: the call was not isolated at
    source, so that channel carries the withdrawn or erased voice too (``planning``)."""
    return (
        target.kind == TargetKind.AUDIO
        and target.track is not None
        and target.track.speaker_id != target.propagation.speaker_id
    )


PARTNER_CHANNEL_REASON = (
    "; the call was not isolated at source, so this other participant's channel "
    "carries that voice too"
)


def _audio_reason(target: PropagationTarget) -> str:
    reason = _reason(target.propagation)
    return reason + PARTNER_CHANNEL_REASON if is_partner_channel(target) else reason


def _delete_object(name: str) -> None:
    """Delete through the storage API, then prove the object is gone."""
    storage = audio_storage()
    storage.delete(name)
    if storage.exists(name):
        raise DeliveryFailed("object still present after delete")


def _delete_audio(target: PropagationTarget) -> None:
    """Destroy the target's channel (the speaker's own, or a partner's on a call not
    isolated at source) and, when it is in our storage, the call's mixed file (it holds
    this voice too); verify both are gone; tombstone them."""
    track = _need(target.track)
    recording = track.recording
    mixed = ""
    if recording.audio_uri.startswith(STORAGE_URI_PREFIX):
        mixed = recording.audio_uri[len(STORAGE_URI_PREFIX) :]
    for name in (track.audio_name, mixed):
        if name:
            _delete_object(name)
    with transaction.atomic():
        locked = Track.objects.select_for_update().get(pk=track.pk)
        tombstoned = AudioTombstone.objects.filter(track=locked).exists()
        if not tombstoned and (locked.audio_name or mixed):
            AudioTombstone.objects.create(
                track=locked,
                target=target,
                storage_name=locked.audio_name,
                audio_sha256=locked.audio_sha256 or recording.audio_sha256,
                mixed_storage_name=mixed,
                mixed_sha256=recording.audio_sha256 if mixed else "",
                deleted_at=timezone.now(),
                verified_absent=True,
                reason=_audio_reason(target)[:200],
            )
        if locked.audio_name:
            locked.audio_name = ""
            locked.audio_deleted_at = timezone.now()
            locked.save(update_fields=["audio_name", "audio_deleted_at"])
        if mixed:
            mark_recording_audio_deleted(recording_id=recording.pk)


def destroy_voiceprint(*, template_id: int, reason: str) -> bool:
    """Delete a biometric template from storage, verify, and record its destruction.
    Returns False when it was already destroyed."""
    template = VoiceprintTemplate.objects.get(pk=template_id)
    if template.destroyed_at is not None:
        return False
    _delete_object(template.storage_name)
    with transaction.atomic():
        locked = VoiceprintTemplate.objects.select_for_update().get(pk=template_id)
        if locked.destroyed_at is not None:
            return False
        locked.storage_name = ""
        locked.destroyed_at = timezone.now()
        locked.destruction_reason = reason[:200]
        locked.save(update_fields=["storage_name", "destroyed_at", "destruction_reason"])
    return True


def _destroy_voiceprint(target: PropagationTarget) -> None:
    destroy_voiceprint(template_id=_need(target.voiceprint_id), reason=_reason(target.propagation))


def _erase_personal_data(target: PropagationTarget) -> None:
    """Blank every personal datum of the speaker; keep the row and its public id, which
    the consent events, receipts and tombstones point at."""
    now = timezone.now()
    with transaction.atomic():
        speaker = Speaker.objects.select_for_update().get(pk=target.propagation.speaker_id)
        if speaker.erased_at is None:
            speaker.name = speaker.email = speaker.email_blind_index = speaker.phone = None
            speaker.date_of_birth = None
            speaker.erased_at = now
            speaker.save(
                update_fields=[
                    "name",
                    "email",
                    "email_blind_index",
                    "phone",
                    "date_of_birth",
                    "erased_at",
                    "updated_at",
                ]
            )
        ConsentSignature.objects.filter(event__speaker=speaker, signed_name__isnull=False).update(
            signed_name=None
        )
        # The sign-in account never held personal data; it must not open any more.
        for user in get_user_model().objects.filter(speaker_account__speaker=speaker):
            user.is_active = False
            user.set_unusable_password()
            user.save(update_fields=["is_active", "password"])


def ack_token(target: PropagationTarget) -> str:
    """The token a licensee returns to acknowledge a notice (derived from the target's
    key under the blind-index key, so it is never stored; rotating that key invalidates
    outstanding tokens)."""
    return pii.keyed_digest("propagation-ack", str(target.idempotency_key))


def _public(path: str) -> str:
    return settings.PUBLIC_BASE_URL.rstrip("/") + path


def ack_due_at(target: PropagationTarget) -> datetime.datetime | None:
    days = target.license.ack_deadline_days if target.license is not None else None
    if target.kind == TargetKind.DERIVED_MODEL:
        days = settings.DERIVED_MODEL_ACK_DAYS
    if days is None:
        return None
    return target.propagation.created_at + datetime.timedelta(days=days)


def notice_body(target: PropagationTarget) -> dict[str, Any]:
    """The notice as sent: ids, purpose and times only, identical on every attempt."""
    propagation = target.propagation
    releases = PropagationTarget.objects.filter(
        propagation=propagation, kind=TargetKind.RELEASE
    ).select_related("release", "release__dataset")
    if target.kind == TargetKind.LICENSE:
        releases = releases.filter(release__licenses=target.license)
    else:
        releases = releases.filter(release__derived_models=target.derived_model)
    recordings = _withdrawn_recordings(propagation)
    listed = []
    for release_target in releases.order_by("release__public_id"):
        release = _need(release_target.release)
        items = list(
            ReleaseItem.objects.filter(release=release, recording_id__in=recordings).values_list(
                "recording__public_id", "track__public_id"
            )
        )
        listed.append(
            {
                "release": str(release.public_id),
                "dataset": release.dataset.slug,
                "version": release.version,
                "recording_ids": sorted({str(r) for r, _ in items}),
                "track_ids": sorted({str(t) for _, t in items}),
            }
        )
    due = ack_due_at(target)
    body: dict[str, Any] = {
        "type": "withdrawal.notice",
        "id": str(target.idempotency_key),
        "propagation": str(propagation.public_id),
        "cause": propagation.kind,
        "purpose": propagation.purpose or None,
        "effective_at": propagation.effective_at.isoformat(),
        "releases": listed,
        "acknowledge": {
            "url": _public(reverse("propagation:acknowledge", args=[str(target.idempotency_key)])),
            "token": ack_token(target),
            "due_at": due.isoformat() if due else None,
        },
    }
    if target.kind == TargetKind.LICENSE:
        license_ = _need(target.license)
        body["license"] = str(license_.public_id)
        body["derived_model_action"] = license_.derived_model_action
    else:
        model = _need(target.derived_model)
        body["derived_model"] = {
            "id": str(model.public_id),
            "name": model.name,
            "version": model.version,
            "required_action": model.withdrawal_action,
        }
    return body


def _notify(target: PropagationTarget, licensee_id: int, contact_email: str) -> int | None:
    body = json.dumps(notice_body(target), sort_keys=True, separators=(",", ":")).encode()
    endpoint = WebhookEndpoint.objects.filter(licensee_id=licensee_id, is_active=True).first()
    if endpoint is None:
        # No endpoint registered: the notice goes to the licensee's role address.
        try:
            send_mail(
                subject="Withdrawal notice " + str(target.idempotency_key),
                message=body.decode(),
                from_email=None,
                recipient_list=[contact_email],
            )
        except OSError as exc:
            raise DeliveryFailed(f"email: {type(exc).__name__}") from None
        return None
    response = webhooks.post(
        url=endpoint.url,
        body=body,
        idempotency_key=str(target.idempotency_key),
        secrets=endpoint_secrets(endpoint),
    )
    if not response.delivered:
        raise DeliveryFailed(response.error, status_code=response.status_code)
    return response.status_code


def endpoint_secrets(
    endpoint: WebhookEndpoint, *, now: datetime.datetime | None = None
) -> list[str]:
    """The secrets that sign a notice now: the current one, and the previous one
    until its grace period ends."""
    now = now or timezone.now()
    secrets = [endpoint.secret]
    if (
        endpoint.previous_secret
        and endpoint.previous_secret_expires_at is not None
        and endpoint.previous_secret_expires_at > now
    ):
        secrets.append(endpoint.previous_secret)
    return secrets


def _notify_licensee(target: PropagationTarget) -> int | None:
    license_ = _need(target.license)
    _stamp_due(target)
    return _notify(target, license_.licensee_id, license_.licensee.contact_email)


def _notify_model_owner(target: PropagationTarget) -> int | None:
    model = _need(target.derived_model)
    with transaction.atomic():
        locked = PropagationTarget.objects.select_for_update().get(pk=target.pk)
        if locked.applied_at is None:
            flag_derived_model(model_id=model.pk, action=model.withdrawal_action, at=timezone.now())
            locked.applied_at = timezone.now()
            locked.save(update_fields=["applied_at"])
    _stamp_due(target)
    return _notify(target, model.licensee_id, model.licensee.contact_email)


def _stamp_due(target: PropagationTarget) -> None:
    PropagationTarget.objects.filter(pk=target.pk, ack_due_at__isnull=True).update(
        ack_due_at=ack_due_at(target)
    )


HANDLERS: dict[TargetKind, Callable[[PropagationTarget], int | None]] = {
    TargetKind.RELEASE: _taint_release,
    TargetKind.LICENSE: _notify_licensee,
    TargetKind.DERIVED_MODEL: _notify_model_owner,
    TargetKind.AUDIO: _delete_audio,
    TargetKind.VOICEPRINT: _destroy_voiceprint,
    TargetKind.PERSONAL_DATA: _erase_personal_data,
}


# --- licensee acknowledgement, staff retry, schedules -----------------------------------


def acknowledge(*, key: uuid.UUID, token: str) -> PropagationTarget:
    """A licensee (or a model owner) confirms it acted on a notice. Idempotent. An
    unknown key and a wrong token look the same (404), so keys cannot be probed."""
    target = (
        PropagationTarget.objects.filter(
            idempotency_key=key, kind__in=[TargetKind.LICENSE, TargetKind.DERIVED_MODEL]
        )
        .select_related("propagation")
        .first()
    )
    # compare_digest takes non-ASCII text only as bytes (a TypeError otherwise).
    given = str(token or "").encode("utf-8", "replace")
    if target is None or not hmac.compare_digest(ack_token(target).encode(), given):
        raise NotFound("no such notice")
    with transaction.atomic():
        locked = PropagationTarget.objects.select_for_update().get(pk=target.pk)
        _mark_acknowledged(locked, now=timezone.now())
    return locked


class NoticeNotDelivered(RegistryError):
    code = "notice_not_delivered"
    status = 409


def acknowledge_delivery(*, target: PropagationTarget) -> PropagationTarget:
    """A licensee confirms, with its API token, that it acted on a notice of its own
    (the caller found ``target`` through ``get_delivery_for_licensee``). Idempotent:
    the first acknowledgement's time stays. Only a notice the registry has delivered
    can be acknowledged: a model's notice applies the model's flag on delivery, and
    acknowledging it earlier would skip that."""
    with transaction.atomic(durable=True):
        locked = PropagationTarget.objects.select_for_update().get(pk=target.pk)
        if locked.status not in REACHED_STATUSES:
            raise NoticeNotDelivered(
                f"this notice is {locked.status}; it can be acknowledged once delivered"
            )
        _mark_acknowledged(locked, now=timezone.now())
    return locked


def _mark_acknowledged(locked: PropagationTarget, *, now: datetime.datetime) -> None:
    """Acknowledge a notice locked by the caller (no-op when it already is) and close
    its propagation if it was the last target open."""
    if locked.status == TargetStatus.ACKNOWLEDGED:
        return
    locked.status = TargetStatus.ACKNOWLEDGED
    locked.acknowledged_at = now
    locked.delivered_at = locked.delivered_at or now
    locked.claim_token = ""
    locked.save(update_fields=["status", "acknowledged_at", "delivered_at", "claim_token"])
    _complete_if_done(locked.propagation_id, now=now)


def retry_targets(*, target_ids: Iterable[int]) -> int:
    """Staff action: put failed or dead targets back in the queue with a fresh budget
    of attempts; the attempt log keeps the history."""
    ids = list(target_ids)
    now = timezone.now()
    with transaction.atomic():
        chosen = list(
            PropagationTarget.objects.select_for_update()
            .filter(pk__in=ids, status__in=[TargetStatus.FAILED, TargetStatus.DEAD])
            .values_list("pk", flat=True)
        )
        if not chosen:
            return 0
        PropagationTarget.objects.filter(pk__in=chosen).update(
            status=TargetStatus.PENDING,
            attempts=0,
            next_attempt_at=now,
            died_at=None,
            claim_token="",
            dispatched_at=now,
        )
        _send_after_commit(chosen)
    return len(chosen)


def _send_after_commit(ids: list[int]) -> None:
    """Queue these targets once the transaction commits; if the broker refuses, the
    sweep queues them (they are due and quiet)."""
    if not ids:
        return

    def send() -> None:
        try:
            _send(ids)
        except Exception as exc:
            logger.warning("%d targets left for the sweep (%s)", len(ids), type(exc).__name__)

    transaction.on_commit(send, robust=True)


def flag_overdue_acknowledgements(*, now: datetime.datetime | None = None) -> int:
    """Mark notices delivered but not acknowledged by their deadline (once each)."""
    now = now or timezone.now()
    with transaction.atomic():
        due = list(
            PropagationTarget.objects.select_for_update(skip_locked=True)
            .filter(status=TargetStatus.DELIVERED, ack_due_at__lt=now, ack_overdue_at__isnull=True)
            .values_list("pk", "kind", "idempotency_key", "ack_due_at")
        )
        flagged = PropagationTarget.objects.filter(pk__in=[row[0] for row in due]).update(
            ack_overdue_at=now
        )
        if flagged:
            logger.warning("%d withdrawal notices are overdue for acknowledgement", flagged)
            alert_compliance(
                subject=f"{flagged} withdrawal notice(s) overdue for acknowledgement",
                lines=[
                    f"{flagged} notice(s) delivered but not acknowledged by their deadline:",
                    *(
                        f"- {kind} {key} (due {due_at:%Y-%m-%d %H:%M} UTC): {_admin_target_url(pk)}"
                        for pk, kind, key, due_at in due[:50]
                    ),
                    *([f"… and {flagged - 50} more"] if flagged > 50 else []),
                ],
            )
    return flagged


def destroy_due_voiceprints(*, now: datetime.datetime | None = None) -> int:
    """BIPA retention: destroy every template whose purpose is met or whose retention
    (3 years after the last interaction, per the rules) has run out — and no other."""
    now = now or timezone.now()
    due = VoiceprintTemplate.objects.filter(destroyed_at__isnull=True).filter(
        Q(retention_until__lte=now) | Q(purpose_met_at__lte=now)
    )
    destroyed = failed = 0
    for template in due.only("pk", "purpose_met_at", "retention_until"):
        purpose_met = template.purpose_met_at is not None and template.purpose_met_at <= now
        reason = (
            "purpose met (BIPA 740 ILCS 14/15(a))"
            if purpose_met
            else "retention period ended (BIPA 740 ILCS 14/15(a))"
        )
        try:
            destroyed += destroy_voiceprint(template_id=template.pk, reason=reason)
        except Exception as exc:
            # One template the storage cannot delete must not shield the others;
            # it stays due and is tried again on the next run.
            failed += 1
            logger.error(
                "voiceprint %s could not be destroyed (%s)", template.pk, type(exc).__name__
            )
    if failed:
        logger.error("%d due voiceprints could not be destroyed; retried next run", failed)
    return destroyed


# --- webhook endpoints ------------------------------------------------------------------


class WebhookInactive(RegistryError):
    code = "webhook_inactive"
    status = 409


@dataclass(frozen=True)
class IssuedSecret:
    endpoint: WebhookEndpoint
    secret: str  # shown once; stored encrypted for signing


def _check_url(url: str) -> str:
    url = (url or "").strip()
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:  # e.g. an unclosed IPv6 bracket
        raise InvalidInput("url is not a valid URL", field="url") from None
    allowed = ("https",) if not settings.WEBHOOK_ALLOW_HTTP else ("https", "http")
    if parts.scheme not in allowed or not parts.hostname:
        raise InvalidInput(f"url must be an absolute {' or '.join(allowed)} URL", field="url")
    if parts.username or parts.password:
        raise InvalidInput("url must not carry credentials", field="url")
    try:
        webhooks.check_destination(url)
    except webhooks.UnsafeDestination as exc:
        raise InvalidInput(f"url: {exc}", field="url") from None
    return url


def register_webhook(*, licensee: Licensee, url: str) -> IssuedSecret:
    """Register (or replace) the licensee's endpoint; returns its new secret once."""
    url = _check_url(url)
    secret = webhooks.new_secret()
    with transaction.atomic(durable=True):
        # The licensee's row serialises registrations: two at once would otherwise both
        # find nothing active to replace and collide on the one-active constraint.
        Licensee.objects.select_for_update(no_key=True).filter(pk=licensee.pk).first()
        WebhookEndpoint.objects.filter(licensee=licensee, is_active=True).update(is_active=False)
        endpoint = WebhookEndpoint.objects.create(licensee=licensee, url=url, secret=secret)
    return IssuedSecret(endpoint, secret)


def rotate_webhook_secret(
    *, endpoint: WebhookEndpoint, grace: datetime.timedelta = datetime.timedelta(hours=24)
) -> IssuedSecret:
    """A new secret signs from now on; the old one also signs until ``grace`` ends."""
    if not datetime.timedelta(0) <= grace <= datetime.timedelta(days=7):
        raise InvalidInput("grace must be between 0 and 7 days", field="grace")
    secret = webhooks.new_secret()
    now = timezone.now()
    with transaction.atomic(durable=True):
        locked = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        if not locked.is_active:
            raise WebhookInactive("this webhook was deactivated; register a new one")
        locked.previous_secret = locked.secret
        locked.previous_secret_expires_at = now + grace
        locked.secret = secret
        locked.rotated_at = now
        locked.save(
            update_fields=["previous_secret", "previous_secret_expires_at", "secret", "rotated_at"]
        )
    return IssuedSecret(locked, secret)


def deactivate_webhook(*, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    """Stop sending notices to this endpoint (idempotent). The row stays as the record
    of where notices went; until a new endpoint is registered, notices go to the
    licensee's contact address."""
    with transaction.atomic(durable=True):
        locked = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        if locked.is_active:
            locked.is_active = False
            locked.save(update_fields=["is_active"])
    return locked


@dataclass(frozen=True)
class PingOutcome:
    id: uuid.UUID  # the ping's ``id`` and Idempotency-Key
    status_code: int | None
    latency_ms: int
    error: str  # the error class (e.g. ``ConnectError``) or ``HTTP <code>``; empty when ok

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


PING_INTERVAL_SECONDS = 10
PING_TIMEOUT_SECONDS = 5.0


class PingTooSoon(RegistryError):
    code = "ping_too_soon"
    status = 429


def ping_webhook(*, endpoint: WebhookEndpoint) -> PingOutcome:
    """Send a signed test event to an active endpoint now, exactly as a notice is sent
    (same signature, destination check, pooled client and timeouts), and return what
    happened. Writes nothing: a ping is not a withdrawal and creates no target."""
    if not endpoint.is_active:
        raise WebhookInactive("this webhook was deactivated; register a new one")
    # One ping per licensee per PING_INTERVAL (registering a new endpoint does not reset
    # it): a ping holds a web thread while it waits for the endpoint.
    if not cache.add(f"webhook-ping:{endpoint.licensee_id}", 1, timeout=PING_INTERVAL_SECONDS):
        raise PingTooSoon(
            f"a webhook of yours was pinged less than {PING_INTERVAL_SECONDS} s ago; "
            "try again later"
        )
    ping_id = uuid.uuid4()
    body = {
        "type": "ping",
        "event": "ping",
        "id": str(ping_id),
        "webhook": str(endpoint.public_id),
        "sent_at": timezone.now().isoformat(),
    }
    response = webhooks.post(
        url=endpoint.url,
        body=json.dumps(body, sort_keys=True, separators=(",", ":")).encode(),
        idempotency_key=str(ping_id),
        secrets=endpoint_secrets(endpoint),
        timeout=PING_TIMEOUT_SECONDS,
    )
    logger.info("webhook %s pinged: %s", endpoint.public_id, response.error or "ok")
    return PingOutcome(ping_id, response.status_code, response.latency_ms, response.error)


# --- derived models declared and reported by their licensee -----------------------------


def declare_derived_model(
    *,
    licensee: Licensee,
    name: str,
    version: str,
    withdrawal_action: str,
    release_ids: list[uuid.UUID],
    description: str = "",
    contract_reference: str = "",
    trained_at: datetime.datetime | None = None,
) -> DerivedModel:
    """Register a licensee's model and the releases it was trained on, so every later
    withdrawal from them reaches it. Every release must be licensed to the licensee;
    that is checked before anything is written, and an unknown id and another
    licensee's release are refused with the same words."""
    releases = licensed_releases_by_id(licensee_id=licensee.pk, public_ids=release_ids)
    with transaction.atomic(durable=True):  # the model exists only with its releases
        model = register_derived_model(
            licensee=licensee,
            name=name,
            version=version,
            withdrawal_action=withdrawal_action,
            contract_reference=contract_reference,
            description=description,
            trained_at=trained_at,
        )
        return datasets.record_model_training(model=model, releases=releases)


def add_model_releases(*, model: DerivedModel, release_ids: list[uuid.UUID]) -> DerivedModel:
    """Declare more releases a model was (re)trained on; each must be licensed to the
    model's licensee (refused alike when unknown). Already declared ones are kept as
    they are; a release that already lost voices flags the model at once."""
    releases = licensed_releases_by_id(licensee_id=model.licensee_id, public_ids=release_ids)
    return datasets.record_model_training(model=model, releases=releases)


def report_model_status(*, model: DerivedModel, status: str, note: str = "") -> ModelStatusReport:
    """The model's licensee reports it acted on the withdrawals carried to it
    (retrained, filtered or retired; ``registry.services.report_derived_model_status``
    decides which moves are allowed). The model's notices whose flag it answers (those
    applied before the report) are acknowledged with it, in one transaction; notices
    not delivered yet will flag the model again when they are."""
    if len(note or "") > 2000:
        raise InvalidInput("note: at most 2000 characters", field="note")
    now = timezone.now()
    with transaction.atomic(durable=True):
        # Notices first, then the model: the order a delivery takes its locks in.
        notices = list(
            PropagationTarget.objects.select_for_update()
            .filter(kind=TargetKind.DERIVED_MODEL, derived_model_id=model.pk)
            .exclude(status=TargetStatus.ACKNOWLEDGED)
            .order_by("propagation_id", "pk")
        )
        _, cleared = report_derived_model_status(model_id=model.pk, status=status, at=now)
        answered = [notice for notice in notices if notice.applied_at is not None]
        for notice in answered:
            _mark_acknowledged(notice, now=now)
        return ModelStatusReport.objects.create(
            derived_model_id=model.pk,
            status=status,
            note=(note or "").strip(),
            withdrawals_cleared=cleared,
            acknowledged_notices=[notice.idempotency_key for notice in answered],
            reported_at=now,
        )
