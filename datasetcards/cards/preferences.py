"""Machine-readable usage preferences of a release, derived from its consent coverage:
IETF AI Preferences vocabulary, an RSL license document, and C2PA/CAWG
training-and-data-mining assertion values. The mapping rule (one place): a use is
allowed only when every participant of every recording in the release consented to
it (coverage 1.0); anything less is not allowed. Drafts change: keep mappings here."""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree as ET

from django.conf import settings

from datasetcards.models import Release, ReleaseStatus

RSL_NAMESPACE = "https://rslstandard.org/rsl"


def _allowed(release: Release, purpose: str) -> bool:
    """Every participant of every recording consented (exactly, not rounded), and the
    release is current: a tainted or withdrawn release holds withdrawn voices."""
    complete = release.card_figures.get("consent_complete", {})
    return release.status == ReleaseStatus.CURRENT and complete.get(purpose) is True


def ietf_ai_preferences(release: Release) -> dict[str, str]:
    """``train-ai``: training models needs training consent (and redistribution, since a
    licensee trains its own); ``search`` is not a use of this corpus."""
    train = _allowed(release, "training") and _allowed(release, "redistribution")
    return {"train-ai": "y" if train else "n", "search": "n"}


def content_usage_header(release: Release) -> str:
    """The Structured Fields dictionary for an HTTP ``Content-Usage`` header."""
    return ", ".join(f"{k}={v}" for k, v in ietf_ai_preferences(release).items())


def c2pa_training_mining(release: Release) -> dict[str, Any]:
    """CAWG ``cawg.training-mining`` assertion entries (read as c2pa.training-mining too)."""
    training = _allowed(release, "training") and _allowed(release, "redistribution")
    generative = training and _allowed(release, "likeness")

    def use(allowed: bool) -> dict[str, str]:
        return {"use": "allowed" if allowed else "notAllowed"}

    return {
        "label": "cawg.training-mining",
        "entries": {
            "cawg.data_mining": use(False),
            "cawg.ai_inference": use(_allowed(release, "biometric")),
            "cawg.ai_generative_training": use(generative),
            "cawg.ai_training": use(training),
        },
    }


def rsl_document(release: Release, content_url: str) -> bytes:
    """RSL 1.0 license XML for the release's content URL."""
    ET.register_namespace("", RSL_NAMESPACE)
    root = ET.Element(f"{{{RSL_NAMESPACE}}}rsl")
    content = ET.SubElement(root, f"{{{RSL_NAMESPACE}}}content", {"url": content_url})
    license_ = ET.SubElement(content, f"{{{RSL_NAMESPACE}}}license")
    preferences = ietf_ai_preferences(release)
    permitted = ["ai-train"] if preferences["train-ai"] == "y" else []
    prohibited = ["search", "ai-index"] + ([] if permitted else ["ai-train"])
    if permitted:
        ET.SubElement(license_, f"{{{RSL_NAMESPACE}}}permits", {"type": "usage"}).text = " ".join(
            permitted
        )
    ET.SubElement(license_, f"{{{RSL_NAMESPACE}}}prohibits", {"type": "usage"}).text = " ".join(
        prohibited
    )
    if not release.card_figures["dataset"]["commercial_redistribution"]:
        ET.SubElement(
            license_, f"{{{RSL_NAMESPACE}}}prohibits", {"type": "user"}
        ).text = "commercial"
    ET.SubElement(license_, f"{{{RSL_NAMESPACE}}}payment", {"type": "subscription"})
    ET.SubElement(
        license_, f"{{{RSL_NAMESPACE}}}legal", {"type": "contact"}
    ).text = settings.CONSENT_CONTROLLER["email"]
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def usage_preferences(release: Release) -> dict[str, Any]:
    return {
        "rule": "a use is allowed only when every participant consented to it (coverage 1.0)",
        "ietf_ai_preferences": ietf_ai_preferences(release),
        "content_usage_header": content_usage_header(release),
        "c2pa_training_mining": c2pa_training_mining(release),
        "rsl": "rsl.xml",
    }
