"""Catalogue admin. Speakers and recordings are written only through services (the
collection platform's API, ``seed_demo``), so here they are read-only; list views never
show decrypted personal data."""

from __future__ import annotations

import datetime
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from registry import pii, tokens
from registry.errors import InvalidInput
from registry.models import (
    AccessLogEntry,
    ApiToken,
    DerivedModel,
    Licensee,
    Recording,
    Speaker,
    TokenScope,
    Track,
    WorkerHeartbeat,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class EmailSearch:
    """Admin search that also finds a speaker by email: exact and normalised, through
    the blind index (the encrypted column is never decrypted nor matched by pattern).
    ``email_index_lookup`` is the path to the speaker's blind index."""

    email_index_lookup = "email_blind_index"

    def get_search_results(
        self, request: HttpRequest, queryset: Any, search_term: str
    ) -> tuple[Any, bool]:
        term = search_term.strip()
        if "@" in term:
            index = pii.email_blind_index(term)
            return queryset.filter(**{self.email_index_lookup: index}), False
        return super().get_search_results(request, queryset, search_term)  # type: ignore[misc]


@admin.register(Speaker)
class SpeakerAdmin(EmailSearch, ReadOnlyAdmin):
    list_display = [
        "public_id",
        "jurisdiction",
        "preferred_language",
        "age_verification_method",
        "created_at",
        "erased_at",
    ]
    list_filter = ["jurisdiction", "preferred_language", "age_verification_method"]
    search_fields = ["=public_id"]
    # Personal data stays off this page; the audited speaker page shows it.
    exclude = ["name", "email", "phone", "date_of_birth"]
    readonly_fields = ["public_id", "email_blind_index", "created_at", "updated_at"]


class ReadOnlyInline(admin.TabularInline):
    """Rows shown beside their parent, never added, changed or removed here."""

    extra = 0
    can_delete = False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.fields or ()

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class TrackInline(ReadOnlyInline):
    model = Track
    fields = ("channel", "speaker", "public_id")


@admin.register(Recording)
class RecordingAdmin(ReadOnlyAdmin):
    list_display = [
        "external_ref",
        "recorded_at",
        "duration_ms",
        "channel_count",
        "language",
        "jurisdiction",
        "isolated_at_source",
        "status",
    ]
    list_filter = ["status", "jurisdiction", "language", "isolated_at_source", "sample_rate_hz"]
    search_fields = ["=external_ref", "=public_id"]
    date_hierarchy = "recorded_at"
    inlines = [TrackInline]


@admin.register(Licensee)
class LicenseeAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "jurisdiction", "is_active", "created_at"]
    list_filter = ["is_active", "jurisdiction"]
    search_fields = ["name", "slug"]
    readonly_fields = ["public_id", "created_at"]


@admin.register(DerivedModel)
class DerivedModelAdmin(admin.ModelAdmin):
    list_display = ["name", "version", "licensee", "withdrawal_action", "trained_at"]
    list_filter = ["withdrawal_action", "licensee"]
    search_fields = ["name", "contract_reference"]
    readonly_fields = ["public_id", "created_at"]


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(ReadOnlyAdmin):
    list_display = ["name", "beat_at", "hostname"]


class ApiTokenForm(forms.ModelForm):
    """Issuing a token: the secret is generated and shown once, never typed."""

    scopes = forms.MultipleChoiceField(choices=TokenScope.choices)
    lifetime_days = forms.IntegerField(min_value=1, max_value=366, initial=90)

    class Meta:
        model = ApiToken
        fields = ["name", "kind", "licensee"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        try:
            tokens.check_token_request(
                name=data.get("name", ""),
                kind=data.get("kind", ""),
                scopes=list(data.get("scopes", [])),
                licensee=data.get("licensee"),
                lifetime=datetime.timedelta(days=data.get("lifetime_days") or 0),
            )
        except InvalidInput as exc:
            field = {"lifetime": "lifetime_days"}.get(exc.field or "", exc.field)
            self.add_error(field if field in self.fields else None, exc.detail)
        return data


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Issue (secret shown once), revoke and rotate API tokens; the secret's digest and
    every other field are read-only once issued."""

    form = ApiTokenForm
    list_display = [
        "prefix",
        "name",
        "kind",
        "licensee",
        "scopes",
        "expires_at",
        "revoked_at",
        "last_used_at",
    ]
    list_filter = ["kind", "revoked_at"]
    search_fields = ["=prefix", "name"]
    actions = ["revoke", "rotate"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        if obj is None:
            return []
        return [f.name for f in ApiToken._meta.fields]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: ApiToken, form: Any, change: bool) -> None:
        issued = tokens.issue_api_token(
            name=form.cleaned_data["name"],
            kind=form.cleaned_data["kind"],
            scopes=form.cleaned_data["scopes"],
            licensee=form.cleaned_data["licensee"],
            lifetime=datetime.timedelta(days=form.cleaned_data["lifetime_days"]),
        )
        obj.pk = issued.token.pk
        self.message_user(
            request,
            f"Token issued. Copy it now, it is not shown again: {issued.secret}",
            messages.WARNING,
        )

    @admin.action(description="Revoke the selected tokens now")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        for token in queryset:
            tokens.revoke_api_token(token=token)
        self.message_user(request, f"{queryset.count()} token(s) revoked.")

    @admin.action(description="Rotate the selected tokens (old ones work 24 more hours)")
    def rotate(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        for token in queryset:
            issued = tokens.rotate_api_token(token=token, overlap=datetime.timedelta(hours=24))
            self.message_user(
                request,
                f"{token.prefix} rotated; the new token (shown once): {issued.secret}",
                messages.WARNING,
            )


@admin.register(AccessLogEntry)
class AccessLogEntryAdmin(ReadOnlyAdmin):
    """Who read personal data or exported records: append-only, read by officers."""

    list_display = [
        "at",
        "actor",
        "actor_kind",
        "action",
        "speaker_public_id",
        "reason",
        "ip_address",
    ]
    list_filter = ["action", "actor_kind"]
    search_fields = ["=actor", "=speaker__public_id"]
    date_hierarchy = "at"
    list_select_related = ["speaker"]
    readonly_fields = ["detail"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[AccessLogEntry]:
        return (
            super()
            .get_queryset(request)
            .defer("speaker__name", "speaker__email", "speaker__phone", "speaker__date_of_birth")
        )

    @admin.display(description="speaker")
    def speaker_public_id(self, entry: AccessLogEntry) -> str:
        return str(entry.speaker.public_id) if entry.speaker else "–"
