from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.utils import dateformat

from registry.models import Speaker
from tests.admin_login import verified_login

pytestmark = pytest.mark.django_db


def test_home_page_shows_the_catalogue_figures(client) -> None:
    call_command("seed_demo")
    response = client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Consent for every voice" in html
    assert f"<dd>{Speaker.objects.count()}</dd>" in html
    assert "US-IL" in html


def test_home_page_is_served_in_japanese_when_asked(client) -> None:
    response = client.get("/", HTTP_ACCEPT_LANGUAGE="ja")
    assert response.status_code == 200
    assert '<html lang="ja">' in response.content.decode()


def test_admin_login_page_answers(client) -> None:
    assert client.get("/admin/login/").status_code == 200


def test_admin_requires_login(client) -> None:
    response = client.get("/admin/registry/speaker/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_speaker_list_in_admin_shows_no_personal_data(client) -> None:
    call_command("seed_demo")
    verified_login(client, User.objects.get(username="demo-staff"))
    changelist = client.get("/admin/registry/speaker/")
    assert changelist.status_code == 200
    speaker = Speaker.objects.filter(
        jurisdiction="JP", age_verification_method="date_of_birth"
    ).first()
    detail = client.get(f"/admin/registry/speaker/{speaker.pk}/change/")
    assert detail.status_code == 200
    for page in (changelist, detail):
        html = page.content.decode()
        assert str(speaker.public_id) in html
        assert speaker.name not in html
        assert speaker.email not in html
        assert speaker.phone not in html
        assert speaker.date_of_birth.isoformat() not in html
        dob = speaker.date_of_birth
        for shown in (  # the date of birth in any format a template might use
            dateformat.format(dob, "N j, Y"),
            dateformat.format(dob, "j F Y"),
            dob.strftime("%d/%m/%Y"),
            dob.strftime("%m/%d/%Y"),
            dob.strftime("%Y/%m/%d"),
        ):
            assert shown not in html


def test_staff_cannot_add_speakers_in_the_admin(client) -> None:
    call_command("seed_demo")
    verified_login(client, User.objects.get(username="demo-admin"))
    assert client.get("/admin/registry/speaker/add/").status_code == 403


def test_recordings_and_sessions_show_their_tracks_and_participants_read_only(client) -> None:
    from consent.models import RecordingSession
    from registry.models import Recording

    call_command("seed_demo")
    verified_login(client, User.objects.get(username="demo-admin"))
    recording = Recording.objects.first()
    page = client.get(f"/admin/registry/recording/{recording.pk}/change/").content.decode()
    for track in recording.tracks.all():
        assert str(track.public_id) in page
    session = RecordingSession.objects.filter(recording__isnull=False).first()
    page = client.get(f"/admin/consent/recordingsession/{session.pk}/change/").content.decode()
    assert "Participants" in page or "participants" in page
    # Read-only: no inputs for the inline rows, and no row may be added (max 0 forms).
    assert 'name="participants-0-channel"' not in page
    assert 'name="participants-MAX_NUM_FORMS" value="0"' in page
    assert 'name="participants-0-DELETE"' not in page
