"""Consent in the admin: the event log, states, rules and checkpoints are read-only for
everyone (the history is evidence); notices are published through the service."""

from __future__ import annotations

import datetime
from typing import Any

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ERROR_FLAG, SEARCH_VAR, ChangeList
from django.core.exceptions import PermissionDenied
from django.db.models import F, QuerySet
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.shortcuts import redirect
from django.urls import URLPattern, path, reverse
from django.utils import timezone

from consent.exports import copy_chunks
from consent.models import (
    AuditCheckpoint,
    ChainVerification,
    Consent,
    ConsentAction,
    ConsentEvent,
    ConsentOutbox,
    ErasureRequest,
    EvidenceMethod,
    RecordingSession,
    SessionParticipant,
)
from consent.selectors import PERSONAL_FIELDS
from consent.services.audit import request_chain_verification
from consent.staff_selectors import EVENT_COLUMNS, copy_column
from registry.access_log import record_access
from registry.admin import EmailSearch, ReadOnlyAdmin, ReadOnlyInline
from registry.models import AccessAction
from registry.selectors import get_speaker_by_email


class _MatchingRows(ChangeList):
    """The changelist's filtered, searched queryset without its page: an export streams
    every matching row, so neither the page nor the result count is fetched."""

    def get_results(self, request: HttpRequest) -> None:
        pass


class CsvExportAdmin(ReadOnlyAdmin):
    """A read-only changelist with an "Export CSV" link: the rows matching the current
    filters and search, written by PostgreSQL (``COPY … TO STDOUT``) and streamed in
    chunks (``consent.exports.copy_chunks``), so memory stays flat for any table size.

    Only staff with ``registry.export_records`` (and view permission) may export; each
    export writes one access-log row with the filters (never personal data)."""

    # CSV column: path on the model (ids only: a speaker appears by public id).
    export_columns: dict[str, str] = {}
    # Columns written as RFC 3339 UTC with microseconds, as the staff API export does.
    export_timestamps: tuple[str, ...] = ()
    export_order = "pk"
    export_action: AccessAction
    export_filename = "export"

    def _export_url_name(self) -> str:
        return f"{self.opts.app_label}_{self.opts.model_name}_export"

    def get_urls(self) -> list[URLPattern]:
        export = path(
            "export/", self.admin_site.admin_view(self.export_view), name=self._export_url_name()
        )
        return [export, *super().get_urls()]

    def has_export_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request) and request.user.has_perm(
            "registry.export_records"
        )

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        match = request.resolver_match
        if match is not None and match.url_name == self._export_url_name():
            return _MatchingRows
        return super().get_changelist(request, **kwargs)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        context = {**(extra_context or {}), "can_export": self.has_export_permission(request)}
        return super().changelist_view(request, extra_context=context)

    def export_statement(self, rows: QuerySet[Any]) -> tuple[str, tuple[object, ...]]:
        """``COPY (…) TO STDOUT`` as CSV with a header row of ``rows`` (the changelist's
        queryset: its filters and search are the ORM's, parameters travel apart)."""
        columns = {f"x_{name}": F(source) for name, source in self.export_columns.items()}
        queryset = (
            rows.annotate(**columns, x__order=F(self.export_order))
            .values(*columns, "x__order")
            .order_by()
        )
        sql, params = queryset.query.sql_with_params()
        select = ", ".join(
            f"{copy_column(name, self.export_timestamps)} AS {name}" for name in self.export_columns
        )
        # Names are our constants; the inner SQL is the ORM's.
        statement = f"SELECT {select} FROM ({sql}) AS t ORDER BY t.x__order"  # noqa: S608
        return f"COPY ({statement}) TO STDOUT WITH (FORMAT csv, HEADER true)", tuple(params)

    def export_view(self, request: HttpRequest) -> HttpResponseBase:
        if not self.has_export_permission(request):
            raise PermissionDenied
        try:
            changelist = self.get_changelist_instance(request)
        except IncorrectLookupParameters:
            url = reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist")
            return HttpResponseRedirect(f"{url}?{ERROR_FLAG}=1")
        statement, params = self.export_statement(changelist.queryset)
        filters, speaker = self._logged_filters(request)
        record_access(
            request=request,
            action=self.export_action,
            speaker=speaker,
            detail={"filters": filters, "via": "admin", "format": "csv"},
        )
        response = StreamingHttpResponse(
            (bytes(chunk) for chunk in copy_chunks(statement, params)),
            content_type="text/csv; charset=utf-8",
        )
        stamp = timezone.now().astimezone(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
        filename = f"{self.export_filename}_{stamp}.csv"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response

    @staticmethod
    def _logged_filters(request: HttpRequest) -> tuple[dict[str, str], Any]:
        """The query as the access log keeps it. An email typed into the search is
        personal data: the log names the speaker it found instead (by its row)."""
        filters = {key: str(value) for key, value in request.GET.items()}
        term = filters.get(SEARCH_VAR, "").strip()
        if "@" not in term:
            return filters, None
        filters[SEARCH_VAR] = "(an email address: not logged, see the speaker)"
        return filters, get_speaker_by_email(email=term)


@admin.register(ConsentEvent)
class ConsentEventAdmin(EmailSearch, CsvExportAdmin):
    email_index_lookup = "speaker__email_blind_index"
    change_list_template = "admin/consent/consentevent/change_list.html"
    # The staff API export's columns (consent.staff_selectors), so both exports agree.
    export_columns = EVENT_COLUMNS
    export_timestamps = ("occurred_at", "recorded_at", "expires_at")
    export_order = "seq"
    export_action = AccessAction.EVENTS_EXPORTED
    export_filename = "consent-events"

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
        "evidence",
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
    # The change page shows the evidence as ``evidence`` (labelled by action and method).
    exclude = ["evidence_method"]
    readonly_fields = ["evidence"]
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

    @admin.display(description="evidence", ordering="evidence_method")
    def evidence(self, event: ConsentEvent) -> str:
        # By action and method: requests written before they had their own method
        # carry "system" and must not read as an expiry.
        label = event.evidence_label
        if (
            event.action == ConsentAction.REQUEST
            and event.evidence_method != EvidenceMethod.REQUEST
        ):
            # The stored value stays visible to auditors (it is in the hash chain).
            return f"{label} (stored method: {event.evidence_method})"
        return label

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        context = {
            **(extra_context or {}),
            "can_report": request.user.has_perm("registry.export_records"),
        }
        return super().changelist_view(request, extra_context=context)


@admin.register(Consent)
class ConsentAdmin(CsvExportAdmin):
    change_list_template = "admin/consent/consent/change_list.html"
    # One row per speaker x purpose x scope: the state now, the notice it rests on and
    # the event that set it. Ids only, like the event export.
    export_columns = {
        "speaker": "speaker__public_id",
        "jurisdiction": "speaker__jurisdiction",
        "purpose": "purpose",
        "session": "session__public_id",
        "recording": "recording__public_id",
        "state": "state",
        "given_at": "given_at",
        "state_since": "state_since",
        "expires_at": "expires_at",
        "notice_id": "notice__public_id",
        "notice_version": "notice__version",
        "notice_language": "notice__language",
        "notice_jurisdiction": "notice__jurisdiction_id",
        "last_event_seq": "last_event__seq",
        "last_event_id": "last_event__public_id",
    }
    export_timestamps = ("given_at", "state_since", "expires_at")
    export_action = AccessAction.STATE_EXPORTED
    export_filename = "consent-state"

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
    list_filter = ["purpose", "state", "speaker__jurisdiction", "notice__version"]
    search_fields = ["=speaker__public_id"]
    date_hierarchy = "state_since"
    list_select_related = ["speaker", "notice", "session"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Consent]:
        # The list shows speakers by public id (Speaker.__str__): never load their PII.
        speaker_pii = [f"speaker__{name}" for name in PERSONAL_FIELDS]
        return super().get_queryset(request).defer(*speaker_pii)


class ParticipantInline(ReadOnlyInline):
    model = SessionParticipant
    fields = ("channel", "speaker", "track", "closed_reason", "closed_at")


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
from consent import admin_notices, admin_rules  # noqa: E402, F401
