"""Shapes of the withdrawal feed, webhooks, deliveries and derived models endpoints.
Input serializers validate shape only; the services decide what is allowed."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from consent.models import OutboxKind
from datasetcards.models import Release, ReleaseErratum
from propagation.feed import DEFAULT_LIMIT, MAX_LIMIT
from propagation.models import (
    NOTIFIED_KINDS,
    DeliveryAttempt,
    ModelStatusReport,
    PropagationTarget,
    TargetStatus,
    WebhookEndpoint,
)
from registry.api.fields import StringField
from registry.api.strict import StrictSerializer
from registry.models import DerivedModel, DerivedModelStatus, WithdrawalAction
from registry.services import REPORTABLE_MODEL_STATUSES

# Choice sets of their own, so the schema can name their enums (ENUM_NAME_OVERRIDES).
NOTICE_KINDS = [(kind.value, kind.label) for kind in NOTIFIED_KINDS]
REPORTED_MODEL_STATUSES = [(status.value, status.label) for status in REPORTABLE_MODEL_STATUSES]

# --- withdrawal feed --------------------------------------------------------------------


class FeedQuery(serializers.Serializer[Any]):
    after = serializers.IntegerField(
        min_value=0,
        max_value=2**63 - 1,  # seq is a bigint
        default=0,
        help_text="The `next_cursor` of your last read (an erratum's `seq`); 0 for the start.",
    )
    limit = serializers.IntegerField(
        min_value=1,
        max_value=MAX_LIMIT,
        default=DEFAULT_LIMIT,
        help_text=f"Entries per page, 1 to {MAX_LIMIT}.",
    )


class SignatureOut(serializers.Serializer[Any]):
    alg = serializers.CharField(help_text="Always `EdDSA` (Ed25519).")
    kid = serializers.CharField(help_text="The key in /.well-known/jwks.json that signed it.")
    value = serializers.CharField(help_text="The signature, base64url without padding.")


class StatementOut(serializers.Serializer[Any]):
    """Exactly what the signature covers (signed as RFC 8785 canonical JSON)."""

    erratum = serializers.UUIDField()
    release = serializers.UUIDField()
    reason = serializers.CharField()
    purpose = serializers.CharField(allow_blank=True, help_text="Empty for an erasure.")
    effective_at = serializers.CharField(allow_null=True, help_text="ISO 8601, as signed.")
    recording_ids = serializers.ListField(child=serializers.UUIDField())
    track_ids = serializers.ListField(child=serializers.UUIDField())


def _blank_as_null(value: str) -> str | None:
    return value or None


class FeedEntryOut(serializers.ModelSerializer[ReleaseErratum]):
    seq = serializers.IntegerField(help_text="Position in the feed; pass it as `after`.")
    id = serializers.UUIDField(source="public_id", help_text="The erratum.")
    release = serializers.UUIDField(source="release.public_id")
    dataset = serializers.CharField(source="release.dataset.slug")
    version = serializers.CharField(source="release.version")
    purpose = serializers.SerializerMethodField()
    recording_ids = serializers.ListField(child=serializers.UUIDField())
    track_ids = serializers.ListField(child=serializers.UUIDField())
    statement = serializers.SerializerMethodField()
    signature = SignatureOut()

    class Meta:
        model = ReleaseErratum
        fields = [
            "seq",
            "id",
            "release",
            "dataset",
            "version",
            "purpose",
            "effective_at",
            "reason",
            "recording_ids",
            "track_ids",
            "created_at",
            "statement",
            "signature",
        ]

    @extend_schema_field(
        serializers.CharField(allow_null=True, help_text="null for an erasure (every purpose).")
    )
    def get_purpose(self, erratum: ReleaseErratum) -> str | None:
        return _blank_as_null(erratum.purpose)

    @extend_schema_field(StatementOut)
    def get_statement(self, erratum: ReleaseErratum) -> dict[str, object]:
        return erratum.statement()


class FeedOut(serializers.Serializer[Any]):
    entries = FeedEntryOut(many=True)
    next_cursor = serializers.IntegerField(
        help_text="Pass as `after` next time (unchanged when there was nothing new)."
    )
    has_more = serializers.BooleanField(help_text="More entries are waiting after this page.")


# --- webhooks ---------------------------------------------------------------------------


class WebhookIn(StrictSerializer):
    url = StringField(
        max_length=500, help_text="An https URL on a public address (no credentials)."
    )


class WebhookOut(serializers.ModelSerializer[WebhookEndpoint]):
    id = serializers.UUIDField(source="public_id")

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id",
            "url",
            "is_active",
            "created_at",
            "rotated_at",
            "previous_secret_expires_at",
        ]


class WebhookSecretOut(WebhookOut):
    secret = serializers.CharField(
        help_text="The signing secret: shown in this response only, never again."
    )

    class Meta(WebhookOut.Meta):
        fields = [*WebhookOut.Meta.fields, "secret"]


class RotateIn(StrictSerializer):
    grace_hours = serializers.IntegerField(
        min_value=0,
        max_value=168,
        default=24,
        help_text="How long the old secret keeps signing too (0 to 168 hours).",
    )


class PingOut(serializers.Serializer[Any]):
    id = serializers.UUIDField(help_text="The ping's `id` and Idempotency-Key.")
    ok = serializers.BooleanField(help_text="The endpoint answered 2xx.")
    status_code = serializers.IntegerField(allow_null=True)
    latency_ms = serializers.IntegerField()
    error = serializers.CharField(
        allow_blank=True,
        help_text="Empty when ok; `HTTP <code>`, or the error class (e.g. `ConnectError`).",
    )


# --- deliveries -------------------------------------------------------------------------


class DeliveryQuery(serializers.Serializer[Any]):
    status = serializers.ChoiceField(
        choices=TargetStatus.choices, required=False, help_text="Only notices in this state."
    )
    kind = serializers.ChoiceField(
        choices=NOTICE_KINDS,
        required=False,
        help_text="license (to you as licensee) or derived_model (about one of your models).",
    )


class AttemptOut(serializers.ModelSerializer[DeliveryAttempt]):
    class Meta:
        model = DeliveryAttempt
        fields = ["number", "started_at", "outcome", "status_code", "latency_ms", "error"]


class DeliveryOut(serializers.ModelSerializer[PropagationTarget]):
    id = serializers.UUIDField(
        source="idempotency_key", help_text="The notice's `id` and Idempotency-Key."
    )
    kind = serializers.ChoiceField(choices=NOTICE_KINDS)
    status = serializers.ChoiceField(choices=TargetStatus.choices)
    cause = serializers.ChoiceField(source="propagation.kind", choices=OutboxKind.choices)
    purpose = serializers.SerializerMethodField()
    effective_at = serializers.DateTimeField(source="propagation.effective_at")
    license = serializers.UUIDField(source="license.public_id", allow_null=True, default=None)
    derived_model = serializers.UUIDField(
        source="derived_model.public_id", allow_null=True, default=None
    )
    last_attempt = serializers.SerializerMethodField()

    class Meta:
        model = PropagationTarget
        fields = [
            "id",
            "kind",
            "status",
            "cause",
            "purpose",
            "effective_at",
            "license",
            "derived_model",
            "attempts",
            "last_attempt",
            "created_at",
            "delivered_at",
            "ack_due_at",
            "ack_overdue_at",
            "acknowledged_at",
        ]

    @extend_schema_field(
        serializers.CharField(allow_null=True, help_text="null for an erasure (every purpose).")
    )
    def get_purpose(self, target: PropagationTarget) -> str | None:
        return _blank_as_null(target.propagation.purpose)

    @extend_schema_field(AttemptOut(allow_null=True))
    def get_last_attempt(self, target: PropagationTarget) -> dict[str, Any] | None:
        attempts = getattr(target, "last_attempts", None)
        if attempts is None:
            attempts = getattr(target, "all_attempts", [])[-1:]
        return AttemptOut(attempts[0]).data if attempts else None


class DeliveryDetailOut(DeliveryOut):
    attempt_log = AttemptOut(many=True, source="all_attempts", help_text="Oldest first.")

    class Meta(DeliveryOut.Meta):
        fields = [*DeliveryOut.Meta.fields, "attempt_log"]


class AcknowledgementOut(serializers.ModelSerializer[PropagationTarget]):
    id = serializers.UUIDField(source="idempotency_key")

    class Meta:
        model = PropagationTarget
        fields = ["id", "status", "acknowledged_at"]


# --- derived models ---------------------------------------------------------------------


class ModelIn(StrictSerializer):
    name = StringField(max_length=200)
    version = StringField(max_length=64)
    description = StringField(required=False, allow_blank=True, default="")
    contract_reference = StringField(max_length=200, required=False, allow_blank=True, default="")
    withdrawal_action = serializers.ChoiceField(
        choices=WithdrawalAction.choices,
        help_text="What your contract obliges when a speaker withdraws.",
    )
    trained_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    releases = serializers.ListField(
        child=serializers.UUIDField(),
        min_length=1,
        max_length=100,
        help_text="Ids of releases licensed to you that the model was trained on.",
    )


class ModelReleasesIn(StrictSerializer):
    releases = serializers.ListField(
        child=serializers.UUIDField(),
        min_length=1,
        max_length=100,
        help_text="Ids of releases licensed to you that the model was (re)trained on.",
    )


class ModelStatusIn(StrictSerializer):
    status = serializers.ChoiceField(
        choices=REPORTED_MODEL_STATUSES,
        help_text="Required: retrained or filtered (a flagged model), or retired (final).",
    )
    note = StringField(
        max_length=2000, required=False, allow_blank=True, default="", help_text="For the record."
    )


class ModelReleaseOut(serializers.ModelSerializer[Release]):
    id = serializers.UUIDField(source="public_id")
    dataset = serializers.CharField(source="dataset.slug")

    class Meta:
        model = Release
        fields = ["id", "dataset", "version"]


class ModelOut(serializers.ModelSerializer[DerivedModel]):
    id = serializers.UUIDField(source="public_id")
    status = serializers.ChoiceField(choices=DerivedModelStatus.choices)
    required_action = serializers.SerializerMethodField()
    releases = ModelReleaseOut(many=True, source="training_releases")

    class Meta:
        model = DerivedModel
        fields = [
            "id",
            "name",
            "version",
            "description",
            "contract_reference",
            "withdrawal_action",
            "trained_at",
            "status",
            "flagged_at",
            "required_action",
            "withdrawals_pending",
            "releases",
            "created_at",
        ]

    @extend_schema_field(
        serializers.ChoiceField(
            choices=WithdrawalAction.choices,
            allow_null=True,
            help_text="What to do about the withdrawals pending; null when none is.",
        )
    )
    def get_required_action(self, model: DerivedModel) -> str | None:
        return _blank_as_null(model.required_action)


class PendingNoticeOut(serializers.ModelSerializer[PropagationTarget]):
    id = serializers.UUIDField(source="idempotency_key", help_text="See deliveries/{id}/.")
    cause = serializers.ChoiceField(source="propagation.kind", choices=OutboxKind.choices)
    effective_at = serializers.DateTimeField(source="propagation.effective_at")

    class Meta:
        model = PropagationTarget
        fields = ["id", "status", "cause", "effective_at", "delivered_at", "ack_due_at"]


class ModelReportOut(serializers.ModelSerializer[ModelStatusReport]):
    id = serializers.UUIDField(source="public_id")

    class Meta:
        model = ModelStatusReport
        fields = [
            "id",
            "status",
            "note",
            "reported_at",
            "withdrawals_cleared",
            "acknowledged_notices",
        ]


class ModelDetailOut(ModelOut):
    pending_notices = serializers.SerializerMethodField()
    last_report = serializers.SerializerMethodField()

    class Meta(ModelOut.Meta):
        fields = [*ModelOut.Meta.fields, "pending_notices", "last_report"]

    @extend_schema_field(PendingNoticeOut(many=True))
    def get_pending_notices(self, model: DerivedModel) -> Any:
        return PendingNoticeOut(self.context.get("pending_notices", []), many=True).data

    @extend_schema_field(ModelReportOut(allow_null=True))
    def get_last_report(self, model: DerivedModel) -> Any:
        report = self.context.get("last_report")
        return ModelReportOut(report).data if report is not None else None
