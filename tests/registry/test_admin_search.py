"""Compliance staff find a speaker's events (and the speaker) by email in the admin:
exact and normalised, through the blind index, never by decrypting the table."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.admin_login import verified_login
from tests.consent.conftest import give, notices  # noqa: F401 - fixture
from tests.factories import SpeakerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def officer(client):
    user = User.objects.create_user("officer", is_staff=True)
    user.groups.add(Group.objects.get(name="Compliance officer"))
    verified_login(client, user)
    return client


def test_events_are_found_by_the_speakers_email_through_the_blind_index(
    officer,
    notices,  # noqa: F811
) -> None:
    dana = SpeakerFactory(email="dana@example.org")
    other = SpeakerFactory(email="dana@example.com")
    for speaker in (dana, other):
        give(speaker, "training")
    url = reverse("admin:consent_consentevent_changelist")
    with CaptureQueriesContext(connection) as queries:
        page = officer.get(url, {"q": "  Dana@Example.ORG "})
    assert page.status_code == 200
    body = page.content.decode()
    assert str(dana.public_id) in body
    assert str(other.public_id) not in body
    sql = " ".join(q["sql"] for q in queries.captured_queries)
    assert "email_blind_index" in sql
    assert '"registry_speaker"."email"' not in sql
    # A near miss finds nothing (no partial matching).
    assert str(dana.public_id) not in officer.get(url, {"q": "dana@example"}).content.decode()


def test_the_speaker_list_is_searched_the_same_way(officer) -> None:
    dana = SpeakerFactory(email="dana@example.org")
    SpeakerFactory(email="someone@example.org")
    page = officer.get(reverse("admin:registry_speaker_changelist"), {"q": "DANA@example.org"})
    assert page.status_code == 200
    assert str(dana.public_id) in page.content.decode()
    assert "1 result" in page.content.decode()
