"""Datasets, immutable releases and licenses.

A ``Release`` freezes, at creation, the tracks eligible for *all* of its dataset's
purposes (``ReleaseItem`` rows, written once by a set-based INSERT … SELECT) and the
figures its card shows (``card_figures``). Triggers keep it that way: items are never
updated or deleted, and a built release changes only its status (and gains errata,
appended in their own table by propagation).
"""

from __future__ import annotations

import uuid

import pgtrigger
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q

from consent.models import Purpose
from registry.models import (
    SHA256_RE,
    Licensee,
    Recording,
    Track,
    WithdrawalAction,
    one_of,
)

SEMVER_RE = r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?$"


class TrainingPhase(models.TextChoices):
    PRE = "pre", "Pre-training"
    MID = "mid", "Mid-training"
    POST = "post", "Post-training"


class IpStatus(models.TextChoices):
    COPYRIGHTED = "copyrighted", "Contains copyrighted material"
    PUBLIC_DOMAIN = "public_domain", "Entirely public domain"
    MIXED = "mixed", "Both"


class Acquisition(models.TextChoices):
    COLLECTED = "collected", "Collected first-party, with each speaker's consent"
    PURCHASED = "purchased", "Purchased"
    LICENSED = "licensed", "Licensed from a third party"


class Dataset(models.Model):
    """A corpus definition: what it is for, under which license, selected how."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    slug = models.SlugField(max_length=80, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField()
    purpose_statement = models.TextField(
        help_text="How the data furthers the intended purpose (AB-2013 item 2)."
    )
    intended_purposes = ArrayField(
        models.CharField(max_length=16, choices=Purpose.choices),
        help_text="Consent purposes every participant must have given for a use.",
    )
    license_spdx = models.CharField(
        "license (SPDX id)", max_length=64, help_text="An SPDX id, or 'other' with a document."
    )
    license_name = models.CharField(max_length=200, blank=True, default="")
    license_url = models.URLField(blank=True, default="")
    license_document = models.TextField(blank=True, default="")
    commercial_redistribution = models.BooleanField(default=False)
    phase_fit = ArrayField(models.CharField(max_length=4, choices=TrainingPhase.choices))
    # Selection criteria (all must hold).
    languages = ArrayField(models.CharField(max_length=35), blank=True, default=list)
    jurisdictions = ArrayField(models.CharField(max_length=8), blank=True, default=list)
    min_duration_ms = models.PositiveBigIntegerField(null=True, blank=True)
    isolated_at_source_only = models.BooleanField(default=True)
    recorded_from = models.DateTimeField(null=True, blank=True)
    recorded_before = models.DateTimeField(null=True, blank=True)
    collection_ongoing = models.BooleanField(default=True)
    owner = models.CharField(max_length=200, help_text="Who owns and publishes the corpus.")
    redress_contact = models.CharField(
        max_length=300, help_text="Where a speaker asks for redress (email or URL)."
    )
    first_used_in_training_on = models.DateField(null=True, blank=True)
    # AB-2013 items that are facts about how the corpus was made, not figures.
    ip_status = models.CharField(
        max_length=16, choices=IpStatus.choices, default=IpStatus.COPYRIGHTED
    )
    contains_trademarks = models.BooleanField(default=False)
    contains_patented_material = models.BooleanField(default=False)
    ip_notes = models.TextField(blank=True, default="")
    acquisition = models.CharField(
        max_length=12, choices=Acquisition.choices, default=Acquisition.COLLECTED
    )
    processing_description = models.TextField(
        help_text="Cleaning, processing or other modification, and its purpose (AB-2013 9)."
    )
    synthetic_data_used = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]
        triggers = [
            # The slug is in every release's stable URLs.
            pgtrigger.Protect(
                name="dataset_slug_fixed",
                operation=pgtrigger.Update,
                condition=pgtrigger.Condition(
                    "OLD.slug IS DISTINCT FROM NEW.slug OR OLD.public_id IS DISTINCT FROM "
                    "NEW.public_id"
                ),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(intended_purposes__len__gt=0), name="dataset_has_purposes"
            ),
            models.CheckConstraint(
                condition=Q(intended_purposes__contained_by=Purpose.values),
                name="dataset_purposes_known",
            ),
            models.CheckConstraint(condition=Q(phase_fit__len__gt=0), name="dataset_has_phase"),
            models.CheckConstraint(
                condition=Q(phase_fit__contained_by=TrainingPhase.values),
                name="dataset_phases_known",
            ),
            models.CheckConstraint(
                condition=~Q(license_spdx="other") | ~Q(license_document=""),
                name="dataset_custom_license_has_document",
            ),
            one_of("ip_status", IpStatus, "dataset_ip_status_known"),
            one_of("acquisition", Acquisition, "dataset_acquisition_known"),
            models.CheckConstraint(
                condition=Q(recorded_from__isnull=True)
                | Q(recorded_before__isnull=True)
                | Q(recorded_before__gt=models.F("recorded_from")),
                name="dataset_date_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ReleaseStatus(models.TextChoices):
    BUILDING = "building", "Building the manifest"
    CURRENT = "current", "Current"
    TAINTED = "tainted", "Tainted (withdrawals since release)"
    SUPERSEDED = "superseded", "Superseded by a newer release"
    WITHDRAWN = "withdrawn", "Withdrawn"
    FAILED = "failed", "Build failed"


RELEASE_FROZEN_COLUMNS = (
    "public_id",
    "dataset_id",
    "version",
    "as_of",
    "manifest_sha256",
    "manifest_bytes",
    "recording_count",
    "track_count",
    "card_figures",
    "built_at",
)


# The status moves a release may make; a trigger refuses every other one, so a
# withdrawn release never comes back and a built one never returns to building.
STATUS_MOVES = {
    "building": ("current", "failed"),
    "current": ("tainted", "superseded", "withdrawn"),
    "tainted": ("superseded", "withdrawn"),
    "superseded": ("tainted", "withdrawn"),
    "withdrawn": (),
    "failed": (),
}


def _status_moves_sql() -> str:
    def allowed(new: tuple[str, ...]) -> str:
        return f"NEW.status IN ({', '.join(repr(n) for n in new)})" if new else "false"

    cases = " ".join(f"WHEN '{old}' THEN {allowed(new)}" for old, new in STATUS_MOVES.items())
    return f"(CASE OLD.status {cases} ELSE false END)"


class Release(models.Model):
    """An immutable snapshot of a dataset: what was eligible for all its purposes at
    ``as_of``. After it is built only ``status`` changes (errata are their own rows)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="releases")
    version = models.CharField(max_length=64)
    status = models.CharField(
        max_length=12, choices=ReleaseStatus.choices, default=ReleaseStatus.BUILDING
    )
    as_of = models.DateTimeField(help_text="Eligibility was decided at this moment.")
    manifest_sha256 = models.CharField(max_length=64, blank=True, default="")
    manifest_bytes = models.PositiveBigIntegerField(default=0)
    recording_count = models.PositiveBigIntegerField(default=0)
    track_count = models.PositiveBigIntegerField(default=0)
    card_figures = models.JSONField(default=dict, blank=True)
    # Models a licensee declared it trained on this release: withdrawals reach them.
    derived_models = models.ManyToManyField(
        "registry.DerivedModel", related_name="training_releases", blank=True
    )
    build_progress = models.PositiveSmallIntegerField(default=0, help_text="Percent.")
    build_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    built_at = models.DateTimeField(null=True, blank=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["dataset_id", "-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["dataset", "version"], name="release_unique_version"),
            models.CheckConstraint(condition=Q(version__regex=SEMVER_RE), name="release_semver"),
            one_of("status", ReleaseStatus, "release_status_known"),
            models.CheckConstraint(
                condition=Q(status__in=["building", "failed"])
                | (Q(manifest_sha256__regex=SHA256_RE) & Q(built_at__isnull=False)),
                name="release_built_has_manifest",
            ),
            models.UniqueConstraint(
                fields=["dataset"], condition=Q(status="current"), name="release_one_current"
            ),
        ]
        triggers = [
            pgtrigger.Protect(
                name="release_frozen_once_built",
                operation=pgtrigger.Update,
                condition=pgtrigger.Condition(
                    "OLD.built_at IS NOT NULL AND ("
                    + " OR ".join(
                        f"OLD.{column} IS DISTINCT FROM NEW.{column}"
                        for column in RELEASE_FROZEN_COLUMNS
                    )
                    + ")"
                ),
            ),
            pgtrigger.Protect(
                name="release_status_moves_forward",
                operation=pgtrigger.Update,
                condition=pgtrigger.Condition(
                    f"OLD.status IS DISTINCT FROM NEW.status AND NOT {_status_moves_sql()}"
                ),
            ),
            pgtrigger.Protect(
                name="release_built_not_deleted",
                operation=pgtrigger.Delete,
                condition=pgtrigger.Q(old__built_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.dataset_id} {self.version}"


class ReleaseItem(models.Model):
    """One track frozen into a release (its recording denormalised for set queries)."""

    release = models.ForeignKey(Release, on_delete=models.PROTECT, related_name="items")
    recording = models.ForeignKey(Recording, on_delete=models.PROTECT, related_name="+")
    track = models.ForeignKey(Track, on_delete=models.PROTECT, related_name="release_items")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["release", "track"], name="release_item_once"),
        ]
        indexes = [
            models.Index(fields=["recording", "release"], name="release_item_recording_idx"),
        ]
        triggers = [
            pgtrigger.Protect(
                name="release_item_append_only", operation=pgtrigger.Update | pgtrigger.Delete
            ),
            # Items are written only while the release builds: a built manifest is closed.
            pgtrigger.Trigger(
                name="release_item_only_while_building",
                when=pgtrigger.Before,
                operation=pgtrigger.Insert,
                func=pgtrigger.Func(
                    """
                    IF EXISTS (SELECT 1 FROM datasetcards_release
                               WHERE id = NEW.release_id AND built_at IS NOT NULL) THEN
                        RAISE EXCEPTION USING
                            ERRCODE = 'integrity_constraint_violation',
                            MESSAGE = format('release %s is built: its items are closed',
                                             NEW.release_id);
                    END IF;
                    RETURN NEW;
                    """
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.release_id}:{self.track_id}"


class ReleaseErratum(models.Model):
    """Appended to a release when withdrawals reach it (written by propagation): which
    recordings and tracks to drop, and why. Ids only, never personal data."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    release = models.ForeignKey(Release, on_delete=models.PROTECT, related_name="errata")
    # The propagation target that wrote it: a redelivered task finds it and stops.
    source_key = models.UUIDField(null=True, blank=True, unique=True)
    reason = models.CharField(max_length=200)
    purpose = models.CharField(max_length=16, blank=True, default="")
    effective_at = models.DateTimeField(null=True, blank=True)
    recording_ids = ArrayField(models.UUIDField())
    track_ids = ArrayField(models.UUIDField())
    created_at = models.DateTimeField(auto_now_add=True)
    # Ed25519 over the canonical JSON of ``statement()`` (kid names the key).
    signature = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["release_id", "created_at", "id"]
        triggers = [
            pgtrigger.Protect(
                name="release_erratum_append_only", operation=pgtrigger.Update | pgtrigger.Delete
            ),
        ]

    def __str__(self) -> str:
        return f"erratum {self.pk} of {self.release_id}"

    def statement(self) -> dict[str, object]:
        """What the signature covers: ids and times only."""
        return {
            "erratum": str(self.public_id),
            "release": str(self.release.public_id),
            "reason": self.reason,
            "purpose": self.purpose,
            "effective_at": self.effective_at.isoformat() if self.effective_at else None,
            "recording_ids": sorted(str(i) for i in self.recording_ids),
            "track_ids": sorted(str(i) for i in self.track_ids),
        }


class FeedEntry(models.Model):
    """An erratum in one licensee's withdrawal feed, at position ``seq``.

    Written when the erratum is (for every licensee holding its release) and when a
    license gains a release that already has errata, each time under one
    transaction-scoped lock (``datasetcards.services.post_to_feeds``): seq order is
    commit order, so a reader polling with ``after=<last seq>`` never skips an entry,
    including errata of a release licensed to it after its cursor moved on."""

    seq = models.BigIntegerField(unique=True)
    licensee = models.ForeignKey(Licensee, on_delete=models.PROTECT, related_name="+")
    erratum = models.ForeignKey(
        ReleaseErratum, on_delete=models.PROTECT, related_name="feed_entries"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "feed entries"
        constraints = [
            models.UniqueConstraint(fields=["licensee", "erratum"], name="feed_entry_once"),
        ]
        indexes = [models.Index(fields=["licensee", "seq"], name="feed_entry_reader_idx")]
        triggers = [
            pgtrigger.Protect(
                name="feed_entry_append_only", operation=pgtrigger.Update | pgtrigger.Delete
            ),
        ]

    def __str__(self) -> str:
        return f"feed {self.seq}: erratum {self.erratum_id} for licensee {self.licensee_id}"


class License(models.Model):
    """A licensee's grant to a dataset's releases and what a withdrawal obliges."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    licensee = models.ForeignKey(Licensee, on_delete=models.PROTECT, related_name="licenses")
    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="licenses")
    releases = models.ManyToManyField(Release, related_name="licenses", blank=True)
    includes_future_releases = models.BooleanField(
        default=False, help_text="Every release built during the term is licensed too."
    )
    purposes_allowed = ArrayField(models.CharField(max_length=16, choices=Purpose.choices))
    commercial_redistribution = models.BooleanField(default=False)
    territory = ArrayField(
        models.CharField(max_length=8),
        blank=True,
        default=list,
        help_text="ISO 3166 codes where the data may be used; empty: worldwide.",
    )
    starts_on = models.DateField()
    ends_on = models.DateField(null=True, blank=True)
    ack_deadline_days = models.PositiveSmallIntegerField(
        default=30, help_text="Days a licensee has to acknowledge a withdrawal notice."
    )
    derived_model_action = models.CharField(max_length=16, choices=WithdrawalAction.choices)
    contract_reference = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["licensee_id", "dataset_id", "-starts_on"]
        constraints = [
            models.CheckConstraint(
                condition=Q(purposes_allowed__len__gt=0), name="license_has_purposes"
            ),
            models.CheckConstraint(
                condition=Q(purposes_allowed__contained_by=Purpose.values),
                name="license_purposes_known",
            ),
            models.CheckConstraint(
                condition=Q(ends_on__isnull=True) | Q(ends_on__gt=models.F("starts_on")),
                name="license_term",
            ),
            models.CheckConstraint(
                condition=Q(ack_deadline_days__gte=1, ack_deadline_days__lte=365),
                name="license_ack_deadline_range",
            ),
            one_of("derived_model_action", WithdrawalAction, "license_action_known"),
        ]

    def __str__(self) -> str:
        return f"{self.licensee_id} → {self.dataset_id} ({self.starts_on})"
