"""The speaker page of the compliance admin: the whole file of one speaker without
personal data; contact details only on request with a reason, each time logged in the
append-only access log; roles without the permission see neither."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.db import ProgrammingError, transaction
from django.urls import reverse

from consent.models import ConsentEvent
from propagation.models import Propagation
from registry.models import AccessAction, AccessLogEntry, Speaker
from tests.admin_login import verified_login
from tests.factories import erase_speaker_row

pytestmark = pytest.mark.django_db


def member(client, role: str) -> User:
    user = User.objects.create_user(role.lower().replace(" ", "-"), is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    verified_login(client, user)
    return user


@pytest.fixture
def withdrawn_speaker(db) -> Speaker:
    call_command("seed_demo")
    speaker_id = (
        Propagation.objects.filter(speaker__erased_at__isnull=True)
        .values_list("speaker_id", flat=True)
        .first()
    )
    return Speaker.objects.get(pk=speaker_id)


def page_url(speaker: Speaker) -> str:
    return reverse("admin:registry_speaker_change", args=[speaker.pk])


def test_the_page_shows_timeline_states_recordings_and_propagation_without_pii(
    client, withdrawn_speaker
) -> None:
    member(client, "Compliance officer")
    page = client.get(page_url(withdrawn_speaker))
    assert page.status_code == 200
    html = page.content.decode()
    for event in ConsentEvent.objects.filter(speaker=withdrawn_speaker):
        assert reverse("admin:consent_consentevent_change", args=[event.pk]) in html
    propagation = Propagation.objects.filter(speaker=withdrawn_speaker).first()
    assert str(propagation.public_id) in html
    for track in withdrawn_speaker.tracks.select_related("recording"):
        assert str(track.recording.public_id) in html
    for section in ("current-consents", "timeline", "recordings", "propagation", "ledger"):
        assert f'id="{section}"' in html
    for secret in (withdrawn_speaker.name, withdrawn_speaker.email, withdrawn_speaker.phone):
        assert secret
        assert secret not in html
    assert not AccessLogEntry.objects.exists()  # looking at the file is not reading PII


def test_an_officer_sees_the_contact_details_with_a_reason_and_the_view_is_logged(
    client, withdrawn_speaker
) -> None:
    officer = member(client, "Compliance officer")
    page = client.post(
        page_url(withdrawn_speaker),
        {"reason": "Court order 2026/114: identify the data subject"},
        REMOTE_ADDR="203.0.113.9",
    )
    assert page.status_code == 200
    html = page.content.decode()
    assert withdrawn_speaker.email in html
    assert withdrawn_speaker.phone in html
    entry = AccessLogEntry.objects.get()
    assert entry.action == AccessAction.CONTACT_VIEWED
    assert entry.actor == officer.username
    assert entry.actor_kind == "admin"
    assert entry.speaker == withdrawn_speaker
    assert entry.reason == "Court order 2026/114: identify the data subject"
    assert entry.ip_address == "203.0.113.9"
    assert page["Cache-Control"]
    assert "no-store" in page["Cache-Control"]
    # Each view is one more row, and the page lists who looked.
    client.post(page_url(withdrawn_speaker), {"reason": "Second look, same court order"})
    assert AccessLogEntry.objects.count() == 2
    assert (
        "Second look, same court order" in client.get(page_url(withdrawn_speaker)).content.decode()
    )


@pytest.mark.parametrize("reason", ["", "   ", "because"])
def test_without_a_real_reason_nothing_is_shown_or_logged(
    client, withdrawn_speaker, reason
) -> None:
    member(client, "Compliance officer")
    page = client.post(page_url(withdrawn_speaker), {"reason": reason})
    assert page.status_code == 400
    html = page.content.decode()
    assert withdrawn_speaker.email not in html
    assert "errorlist" in html
    assert not AccessLogEntry.objects.exists()


def test_support_sees_the_file_but_not_the_contact_details(client, withdrawn_speaker) -> None:
    member(client, "Support")
    page = client.get(page_url(withdrawn_speaker))
    assert page.status_code == 200
    assert 'id="reveal-contact"' not in page.content.decode()
    refused = client.post(page_url(withdrawn_speaker), {"reason": "I would like to see it"})
    assert refused.status_code == 403
    assert withdrawn_speaker.email not in refused.content.decode()
    assert not AccessLogEntry.objects.exists()


def test_a_data_steward_cannot_open_the_speaker_page(client, withdrawn_speaker) -> None:
    member(client, "Data steward")
    assert client.get(page_url(withdrawn_speaker)).status_code == 403
    assert client.post(page_url(withdrawn_speaker), {"reason": "x" * 20}).status_code == 403
    assert not AccessLogEntry.objects.exists()


def test_an_erased_speaker_has_no_contact_details_but_the_attempt_is_logged(
    client, withdrawn_speaker
) -> None:
    erase_speaker_row(withdrawn_speaker)
    member(client, "Compliance officer")
    page = client.post(page_url(withdrawn_speaker), {"reason": "Check the erasure was done"})
    assert page.status_code == 200
    assert "was erased" in page.content.decode()
    assert AccessLogEntry.objects.get().speaker_id == withdrawn_speaker.pk


def test_the_access_log_cannot_be_edited_or_deleted(client, withdrawn_speaker) -> None:
    member(client, "Compliance officer")
    client.post(page_url(withdrawn_speaker), {"reason": "Court order 2026/114 again"})
    entry = AccessLogEntry.objects.get()
    with pytest.raises(ProgrammingError), transaction.atomic():
        AccessLogEntry.objects.filter(pk=entry.pk).update(reason="nothing to see")
    with pytest.raises(ProgrammingError), transaction.atomic():
        AccessLogEntry.objects.filter(pk=entry.pk).delete()
    assert AccessLogEntry.objects.get().reason == "Court order 2026/114 again"
    changelist = client.get(reverse("admin:registry_accesslogentry_changelist"))
    assert changelist.status_code == 200
    assert "Court order 2026/114 again" in changelist.content.decode()
    change = reverse("admin:registry_accesslogentry_change", args=[entry.pk])
    assert client.post(change, {"reason": "edited"}).status_code == 403
