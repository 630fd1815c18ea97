"""Shapes of the collection platform's API. Shape only: every rule is the services'.
Nothing here echoes personal data back (names, email, phone, date of birth, signed
names and addresses go in, ids and states come out)."""

from __future__ import annotations

import datetime
from typing import Any

from django.core.validators import RegexValidator
from drf_spectacular.utils import inline_serializer
from rest_framework import serializers

from consent.models import (
    ConsentAction,
    ConsentEvent,
    ConsentNotice,
    ConsentState,
    EvidenceMethod,
    ParticipantClosedReason,
    Purpose,
    SessionStatus,
)
from consent.rules import AFFIRMATIVE_METHODS
from registry.api.fields import SlugStringField, StringField
from registry.api.strict import StrictSerializer
from registry.models import (
    JURISDICTION_RE,
    LANGUAGE_RE,
    MAX_CHANNELS,
    SHA256_RE,
    AgeVerificationMethod,
    RecordingStatus,
)

jurisdiction_shape = RegexValidator(JURISDICTION_RE, "an ISO 3166 code such as US-IL, DE or JP")
language_shape = RegexValidator(LANGUAGE_RE, "a BCP 47 language tag such as en, ja or pt-BR")
sha256_shape = RegexValidator(SHA256_RE, "64 lowercase hex digits")


class AwareDateTimeField(serializers.DateTimeField):
    """An ISO 8601 moment that names its offset (``Z`` or ``+09:00``): a bare local time
    is ambiguous evidence, so it is refused rather than guessed."""

    default_error_messages = {
        "naive": "Include a time zone offset (e.g. 2026-03-01T10:00:00Z).",
    }

    def enforce_timezone(self, value: datetime.datetime) -> datetime.datetime:
        if value.tzinfo is None:
            self.fail("naive")
        return super().enforce_timezone(value)


def jurisdiction_field(**kwargs: Any) -> serializers.CharField:
    return StringField(max_length=8, validators=[jurisdiction_shape], **kwargs)


def language_field(**kwargs: Any) -> serializers.CharField:
    return StringField(max_length=35, validators=[language_shape], **kwargs)


# --- Speakers ----------------------------------------------------------------------


class SpeakerIn(StrictSerializer):
    name = StringField(max_length=200, help_text="Encrypted at rest; never returned.")
    jurisdiction = jurisdiction_field(help_text="Where the speaker lives.")
    preferred_language = language_field()
    email = serializers.EmailField(
        required=False, allow_null=True, allow_blank=True, max_length=254
    )
    phone = StringField(required=False, allow_null=True, allow_blank=True, max_length=50)
    date_of_birth = serializers.DateField(
        required=False,
        allow_null=True,
        help_text="1900-01-01 to today. Required with `date_of_birth`; beside an attestation "
        "it is checked against it (fewer years than attested: 400 "
        "`age_contradicts_attestation`) and kept; refused with `unverified`.",
    )
    age_verification_method = serializers.ChoiceField(
        choices=AgeVerificationMethod.choices, default=AgeVerificationMethod.UNVERIFIED
    )
    age_attested_minimum = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=150
    )


class SpeakerOut(serializers.Serializer[Any]):
    id = serializers.UUIDField(source="public_id", read_only=True)


class ConsentNow(serializers.Serializer[Any]):
    purpose = serializers.ChoiceField(choices=Purpose.choices)
    state = serializers.ChoiceField(
        choices=ConsentState.choices, allow_null=True, help_text="null: never asked."
    )
    in_force = serializers.BooleanField()
    given_at = serializers.DateTimeField(allow_null=True)
    state_since = serializers.DateTimeField(allow_null=True)
    expires_at = serializers.DateTimeField(allow_null=True)
    notice = serializers.UUIDField(allow_null=True, help_text="The notice it was given under.")
    notice_version = serializers.IntegerField(allow_null=True)
    last_event = serializers.UUIDField(allow_null=True)


class SpeakerConsentsOut(serializers.Serializer[Any]):
    speaker = serializers.UUIDField()
    consents = ConsentNow(many=True, help_text="One entry per purpose (all recordings).")


# --- Notices -----------------------------------------------------------------------


class NoticeQuery(serializers.Serializer[Any]):
    jurisdiction = jurisdiction_field(help_text="Where the speaker lives, e.g. US-IL.")
    language = language_field(help_text="The language the speaker reads, e.g. en or ja.")
    purpose = serializers.ChoiceField(
        choices=Purpose.choices, required=False, help_text="Only this purpose (default: all)."
    )


class NoticeOut(serializers.ModelSerializer[ConsentNotice]):
    id = serializers.UUIDField(source="public_id", read_only=True)
    jurisdiction = serializers.CharField(source="jurisdiction_id", read_only=True)

    class Meta:
        model = ConsentNotice
        fields = [
            "id",
            "purpose",
            "jurisdiction",
            "language",
            "version",
            "title",
            "body",
            "allows",
            "does_not_allow",
            "retention_schedule",
            "text_sha256",
        ]


class NoticeMissing(serializers.Serializer[Any]):
    purpose = serializers.ChoiceField(choices=Purpose.choices)
    code = serializers.CharField()
    detail = serializers.CharField()


class NoticesOut(serializers.Serializer[Any]):
    results = NoticeOut(many=True)
    unavailable = NoticeMissing(
        many=True, help_text="Purposes with no notice to show here (do not ask for them)."
    )


# --- Consent acts ------------------------------------------------------------------


# What a person can do (``system`` only ever records an expiry).
EVIDENCE_METHODS = [(m.value, m.label) for m in EvidenceMethod if m in AFFIRMATIVE_METHODS]


class EvidenceIn(StrictSerializer):
    method = serializers.ChoiceField(choices=EVIDENCE_METHODS)
    document_sha256 = StringField(
        required=False,
        allow_blank=True,
        validators=[sha256_shape],
        help_text="Digest of the recorded phrase or scanned form (spoken_phrase, signed_paper).",
    )
    signed_name = StringField(
        required=False,
        allow_blank=True,
        max_length=200,
        help_text="The typed name (web_form_signed); encrypted at rest, never returned.",
    )
    occurred_at = AwareDateTimeField(required=False, allow_null=True)
    ip_address = serializers.IPAddressField(
        required=False, allow_blank=True, help_text="Stored only as a keyed hash."
    )
    user_agent = StringField(
        required=False, allow_blank=True, max_length=500, help_text="Stored only as a keyed hash."
    )


ACTIONS = [
    ConsentAction.GIVE,
    ConsentAction.REFUSE,
    ConsentAction.WITHDRAW,
    ConsentAction.RENEW,
]


class ConsentActIn(StrictSerializer):
    action = serializers.ChoiceField(choices=[(a.value, a.label) for a in ACTIONS])
    purpose = serializers.ChoiceField(choices=Purpose.choices)
    notice = serializers.UUIDField(
        required=False,
        allow_null=True,
        help_text="The notice the speaker answered (give, refuse, renew).",
    )
    session = serializers.UUIDField(
        required=False, allow_null=True, help_text="Scope the act to one recording session."
    )
    evidence = EvidenceIn()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["action"] != ConsentAction.WITHDRAW and not attrs.get("notice"):
            raise serializers.ValidationError(
                {"notice": ["required to give, refuse or renew: the notice the speaker read"]}
            )
        return attrs


class EventOut(serializers.Serializer[ConsentEvent]):
    id = serializers.UUIDField(source="public_id")
    seq = serializers.IntegerField()
    purpose = serializers.ChoiceField(choices=Purpose.choices)
    action = serializers.ChoiceField(choices=ConsentAction.choices)
    state = serializers.ChoiceField(choices=ConsentState.choices)
    session = serializers.UUIDField(source="session.public_id", allow_null=True)
    notice = serializers.UUIDField(source="notice.public_id")
    occurred_at = serializers.DateTimeField()
    recorded_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(allow_null=True)
    receipt = serializers.SerializerMethodField(
        help_text="The signed consent receipt issued with the event (hand it to the speaker)."
    )

    def get_receipt(self, event: ConsentEvent) -> dict[str, Any] | None:
        receipt: dict[str, Any] | None = self.context.get("receipts", {}).get(event.pk)
        return receipt


class VoiceprintDestructionOut(serializers.Serializer[Any]):
    templates = serializers.IntegerField(help_text="Voiceprint templates being destroyed.")
    destroyed_by = serializers.DateTimeField(
        allow_null=True,
        help_text="Destroyed by then at the latest (deletion starts at once); null when "
        "there is no template to destroy.",
    )


class ConsentActOut(serializers.Serializer[Any]):
    speaker = serializers.UUIDField()
    purpose = serializers.ChoiceField(choices=Purpose.choices)
    action = serializers.ChoiceField(choices=ConsentAction.choices)
    session = serializers.UUIDField(allow_null=True)
    state = serializers.ChoiceField(
        choices=ConsentState.choices,
        allow_null=True,
        help_text="The state of the requested scope after the act.",
    )
    event_id = serializers.UUIDField(
        allow_null=True, help_text="The event for the requested scope (null: nothing changed)."
    )
    seq = serializers.IntegerField(allow_null=True, help_text="Its place in the event chain.")
    receipt_id = serializers.UUIDField(
        allow_null=True, help_text="The receipt's consentReceiptID (the event id)."
    )
    events = EventOut(
        many=True,
        help_text="Every event the act wrote (a withdrawal without a session also withdraws "
        "the purpose's session-scoped consents).",
    )
    voiceprint_destruction = VoiceprintDestructionOut(
        allow_null=True,
        help_text="A biometric withdrawal for all recordings: the speaker's voiceprints it "
        "destroys and by when at the latest (tell the speaker); null for any other act.",
    )


# --- Sessions ----------------------------------------------------------------------


class ParticipantIn(StrictSerializer):
    channel = serializers.IntegerField(min_value=0, max_value=MAX_CHANNELS - 1)
    speaker = serializers.UUIDField()


class SessionIn(StrictSerializer):
    external_ref = StringField(max_length=200, help_text="The platform's call id.")
    jurisdiction = jurisdiction_field(help_text="Where the call takes place.")
    language = language_field()
    participants = serializers.ListField(
        child=ParticipantIn(), min_length=2, max_length=MAX_CHANNELS
    )
    campaign = SlugStringField(required=False, allow_null=True, max_length=80)
    invite_valid_for_hours = serializers.IntegerField(
        required=False, min_value=1, max_value=720, default=168
    )

    def validate_participants(self, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        channels = sorted(p["channel"] for p in value)
        if channels != list(range(len(value))):
            raise serializers.ValidationError("channels must be 0..n-1, each once")
        if len({p["speaker"] for p in value}) != len(value):
            raise serializers.ValidationError("each speaker on one channel only")
        return sorted(value, key=lambda p: p["channel"])


class SessionParticipantOut(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    channel = serializers.IntegerField()
    speaker = serializers.UUIDField()
    invitation_url = serializers.URLField(
        help_text="The participant's own link to consent before the call: a secret for "
        "them alone; deliver it, do not log or store it."
    )


class SessionOut(serializers.Serializer[Any]):
    id = serializers.UUIDField(source="public_id")
    external_ref = serializers.CharField()
    jurisdiction = serializers.CharField()
    language = serializers.CharField()
    status = serializers.ChoiceField(choices=SessionStatus.choices)
    invite_expires_at = serializers.DateTimeField()
    participants = SessionParticipantOut(many=True)


class ParticipantClearanceOut(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    channel = serializers.IntegerField()
    speaker = serializers.UUIDField()
    consented = serializers.BooleanField()
    consented_at = serializers.DateTimeField(allow_null=True)
    missing = serializers.ListField(
        child=serializers.ChoiceField(choices=Purpose.choices),
        help_text="What this participant has yet to give before the call (e.g. recording).",
    )
    erased = serializers.BooleanField(
        help_text="The participant asked for erasure: they can never consent to this call."
    )
    blocked = serializers.ChoiceField(
        choices=ParticipantClosedReason.choices,
        allow_null=True,
        help_text="Why this participant can never consent to this call (under_age: their "
        "answer on the invitation was below the minimum age; erased), else null. A blocked "
        "participant has nothing missing, yet the session never clears.",
    )


class ClearanceOut(serializers.Serializer[Any]):
    session = serializers.UUIDField()
    status = serializers.ChoiceField(choices=SessionStatus.choices)
    cleared = serializers.BooleanField(help_text="Every participant's recording consent is in.")
    blocked = serializers.BooleanField(
        help_text="A participant can never consent (see their `blocked`): this session can "
        "never clear; open a new one without them."
    )
    checked_at = serializers.DateTimeField()
    participants = ParticipantClearanceOut(many=True)


# --- Recordings --------------------------------------------------------------------


class TrackIn(StrictSerializer):
    channel = serializers.IntegerField(min_value=0, max_value=MAX_CHANNELS - 1)
    speaker = serializers.UUIDField()


class RecordingIn(StrictSerializer):
    session = serializers.UUIDField(help_text="The cleared session the call was made in.")
    external_ref = StringField(max_length=200)
    recorded_at = AwareDateTimeField()
    duration_ms = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    sample_rate_hz = serializers.IntegerField(min_value=8000, max_value=192_000)
    channel_count = serializers.IntegerField(min_value=1, max_value=MAX_CHANNELS)
    isolated_at_source = serializers.BooleanField(
        help_text="Each speaker was captured on their own channel, not separated afterwards."
    )
    language = language_field(required=False, help_text="Default and must-match: the session's.")
    jurisdiction = jurisdiction_field(
        required=False, help_text="Default and must-match: the session's."
    )
    audio_uri = StringField(required=False, allow_blank=True, max_length=1024)
    audio_sha256 = StringField(required=False, allow_blank=True, validators=[sha256_shape])
    tracks = serializers.ListField(child=TrackIn(), min_length=1, max_length=MAX_CHANNELS)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if bool(attrs.get("audio_uri", "").strip()) != bool(attrs.get("audio_sha256")):
            raise serializers.ValidationError(
                {"audio_sha256": ["audio_uri and audio_sha256 come together (or neither)"]}
            )
        return attrs


class TrackOut(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    channel = serializers.IntegerField()
    speaker = serializers.UUIDField()


class RecordingOut(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    external_ref = serializers.CharField()
    session = serializers.UUIDField()
    status = serializers.ChoiceField(choices=RecordingStatus.choices)
    recorded_at = serializers.DateTimeField()
    channel_count = serializers.IntegerField()
    tracks = TrackOut(many=True)


class BulkLineOut(serializers.Serializer[Any]):
    line = serializers.IntegerField()
    id = serializers.UUIDField()
    external_ref = serializers.CharField()


class BulkOut(serializers.Serializer[Any]):
    count = serializers.IntegerField()
    recordings = BulkLineOut(many=True)


# For the schema only (a field named ``errors`` cannot live on a real serializer class).
LineProblem = inline_serializer(
    name="LineProblem",
    fields={
        "line": serializers.IntegerField(help_text="1-based line number in the upload."),
        "code": serializers.CharField(),
        "status": serializers.IntegerField(help_text="What this line alone would answer."),
        "detail": serializers.CharField(),
        "field": serializers.CharField(required=False),
        "errors": serializers.DictField(required=False, help_text="Per-field shape errors."),
    },
)
BatchProblem = inline_serializer(
    name="BatchProblem",
    fields={
        "type": serializers.CharField(default="about:blank"),
        "title": serializers.CharField(),
        "status": serializers.IntegerField(),
        "code": serializers.CharField(help_text="`batch_rejected`."),
        "detail": serializers.CharField(),
        "lines": serializers.ListField(child=LineProblem, help_text="Every rejected line."),
    },
)
