"""Catalogue admin. Speakers and recordings are written only through services (the
collection platform's API, ``seed_demo``), so here they are read-only; list views never
show decrypted personal data."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from registry.models import DerivedModel, Licensee, Recording, Speaker, Track, WorkerHeartbeat


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Speaker)
class SpeakerAdmin(ReadOnlyAdmin):
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
