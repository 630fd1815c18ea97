"""Staff endpoints (/api/v1/staff/, scope staff:read): exact speaker lookup through the
email blind index, a speaker's events, consents and propagation, and the streamed
export of the event log. Only the lookup returns personal data."""

from __future__ import annotations

import csv
import datetime
import io
import itertools
import json
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from consent import services as consent_services
from consent.models import Consent, ConsentEvent, ConsentState, EvidenceMethod, Purpose
from propagation.models import Propagation, PropagationTarget, TargetKind, TargetStatus
from registry import pii
from registry.models import Speaker
from tests.api.helpers import (
    api_client,
    assert_problem,
    collector_client,
    licensee_client,
    staff_client,
)
from tests.consent.conftest import give, publish, withdraw
from tests.factories import LicenseeFactory, SpeakerFactory, erase_speaker_row
from tests.propagation.conftest import World, deliver_all

pytestmark = pytest.mark.django_db

EVENT_KEYS = {
    "seq",
    "id",
    "speaker",
    "purpose",
    "action",
    "state",
    "notice",
    "jurisdiction",
    "evidence_method",
    "actor_kind",
    "occurred_at",
    "recorded_at",
    "expires_at",
    "session",
    "hash",
    "prev_hash",
}
CSV_COLUMNS = [
    "seq",
    "id",
    "speaker",
    "purpose",
    "action",
    "state",
    "notice_id",
    "notice_version",
    "notice_language",
    "jurisdiction",
    "evidence_method",
    "actor_kind",
    "occurred_at",
    "recorded_at",
    "expires_at",
    "session",
    "hash",
    "prev_hash",
]


def _url(name: str, speaker: Speaker | None = None) -> str:
    kwargs = {"speaker_id": speaker.public_id} if speaker is not None else {}
    return reverse(f"api:{name}", kwargs=kwargs)


def _counts() -> tuple[int, ...]:
    return tuple(
        model.objects.count()
        for model in (Speaker, ConsentEvent, Consent, Propagation, PropagationTarget)
    )


def _seqs(speaker: Speaker) -> list[int]:
    return list(
        ConsentEvent.objects.filter(speaker=speaker).order_by("seq").values_list("seq", flat=True)
    )


def _when(value: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))


def _body(response: Any) -> str:
    return b"".join(response.streaming_content).decode()


def _pii_of(speaker: Speaker) -> list[str]:
    return [speaker.name, speaker.email, speaker.phone]


# --- Who may call -----------------------------------------------------------------------

ENDPOINTS = [
    ("staff-speakers", False, {"email": "someone@example.org"}),
    ("staff-speaker-events", True, {}),
    ("staff-speaker-consents", True, {}),
    ("staff-speaker-propagation", True, {}),
    ("staff-events-export", False, {"from": "2025-01-01", "to": "2025-02-01"}),
]


@pytest.mark.parametrize(("name", "per_speaker", "query"), ENDPOINTS)
def test_staff_endpoints_refuse_callers_without_a_staff_token(name, per_speaker, query) -> None:
    speaker = SpeakerFactory()
    url = _url(name, speaker if per_speaker else None)
    assert_problem(api_client().get(url, query), 401, "not_authenticated")
    assert_problem(licensee_client(LicenseeFactory()).get(url, query), 403, "permission_denied")
    assert_problem(collector_client().get(url, query), 403, "permission_denied")
    # A staff token passes the same request.
    assert staff_client().get(url, query).status_code == 200


@pytest.mark.parametrize(
    "name", ["staff-speaker-events", "staff-speaker-consents", "staff-speaker-propagation"]
)
def test_an_unknown_speaker_id_is_not_found(name) -> None:
    SpeakerFactory()
    url = reverse(f"api:{name}", kwargs={"speaker_id": "00000000-0000-4000-8000-000000000000"})
    assert_problem(staff_client().get(url), 404, "not_found")


def test_the_json_endpoints_answer_an_accept_header_they_cannot_serve_with_406() -> None:
    speaker = SpeakerFactory()
    response = staff_client().get(_url("staff-speaker-events", speaker), HTTP_ACCEPT="text/csv")
    assert_problem(response, 406, "not_acceptable")


# --- Lookup -----------------------------------------------------------------------------


def test_lookup_by_email_finds_exactly_that_speaker_among_several() -> None:
    SpeakerFactory(email="grace@example.org")
    ada = SpeakerFactory(
        email="ada@example.org", name="Ada Example", phone="+1 312 555 0100", jurisdiction="JP"
    )
    SpeakerFactory(email="ada@example.com")
    response = staff_client().get(_url("staff-speakers"), {"email": "ada@example.org"})
    assert response.status_code == 200
    assert response.json() == {
        "results": [
            {
                "id": str(ada.public_id),
                "jurisdiction": "JP",
                "preferred_language": "en",
                "created_at": ada.created_at.isoformat().replace("+00:00", "Z"),
                "erased_at": None,
                "contact": {
                    "name": "Ada Example",
                    "email": "ada@example.org",
                    "phone": "+1 312 555 0100",
                },
            }
        ]
    }


@pytest.mark.parametrize(
    "typed",
    [
        "Ada.Lovelace@Example.org",
        "ADA.LOVELACE@EXAMPLE.ORG",
        "  ada.lovelace@example.org\t",
        "\u3000ada.lovelace@example.org",  # an ideographic space, removed by NFKC + strip
        "ａｄａ.lovelace@example.org",  # full-width letters, folded by NFKC
    ],
)
def test_lookup_normalises_the_email_exactly_as_the_blind_index_does(typed) -> None:
    ada = SpeakerFactory(email="ada.lovelace@example.org")
    assert pii.normalise_email(typed) == "ada.lovelace@example.org"
    response = staff_client().get(_url("staff-speakers"), {"email": typed})
    assert response.status_code == 200
    assert [s["id"] for s in response.json()["results"]] == [str(ada.public_id)]


@pytest.mark.parametrize(
    "near_miss",
    [
        "ada.lovelac@example.org",  # a prefix of the local part
        "da.lovelace@example.org",  # a suffix of it
        "ada.lovelace@example.com",  # another domain
        "ada.lovelace@example.org.uk",  # a longer domain
        "ada.lovelace+news@example.org",  # plus-tags are kept, not stripped
        "adalovelace@example.org",  # dots are kept too
    ],
)
def test_lookup_finds_nothing_for_a_near_miss(near_miss) -> None:
    SpeakerFactory(email="ada.lovelace@example.org")
    response = staff_client().get(_url("staff-speakers"), {"email": near_miss})
    assert response.status_code == 200
    assert response.json() == {"results": []}


def test_lookup_reads_one_row_through_the_blind_index_without_decrypting_the_table(
    monkeypatch, django_assert_max_num_queries
) -> None:
    speakers = [SpeakerFactory(email=f"person-{n}@example.org") for n in range(6)]
    client = staff_client()
    decrypted: list[str] = []
    real_decrypt = pii.decrypt

    def counting_decrypt(token: str) -> str:
        decrypted.append(token)
        return real_decrypt(token)

    monkeypatch.setattr(pii, "decrypt", counting_decrypt)
    with (
        django_assert_max_num_queries(4),
        CaptureQueriesContext(connection) as queries,
    ):
        response = client.get(_url("staff-speakers"), {"email": "Person-3@Example.org"})
    assert [s["id"] for s in response.json()["results"]] == [str(speakers[3].public_id)]
    on_speakers = [q["sql"] for q in queries.captured_queries if '"registry_speaker"' in q["sql"]]
    assert len(on_speakers) == 1
    sql = on_speakers[0]
    assert '"registry_speaker"."email_blind_index" = ' in sql
    assert pii.email_blind_index("person-3@example.org") in sql
    assert "LIKE" not in sql.upper()
    # Only the matching row's personal data was decrypted (name, email, phone, birth date).
    assert len(decrypted) <= 4


def test_lookup_by_public_id_shows_an_erased_speaker_without_contact_details() -> None:
    erased = erase_speaker_row(SpeakerFactory(email="gone@example.org"))
    client = staff_client()
    by_id = client.get(_url("staff-speakers"), {"id": str(erased.public_id)}).json()["results"]
    assert [(s["id"], s["contact"]) for s in by_id] == [(str(erased.public_id), None)]
    assert _when(by_id[0]["erased_at"]) == erased.erased_at
    # Its email is gone with its blind index: the old address finds nobody.
    assert client.get(_url("staff-speakers"), {"email": "gone@example.org"}).json() == {
        "results": []
    }


def test_lookup_by_an_unknown_public_id_finds_nothing() -> None:
    SpeakerFactory()
    response = staff_client().get(
        _url("staff-speakers"), {"id": "00000000-0000-4000-8000-000000000000"}
    )
    assert response.json() == {"results": []}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({}, "non_field_errors"),
        ({"unknown": "x"}, "non_field_errors"),
        ({"email": "a@example.org", "id": "00000000-0000-4000-8000-000000000000"}, None),
        ({"email": ""}, "non_field_errors"),  # a blank optional parameter is an absent one
        ({"email": "   "}, "email"),
        ({"email": "ada"}, "email"),
        ({"email": "ada@example"}, "email"),
        ({"email": "ada@@example.org"}, "email"),
        ({"email": "a\x00@example.org"}, "email"),
        ({"email": "a" * 400 + "@example.org"}, "email"),
        ({"id": "not-a-uuid"}, "id"),
    ],
)
def test_lookup_refuses_bad_input(query, field) -> None:
    SpeakerFactory(email="ada@example.org")
    before = _counts()
    body = assert_problem(staff_client().get(_url("staff-speakers"), query), 400, "invalid_input")
    if field is not None:
        assert field in body["errors"]
    assert _counts() == before


def test_lookup_ignores_unknown_query_parameters() -> None:
    ada = SpeakerFactory(email="ada@example.org")
    response = staff_client().get(
        _url("staff-speakers"), {"email": "ada@example.org", "fields": "all"}
    )
    assert [s["id"] for s in response.json()["results"]] == [str(ada.public_id)]


# --- Events -----------------------------------------------------------------------------


def _history(notices) -> tuple[Speaker, Speaker]:
    """Two speakers whose events interleave in the chain."""
    a, b = SpeakerFactory(), SpeakerFactory()
    give(a, "training")
    give(b, "training")
    give(a, "biometric")
    withdraw(a, "training")
    give(b, "redistribution")
    give(a, "redistribution")
    return a, b


def test_events_are_the_speakers_own_in_seq_order_with_every_field(notices) -> None:
    a, b = _history(notices)
    response = staff_client().get(_url("staff-speaker-events", a))
    assert response.status_code == 200
    results = response.json()["results"]
    assert [e["seq"] for e in results] == _seqs(a)
    assert not set(_seqs(b)) & {e["seq"] for e in results}
    withdrawal = ConsentEvent.objects.select_related("notice").get(
        speaker=a, action="withdraw", purpose="training"
    )
    item = next(e for e in results if e["id"] == str(withdrawal.public_id))
    assert set(item) == EVENT_KEYS
    assert item == {
        **item,
        "seq": withdrawal.seq,
        "speaker": str(a.public_id),
        "purpose": "training",
        "action": "withdraw",
        "state": "withdrawn",
        "notice": {
            "id": str(withdrawal.notice.public_id),
            "version": withdrawal.notice.version,
            "language": withdrawal.notice_language,
        },
        "jurisdiction": "US-IL",
        "evidence_method": EvidenceMethod.WEB_FORM,
        "actor_kind": "speaker",
        "expires_at": None,
        "session": None,
        "hash": withdrawal.hash,
        "prev_hash": withdrawal.prev_hash,
    }
    assert _when(item["occurred_at"]) == withdrawal.occurred_at
    assert _when(item["recorded_at"]) == withdrawal.recorded_at
    assert all(value not in response.content.decode() for value in _pii_of(a))


def test_events_cursor_pagination_walks_every_event_once(
    notices, django_assert_max_num_queries
) -> None:
    a, _ = _history(notices)
    client = staff_client()
    url: str | None = _url("staff-speaker-events", a) + "?page_size=2"
    seen: list[int] = []
    pages = 0
    while url:
        with django_assert_max_num_queries(5):
            page = client.get(url).json()
        assert len(page["results"]) <= 2
        seen += [e["seq"] for e in page["results"]]
        url = page["next"]
        pages += 1
    assert seen == _seqs(a)
    assert pages == (len(seen) + 1) // 2 > 1


def test_a_malformed_cursor_is_bad_input(notices) -> None:
    a, _ = _history(notices)
    before = _counts()
    response = staff_client().get(
        _url("staff-speaker-events", a), {"cursor": "bz1hYmM="}
    )  # "o=abc"
    assert "cursor" in assert_problem(response, 400, "invalid_input")["errors"]
    assert _counts() == before


# --- Consents ---------------------------------------------------------------------------


def test_consents_show_the_current_state_per_purpose_and_per_session(notices) -> None:
    a, b = SpeakerFactory(), SpeakerFactory()
    give(a, "training")
    give(a, "biometric")
    withdraw(a, "biometric")
    session = consent_services.create_recording_session(
        external_ref="call-staff-1", jurisdiction="US-IL", language="en", speakers=[a, b]
    )
    give(a, "recording", session=session)
    # A newer training notice: the consent stands, but the speaker must be asked again.
    newer = publish("training", "US", "en", body="Version two of the training notice.")
    response = staff_client().get(_url("staff-speaker-consents", a))
    assert response.status_code == 200
    rows = {(c["purpose"], c["session"]): c for c in response.json()["results"]}
    assert set(rows) == {
        ("training", None),
        ("biometric", None),
        ("recording", str(session.public_id)),
    }
    training = rows[("training", None)]
    consent = Consent.objects.get(speaker=a, purpose="training", session=None)
    assert training == {
        **training,
        "state": ConsentState.GIVEN,
        "in_force": True,
        "needs_reconsent": True,
        "recording": None,
        "notice": {
            "id": str(consent.notice.public_id),
            "version": consent.notice.version,
            "language": "en",
        },
        "last_event": {"seq": consent.last_event.seq, "id": str(consent.last_event.public_id)},
    }
    assert consent.notice.version < newer.version
    assert rows[("biometric", None)]["state"] == ConsentState.WITHDRAWN
    assert rows[("biometric", None)]["in_force"] is False
    assert rows[("biometric", None)]["needs_reconsent"] is False
    per_call = rows[("recording", str(session.public_id))]
    assert (per_call["state"], per_call["in_force"]) == (ConsentState.GIVEN, True)
    assert all(value not in response.content.decode() for value in _pii_of(a))


def test_consents_pages_have_a_bounded_number_of_queries(
    notices, django_assert_max_num_queries
) -> None:
    a = SpeakerFactory()
    for purpose in ("recording", "training", "redistribution", "biometric"):
        give(a, purpose)
    client = staff_client()
    with django_assert_max_num_queries(8):
        response = client.get(_url("staff-speaker-consents", a))
    assert len(response.json()["results"]) == 4


# --- Propagation ------------------------------------------------------------------------


def test_propagation_shows_each_withdrawal_reached_n_of_m_with_its_dead_targets(
    world: World, django_assert_max_num_queries
) -> None:
    withdraw(world.a, "training")
    withdraw(world.a, "biometric")
    deliver_all()
    training = Propagation.objects.get(speaker=world.a, purpose="training")
    license_target = PropagationTarget.objects.get(propagation=training, kind=TargetKind.LICENSE)
    died = timezone.now()
    PropagationTarget.objects.filter(pk=license_target.pk).update(
        status=TargetStatus.DEAD, died_at=died, attempts=8, last_error="HTTP 503"
    )
    targets = list(PropagationTarget.objects.filter(propagation=training))
    reached = [t for t in targets if t.status in ("delivered", "acknowledged")]
    client = staff_client()
    with django_assert_max_num_queries(10):
        response = client.get(_url("staff-speaker-propagation", world.a))
    assert response.status_code == 200
    results = response.json()["results"]
    assert [p["purpose"] for p in results] == ["biometric", "training"]  # newest first
    item = results[1]
    assert item["id"] == str(training.public_id)
    assert item["kind"] == "withdrawal"
    assert item["event"]["id"] == str(training.outbox.event.public_id)
    assert item["progress"]["total"] == len(targets)
    assert item["progress"]["reached"] == len(reached)
    assert item["progress"]["dead"] == 1
    assert item["progress"]["done"] is False
    assert item["progress"]["by_kind"]["license"] == {"reached": 0, "total": 1}
    assert sum(item["progress"]["by_status"].values()) == len(targets)
    assert item["progress"]["by_status"]["dead"] == 1
    assert _when(item["progress"]["oldest_pending_at"]) == license_target.created_at
    assert item["progress"]["pending_age_seconds"] >= 0
    assert item["dead_targets"] == [
        {
            "id": str(license_target.idempotency_key),
            "kind": "license",
            "object_id": str(world.license.public_id),
            "attempts": 8,
            "died_at": died.isoformat().replace("+00:00", "Z"),
            "last_error": "HTTP 503",
        }
    ]
    biometric = results[0]
    assert biometric["progress"]["reached"] == biometric["progress"]["total"] > 0
    assert biometric["progress"]["oldest_pending_at"] is None
    assert biometric["dead_targets"] == []
    assert all(value not in response.content.decode() for value in _pii_of(world.a))


def test_propagation_of_an_erasure_names_its_request(world: World) -> None:
    request = consent_services.request_erasure(
        speaker=world.b,
        evidence=consent_services.Evidence(method=EvidenceMethod.WEB_FORM),
        actor=consent_services.Actor.of_speaker(world.b),
    )
    response = staff_client().get(_url("staff-speaker-propagation", world.b))
    erasures = [p for p in response.json()["results"] if p["kind"] == "erasure"]
    assert [(p["erasure_request"], p["purpose"], p["event"]) for p in erasures] == [
        (str(request.public_id), None, None)
    ]


# --- Export -----------------------------------------------------------------------------


@pytest.fixture
def dated_events(notices) -> dict[str, Any]:
    """Events on three days, in two jurisdictions: {day: [seq, …]} and the speakers."""
    now = timezone.now().replace(microsecond=0)
    days = [now - datetime.timedelta(days=n) for n in (3, 2, 1)]
    il, jp = SpeakerFactory(), SpeakerFactory(jurisdiction="JP", preferred_language="ja")
    seqs: dict[int, list[int]] = {}
    for index, day in enumerate(days):
        with time_machine.travel(day, tick=False):
            before = set(ConsentEvent.objects.values_list("seq", flat=True))
            give(il, Purpose.values[index])
            give(jp, Purpose.values[index])
            seqs[index] = sorted(set(ConsentEvent.objects.values_list("seq", flat=True)) - before)
    return {"days": days, "seqs": seqs, "il": il, "jp": jp}


def _export(query: dict[str, str], **headers: str) -> Any:
    return staff_client().get(_url("staff-events-export"), query, **headers)


def test_the_csv_export_holds_exactly_the_events_of_the_period(dated_events) -> None:
    days, seqs = dated_events["days"], dated_events["seqs"]
    query = {"from": days[1].isoformat(), "to": days[2].isoformat()}
    response = _export(query)
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    disposition = response["Content-Disposition"]
    assert disposition.startswith('attachment; filename="consent-events_')
    assert disposition.endswith('.csv"')
    reader = csv.DictReader(io.StringIO(_body(response)))
    rows = list(reader)
    assert reader.fieldnames == CSV_COLUMNS
    assert [int(r["seq"]) for r in rows] == seqs[1]
    event = ConsentEvent.objects.select_related("notice", "speaker").get(seq=seqs[1][0])
    row = rows[0]
    assert row["id"] == str(event.public_id)
    assert row["speaker"] == str(event.speaker.public_id)
    assert (row["notice_id"], row["notice_version"]) == (
        str(event.notice.public_id),
        str(event.notice.version),
    )
    assert _when(row["occurred_at"]) == event.occurred_at
    assert (row["hash"], row["prev_hash"], row["expires_at"]) == (
        event.hash,
        event.prev_hash,
        "" if event.expires_at is None else row["expires_at"],
    )


def test_the_export_filters_by_jurisdiction_and_purpose(dated_events) -> None:
    days, seqs = dated_events["days"], dated_events["seqs"]
    jp = dated_events["jp"]
    everything = {"from": days[0].date().isoformat(), "to": timezone.now().isoformat()}
    jp_seqs = [s for s in sorted(itertools.chain(*seqs.values())) if s in _seqs(jp)]
    response = _export({**everything, "jurisdiction": "JP"})
    rows = list(csv.DictReader(io.StringIO(_body(response))))
    assert [int(r["seq"]) for r in rows] == jp_seqs
    assert {r["jurisdiction"] for r in rows} == {"JP"}
    response = _export({**everything, "purpose": Purpose.values[2], "jurisdiction": "US-IL"})
    rows = list(csv.DictReader(io.StringIO(_body(response))))
    assert [int(r["seq"]) for r in rows] == [s for s in seqs[2] if s not in jp_seqs]


def test_the_jsonl_export_has_one_event_per_line_shaped_like_the_api(dated_events) -> None:
    days, seqs, il = dated_events["days"], dated_events["seqs"], dated_events["il"]
    response = _export(
        {"from": days[0].isoformat(), "to": days[2].isoformat(), "format": "jsonl"},
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "application/x-ndjson"
    assert response["Content-Disposition"].endswith('.jsonl"')
    lines = [json.loads(line) for line in _body(response).splitlines()]
    assert [line["seq"] for line in lines] == seqs[0] + seqs[1]
    api = staff_client().get(_url("staff-speaker-events", il)).json()["results"]
    from_api = {e["seq"]: e for e in api}
    for line in lines:
        assert set(line) == EVENT_KEYS
        if line["seq"] in from_api:
            expected = from_api[line["seq"]]
            stamps = ("occurred_at", "recorded_at", "expires_at")
            assert {k: v for k, v in line.items() if k not in stamps} == {
                k: v for k, v in expected.items() if k not in stamps
            }
            assert _when(line["occurred_at"]) == _when(expected["occurred_at"])


def test_the_export_ignores_the_accept_header_and_holds_no_personal_data(dated_events) -> None:
    days = dated_events["days"]
    response = _export(
        {"from": days[0].isoformat(), "to": timezone.now().isoformat(), "format": "csv"},
        HTTP_ACCEPT="text/csv",
    )
    assert response.status_code == 200
    body = _body(response)
    assert len(body.splitlines()) == 1 + ConsentEvent.objects.count()
    for speaker in (dated_events["il"], dated_events["jp"]):
        assert all(value not in body for value in _pii_of(speaker))


def test_an_empty_period_exports_only_the_header(dated_events) -> None:
    response = _export({"from": "2001-01-01", "to": "2001-02-01"})
    assert _body(response).splitlines() == [",".join(CSV_COLUMNS)]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"to": "2025-02-01"}, "from"),
        ({"from": "2025-01-01"}, "to"),
        ({"from": "2025-02-01", "to": "2025-01-01"}, "to"),
        ({"from": "2025-01-01", "to": "2025-01-01"}, "to"),
        ({"from": "2024-01-01", "to": "2025-01-03"}, "to"),
        ({"from": "yesterday", "to": "2025-01-01"}, "from"),
        ({"from": "2025-13-01", "to": "2025-12-01"}, "from"),
        ({"from": "2025-01-01", "to": "2025-02-30T00:00:00"}, "to"),
        ({"from": "0001-01-01T00:00:00+05:00", "to": "2025-01-01"}, "from"),
        ({"from": "2025-01-01", "to": "2025-02-01", "format": "xml"}, "format"),
        ({"from": "2025-01-01", "to": "2025-02-01", "jurisdiction": "us-il"}, "jurisdiction"),
        ({"from": "2025-01-01", "to": "2025-02-01", "purpose": "marketing"}, "purpose"),
    ],
)
def test_the_export_refuses_bad_input(query, field) -> None:
    before = _counts()
    body = assert_problem(_export(query), 400, "invalid_input")
    assert field in body["errors"], body
    assert _counts() == before


# --- Access log -------------------------------------------------------------------------


def test_a_lookup_that_returns_contact_details_is_logged_against_the_token() -> None:
    from registry.models import AccessAction, AccessLogEntry

    ada = SpeakerFactory(email="ada@example.org")
    erased = erase_speaker_row(SpeakerFactory(email="gone@example.org"))
    client = staff_client()
    client.get(_url("staff-speakers"), {"email": "ada@example.org"})
    client.get(_url("staff-speakers"), {"email": "nobody@example.org"})
    client.get(_url("staff-speakers"), {"id": str(erased.public_id)})
    entry = AccessLogEntry.objects.get()
    assert entry.action == AccessAction.CONTACT_LOOKED_UP
    assert entry.speaker == ada
    assert entry.actor_kind == "token"
    assert entry.actor.startswith("token vcr_")
    assert "ada@example.org" not in json.dumps(entry.detail)


def test_an_export_is_logged_with_its_filters(dated_events) -> None:
    from registry.models import AccessAction, AccessLogEntry

    url = _url("staff-events-export")
    response = staff_client().get(
        url, {"from": "2025-01-01", "to": "2025-02-01", "purpose": "training"}
    )
    b"".join(response.streaming_content)
    entry = AccessLogEntry.objects.get()
    assert entry.action == AccessAction.EVENTS_EXPORTED
    assert entry.speaker is None
    assert entry.detail["purpose"] == "training"
    assert entry.detail["from"].startswith("2025-01-01")
    assert entry.detail["via"] == "api"
