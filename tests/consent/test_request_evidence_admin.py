"""Requests read as requests in the admin, including those stored before requests had
their own evidence method (append-only rows keep ``system``); speakers cannot be added
or edited in the admin, so the age gate has no admin door to guard."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import reverse

from consent import services
from consent.models import ConsentAction, ConsentEvent, EvidenceMethod
from registry.models import Speaker
from tests.admin_login import verified_login
from tests.factories import SpeakerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def officer(client: Client) -> Client:
    user = User.objects.create_user("officer", is_staff=True)
    user.groups.add(Group.objects.get(name="Compliance officer"))
    verified_login(client, user)
    return client


def an_old_request(notices) -> ConsentEvent:
    """A request as written before the request method existed: method ``system``."""
    speaker = SpeakerFactory()
    services.create_recording_session(
        external_ref="old-call",
        jurisdiction="US-IL",
        language="en",
        speakers=[speaker, SpeakerFactory()],
    )
    new = ConsentEvent.objects.get(speaker=speaker, action=ConsentAction.REQUEST)
    copied = {
        f.attname: getattr(new, f.attname)
        for f in ConsentEvent._meta.concrete_fields
        if f.attname not in ("id", "public_id", "seq", "prev_hash", "hash")
    }
    return ConsentEvent.objects.create(**{**copied, "evidence_method": EvidenceMethod.SYSTEM})


def test_the_event_list_labels_an_old_system_request_as_a_request(officer, notices):
    old = an_old_request(notices)
    html = officer.get(
        reverse("admin:consent_consentevent_changelist"), {"action__exact": "request"}
    ).content.decode()
    # The rows, not the filter sidebar (which lists every stored method).
    rows = html.split('id="result_list"', 1)[1].split("</table>", 1)[0]
    assert rows.count("Request by the collection platform") == 3  # two new, one old
    assert "System (expiry by schedule)" not in rows
    assert old.evidence_label == "Request by the collection platform"


def test_the_event_page_labels_an_old_request_and_keeps_the_stored_method_visible(officer, notices):
    old = an_old_request(notices)
    html = officer.get(reverse("admin:consent_consentevent_change", args=[old.pk])).content.decode()
    assert "Request by the collection platform (stored method: system)" in html
    assert "System (expiry by schedule)" not in html


def test_the_speaker_file_labels_requests_as_requests(officer, notices):
    old = an_old_request(notices)
    response = officer.get(reverse("admin:registry_speaker_change", args=[old.speaker_id]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Request by the collection platform" in html
    assert "System (expiry by schedule)" not in html


def test_speakers_cannot_be_added_in_the_admin(officer, db):
    response = officer.post(
        reverse("admin:registry_speaker_add"),
        {"name": "A Minor", "jurisdiction": "US-IL", "date_of_birth": "2010-05-01"},
    )
    assert response.status_code == 403
    assert not Speaker.objects.exists()
