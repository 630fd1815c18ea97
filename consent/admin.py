"""Consent in the admin: the event log, states, rules and checkpoints are read-only for
everyone (the history is evidence); notices are published through the service."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import URLPattern, path

from consent.models import (
    AuditCheckpoint,
    ChainVerification,
    Consent,
    ConsentEvent,
    ConsentOutbox,
    ErasureRequest,
    RecordingSession,
    SessionParticipant,
)
from consent.selectors import PERSONAL_FIELDS
from consent.services.audit import request_chain_verification
from registry.admin import EmailSearch, ReadOnlyAdmin, ReadOnlyInline


@admin.register(ConsentEvent)
class ConsentEventAdmin(EmailSearch, ReadOnlyAdmin):
    email_index_lookup = "speaker__email_blind_index"

    list_display = [
        "seq",
        "occurred_at",
        "speaker_public_id",
        "purpose",
        "action",
        "state",
        "notice",
        "notice_language",
        "jurisdiction",
        "evidence_method",
        "actor_kind",
    ]
    list_filter = [
        "purpose",
        "action",
        "state",
        "jurisdiction",
        "notice_language",
        "notice__version",
        "evidence_method",
        "actor_kind",
    ]
    # Exact ids, or a speaker's email (through the blind index, see EmailSearch).
    search_fields = ["=public_id", "=speaker__public_id"]
    date_hierarchy = "occurred_at"
    list_select_related = ["speaker", "notice"]
    show_full_result_count = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[ConsentEvent]:
        # The speaker's encrypted columns are never loaded (nor decrypted) for the list.
        speaker_pii = [f"speaker__{name}" for name in PERSONAL_FIELDS]
        return super().get_queryset(request).defer(*speaker_pii)

    @admin.display(description="speaker")
    def speaker_public_id(self, event: ConsentEvent) -> str:
        return str(event.speaker.public_id)


@admin.register(Consent)
class ConsentAdmin(ReadOnlyAdmin):
    list_display = [
        "speaker",
        "purpose",
        "session",
        "state",
        "state_since",
        "given_at",
        "expires_at",
        "notice",
    ]
    list_filter = ["purpose", "state"]
    search_fields = ["=speaker__public_id"]
    list_select_related = ["speaker", "notice", "session"]


class ParticipantInline(ReadOnlyInline):
    model = SessionParticipant
    fields = ("channel", "speaker", "track")


@admin.register(RecordingSession)
class RecordingSessionAdmin(ReadOnlyAdmin):
    list_display = ["external_ref", "status", "jurisdiction", "language", "created_at", "recording"]
    list_filter = ["status", "jurisdiction"]
    search_fields = ["=external_ref", "=public_id"]
    inlines = [ParticipantInline]


@admin.register(ConsentOutbox)
class ConsentOutboxAdmin(ReadOnlyAdmin):
    list_display = ["id", "kind", "event", "erasure_request", "created_at", "published_at"]
    list_filter = ["kind"]


@admin.register(AuditCheckpoint)
class AuditCheckpointAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "seq", "event_count", "head_hash", "kid"]


@admin.register(ErasureRequest)
class ErasureRequestAdmin(ReadOnlyAdmin):
    list_display = ["public_id", "speaker", "status", "requested_at", "completed_at"]
    list_filter = ["status"]
    search_fields = ["=public_id", "=speaker__public_id"]


@admin.register(ChainVerification)
class ChainVerificationAdmin(ReadOnlyAdmin):
    """Runs of the audit-chain verification: staff with ``consent.verify_chain`` start
    one from this page (a Celery task; the list shows its progress and verdict), beside
    the latest signed checkpoints."""

    change_list_template = "admin/consent/chainverification/change_list.html"
    list_display = [
        "requested_at",
        "requested_by",
        "status",
        "progress",
        "events_checked",
        "head",
        "checkpoints_checked",
        "finished_at",
    ]
    list_filter = ["status"]
    readonly_fields = ["problems"]

    @admin.display(description="progress")
    def progress(self, verification: ChainVerification) -> str:
        return f"{verification.percent} %"

    @admin.display(description="head")
    def head(self, verification: ChainVerification) -> str:
        if not verification.head_hash:
            return "–"
        return f"#{verification.head_seq} {verification.head_hash[:16]}…"

    def get_urls(self) -> list[URLPattern]:
        verify = path(
            "verify/",
            self.admin_site.admin_view(self.verify_view),
            name="consent_chainverification_verify",
        )
        return [verify, *super().get_urls()]

    def verify_view(self, request: HttpRequest) -> HttpResponse:
        if request.method != "POST" or not request.user.has_perm("consent.verify_chain"):
            raise PermissionDenied
        verification = request_chain_verification(requested_by=request.user.get_username())
        self.message_user(request, f"Verification {verification.pk} started.")
        return redirect("admin:consent_chainverification_changelist")

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        context = {
            **(extra_context or {}),
            "can_verify": request.user.has_perm("consent.verify_chain"),
            "checkpoints": AuditCheckpoint.objects.order_by("-seq")[:5],
        }
        return super().changelist_view(request, extra_context=context)


# Notices and rules have their own module.
from consent import admin_notices  # noqa: E402, F401
