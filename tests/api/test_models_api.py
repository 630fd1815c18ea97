"""Derived models through the API: declared on releases licensed to me (another
licensee's release is refused exactly like an unknown id), reached by withdrawals, and
cleared when I report that I retrained, filtered or retired them."""

from __future__ import annotations

import uuid

import pytest
from django.utils import timezone

from datasetcards import services as datasets
from propagation.models import ModelStatusReport, PropagationTarget, TargetKind, TargetStatus
from registry.models import DerivedModel, DerivedModelStatus, Licensee
from tests.api.helpers import (
    api_client,
    assert_problem,
    at_once,
    biometric_licensee,
    collector_client,
    licensee_client,
)
from tests.consent.conftest import withdraw
from tests.factories import DerivedModelFactory
from tests.propagation.conftest import World, deliver_all

pytestmark = pytest.mark.django_db

MODELS = "/api/v1/models/"
UNKNOWN = "00000000-0000-4000-8000-000000000000"


def declaration(world: World, **changes) -> dict:
    return {
        "name": "duplex-7b",
        "version": "2026.11",
        "description": "Full-duplex speech model.",
        "withdrawal_action": "retrain",
        "trained_at": "2026-11-01T00:00:00Z",
        "releases": [str(world.release.public_id)],
    } | changes


def licensee_b(world: World) -> Licensee:
    """Licensee B holds the biometric release (A does not) and a model of its own."""
    other = biometric_licensee(world)
    DerivedModelFactory(licensee=other, name="b-model")
    return other


def flagged(world: World) -> PropagationTarget:
    """A training withdrawal delivered to A's model: the model's notice."""
    withdraw(world.a, "training")
    deliver_all()
    return PropagationTarget.objects.get(kind=TargetKind.DERIVED_MODEL, derived_model=world.model)


def snapshot(model: DerivedModel) -> tuple:
    model.refresh_from_db()
    releases = sorted(model.training_releases.values_list("pk", flat=True))
    return (model.status, model.withdrawals_pending, model.required_action, releases)


def test_declaring_a_model_on_my_release_registers_it_with_its_releases(world: World) -> None:
    client = licensee_client(world.licensee)
    response = client.post(MODELS, declaration(world), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    model = DerivedModel.objects.get(public_id=body["id"])
    assert (model.licensee, model.name, model.version) == (world.licensee, "duplex-7b", "2026.11")
    assert list(model.training_releases.all()) == [world.release]
    assert body["releases"] == [
        {"id": str(world.release.public_id), "dataset": "duplex", "version": "1.0.0"}
    ]
    assert (body["status"], body["withdrawals_pending"], body["required_action"]) == (
        "active",
        0,
        None,
    )
    assert body["pending_notices"] == []
    listed = [m["id"] for m in client.get(MODELS).json()["results"]]
    assert listed == [str(model.public_id), str(world.model.public_id)]


def test_a_release_of_another_licensee_is_refused_exactly_like_an_unknown_id(
    world: World,
) -> None:
    licensee_b(world)
    before = DerivedModel.objects.count()
    client = licensee_client(world.licensee)
    theirs = client.post(
        MODELS, declaration(world, releases=[str(world.biometric_release.public_id)]), format="json"
    )
    unknown = client.post(MODELS, declaration(world, releases=[UNKNOWN]), format="json")
    mixed = client.post(
        MODELS,
        declaration(
            world, releases=[str(world.release.public_id), str(world.biometric_release.public_id)]
        ),
        format="json",
    )
    problem = assert_problem(theirs, 400, "invalid_input")
    assert problem["field"] == "releases"
    assert assert_problem(unknown, 400, "invalid_input") == problem
    assert assert_problem(mixed, 400, "invalid_input") == problem
    assert DerivedModel.objects.count() == before


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"version": None}, "version"),
        ({"withdrawal_action": "delete"}, "withdrawal_action"),
        ({"trained_at": "last week"}, "trained_at"),
        ({"releases": []}, "releases"),
        ({"releases": "all"}, "releases"),
        ({"releases": ["not-a-uuid"]}, "releases"),
    ],
)
def test_bad_declarations_are_refused_and_create_nothing(world: World, changes, field) -> None:
    before = DerivedModel.objects.count()
    response = licensee_client(world.licensee).post(
        MODELS, declaration(world, **changes), format="json"
    )
    assert list(assert_problem(response, 400, "invalid_input")["errors"]) == [field]
    assert DerivedModel.objects.count() == before


def test_declaring_the_same_name_and_version_twice_is_a_conflict(world: World) -> None:
    client = licensee_client(world.licensee)
    assert client.post(MODELS, declaration(world), format="json").status_code == 201
    again = client.post(MODELS, declaration(world), format="json")
    assert assert_problem(again, 409, "duplicate")["field"] == "version"
    assert DerivedModel.objects.filter(name="duplex-7b").count() == 1


def test_a_withdrawal_reaches_a_declared_model_and_a_retrain_report_clears_it(
    world: World,
) -> None:
    client = licensee_client(world.licensee)
    model_id = client.post(MODELS, declaration(world), format="json").json()["id"]
    withdraw(world.a, "training")
    deliver_all()
    notice = PropagationTarget.objects.get(derived_model__public_id=model_id)
    detail = client.get(f"{MODELS}{model_id}/").json()
    assert (detail["status"], detail["required_action"], detail["withdrawals_pending"]) == (
        "flagged",
        "retrain",
        1,
    )
    assert detail["flagged_at"] is not None
    assert [(n["id"], n["status"]) for n in detail["pending_notices"]] == [
        (str(notice.idempotency_key), "delivered")
    ]
    response = client.patch(
        f"{MODELS}{model_id}/",
        {"status": "retrained", "note": "trained again on duplex 1.1.0"},
        format="json",
    )
    assert response.status_code == 200, response.content
    after = response.json()
    assert (after["status"], after["withdrawals_pending"], after["required_action"]) == (
        "retrained",
        0,
        None,
    )
    assert (after["flagged_at"], after["pending_notices"]) == (None, [])
    report = after["last_report"]
    assert (report["status"], report["note"], report["withdrawals_cleared"]) == (
        "retrained",
        "trained again on duplex 1.1.0",
        1,
    )
    assert report["acknowledged_notices"] == [str(notice.idempotency_key)]
    notice.refresh_from_db()
    assert notice.status == TargetStatus.ACKNOWLEDGED
    stored = ModelStatusReport.objects.get()
    assert (stored.derived_model.public_id, stored.status) == (uuid.UUID(model_id), "retrained")


def test_a_notice_still_on_its_way_flags_the_model_again_after_a_report(world: World) -> None:
    delivered = flagged(world)
    withdraw(world.b, "training")  # planned, not delivered yet
    on_its_way = PropagationTarget.objects.exclude(pk=delivered.pk).get(
        kind=TargetKind.DERIVED_MODEL
    )
    client = licensee_client(world.licensee)
    response = client.patch(
        f"{MODELS}{world.model.public_id}/", {"status": "retrained"}, format="json"
    )
    assert response.json()["last_report"]["acknowledged_notices"] == [
        str(delivered.idempotency_key)
    ]
    on_its_way.refresh_from_db()
    assert on_its_way.status == TargetStatus.PENDING
    deliver_all()
    detail = client.get(f"{MODELS}{world.model.public_id}/").json()
    assert (detail["status"], detail["withdrawals_pending"]) == ("flagged", 1)
    assert [n["id"] for n in detail["pending_notices"]] == [str(on_its_way.idempotency_key)]


def test_filtering_does_not_answer_a_contract_that_requires_retraining(world: World) -> None:
    notice = flagged(world)
    before = snapshot(world.model)
    response = licensee_client(world.licensee).patch(
        f"{MODELS}{world.model.public_id}/", {"status": "filtered"}, format="json"
    )
    assert_problem(response, 409, "model_status_conflict")
    assert snapshot(world.model) == before
    assert before[:2] == (DerivedModelStatus.FLAGGED, 1)
    notice.refresh_from_db()
    assert notice.status == TargetStatus.DELIVERED
    assert not ModelStatusReport.objects.exists()


def test_a_filter_contract_is_answered_by_filtering(world: World) -> None:
    model = DerivedModelFactory(licensee=world.licensee, withdrawal_action="filter")
    datasets.record_model_training(model=model, releases=[world.release])
    withdraw(world.a, "training")
    deliver_all()
    response = licensee_client(world.licensee).patch(
        f"{MODELS}{model.public_id}/", {"status": "filtered"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert (response.json()["status"], response.json()["withdrawals_pending"]) == ("filtered", 0)


def test_only_a_flagged_model_can_be_reported_retrained(world: World) -> None:
    before = snapshot(world.model)
    response = licensee_client(world.licensee).patch(
        f"{MODELS}{world.model.public_id}/", {"status": "retrained"}, format="json"
    )
    assert "flagged" in assert_problem(response, 409, "model_status_conflict")["detail"]
    assert snapshot(world.model) == before
    assert before[0] == DerivedModelStatus.ACTIVE


def test_retiring_answers_the_withdrawals_and_is_final(world: World) -> None:
    notice = flagged(world)
    client = licensee_client(world.licensee)
    url = f"{MODELS}{world.model.public_id}/"
    retired = client.patch(url, {"status": "retired"}, format="json")
    assert (retired.json()["status"], retired.json()["withdrawals_pending"]) == ("retired", 0)
    notice.refresh_from_db()
    assert notice.status == TargetStatus.ACKNOWLEDGED
    for status in ("retired", "retrained"):
        again = client.patch(url, {"status": status}, format="json")
        assert_problem(again, 409, "model_status_conflict")
    assert ModelStatusReport.objects.count() == 1


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"status": "active"},
        {"status": "flagged"},
        {"status": "deleted"},
        {"status": "retrained", "note": "x" * 2001},
    ],
)
def test_bad_status_reports_are_refused_and_change_nothing(world: World, body) -> None:
    flagged(world)
    before = snapshot(world.model)
    response = licensee_client(world.licensee).patch(
        f"{MODELS}{world.model.public_id}/", body, format="json"
    )
    assert_problem(response, 400, "invalid_input")
    assert snapshot(world.model) == before
    assert not ModelStatusReport.objects.exists()


def test_adding_a_release_that_already_lost_voices_flags_the_model(world: World) -> None:
    datasets.grant_license(
        licensee=world.licensee,
        dataset=world.biometric,
        purposes_allowed=["biometric"],
        derived_model_action="retrain",
        starts_on=timezone.now().date(),
        releases=[world.biometric_release],
    )
    datasets.taint_release(
        release_id=world.biometric_release.pk,
        source_key=uuid.uuid4(),
        reason="withdrawal of biometric consent by a speaker",
        purpose="biometric",
        effective_at=timezone.now(),
        recording_ids=[world.calls[0].public_id],
    )
    client = licensee_client(world.licensee)
    url = f"{MODELS}{world.model.public_id}/releases"
    response = client.post(
        url, {"releases": [str(world.biometric_release.public_id)]}, format="json"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert sorted(r["id"] for r in body["releases"]) == sorted(
        [str(world.release.public_id), str(world.biometric_release.public_id)]
    )
    assert (body["status"], body["withdrawals_pending"]) == ("flagged", 1)
    # Declaring one again keeps it once.
    again = client.post(url, {"releases": [str(world.release.public_id)]}, format="json")
    assert len(again.json()["releases"]) == 2


def test_adding_another_licensees_release_is_refused_like_an_unknown_one(world: World) -> None:
    licensee_b(world)
    before = snapshot(world.model)
    client = licensee_client(world.licensee)
    url = f"{MODELS}{world.model.public_id}/releases"
    theirs = client.post(url, {"releases": [str(world.biometric_release.public_id)]}, format="json")
    unknown = client.post(url, {"releases": [UNKNOWN]}, format="json")
    assert assert_problem(theirs, 400, "invalid_input") == assert_problem(
        unknown, 400, "invalid_input"
    )
    bad: list[dict] = [{}, {"releases": []}, {"releases": ["x"]}]
    for body in bad:
        assert_problem(client.post(url, body, format="json"), 400, "invalid_input")
    assert snapshot(world.model) == before


def test_another_licensees_model_is_not_found_like_an_unknown_one(world: World) -> None:
    flagged(world)
    before = snapshot(world.model)
    other = licensee_client(licensee_b(world))
    assert [m["name"] for m in other.get(MODELS).json()["results"]] == ["b-model"]
    for method, suffix, body in [
        ("get", "/", None),
        ("patch", "/", {"status": "retrained"}),
        ("post", "/releases", {"releases": [str(world.biometric_release.public_id)]}),
    ]:
        hidden = getattr(other, method)(
            f"{MODELS}{world.model.public_id}{suffix}", body, format="json"
        )
        unknown = getattr(other, method)(f"{MODELS}{UNKNOWN}{suffix}", body, format="json")
        assert assert_problem(hidden, 404, "not_found") == assert_problem(unknown, 404, "not_found")
    assert snapshot(world.model) == before
    assert not ModelStatusReport.objects.exists()


def test_models_need_a_licensee_token_that_manages_models(world: World, client) -> None:
    before = DerivedModel.objects.count()
    assert_problem(client.get(MODELS), 401, "not_authenticated")
    reader = licensee_client(world.licensee, scopes=["datasets:read", "webhooks:manage"])
    for response in (
        reader.get(MODELS),
        reader.post(MODELS, declaration(world), format="json"),
        reader.get(f"{MODELS}{world.model.public_id}/"),
        collector_client().get(MODELS),
    ):
        assert_problem(response, 403, "permission_denied")
    assert DerivedModel.objects.count() == before


def test_a_models_page_takes_a_fixed_number_of_queries(
    world: World, django_assert_max_num_queries
) -> None:
    for _ in range(10):
        model = DerivedModelFactory(licensee=world.licensee)
        datasets.record_model_training(model=model, releases=[world.release])
    client = licensee_client(world.licensee)
    client.get(MODELS)  # the token's last use is recorded once a minute
    with django_assert_max_num_queries(3):
        response = client.get(MODELS)
    results = response.json()["results"]
    assert len(results) == 11
    assert all(m["releases"][0]["id"] == str(world.release.public_id) for m in results)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_same_declaration_sent_twice_at_once_makes_one_model(world: World) -> None:
    """A double submit: one 201, the twin a 409 conflict (never a 500)."""
    from registry import tokens

    secret = tokens.issue_api_token(
        name="p", kind="licensee", scopes=["models:manage"], licensee=world.licensee
    ).secret
    body = declaration(world, name="twin", version="1")
    answers = at_once([lambda: api_client(secret).post("/api/v1/models/", body, format="json")] * 4)
    assert sorted(a.status_code for a in answers) == [201, 409, 409, 409]
    assert DerivedModel.objects.filter(name="twin").count() == 1
