"""The collection platform's API: speakers, notices, consent acts (with Idempotency-Key)
and sessions. Every act goes through the portal's services and rules; bad input changes
nothing; only collector tokens get in."""

from __future__ import annotations

import datetime
import threading
import time
import uuid
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from consent import services
from consent.api import idempotency
from consent.models import (
    ActorKind,
    Consent,
    ConsentEvent,
    ConsentOutbox,
    ConsentReceipt,
    IdempotencyRecord,
    OutboxKind,
    Purpose,
    RecordingSession,
    SessionParticipant,
)
from consent.selectors import current_notice
from consent.services.idempotency import purge_expired_idempotency_records
from propagation.models import Propagation
from registry.models import ApiToken, Speaker, TokenScope
from tests.api.helpers import api_client, assert_problem, at_once, collector_client, licensee_client
from tests.consent.conftest import give, publish, signed, withdraw
from tests.factories import LicenseeFactory, SpeakerFactory, erase_speaker_row
from tests.propagation.conftest import World

pytestmark = pytest.mark.django_db

WRITE = [TokenScope.WRITE_CONSENT]
INGEST_ONLY = [TokenScope.INGEST]


def counts() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (
            Speaker,
            ConsentEvent,
            Consent,
            ConsentOutbox,
            RecordingSession,
            SessionParticipant,
            IdempotencyRecord,
        )
    }


def consents_url(speaker: Speaker) -> str:
    return reverse("api:collector-speaker-consents", kwargs={"speaker_id": speaker.public_id})


def act(client: Any, speaker: Speaker, body: dict[str, Any], key: str | None = None) -> Any:
    return client.post(
        consents_url(speaker),
        body,
        format="json",
        HTTP_IDEMPOTENCY_KEY=key if key is not None else str(uuid.uuid4()),
    )


def give_body(speaker: Speaker, purpose: str = Purpose.TRAINING, **extra: Any) -> dict[str, Any]:
    return {
        "action": "give",
        "purpose": purpose,
        "notice": str(current_notice(speaker=speaker, purpose=purpose).public_id),
        "evidence": {
            "method": "web_form_signed",
            "signed_name": "Dana Example",
            "ip_address": "203.0.113.7",
            "user_agent": "PlatformApp/1.0",
        },
        **extra,
    }


# --- Speakers ------------------------------------------------------------------------

SPEAKER = {
    "name": "Dana Example",
    "jurisdiction": "US-IL",
    "preferred_language": "en",
    "email": "dana@example.org",
    "phone": "+1 312 555 0100",
    "age_verification_method": "platform_attestation",
    "age_attested_minimum": 21,
}


def test_registering_a_speaker_answers_its_public_id_only_and_keeps_the_details(db) -> None:
    response = collector_client(WRITE).post(
        reverse("api:collector-speakers"), SPEAKER, format="json"
    )
    assert response.status_code == 201, response.content
    speaker = Speaker.objects.get()
    assert response.json() == {"id": str(speaker.public_id)}
    for secret in ("Dana", "dana@example.org", "555 0100"):
        assert secret not in response.content.decode()
    assert (speaker.name, speaker.email, speaker.phone) == (
        "Dana Example",
        "dana@example.org",
        "+1 312 555 0100",
    )
    assert (speaker.jurisdiction, speaker.age_attested_minimum) == ("US-IL", 21)
    assert speaker.age_verified_at is not None


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": ""}, "name"),
        ({"jurisdiction": "Illinois"}, "jurisdiction"),
        ({"preferred_language": "English"}, "preferred_language"),
        ({"email": "not-an-email"}, "email"),
        ({"age_verification_method": "trust_me"}, "age_verification_method"),
        ({"age_attested_minimum": -3}, "age_attested_minimum"),
    ],
)
def test_malformed_speakers_are_refused_with_the_field_and_nothing_is_stored(
    db, change: dict[str, Any], field: str
) -> None:
    response = collector_client(WRITE).post(
        reverse("api:collector-speakers"), {**SPEAKER, **change}, format="json"
    )
    body = assert_problem(response, 400, "invalid_input")
    assert field in body["errors"]
    assert not Speaker.objects.exists()


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"age_attested_minimum": 16}, "invalid_input", "age_attested_minimum"),
        (
            {"age_verification_method": "date_of_birth", "date_of_birth": "2099-01-01"},
            "date_of_birth_implausible",
            "date_of_birth",
        ),
    ],
)
def test_speakers_the_service_refuses_answer_its_code_and_nothing_is_stored(
    db, change: dict[str, Any], code: str, field: str
) -> None:
    response = collector_client(WRITE).post(
        reverse("api:collector-speakers"), {**SPEAKER, **change}, format="json"
    )
    assert assert_problem(response, 400, code)["field"] == field
    assert not Speaker.objects.exists()


def test_a_second_speaker_with_the_same_email_is_a_conflict(db) -> None:
    client = collector_client(WRITE)
    assert client.post(reverse("api:collector-speakers"), SPEAKER, format="json").status_code == 201
    response = client.post(reverse("api:collector-speakers"), SPEAKER, format="json")
    assert assert_problem(response, 409, "duplicate")["field"] == "email"
    assert "dana@example.org" not in response.content.decode()
    assert Speaker.objects.count() == 1


def test_only_a_collector_token_with_consent_write_registers_speakers(db) -> None:
    url = reverse("api:collector-speakers")
    assert_problem(api_client().post(url, SPEAKER, format="json"), 401, "not_authenticated")
    assert_problem(
        collector_client(INGEST_ONLY).post(url, SPEAKER, format="json"), 403, "permission_denied"
    )
    assert_problem(
        licensee_client(LicenseeFactory()).post(url, SPEAKER, format="json"),
        403,
        "permission_denied",
    )
    assert not Speaker.objects.exists()


# --- A speaker's consents now ----------------------------------------------------------


def test_a_speakers_consents_are_listed_per_purpose_without_personal_data(notices) -> None:
    speaker = SpeakerFactory()
    training = give(speaker, Purpose.TRAINING)
    give(speaker, Purpose.BIOMETRIC)
    withdraw(speaker, Purpose.BIOMETRIC)
    response = collector_client(WRITE).get(consents_url(speaker))
    assert response.status_code == 200
    body = response.json()
    assert body["speaker"] == str(speaker.public_id)
    by_purpose = {c["purpose"]: c for c in body["consents"]}
    assert list(by_purpose) == Purpose.values
    assert by_purpose["training"]["state"] == "given"
    assert by_purpose["training"]["in_force"] is True
    assert by_purpose["training"]["notice"] == str(training.notice.public_id)
    assert by_purpose["training"]["last_event"] == str(training.last_event.public_id)
    assert (by_purpose["biometric"]["state"], by_purpose["biometric"]["in_force"]) == (
        "withdrawn",
        False,
    )
    assert by_purpose["likeness"] == {
        "purpose": "likeness",
        "state": None,
        "in_force": False,
        "given_at": None,
        "state_since": None,
        "expires_at": None,
        "notice": None,
        "notice_version": None,
        "last_event": None,
    }
    text = response.content.decode()
    assert speaker.name not in text
    assert speaker.email not in text


def test_a_speakers_consents_refuse_unknown_ids_and_other_tokens(notices) -> None:
    speaker = SpeakerFactory()
    assert_problem(
        collector_client(WRITE).get(
            reverse("api:collector-speaker-consents", kwargs={"speaker_id": uuid.uuid4()})
        ),
        404,
        "not_found",
    )
    assert_problem(api_client().get(consents_url(speaker)), 401, "not_authenticated")
    assert_problem(
        collector_client(INGEST_ONLY).get(consents_url(speaker)), 403, "permission_denied"
    )
    assert_problem(
        licensee_client(LicenseeFactory()).get(consents_url(speaker)), 403, "permission_denied"
    )


# --- Notices -------------------------------------------------------------------------


def notices_of(query: dict[str, str], client: Any = None) -> Any:
    return (client or collector_client(WRITE)).get(reverse("api:collector-notices"), query)


def test_the_notices_to_show_are_the_current_ones_with_their_text(notices) -> None:
    newer = publish("training", "EU", "de", title="Neue Fassung")
    response = notices_of({"jurisdiction": "DE", "language": "de", "ignored": "x"})
    assert response.status_code == 200
    body = response.json()
    assert body["unavailable"] == []
    by_purpose = {n["purpose"]: n for n in body["results"]}
    assert list(by_purpose) == Purpose.values
    assert by_purpose["training"] == {
        "id": str(newer.public_id),
        "purpose": "training",
        "jurisdiction": "EU",
        "language": "de",
        "version": 2,
        "title": "Neue Fassung",
        "body": newer.body,
        "allows": newer.allows,
        "does_not_allow": newer.does_not_allow,
        "retention_schedule": newer.retention_schedule,
        "text_sha256": newer.text_sha256,
    }
    assert by_purpose["recording"]["id"] == str(notices[("recording", "EU", "de")].public_id)


def test_notices_fall_back_to_english_only_where_the_law_allows(notices) -> None:
    # The US has no rule demanding the speaker's language: English stands in.
    us = notices_of({"jurisdiction": "US-IL", "language": "ja", "purpose": "recording"}).json()
    assert [n["id"] for n in us["results"]] == [str(notices[("recording", "US", "en")].public_id)]
    # The EU requires the speaker's own language: none in Italian, so none to show.
    eu = notices_of({"jurisdiction": "FR", "language": "it"}).json()
    assert eu["results"] == []
    assert [(u["purpose"], u["code"]) for u in eu["unavailable"]] == [
        (p, "notice_unavailable") for p in Purpose.values
    ]


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ({"language": "en"}, "invalid_input"),
        ({"jurisdiction": "US", "language": "English!"}, "invalid_input"),
        ({"jurisdiction": "US", "language": "en", "purpose": "sales"}, "invalid_input"),
        ({"jurisdiction": "ZZ", "language": "en"}, "jurisdiction_not_supported"),
    ],
)
def test_malformed_notice_queries_are_bad_input(notices, query: dict[str, str], code: str) -> None:
    assert_problem(notices_of(query), 400, code)


def test_notices_take_a_bounded_number_of_queries(notices, django_assert_max_num_queries) -> None:
    client = collector_client(WRITE)
    with django_assert_max_num_queries(25):
        assert notices_of({"jurisdiction": "US-IL", "language": "en"}, client).status_code == 200


def test_notices_need_a_collector_token(notices) -> None:
    query = {"jurisdiction": "US", "language": "en"}
    assert_problem(notices_of(query, api_client()), 401, "not_authenticated")
    assert_problem(notices_of(query, collector_client(INGEST_ONLY)), 403, "permission_denied")
    assert_problem(notices_of(query, licensee_client(LicenseeFactory())), 403, "permission_denied")


# --- Consent acts ----------------------------------------------------------------------


def test_giving_consent_through_the_api_records_the_platforms_act(notices) -> None:
    speaker = SpeakerFactory()
    client = collector_client(WRITE)
    response = act(client, speaker, give_body(speaker))
    assert response.status_code == 201, response.content
    event = ConsentEvent.objects.get()
    token = ApiToken.objects.get()
    assert (event.speaker_id, event.purpose, event.action, event.state) == (
        speaker.pk,
        "training",
        "give",
        "given",
    )
    assert (event.actor_kind, event.actor_ref) == (ActorKind.PLATFORM, token.prefix)
    assert event.signature.signed_name == "Dana Example"
    assert event.ip_hash
    assert event.user_agent_hash
    body = response.json()
    assert body["event_id"] == str(event.public_id) == body["receipt_id"]
    assert body["seq"] == event.seq
    assert (body["state"], body["action"], body["purpose"], body["session"]) == (
        "given",
        "give",
        "training",
        None,
    )
    [written] = body["events"]
    assert written["receipt"] == {
        "receipt": ConsentReceipt.objects.get(event=event).document,
        "signature": ConsentReceipt.objects.get(event=event).signature,
    }
    assert written["receipt"]["receipt"]["consentReceiptID"] == str(event.public_id)
    text = response.content.decode()
    assert "Dana Example" not in text
    assert "203.0.113.7" not in text
    assert Consent.objects.get(speaker=speaker, purpose="training").state == "given"


def test_a_retry_with_the_same_key_replays_the_answer_without_a_second_event(notices) -> None:
    speaker = SpeakerFactory()
    client = collector_client(WRITE)
    first = act(client, speaker, give_body(speaker), key="act-0001")
    again = act(client, speaker, give_body(speaker), key="act-0001")
    assert first.status_code == again.status_code == 201
    assert again.content == first.content
    assert again["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert ConsentEvent.objects.count() == 1
    assert IdempotencyRecord.objects.get().key == "act-0001"


def test_a_rotated_token_replays_the_answers_of_its_predecessor(notices) -> None:
    from registry import tokens

    speaker = SpeakerFactory()
    old = tokens.issue_api_token(name="platform", kind="collector", scopes=WRITE)
    first = act(api_client(old.secret), speaker, give_body(speaker), key="k-rotate")
    new = tokens.rotate_api_token(token=old.token, overlap=datetime.timedelta(0))
    again = act(api_client(new.secret), speaker, give_body(speaker), key="k-rotate")
    assert again.content == first.content
    assert again["Idempotent-Replayed"] == "true"
    assert ConsentEvent.objects.count() == 1


def test_the_same_key_with_another_body_is_a_conflict_and_changes_nothing(notices) -> None:
    speaker = SpeakerFactory()
    client = collector_client(WRITE)
    assert act(client, speaker, give_body(speaker), key="k1").status_code == 201
    before = counts()
    response = act(client, speaker, give_body(speaker, Purpose.REDISTRIBUTION), key="k1")
    assert assert_problem(response, 409, "idempotency_key_reused")["field"] == "Idempotency-Key"
    # Same body, another speaker: another request too.
    other = SpeakerFactory()
    before = counts()
    assert_problem(act(client, other, give_body(other), key="k1"), 409, "idempotency_key_reused")
    assert counts() == before


@pytest.mark.parametrize(
    ("key", "code"),
    [
        (None, "idempotency_key_required"),
        ("", "idempotency_key_required"),
        ("two words", "idempotency_key_invalid"),
        ("k" * 256, "idempotency_key_invalid"),
        ("ключ", "idempotency_key_invalid"),
    ],
)
def test_an_act_without_a_well_formed_idempotency_key_is_refused(
    notices, key: str | None, code: str
) -> None:
    speaker = SpeakerFactory()
    client = collector_client(WRITE)
    before = counts()
    headers = {} if key is None else {"HTTP_IDEMPOTENCY_KEY": key}
    response = client.post(consents_url(speaker), give_body(speaker), format="json", **headers)
    assert_problem(response, 400, code)
    assert counts() == before


def bad_bodies(speaker: Speaker) -> list[tuple[str, dict[str, Any]]]:
    good = give_body(speaker)
    evidence = good["evidence"]
    return [
        ("action", {**good, "action": "sell"}),
        ("purpose", {**good, "purpose": "training,biometric"}),
        ("notice", {k: v for k, v in good.items() if k != "notice"}),
        ("notice", {**good, "notice": str(uuid.uuid4())}),
        ("notice", {**good, "notice": "not-a-uuid"}),
        ("session", {**good, "session": str(uuid.uuid4())}),
        ("evidence", {**good, "evidence": {**evidence, "method": "system"}}),
        ("evidence", {**good, "evidence": {**evidence, "document_sha256": "abc"}}),
        ("evidence", {**good, "evidence": {**evidence, "occurred_at": "2026-01-01T10:00:00"}}),
        ("evidence", {**good, "evidence": {**evidence, "ip_address": "localhost"}}),
        ("evidence", {k: v for k, v in good.items() if k != "evidence"}),
    ]


def test_malformed_acts_are_bad_input_name_the_field_and_change_nothing(notices) -> None:
    speaker = SpeakerFactory()
    client = collector_client(WRITE)
    before = counts()
    for field, body in bad_bodies(speaker):
        response = act(client, speaker, body)
        assert field in assert_problem(response, 400, "invalid_input")["errors"], body
    assert counts() == before


def test_a_body_that_is_not_json_is_bad_input(notices) -> None:
    speaker = SpeakerFactory()
    response = collector_client(WRITE).post(
        consents_url(speaker),
        b"{not json",
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="k",
    )
    assert_problem(response, 400, "invalid_json")
    assert not ConsentEvent.objects.exists()


@pytest.mark.parametrize(
    ("setup", "body", "status", "code"),
    [
        # A newer version was published: the speaker must read that one.
        ("newer_notice", {}, 409, "notice_not_current"),
        # Illinois biometric consent must be written, not a click.
        (
            None,
            {"purpose": "biometric", "evidence": {"method": "web_form"}},
            400,
            "evidence_not_allowed",
        ),
        ("unverified", {}, 403, "age_not_verified"),
        ("given", {}, 409, "consent_already_given"),
        (None, {"action": "renew"}, 409, "consent_not_renewable"),
    ],
)
def test_the_acts_rules_are_the_services_and_refusals_change_nothing(
    notices, setup: str | None, body: dict[str, Any], status: int, code: str
) -> None:
    speaker = SpeakerFactory(
        **(
            {"age_verification_method": "unverified", "date_of_birth": None}
            if setup == "unverified"
            else {}
        )
    )
    request = give_body(speaker, body.get("purpose", Purpose.TRAINING))
    request.update({k: v for k, v in body.items() if k != "purpose"})
    if setup == "newer_notice":
        publish("training", "US", "en", title="Second version")
    if setup == "given":
        give(speaker, Purpose.TRAINING)
    before = counts()
    assert_problem(act(collector_client(WRITE), speaker, request), status, code)
    assert counts() == before


def test_a_refused_act_is_not_stored_so_the_key_works_once_the_cause_is_fixed(notices) -> None:
    speaker = SpeakerFactory()
    client = collector_client(WRITE)
    stale = give_body(speaker)
    publish("training", "US", "en", title="Second version")
    assert_problem(act(client, speaker, stale, key="k-fix"), 409, "notice_not_current")
    assert not IdempotencyRecord.objects.exists()
    assert act(client, speaker, give_body(speaker), key="k-fix").status_code == 201
    assert ConsentEvent.objects.count() == 1


def test_refusing_and_renewing_go_through_their_services(notices) -> None:
    speaker = SpeakerFactory()
    client = collector_client(WRITE)
    refused = act(client, speaker, {**give_body(speaker, Purpose.LIKENESS), "action": "refuse"})
    assert (refused.status_code, refused.json()["state"]) == (201, "refused")
    give(speaker, Purpose.TRAINING)
    renewed = act(client, speaker, {**give_body(speaker), "action": "renew"})
    assert (renewed.status_code, renewed.json()["state"]) == (201, "renewed")
    assert list(
        ConsentEvent.objects.filter(actor_kind=ActorKind.PLATFORM).values_list("action", flat=True)
    ) == ["refuse", "renew"]


def test_withdrawing_through_the_api_plans_propagation_as_the_portal_does(world: World) -> None:
    client = collector_client(WRITE)
    body = {"action": "withdraw", "purpose": "training", "evidence": {"method": "web_form"}}
    response = act(client, world.a, body)
    assert response.status_code == 201, response.content
    event = ConsentEvent.objects.get(speaker=world.a, action="withdraw")
    assert response.json()["event_id"] == str(event.public_id)
    assert response.json()["state"] == "withdrawn"
    api_plan = Propagation.objects.get(outbox__event=event)
    # The portal's withdrawal (the same service, the speaker as actor) of b's consent.
    withdraw(world.b, Purpose.TRAINING)
    portal_plan = Propagation.objects.get(outbox__event__speaker=world.b)
    assert api_plan.outbox.kind == portal_plan.outbox.kind == OutboxKind.WITHDRAWAL
    assert set(api_plan.outbox.payload) == set(portal_plan.outbox.payload)
    assert (
        sorted(api_plan.recording_ids)
        == sorted(portal_plan.recording_ids)
        == sorted(c.pk for c in world.calls)
    )
    assert sorted(api_plan.targets.values_list("kind", flat=True)) == sorted(
        portal_plan.targets.values_list("kind", flat=True)
    )


def test_withdrawing_what_is_not_in_force_changes_nothing_and_says_so(notices) -> None:
    speaker = SpeakerFactory()
    body = {"action": "withdraw", "purpose": "likeness", "evidence": {"method": "web_form"}}
    client = collector_client(WRITE)
    response = act(client, speaker, body, key="noop")
    assert response.status_code == 200
    assert response.json()["events"] == []
    assert response.json()["event_id"] is None
    assert not ConsentEvent.objects.exists()
    replay = act(client, speaker, body, key="noop")
    assert (replay.status_code, replay.content) == (200, response.content)


def test_an_act_scoped_to_a_session_is_recorded_for_that_session(notices) -> None:
    a, b = SpeakerFactory(), SpeakerFactory()
    session = services.create_recording_session(
        external_ref="call-1", jurisdiction="US-IL", language="en", speakers=[a, b]
    )
    body = give_body(a, Purpose.RECORDING, session=str(session.public_id))
    response = act(collector_client(WRITE), a, body)
    assert response.status_code == 201, response.content
    assert response.json()["session"] == str(session.public_id)
    assert response.json()["events"][0]["session"] == str(session.public_id)
    assert Consent.objects.get(speaker=a, session=session, purpose="recording").state == "given"
    # Someone who is not in the session cannot consent for it.
    stranger = SpeakerFactory()
    other = give_body(stranger, Purpose.RECORDING, session=str(session.public_id))
    assert_problem(act(collector_client(WRITE), stranger, other), 403, "not_a_participant")


def test_acts_refuse_unknown_speakers_and_other_tokens(notices) -> None:
    speaker = SpeakerFactory()
    body = give_body(speaker)
    unknown = collector_client(WRITE).post(
        reverse("api:collector-speaker-consents", kwargs={"speaker_id": uuid.uuid4()}),
        body,
        format="json",
        HTTP_IDEMPOTENCY_KEY="k",
    )
    assert_problem(unknown, 404, "not_found")
    assert_problem(act(api_client(), speaker, body), 401, "not_authenticated")
    assert_problem(act(collector_client(INGEST_ONLY), speaker, body), 403, "permission_denied")
    assert_problem(act(licensee_client(LicenseeFactory()), speaker, body), 403, "permission_denied")
    assert not ConsentEvent.objects.exists()


def test_an_act_costs_a_few_queries_beyond_the_service(notices) -> None:
    first, second = SpeakerFactory(), SpeakerFactory()
    give(first, Purpose.TRAINING)  # warm the chain and the notice
    with CaptureQueriesContext(connection) as service:
        services.give_consent(
            speaker=first,
            purpose=Purpose.REDISTRIBUTION,
            notice=current_notice(speaker=first, purpose=Purpose.REDISTRIBUTION),
            evidence=signed("Dana Example"),
            actor=services.Actor(ActorKind.PLATFORM, "x"),
        )
    client = collector_client(WRITE)
    client.get(consents_url(second))  # the token's last use is recorded once a minute
    body = give_body(second, Purpose.REDISTRIBUTION)
    with CaptureQueriesContext(connection) as request:
        assert act(client, second, body).status_code == 201
    # The token, the idempotency lookup, the speaker, the notice; then, inside the act's
    # transaction, its receipt and the stored answer: six, whatever the act.
    assert len(request) <= len(service) + 6, [q["sql"][:80] for q in request.captured_queries]


def test_stored_answers_are_purged_after_a_day(notices) -> None:
    speaker = SpeakerFactory()
    assert act(collector_client(WRITE), speaker, give_body(speaker)).status_code == 201
    assert purge_expired_idempotency_records() == 0
    later = timezone.now() + datetime.timedelta(hours=24, seconds=1)
    assert purge_expired_idempotency_records(at=later) == 1
    assert not IdempotencyRecord.objects.exists()
    assert ConsentEvent.objects.count() == 1


# --- Concurrency: two requests, one key ------------------------------------------------


def _race(
    monkeypatch: pytest.MonkeyPatch, speaker: Speaker, body: dict[str, Any], token_secret: str
) -> list[Any]:
    """Two requests with one key; the first holds its transaction open after storing its
    answer until the second is surely waiting, so the second must find it."""
    stored = threading.Event()
    original = idempotency.record_idempotent_response
    calls = {"n": 0}
    lock = threading.Lock()

    def slow_first(**kwargs: Any) -> Any:
        record = original(**kwargs)
        with lock:
            calls["n"] += 1
            first = calls["n"] == 1
        if first:
            stored.set()
            time.sleep(0.5)  # the twin is now blocked on the speaker or the key
        return record

    monkeypatch.setattr(idempotency, "record_idempotent_response", slow_first)
    responses: dict[int, Any] = {}
    errors: list[BaseException] = []

    def post(index: int) -> None:
        try:
            if index == 1:
                stored.wait(5)
            responses[index] = act(api_client(token_secret), speaker, body, key="race-key")
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=(i,)) for i in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert errors == []
    return [responses[0], responses[1]]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_gives_racing_with_one_key_make_one_event(notices, monkeypatch) -> None:
    from registry import tokens

    speaker = SpeakerFactory()
    secret = tokens.issue_api_token(name="p", kind="collector", scopes=WRITE).secret
    first, second = _race(monkeypatch, speaker, give_body(speaker), secret)
    assert first.status_code == second.status_code == 201
    assert first.content == second.content
    assert second["Idempotent-Replayed"] == "true"
    assert ConsentEvent.objects.filter(speaker=speaker).count() == 1


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_withdrawals_racing_with_one_key_make_one_event(notices, monkeypatch) -> None:
    from registry import tokens

    speaker = SpeakerFactory()
    give(speaker, Purpose.TRAINING)
    secret = tokens.issue_api_token(name="p", kind="collector", scopes=WRITE).secret
    body = {"action": "withdraw", "purpose": "training", "evidence": {"method": "web_form"}}
    first, second = _race(monkeypatch, speaker, body, secret)
    assert first.status_code == second.status_code == 201
    assert first.content == second.content
    assert second["Idempotent-Replayed"] == "true"
    assert ConsentEvent.objects.filter(speaker=speaker, action="withdraw").count() == 1
    assert ConsentOutbox.objects.count() == 1


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_requests_at_once_with_one_key_make_one_event(notices) -> None:
    from registry import tokens

    speaker = SpeakerFactory()
    secret = tokens.issue_api_token(name="p", kind="collector", scopes=WRITE).secret
    body = give_body(speaker)
    barrier = threading.Barrier(2)
    responses: list[Any] = []

    def post() -> None:
        try:
            barrier.wait()
            responses.append(act(api_client(secret), speaker, body, key="same-moment"))
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert sorted(r.status_code for r in responses) == [201, 201]
    assert responses[0].content == responses[1].content
    assert ConsentEvent.objects.filter(speaker=speaker).count() == 1


# --- Sessions --------------------------------------------------------------------------


def session_body(*speakers: Speaker, ref: str = "call-0001", **extra: Any) -> dict[str, Any]:
    return {
        "external_ref": ref,
        "jurisdiction": "US-CA",
        "language": "en",
        "participants": [
            {"channel": channel, "speaker": str(s.public_id)} for channel, s in enumerate(speakers)
        ],
        **extra,
    }


def test_opening_a_session_answers_each_participants_invitation(notices) -> None:
    a, b = SpeakerFactory(), SpeakerFactory()
    response = collector_client(WRITE).post(
        reverse("api:collector-sessions"), session_body(a, b), format="json"
    )
    assert response.status_code == 201, response.content
    session = RecordingSession.objects.get()
    body = response.json()
    assert (body["id"], body["external_ref"], body["status"]) == (
        str(session.public_id),
        "call-0001",
        "open",
    )
    assert [(p["channel"], p["speaker"]) for p in body["participants"]] == [
        (0, str(a.public_id)),
        (1, str(b.public_id)),
    ]
    for entry in body["participants"]:
        token = entry["invitation_url"].rstrip("/").rsplit("/", 1)[1]
        participant = services.participant_from_invitation(token)
        assert str(participant.public_id) == entry["id"]
        assert str(participant.speaker.public_id) == entry["speaker"]
    requested = Consent.objects.filter(session=session, purpose="recording")
    assert sorted(requested.values_list("state", flat=True)) == ["requested", "requested"]


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"participants": "one"}, "invalid_input", "participants"),
        ({"jurisdiction": "California"}, "invalid_input", "jurisdiction"),
        ({"language": "English"}, "invalid_input", "language"),
        ({"external_ref": ""}, "invalid_input", "external_ref"),
        ({"invite_valid_for_hours": 0}, "invalid_input", "invite_valid_for_hours"),
        ({"campaign": "no-such-campaign"}, "invalid_input", "campaign"),
        ({"jurisdiction": "ZZ"}, "jurisdiction_not_supported", None),
    ],
)
def test_malformed_sessions_are_bad_input_and_create_nothing(
    notices, change: dict[str, Any], code: str, field: str | None
) -> None:
    a, b = SpeakerFactory(), SpeakerFactory()
    before = counts()
    response = collector_client(WRITE).post(
        reverse("api:collector-sessions"), {**session_body(a, b), **change}, format="json"
    )
    body = assert_problem(response, 400, code)
    if field:
        assert field in body["errors"]
    assert counts() == before


def test_sessions_need_distinct_known_speakers_on_channels_0_to_n(notices) -> None:
    a, b = SpeakerFactory(), SpeakerFactory()
    client = collector_client(WRITE)
    before = counts()
    for participants in (
        [{"channel": 0, "speaker": str(a.public_id)}],
        [{"channel": 0, "speaker": str(a.public_id)}, {"channel": 2, "speaker": str(b.public_id)}],
        [{"channel": 0, "speaker": str(a.public_id)}, {"channel": 1, "speaker": str(a.public_id)}],
        [{"channel": 0, "speaker": str(a.public_id)}, {"channel": 1, "speaker": str(uuid.uuid4())}],
    ):
        response = client.post(
            reverse("api:collector-sessions"),
            {**session_body(a, b), "participants": participants},
            format="json",
        )
        assert "participants" in assert_problem(response, 400, "invalid_input")["errors"]
    assert counts() == before


def test_a_second_session_with_the_same_external_ref_is_a_conflict(notices) -> None:
    a, b = SpeakerFactory(), SpeakerFactory()
    client = collector_client(WRITE)
    url = reverse("api:collector-sessions")
    assert client.post(url, session_body(a, b), format="json").status_code == 201
    before = counts()
    assert_problem(client.post(url, session_body(b, a), format="json"), 409, "duplicate")
    assert counts() == before


def test_sessions_need_a_collector_token(notices) -> None:
    a, b = SpeakerFactory(), SpeakerFactory()
    url = reverse("api:collector-sessions")
    for client, status, code in (
        (api_client(), 401, "not_authenticated"),
        (collector_client(INGEST_ONLY), 403, "permission_denied"),
        (licensee_client(LicenseeFactory()), 403, "permission_denied"),
    ):
        assert_problem(client.post(url, session_body(a, b), format="json"), status, code)
    assert not RecordingSession.objects.exists()


def clearance(client: Any, session: RecordingSession) -> Any:
    return client.get(
        reverse("api:collector-session-clearance", kwargs={"session_id": session.public_id})
    )


def test_clearance_names_who_has_yet_to_consent_until_everyone_has(notices) -> None:
    a, b = SpeakerFactory(), SpeakerFactory()
    session = services.create_recording_session(
        external_ref="call-2", jurisdiction="US-IL", language="en", speakers=[a, b]
    )
    client = collector_client(WRITE)
    body = clearance(client, session).json()
    assert (body["session"], body["status"], body["cleared"]) == (
        str(session.public_id),
        "open",
        False,
    )
    assert [(p["channel"], p["speaker"], p["missing"]) for p in body["participants"]] == [
        (0, str(a.public_id), ["recording"]),
        (1, str(b.public_id), ["recording"]),
    ]
    give(a, Purpose.RECORDING, session=session)
    body = clearance(client, session).json()
    assert [p["missing"] for p in body["participants"]] == [[], ["recording"]]
    assert body["participants"][0]["consented"] is True
    assert not body["cleared"]
    give(b, Purpose.RECORDING)  # a general recording consent covers every session
    assert clearance(client, session).json()["cleared"] is True


def test_clearance_refuses_unknown_sessions_and_other_tokens(notices) -> None:
    a, b = SpeakerFactory(), SpeakerFactory()
    session = services.create_recording_session(
        external_ref="call-3", jurisdiction="US-IL", language="en", speakers=[a, b]
    )
    unknown = collector_client(WRITE).get(
        reverse("api:collector-session-clearance", kwargs={"session_id": uuid.uuid4()})
    )
    assert_problem(unknown, 404, "not_found")
    assert_problem(clearance(api_client(), session), 401, "not_authenticated")
    assert_problem(clearance(collector_client(INGEST_ONLY), session), 403, "permission_denied")
    assert_problem(clearance(licensee_client(LicenseeFactory()), session), 403, "permission_denied")


def test_an_erased_speaker_can_consent_to_nothing_more(notices) -> None:
    speaker = SpeakerFactory()
    body = give_body(speaker)
    erase_speaker_row(speaker)
    assert_problem(act(collector_client(WRITE), speaker, body), 410, "speaker_erased")
    assert not ConsentEvent.objects.exists()


# --- Idempotency-Key on creates ----------------------------------------------------------


def test_a_speaker_registration_retried_with_its_key_creates_one_speaker(notices) -> None:
    """Without an email there is no natural key: the Idempotency-Key is what makes a
    retry after a lost answer safe."""
    client = collector_client(WRITE)
    body = {k: v for k, v in SPEAKER.items() if k not in ("email", "phone")}
    first, again = (
        client.post(
            reverse("api:collector-speakers"), body, format="json", HTTP_IDEMPOTENCY_KEY="reg-1"
        )
        for _ in range(2)
    )
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.content == first.content
    assert again["Idempotent-Replayed"] == "true"
    assert Speaker.objects.filter(public_id=first.json()["id"]).count() == 1
    assert Speaker.objects.count() == 1
    other = client.post(
        reverse("api:collector-speakers"),
        {**body, "name": "Someone Else"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="reg-1",
    )
    assert_problem(other, 409, "idempotency_key_reused")
    assert Speaker.objects.count() == 1
    # Without a key each request registers a speaker.
    client.post(reverse("api:collector-speakers"), body, format="json")
    assert Speaker.objects.count() == 2


def test_a_session_retried_with_its_key_returns_the_same_invitation_links(notices) -> None:
    a, b = SpeakerFactory(), SpeakerFactory()
    client = collector_client(WRITE)
    url = reverse("api:collector-sessions")
    first, again = (
        client.post(url, session_body(a, b), format="json", HTTP_IDEMPOTENCY_KEY="s-1")
        for _ in range(2)
    )
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert [p["invitation_url"] for p in again.json()["participants"]]
    assert RecordingSession.objects.count() == 1
    # A refusal is not stored: the same key may be used once the cause is fixed.
    refused = client.post(
        url, session_body(a, b, ref="call-0002"), format="json", HTTP_IDEMPOTENCY_KEY="s-2"
    )
    assert refused.status_code == 201
    duplicate = client.post(
        url, session_body(a, b, ref="call-0002"), format="json", HTTP_IDEMPOTENCY_KEY="s-3"
    )
    assert_problem(duplicate, 409, "duplicate")
    assert RecordingSession.objects.count() == 2


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_retry_racing_its_first_request_gets_the_first_answer(notices) -> None:
    """The client times out and retries with the same key while the first request is
    still committing: the twin waits for it and replays its answer (not a 409 from the
    email already being registered)."""
    from registry import tokens

    secret = tokens.issue_api_token(name="p", kind="collector", scopes=WRITE).secret
    url = reverse("api:collector-speakers")

    def register() -> Any:
        return api_client(secret).post(url, SPEAKER, format="json", HTTP_IDEMPOTENCY_KEY="twin")

    answers = at_once([register, register, register])
    assert [a.status_code for a in answers] == [201, 201, 201]
    assert len({a.content for a in answers}) == 1
    assert Speaker.objects.count() == 1
