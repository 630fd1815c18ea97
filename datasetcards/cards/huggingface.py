"""Hugging Face dataset card: README.md with YAML front matter the Hub's card parser
reads, values checked against the lists in ``datasetcards/vocab/huggingface.json``
(the Hub's own validation needs the network), and the card text below it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from datasetcards.cards.native import facts, release_urls
from datasetcards.models import Release

VOCAB: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parent.parent / "vocab" / "huggingface.json").read_text()
)


def size_category(n: int) -> str:
    bounds = [1_000 * 10**i for i in range(10)]
    for bound, label in zip(bounds, VOCAB["size_categories"], strict=False):
        if n < bound:
            return str(label)
    return str(VOCAB["size_categories"][-1])


def front_matter(release: Release) -> dict[str, Any]:
    dataset, figures = facts(release), release.card_figures
    links = release_urls(release)
    metadata: dict[str, Any] = {
        "pretty_name": f"{dataset.name} {release.version}",
        "license": VOCAB["licenses"][dataset.license_spdx],
        "language": sorted({row["language"].split("-")[0] for row in figures["languages"]}),
        "multilinguality": "multilingual" if len(figures["languages"]) > 1 else "monolingual",
        "size_categories": [size_category(figures["tracks"])],
        "task_categories": ["automatic-speech-recognition", "text-to-speech", "audio-to-audio"],
        "annotations_creators": ["no-annotation"],
        "language_creators": ["crowdsourced"],
        "source_datasets": ["original"],
        "tags": ["speech", "conversation", "two-channel", "full-duplex", "consent"],
        "configs": [
            {"config_name": "default", "data_files": [{"split": "train", "path": "manifest.jsonl"}]}
        ],
        "extra_gated_prompt": (
            "This corpus contains the voices of people who consented to specific uses only. "
            f"Access requires a license from {dataset.owner}."
        ),
        "extra_gated_fields": {"Organisation": "text", "License reference": "text"},
    }
    if dataset.license_spdx == "other":
        metadata["license_name"] = dataset.license_name or "custom"
        metadata["license_link"] = dataset.license_url or links["page"]
    return metadata


def vocabulary_errors(metadata: dict[str, Any]) -> list[str]:
    """Values outside the lists kept in the repo (an empty list means all are known)."""
    errors = []
    if metadata["license"] not in VOCAB["licenses"].values():
        errors.append(f"license {metadata['license']!r}")
    for key in (
        "size_categories",
        "task_categories",
        "annotations_creators",
        "language_creators",
        "source_datasets",
    ):
        errors.extend(f"{key} {v!r}" for v in metadata[key] if v not in VOCAB[key])
    return errors


def build_readme(release: Release, card: dict[str, Any]) -> str:
    dataset, figures = facts(release), release.card_figures
    links = release_urls(release)
    coverage = card["consent"]["coverage"]
    ab = card["ab2013"]
    lines = [
        "---",
        yaml.safe_dump(front_matter(release), sort_keys=False, allow_unicode=True).strip(),
        "---",
        "",
        f"# {dataset.name} — release {release.version}",
        "",
        dataset.description,
        "",
        f"Status: **{release.status}** · errata: {card['release']['errata_count']} · "
        f"signed card: {links['card']}",
        "",
        "## At a glance",
        "",
        "| | |",
        "|---|---|",
        f"| hours of conversation | {figures['hours']} |",
        f"| speaker-hours | {figures['speaker_hours']} |",
        f"| recordings / tracks | {figures['recordings']} / {figures['tracks']} |",
        f"| distinct speakers | {figures['distinct_speakers']} |",
        f"| isolated at source | {figures['isolated_at_source_share']:.0%} |",
        "| languages | "
        + ", ".join(f"{r['language']} ({r['hours']} h)" for r in figures["languages"])
        + " |",
        "| sample rates | "
        + ", ".join(
            f"{r['sample_rate_hz']} Hz ({r['recordings']})" for r in figures["sample_rates"]
        )
        + " |",
        f"| training phase fit | {', '.join(dataset.phase_fit)} |",
        f"| license | {dataset.license_spdx}; commercial redistribution: "
        f"{'yes' if dataset.commercial_redistribution else 'no'} |",
        "",
        "## Consent",
        "",
        f"Every recording here was consented to by every participant for: "
        f"{', '.join(dataset.intended_purposes)}. Coverage of each purpose at release:",
        "",
        "| purpose | coverage |",
        "|---|---|",
        *(f"| {purpose} | {share:.0%} |" for purpose, share in coverage.items()),
        "",
        f"Withdrawals after release: {links['withdrawal_feed']} (signed, ids only). "
        f"Usage preferences: `Content-Usage: {card['usage_preferences']['content_usage_header']}`.",
        "",
        "## AB-2013 training data summary",
        "",
        f"1. Sources and owners: {ab['sources_and_owners']['sources']} Owner: {dataset.owner}.",
        f"2. Purpose: {ab['purpose_furtherance']}",
        f"3. Data points: {ab['data_points']['count']} tracks in "
        f"{ab['data_points']['recordings']} recordings.",
        "4. Types: " + "; ".join(ab["data_point_types"]) + ".",
        f"5. Intellectual property: {ab['intellectual_property']['status']}.",
        f"6. Purchased or licensed: {ab['purchased_or_licensed']['description']}.",
        f"7. Personal information: yes. {ab['personal_information']['description']}",
        "8. Aggregate consumer information: no.",
        f"9. Processing: {ab['processing']['description']}",
        f"10. Collected {ab['collection_period']['first_recorded_at']} to "
        f"{ab['collection_period']['last_recorded_at']}; ongoing: "
        f"{'yes' if ab['collection_period']['ongoing'] else 'no'}.",
        f"11. First used in training: {ab['first_used_in_training'] or 'not yet'}.",
        f"12. Synthetic data: {'used' if ab['synthetic_data']['used'] else 'none'}.",
        "",
        "## Redress",
        "",
        f"Speakers and anyone affected can reach {dataset.redress_contact}.",
        "",
    ]
    return "\n".join(lines)
