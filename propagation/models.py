"""Withdrawal propagation: the plan of every place a withdrawn voice has gone, and the
delivery of the withdrawal to each of them.

One ``Propagation`` per outbox row (withdrawal, expiry or erasure), written in the same
transaction as the consent event; one ``PropagationTarget`` per release, license,
derived model, stored audio object, voiceprint template (and, for an erasure, the
speaker's personal data). A target moves

    pending → in_progress → delivered → acknowledged
                   ↘ failed (retried with backoff) → dead (staff retry → pending)

and every attempt leaves a ``DeliveryAttempt`` row. Ids only: no personal data here.
"""

from __future__ import annotations

import uuid

import pgtrigger
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q

from consent.models import ConsentOutbox, ErasureRequest, OutboxKind, RecordingSession
from datasetcards.models import License, Release
from registry.fields import EncryptedTextField
from registry.models import (
    SHA256_RE,
    DerivedModel,
    DerivedModelStatus,
    Licensee,
    Speaker,
    Track,
    VoiceprintTemplate,
    one_of,
)


class PropagationStatus(models.TextChoices):
    OPEN = "open", "Open: some targets not yet done"
    COMPLETED = "completed", "Completed: every target acknowledged"


class Propagation(models.Model):
    """Everything one withdrawal, expiry or erasure must reach."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    outbox = models.OneToOneField(
        ConsentOutbox, on_delete=models.PROTECT, related_name="propagation"
    )
    kind = models.CharField(max_length=12, choices=OutboxKind.choices)
    speaker = models.ForeignKey(Speaker, on_delete=models.PROTECT, related_name="propagations")
    # Empty for an erasure, which withdraws every purpose.
    purpose = models.CharField(max_length=16, blank=True, default="")
    session = models.ForeignKey(
        RecordingSession, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    erasure_request = models.ForeignKey(
        ErasureRequest, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    effective_at = models.DateTimeField()
    # The recordings the act takes the voice out of, frozen when planned, so every
    # erratum and notice names the same set however late it is delivered.
    recording_ids = ArrayField(models.BigIntegerField(), default=list, blank=True)
    # A withdrawal made by an erasure request: the erasure's own plan carries it.
    within_erasure = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(
        max_length=10, choices=PropagationStatus.choices, default=PropagationStatus.OPEN
    )
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            one_of("kind", OutboxKind, "propagation_kind_known"),
            one_of("status", PropagationStatus, "propagation_status_known"),
            models.CheckConstraint(
                condition=Q(status="completed", completed_at__isnull=False)
                | (Q(status="open") & Q(completed_at__isnull=True)),
                name="propagation_completed_is_dated",
            ),
        ]
        indexes = [
            models.Index(
                fields=["created_at"], condition=Q(status="open"), name="propagation_open_idx"
            ),
            # Releases finishing their build look up withdrawals made since as_of.
            models.Index(fields=["effective_at"], name="propagation_effective_idx"),
        ]

    def __str__(self) -> str:
        return f"propagation {self.public_id} ({self.kind})"


class TargetKind(models.TextChoices):
    RELEASE = "release", "Release (taint + signed erratum)"
    LICENSE = "license", "Licensee (webhook notice, acknowledgement)"
    DERIVED_MODEL = "derived_model", "Derived model (flag + owner notice)"
    AUDIO = "audio", "Stored track audio (delete, verify, tombstone)"
    VOICEPRINT = "voiceprint", "Biometric template (destroy)"
    PERSONAL_DATA = "personal_data", "Personal data (erase, keep the public id)"


# Targets whose work ends inside this service: done means acknowledged. The others
# are delivered to a third party, who acknowledges through the API.
INTERNAL_KINDS = (
    TargetKind.RELEASE,
    TargetKind.AUDIO,
    TargetKind.VOICEPRINT,
    TargetKind.PERSONAL_DATA,
)
NOTIFIED_KINDS = (TargetKind.LICENSE, TargetKind.DERIVED_MODEL)


class TargetStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    IN_PROGRESS = "in_progress", "In progress"
    DELIVERED = "delivered", "Delivered, awaiting acknowledgement"
    ACKNOWLEDGED = "acknowledged", "Acknowledged (done)"
    FAILED = "failed", "Failed, will retry"
    DEAD = "dead", "Dead: retries exhausted, needs staff"


REACHED_STATUSES = (TargetStatus.DELIVERED, TargetStatus.ACKNOWLEDGED)
RETRYABLE_STATUSES = (TargetStatus.PENDING, TargetStatus.FAILED)

_TARGET_OBJECT = {
    TargetKind.RELEASE: "release",
    TargetKind.LICENSE: "license",
    TargetKind.DERIVED_MODEL: "derived_model",
    TargetKind.AUDIO: "track",
    TargetKind.VOICEPRINT: "voiceprint",
    TargetKind.PERSONAL_DATA: None,
}


def _exactly_the_object_of_its_kind() -> Q:
    fields = ["release", "license", "derived_model", "track", "voiceprint"]
    condition = Q()
    for kind, own in _TARGET_OBJECT.items():
        shape = Q(kind=kind.value)
        for field in fields:
            shape &= Q(**{f"{field}__isnull": field != own})
        condition |= shape
    return condition


class PropagationTarget(models.Model):
    """One place a withdrawal must reach, with its delivery state."""

    # Also the Idempotency-Key of every webhook for this target: a redelivery after a
    # crash carries the same key, so the receiver sees one logical delivery.
    idempotency_key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    propagation = models.ForeignKey(Propagation, on_delete=models.PROTECT, related_name="targets")
    kind = models.CharField(max_length=16, choices=TargetKind.choices)
    release = models.ForeignKey(
        Release, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    license = models.ForeignKey(
        License, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    derived_model = models.ForeignKey(
        DerivedModel, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    track = models.ForeignKey(
        Track, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    voiceprint = models.ForeignKey(
        VoiceprintTemplate, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(
        max_length=12, choices=TargetStatus.choices, default=TargetStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # Last time a task was queued for it: the sweep re-queues only quiet targets.
    dispatched_at = models.DateTimeField(null=True, blank=True)
    # The claim: which task message holds it and since when. A redelivered message
    # (same task id after a worker died) may take its own claim back; anyone else only
    # after the lease has run out.
    claim_token = models.CharField(max_length=64, blank=True, default="")
    claimed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    ack_due_at = models.DateTimeField(null=True, blank=True)
    ack_overdue_at = models.DateTimeField(null=True, blank=True)
    # For notified targets: the local effect (a model's flag) is applied once, with
    # this stamp, before the notice goes out; a redelivery does not apply it again.
    applied_at = models.DateTimeField(null=True, blank=True)
    died_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["propagation_id", "kind", "id"]
        permissions = [("retry_propagationtarget", "Can retry failed or dead targets")]
        constraints = [
            one_of("kind", TargetKind, "target_kind_known"),
            one_of("status", TargetStatus, "target_status_known"),
            models.CheckConstraint(
                condition=_exactly_the_object_of_its_kind(), name="target_names_its_object"
            ),
            models.UniqueConstraint(
                fields=["propagation", "release"],
                condition=Q(kind="release"),
                name="target_release_once",
            ),
            models.UniqueConstraint(
                fields=["propagation", "license"],
                condition=Q(kind="license"),
                name="target_license_once",
            ),
            models.UniqueConstraint(
                fields=["propagation", "derived_model"],
                condition=Q(kind="derived_model"),
                name="target_model_once",
            ),
            models.UniqueConstraint(
                fields=["propagation", "track"], condition=Q(kind="audio"), name="target_audio_once"
            ),
            models.UniqueConstraint(
                fields=["propagation", "voiceprint"],
                condition=Q(kind="voiceprint"),
                name="target_voiceprint_once",
            ),
            models.UniqueConstraint(
                fields=["propagation"],
                condition=Q(kind="personal_data"),
                name="target_personal_data_once",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=REACHED_STATUSES) | Q(delivered_at__isnull=False),
                name="target_reached_is_dated",
            ),
            models.CheckConstraint(
                condition=~Q(status="acknowledged") | Q(acknowledged_at__isnull=False),
                name="target_acknowledged_is_dated",
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status__in=["pending", "failed", "in_progress"]),
                name="target_due_idx",
            ),
            models.Index(
                fields=["ack_due_at"], condition=Q(status="delivered"), name="target_ack_due_idx"
            ),
            models.Index(fields=["status", "kind"], name="target_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} target {self.idempotency_key}"


class AttemptOutcome(models.TextChoices):
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"


class DeliveryAttempt(models.Model):
    """One try at one target: when, by which worker, with what result (append-only)."""

    target = models.ForeignKey(
        PropagationTarget, on_delete=models.PROTECT, related_name="delivery_attempts"
    )
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    latency_ms = models.PositiveIntegerField()
    outcome = models.CharField(max_length=10, choices=AttemptOutcome.choices)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True, default="")
    worker = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        ordering = ["target_id", "started_at", "id"]
        constraints = [one_of("outcome", AttemptOutcome, "attempt_outcome_known")]
        triggers = [
            pgtrigger.Protect(
                name="delivery_attempt_append_only", operation=pgtrigger.Update | pgtrigger.Delete
            )
        ]

    def __str__(self) -> str:
        return f"attempt {self.number} of {self.target_id}: {self.outcome}"


class WebhookEndpoint(models.Model):
    """Where a licensee receives withdrawal notices, and the HMAC secrets it checks.

    During a rotation both the new and the previous secret sign every notice (two
    ``v1=`` entries) until ``previous_secret_expires_at``, so the licensee can switch
    its verifier without missing a notice."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    licensee = models.ForeignKey(Licensee, on_delete=models.PROTECT, related_name="webhooks")
    url = models.URLField(max_length=500)
    secret = EncryptedTextField()
    previous_secret = EncryptedTextField(null=True, blank=True)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    rotated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["licensee_id", "-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["licensee"], condition=Q(is_active=True), name="webhook_one_active"
            )
        ]

    def __str__(self) -> str:
        return f"webhook {self.public_id}"


class AudioTombstone(models.Model):
    """Proof that a track's audio was destroyed: what it was (digest), where, when, and
    that the storage no longer has it. Append-only; the audio itself is gone."""

    track = models.OneToOneField(Track, on_delete=models.PROTECT, related_name="tombstone")
    target = models.ForeignKey(
        PropagationTarget, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    storage_name = models.CharField(max_length=512)
    audio_sha256 = models.CharField(max_length=64)
    # The recording's mixed file, when it was in our storage: it held this voice too,
    # so it was destroyed with the track (the partner's own track is kept).
    mixed_storage_name = models.CharField(max_length=512, blank=True, default="")
    mixed_sha256 = models.CharField(max_length=64, blank=True, default="")
    deleted_at = models.DateTimeField()
    verified_absent = models.BooleanField()
    reason = models.CharField(max_length=200)

    class Meta:
        ordering = ["-deleted_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(audio_sha256__regex=SHA256_RE), name="tombstone_sha256_hex"
            ),
            models.CheckConstraint(condition=Q(verified_absent=True), name="tombstone_verified"),
        ]
        triggers = [
            pgtrigger.Protect(
                name="tombstone_append_only", operation=pgtrigger.Update | pgtrigger.Delete
            )
        ]

    def __str__(self) -> str:
        return f"tombstone of track {self.track_id}"


class ModelStatusReport(models.Model):
    """A licensee's report that it acted on the withdrawals carried to its derived model
    (retrained, filtered or retired it): when, what it cleared, its own note.
    Append-only: the model's row holds the current state, this the history."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    derived_model = models.ForeignKey(
        DerivedModel, on_delete=models.PROTECT, related_name="status_reports"
    )
    status = models.CharField(max_length=12, choices=DerivedModelStatus.choices)
    note = models.TextField(blank=True, default="")
    # How many withdrawals the report answered, and which of the model's notices it
    # acknowledged (those whose flag was applied before the report).
    withdrawals_cleared = models.PositiveIntegerField()
    acknowledged_notices = ArrayField(models.UUIDField(), default=list, blank=True)
    reported_at = models.DateTimeField()

    class Meta:
        ordering = ["derived_model_id", "-reported_at", "-id"]
        constraints = [one_of("status", DerivedModelStatus, "model_report_status_known")]
        triggers = [
            pgtrigger.Protect(
                name="model_status_report_append_only",
                operation=pgtrigger.Update | pgtrigger.Delete,
            )
        ]

    def __str__(self) -> str:
        return f"report {self.public_id}: {self.status}"
