"""API tokens (hashed, scoped, expiring, revocable, rotatable) and the first licensee
endpoints: what a token may see, and every error as problem+json."""

from __future__ import annotations

import datetime
import hashlib

import pytest
import time_machine
from django.utils import timezone

from registry import tokens
from registry.api.auth import TokenRateThrottle
from registry.errors import InvalidInput
from registry.models import ApiToken
from tests.admin_login import verified_login
from tests.api.helpers import api_client, assert_problem
from tests.factories import LicenseeFactory
from tests.propagation.conftest import World

pytestmark = pytest.mark.django_db

READ = ["datasets:read"]


_client = api_client
_problem = assert_problem


def test_a_token_is_stored_only_as_the_digest_of_its_secret(db) -> None:
    issued = tokens.issue_api_token(
        name="pipeline", kind="licensee", scopes=READ, licensee=LicenseeFactory()
    )
    prefix, secret = issued.secret.removeprefix("vcr_").split("_", 1)
    token = ApiToken.objects.get()
    assert token.prefix == prefix
    assert token.secret_sha256 == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in str(ApiToken.objects.values().get())
    assert tokens.authenticate(issued.secret) == token


@pytest.mark.parametrize(
    ("kind", "scopes", "with_licensee", "lifetime"),
    [
        ("licensee", ["consent:write"], True, datetime.timedelta(days=1)),
        ("licensee", READ, False, datetime.timedelta(days=1)),
        ("collector", ["consent:write"], True, datetime.timedelta(days=1)),
        ("licensee", [], True, datetime.timedelta(days=1)),
        ("licensee", READ, True, datetime.timedelta(days=400)),
        ("root", READ, True, datetime.timedelta(days=1)),
    ],
)
def test_bad_token_requests_are_refused_and_create_nothing(
    kind, scopes, with_licensee, lifetime
) -> None:
    licensee = LicenseeFactory() if with_licensee else None
    with pytest.raises(InvalidInput):
        tokens.issue_api_token(
            name="x", kind=kind, scopes=scopes, licensee=licensee, lifetime=lifetime
        )
    assert not ApiToken.objects.exists()


def test_wrong_expired_and_revoked_tokens_do_not_authenticate(db) -> None:
    issued = tokens.issue_api_token(
        name="p", kind="licensee", scopes=READ, licensee=LicenseeFactory()
    )
    assert (
        tokens.authenticate(issued.secret[:-1] + ("A" if issued.secret[-1] != "A" else "B")) is None
    )
    assert tokens.authenticate("vcr_nothing") is None
    with time_machine.travel(timezone.now() + datetime.timedelta(days=91)):
        assert tokens.authenticate(issued.secret) is None
    tokens.revoke_api_token(token=issued.token)
    assert tokens.authenticate(issued.secret) is None


def test_last_used_is_recorded(db) -> None:
    issued = tokens.issue_api_token(
        name="p", kind="licensee", scopes=READ, licensee=LicenseeFactory()
    )
    assert issued.token.last_used_at is None
    tokens.authenticate(issued.secret)
    issued.token.refresh_from_db()
    assert issued.token.last_used_at is not None


def test_rotation_keeps_the_old_token_for_the_overlap_only(db) -> None:
    old = tokens.issue_api_token(name="p", kind="licensee", scopes=READ, licensee=LicenseeFactory())
    new = tokens.rotate_api_token(token=old.token, overlap=datetime.timedelta(hours=1))
    assert tokens.authenticate(new.secret) == new.token
    assert tokens.authenticate(old.secret) == old.token
    with time_machine.travel(timezone.now() + datetime.timedelta(hours=2)):
        assert tokens.authenticate(old.secret) is None
        assert tokens.authenticate(new.secret) == new.token
    with pytest.raises(InvalidInput):
        tokens.rotate_api_token(token=old.token, overlap=datetime.timedelta(0))


def test_releases_list_only_what_is_licensed_to_me(
    world: World, django_assert_max_num_queries
) -> None:
    mine = tokens.issue_api_token(name="a", kind="licensee", scopes=READ, licensee=world.licensee)
    other = tokens.issue_api_token(
        name="b", kind="licensee", scopes=READ, licensee=LicenseeFactory()
    )
    with django_assert_max_num_queries(4):
        response = _client(mine.secret).get("/api/v1/releases/")
    assert response.status_code == 200
    assert [r["id"] for r in response.json()["results"]] == [str(world.release.public_id)]
    assert _client(other.secret).get("/api/v1/releases/").json()["results"] == []
    detail = _client(mine.secret).get(f"/api/v1/releases/{world.release.public_id}/")
    assert detail.json()["manifest_sha256"] == world.release.manifest_sha256
    # Another licensee's release is not found, exactly like an id that does not exist.
    hidden = _client(other.secret).get(f"/api/v1/releases/{world.release.public_id}/")
    unknown = _client(other.secret).get("/api/v1/releases/00000000-0000-4000-8000-000000000000/")
    assert _problem(hidden, 404, "not_found") == _problem(unknown, 404, "not_found")


def test_missing_bad_and_unscoped_tokens_are_problems(world: World) -> None:
    _problem(_client().get("/api/v1/releases/"), 401, "not_authenticated")
    bad = _client("vcr_000000000000_" + "x" * 43).get("/api/v1/releases/")
    _problem(bad, 401, "authentication_failed")
    assert bad["WWW-Authenticate"].startswith("Bearer")
    _problem(
        _client().get("/api/v1/releases/", HTTP_AUTHORIZATION="Basic abc"),
        401,
        "authentication_failed",
    )
    collector = tokens.issue_api_token(name="c", kind="collector", scopes=["consent:write"])
    _problem(_client(collector.secret).get("/api/v1/releases/"), 403, "permission_denied")


def test_too_many_requests_get_429_with_retry_after(world: World, monkeypatch) -> None:
    monkeypatch.setattr(TokenRateThrottle, "THROTTLE_RATES", {"token": "2/min", "anon": "2/min"})
    issued = tokens.issue_api_token(name="a", kind="licensee", scopes=READ, licensee=world.licensee)
    client = _client(issued.secret)
    assert client.get("/api/v1/releases/").status_code == 200
    assert client.get("/api/v1/releases/").status_code == 200
    response = client.get("/api/v1/releases/")
    _problem(response, 429, "throttled")
    assert int(response["Retry-After"]) > 0


def test_the_schema_and_its_offline_docs_are_served(client) -> None:
    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert "/api/v1/releases/" in paths
    assert "/api/v1/releases/{release_id}/" in paths
    docs = client.get("/api/v1/docs/").content.decode()
    assert "swagger-ui" in docs
    assert "//cdn" not in docs  # served from the sidecar's static files, offline
    assert client.get("/api/v1/redoc/").status_code == 200


def test_staff_issue_a_token_in_the_admin_and_see_its_secret_once(client, admin_user) -> None:
    licensee = LicenseeFactory()
    verified_login(client, admin_user)
    response = client.post(
        "/admin/registry/apitoken/add/",
        {
            "name": "training pipeline",
            "kind": "licensee",
            "licensee": licensee.pk,
            "scopes": ["datasets:read", "feed:read"],
            "lifetime_days": 30,
        },
        follow=True,
    )
    page = response.content.decode()
    assert "it is not shown again" in page
    secret = page.split("not shown again: ", 1)[1].split("<", 1)[0].strip()
    token = ApiToken.objects.get()
    assert tokens.authenticate(secret) == token
    assert token.scopes == ["datasets:read", "feed:read"]
    # Listed by prefix, never by secret; revocation through the action.
    listing = client.get("/admin/registry/apitoken/").content.decode()
    assert token.prefix in listing
    assert secret not in listing
    client.post("/admin/registry/apitoken/", {"action": "revoke", "_selected_action": [token.pk]})
    assert tokens.authenticate(secret) is None


def test_a_token_with_scopes_beyond_its_kind_is_refused_in_the_admin(client, admin_user) -> None:
    verified_login(client, admin_user)
    response = client.post(
        "/admin/registry/apitoken/add/",
        {"name": "x", "kind": "collector", "scopes": ["datasets:read"], "lifetime_days": 30},
    )
    assert response.status_code == 200  # the form again, with the error
    assert not ApiToken.objects.exists()
