"""CSV exports from the admin's consent event and consent state lists: exactly the rows
the list's filters and search select, streamed, ids only (no personal data); the event
export has the staff API export's columns and values. Only staff who may export get
one, and each export is written to the access log with its filters."""

from __future__ import annotations

import csv
import datetime
import io
from typing import Any

import pytest
import time_machine
from django.contrib.auth.models import Group, User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from consent.exports import copy_chunks
from consent.models import Consent, ConsentEvent, ConsentState, Purpose
from consent.staff_selectors import EVENT_COLUMNS, events_export_statement
from registry.models import AccessAction, AccessLogEntry, Speaker
from tests.admin_login import verified_login
from tests.consent.conftest import give, publish, withdraw
from tests.factories import SpeakerFactory

pytestmark = pytest.mark.django_db

EVENTS = "admin:consent_consentevent_export"
STATES = "admin:consent_consent_export"
STATE_COLUMNS = [
    "speaker",
    "jurisdiction",
    "purpose",
    "session",
    "recording",
    "state",
    "given_at",
    "state_since",
    "expires_at",
    "notice_id",
    "notice_version",
    "notice_language",
    "notice_jurisdiction",
    "last_event_seq",
    "last_event_id",
]


@pytest.fixture
def history(notices) -> dict[str, Any]:
    """Speakers in Illinois and Japan acting on three days: grants of several purposes,
    a withdrawal, and a grant under a second version of the US training notice."""
    now = timezone.now().replace(microsecond=0)
    days = [now - datetime.timedelta(days=n) for n in (3, 2, 1)]
    il, jp = SpeakerFactory(), SpeakerFactory(jurisdiction="JP", preferred_language="ja")
    with time_machine.travel(days[0], tick=False):
        for speaker in (il, jp):
            give(speaker, Purpose.RECORDING)
            give(speaker, Purpose.TRAINING)
    with time_machine.travel(days[1], tick=False):
        withdraw(il, Purpose.TRAINING)
        give(jp, Purpose.BIOMETRIC)
    with time_machine.travel(days[2], tick=False):
        publish(Purpose.TRAINING, "US", "en", title="Training consent, second version")
        other = SpeakerFactory()
        give(other, Purpose.TRAINING)
    return {"days": days, "il": il, "jp": jp, "other": other}


def _member(client: Client, role: str) -> User:
    user = User.objects.create_user(role.lower().replace(" ", "-"), is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    verified_login(client, user)
    return user


@pytest.fixture
def officer(client: Client) -> Client:
    _member(client, "Compliance officer")
    return client


def _csv(response: Any) -> tuple[list[str], list[dict[str, str]]]:
    assert response.status_code == 200, response
    assert response.streaming
    body = b"".join(response.streaming_content).decode()
    reader = csv.DictReader(io.StringIO(body))
    rows = list(reader)
    return list(reader.fieldnames or []), rows


def _body(response: Any) -> str:
    return b"".join(response.streaming_content).decode()


def _pii(*speakers: Speaker) -> list[str]:
    return [value for s in speakers for value in (s.name, s.email, s.phone)]


def _stamp(value: datetime.datetime) -> str:
    return value.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# --- consent events ------------------------------------------------------------------


def test_the_event_export_holds_exactly_the_filtered_events(officer: Client, history) -> None:
    query = {"purpose__exact": "training", "jurisdiction": "JP"}
    response = officer.get(reverse(EVENTS), query)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="consent-events_')
    header, rows = _csv(response)
    assert header == list(EVENT_COLUMNS)
    expected = ConsentEvent.objects.filter(purpose="training", jurisdiction="JP").order_by("seq")
    assert [int(r["seq"]) for r in rows] == [e.seq for e in expected]
    assert len(rows) == 1
    event = expected.select_related("notice").get()
    row = rows[0]
    assert row["id"] == str(event.public_id)
    assert row["speaker"] == str(history["jp"].public_id)
    assert (row["purpose"], row["action"], row["state"], row["jurisdiction"]) == (
        "training",
        "give",
        "given",
        "JP",
    )
    assert (row["notice_id"], row["notice_version"], row["notice_language"]) == (
        str(event.notice.public_id),
        str(event.notice.version),
        "ja",
    )
    assert row["occurred_at"] == _stamp(event.occurred_at)
    assert (row["hash"], row["prev_hash"]) == (event.hash, event.prev_hash)


def test_action_notice_version_and_date_filters_are_honoured(officer: Client, history) -> None:
    _, withdrawals = _csv(officer.get(reverse(EVENTS), {"action__exact": "withdraw"}))
    assert [r["speaker"] for r in withdrawals] == [str(history["il"].public_id)]
    _, second = _csv(officer.get(reverse(EVENTS), {"notice__version": "2"}))
    assert [r["speaker"] for r in second] == [str(history["other"].public_id)]
    day = history["days"][1]
    one_day = {
        "occurred_at__year": str(day.year),
        "occurred_at__month": str(day.month),
        "occurred_at__day": str(day.day),
    }
    _, rows = _csv(officer.get(reverse(EVENTS), one_day))
    begins = day.replace(hour=0, minute=0, second=0)
    expected = ConsentEvent.objects.filter(
        occurred_at__gte=begins, occurred_at__lt=begins + datetime.timedelta(days=1)
    ).order_by("seq")
    assert [int(r["seq"]) for r in rows] == [e.seq for e in expected]
    assert {r["action"] for r in rows} == {"withdraw", "give"}


def test_the_event_export_is_the_staff_api_export_for_the_same_events(
    officer: Client, history
) -> None:
    body = _body(officer.get(reverse(EVENTS)))
    first = ConsentEvent.objects.order_by("seq").first()
    assert first is not None
    statement, params = events_export_statement(
        start=first.occurred_at, end=timezone.now() + datetime.timedelta(days=1), fmt="csv"
    )
    api = b"".join(bytes(chunk) for chunk in copy_chunks(statement, params)).decode()
    assert body == api
    assert len(body.splitlines()) == 1 + ConsentEvent.objects.count()


def test_the_event_export_holds_no_personal_data(officer: Client, history) -> None:
    body = _body(officer.get(reverse(EVENTS)))
    speakers = (history["il"], history["jp"], history["other"])
    assert all(value not in body for value in _pii(*speakers))
    assert {str(s.public_id) for s in speakers} <= set(body.replace("\n", ",").split(","))


def test_the_export_is_logged_with_its_filters(officer: Client, history) -> None:
    officer.get(reverse(EVENTS), {"purpose__exact": "training", "o": "-1"})
    entry = AccessLogEntry.objects.get()
    assert (entry.action, entry.actor, entry.actor_kind, entry.speaker) == (
        AccessAction.EVENTS_EXPORTED,
        "compliance-officer",
        "admin",
        None,
    )
    assert entry.detail == {
        "filters": {"purpose__exact": "training", "o": "-1"},
        "via": "admin",
        "format": "csv",
    }


def test_an_email_search_exports_that_speaker_and_logs_the_speaker_not_the_email(
    officer: Client, history
) -> None:
    il: Speaker = history["il"]
    _, rows = _csv(officer.get(reverse(EVENTS), {"q": f"  {il.email.upper()} "}))
    assert {r["speaker"] for r in rows} == {str(il.public_id)}
    assert len(rows) == ConsentEvent.objects.filter(speaker=il).count() == 3
    entry = AccessLogEntry.objects.get()
    assert entry.speaker == il
    assert il.email.lower() not in str(entry.detail).lower()
    assert entry.detail["filters"]["q"].startswith("(an email address")


def test_the_list_links_to_the_export_with_its_filters(officer: Client, history) -> None:
    page = officer.get(
        reverse("admin:consent_consentevent_changelist"), {"purpose__exact": "training"}
    )
    assert f'href="{reverse(EVENTS)}?purpose__exact=training"' in page.content.decode()
    assert not AccessLogEntry.objects.exists()  # viewing the list is not an export


@pytest.mark.parametrize("role", ["Data steward", "Support"])
def test_roles_that_may_not_export_are_refused(client: Client, role: str, history) -> None:
    _member(client, role)
    assert client.get(reverse(EVENTS)).status_code == 403
    assert client.get(reverse(STATES)).status_code == 403
    assert not AccessLogEntry.objects.exists()


def test_support_sees_the_list_without_an_export_link(client: Client, history) -> None:
    _member(client, "Support")
    page = client.get(reverse("admin:consent_consentevent_changelist"))
    assert page.status_code == 200
    assert reverse(EVENTS) not in page.content.decode()


def test_an_unknown_filter_goes_back_to_the_list_and_exports_nothing(
    officer: Client, history
) -> None:
    response = officer.get(reverse(EVENTS), {"seq__gte": "x"})
    assert response.status_code == 302
    assert response["Location"].endswith("?e=1")
    assert not AccessLogEntry.objects.exists()


# --- current consent state -------------------------------------------------------------


def test_the_state_export_holds_exactly_the_filtered_consents(officer: Client, history) -> None:
    query = {"state__exact": "given", "speaker__jurisdiction": "US-IL"}
    response = officer.get(reverse(STATES), query)
    assert response["Content-Disposition"].startswith('attachment; filename="consent-state_')
    header, rows = _csv(response)
    assert header == STATE_COLUMNS
    expected = Consent.objects.filter(
        state=ConsentState.GIVEN, speaker__jurisdiction="US-IL"
    ).order_by("pk")
    assert [(r["speaker"], r["purpose"]) for r in rows] == [
        (str(c.speaker.public_id), c.purpose) for c in expected
    ]
    assert {r["purpose"] for r in rows} == {"recording", "training"}  # il's training: withdrawn
    consent = expected.select_related("notice", "last_event").first()
    assert consent is not None
    row = rows[0]
    assert (row["state"], row["jurisdiction"], row["session"], row["expires_at"]) == (
        "given",
        "US-IL",
        "",
        "",
    )
    assert consent.given_at is not None
    assert row["given_at"] == _stamp(consent.given_at)
    assert (row["notice_id"], row["notice_version"]) == (
        str(consent.notice.public_id),
        str(consent.notice.version),
    )
    assert (row["last_event_seq"], row["last_event_id"]) == (
        str(consent.last_event.seq),
        str(consent.last_event.public_id),
    )
    body = _body(officer.get(reverse(STATES)))
    assert all(value not in body for value in _pii(history["il"], history["jp"]))


def test_the_state_export_is_logged_as_a_state_export(officer: Client, history) -> None:
    _, rows = _csv(officer.get(reverse(STATES), {"purpose__exact": "training"}))
    assert len(rows) == Consent.objects.filter(purpose="training").count() == 3
    entry = AccessLogEntry.objects.get()
    assert entry.action == AccessAction.STATE_EXPORTED
    assert entry.detail == {
        "filters": {"purpose__exact": "training"},
        "via": "admin",
        "format": "csv",
    }
    page = officer.get(reverse("admin:consent_consent_changelist"))
    assert reverse(STATES) in page.content.decode()


def test_the_export_neither_counts_nor_pages_the_list(officer: Client, history) -> None:
    with CaptureQueriesContext(connection) as queries:
        response = officer.get(reverse(EVENTS), {"purpose__exact": "training"})
        _csv(response)
    on_events = [q["sql"] for q in queries.captured_queries if "consent_consentevent" in q["sql"]]
    # The rows come from one COPY (outside Django's query log), not from the list's page.
    assert not [sql for sql in on_events if "COUNT(" in sql.upper() or "LIMIT" in sql.upper()]
