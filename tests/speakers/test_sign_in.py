"""Speakers sign in with a one-time emailed link or a password they set; attempts are
rate-limited; a speaker's session never opens staff pages and staff never the portal."""

from __future__ import annotations

import datetime
import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client, override_settings
from django.urls import reverse

from speakers.models import LinkIssuer, SignInLink
from speakers.services import ensure_account, issue_sign_in_link, set_speaker_password
from tests.admin_login import verified_login
from tests.factories import SpeakerFactory, erase_speaker_row

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_tasks")]

LINK_RE = re.compile(r"https?://\S+/signin/link/[\w-]+/")


def request_link(client: Client, email: str):
    return client.post(reverse("speakers:request-link"), {"link-email": email})


def emailed_link() -> str:
    assert len(mail.outbox) == 1
    match = LINK_RE.search(mail.outbox[0].body)
    assert match, mail.outbox[0].body
    return match.group(0)


def path_of(url: str) -> str:
    return "/" + url.split("/", 3)[3]


def test_requesting_a_link_emails_a_one_time_link_to_the_speaker(
    client, django_capture_on_commit_callbacks
):
    speaker = SpeakerFactory(email="Aiko@Example.org")
    with django_capture_on_commit_callbacks(execute=True):
        response = request_link(client, "aiko@example.org")
    assert response.status_code == 200
    assert "Check your email" in response.content.decode()
    assert mail.outbox[0].to == ["Aiko@Example.org"]
    link = emailed_link()
    row = SignInLink.objects.get()
    assert row.speaker == speaker
    assert row.issued_by == LinkIssuer.SPEAKER
    # Only a digest is stored: the secret in the link is nowhere in the row.
    token = link.rstrip("/").rsplit("/", 1)[1]
    assert token not in row.token_digest
    assert len(row.token_digest) == 64


def test_an_unknown_address_gets_the_same_answer_and_no_mail(
    client, django_capture_on_commit_callbacks
):
    SpeakerFactory(email="known@example.org")
    with django_capture_on_commit_callbacks(execute=True):
        response = request_link(client, "unknown@example.org")
    assert response.status_code == 200
    assert "Check your email" in response.content.decode()
    assert mail.outbox == []
    assert not SignInLink.objects.exists()


def test_a_japanese_speaker_gets_the_link_email_in_japanese(
    client, django_capture_on_commit_callbacks
):
    SpeakerFactory(email="hanako@example.jp", jurisdiction="JP", preferred_language="ja")
    with django_capture_on_commit_callbacks(execute=True):
        request_link(client, "hanako@example.jp")
    assert "サインインリンク" in mail.outbox[0].subject


def test_the_link_page_does_not_sign_in_until_the_button_is_pressed(client):
    speaker = SpeakerFactory()
    issued = issue_sign_in_link(speaker=speaker, issued_by=LinkIssuer.SPEAKER)
    page = client.get(path_of(issued.url))
    assert page.status_code == 200
    assert client.get(reverse("speakers:dashboard")).status_code == 302
    issued.link.refresh_from_db()
    assert issued.link.used_at is None  # a mail scanner fetching the link uses nothing


def test_a_link_signs_in_once_and_then_stops_working(client, notices):
    speaker = SpeakerFactory()
    issued = issue_sign_in_link(speaker=speaker, issued_by=LinkIssuer.SPEAKER)
    response = client.post(path_of(issued.url))
    assert response.status_code == 302
    assert response["Location"] == reverse("speakers:dashboard")
    assert client.get(reverse("speakers:dashboard")).status_code == 200
    other = Client()
    again = other.post(path_of(issued.url))
    assert again.status_code == 403
    assert "already used or has expired" in again.content.decode()
    assert other.get(reverse("speakers:dashboard")).status_code == 302


def test_an_expired_link_is_refused(client, time_machine):
    speaker = SpeakerFactory()
    issued = issue_sign_in_link(speaker=speaker, issued_by=LinkIssuer.SPEAKER)
    time_machine.move_to(issued.link.expires_at + datetime.timedelta(seconds=1))
    assert client.post(path_of(issued.url)).status_code == 403
    issued.link.refresh_from_db()
    assert issued.link.used_at is None


def test_a_forged_link_is_refused(client):
    SpeakerFactory()
    response = client.post(reverse("speakers:redeem-link", args=["not-a-real-token"]))
    assert response.status_code == 403


def test_an_erased_speaker_gets_no_link(client, django_capture_on_commit_callbacks):
    speaker = SpeakerFactory(email="gone@example.org")
    issued = issue_sign_in_link(speaker=speaker, issued_by=LinkIssuer.SPEAKER)
    erase_speaker_row(speaker)
    with django_capture_on_commit_callbacks(execute=True):
        request_link(client, "gone@example.org")
    assert mail.outbox == []
    assert client.post(path_of(issued.url)).status_code == 403


def test_signing_in_with_a_password_the_speaker_set(client, notices):
    speaker = SpeakerFactory(email="pw@example.org")
    set_speaker_password(account=ensure_account(speaker=speaker), password="correct horse 42")
    response = client.post(
        reverse("speakers:sign-in"),
        {"pw-email": "PW@example.org", "pw-password": "correct horse 42"},
    )
    assert response.status_code == 302
    assert client.get(reverse("speakers:dashboard")).status_code == 200


def test_a_wrong_password_re_renders_with_a_message(client):
    speaker = SpeakerFactory(email="pw@example.org")
    set_speaker_password(account=ensure_account(speaker=speaker), password="correct horse 42")
    response = client.post(
        reverse("speakers:sign-in"), {"pw-email": "pw@example.org", "pw-password": "nope nope"}
    )
    assert response.status_code == 400
    assert "do not match" in response.content.decode()
    assert client.get(reverse("speakers:dashboard")).status_code == 302


def test_a_speaker_without_a_password_cannot_sign_in_with_one(client):
    SpeakerFactory(email="nopw@example.org")
    ensure_account(speaker=SpeakerFactory(email="other@example.org"))
    response = client.post(
        reverse("speakers:sign-in"), {"pw-email": "nopw@example.org", "pw-password": "anything!"}
    )
    assert response.status_code == 400


@override_settings(SIGN_IN_RATE_PER_EMAIL="3/15m", SIGN_IN_RATE_PER_IP="100/15m")
def test_password_attempts_are_rate_limited_per_email(client):
    speaker = SpeakerFactory(email="target@example.org")
    set_speaker_password(account=ensure_account(speaker=speaker), password="correct horse 42")
    for _ in range(3):
        client.post(
            reverse("speakers:sign-in"), {"pw-email": "target@example.org", "pw-password": "x"}
        )
    blocked = client.post(
        reverse("speakers:sign-in"),
        {"pw-email": "target@example.org", "pw-password": "correct horse 42"},
    )
    assert blocked.status_code == 429
    assert "Too many attempts" in blocked.content.decode()
    assert Client().get(reverse("speakers:dashboard")).status_code == 302


@override_settings(SIGN_IN_RATE_PER_IP="2/15m", SIGN_IN_RATE_PER_EMAIL="100/15m")
def test_link_requests_are_rate_limited_per_address(client, django_capture_on_commit_callbacks):
    SpeakerFactory(email="a@example.org")
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(2):
            assert request_link(client, "a@example.org").status_code == 200
        assert request_link(client, "a@example.org").status_code == 429
    assert len(mail.outbox) == 2


def test_a_short_password_is_refused_with_a_message(client):
    client_speaker = SpeakerFactory()
    from tests.speakers.conftest import sign_in

    sign_in(client, client_speaker)
    response = client.post(reverse("speakers:password"), {"password1": "abc", "password2": "abc"})
    assert response.status_code == 400
    assert "too short" in response.content.decode()
    assert not ensure_account(speaker=client_speaker).user.has_usable_password()


def test_staff_cannot_use_the_portal_and_speakers_cannot_use_the_admin(client, admin_user):
    verified_login(client, admin_user)
    assert client.get(reverse("speakers:dashboard")).status_code == 302
    speaker_client = Client()
    account = ensure_account(speaker=SpeakerFactory())
    speaker_client.force_login(account.user, backend="speakers.backends.SpeakerEmailBackend")
    admin_page = speaker_client.get(reverse("admin:index"))
    assert admin_page.status_code == 302
    assert "login" in admin_page["Location"]


def test_staff_with_the_permission_issue_a_link_from_the_admin(client):
    from django.contrib.auth.models import Permission

    staff = get_user_model().objects.create_user("support", password="x" * 12, is_staff=True)
    staff.user_permissions.add(
        Permission.objects.get(codename="issue_sign_in_link"),
        Permission.objects.get(codename="view_speaker"),
    )
    speaker = SpeakerFactory()
    verified_login(client, staff)
    response = client.post(
        reverse("admin:registry_speaker_changelist"),
        {"action": "create_sign_in_link", "_selected_action": [speaker.pk]},
        follow=True,
    )
    text = response.content.decode()
    match = LINK_RE.search(text)
    assert match, text
    link = SignInLink.objects.get()
    assert link.issued_by == LinkIssuer.STAFF
    assert link.issued_by_user == staff
    assert Client().post(path_of(match.group(0))).status_code == 302


def test_staff_without_the_permission_see_no_link_action(client):
    from django.contrib.auth.models import Permission

    staff = get_user_model().objects.create_user("viewer", password="x" * 12, is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_speaker"))
    speaker = SpeakerFactory()
    verified_login(client, staff)
    client.post(
        reverse("admin:registry_speaker_changelist"),
        {"action": "create_sign_in_link", "_selected_action": [speaker.pk]},
    )
    assert not SignInLink.objects.exists()


def test_every_link_request_queues_the_same_task_with_only_a_digest(
    client, django_capture_on_commit_callbacks, monkeypatch
):
    from speakers import tasks

    queued = []
    monkeypatch.setattr(tasks.email_sign_in_link, "delay", queued.append)
    SpeakerFactory(email="known@example.org")
    with django_capture_on_commit_callbacks(execute=True):
        known = request_link(client, "known@example.org")
        unknown = request_link(client, "nobody@example.org")
    csrf = re.compile(rb'name="csrfmiddlewaretoken" value="[^"]+"')
    assert csrf.sub(b"", known.content) == csrf.sub(b"", unknown.content)
    assert len(queued) == 2
    assert all(re.fullmatch(r"[0-9a-f]{64}", digest) for digest in queued)
    assert mail.outbox == []  # nothing is sent in the request itself


def test_a_failing_mail_server_is_retried_and_never_logs_the_address(monkeypatch, caplog):
    import smtplib

    from celery.exceptions import Retry

    from registry import pii
    from speakers import tasks

    SpeakerFactory(email="refused@example.org")

    def refuse(*args, **kwargs):
        raise smtplib.SMTPRecipientsRefused({"refused@example.org": (550, b"no such user")})

    monkeypatch.setattr("speakers.services.send_mail", refuse)
    monkeypatch.setattr(tasks.email_sign_in_link, "retry", lambda **kw: Retry("retry"))
    with pytest.raises(Retry):
        tasks.email_sign_in_link.run(pii.email_blind_index("refused@example.org"))
    assert "SMTPRecipientsRefused" in caplog.text
    assert "refused@example.org" not in caplog.text


def test_an_assisted_session_marks_every_act_with_the_staff_link(client, notices):
    from consent.models import ConsentEvent
    from consent.selectors import current_notice

    staff = get_user_model().objects.create_user("helper", password="x" * 12, is_staff=True)
    speaker = SpeakerFactory()
    issued = issue_sign_in_link(speaker=speaker, issued_by=LinkIssuer.STAFF, staff_user=staff)
    client.post(path_of(issued.url))
    notice = current_notice(speaker=speaker, purpose="training")
    client.post(reverse("speakers:give", args=["training"]), {"notice": str(notice.public_id)})
    event = ConsentEvent.objects.get(speaker=speaker)
    assert event.actor_kind == "speaker"
    assert event.actor_ref == f"{speaker.public_id} assisted-link:{issued.link.pk}"
