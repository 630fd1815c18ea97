"""The catalogue: speakers, recordings, tracks, licensees and derived models.

Invariants that must never be violated live in the database (check and unique
constraints, plus triggers for rules that span two tables); services validate first so
callers get a clear domain error instead of an IntegrityError.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Any, ClassVar

import pgtrigger
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q

from registry.fields import EncryptedDateField, EncryptedTextField

# ISO 3166-1 alpha-2, optionally with an ISO 3166-2 subdivision: "JP", "DE", "US-IL".
JURISDICTION_RE = r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$"
# BCP 47 language tag, restricted to the shapes we use: "en", "ja", "pt-BR", "zh-Hant".
LANGUAGE_RE = r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$"
SHA256_RE = r"^[0-9a-f]{64}$"
# The product floor; jurisdiction rules may raise it, never lower it.
MINIMUM_AGE_FLOOR = 18
# A date of birth outside [1900-01-01, today] is a typing error or a probe, never a person.
EARLIEST_DATE_OF_BIRTH = datetime.date(1900, 1, 1)
# No attestation can honestly state more than this many years.
MAXIMUM_ATTESTED_AGE = 120
MAX_CHANNELS = 16


def one_of(field: str, choices: type[models.TextChoices], name: str) -> models.CheckConstraint:
    """A database check that ``field`` holds one of ``choices`` (forms are not enough:
    raw SQL, bulk loads and the admin all write here)."""
    return models.CheckConstraint(condition=Q(**{f"{field}__in": choices.values}), name=name)


class AgeVerificationMethod(models.TextChoices):
    UNVERIFIED = "unverified", "Not yet verified"
    DATE_OF_BIRTH = "date_of_birth", "Date of birth given by the speaker"
    DOCUMENT_CHECK = "document_check", "Identity document checked"
    PLATFORM_ATTESTATION = "platform_attestation", "Attested by the collection platform"


# What a release's manifest says about a recording: fixed once its audio is ingested.
RECORDING_FACTS = (
    "public_id",
    "recorded_at",
    "duration_ms",
    "sample_rate_hz",
    "channel_count",
    "language",
    "jurisdiction",
    "isolated_at_source",
    "audio_sha256",
)


class BirthDateField(EncryptedDateField):
    """A speaker's date of birth. Encrypted at rest, so no SQL check can read it: this
    field refuses to write an implausible date (before 1900-01-01 or after today) from
    any ORM path (services, admin, ``update()``, ``bulk_create``), where the services
    would already have refused it with a domain error."""

    def get_prep_value(self, value: Any) -> str | None:
        date = self.to_python(value)
        if date is not None and not (
            EARLIEST_DATE_OF_BIRTH <= date <= datetime.datetime.now(datetime.UTC).date()
        ):
            raise ValueError(f"implausible date of birth {date.isoformat()}")
        return super().get_prep_value(date)


def _changed(columns: tuple[str, ...]) -> str:
    return " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in columns)


class Speaker(models.Model):
    """A data subject whose voice is on one or more tracks. Contact details are encrypted."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = EncryptedTextField(null=True, blank=True)
    email = EncryptedTextField(null=True, blank=True)
    email_blind_index = models.CharField(
        max_length=64, null=True, blank=True, unique=True, editable=False
    )
    phone = EncryptedTextField(null=True, blank=True)
    jurisdiction = models.CharField(
        max_length=8, help_text="Where the speaker lives: ISO 3166 code, e.g. US-IL, DE, JP."
    )
    preferred_language = models.CharField(max_length=35, help_text="BCP 47 tag, e.g. en, ja.")
    date_of_birth = BirthDateField(null=True, blank=True)
    age_verification_method = models.CharField(
        max_length=32,
        choices=AgeVerificationMethod.choices,
        default=AgeVerificationMethod.UNVERIFIED,
    )
    age_attested_minimum = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="For attestations: the speaker is at least this old."
    )
    age_verified_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Erasure removes personal data but keeps the row: consent evidence points at it.
    erased_at = models.DateTimeField(null=True, blank=True)

    # Rebuilt by rotate_pii_keys under the current blind-index key.
    BLIND_INDEXES: ClassVar[dict[str, str]] = {"email_blind_index": "email"}

    class Meta:
        ordering = ["id"]
        permissions = [
            ("view_speaker_contact", "See a speaker's decrypted contact details (logged)")
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(jurisdiction__regex=JURISDICTION_RE), name="speaker_jurisdiction_iso"
            ),
            one_of("age_verification_method", AgeVerificationMethod, "speaker_age_method_known"),
            models.CheckConstraint(
                condition=Q(preferred_language__regex=LANGUAGE_RE), name="speaker_language_bcp47"
            ),
            models.CheckConstraint(
                condition=Q(email__isnull=True, email_blind_index__isnull=True)
                | Q(
                    email__isnull=False,
                    email_blind_index__isnull=False,
                    email_blind_index__regex=r"^[0-9a-f]{64}$",
                ),
                name="speaker_email_has_blind_index",
            ),
            models.CheckConstraint(
                condition=Q(erased_at__isnull=False) | Q(name__isnull=False),
                name="speaker_named_unless_erased",
            ),
            models.CheckConstraint(
                condition=Q(erased_at__isnull=True)
                | Q(
                    name__isnull=True,
                    email__isnull=True,
                    phone__isnull=True,
                    date_of_birth__isnull=True,
                ),
                name="speaker_erased_has_no_pii",
            ),
            models.CheckConstraint(
                condition=Q(age_verification_method=AgeVerificationMethod.UNVERIFIED)
                | Q(age_verified_at__isnull=False),
                name="speaker_age_verification_dated",
            ),
            models.CheckConstraint(
                condition=~Q(age_verification_method=AgeVerificationMethod.DATE_OF_BIRTH)
                | Q(date_of_birth__isnull=False)
                | Q(erased_at__isnull=False),
                name="speaker_dob_method_has_dob",
            ),
            models.CheckConstraint(
                condition=Q(
                    age_verification_method__in=[
                        AgeVerificationMethod.UNVERIFIED,
                        AgeVerificationMethod.DATE_OF_BIRTH,
                    ]
                )
                | Q(
                    age_attested_minimum__isnull=False, age_attested_minimum__gte=MINIMUM_AGE_FLOOR
                ),
                name="speaker_attestation_states_adult_age",
            ),
            models.CheckConstraint(
                condition=Q(age_attested_minimum__isnull=True)
                | Q(
                    age_attested_minimum__gte=MINIMUM_AGE_FLOOR,
                    age_attested_minimum__lte=MAXIMUM_ATTESTED_AGE,
                ),
                name="speaker_attested_age_plausible",
            ),
        ]
        triggers = [
            # The public id is in the hash-chained events, receipts and manifests.
            pgtrigger.Protect(
                name="speaker_public_id_fixed",
                operation=pgtrigger.Update,
                condition=pgtrigger.Condition("OLD.public_id IS DISTINCT FROM NEW.public_id"),
            ),
        ]

    def __str__(self) -> str:
        # Never the name: strings end up in logs and admin breadcrumbs.
        return f"Speaker {self.public_id}"


class Campaign(models.Model):
    """A collection campaign: the calls recorded under one brief and one rate plan."""

    slug = models.SlugField(max_length=80, unique=True)
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.name


class RecordingStatus(models.TextChoices):
    REGISTERED = "registered", "Registered, audio not yet ingested"
    AVAILABLE = "available", "Audio stored and verified"
    QUARANTINED = "quarantined", "Held back (quality or dispute)"
    AUDIO_DELETED = "audio_deleted", "Audio destroyed; metadata kept as evidence"


class Recording(models.Model):
    """One conversation, one file, one channel per participant."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    external_ref = models.CharField(
        max_length=200, unique=True, help_text="The collection platform's id for this call."
    )
    recorded_at = models.DateTimeField()
    duration_ms = models.PositiveBigIntegerField("duration (ms)")
    sample_rate_hz = models.PositiveIntegerField("sample rate (Hz)")
    channel_count = models.PositiveSmallIntegerField(default=2)
    isolated_at_source = models.BooleanField(
        help_text="Each speaker was captured on their own channel, not separated afterwards."
    )
    language = models.CharField(max_length=35)
    jurisdiction = models.CharField(max_length=8, help_text="Where the call was recorded.")
    audio_uri = models.CharField("audio URI", max_length=1024, blank=True, default="")
    audio_sha256 = models.CharField("audio SHA-256", max_length=64, blank=True, default="")
    status = models.CharField(
        max_length=16, choices=RecordingStatus.choices, default=RecordingStatus.REGISTERED
    )
    campaign = models.ForeignKey(
        Campaign,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="recordings",
        help_text="Decides the rate its speakers are paid per recorded hour.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["recorded_at"], name="recording_recorded_at_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(duration_ms__gt=0), name="recording_duration_gt_0"),
            one_of("status", RecordingStatus, "recording_status_known"),
            models.CheckConstraint(
                condition=Q(sample_rate_hz__gte=8000, sample_rate_hz__lte=192_000),
                name="recording_sample_rate_range",
            ),
            models.CheckConstraint(
                condition=Q(channel_count__gte=1, channel_count__lte=MAX_CHANNELS),
                name="recording_channel_count_range",
            ),
            models.CheckConstraint(
                condition=Q(jurisdiction__regex=JURISDICTION_RE),
                name="recording_jurisdiction_iso",
            ),
            models.CheckConstraint(
                condition=Q(language__regex=LANGUAGE_RE), name="recording_language_bcp47"
            ),
            models.CheckConstraint(
                condition=Q(audio_sha256="") | Q(audio_sha256__regex=SHA256_RE),
                name="recording_sha256_hex",
            ),
            models.CheckConstraint(
                condition=~Q(status=RecordingStatus.AVAILABLE)
                | (~Q(audio_uri="") & ~Q(audio_sha256="")),
                name="recording_available_has_audio",
            ),
            models.CheckConstraint(
                condition=~Q(status=RecordingStatus.AUDIO_DELETED) | Q(audio_uri=""),
                name="recording_deleted_has_no_uri",
            ),
        ]
        triggers = [
            pgtrigger.Protect(
                name="recording_facts_fixed_once_ingested",
                operation=pgtrigger.Update,
                condition=pgtrigger.Condition(
                    "OLD.audio_sha256 <> '' AND (" + _changed(RECORDING_FACTS) + ")"
                ),
            ),
            # Checked at commit, so a recording and its tracks are written in one
            # transaction: every channel 0..n-1 has exactly one track.
            pgtrigger.Trigger(
                name="recording_tracks_cover_channels",
                when=pgtrigger.After,
                operation=pgtrigger.Insert | pgtrigger.Update,
                timing=pgtrigger.Deferred,
                func=pgtrigger.Func(
                    """
                    PERFORM registry_assert_tracks_cover_channels(NEW.id);
                    RETURN NULL;
                    """
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"Recording {self.external_ref}"


class Track(models.Model):
    """One channel of one recording, carrying exactly one speaker's voice."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    recording = models.ForeignKey(Recording, on_delete=models.PROTECT, related_name="tracks")
    channel = models.PositiveSmallIntegerField()
    speaker = models.ForeignKey(Speaker, on_delete=models.PROTECT, related_name="tracks")
    # This channel's audio alone, in the "audio" storage: a withdrawal of recording
    # consent or an erasure destroys this speaker's object and keeps the partner's.
    audio_name = models.CharField(max_length=512, blank=True, default="")
    audio_sha256 = models.CharField("audio SHA-256", max_length=64, blank=True, default="")
    audio_deleted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["recording_id", "channel"]
        constraints = [
            models.UniqueConstraint(
                fields=["recording", "channel"], name="track_one_speaker_per_channel"
            ),
            models.UniqueConstraint(
                fields=["recording", "speaker"], name="track_speaker_once_per_recording"
            ),
            models.CheckConstraint(
                condition=Q(audio_sha256="") | Q(audio_sha256__regex=SHA256_RE),
                name="track_audio_sha256_hex",
            ),
            models.CheckConstraint(
                condition=Q(audio_name="") | Q(audio_sha256__regex=SHA256_RE),
                name="track_audio_has_digest",
            ),
            models.CheckConstraint(
                condition=Q(audio_deleted_at__isnull=True) | Q(audio_name=""),
                name="track_deleted_audio_has_no_name",
            ),
        ]
        indexes = [models.Index(fields=["speaker", "recording"], name="track_speaker_idx")]
        triggers = [
            pgtrigger.Protect(
                name="track_fixed",
                operation=pgtrigger.Update,
                condition=pgtrigger.Condition(
                    _changed(("public_id", "recording_id", "channel", "speaker_id"))
                ),
            ),
            pgtrigger.Trigger(
                name="track_channel_within_recording",
                when=pgtrigger.Before,
                operation=pgtrigger.Insert | pgtrigger.Update,
                func=pgtrigger.Func(
                    """
                    IF NEW.channel >= (
                        SELECT channel_count FROM registry_recording
                        WHERE id = NEW.recording_id
                    ) THEN
                        RAISE EXCEPTION USING
                            ERRCODE = 'check_violation',
                            CONSTRAINT = 'track_channel_within_recording',
                            MESSAGE = format(
                                'track channel %s exceeds the channels of recording %s',
                                NEW.channel, NEW.recording_id);
                    END IF;
                    RETURN NEW;
                    """
                ),
            ),
            pgtrigger.Trigger(
                name="track_change_keeps_coverage",
                when=pgtrigger.After,
                operation=pgtrigger.Insert | pgtrigger.Update | pgtrigger.Delete,
                timing=pgtrigger.Deferred,
                func=pgtrigger.Func(
                    """
                    IF TG_OP <> 'INSERT' THEN
                        PERFORM registry_assert_tracks_cover_channels(OLD.recording_id);
                    END IF;
                    IF TG_OP <> 'DELETE' THEN
                        PERFORM registry_assert_tracks_cover_channels(NEW.recording_id);
                    END IF;
                    RETURN NULL;
                    """
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"Track {self.recording_id}:{self.channel}"


class Licensee(models.Model):
    """A third party that licenses dataset releases (dataset builders work for one)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    contact_email = models.EmailField(help_text="A role address, e.g. data-licensing@…")
    jurisdiction = models.CharField(max_length=8)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(jurisdiction__regex=JURISDICTION_RE), name="licensee_jurisdiction_iso"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class WithdrawalAction(models.TextChoices):
    """What a licensee's contract obliges it to do with a model when consent is withdrawn."""

    RETRAIN = "retrain", "Retrain without the withdrawn data"
    FILTER = "filter", "Filter outputs (e.g. block the voice)"
    NONE = "none", "No action (contract does not require one)"


class DerivedModelStatus(models.TextChoices):
    ACTIVE = "active", "In use, no withdrawal outstanding"
    FLAGGED = "flagged", "Trained on withdrawn data"
    RETRAINED = "retrained", "Retrained without the withdrawn data"
    FILTERED = "filtered", "Outputs filtered for the withdrawn voices"
    RETIRED = "retired", "No longer in use"


class DerivedModel(models.Model):
    """A model a licensee trained on releases; withdrawals are carried to it per contract."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    licensee = models.ForeignKey(Licensee, on_delete=models.PROTECT, related_name="derived_models")
    name = models.CharField(max_length=200)
    version = models.CharField(max_length=64)
    description = models.TextField(blank=True, default="")
    withdrawal_action = models.CharField(max_length=16, choices=WithdrawalAction.choices)
    contract_reference = models.CharField(max_length=200, blank=True, default="")
    trained_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(
        max_length=12, choices=DerivedModelStatus.choices, default=DerivedModelStatus.ACTIVE
    )
    # Set by propagation when a release it was trained on loses a speaker's consent.
    flagged_at = models.DateTimeField(null=True, blank=True)
    required_action = models.CharField(
        max_length=16, choices=WithdrawalAction.choices, blank=True, default=""
    )
    withdrawals_pending = models.PositiveIntegerField(
        default=0, help_text="Withdrawals carried to this model since it was last cleared."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["licensee_id", "name", "version"]
        constraints = [
            models.UniqueConstraint(
                fields=["licensee", "name", "version"], name="derived_model_unique_version"
            ),
            one_of("withdrawal_action", WithdrawalAction, "derived_model_action_known"),
            one_of("status", DerivedModelStatus, "derived_model_status_known"),
            models.CheckConstraint(
                condition=~Q(status="flagged") | Q(flagged_at__isnull=False),
                name="derived_model_flag_is_dated",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.version}"


class VoiceprintTemplate(models.Model):
    """A speaker's biometric template (voiceprint), kept in the "audio" storage. BIPA
    740 ILCS 14/15(a): destroyed when its purpose is met or 3 years after the last
    interaction, whichever is first, and at once when biometric consent is withdrawn.
    The row outlives the template as the record of its destruction (digest only)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    speaker = models.ForeignKey(Speaker, on_delete=models.PROTECT, related_name="voiceprints")
    storage_name = models.CharField(max_length=512, blank=True, default="")
    template_sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    last_interaction_at = models.DateTimeField()
    purpose_met_at = models.DateTimeField(null=True, blank=True)
    retention_until = models.DateTimeField()
    destroyed_at = models.DateTimeField(null=True, blank=True)
    destruction_reason = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        ordering = ["speaker_id", "created_at"]
        indexes = [
            models.Index(
                fields=["retention_until"],
                condition=Q(destroyed_at__isnull=True),
                name="voiceprint_due_idx",
            )
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(template_sha256__regex=SHA256_RE), name="voiceprint_sha256_hex"
            ),
            models.CheckConstraint(
                condition=(Q(destroyed_at__isnull=True) & ~Q(storage_name=""))
                | (Q(destroyed_at__isnull=False) & Q(storage_name="") & ~Q(destruction_reason="")),
                name="voiceprint_destroyed_has_no_object",
            ),
        ]
        triggers = [
            pgtrigger.Protect(name="voiceprint_not_deleted", operation=pgtrigger.Delete),
            pgtrigger.Protect(
                name="voiceprint_destruction_final",
                operation=pgtrigger.Update,
                condition=pgtrigger.Condition("OLD.destroyed_at IS NOT NULL"),
            ),
        ]

    def __str__(self) -> str:
        return f"Voiceprint {self.public_id}"


class WorkerHeartbeat(models.Model):
    """Last time a beat-scheduled task ran on a worker: proof the queue is consumed."""

    name = models.CharField(max_length=64, primary_key=True)
    beat_at = models.DateTimeField()
    hostname = models.CharField(max_length=255)

    def __str__(self) -> str:
        return f"{self.name} @ {self.beat_at:%Y-%m-%d %H:%M:%S}"


class TokenKind(models.TextChoices):
    LICENSEE = "licensee", "Licensee (dataset builders)"
    COLLECTOR = "collector", "Collection platform"
    STAFF = "staff", "Compliance staff scripts"


class TokenScope(models.TextChoices):
    READ_DATASETS = "datasets:read", "Read licensed datasets, releases, cards, manifests"
    READ_FEED = "feed:read", "Read the withdrawal feed"
    MANAGE_WEBHOOKS = "webhooks:manage", "Manage webhooks and acknowledge notices"
    MANAGE_MODELS = "models:manage", "Declare and update derived models"
    WRITE_CONSENT = "consent:write", "Record consent acts and sessions (collector)"
    INGEST = "recordings:ingest", "Ingest recordings (collector)"
    STAFF_READ = "staff:read", "Look up speakers and export events (staff)"


class ApiToken(models.Model):
    """A bearer token for the REST API: ``vcr_<prefix>_<secret>``. The prefix is shown
    (to find the token in lists and logs); the secret is shown once at issue and stored
    only as its SHA-256 (a 256-bit random secret needs no slow hash)."""

    prefix = models.CharField(max_length=16, unique=True)
    secret_sha256 = models.CharField(max_length=64)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=12, choices=TokenKind.choices)
    licensee = models.ForeignKey(
        Licensee, null=True, blank=True, on_delete=models.PROTECT, related_name="api_tokens"
    )
    scopes = ArrayField(models.CharField(max_length=32, choices=TokenScope.choices))
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    replaced_by = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="replaces"
    )

    class Meta:
        verbose_name = "API token"
        ordering = ["-created_at"]
        constraints = [
            one_of("kind", TokenKind, "token_kind_known"),
            models.CheckConstraint(
                condition=Q(secret_sha256__regex=SHA256_RE), name="token_secret_digest"
            ),
            models.CheckConstraint(
                condition=Q(scopes__len__gt=0) & Q(scopes__contained_by=TokenScope.values),
                name="token_scopes_known",
            ),
            models.CheckConstraint(
                condition=~Q(kind="licensee") | Q(licensee__isnull=False),
                name="token_licensee_names_its_licensee",
            ),
            models.CheckConstraint(
                condition=Q(expires_at__gt=models.F("created_at")), name="token_expires_later"
            ),
        ]

    def __str__(self) -> str:
        return f"token vcr_{self.prefix}_… ({self.name})"


class AccessAction(models.TextChoices):
    CONTACT_VIEWED = "contact_viewed", "Speaker contact details viewed (admin)"
    CONTACT_LOOKED_UP = "contact_looked_up", "Speaker contact details read (staff API)"
    EVENTS_EXPORTED = "events_exported", "Consent events exported"
    STATE_EXPORTED = "state_exported", "Current consent state exported"
    REPORT_GENERATED = "report_generated", "Compliance report generated"


class AccessLogEntry(models.Model):
    """The audit log of staff reads of personal data and of every export: who, when,
    from where, what (ids and filters only, never the personal data itself).
    Append-only: a trigger refuses updates and deletes."""

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    action = models.CharField(max_length=24, choices=AccessAction.choices)
    # The staff user's username at the time (kept if the account is later removed).
    actor = models.CharField(max_length=150)
    actor_kind = models.CharField(max_length=12, help_text="admin (a signed-in user) or token")
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    speaker = models.ForeignKey(
        Speaker, null=True, blank=True, on_delete=models.PROTECT, related_name="access_log"
    )
    reason = models.CharField(max_length=500, blank=True, default="")
    # Filters of an export, period of a report, row counts: never personal data.
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = "access log entry"
        verbose_name_plural = "access log"
        permissions = [("export_records", "Export consent records and compliance reports")]
        constraints = [one_of("action", AccessAction, "access_action_known")]
        triggers = [
            pgtrigger.Protect(name="access_log_append_only", operation=pgtrigger.Update),
            pgtrigger.Protect(name="access_log_not_deleted", operation=pgtrigger.Delete),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor} {self.action}"
