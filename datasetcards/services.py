"""Every write to datasets, releases and licenses."""

from __future__ import annotations

import datetime
import json
import logging
import re
import uuid
from pathlib import Path
from typing import Any

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from consent.eligibility import RecordingFilters, eligible_for_all
from consent.models import Purpose
from datasetcards.manifest import manifest_digest
from datasetcards.models import (
    SEMVER_RE,
    Dataset,
    License,
    Release,
    ReleaseErratum,
    ReleaseItem,
    ReleaseStatus,
    TrainingPhase,
)
from datasetcards.signals import release_built
from registry import signing
from registry.errors import DuplicateRecord, InvalidInput, RegistryError
from registry.models import (
    JURISDICTION_RE,
    LANGUAGE_RE,
    DerivedModel,
    Licensee,
    Track,
    WithdrawalAction,
)
from registry.services import flag_derived_model

logger = logging.getLogger(__name__)

SPDX_IDS = frozenset(
    json.loads((Path(__file__).parent / "vocab" / "spdx_licenses.json").read_text())["licenses"]
)


BUILD_TIME_LIMIT = datetime.timedelta(hours=2)


class ReleaseNotBuildable(RegistryError):
    code = "release_not_buildable"
    status = 409


def _purposes(values: list[str], *, field: str) -> list[str]:
    if not values or any(v not in Purpose.values for v in values):
        raise InvalidInput(f"{field}: one or more of " + ", ".join(Purpose.values), field=field)
    return sorted(set(values), key=Purpose.values.index)


def _codes(values: list[str], pattern: str, *, field: str) -> list[str]:
    for value in values:
        if not re.fullmatch(pattern, value or ""):
            raise InvalidInput(f"{field}: {value!r} is not a valid code", field=field)
    return list(values)


def create_dataset(
    *,
    slug: str,
    name: str,
    description: str,
    purpose_statement: str,
    intended_purposes: list[str],
    license_spdx: str,
    phase_fit: list[str],
    owner: str,
    redress_contact: str,
    processing_description: str,
    **options: Any,
) -> Dataset:
    """Define a dataset. Refuses unknown purposes, phases and SPDX ids, a custom license
    without its document, and malformed selection criteria."""
    if not re.fullmatch(r"[a-z0-9][-a-z0-9]{0,79}", slug or ""):
        raise InvalidInput("slug: lowercase letters, digits and hyphens", field="slug")
    for field, value in (
        ("name", name),
        ("description", description),
        ("purpose_statement", purpose_statement),
        ("owner", owner),
        ("redress_contact", redress_contact),
        ("processing_description", processing_description),
    ):
        if not (value or "").strip():
            raise InvalidInput(f"{field} is required", field=field)
    if license_spdx not in SPDX_IDS:
        raise InvalidInput(
            f"license_spdx {license_spdx!r} is not in the SPDX list", field="license_spdx"
        )
    if license_spdx == "other" and not (options.get("license_document") or "").strip():
        raise InvalidInput("a custom license needs its document", field="license_document")
    if not phase_fit or any(p not in TrainingPhase.values for p in phase_fit):
        raise InvalidInput("phase_fit: one or more of pre, mid, post", field="phase_fit")
    options["languages"] = _codes(options.get("languages", []), LANGUAGE_RE, field="languages")
    options["jurisdictions"] = _codes(
        options.get("jurisdictions", []), JURISDICTION_RE, field="jurisdictions"
    )
    with transaction.atomic(durable=True):
        if Dataset.objects.filter(slug=slug).exists():
            raise DuplicateRecord(f"dataset {slug!r} exists", field="slug")
        return Dataset.objects.create(
            slug=slug,
            name=name.strip(),
            description=description.strip(),
            purpose_statement=purpose_statement.strip(),
            intended_purposes=_purposes(intended_purposes, field="intended_purposes"),
            license_spdx=license_spdx,
            phase_fit=sorted(set(phase_fit), key=TrainingPhase.values.index),
            owner=owner.strip(),
            redress_contact=redress_contact.strip(),
            processing_description=processing_description.strip(),
            **options,
        )


def _version_key(version: str) -> tuple[Any, ...]:
    """SemVer 2.0 precedence: 1.0.0-rc.1 < 1.0.0 < 1.0.1; numeric prerelease
    identifiers sort numerically and below alphanumeric ones."""
    core, _, prerelease = version.partition("-")
    major, minor, patch = (int(part) for part in core.split("."))
    if not prerelease:
        return (major, minor, patch, 1, ())
    identifiers = tuple(
        (0, int(part), "") if part.isdigit() else (1, 0, part) for part in prerelease.split(".")
    )
    return (major, minor, patch, 0, identifiers)


def create_release(*, dataset: Dataset, version: str, enqueue: bool = True) -> Release:
    """Start a release: eligibility is decided as of now; the worker builds the frozen
    manifest and figures (``build_release``) after commit (``enqueue=False``: the caller
    builds it itself, e.g. ``seed_demo``). Versions only go up."""
    if not re.fullmatch(SEMVER_RE, version or ""):
        raise InvalidInput("version must be semantic (e.g. 1.2.0)", field="version")
    with transaction.atomic(durable=True):
        dataset = Dataset.objects.select_for_update().get(pk=dataset.pk)
        versions = list(dataset.releases.values_list("version", flat=True))
        if version in versions:
            raise DuplicateRecord(f"release {version} exists", field="version")
        if versions and _version_key(version) <= max(_version_key(v) for v in versions):
            raise InvalidInput("a new release needs a higher version", field="version")
        # A build that has not finished within the limit died without a word (a lost
        # message, a killed worker): record it as failed so the dataset is not stuck.
        stale = timezone.now() - BUILD_TIME_LIMIT
        for stuck in dataset.releases.filter(status=ReleaseStatus.BUILDING, created_at__lt=stale):
            mark_release_failed(release_id=stuck.pk, error="build did not finish in time")
        if dataset.releases.filter(status=ReleaseStatus.BUILDING).exists():
            raise ReleaseNotBuildable("another release of this dataset is still building")
        release = Release.objects.create(dataset=dataset, version=version, as_of=timezone.now())

        def enqueue_build() -> None:
            from datasetcards.tasks import build_release as task

            task.delay(release.pk)

        if enqueue:
            transaction.on_commit(enqueue_build)
        return release


def dataset_filters(dataset: Dataset) -> RecordingFilters:
    return RecordingFilters(
        languages=tuple(dataset.languages),
        jurisdictions=tuple(dataset.jurisdictions),
        min_duration_ms=dataset.min_duration_ms,
        isolated_at_source=True if dataset.isolated_at_source_only else None,
        recorded_from=dataset.recorded_from,
        recorded_before=dataset.recorded_before,
    )


def _set_progress(release_id: int, percent: int) -> None:
    Release.objects.filter(pk=release_id, status=ReleaseStatus.BUILDING).update(
        build_progress=percent
    )


def build_release(*, release_id: int) -> Release:
    """Freeze the release (idempotent; the Celery task calls it, retries call it again).

    1. One INSERT … SELECT writes an item per track of every recording eligible for
       all the dataset's purposes as of ``as_of`` (skipped when a previous attempt
       committed it). 2. The manifest is streamed out of PostgreSQL and hashed.
    3. The figures are aggregated in SQL. 4. The release becomes current and the
    previous current one superseded, in one transaction. Progress is saved per step."""
    from datasetcards.figures import dataset_snapshot, release_figures

    release = Release.objects.select_related("dataset").get(pk=release_id)
    if release.status != ReleaseStatus.BUILDING:
        return release  # built (or failed) already: nothing to do
    dataset = release.dataset
    if not ReleaseItem.objects.filter(release=release).exists():
        with transaction.atomic():
            # Only what existed at as_of: a recording ingested while the build waited
            # in the queue was not eligible "at creation".
            recordings = eligible_for_all(
                purposes=dataset.intended_purposes,
                at=release.as_of,
                filters=dataset_filters(dataset),
            ).filter(created_at__lte=release.as_of, recorded_at__lte=release.as_of)
            tracks = Track.objects.filter(recording__in=recordings.values("pk")).values_list(
                "recording_id", "pk"
            )
            select, params = tracks.query.sql_with_params()
            # One statement, in the database: no row passes through Python. The inner
            # SELECT is the ORM's (its parameters travel separately).
            columns = "datasetcards_releaseitem (release_id, recording_id, track_id)"
            insert = f"INSERT INTO {columns} SELECT %s, t.recording_id, t.id FROM ({select}) AS t(recording_id, id)"  # noqa: E501, S608
            with connection.cursor() as cursor:
                cursor.execute(insert, (release.pk, *params))
            _set_progress(release.pk, 50)
    sha256, size = manifest_digest(release.pk)
    _set_progress(release.pk, 75)
    figures = release_figures(release)
    if not figures["recordings"]:
        mark_release_failed(release_id=release.pk, error="no recording is eligible")
        release.refresh_from_db()
        return release
    figures["dataset"] = dataset_snapshot(release)
    _set_progress(release.pk, 90)
    with transaction.atomic():
        release = Release.objects.select_for_update().get(pk=release.pk)
        if release.status != ReleaseStatus.BUILDING:
            return release
        now = timezone.now()
        # A tainted release is superseded too: the new one is what builders should use.
        Release.objects.filter(
            dataset=dataset, status__in=[ReleaseStatus.CURRENT, ReleaseStatus.TAINTED]
        ).update(status=ReleaseStatus.SUPERSEDED, status_changed_at=now)
        release.manifest_sha256 = sha256
        release.manifest_bytes = size
        release.recording_count = figures["recordings"]
        release.track_count = figures["tracks"]
        release.card_figures = figures
        release.built_at = now
        release.status = ReleaseStatus.CURRENT
        release.status_changed_at = now
        release.build_progress = 100
        release.save()
        _auto_license(release)
        release_built.send(sender=Release, release=release)
    logger.info("release %s built: %s tracks", release.public_id, release.track_count)
    return release


def _auto_license(release: Release) -> None:
    """Licenses that cover every release in their term now cover this one too."""
    today = timezone.now().date()
    for license_ in License.objects.filter(
        dataset=release.dataset, includes_future_releases=True, starts_on__lte=today
    ).filter(Q(ends_on__isnull=True) | Q(ends_on__gt=today)):
        license_.releases.add(release)


def mark_release_failed(*, release_id: int, error: str) -> None:
    Release.objects.filter(pk=release_id, status=ReleaseStatus.BUILDING).update(
        status=ReleaseStatus.FAILED, build_error=error[:2000], status_changed_at=timezone.now()
    )


def grant_license(
    *,
    licensee: Licensee,
    dataset: Dataset,
    purposes_allowed: list[str],
    derived_model_action: str,
    starts_on: datetime.date,
    releases: list[Release] | None = None,
    includes_future_releases: bool = False,
    ends_on: datetime.date | None = None,
    commercial_redistribution: bool = False,
    territory: list[str] | None = None,
    ack_deadline_days: int = 30,
    contract_reference: str = "",
) -> License:
    """Grant a licensee a dataset's releases. The license may allow only what the
    dataset's speakers consented to, and commercial redistribution only where the
    dataset allows it."""
    allowed = _purposes(purposes_allowed, field="purposes_allowed")
    if not set(allowed) <= set(dataset.intended_purposes) | {Purpose.RECORDING}:
        raise InvalidInput(
            "a license cannot allow purposes the dataset's consents do not cover",
            field="purposes_allowed",
        )
    if commercial_redistribution and not dataset.commercial_redistribution:
        raise InvalidInput(
            "this dataset does not allow commercial redistribution",
            field="commercial_redistribution",
        )
    if derived_model_action not in WithdrawalAction.values:
        raise InvalidInput(
            "derived_model_action: retrain, filter or none", field="derived_model_action"
        )
    if not 1 <= ack_deadline_days <= 365:
        raise InvalidInput("ack_deadline_days must be 1..365", field="ack_deadline_days")
    if ends_on is not None and ends_on <= starts_on:
        raise InvalidInput("ends_on must be after starts_on", field="ends_on")
    releases = releases or []
    if any(r.dataset_id != dataset.pk for r in releases):
        raise InvalidInput("every release must belong to the dataset", field="releases")
    if any(r.status not in (ReleaseStatus.CURRENT, ReleaseStatus.TAINTED) for r in releases):
        raise InvalidInput("only current or tainted releases can be licensed", field="releases")
    with transaction.atomic(durable=True):
        license_ = License.objects.create(
            licensee=licensee,
            dataset=dataset,
            purposes_allowed=allowed,
            derived_model_action=derived_model_action,
            starts_on=starts_on,
            ends_on=ends_on,
            includes_future_releases=includes_future_releases,
            commercial_redistribution=commercial_redistribution,
            territory=_codes(territory or [], JURISDICTION_RE, field="territory"),
            ack_deadline_days=ack_deadline_days,
            contract_reference=contract_reference.strip(),
        )
        license_.releases.set(releases)
        return license_


# Serialises feed writers until commit: the feed's seq order is commit order.
FEED_LOCK = 0x46454544  # "FEED"

_POST_TO_FEEDS = """
    INSERT INTO datasetcards_feedentry (seq, licensee_id, erratum_id, created_at)
    SELECT last.seq + row_number() OVER (ORDER BY pending.erratum_id, pending.licensee_id),
           pending.licensee_id, pending.erratum_id, now()
      FROM (SELECT DISTINCT l.licensee_id, e.id AS erratum_id
              FROM datasetcards_releaseerratum e
              JOIN datasetcards_license_releases lr ON lr.release_id = e.release_id
              JOIN datasetcards_license l ON l.id = lr.license_id
             WHERE {where}
               AND NOT EXISTS (SELECT 1 FROM datasetcards_feedentry f
                                WHERE f.licensee_id = l.licensee_id AND f.erratum_id = e.id)
           ) AS pending,
           (SELECT coalesce(max(seq), 0) AS seq FROM datasetcards_feedentry) AS last
"""


def post_to_feeds(
    *,
    erratum_id: int | None = None,
    license_ids: list[int] | None = None,
    release_ids: list[int] | None = None,
) -> int:
    """Put errata in the feeds of the licensees holding their releases: one erratum (to
    everyone holding its release), or every erratum of ``release_ids`` for the holders of
    ``license_ids`` (a license that gained releases). Idempotent; returns rows added."""
    params: list[Any]
    if erratum_id is not None:
        where, params = "e.id = %s", [erratum_id]
    else:
        where = "l.id = ANY(%s) AND e.release_id = ANY(%s)"
        params = [license_ids or [], release_ids or []]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [FEED_LOCK])
        # The statement is a constant with one of two constant conditions.
        cursor.execute(_POST_TO_FEEDS.format(where=where), params)
        return int(cursor.rowcount)


def on_license_releases_changed(
    *, instance: Any, action: str, reverse: bool, pk_set: set[int] | None, **_: Any
) -> None:
    """``m2m_changed`` of ``License.releases``: releases a license gains bring their
    existing errata into its licensee's feed (whichever side the link was added from)."""
    if action != "post_add" or not pk_set:
        return
    releases = [instance.pk] if reverse else sorted(pk_set)
    # Most links (a new release joining its licenses at build) bring no errata: skip the
    # feed lock. Safe without it: the link row's insert holds FOR KEY SHARE on the
    # release, which conflicts with taint_release's FOR UPDATE, so an erratum of it is
    # either committed (seen here) or written after us (and finds this link).
    if not ReleaseErratum.objects.filter(release_id__in=releases).exists():
        return
    licenses = sorted(pk_set) if reverse else [instance.pk]  # release.licenses.add(…)
    post_to_feeds(license_ids=licenses, release_ids=releases)


def taint_release(
    *,
    release_id: int,
    source_key: uuid.UUID,
    reason: str,
    purpose: str,
    effective_at: datetime.datetime,
    recording_ids: list[uuid.UUID],
) -> ReleaseErratum:
    """Append a signed erratum naming the recordings (and all their tracks) to drop,
    and mark the release tainted unless it is withdrawn. Idempotent per ``source_key``:
    a redelivered propagation task gets the erratum it already wrote."""
    with transaction.atomic():
        release = Release.objects.select_for_update().get(pk=release_id)
        existing = ReleaseErratum.objects.filter(source_key=source_key).first()
        if existing is not None:
            post_to_feeds(erratum_id=existing.pk)  # idempotent: heals a lost feed write
            return existing
        in_release = ReleaseItem.objects.filter(
            release=release, recording__public_id__in=recording_ids
        )
        recordings = sorted(
            {str(r) for r in in_release.values_list("recording__public_id", flat=True)}
        )
        tracks = sorted({str(t) for t in in_release.values_list("track__public_id", flat=True)})
        erratum = ReleaseErratum(
            release=release,
            source_key=source_key,
            reason=reason[:200],
            purpose=purpose,
            effective_at=effective_at,
            recording_ids=recordings,
            track_ids=tracks,
        )
        erratum.signature = signing.sign(erratum.statement())
        erratum.save()
        post_to_feeds(erratum_id=erratum.pk)
        if release.status in (ReleaseStatus.CURRENT, ReleaseStatus.SUPERSEDED):
            release.status = ReleaseStatus.TAINTED
            release.status_changed_at = timezone.now()
            release.save(update_fields=["status", "status_changed_at"])
    return erratum


def verify_erratum(erratum: ReleaseErratum) -> bool:
    """True when the erratum's signature covers exactly its statement."""
    return signing.verify(erratum.statement(), erratum.signature)


def record_model_training(*, model: DerivedModel, releases: list[Release]) -> DerivedModel:
    """Declare that a licensee's model was trained on ``releases`` (each licensed to
    that licensee), so every later withdrawal from them reaches the model."""
    if not releases:
        raise InvalidInput("at least one release", field="releases")
    licensed = set(
        Release.objects.filter(
            pk__in=[r.pk for r in releases], licenses__licensee_id=model.licensee_id
        ).values_list("pk", flat=True)
    )
    if licensed != {r.pk for r in releases}:
        raise InvalidInput(
            "a model can only be declared on releases licensed to its licensee", field="releases"
        )
    with transaction.atomic():
        Release.derived_models.through.objects.bulk_create(
            [
                Release.derived_models.through(release_id=r.pk, derivedmodel_id=model.pk)
                for r in releases
            ],
            ignore_conflicts=True,
        )
        # Declared on a release that already lost voices: flagged at once, as the
        # withdrawals would have done had the model been declared earlier.
        if ReleaseErratum.objects.filter(release__in=releases).exists():
            model = flag_derived_model(
                model_id=model.pk, action=model.withdrawal_action, at=timezone.now()
            )
    return model
