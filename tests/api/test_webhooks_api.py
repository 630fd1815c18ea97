"""Webhook endpoints (register, rotate, ping, deactivate) and the withdrawal notices
delivered to a licensee (list, detail with attempts, bearer acknowledgement): only ever
the caller's own, every refusal as problem+json, nothing changed by bad input."""

from __future__ import annotations

import datetime
import json
import socket
import urllib.parse

import pytest
import time_machine
from django.core import mail
from django.core.cache import cache
from django.utils import timezone

from propagation import services as propagation
from propagation import webhooks
from propagation.models import (
    DeliveryAttempt,
    Propagation,
    PropagationStatus,
    PropagationTarget,
    TargetKind,
    TargetStatus,
    WebhookEndpoint,
)
from propagation.webhooks import verify_signature
from registry.models import Licensee
from tests.api.helpers import (
    api_client,
    assert_problem,
    at_once,
    biometric_licensee,
    collector_client,
    licensee_client,
)
from tests.consent.conftest import withdraw
from tests.propagation.conftest import Receiver, World, deliver_all

pytestmark = pytest.mark.django_db

WEBHOOKS = "/api/v1/webhooks/"
DELIVERIES = "/api/v1/deliveries/"
UNKNOWN = "00000000-0000-4000-8000-000000000000"


def endpoint_of(world: World) -> WebhookEndpoint:
    return WebhookEndpoint.objects.get(licensee=world.licensee, is_active=True)


def closed_port_url() -> str:
    """A loopback URL nothing listens on (the port was free a moment ago)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/hooks"


def licensee_b(world: World) -> Licensee:
    """Another licensee with a webhook and a license of its own."""
    other = biometric_licensee(world)
    propagation.register_webhook(licensee=other, url="http://127.0.0.1:9/other")
    return other


def notices(world: World) -> dict[str, PropagationTarget]:
    """A training withdrawal delivered: one notice per license and per model of A."""
    withdraw(world.a, "training")
    deliver_all()
    return {
        t.kind: t
        for t in PropagationTarget.objects.filter(
            kind__in=[TargetKind.LICENSE, TargetKind.DERIVED_MODEL]
        )
    }


# --- webhook endpoints ------------------------------------------------------------------


def test_registering_shows_the_secret_once_and_replaces_the_active_endpoint(
    world: World, receiver: Receiver
) -> None:
    old = endpoint_of(world)
    client = licensee_client(world.licensee)
    response = client.post(WEBHOOKS, {"url": receiver.url + "/v2"}, format="json")
    assert response.status_code == 201, response.content
    created = response.json()
    new = WebhookEndpoint.objects.get(public_id=created["id"])
    assert created["secret"] == new.secret
    assert created["secret"].startswith("whsec_")
    assert (created["url"], created["is_active"]) == (receiver.url + "/v2", True)
    old.refresh_from_db()
    assert old.is_active is False
    listed = client.get(WEBHOOKS)
    assert [(w["id"], w["is_active"]) for w in listed.json()["results"]] == [
        (str(new.public_id), True),
        (str(old.public_id), False),
    ]
    detail = client.get(f"{WEBHOOKS}{new.public_id}/")
    assert detail.json()["url"] == receiver.url + "/v2"
    assert "secret" not in detail.json()
    assert all("secret" not in w for w in listed.json()["results"])
    for page in (listed, detail):
        assert new.secret not in page.content.decode()


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"url": ""},
        {"url": "ftp://hooks.example/withdrawals"},
        {"url": "https://user:password@hooks.example/withdrawals"},
        {"url": "https://[::1/withdrawals"},
        {"url": "https://" + "h" * 500 + ".example/"},
        {"url": ["https://hooks.example/"]},
    ],
)
def test_bad_webhook_urls_are_refused_and_change_nothing(world: World, body) -> None:
    before = list(WebhookEndpoint.objects.values_list("pk", "is_active", "url"))
    response = licensee_client(world.licensee).post(WEBHOOKS, body, format="json")
    problem = assert_problem(response, 400, "invalid_input")
    assert "url" in json.dumps(problem)
    assert list(WebhookEndpoint.objects.values_list("pk", "is_active", "url")) == before


def test_webhooks_on_private_addresses_or_plain_http_are_refused(world: World, settings) -> None:
    before = list(WebhookEndpoint.objects.values_list("pk", "is_active"))
    client = licensee_client(world.licensee)
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = False
    private = client.post(WEBHOOKS, {"url": "https://127.0.0.1/hooks"}, format="json")
    assert assert_problem(private, 400, "invalid_input")["field"] == "url"
    assert "non-public" in private.json()["detail"]
    settings.WEBHOOK_ALLOW_HTTP = False
    plain = client.post(WEBHOOKS, {"url": "http://hooks.example/"}, format="json")
    assert "https" in assert_problem(plain, 400, "invalid_input")["detail"]
    assert list(WebhookEndpoint.objects.values_list("pk", "is_active")) == before


def test_a_body_that_is_not_json_is_refused(world: World) -> None:
    client = licensee_client(world.licensee)
    form = client.post(WEBHOOKS, {"url": "https://hooks.example/"})
    assert_problem(form, 415, "unsupported_media_type")
    broken = client.post(WEBHOOKS, "{url", content_type="application/json")
    assert_problem(broken, 400, "invalid_json")
    assert WebhookEndpoint.objects.count() == 1


def test_a_ping_reaches_my_endpoint_signed_and_creates_no_target(
    world: World, receiver: Receiver
) -> None:
    endpoint = endpoint_of(world)
    response = licensee_client(world.licensee).post(f"{WEBHOOKS}{endpoint.public_id}/ping")
    assert response.status_code == 200, response.content
    outcome = response.json()
    assert (outcome["ok"], outcome["status_code"], outcome["error"]) == (True, 200, "")
    assert outcome["latency_ms"] >= 0
    (ping,) = receiver.requests
    assert verify_signature(
        header=ping.headers["Registry-Signature"], body=ping.body, secret=world.secret
    )
    assert ping.headers["Idempotency-Key"] == outcome["id"]
    assert ping.json["event"] == "ping"
    assert ping.json["type"] == "ping"
    assert ping.json["id"] == outcome["id"]
    assert ping.json["webhook"] == str(endpoint.public_id)
    assert not PropagationTarget.objects.exists()
    assert not DeliveryAttempt.objects.exists()


def test_a_ping_to_a_closed_port_answers_ok_false_with_the_error_class(world: World) -> None:
    endpoint = propagation.register_webhook(licensee=world.licensee, url=closed_port_url()).endpoint
    response = licensee_client(world.licensee).post(f"{WEBHOOKS}{endpoint.public_id}/ping")
    assert response.status_code == 200, response.content
    outcome = response.json()
    assert (outcome["ok"], outcome["status_code"], outcome["error"]) == (
        False,
        None,
        "ConnectError",
    )


def test_a_ping_answered_with_an_error_status_is_not_ok(world: World, receiver: Receiver) -> None:
    receiver.statuses.append(500)
    endpoint = endpoint_of(world)
    outcome = licensee_client(world.licensee).post(f"{WEBHOOKS}{endpoint.public_id}/ping").json()
    assert (outcome["ok"], outcome["status_code"], outcome["error"]) == (False, 500, "HTTP 500")


def test_a_second_ping_within_the_interval_is_429_and_sends_nothing(
    world: World, receiver: Receiver
) -> None:
    url = f"{WEBHOOKS}{endpoint_of(world).public_id}/ping"
    client = licensee_client(world.licensee)
    assert client.post(url).status_code == 200
    assert_problem(client.post(url), 429, "ping_too_soon")
    assert len(receiver.requests) == 1


def test_a_notice_goes_to_the_address_that_was_checked_not_a_fresh_lookup(
    world: World, receiver: Receiver, monkeypatch
) -> None:
    """DNS rebinding: the name is resolved and checked once, and the connection goes to
    that address (here the name does not even resolve: only the pinned address works),
    keeping the name in the Host header (and SNI for https)."""
    port = urllib.parse.urlsplit(receiver.url).port
    # The first checked address refuses the connection: the next one is tried.
    monkeypatch.setattr(webhooks, "check_destination", lambda url: ["127.0.0.2", "127.0.0.1"])
    reply = webhooks.post(
        url=f"http://rebinding.invalid:{port}/hook",
        body=b"{}",
        idempotency_key="k",
        secrets=[world.secret],
    )
    assert (reply.status_code, reply.error) == (200, "")
    (request,) = receiver.requests
    assert request.headers["Host"] == f"rebinding.invalid:{port}"


def test_a_pinned_url_keeps_the_name_for_host_and_sni() -> None:
    headers: dict[str, str] = {}
    url, extensions = webhooks._pinned("https://hooks.example.org/w?x=1", "203.0.113.9", headers)
    assert url == "https://203.0.113.9/w?x=1"
    assert headers["Host"] == "hooks.example.org"
    assert extensions == {"sni_hostname": "hooks.example.org"}
    url, _ = webhooks._pinned("https://hooks.example.org:8443/w", "2001:db8::1", headers)
    assert (url, headers["Host"]) == ("https://[2001:db8::1]:8443/w", "hooks.example.org:8443")
    # The scheme's default port is left out of Host, as httpx does; names go out as IDNA.
    url, extensions = webhooks._pinned("https://bücher.example:443/w", "203.0.113.9", headers)
    assert (url, headers["Host"]) == ("https://203.0.113.9:443/w", "xn--bcher-kva.example")
    assert extensions == {"sni_hostname": "xn--bcher-kva.example"}
    # Nothing to pin: checks off, or the URL is an address already.
    assert webhooks._pinned("https://h.example/", None, {}) == ("https://h.example/", {})
    assert webhooks._pinned("https://[2001:db8::1]/", "2001:db8::1", {}) == (
        "https://[2001:db8::1]/",
        {},
    )


def test_each_host_name_gets_its_own_connection_pool() -> None:
    """Two names behind one address never share a TLS connection (made with one
    name's SNI and certificate)."""
    assert webhooks._client("a.example") is webhooks._client("a.example")
    assert webhooks._client("a.example") is not webhooks._client("b.example")


def test_a_rotated_secret_is_shown_once_and_the_old_one_verifies_during_grace(
    world: World, receiver: Receiver
) -> None:
    endpoint = endpoint_of(world)
    client = licensee_client(world.licensee)
    rotated = client.post(
        f"{WEBHOOKS}{endpoint.public_id}/rotate-secret", {"grace_hours": 1}, format="json"
    )
    assert rotated.status_code == 200, rotated.content
    new_secret = rotated.json()["secret"]
    assert new_secret.startswith("whsec_")
    assert new_secret != world.secret
    endpoint.refresh_from_db()
    assert endpoint.secret == new_secret
    assert rotated.json()["previous_secret_expires_at"] is not None
    assert new_secret not in client.get(f"{WEBHOOKS}{endpoint.public_id}/").content.decode()

    def last_ping_verifies_with(secret: str) -> bool:
        ping = receiver.requests[-1]
        header = ping.headers["Registry-Signature"]
        return verify_signature(header=header, body=ping.body, secret=secret)

    assert client.post(f"{WEBHOOKS}{endpoint.public_id}/ping").json()["ok"]
    assert last_ping_verifies_with(new_secret)
    assert last_ping_verifies_with(world.secret)
    cache.clear()  # the ping interval (Redis keeps real time, not the travelled one)
    with time_machine.travel(timezone.now() + datetime.timedelta(hours=2)):
        assert client.post(f"{WEBHOOKS}{endpoint.public_id}/ping").json()["ok"]
        assert last_ping_verifies_with(new_secret)
        assert not last_ping_verifies_with(world.secret)


@pytest.mark.parametrize("body", [{"grace_hours": -1}, {"grace_hours": 169}, {"grace_hours": "x"}])
def test_a_bad_grace_period_is_refused_and_keeps_the_secret(world: World, body) -> None:
    endpoint = endpoint_of(world)
    response = licensee_client(world.licensee).post(
        f"{WEBHOOKS}{endpoint.public_id}/rotate-secret", body, format="json"
    )
    assert list(assert_problem(response, 400, "invalid_input")["errors"]) == ["grace_hours"]
    endpoint.refresh_from_db()
    assert (endpoint.secret, endpoint.previous_secret, endpoint.rotated_at) == (
        world.secret,
        None,
        None,
    )


def test_a_deactivated_webhook_stays_listed_and_notices_go_by_email(world: World) -> None:
    endpoint = endpoint_of(world)
    client = licensee_client(world.licensee)
    url = f"{WEBHOOKS}{endpoint.public_id}/"
    assert client.delete(url).status_code == 204
    assert client.delete(url).status_code == 204  # again: nothing more to do
    assert client.get(url).json()["is_active"] is False
    assert [w["id"] for w in client.get(WEBHOOKS).json()["results"]] == [str(endpoint.public_id)]
    assert_problem(client.post(f"{url}ping"), 409, "webhook_inactive")
    assert_problem(client.post(f"{url}rotate-secret", {}, format="json"), 409, "webhook_inactive")
    endpoint.refresh_from_db()
    assert endpoint.secret == world.secret
    withdraw(world.a, "training")
    deliver_all()
    assert {m.to[0] for m in mail.outbox} == {world.licensee.contact_email}


def test_another_licensees_webhook_is_not_found_like_an_unknown_one(world: World) -> None:
    endpoint = endpoint_of(world)
    other = licensee_client(licensee_b(world))
    for method, suffix in [
        ("get", ""),
        ("delete", ""),
        ("post", "rotate-secret"),
        ("post", "ping"),
    ]:
        hidden = getattr(other, method)(f"{WEBHOOKS}{endpoint.public_id}/{suffix}", format="json")
        unknown = getattr(other, method)(f"{WEBHOOKS}{UNKNOWN}/{suffix}", format="json")
        assert assert_problem(hidden, 404, "not_found") == assert_problem(unknown, 404, "not_found")
    assert [w["url"] for w in other.get(WEBHOOKS).json()["results"]] == ["http://127.0.0.1:9/other"]
    endpoint.refresh_from_db()
    assert (endpoint.is_active, endpoint.secret, endpoint.rotated_at) == (True, world.secret, None)


def test_webhooks_need_a_licensee_token_that_manages_webhooks(world: World, client) -> None:
    assert_problem(client.get(WEBHOOKS), 401, "not_authenticated")
    reader = licensee_client(world.licensee, scopes=["datasets:read", "feed:read"])
    for response in (
        reader.get(WEBHOOKS),
        reader.post(WEBHOOKS, {"url": "https://hooks.example/"}, format="json"),
        reader.get(DELIVERIES),
        collector_client().get(WEBHOOKS),
    ):
        assert_problem(response, 403, "permission_denied")
    assert WebhookEndpoint.objects.count() == 1


# --- deliveries -------------------------------------------------------------------------


def test_my_deliveries_list_each_notice_with_its_last_attempt(world: World) -> None:
    sent = notices(world)
    client = licensee_client(world.licensee)
    response = client.get(DELIVERIES)
    assert response.status_code == 200, response.content
    listed = {d["id"]: d for d in response.json()["results"]}
    assert set(listed) == {str(t.idempotency_key) for t in sent.values()}
    license_notice = listed[str(sent[TargetKind.LICENSE].idempotency_key)]
    assert license_notice["kind"] == "license"
    assert license_notice["license"] == str(world.license.public_id)
    assert license_notice["derived_model"] is None
    assert (license_notice["status"], license_notice["attempts"]) == ("delivered", 1)
    assert (license_notice["cause"], license_notice["purpose"]) == ("withdrawal", "training")
    assert license_notice["last_attempt"]["outcome"] == "delivered"
    assert license_notice["last_attempt"]["status_code"] == 200
    assert license_notice["acknowledged_at"] is None
    due = sent[TargetKind.LICENSE].propagation.created_at + datetime.timedelta(days=14)
    assert datetime.datetime.fromisoformat(license_notice["ack_due_at"]) == due
    model_notice = listed[str(sent[TargetKind.DERIVED_MODEL].idempotency_key)]
    assert model_notice["derived_model"] == str(world.model.public_id)


def test_deliveries_filter_by_status_and_kind(world: World) -> None:
    sent = notices(world)
    client = licensee_client(world.licensee)

    def ids(**query: str) -> set[str]:
        return {d["id"] for d in client.get(DELIVERIES, query).json()["results"]}

    assert ids(status="delivered") == {str(t.idempotency_key) for t in sent.values()}
    assert ids(status="acknowledged") == set()
    assert ids(kind="license") == {str(sent[TargetKind.LICENSE].idempotency_key)}
    for query in ({"status": "lost"}, {"kind": "release"}, {"cursor": "not-a-cursor"}):
        assert_problem(client.get(DELIVERIES, query), 400, "invalid_input")


def test_a_delivery_shows_every_attempt_and_the_last_failure(
    world: World, receiver: Receiver
) -> None:
    receiver.default_status = 500
    withdraw(world.a, "training")
    deliver_all(rounds=1)
    target = PropagationTarget.objects.get(kind=TargetKind.LICENSE)
    client = licensee_client(world.licensee)
    failing = client.get(f"{DELIVERIES}{target.idempotency_key}/").json()
    assert failing["status"] == "failed"
    assert failing["last_attempt"]["error"] == "HTTP 500"
    assert failing["last_attempt"]["status_code"] == 500
    receiver.default_status = 200
    with time_machine.travel(timezone.now() + datetime.timedelta(hours=1)):
        deliver_all()
    detail = client.get(f"{DELIVERIES}{target.idempotency_key}/").json()
    assert detail["status"] == "delivered"
    assert [(a["number"], a["outcome"], a["status_code"]) for a in detail["attempt_log"]] == [
        (1, "failed", 500),
        (2, "delivered", 200),
    ]
    assert detail["last_attempt"] == detail["attempt_log"][-1]


def test_acknowledging_a_notice_twice_answers_the_same_time(world: World, client) -> None:
    sent = notices(world)
    api = licensee_client(world.licensee)
    answers = []
    for target in sent.values():
        url = f"{DELIVERIES}{target.idempotency_key}/acknowledge"
        first, again = api.post(url), api.post(url)
        assert first.status_code == again.status_code == 200
        assert first.json() == again.json()
        assert first.json()["status"] == "acknowledged"
        answers.append(first.json())
        target.refresh_from_db()
        assert target.status == TargetStatus.ACKNOWLEDGED
        assert (
            target.acknowledged_at.isoformat().replace("+00:00", "Z")
            == (first.json()["acknowledged_at"])
        )
    # Every target is done: the withdrawal's propagation is complete.
    done = Propagation.objects.get(pk=sent[TargetKind.LICENSE].propagation_id)
    assert done.status == PropagationStatus.COMPLETED
    # The notice's own token-in-URL acknowledgement agrees (the same service).
    license_target = sent[TargetKind.LICENSE]
    via_token = client.post(
        f"/api/v1/notices/{license_target.idempotency_key}/acknowledge",
        {"token": propagation.ack_token(license_target)},
        content_type="application/json",
    ).json()
    license_answer = next(a for a in answers if a["id"] == str(license_target.idempotency_key))
    assert datetime.datetime.fromisoformat(via_token["acknowledged_at"]) == (
        datetime.datetime.fromisoformat(license_answer["acknowledged_at"])
    )


def test_a_notice_not_delivered_yet_cannot_be_acknowledged(world: World) -> None:
    withdraw(world.a, "training")  # planned, not delivered
    target = PropagationTarget.objects.get(kind=TargetKind.DERIVED_MODEL)
    response = licensee_client(world.licensee).post(
        f"{DELIVERIES}{target.idempotency_key}/acknowledge"
    )
    assert_problem(response, 409, "notice_not_delivered")
    target.refresh_from_db()
    assert (target.status, target.acknowledged_at) == (TargetStatus.PENDING, None)


def test_another_licensees_deliveries_are_not_found_like_unknown_ones(world: World) -> None:
    sent = notices(world)
    other = licensee_client(licensee_b(world))
    assert other.get(DELIVERIES).json()["results"] == []
    target = sent[TargetKind.LICENSE]
    for suffix, method in [("", "get"), ("acknowledge", "post")]:
        hidden = getattr(other, method)(f"{DELIVERIES}{target.idempotency_key}/{suffix}")
        unknown = getattr(other, method)(f"{DELIVERIES}{UNKNOWN}/{suffix}")
        assert assert_problem(hidden, 404, "not_found") == assert_problem(unknown, 404, "not_found")
    target.refresh_from_db()
    assert (target.status, target.acknowledged_at) == (TargetStatus.DELIVERED, None)


def test_a_deliveries_page_takes_a_fixed_number_of_queries(
    world: World, django_assert_max_num_queries
) -> None:
    for purpose in ("training", "redistribution"):
        withdraw(world.a, purpose)
        withdraw(world.b, purpose)
    deliver_all()
    client = licensee_client(world.licensee)
    client.get(DELIVERIES)  # the token's last use is recorded once a minute
    with django_assert_max_num_queries(3):
        response = client.get(DELIVERIES)
    assert len(response.json()["results"]) == 8
    assert all(d["last_attempt"]["outcome"] == "delivered" for d in response.json()["results"])


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_registrations_sent_at_once_leave_exactly_one_active_endpoint(world: World) -> None:
    from registry import tokens

    secret = tokens.issue_api_token(
        name="p", kind="licensee", scopes=["webhooks:manage"], licensee=world.licensee
    ).secret
    urls = [f"{world_url}?n={n}" for n, world_url in enumerate([endpoint_of(world).url] * 4)]
    answers = at_once(
        [
            (
                lambda url=url: api_client(secret).post(
                    "/api/v1/webhooks/", {"url": url}, format="json"
                )
            )
            for url in urls
        ]
    )
    assert [a.status_code for a in answers] == [201] * 4
    assert WebhookEndpoint.objects.filter(licensee=world.licensee, is_active=True).count() == 1
