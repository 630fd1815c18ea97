"""Croissant 1.1 JSON-LD with the Responsible-AI 1.0 vocabulary: the release described
as a dataset whose one file is the manifest (``cr:FileObject``) and whose record set is
the manifest's columns. ``mlcroissant`` validates it in the tests; ``missing_keys``
checks what the spec requires and the validator does not enforce."""

from __future__ import annotations

from typing import Any

from datasetcards.cards.native import facts, release_urls
from datasetcards.manifest import MANIFEST_FIELDS
from datasetcards.models import Release

CONTEXT: dict[str, Any] = {
    "@language": "en",
    "@vocab": "https://schema.org/",
    "sc": "https://schema.org/",
    "cr": "http://mlcommons.org/croissant/",
    "rai": "http://mlcommons.org/croissant/RAI/",
    "dct": "http://purl.org/dc/terms/",
    "citeAs": "cr:citeAs",
    "column": "cr:column",
    "conformsTo": "dct:conformsTo",
    "data": {"@id": "cr:data", "@type": "@json"},
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
    "examples": {"@id": "cr:examples", "@type": "@json"},
    "extract": "cr:extract",
    "field": "cr:field",
    "fileProperty": "cr:fileProperty",
    "fileObject": "cr:fileObject",
    "fileSet": "cr:fileSet",
    "format": "cr:format",
    "includes": "cr:includes",
    "isLiveDataset": "cr:isLiveDataset",
    "jsonPath": "cr:jsonPath",
    "key": "cr:key",
    "md5": "cr:md5",
    "parentField": "cr:parentField",
    "path": "cr:path",
    "recordSet": "cr:recordSet",
    "references": "cr:references",
    "regex": "cr:regex",
    "repeated": "cr:repeated",
    "replace": "cr:replace",
    "samplingRate": "cr:samplingRate",
    "separator": "cr:separator",
    "source": "cr:source",
    "subField": "cr:subField",
    "transform": "cr:transform",
}

CONFORMS_TO = ["http://mlcommons.org/croissant/1.1", "http://mlcommons.org/croissant/RAI/1.0"]
# Keys the Croissant spec requires of a dataset that mlcroissant does not enforce.
REQUIRED_KEYS = (
    "name",
    "description",
    "url",
    "license",
    "creator",
    "datePublished",
    "distribution",
    "recordSet",
)

FIELD_TYPES = {
    "track": "sc:Text",
    "recording": "sc:Text",
    "channel": "sc:Integer",
    "speaker": "sc:Text",
    "recorded_at": "sc:DateTime",
    "duration_ms": "sc:Integer",
    "sample_rate_hz": "sc:Integer",
    "channels": "sc:Integer",
    "language": "sc:Text",
    "jurisdiction": "sc:Text",
    "isolated_at_source": "sc:Boolean",
    "audio_sha256": "sc:Text",
}


def spdx_url(spdx: str) -> str:
    return f"https://spdx.org/licenses/{spdx}.html"


def build_croissant(release: Release, card: dict[str, Any]) -> dict[str, Any]:
    """Croissant JSON-LD of a built release; ``card`` is its native card."""
    dataset, figures = facts(release), release.card_figures
    links = release_urls(release)
    languages = [row["language"] for row in figures["languages"]]
    coverage = card["consent"]["coverage"]
    period = figures["collection_period"]
    fields = [
        {
            "@type": "cr:Field",
            "@id": f"tracks/{name}",
            "name": name,
            "description": f"Manifest column {name}.",
            "dataType": FIELD_TYPES[name],
            "source": {"fileObject": {"@id": "manifest.jsonl"}, "extract": {"column": name}},
        }
        for name in MANIFEST_FIELDS
    ]
    return {
        "@context": CONTEXT,
        "@type": "sc:Dataset",
        "conformsTo": CONFORMS_TO,
        "name": dataset.slug,
        "alternateName": dataset.name,
        "description": dataset.description,
        "url": links["page"],
        "version": release.version,
        "datePublished": release.built_at.date().isoformat() if release.built_at else None,
        "license": spdx_url(dataset.license_spdx)
        if dataset.license_spdx != "other"
        else dataset.license_url or links["page"],
        "creator": {"@type": "sc:Organization", "name": dataset.owner},
        "publisher": {"@type": "sc:Organization", "name": dataset.owner},
        "inLanguage": languages,
        "keywords": ["speech", "conversation", "two-channel", "full-duplex", "consented"],
        "isLiveDataset": False,
        "citeAs": f"{dataset.name}, release {release.version} ({links['page']})",
        "sc:usageInfo": (
            "Usable only under a license from the registry, for the purposes every "
            f"participant consented to ({', '.join(dataset.intended_purposes)}). "
            f"Withdrawals: {links['withdrawal_feed']}. Content-Usage: "
            f"{card['usage_preferences']['content_usage_header']}."
        ),
        "distribution": [
            {
                "@type": "cr:FileObject",
                "@id": "manifest.jsonl",
                "name": "manifest.jsonl",
                "description": "One JSON object per track of the release.",
                "contentUrl": links["manifest"],
                "encodingFormat": "application/jsonlines",
                "contentSize": f"{release.manifest_bytes} B",
                "sha256": release.manifest_sha256,
            }
        ],
        "recordSet": [
            {
                "@type": "cr:RecordSet",
                "@id": "tracks",
                "name": "tracks",
                "description": "One record per track: one speaker's channel of one call.",
                "key": {"@id": "tracks/track"},
                "field": fields,
            }
        ],
        "rai:dataCollection": (
            "Two-party conversations recorded by the registry's collection platform with "
            "each participant on their own channel (isolated at source for "
            f"{figures['isolated_at_source_share']:.0%} of recordings), after every "
            "participant consented to being recorded."
        ),
        "rai:dataCollectionType": ["Direct collection", "Crowdsourced"],
        "rai:dataCollectionMissingData": (
            "Recordings whose participants did not all consent to every purpose of the "
            "dataset are absent; withdrawals after the release are published as errata."
        ),
        "rai:dataCollectionRawData": "Raw per-channel audio as captured; no mixing.",
        "rai:dataCollectionTimeframe": [
            value for value in (period["first_recorded_at"], period["last_recorded_at"]) if value
        ],
        "rai:dataPreprocessingProtocol": [dataset.processing_description],
        "rai:dataManipulationProtocol": "None beyond the preprocessing protocol.",
        "rai:dataImputationProtocol": "None.",
        "rai:dataAnnotationProtocol": "No annotations; metadata come from the platform.",
        "rai:dataAnnotationPlatform": "None.",
        "rai:dataAnnotationAnalysis": "Not applicable.",
        "rai:annotationsPerItem": "0",
        "rai:annotatorDemographics": "Not applicable.",
        "rai:machineAnnotationTools": "None.",
        "rai:personalSensitiveInformation": (
            "Voices of identifiable adults (personal data; biometric only where speakers "
            f"consented: coverage {coverage['biometric']:.0%}). No names or contact data."
        ),
        "rai:dataBiases": (
            "Speakers are self-selected volunteers from the jurisdictions listed; "
            f"languages by hours: {', '.join(languages) or 'none'}."
        ),
        "rai:dataLimitations": (
            "Only consenting speakers; conversation topics follow the collection brief; "
            "recordings are withdrawn over time (see errata)."
        ),
        "rai:dataUseCases": (
            "Training full-duplex speech models (turn-taking), speech recognition and "
            "synthesis within the consented purposes; not speaker identification unless "
            "biometric coverage is 100%."
        ),
        "rai:dataSocialImpact": (
            "Speakers are paid per recorded hour and keep control: each purpose can be "
            "withdrawn at any time and withdrawals reach every licensee."
        ),
        "rai:dataReleaseMaintenancePlan": (
            "Releases are immutable; withdrawals are published in a signed feed and as "
            "errata on each release; new releases exclude withdrawn recordings."
        ),
    }


def missing_keys(document: dict[str, Any]) -> list[str]:
    """Spec-required keys absent or empty (the reference validator lets them pass)."""
    return [key for key in REQUIRED_KEYS if not document.get(key)]
