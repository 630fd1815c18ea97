"""Card renderings: the native card validates against the schema (and fails without any
AB-2013 item), mlcroissant validates the JSON-LD, huggingface_hub parses the README,
the PDF holds the figures, every rendering's signature verifies and one changed byte
breaks it, and the public URLs serve them."""

from __future__ import annotations

import copy
import io
import json

import jsonschema
import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from pypdf import PdfReader

from datasetcards.cards import croissant, huggingface, preferences
from datasetcards.cards.render import (
    SCHEMA,
    renderings,
    signatures,
    signed_card,
    verify_card,
    verify_rendering,
)

pytestmark = pytest.mark.django_db

AB2013_ITEMS = [
    "sources_and_owners",
    "purpose_furtherance",
    "data_points",
    "data_point_types",
    "intellectual_property",
    "purchased_or_licensed",
    "personal_information",
    "aggregate_consumer_information",
    "processing",
    "collection_period",
    "first_used_in_training",
    "synthetic_data",
]


def test_the_native_card_validates_against_the_published_schema(release):
    card = signed_card(release)
    jsonschema.validate(card, SCHEMA, format_checker=jsonschema.FormatChecker())
    assert set(card["ab2013"]) == set(AB2013_ITEMS)
    assert card["voice"]["hours"] == release.card_figures["hours"]
    assert card["release"]["manifest"]["sha256"] == release.manifest_sha256


@pytest.mark.parametrize("item", AB2013_ITEMS)
def test_a_card_missing_any_ab2013_item_fails_the_schema(release, item):
    card = copy.deepcopy(signed_card(release))
    del card["ab2013"][item]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(card, SCHEMA)


def test_mlcroissant_validates_the_json_ld_offline(release):
    import mlcroissant

    document = json.loads(renderings(release)["card.jsonld"].body)
    dataset = mlcroissant.Dataset(jsonld=document)
    assert dataset.metadata.name == "duplex-en-ja"
    assert croissant.missing_keys(document) == []
    assert document["@context"]["sc"] == "https://schema.org/"
    assert document["conformsTo"] == croissant.CONFORMS_TO
    assert document["distribution"][0]["sha256"] == release.manifest_sha256
    assert "rai:dataCollection" in document
    assert "rai:dataReleaseMaintenancePlan" in document


def test_the_project_check_catches_what_the_validator_lets_through(release):
    document = json.loads(renderings(release)["card.jsonld"].body)
    del document["creator"]
    document["recordSet"] = []
    assert croissant.missing_keys(document) == ["creator", "recordSet"]


def test_huggingface_hub_parses_the_readme_metadata(release):
    from huggingface_hub import DatasetCard

    text = renderings(release)["README.md"].body.decode()
    card = DatasetCard(text)
    data = card.data.to_dict()
    assert data["license"] == "cc-by-nc-4.0"
    assert data["size_categories"] == ["n<1K"]
    assert data["language"] == ["en", "ja"]
    assert huggingface.vocabulary_errors(huggingface.front_matter(release)) == []
    assert "AB-2013 training data summary" in card.text


def test_the_pdf_holds_the_key_figures(release):
    text = "".join(
        page.extract_text()
        for page in PdfReader(io.BytesIO(renderings(release)["card.pdf"].body)).pages
    )
    assert "Duplex conversations" in text
    assert "2.583" in text  # hours
    assert release.manifest_sha256 in text.replace("\n", "")
    assert "AB-2013" in text
    assert "EU AI Act" in text


def test_renderings_are_deterministic(release):
    first, second = renderings(release), renderings(release)
    assert {k: v.body for k, v in first.items()} == {k: v.body for k, v in second.items()}


def test_every_signature_verifies_and_one_changed_byte_breaks_it(release):
    files = renderings(release)
    document = signatures(release)
    for name, item in files.items():
        entry = document["files"][name]["signature"]
        assert verify_rendering(name, item.body, entry), name
        tampered = bytearray(item.body)
        index = len(tampered) // 2
        tampered[index] = (tampered[index] + 1) % 256
        assert not verify_rendering(name, bytes(tampered), entry), name
    card = json.loads(files["card.json"].body)
    assert verify_card(card)
    card["voice"]["hours"] += 1
    assert not verify_card(card)


def test_usage_preferences_allow_only_what_everyone_consented_to(release):
    prefs = preferences.usage_preferences(release)
    assert prefs["ietf_ai_preferences"] == {"train-ai": "y", "search": "n"}
    entries = prefs["c2pa_training_mining"]["entries"]
    assert entries["cawg.ai_training"] == {"use": "allowed"}
    assert entries["cawg.ai_generative_training"] == {"use": "notAllowed"}  # likeness 0%
    assert entries["cawg.ai_inference"] == {"use": "notAllowed"}  # biometric 25%
    rsl = renderings(release)["rsl.xml"].body.decode()
    assert 'xmlns="https://rslstandard.org/rsl"' in rsl
    assert '<permits type="usage">ai-train</permits>' in rsl
    assert '<prohibits type="user">commercial</prohibits>' in rsl


def test_public_urls_serve_the_card_in_every_format(client, release):
    args = ["duplex-en-ja", "1.0.0"]
    assert "Duplex conversations" in client.get(reverse("datasetcards:list")).content.decode()
    page = client.get(reverse("datasetcards:release", args=args))
    assert page.status_code == 200
    assert "Consent coverage at release" in page.content.decode()
    for name, content_type in [
        ("card-json", "application/json"),
        ("card-jsonld", "application/ld+json"),
        ("card-readme", "text/markdown; charset=utf-8"),
        ("card-pdf", "application/pdf"),
        ("rsl", "application/rsl+xml"),
        ("card-sig", "application/json"),
    ]:
        response = client.get(reverse(f"datasetcards:{name}", args=args))
        assert response.status_code == 200, name
        assert response["Content-Type"] == content_type
        assert response["Content-Usage"] == "train-ai=y, search=n"
    assert (
        client.get(reverse("datasetcards:release", args=["duplex-en-ja", "9.9.9"])).status_code
        == 404
    )


def test_a_release_still_building_is_not_public(client, dataset):
    from datasetcards.services import create_release

    create_release(dataset=dataset, version="2.0.0")  # the build task never ran
    assert (
        client.get(reverse("datasetcards:card-json", args=["duplex-en-ja", "2.0.0"])).status_code
        == 404
    )


def test_verify_card_command(tmp_path, release):
    files = renderings(release)
    card_path = tmp_path / "card.json"
    card_path.write_bytes(files["card.json"].body)
    call_command("verify_card", str(card_path))
    sig_path = tmp_path / "card.sig"
    sig_path.write_text(json.dumps(signatures(release)))
    pdf_path = tmp_path / "card.pdf"
    pdf_path.write_bytes(files["card.pdf"].body)
    call_command("verify_card", str(pdf_path), "--signatures", str(sig_path))
    pdf_path.write_bytes(files["card.pdf"].body + b"\n")
    with pytest.raises(CommandError, match="INVALID"):
        call_command("verify_card", str(pdf_path), "--signatures", str(sig_path))


def test_a_use_is_allowed_only_when_every_participant_consented_exactly(release):
    release.card_figures["consent_coverage"]["likeness"] = 1.0  # as if 29,999 of 30,000
    release.card_figures["consent_complete"]["likeness"] = False
    assert preferences.c2pa_training_mining(release)["entries"]["cawg.ai_generative_training"] == {
        "use": "notAllowed"
    }
    type(release).objects.filter(pk=release.pk).update(status="tainted")
    release.refresh_from_db()
    assert preferences.ietf_ai_preferences(release)["train-ai"] == "n"


def test_editing_the_dataset_does_not_rewrite_a_published_card(release):
    before = {name: item.body for name, item in renderings(release).items()}
    type(release.dataset).objects.filter(pk=release.dataset_id).update(
        name="Renamed", license_spdx="MIT", intended_purposes=["training"]
    )
    reloaded = type(release).objects.get(pk=release.pk)
    after = {name: item.body for name, item in renderings(reloaded).items()}
    assert after == before


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("ab2013", "first_used_in_training"), None),
        (("ab2013", "collection_period", "first_recorded_at"), None),
        (("ab2013", "collection_period", "last_recorded_at"), "yesterday"),
        (("ab2013", "intellectual_property", "status"), None),
    ],
)
def test_an_ab2013_item_set_to_nothing_fails_the_schema(release, path, value):
    card = copy.deepcopy(signed_card(release))
    target = card
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(card, SCHEMA, format_checker=jsonschema.FormatChecker())


def test_a_changed_value_or_a_duplicate_key_in_a_json_card_fails_verification(release):
    item = renderings(release)["card.jsonld"]
    entry = signatures(release)["files"]["card.jsonld"]
    document = json.loads(item.body)
    document["distribution"][0]["sha256"] = "0" * 64
    assert not verify_rendering("card.jsonld", json.dumps(document).encode(), entry["signature"])
    card = renderings(release)["card.json"].body.decode()
    duplicated = card.replace('"format":', '"format": "x", "format":', 1).encode()
    sig = signatures(release)["files"]["card.json"]
    assert not verify_rendering("card.json", duplicated, sig["signature"])
    assert not verify_rendering("card.json", duplicated, sig["signature"], sig["sha256"])
    assert verify_rendering("card.json", card.encode(), sig["signature"], sig["sha256"])


@pytest.mark.parametrize("version", ["1.0", "v1.0.0", "1.0.0%00"])
def test_a_malformed_version_in_a_url_is_not_found(client, release, version):
    response = client.get(f"/datasets/duplex-en-ja/{version}/card.json")
    assert response.status_code == 404


def test_the_pdf_downloads_under_the_name_its_signature_lists(client, release):
    response = client.get(reverse("datasetcards:card-pdf", args=["duplex-en-ja", "1.0.0"]))
    assert response["Content-Disposition"] == 'attachment; filename="card.pdf"'
    assert "card.pdf" in signatures(release)["files"]


def test_staff_see_datasets_releases_and_licenses_read_only(admin_client, release):
    for name in ("dataset", "release", "license"):
        page = admin_client.get(reverse(f"admin:datasetcards_{name}_changelist"))
        assert page.status_code == 200, name
    detail = admin_client.get(reverse("admin:datasetcards_release_change", args=[release.pk]))
    assert detail.status_code == 200
    assert 'name="_save"' not in detail.content.decode()
