"""Consent: notices, jurisdiction rules, the append-only event log, derived state.

The event log is the evidence: rows are never updated or deleted (PostgreSQL triggers
refuse it) and each row carries the hash of the one before, computed by the database
itself on insert, so the whole log forms one verifiable chain. ``Consent`` is the
current state per speaker x purpose x scope, derived from the events and written in the
same transaction; eligibility reads it.
"""

from __future__ import annotations

import datetime
import uuid

import pgtrigger
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from registry.fields import EncryptedTextField
from registry.models import (
    LANGUAGE_RE,
    SHA256_RE,
    Campaign,
    Recording,
    Speaker,
    Track,
    one_of,
)


class Purpose(models.TextChoices):
    """The five consent layers. Each is granted and withdrawn on its own."""

    RECORDING = "recording", _("Being recorded")
    TRAINING = "training", _("In-house model training")
    REDISTRIBUTION = "redistribution", _("Licensing to third parties")
    BIOMETRIC = "biometric", _("Voiceprint enrolment and matching")
    LIKENESS = "likeness", _("Voice cloning and synthetic likeness")


class ConsentState(models.TextChoices):
    """W3C DPV / ISO/IEC TS 27560 consent status vocabulary."""

    REQUESTED = "requested", "Requested"
    GIVEN = "given", "Given"
    REFUSED = "refused", "Refused"
    WITHDRAWN = "withdrawn", "Withdrawn"
    EXPIRED = "expired", "Expired"
    RENEWED = "renewed", "Renewed"


VALID_STATES = (ConsentState.GIVEN, ConsentState.RENEWED)


class ConsentAction(models.TextChoices):
    REQUEST = "request", _("Was asked for consent")
    GIVE = "give", _("Gave consent")
    REFUSE = "refuse", _("Refused consent")
    WITHDRAW = "withdraw", _("Withdrew consent")
    EXPIRE = "expire", _("Consent expired")
    RENEW = "renew", _("Renewed consent")


ACTION_RESULT = {
    ConsentAction.REQUEST: ConsentState.REQUESTED,
    ConsentAction.GIVE: ConsentState.GIVEN,
    ConsentAction.REFUSE: ConsentState.REFUSED,
    ConsentAction.WITHDRAW: ConsentState.WITHDRAWN,
    ConsentAction.EXPIRE: ConsentState.EXPIRED,
    ConsentAction.RENEW: ConsentState.RENEWED,
}


class EvidenceMethod(models.TextChoices):
    WEB_FORM = "web_form", "Web form (one affirmative click)"
    WEB_FORM_SIGNED = "web_form_signed", "Web form with typed-name signature (written)"
    SPOKEN_PHRASE = "spoken_phrase", "Recorded spoken consent phrase"
    SIGNED_PAPER = "signed_paper", "Scanned signed paper form (written)"
    SYSTEM = "system", "System (expiry by schedule)"
    REQUEST = "request", "Request by the collection platform"


def evidence_label(*, action: str, method: str) -> str:
    """How an event's evidence reads for people. Requests written before they had their
    own method carry ``system`` (the log is append-only, so they keep it): they read as
    the request they were, never as an expiry."""
    if action == ConsentAction.REQUEST and method in (
        EvidenceMethod.SYSTEM,
        EvidenceMethod.REQUEST,
    ):
        return str(EvidenceMethod.REQUEST.label)
    return str(EvidenceMethod(method).label) if method in EvidenceMethod.values else method


WRITTEN_METHODS = (EvidenceMethod.WEB_FORM_SIGNED, EvidenceMethod.SIGNED_PAPER)
# Methods whose evidence the event keeps a digest of (a file's sha256, or a keyed hash
# of the typed name), so the evidence is inside the hash chain.
DIGEST_METHODS = (
    EvidenceMethod.SPOKEN_PHRASE,
    EvidenceMethod.SIGNED_PAPER,
    EvidenceMethod.WEB_FORM_SIGNED,
)


class ActorKind(models.TextChoices):
    SPEAKER = "speaker", "The speaker"
    STAFF = "staff", "Staff, with recorded evidence"
    PLATFORM = "platform", "Collection platform"
    SYSTEM = "system", "System"


class Jurisdiction(models.Model):
    """A place whose law applies: ISO 3166 code, or a union such as EU. Rules of a
    parent (US for US-IL, EU for DE) apply to its children too."""

    code = models.CharField(max_length=8, primary_key=True)
    name = models.CharField(max_length=100)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class JurisdictionRule(models.Model):
    """One legal requirement, as data: what consent for a purpose needs in a place,
    from when to when, and the law that says so. All rules in force for a speaker's
    jurisdiction and its parents apply together; the strictest wins."""

    jurisdiction = models.ForeignKey(Jurisdiction, on_delete=models.PROTECT, related_name="rules")
    purpose = models.CharField(
        max_length=16,
        choices=Purpose.choices,
        blank=True,
        default="",
        help_text="Empty: applies to every purpose.",
    )
    effective_from = models.DateField()
    effective_to = models.DateField(null=True, blank=True)
    min_age = models.PositiveSmallIntegerField(null=True, blank=True)
    all_party_recording = models.BooleanField(
        null=True, blank=True, help_text="Recording needs every participant's consent."
    )
    requires_written = models.BooleanField(default=False)
    requires_explicit = models.BooleanField(default=False)
    requires_retention_schedule = models.BooleanField(
        default=False, help_text="The notice must publish a retention schedule."
    )
    retention_days = models.PositiveIntegerField(
        null=True, blank=True, help_text="Consent lapses this many days after it is given."
    )
    notice_in_speaker_language = models.BooleanField(default=False)
    requires_speaker_act = models.BooleanField(
        default=False,
        help_text="Only the speaker's own act counts: staff or the platform cannot record "
        "it on their behalf, whatever evidence they hold.",
    )
    allowed_evidence_methods = ArrayField(
        models.CharField(max_length=32, choices=EvidenceMethod.choices),
        blank=True,
        default=list,
        help_text="Empty: any method.",
    )
    citation = models.CharField(max_length=300)
    summary = models.TextField()

    class Meta:
        ordering = ["jurisdiction_id", "purpose", "effective_from"]
        constraints = [
            models.CheckConstraint(condition=~Q(citation=""), name="rule_has_citation"),
            models.CheckConstraint(
                condition=Q(effective_to__isnull=True)
                | Q(effective_to__gt=models.F("effective_from")),
                name="rule_effective_range",
            ),
            models.CheckConstraint(
                condition=Q(min_age__isnull=True) | Q(min_age__gte=18),
                name="rule_min_age_not_below_floor",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.jurisdiction_id} {self.purpose or '*'} ({self.citation})"


class NoticeStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    ACTIVE = "active", "Active"
    RETIRED = "retired", "Retired"


NOTICE_CONTENT_COLUMNS = (
    "purpose",
    "jurisdiction_id",
    "language",
    "version",
    "title",
    "body",
    "allows",
    "does_not_allow",
    "retention_schedule",
    "text_sha256",
)


class ConsentNotice(models.Model):
    """The text a speaker reads when asked: one version per purpose x jurisdiction ×
    language. Immutable once served (a trigger refuses content changes)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    purpose = models.CharField(max_length=16, choices=Purpose.choices)
    jurisdiction = models.ForeignKey(Jurisdiction, on_delete=models.PROTECT, related_name="notices")
    language = models.CharField(max_length=35)
    version = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    body = models.TextField()
    allows = models.TextField(help_text="In plain words: what saying yes allows.")
    does_not_allow = models.TextField(help_text="In plain words: what it does not allow.")
    retention_schedule = models.TextField(blank=True, default="")
    text_sha256 = models.CharField(max_length=64, editable=False)
    status = models.CharField(
        max_length=8, choices=NoticeStatus.choices, default=NoticeStatus.ACTIVE
    )
    created_at = models.DateTimeField(auto_now_add=True)
    first_served_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["purpose", "jurisdiction_id", "language", "version"]
        # Publishing and retiring go through the services; the admin's add/change/delete
        # permissions on notices stay granted to no one (served text is evidence).
        permissions = [
            ("publish_notice", "Publish a new notice version"),
            ("retire_notice", "Retire a notice version"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["purpose", "jurisdiction", "language", "version"],
                name="notice_unique_version",
            ),
            models.CheckConstraint(
                condition=Q(language__regex=LANGUAGE_RE), name="notice_language_bcp47"
            ),
            models.CheckConstraint(
                condition=Q(text_sha256__regex=SHA256_RE), name="notice_sha256_hex"
            ),
            models.CheckConstraint(condition=Q(version__gte=1), name="notice_version_positive"),
            one_of("purpose", Purpose, "notice_purpose_known"),
            one_of("status", NoticeStatus, "notice_status_known"),
        ]
        triggers = [
            pgtrigger.Protect(
                name="notice_immutable_once_served",
                operation=pgtrigger.Update,
                condition=pgtrigger.Condition(
                    "OLD.first_served_at IS NOT NULL AND ("
                    + " OR ".join(
                        f"OLD.{column} IS DISTINCT FROM NEW.{column}"
                        for column in (*NOTICE_CONTENT_COLUMNS, "first_served_at")
                    )
                    + ")"
                ),
            ),
            pgtrigger.Protect(
                name="notice_served_not_deleted",
                operation=pgtrigger.Delete,
                condition=pgtrigger.Q(old__first_served_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.purpose}/{self.jurisdiction_id}/{self.language} v{self.version}"


class SessionStatus(models.TextChoices):
    OPEN = "open", "Waiting for consent"
    RECORDING = "recording", "Recording started"
    CANCELLED = "cancelled", "Cancelled"


class RecordingSession(models.Model):
    """A call to be recorded: every participant consents to recording *before* it starts."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    external_ref = models.CharField(max_length=200, unique=True)
    jurisdiction = models.CharField(max_length=8, help_text="Where the call takes place.")
    language = models.CharField(max_length=35)
    status = models.CharField(
        max_length=12, choices=SessionStatus.choices, default=SessionStatus.OPEN
    )
    invite_expires_at = models.DateTimeField()
    campaign = models.ForeignKey(
        Campaign, null=True, blank=True, on_delete=models.PROTECT, related_name="sessions"
    )
    recording = models.OneToOneField(
        Recording, null=True, blank=True, on_delete=models.PROTECT, related_name="session"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status=SessionStatus.RECORDING) | Q(recording__isnull=False),
                name="session_recording_has_recording",
            ),
            one_of("status", SessionStatus, "session_status_known"),
        ]

    def __str__(self) -> str:
        return f"Session {self.external_ref}"


class ParticipantClosedReason(models.TextChoices):
    """Why a participant's invitation was closed for good (the session can then never
    clear for recording)."""

    UNDER_AGE = "under_age", _("Below the minimum age")
    ERASED = "erased", _("The participant's data was erased")


class SessionParticipant(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    session = models.ForeignKey(
        RecordingSession, on_delete=models.PROTECT, related_name="participants"
    )
    speaker = models.ForeignKey(
        Speaker, on_delete=models.PROTECT, related_name="session_participations"
    )
    channel = models.PositiveSmallIntegerField()
    track = models.OneToOneField(
        Track, null=True, blank=True, on_delete=models.PROTECT, related_name="participant"
    )
    closed_reason = models.CharField(
        max_length=12, choices=ParticipantClosedReason.choices, blank=True, default=""
    )
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["session_id", "channel"]
        constraints = [
            models.UniqueConstraint(fields=["session", "channel"], name="participant_channel"),
            models.UniqueConstraint(fields=["session", "speaker"], name="participant_once"),
            models.CheckConstraint(
                condition=Q(closed_reason="", closed_at__isnull=True)
                | (
                    Q(closed_reason__in=ParticipantClosedReason.values) & Q(closed_at__isnull=False)
                ),
                name="participant_closed_has_reason_and_time",
            ),
        ]
        triggers = [
            # A closed invitation never reopens: an under-age answer cannot be undone by
            # answering again, an erased participant never comes back.
            pgtrigger.Protect(
                name="participant_closed_for_good",
                operation=pgtrigger.Update,
                condition=pgtrigger.Condition(
                    "OLD.closed_reason <> '' AND (OLD.closed_reason IS DISTINCT FROM "
                    "NEW.closed_reason OR OLD.closed_at IS DISTINCT FROM NEW.closed_at)"
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.session_id}:{self.channel}"

    @property
    def is_closed(self) -> bool:
        return bool(self.closed_reason)


class ConsentEvent(models.Model):
    """One affirmative act (or a scheduled expiry) for one purpose of one speaker.

    Append-only: UPDATE and DELETE are refused by triggers. ``seq``, ``prev_hash`` and
    ``hash`` are set by a BEFORE INSERT trigger under a lock on the chain head, so every
    writer, including bulk COPY, extends one chain.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # Set by the chain trigger; db_default makes Django read them back on insert.
    seq = models.BigIntegerField(unique=True, editable=False, db_default=0)
    speaker = models.ForeignKey(Speaker, on_delete=models.PROTECT, related_name="consent_events")
    purpose = models.CharField(max_length=16, choices=Purpose.choices)
    action = models.CharField(max_length=8, choices=ConsentAction.choices)
    state = models.CharField(max_length=10, choices=ConsentState.choices)
    session = models.ForeignKey(
        RecordingSession, null=True, blank=True, on_delete=models.PROTECT, related_name="events"
    )
    notice = models.ForeignKey(ConsentNotice, on_delete=models.PROTECT, related_name="events")
    notice_language = models.CharField(max_length=35)
    notice_sha256 = models.CharField(max_length=64)
    jurisdiction = models.CharField(max_length=8, help_text="The speaker's, at the time.")
    rules_applied = models.JSONField(default=list, help_text="Ids and citations in force.")
    evidence_method = models.CharField(max_length=16, choices=EvidenceMethod.choices)
    evidence_sha256 = models.CharField(max_length=64, blank=True, default="")
    actor_kind = models.CharField(max_length=10, choices=ActorKind.choices)
    actor_ref = models.CharField(max_length=100, blank=True, default="")
    ip_hash = models.CharField(max_length=64, blank=True, default="")
    user_agent_hash = models.CharField(max_length=64, blank=True, default="")
    occurred_at = models.DateTimeField()
    recorded_at = models.DateTimeField()
    expires_at = models.DateTimeField(null=True, blank=True)
    prev_hash = models.CharField(max_length=64, editable=False, db_default="")
    hash = models.CharField(max_length=64, editable=False, db_default="")

    class Meta:
        ordering = ["seq"]
        indexes = [
            models.Index(fields=["speaker", "purpose", "seq"], name="event_speaker_purpose_idx"),
            models.Index(fields=["occurred_at"], name="event_occurred_at_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(evidence_sha256="") | Q(evidence_sha256__regex=SHA256_RE),
                name="event_evidence_sha256_hex",
            ),
            one_of("purpose", Purpose, "event_purpose_known"),
            one_of("action", ConsentAction, "event_action_known"),
            one_of("state", ConsentState, "event_state_known"),
            one_of("evidence_method", EvidenceMethod, "event_evidence_method_known"),
            one_of("actor_kind", ActorKind, "event_actor_kind_known"),
            models.CheckConstraint(
                condition=~Q(evidence_method__in=DIGEST_METHODS) | ~Q(evidence_sha256=""),
                name="event_evidence_has_digest",
            ),
            # A request is evidence of asking, never of an act: only a request carries the
            # request method (requests written before it existed carry "system").
            models.CheckConstraint(
                condition=Q(action="request", evidence_method__in=["request", "system"])
                | (~Q(action="request") & ~Q(evidence_method="request")),
                name="event_request_evidence",
            ),
        ]
        triggers = [
            pgtrigger.Protect(
                name="consent_event_append_only",
                operation=pgtrigger.Update | pgtrigger.Delete,
            ),
            pgtrigger.Trigger(
                name="consent_event_chain",
                when=pgtrigger.Before,
                operation=pgtrigger.Insert,
                func=pgtrigger.Func("RETURN consent_chain_link(NEW);"),
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.purpose} ({self.speaker_id})"

    @property
    def evidence_label(self) -> str:
        return evidence_label(action=self.action, method=self.evidence_method)


class ConsentSignature(models.Model):
    """The typed name of a written (e-signed) consent. Kept apart from the immutable
    event so PII keys can rotate and erasure can blank it; the event keeps its digest."""

    event = models.OneToOneField(
        ConsentEvent, on_delete=models.PROTECT, related_name="signature", primary_key=True
    )
    signed_name = EncryptedTextField(null=True, blank=True)

    class Meta:
        triggers = [
            # Updates stay possible (key rotation re-encrypts, erasure blanks the name);
            # removing the evidence does not.
            pgtrigger.Protect(name="signature_not_deleted", operation=pgtrigger.Delete),
        ]

    def __str__(self) -> str:
        return f"signature of event {self.event_id}"


class ConsentReceipt(models.Model):
    """The signed receipt exactly as issued for an event (append-only), so what the
    speaker received can be reproduced byte for byte after settings or keys change."""

    event = models.OneToOneField(
        ConsentEvent, on_delete=models.PROTECT, related_name="receipt", primary_key=True
    )
    document = models.JSONField()
    signature = models.JSONField()
    issued_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        triggers = [
            pgtrigger.Protect(
                name="receipt_append_only", operation=pgtrigger.Update | pgtrigger.Delete
            )
        ]

    def __str__(self) -> str:
        return f"receipt of event {self.event_id}"


class Consent(models.Model):
    """Current state of one speaker's consent for one purpose, for all recordings
    (``session`` empty) or for one recording session. Derived from events."""

    speaker = models.ForeignKey(Speaker, on_delete=models.PROTECT, related_name="consents")
    purpose = models.CharField(max_length=16, choices=Purpose.choices)
    session = models.ForeignKey(
        RecordingSession, null=True, blank=True, on_delete=models.PROTECT, related_name="consents"
    )
    # Denormalised from the session once its recording exists, so eligibility joins
    # tracks to consents without going through sessions.
    recording = models.ForeignKey(
        Recording, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    state = models.CharField(max_length=10, choices=ConsentState.choices)
    notice = models.ForeignKey(ConsentNotice, on_delete=models.PROTECT, related_name="+")
    # Start of the current unbroken period of validity (renewal keeps it).
    given_at = models.DateTimeField(null=True, blank=True)
    state_since = models.DateTimeField()
    expires_at = models.DateTimeField(null=True, blank=True)
    last_event = models.ForeignKey(ConsentEvent, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["speaker_id", "purpose"]
        constraints = [
            models.UniqueConstraint(
                fields=["speaker", "purpose"],
                condition=Q(session__isnull=True),
                name="consent_one_general_per_purpose",
            ),
            models.UniqueConstraint(
                fields=["speaker", "purpose", "session"],
                condition=Q(session__isnull=False),
                name="consent_one_per_session_purpose",
            ),
            models.CheckConstraint(
                condition=~Q(state__in=VALID_STATES) | Q(given_at__isnull=False),
                name="consent_valid_has_given_at",
            ),
            one_of("purpose", Purpose, "consent_purpose_known"),
            one_of("state", ConsentState, "consent_state_known"),
            models.CheckConstraint(
                condition=Q(recording__isnull=True) | Q(session__isnull=False),
                name="consent_recording_only_with_session",
            ),
        ]
        indexes = [
            models.Index(
                fields=["speaker", "purpose", "recording"],
                condition=Q(state__in=VALID_STATES),
                name="consent_valid_lookup_idx",
            ),
            models.Index(
                fields=["expires_at"],
                condition=Q(state__in=VALID_STATES, expires_at__isnull=False),
                name="consent_expiring_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.speaker_id} {self.purpose}: {self.state}"

    @property
    def is_valid(self) -> bool:
        return self.state in VALID_STATES

    def in_force_at(self, at: datetime.datetime) -> bool:
        """Valid and not past its expiry at ``at`` (expiry counts before the job runs)."""
        return self.is_valid and not (self.expires_at is not None and self.expires_at <= at)


class ErasureStatus(models.TextChoices):
    RECEIVED = "received", "Received"
    IN_PROGRESS = "in_progress", "In progress"
    COMPLETED = "completed", "Completed"


class ErasureRequest(models.Model):
    """A speaker's request to erase their data (GDPR Art. 17). Filing it withdraws every
    consent at once; propagation then deletes the audio, reaches every release, licensee
    and derived model, and finally erases the personal data (keeping the public UUID)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    speaker = models.ForeignKey(Speaker, on_delete=models.PROTECT, related_name="erasure_requests")
    status = models.CharField(
        max_length=12, choices=ErasureStatus.choices, default=ErasureStatus.RECEIVED
    )
    actor_kind = models.CharField(max_length=10, choices=ActorKind.choices)
    actor_ref = models.CharField(max_length=100, blank=True, default="")
    evidence_method = models.CharField(max_length=16, choices=EvidenceMethod.choices)
    requested_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at"]
        constraints = [
            one_of("status", ErasureStatus, "erasure_status_known"),
            one_of("actor_kind", ActorKind, "erasure_actor_kind_known"),
            one_of("evidence_method", EvidenceMethod, "erasure_evidence_method_known"),
            models.UniqueConstraint(
                fields=["speaker"],
                condition=~Q(status="completed"),
                name="erasure_one_open_per_speaker",
            ),
            models.CheckConstraint(
                condition=Q(status="completed", completed_at__isnull=False)
                | (~Q(status="completed") & Q(completed_at__isnull=True)),
                name="erasure_completed_is_dated",
            ),
        ]

    def __str__(self) -> str:
        return f"erasure request {self.public_id}"


class OutboxKind(models.TextChoices):
    WITHDRAWAL = "withdrawal", "Consent withdrawn"
    EXPIRY = "expiry", "Consent expired"
    ERASURE = "erasure", "Erasure requested"


class ConsentOutbox(models.Model):
    """Transactional outbox: written with the event (or erasure request) that causes it,
    consumed by propagation."""

    event = models.OneToOneField(
        ConsentEvent, null=True, blank=True, on_delete=models.PROTECT, related_name="outbox"
    )
    erasure_request = models.OneToOneField(
        ErasureRequest, null=True, blank=True, on_delete=models.PROTECT, related_name="outbox"
    )
    kind = models.CharField(max_length=12, choices=OutboxKind.choices)
    payload = models.JSONField(help_text="Ids only, never personal data.")
    created_at = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(
                fields=["id"], condition=Q(published_at__isnull=True), name="outbox_pending_idx"
            )
        ]
        constraints = [
            one_of("kind", OutboxKind, "outbox_kind_known"),
            models.CheckConstraint(
                condition=Q(kind="erasure", event__isnull=True, erasure_request__isnull=False)
                | (~Q(kind="erasure") & Q(event__isnull=False, erasure_request__isnull=True)),
                name="outbox_names_its_cause",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} outbox row {self.pk}"


class ChainHead(models.Model):
    """The last link of the event chain; one row, locked by each insert."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    seq = models.BigIntegerField()
    hash = models.CharField(max_length=64)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(id=1), name="chain_head_single_row")]
        triggers = [pgtrigger.Protect(name="chain_head_not_deleted", operation=pgtrigger.Delete)]

    def __str__(self) -> str:
        return f"head #{self.seq}"


class AuditCheckpoint(models.Model):
    """A signed statement of the chain head at a moment: head hash, event count, time."""

    seq = models.BigIntegerField()
    head_hash = models.CharField(max_length=64)
    event_count = models.BigIntegerField()
    created_at = models.DateTimeField()
    kid = models.CharField(max_length=64)
    signature = models.CharField(max_length=128)

    class Meta:
        ordering = ["-created_at"]
        triggers = [
            pgtrigger.Protect(
                name="checkpoint_append_only", operation=pgtrigger.Update | pgtrigger.Delete
            )
        ]

    def __str__(self) -> str:
        return f"checkpoint #{self.seq} at {self.created_at:%Y-%m-%d %H:%M}"


class IdempotencyRecord(models.Model):
    """The answer given to a write made with an ``Idempotency-Key``, so a retry gets the
    same answer instead of a second act. Written in the act's own transaction: the
    answer is stored exactly when the act committed. Kept at least 24 hours."""

    namespace = models.CharField(
        max_length=32, help_text="Whose keys: one namespace per caller (e.g. the platform)."
    )
    key = models.CharField(max_length=255)
    request_sha256 = models.CharField(
        max_length=64, help_text="Method, path and canonical body of the first request."
    )
    response_status = models.PositiveSmallIntegerField()
    # The body exactly as first rendered (text, not jsonb, which would reorder keys), so
    # a replay is byte for byte the first answer. Encrypted at rest (and re-encrypted by
    # rotate_pii_keys): a session's answer holds its participants' invitation links.
    response_json = EncryptedTextField()
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(fields=["namespace", "key"], name="idempotency_key_once"),
            models.CheckConstraint(
                condition=Q(request_sha256__regex=SHA256_RE), name="idempotency_request_sha256"
            ),
        ]
        indexes = [models.Index(fields=["expires_at"], name="idempotency_expiry_idx")]

    def __str__(self) -> str:
        return f"idempotency record {self.namespace}/{self.pk}"


class VerificationStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    OK = "ok", "Chain intact"
    BROKEN = "broken", "Chain broken"
    FAILED = "failed", "Could not run"


class ChainVerification(models.Model):
    """One run of ``verify_chain`` asked for by staff in the admin (a Celery task), with
    its progress and its verdict: the record staff show a regulator."""

    requested_by = models.CharField(max_length=150)
    requested_at = models.DateTimeField()
    status = models.CharField(
        max_length=8, choices=VerificationStatus.choices, default=VerificationStatus.QUEUED
    )
    total = models.BigIntegerField(default=0, help_text="Events in the log when it started.")
    checked = models.BigIntegerField(default=0, help_text="Events recomputed so far.")
    finished_at = models.DateTimeField(null=True, blank=True)
    events_checked = models.BigIntegerField(default=0)
    head_seq = models.BigIntegerField(default=0)
    head_hash = models.CharField(max_length=64, blank=True, default="")
    checkpoints_checked = models.PositiveIntegerField(default=0)
    problems = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-requested_at"]
        permissions = [("verify_chain", "Can run a verification of the audit chain")]
        constraints = [one_of("status", VerificationStatus, "verification_status_known")]

    def __str__(self) -> str:
        return f"chain verification {self.pk} ({self.status})"

    @property
    def percent(self) -> int:
        return 100 if not self.total else min(100, round(100 * self.checked / self.total))
