"""Datasets, releases and licenses in the admin: read-only here (they are created
through the services, which validate them; editing roles arrive with the compliance
admin). A built release is immutable in the database anyway."""

from __future__ import annotations

from django.contrib import admin

from datasetcards.models import Dataset, License, Release, ReleaseErratum
from registry.admin import ReadOnlyAdmin, ReadOnlyInline


@admin.register(Dataset)
class DatasetAdmin(ReadOnlyAdmin):
    list_display = ["slug", "name", "license_spdx", "commercial_redistribution", "created_at"]
    search_fields = ["slug", "name"]


class ErratumInline(ReadOnlyInline):
    model = ReleaseErratum
    fields = ("reason", "created_at")


@admin.register(Release)
class ReleaseAdmin(ReadOnlyAdmin):
    list_display = [
        "dataset",
        "version",
        "status",
        "recording_count",
        "track_count",
        "build_progress",
        "built_at",
    ]
    list_filter = ["status", "dataset"]
    search_fields = ["=public_id", "version"]
    exclude = ["card_figures"]
    inlines = [ErratumInline]


@admin.register(License)
class LicenseAdmin(ReadOnlyAdmin):
    list_display = ["licensee", "dataset", "starts_on", "ends_on", "derived_model_action"]
    list_filter = ["dataset", "derived_model_action"]
