"""The native card: every AB-2013 item as its own required key (see
``datasetcards/schema/card.schema.json``), plus what voice-model builders need and the
EU AI Act public-summary headings. Figures come from ``Release.card_figures``, frozen
when the release was built; only status and errata move afterwards."""

from __future__ import annotations

import datetime
from types import SimpleNamespace
from typing import Any

from django.conf import settings
from django.urls import reverse

from consent.models import Purpose
from datasetcards.cards import preferences
from datasetcards.models import Acquisition, IpStatus, Release, ReleaseErratum

CARD_FORMAT = "voice-consent-registry/dataset-card/1.0"
SCHEMA_PATH = "datasetcards/schema/card.schema.json"

DATA_POINT_TYPES = [
    "two-channel conversational speech audio, one speaker per channel",
    "per-track metadata: language, jurisdiction, sample rate, duration, channel",
    "per-speaker consent state for recording, training, redistribution, biometric and "
    "likeness use (no names, no contact details)",
]


def facts(release: Release) -> SimpleNamespace:
    """The dataset as it stood when the release was built (snapshot in its figures)."""
    return SimpleNamespace(**release.card_figures["dataset"])


def url(path: str) -> str:
    return settings.PUBLIC_BASE_URL + path


def release_urls(release: Release) -> dict[str, str]:
    args = [facts(release).slug, release.version]
    return {
        "page": url(reverse("datasetcards:release", args=args)),
        "card": url(reverse("datasetcards:card-json", args=args)),
        "croissant": url(reverse("datasetcards:card-jsonld", args=args)),
        "readme": url(reverse("datasetcards:card-readme", args=args)),
        "pdf": url(reverse("datasetcards:card-pdf", args=args)),
        "signatures": url(reverse("datasetcards:card-sig", args=args)),
        "rsl": url(reverse("datasetcards:rsl", args=args)),
        "errata": url(reverse("datasetcards:errata", args=args)),
        "manifest": url(f"/api/v1/releases/{release.public_id}/manifest"),
        "withdrawal_feed": url("/api/v1/feed/withdrawals"),
    }


def generated_at(release: Release, errata: list[ReleaseErratum]) -> datetime.datetime:
    """When the card last changed: its build, its last status change or erratum."""
    moments = [release.built_at, release.status_changed_at, *(e.created_at for e in errata)]
    return max(m for m in moments if m is not None)


def build_card(release: Release) -> dict[str, Any]:
    """The native card of a built release, as a JSON-ready dict (unsigned)."""
    dataset = facts(release)
    figures = release.card_figures
    errata = list(release.errata.order_by("created_at", "id"))
    links = release_urls(release)
    period = figures["collection_period"]
    coverage = figures["consent_coverage"]
    return {
        "format": CARD_FORMAT,
        "dataset": {
            "id": dataset.id,
            "slug": dataset.slug,
            "name": dataset.name,
            "description": dataset.description,
            "owner": dataset.owner,
            "redress_contact": dataset.redress_contact,
        },
        "release": {
            "id": str(release.public_id),
            "version": release.version,
            "status": release.status,
            "eligibility_as_of": release.as_of.isoformat(),
            "built_at": release.built_at.isoformat() if release.built_at else None,
            "manifest": {
                "url": links["manifest"],
                "sha256": release.manifest_sha256,
                "bytes": release.manifest_bytes,
                "encoding_format": "application/jsonl",
            },
            "errata_count": len(errata),
            "errata": [
                {
                    "id": str(e.public_id),
                    "reason": e.reason,
                    "purpose": e.purpose,
                    "effective_at": e.effective_at.isoformat() if e.effective_at else None,
                    "created_at": e.created_at.isoformat(),
                    "recordings": len(e.recording_ids),
                    "tracks": len(e.track_ids),
                    # Verifies against statement() as served at links.errata.
                    "signature": e.signature,
                }
                for e in errata
            ],
            "links": links,
        },
        "ab2013": {
            "sources_and_owners": {
                "owner": dataset.owner,
                "sources": "Conversations recorded by the registry's collection platform, "
                "each participant on their own channel, after every participant consented.",
            },
            "purpose_furtherance": dataset.purpose_statement,
            "data_points": {
                "count": figures["tracks"],
                "unit": "tracks (one speaker's channel of one conversation each)",
                "recordings": figures["recordings"],
                "hours": figures["hours"],
            },
            "data_point_types": DATA_POINT_TYPES,
            "intellectual_property": {
                "status": dataset.ip_status,
                "contains_copyrighted_material": dataset.ip_status != IpStatus.PUBLIC_DOMAIN,
                "contains_trademarks": dataset.contains_trademarks,
                "contains_patented_material": dataset.contains_patented_material,
                "entirely_public_domain": dataset.ip_status == IpStatus.PUBLIC_DOMAIN,
                "notes": dataset.ip_notes,
            },
            "purchased_or_licensed": {
                "acquisition": dataset.acquisition,
                "purchased": dataset.acquisition == Acquisition.PURCHASED,
                "licensed": dataset.acquisition == Acquisition.LICENSED,
                "description": Acquisition(dataset.acquisition).label,
            },
            "personal_information": {
                "included": True,
                "description": "Voice recordings of identifiable people are personal "
                "information (Cal. Civ. Code 1798.140(v)); names and contact details are "
                "not included, speakers appear by pseudonymous id.",
            },
            "aggregate_consumer_information": {
                "included": False,
                "description": "No aggregate consumer information (1798.140(b)).",
            },
            "processing": {"description": dataset.processing_description},
            "collection_period": {
                "first_recorded_at": period["first_recorded_at"],
                "last_recorded_at": period["last_recorded_at"],
                "ongoing": dataset.collection_ongoing,
            },
            "first_used_in_training": dataset.first_used_in_training_on or "not yet used",
            "synthetic_data": {"used": dataset.synthetic_data_used},
        },
        "voice": {
            key: figures[key]
            for key in (
                "hours",
                "speaker_hours",
                "recordings",
                "tracks",
                "distinct_speakers",
                "speakers_per_session",
                "channels_per_recording",
                "isolated_at_source_share",
                "languages",
                "sample_rates",
                "jurisdictions",
            )
        },
        "consent": {
            "intended_purposes": dataset.intended_purposes,
            "coverage": {purpose: coverage[purpose] for purpose in Purpose.values},
            "regimes": figures["consent_regimes"],
            "withdrawal_feed": links["withdrawal_feed"],
            "errata_count": len(errata),
        },
        "compensation": figures["compensation"],
        "license": {
            "spdx": dataset.license_spdx,
            "name": dataset.license_name,
            "url": dataset.license_url,
            "commercial_redistribution": dataset.commercial_redistribution,
        },
        "phase_fit": dataset.phase_fit,
        "usage_preferences": preferences.usage_preferences(release),
        "eu_ai_act_summary": eu_ai_act_summary(release),
        "redress_contact": dataset.redress_contact,
        "generated_at": generated_at(release, errata).isoformat(),
    }


def eu_ai_act_summary(release: Release) -> dict[str, Any]:
    """The Commission's public-summary template (Art. 53(1)(d)), as it applies to a
    corpus licensed from this registry: a licensed private dataset (section 2.2)."""
    dataset, figures = facts(release), release.card_figures
    return {
        "1_general_information": {
            "provider": dataset.owner,
            "modality": "audio",
            "size": f"{figures['hours']} hours in {figures['recordings']} recordings",
            "content_types": "conversational speech, two channels, one speaker each",
            "latest_collection_date": figures["collection_period"]["last_recorded_at"],
            "collection_ongoing": dataset.collection_ongoing,
            "languages": [row["language"] for row in figures["languages"]],
        },
        "2_data_sources": {
            "2_1_public_datasets": "none",
            "2_2_private_third_party_data": "licensed private dataset: this release, "
            "recorded with each speaker's separate consent per purpose",
            "2_3_crawled_data": "none",
            "2_4_user_data": "none",
            "2_5_synthetic_data": "used" if dataset.synthetic_data_used else "none",
            "2_6_other": "none",
        },
        "3_data_processing": {
            "3_1_text_and_data_mining_opt_outs": "Only speakers who opted in are included; "
            "withdrawals are published in the withdrawal feed and as errata.",
            "3_2_illegal_content_removal": "Conversations are collected from consenting "
            "adults on a controlled platform; flagged recordings are quarantined.",
            "3_3_other": dataset.processing_description,
        },
    }
