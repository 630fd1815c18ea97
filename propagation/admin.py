"""Propagation for staff: every withdrawal with its targets, per-target status and
attempt log, filters for failed / dead / overdue, and a retry action. History is
read-only; the only write is a retry (through the service)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse

from propagation import selectors, services
from propagation.models import (
    REACHED_STATUSES,
    AudioTombstone,
    DeliveryAttempt,
    Propagation,
    PropagationTarget,
    TargetKind,
    TargetStatus,
    WebhookEndpoint,
)
from registry.admin import ReadOnlyAdmin, ReadOnlyInline


def _target_object(obj: PropagationTarget) -> str:
    """What an audio target destroys: whose channel, and why when it is a partner's."""
    if obj.kind != TargetKind.AUDIO or obj.track is None:
        return ""
    where = f"recording {obj.track.recording.public_id}, channel {obj.track.channel}"
    if services.is_partner_channel(obj):
        return f"{where}: partner channel (call not isolated at source, carries the voice too)"
    return f"{where}: the speaker's own channel"


class TargetInline(ReadOnlyInline):
    model = PropagationTarget
    fields = (
        "kind",
        "audio_object",
        "status",
        "attempts",
        "delivered_at",
        "acknowledged_at",
        "last_error",
    )
    show_change_link = True

    def get_queryset(self, request: HttpRequest) -> QuerySet[PropagationTarget]:
        return super().get_queryset(request).select_related("propagation", "track__recording")

    @admin.display(description="audio object")
    def audio_object(self, obj: PropagationTarget) -> str:
        return _target_object(obj)


@admin.register(Propagation)
class PropagationAdmin(ReadOnlyAdmin):
    list_display = ["public_id", "kind", "purpose", "status", "reached", "created_at"]
    list_filter = ["status", "kind", "purpose"]
    search_fields = ["=public_id", "=speaker__public_id"]
    inlines = [TargetInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Propagation]:
        return (
            super()
            .get_queryset(request)
            .annotate(
                n_targets=Count("targets"),
                n_reached=Count("targets", filter=Q(targets__status__in=REACHED_STATUSES)),
            )
        )

    @admin.display(description="reached")
    def reached(self, obj: Any) -> str:
        return f"{obj.n_reached} of {obj.n_targets}"


class AttemptInline(ReadOnlyInline):
    model = DeliveryAttempt
    fields = ("number", "started_at", "outcome", "status_code", "latency_ms", "error", "worker")


class OverdueFilter(admin.SimpleListFilter):
    title = "acknowledgement"
    parameter_name = "ack"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("overdue", "Overdue"), ("awaiting", "Awaiting")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "overdue":
            return queryset.filter(selectors.OVERDUE_ACK)
        if self.value() == "awaiting":
            return queryset.filter(status=TargetStatus.DELIVERED)
        return queryset


@admin.register(PropagationTarget)
class PropagationTargetAdmin(ReadOnlyAdmin):
    change_list_template = "admin/propagation/propagationtarget/change_list.html"
    list_display = [
        "idempotency_key",
        "kind",
        "status",
        "attempts",
        "next_attempt_at",
        "delivered_at",
        "ack_due_at",
        "ack_overdue_at",
        "last_error",
    ]
    list_filter = ["status", "kind", OverdueFilter]
    search_fields = ["=idempotency_key", "=propagation__public_id"]
    readonly_fields = ["audio_object"]
    inlines = [AttemptInline]
    actions = ["retry"]

    @admin.display(description="audio object")
    def audio_object(self, obj: PropagationTarget) -> str:
        return _target_object(obj)

    @admin.action(description="Retry the selected failed or dead targets", permissions=["retry"])
    def retry(self, request: HttpRequest, queryset: QuerySet[PropagationTarget]) -> None:
        count = services.retry_targets(target_ids=queryset.values_list("pk", flat=True))
        self.message_user(
            request,
            f"{count} target(s) queued again; targets not failed or dead were left alone.",
            messages.SUCCESS if count else messages.WARNING,
        )

    def has_retry_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("propagation.retry_propagationtarget")

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        context = {**(extra_context or {}), "backlog": selectors.propagation_backlog()}
        return super().changelist_view(request, extra_context=context)


@admin.register(AudioTombstone)
class AudioTombstoneAdmin(ReadOnlyAdmin):
    list_display = ["track", "audio_sha256", "deleted_at", "verified_absent", "reason"]
    search_fields = ["=track__public_id", "=audio_sha256"]


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ReadOnlyAdmin):
    list_display = ["licensee", "url", "is_active", "created_at", "rotated_at"]
    list_filter = ["is_active"]
    exclude = ["secret", "previous_secret"]


from propagation import admin_reports  # noqa: E402, F401 - the compliance report page
