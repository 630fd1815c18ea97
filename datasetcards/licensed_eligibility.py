"""What a licensee may use now: the consent rule of ``consent.eligibility`` applied to
the recordings of the releases its licenses grant for a purpose, and nothing more.

A licensee may use a release's calls for a purpose only while one of its licenses that
covers the release is in force (``starts_on`` <= today < ``ends_on``, UTC) and lists the
purpose in ``purposes_allowed``; a withdrawn release grants nothing. Within those
releases a recording counts only while ``eligible_recordings`` holds for the purpose at
request time, so a withdrawal made after a release was built takes the recording out of
the answer at once, before any erratum is written.

The release restriction is a semi-join (EXISTS on ``ReleaseItem`` by recording, served by
``release_item_recording_idx``) over the handful of release ids the licensee holds: the
answer stays one statement whether a release has ten recordings or millions.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from uuid import UUID

from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import Exists, OuterRef, Prefetch, QuerySet
from django.utils import timezone

from consent.eligibility import EligibilityExplanation, eligible_recordings, explain_eligibility
from datasetcards.models import License, Release, ReleaseItem, ReleaseStatus
from datasetcards.selectors import PUBLISHED
from registry.errors import NotFound, RegistryError
from registry.models import Recording, Track


class PurposeNotLicensed(RegistryError):
    """None of the caller's licenses in force allows the purpose (for the release asked)."""

    code = "purpose_not_licensed"
    status = 403


def license_in_force(
    *, starts_on: datetime.date, ends_on: datetime.date | None, on: datetime.date
) -> bool:
    """A license's term: from ``starts_on`` (inclusive) to ``ends_on`` (exclusive), the
    same term that ``_auto_license`` extends to future releases."""
    return starts_on <= on and (ends_on is None or ends_on > on)


@dataclass(frozen=True)
class Grant:
    """One of a licensee's licenses covering one of its releases."""

    license_id: UUID
    release_pk: int
    release_id: UUID
    dataset: str
    version: str
    release_status: str
    purposes_allowed: tuple[str, ...]
    starts_on: datetime.date
    ends_on: datetime.date | None
    in_force: bool

    def allows(self, purpose: str) -> bool:
        """The contract lets the licensee use this release for ``purpose`` today."""
        return self.in_force and purpose in self.purposes_allowed

    def usable_for(self, purpose: str) -> bool:
        """``allows`` and the release has not been withdrawn by the registry."""
        return self.allows(purpose) and self.release_status != ReleaseStatus.WITHDRAWN


def licensee_grants(
    *,
    licensee_id: int,
    on: datetime.date,
    release_id: UUID | None = None,
    recording: Recording | None = None,
) -> list[Grant]:
    """Every (license, built release) pair of the licensee, in force or not, optionally
    only for one release or only for the releases holding ``recording``. One query over
    the license-release link table (a licensee holds a few dozen releases, not millions)."""
    links = License.releases.through.objects.filter(
        license__licensee_id=licensee_id, release__status__in=PUBLISHED
    )
    if release_id is not None:
        links = links.filter(release__public_id=release_id)
    if recording is not None:
        links = links.filter(
            Exists(
                ReleaseItem.objects.filter(release_id=OuterRef("release_id"), recording=recording)
            )
        )
    rows = links.order_by(
        "release__dataset__slug", "release__version", "license__starts_on"
    ).values(
        "license__public_id",
        "release_id",
        "release__public_id",
        "release__dataset__slug",
        "release__version",
        "release__status",
        "license__purposes_allowed",
        "license__starts_on",
        "license__ends_on",
    )
    return [
        Grant(
            license_id=row["license__public_id"],
            release_pk=row["release_id"],
            release_id=row["release__public_id"],
            dataset=row["release__dataset__slug"],
            version=row["release__version"],
            release_status=row["release__status"],
            purposes_allowed=tuple(row["license__purposes_allowed"]),
            starts_on=row["license__starts_on"],
            ends_on=row["license__ends_on"],
            in_force=license_in_force(
                starts_on=row["license__starts_on"], ends_on=row["license__ends_on"], on=on
            ),
        )
        for row in rows
    ]


@dataclass(frozen=True)
class EligibilityScope:
    """The question a licensee asks: ``purpose`` at ``at``, over ``release_pks``."""

    purpose: str
    at: datetime.datetime
    release_pks: tuple[int, ...]


def licensed_scope(
    *,
    licensee_id: int,
    purpose: str,
    release_id: UUID | None = None,
    at: datetime.datetime | None = None,
) -> EligibilityScope:
    """The releases a licensee may use for ``purpose`` now (optionally only ``release_id``).

    A release not licensed to the caller is NotFound, exactly like an unknown id; a
    purpose that no license in force allows is ``PurposeNotLicensed`` (403), so an empty
    answer always means "no eligible recording", never "not allowed to ask"."""
    at = at or timezone.now()
    grants = licensee_grants(licensee_id=licensee_id, on=at.date(), release_id=release_id)
    if release_id is not None and not grants:
        raise NotFound("no such release")
    if not any(grant.allows(purpose) for grant in grants):
        where = "this release" if release_id is not None else "any of your releases"
        raise PurposeNotLicensed(
            f"none of your licenses in force allows {purpose} for {where}", field="purpose"
        )
    usable = sorted({grant.release_pk for grant in grants if grant.usable_for(purpose)})
    return EligibilityScope(purpose=purpose, at=at, release_pks=tuple(usable))


def _in_scope(scope: EligibilityScope, recording_ref: str) -> QuerySet[ReleaseItem]:
    return ReleaseItem.objects.filter(
        recording_id=OuterRef(recording_ref), release_id__in=scope.release_pks
    )


def _release_ids(scope: EligibilityScope, recording_ref: str) -> ArraySubquery:
    """The public ids of the scope's releases that hold the outer recording (evaluated
    for the rows of one page only: it sits in the SELECT list)."""
    holding = ReleaseItem.objects.filter(
        release_id=OuterRef("pk"), recording_id=OuterRef(OuterRef(recording_ref))
    )
    return ArraySubquery(
        Release.objects.filter(pk__in=scope.release_pks)
        .filter(Exists(holding))
        .order_by("public_id")
        .values("public_id")
    )


def licensed_eligible_recordings(*, scope: EligibilityScope) -> QuerySet[Recording]:
    """Recordings eligible for the scope's purpose now that sit in one of its releases,
    each with ``release_ids`` (the scope's releases holding it) and its tracks
    (``eligible_tracks``: id, channel, speaker public id; never a speaker's row)."""
    if not scope.release_pks:
        return Recording.objects.none()
    tracks = (
        Track.objects.select_related("speaker")
        .only("public_id", "channel", "recording_id", "speaker__public_id")
        .order_by("channel")
    )
    return (
        eligible_recordings(purpose=scope.purpose, at=scope.at)
        .filter(Exists(_in_scope(scope, "pk")))
        .annotate(release_ids=_release_ids(scope, "pk"))
        .prefetch_related(Prefetch("tracks", queryset=tracks, to_attr="eligible_tracks"))
    )


def licensed_eligible_tracks(*, scope: EligibilityScope) -> QuerySet[Track]:
    """Tracks of ``licensed_eligible_recordings`` (a track is never usable without its
    partners' consent), with the recording's facts and no personal data."""
    if not scope.release_pks:
        return Track.objects.none()
    # A correlated EXISTS (not ``recording_id IN (…)``): the planner then walks the
    # tracks in page order and checks each one's recording by primary key, instead of
    # computing every eligible recording of the releases before the first row.
    recording = eligible_recordings(purpose=scope.purpose, at=scope.at).filter(
        pk=OuterRef("recording_id")
    )
    return (
        Track.objects.filter(Exists(recording), Exists(_in_scope(scope, "recording_id")))
        .select_related("recording", "speaker")
        .only(
            "public_id",
            "channel",
            "speaker__public_id",
            "recording__public_id",
            "recording__recorded_at",
            "recording__duration_ms",
            "recording__sample_rate_hz",
            "recording__channel_count",
            "recording__language",
            "recording__jurisdiction",
            "recording__isolated_at_source",
            "recording__audio_sha256",
        )
        .annotate(release_ids=_release_ids(scope, "recording_id"))
    )


@dataclass(frozen=True)
class LicensedExplanation:
    """``explain_eligibility`` for one recording, plus what the caller's licenses say."""

    consent: EligibilityExplanation
    grants: list[Grant]
    license_allows_purpose: bool
    eligible: bool
    reasons: list[str]


def get_recording_for_licensee(*, licensee_id: int, public_id: UUID | str) -> Recording:
    """A recording in one of the licensee's built releases (any license, in force or
    not); anything else, including another licensee's recording, is NotFound alike."""
    licensed = ReleaseItem.objects.filter(
        recording_id=OuterRef("pk"),
        release__status__in=PUBLISHED,
        release__licenses__licensee_id=licensee_id,
    )
    recording = Recording.objects.filter(public_id=public_id).filter(Exists(licensed)).first()
    if recording is None:
        raise NotFound("no such recording")
    return recording


def explain_for_licensee(
    *, licensee_id: int, recording_id: UUID | str, purpose: str, at: datetime.datetime | None = None
) -> LicensedExplanation:
    """Why a recording of the licensee's releases may or may not be used for ``purpose``
    now: every participant's consent (``explain_eligibility``, which names no one) and
    the licenses and releases that cover it. Eligible only when both say yes."""
    at = at or timezone.now()
    recording = get_recording_for_licensee(licensee_id=licensee_id, public_id=recording_id)
    grants = licensee_grants(licensee_id=licensee_id, on=at.date(), recording=recording)
    allowed = any(grant.allows(purpose) for grant in grants)
    if not allowed:
        # Speakers' consent for a purpose the caller may not use is none of its business.
        raise PurposeNotLicensed(
            f"none of your licenses in force allows {purpose} for the releases holding "
            "this recording"
        )
    consent = explain_eligibility(recording, purpose, at)
    usable = any(grant.usable_for(purpose) for grant in grants)
    eligible = consent.eligible and usable
    reasons = [] if consent.eligible else list(consent.reasons)
    if not usable:
        reasons.append("every release licensed to you for it has been withdrawn")
    return LicensedExplanation(
        consent=consent,
        grants=grants,
        license_allows_purpose=allowed,
        eligible=eligible,
        reasons=consent.reasons if eligible else reasons,
    )
