"""Bad input in every HTML form a speaker or staff member can submit: the speaker
portal (sign-in, link request and redemption, consents, the invitation page, password,
erasure, receipt check, statements) and the admin's own pages (contact reveal, notice
publishing, compliance report, chain verification, token issue, every list's search).

Hostile values never cause a server error; where a field admits only some values the
form comes back with a message (or a clean refusal) and nothing changes; forged,
expired or used links open no session."""

from __future__ import annotations

import datetime
import json
import uuid
from typing import Any
from urllib.parse import quote

import pytest
from django.conf import settings
from django.contrib import admin
from django.contrib.auth.models import Group, User
from django.core.cache import cache
from django.test import Client
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from consent.models import RecordingSession, SessionStatus
from consent.selectors import current_notice
from consent.services import create_recording_session, invitation_token
from registry.models import AgeVerificationMethod, Speaker
from speakers.models import LinkIssuer, SignInLink
from speakers.services import ensure_account, issue_sign_in_link, set_speaker_password
from tests.admin_login import verified_login
from tests.factories import LicenseeFactory, SpeakerFactory, erase_speaker_row
from tests.security.hostile import (
    HOSTILE_SAMPLE,
    HOSTILE_STRINGS,
    Findings,
    StateGuard,
    own_savepoint,
    short,
)
from tests.speakers.conftest import sign_in

pytestmark = pytest.mark.django_db

# How a page says what is wrong: a field's or the form's errors, an alert, a message.
ERROR_MARKERS = ('class="errorlist', 'role="alert"', 'class="errornote', 'class="error')
SESSION_KEY = "_auth_user_id"
PASSWORD = "a long and unusual passphrase 7"


class FormPass:
    """Posts hostile values and judges what comes back."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.guard = StateGuard()
        self.findings = Findings()

    def request(
        self,
        method: str,
        url: str,
        what: str,
        data: dict[str, Any] | bytes | None = None,
        *,
        must_refuse: bool = True,
        may_write: bool | None = None,
        content_type: str | None = None,
        says_why: bool = True,
    ) -> Any:
        """``must_refuse``: the value is not one the form admits, so the page says what
        is wrong (or refuses cleanly) and nothing changes. Otherwise it may be taken as
        given (a name or a reason may hold anything) and, unless ``may_write`` is False,
        change what it changes."""
        may_write = not must_refuse if may_write is None else may_write
        where = f"{method.upper()} {short(url, 70)} {what}"
        self.guard.catch_up()
        try:
            with own_savepoint():
                if isinstance(data, bytes):
                    answer = self.client.generic(
                        method.upper(),
                        url,
                        data=data,
                        content_type=content_type or "application/x-www-form-urlencoded",
                    )
                else:
                    answer = getattr(self.client, method)(url, data or {})
        except Exception as exc:  # a 5xx, as a WSGI server would answer it
            self.findings.add(where, f"server error {type(exc).__name__}: {short(str(exc), 160)}")
            self.guard.accept()
            return None
        status = answer.status_code
        if status >= 500:
            self.findings.add(where, f"server error {status}")
        changed = self.guard.changed_tables()
        if changed and not may_write:
            self.findings.add(where, f"answered {status} and changed {changed}")
        self.guard.accept()
        posted = method == "post" and status in (200, 400)
        if must_refuse and says_why and posted and not _says_what_is_wrong(answer):
            self.findings.add(where, f"{status} without a message")
        return answer


def _says_what_is_wrong(answer: Any) -> bool:
    if not answer.get("Content-Type", "").startswith("text/html"):
        return True  # a plain-text refusal (e.g. a statement's month)
    html = answer.content.decode(errors="replace")
    return any(marker in html for marker in ERROR_MARKERS)


def _signed_in(client: Client) -> bool:
    return SESSION_KEY in client.session


# --- Speaker portal ----------------------------------------------------------------


@pytest.fixture
def speaker(notices) -> Speaker:
    speaker = SpeakerFactory()
    set_speaker_password(account=ensure_account(speaker=speaker), password=PASSWORD)
    return speaker


def test_sign_in_forms_refuse_hostile_input_and_open_no_session(client: Client, speaker) -> None:
    run = FormPass(client)
    sign_in_url, link_url = reverse("speakers:sign-in"), reverse("speakers:request-link")
    for name, value in HOSTILE_STRINGS.items():
        run.request("post", sign_in_url, f"email={name}", {"pw-email": value, "pw-password": "x"})
        run.request(
            "post",
            sign_in_url,
            f"password={name}",
            {"pw-email": speaker.email, "pw-password": value},
        )
        # An address that is well formed for all its content is taken (and mails nothing).
        run.request("post", link_url, f"email={name}", {"link-email": value})
        run.request(
            "post",
            link_url,
            f"email=…{name}@",
            {"link-email": f"{value}@example.org"},
            must_refuse=False,
        )
        assert not _signed_in(client), name
    run.findings.check()


def test_sign_in_sends_only_to_the_portal_whatever_next_says(client: Client, speaker) -> None:
    """A hostile ``next`` (other site, header injection, script) never leaves /me/."""
    run = FormPass(client)
    url = reverse("speakers:sign-in")
    targets = {
        **HOSTILE_SAMPLE,
        "other_site": "https://evil.example/",
        "protocol_relative": "//evil.example/me/",
        "backslashes": "/me/\\\\evil.example",
        "header_injection": "/me/\r\nSet-Cookie: sessionid=x",
        "script_in_portal": '/me/"><script>alert(1)</script>',
    }
    for name, target in targets.items():
        cache.clear()  # one good sign-in per target: stay under the per-address rate
        page = run.request("get", f"{url}?next={quote(target)}", f"next={name}", must_refuse=False)
        if page is not None and "<script>alert(1)</script>" in page.content.decode():
            run.findings.add(f"sign-in next={name}", "the page holds the script unescaped")
        answer = run.request(
            "post",
            url,
            f"next={name}",
            {"pw-email": speaker.email, "pw-password": PASSWORD, "next": target},
            must_refuse=False,
        )
        if answer is not None:
            location = answer.get("Location", "")
            if answer.status_code != 302 or not location.startswith("/me/") or "\n" in location:
                run.findings.add(f"sign-in next={name}", f"{answer.status_code} to {location!r}")
        client.logout()
    run.findings.check()


def _link_token(link: SignInLink | None = None, **kwargs: Any) -> str:
    issued = issue_sign_in_link(issued_by=LinkIssuer.SPEAKER, **kwargs)
    return issued.url.rstrip("/").rsplit("/", 1)[1]


def test_forged_expired_and_used_sign_in_links_open_no_session(client: Client, speaker) -> None:
    run = FormPass(client)
    expired = _link_token(speaker=speaker)
    SignInLink.objects.filter(speaker=speaker).update(
        created_at=timezone.now() - datetime.timedelta(hours=2),
        expires_at=timezone.now() - datetime.timedelta(minutes=1),
    )
    used = _link_token(speaker=speaker)
    assert client.post(reverse("speakers:redeem-link", args=[used])).status_code == 302
    client.logout()
    erased_speaker = SpeakerFactory()
    of_erased = _link_token(speaker=erased_speaker)
    erase_speaker_row(erased_speaker)
    live = _link_token(speaker=speaker)
    tokens = {
        "expired": expired,
        "used": used,
        "of an erased speaker": of_erased,
        "altered": live[:-1] + ("A" if live[-1] != "A" else "B"),
        "random": uuid.uuid4().hex * 2,
        "too long": "A" * 5000,
        **{name: value for name, value in HOSTILE_SAMPLE.items() if name != "very_long"},
    }
    for name, token in tokens.items():
        url = f"/signin/link/{quote(token, safe='')}/"
        run.request("get", url, f"link {name}")  # only shows a button
        answer = run.request("post", url, f"link {name}")
        if answer is not None and answer.status_code not in (403, 404):
            run.findings.add(f"link {name}", f"answered {answer.status_code}")
        if _signed_in(client):
            run.findings.add(f"link {name}", "opened a session")
            client.logout()
    run.findings.check()


@pytest.fixture
def invitation(notices) -> tuple[str, Any]:
    """An invitation link of a participant whose age is not verified yet (channel 0)."""
    first = SpeakerFactory(
        date_of_birth=None, age_verification_method=AgeVerificationMethod.UNVERIFIED
    )
    session = create_recording_session(
        external_ref="call-hostile",
        jurisdiction="US-IL",
        language="en",
        speakers=[first, SpeakerFactory()],
    )
    participant = session.participants.get(channel=0)
    return reverse("speakers:invitation", args=[invitation_token(participant)]), participant


def _of_channel(participant: Any, channel: int) -> tuple[str, Any]:
    other = participant.session.participants.get(channel=channel)
    return reverse("speakers:invitation", args=[invitation_token(other)]), other


def test_forged_and_expired_invitation_links_are_refused(client: Client, invitation) -> None:
    run = FormPass(client)
    url, participant = invitation
    token = url.rstrip("/").rsplit("/", 1)[1]
    other = create_recording_session(
        external_ref="call-expired",
        jurisdiction="US-IL",
        language="en",
        speakers=[SpeakerFactory(), SpeakerFactory()],
    )
    expired = invitation_token(other.participants.get(channel=0))
    RecordingSession.objects.filter(pk=other.pk).update(
        created_at=timezone.now() - datetime.timedelta(days=3),
        invite_expires_at=timezone.now() - datetime.timedelta(minutes=1),
    )
    closed = create_recording_session(
        external_ref="call-closed",
        jurisdiction="US-IL",
        language="en",
        speakers=[SpeakerFactory(), SpeakerFactory()],
    )
    of_closed = invitation_token(closed.participants.get(channel=0))
    RecordingSession.objects.filter(pk=closed.pk).update(status=SessionStatus.CANCELLED)
    tokens = {
        "expired": expired,
        "session closed": of_closed,
        "altered signature": token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
        "altered payload": "x" + token[1:],
        "random": uuid.uuid4().hex,
        "too long": "A" * 5000,
        **{name: value for name, value in HOSTILE_SAMPLE.items() if name != "very_long"},
    }
    notice = current_notice(speaker=participant.speaker, purpose="recording")
    for name, forged in tokens.items():
        base = f"/invite/{quote(forged, safe='')}/"
        for method, path, data in (
            ("get", "", None),
            ("post", "age/", {"date_of_birth": "1990-01-01"}),
            ("post", "consent/recording/", {"notice": str(notice.public_id)}),
            ("post", "withdraw/recording/", {}),
        ):
            answer = run.request(method, base + path, f"invitation {name}", data)
            if answer is not None and answer.status_code not in (403, 404, 409):
                run.findings.add(f"invitation {name} {path}", f"answered {answer.status_code}")
    run.findings.check()


def test_invitation_forms_refuse_hostile_input(client: Client, invitation) -> None:
    """The age form (a participant not verified yet) and the consent form (one whose age
    is known, who sees it)."""
    run = FormPass(client)
    url, participant = invitation
    verified_url, _ = _of_channel(participant, 1)
    for name, value in HOSTILE_STRINGS.items():
        run.request("post", url + "age/", f"date_of_birth={name}", {"date_of_birth": value})
        run.request(
            "post", verified_url + "consent/recording/", f"notice={name}", {"notice": value}
        )
        for act in ("consent", "withdraw"):
            target = f"{verified_url}{act}/{quote(value[:200], safe='')}/"
            run.request("post", target, f"{act} purpose={name}")
    for name, value in {
        "future": "2999-01-01",
        "ancient": "0001-01-01",
        "y10k": "10000-01-01",
    }.items():
        run.request("post", url + "age/", f"date_of_birth={name}", {"date_of_birth": value})
    run.findings.check()


def test_portal_forms_refuse_hostile_input(client: Client, speaker) -> None:
    sign_in(client, speaker)
    run = FormPass(client)
    give = reverse("speakers:give", args=["likeness"])
    notice = current_notice(speaker=speaker, purpose="likeness")
    written = "signed_name" in client.get(give).content.decode()
    for name, value in HOSTILE_STRINGS.items():
        run.request("post", give, f"notice={name}", {"notice": value, "signed_name": "Dana"})
        if written:
            admitted = name not in ("nul", "very_long") and value.strip() != ""
            run.request(
                "post",
                give,
                f"signed_name={name}",
                {"notice": str(notice.public_id), "signed_name": value},
                must_refuse=not admitted,
            )
        run.request("post", f"/me/consents/{quote(value[:200], safe='')}/give/", f"purpose={name}")
        run.request(
            "post", f"/me/consents/{quote(value[:200], safe='')}/withdraw/", f"purpose={name}"
        )
        # A password may hold anything but NUL, up to 256 characters, and must match.
        admitted = name not in ("nul", "very_long") and len(value) >= 8
        run.request(
            "post",
            reverse("speakers:password"),
            f"passwords differ {name}",
            {"password1": value, "password2": value + "x"},
        )
        run.request(
            "post",
            reverse("speakers:password"),
            f"password={name}",
            {"password1": value, "password2": value},
            must_refuse=not admitted,
        )
        sign_in(client, speaker)  # a password change starts a new session
        run.request("post", reverse("speakers:verify"), f"receipt={name}", {"receipt": value})
        for page in ("earnings", "statement-csv", "statement-pdf"):
            run.request(
                "get", f"{reverse(f'speakers:{page}')}?month={quote(value)}", f"month={name}"
            )
        run.request(
            "get",
            f"{reverse('speakers:history')}?page={quote(value)}",
            f"page={name}",
            must_refuse=False,
        )
    run.request("post", reverse("speakers:erasure"), "understood missing", {})
    run.findings.check()


SIGNATURE = '{"alg": "EdDSA", "kid": "x", "value": "y"}}'
RECEIPTS = {
    "deeply nested": "[" * 50_000 + "]" * 50_000,
    "not an object": "[1, 2]",
    "no signature": json.dumps({"receipt": {}}),
    "signature of wrong types": json.dumps(
        {"receipt": {}, "signature": {"alg": 1, "kid": [], "value": {}}}
    ),
    "unknown key": json.dumps(
        {"receipt": {"a": 1}, "signature": {"alg": "EdDSA", "kid": "nope", "value": "x"}}
    ),
    "NaN inside": '{"receipt": {"a": NaN}, "signature": ' + SIGNATURE,
    "huge number": '{"receipt": {"a": 1e999999}, "signature": ' + SIGNATURE,
    "bad base64": json.dumps(
        {"receipt": {}, "signature": {"alg": "EdDSA", "kid": "x", "value": "%%%"}}
    ),
}


def test_receipt_check_survives_hostile_receipts(client: Client) -> None:
    """The public receipt check: whatever JSON it is given, a verdict or a message."""
    run = FormPass(client)
    from registry import signing

    kid = signing.current_kid()
    receipts = {
        **RECEIPTS,
        "known key, forged": json.dumps(
            {"receipt": {"a": 1}, "signature": {"alg": "EdDSA", "kid": kid, "value": "AAAA"}}
        ),
    }
    for name, receipt in receipts.items():
        run.request(
            "post",
            reverse("speakers:verify"),
            f"receipt {name}",
            {"receipt": receipt},
            must_refuse=False,
        )
    run.findings.check()


# Raw bodies no browser sends: invalid UTF-8, too many fields, too large, wrong types.
def _raw_bodies() -> dict[str, tuple[bytes, str]]:
    limit = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS or 1000
    size = settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 2_621_440
    form = "application/x-www-form-urlencoded"
    return {
        "invalid utf-8": (
            b"pw-email=%FF%FE%ED%A0%80&pw-password=\xff\xfe&password1=\xed\xa0\x80",
            form,
        ),
        "too many fields": ("&".join(f"f{i}=1" for i in range(limit + 1)).encode(), form),
        "too large": (b"receipt=" + b"x" * (size + 1), form),
        "json": (b'{"pw-email": "a@example.org"}', "application/json"),
        "broken multipart": (
            b"--x\r\nContent-Disposition: form-data\r\n\r\n",
            "multipart/form-data; boundary=x",
        ),
        "multipart without boundary": (b"a=1", "multipart/form-data"),
    }


def test_malformed_form_bodies_are_refused_cleanly(client: Client, speaker, invitation) -> None:
    run = FormPass(client)
    url, _ = invitation
    anonymous = [
        reverse("speakers:sign-in"),
        reverse("speakers:request-link"),
        reverse("speakers:verify"),
        url + "age/",
    ]
    for name, (body, content_type) in _raw_bodies().items():
        for target in anonymous:
            # Django's own 400 page (a body it cannot read) is a clean refusal too.
            run.request("post", target, name, body, content_type=content_type, says_why=False)
            assert not _signed_in(client)
    sign_in(client, speaker)
    signed_in = [
        reverse("speakers:give", args=["likeness"]),
        reverse("speakers:password"),
        reverse("speakers:erasure"),
    ]
    for name, (body, content_type) in _raw_bodies().items():
        for target in signed_in:
            run.request("post", target, name, body, content_type=content_type, says_why=False)
    run.findings.check()


def test_forms_without_a_csrf_token_are_refused(speaker, invitation) -> None:
    strict = Client(enforce_csrf_checks=True)
    run = FormPass(strict)
    url, participant = invitation
    notice = current_notice(speaker=participant.speaker, purpose="recording")
    posts = {
        reverse("speakers:sign-in"): {"pw-email": speaker.email, "pw-password": PASSWORD},
        url + "age/": {"date_of_birth": "1990-01-01"},
        url + "consent/recording/": {"notice": str(notice.public_id)},
    }
    for target, data in posts.items():
        for name, token in {"none": None, "forged": "x" * 64}.items():
            payload = {**data, **({"csrfmiddlewaretoken": token} if token else {})}
            answer = run.request("post", target, f"csrf {name}", payload)
            if answer is not None and answer.status_code != 403:
                run.findings.add(f"{target} csrf {name}", f"answered {answer.status_code}")
    assert not _signed_in(strict)
    run.findings.check()


# --- Staff admin ---------------------------------------------------------------------


def _staff(client: Client, role: str | None) -> User:
    user = User.objects.create_user(f"staff-{uuid.uuid4().hex[:8]}", is_staff=True)
    if role is None:
        user.is_superuser = True
        user.save(update_fields=["is_superuser"])
    else:
        user.groups.add(Group.objects.get(name=role))
    user = User.objects.get(pk=user.pk)
    verified_login(client, user)
    return user


PUBLISH_TEXT = {
    "purpose": "training",
    "jurisdiction": "US",
    "language": "en",
    "title": "Training consent",
    "body": "We ask for your training consent.",
    "allows": "Training.",
    "does_not_allow": "Anything else.",
    "retention_schedule": "",
}
FREE_TEXT = {"title", "body", "allows", "does_not_allow", "retention_schedule"}


def test_staff_forms_refuse_hostile_input(client: Client, notices) -> None:
    """Contact reveal (a reason), notice publishing and the compliance report. Free text
    gets every string, a choice or a date one of each kind."""
    _staff(client, "Compliance officer")
    run = FormPass(client)
    speaker = SpeakerFactory()
    reveal = reverse("admin:registry_speaker_change", args=[speaker.pk])
    publish = reverse("admin:consent_consentnotice_publish")
    report = reverse("admin:compliance_report")
    for name, value in HOSTILE_STRINGS.items():
        # A reason is free text (10 to 500 characters), kept in the access log.
        admitted = name not in ("nul", "very_long") and len(value.strip()) >= 10
        run.request("post", reveal, f"reason={name}", {"reason": value}, must_refuse=not admitted)
    # A notice's text is free (its rendering is test_escaping.py's): one string of each
    # kind in each text field, and in each field that admits only some values.
    for name, value in HOSTILE_SAMPLE.items():
        for field in FREE_TEXT:
            admitted = name != "nul" and (field != "title" or len(value) <= 200)
            data = {**PUBLISH_TEXT, field: value, "_publish": "1", "expected_version": "2"}
            run.request("post", publish, f"{field}={name}", data, must_refuse=not admitted)
        for field in set(PUBLISH_TEXT) - FREE_TEXT:
            data = {**PUBLISH_TEXT, field: value, "_publish": "1", "expected_version": "2"}
            run.request("post", publish, f"{field}={name}", data)
        for field in ("start", "end", "jurisdiction"):
            data = {"start": "2026-01-01", "end": "2026-01-31", "jurisdiction": "", field: value}
            run.request("post", report, f"{field}={name}", data)
    # A preview writes nothing, whatever its text.
    preview = {**PUBLISH_TEXT, "body": HOSTILE_STRINGS["script"]}
    run.request("post", publish, "preview", preview, must_refuse=False, may_write=False)
    run.request("get", reverse("admin:consent_chainverification_verify"), "verify by GET")
    run.request(
        "get", f"{publish}?from={quote(HOSTILE_SAMPLE['or_true'])}", "from=sql", must_refuse=False
    )
    run.findings.check()


def test_staff_pages_refuse_roles_without_the_permission(client: Client, notices) -> None:
    """Support and data stewards may not read contact details, publish a notice, make a
    report, verify the chain or issue a token: 403, and nothing is written."""
    speaker = SpeakerFactory()
    posts = {
        reverse("admin:registry_speaker_change", args=[speaker.pk]): {
            "reason": "The speaker asked for a call back."
        },
        reverse("admin:consent_consentnotice_publish"): {
            **PUBLISH_TEXT,
            "_publish": "1",
            "expected_version": "2",
        },
        reverse("admin:compliance_report"): {"start": "2026-01-01", "end": "2026-01-31"},
        reverse("admin:consent_chainverification_verify"): {},
        reverse("admin:registry_apitoken_add"): TOKEN_FORM,
    }
    for role in ("Support", "Data steward"):
        _staff(client, role)
        run = FormPass(client)
        for url, data in posts.items():
            answer = run.request("post", url, role, data)
            if answer is not None and answer.status_code != 403:
                run.findings.add(f"{role} {url}", f"answered {answer.status_code}")
        run.findings.check()


TOKEN_FORM = {
    "name": "pipeline",
    "kind": "collector",
    "scopes": ["consent:write"],
    "licensee": "",
    "lifetime_days": "90",
}


def test_token_issue_form_refuses_hostile_input(client: Client) -> None:
    _staff(client, None)
    run = FormPass(client)
    add = reverse("admin:registry_apitoken_add")
    licensee = LicenseeFactory()
    for name, value in HOSTILE_STRINGS.items():
        admitted = name not in ("nul", "very_long") and value.strip() != ""
        run.request(
            "post", add, f"name={name}", {**TOKEN_FORM, "name": value}, must_refuse=not admitted
        )
    for name, value in HOSTILE_SAMPLE.items():
        for field in set(TOKEN_FORM) - {"name"}:
            run.request("post", add, f"{field}={name}", {**TOKEN_FORM, field: value})
    for name, data in {
        "licensee token without licensee": {
            **TOKEN_FORM,
            "kind": "licensee",
            "scopes": ["datasets:read"],
        },
        "collector token with a licensee": {**TOKEN_FORM, "licensee": str(licensee.pk)},
        "scope of another kind": {**TOKEN_FORM, "scopes": ["staff:read"]},
        "lifetime 0": {**TOKEN_FORM, "lifetime_days": "0"},
        "lifetime 10**30": {**TOKEN_FORM, "lifetime_days": "1" + "0" * 30},
    }.items():
        run.request("post", add, name, data)
    run.findings.check()


def _changelists() -> list[str]:
    urls = []
    for model in admin.site._registry:
        try:
            urls.append(
                reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
            )
        except NoReverseMatch:
            continue
    return urls


ADMIN_SEARCHES = {
    "sql": HOSTILE_SAMPLE["or_true"],
    "unicode": HOSTILE_SAMPLE["unicode_mix"],
    "an email": "a'--@example.org",
}


def test_admin_searches_and_filters_never_break(client: Client, notices) -> None:
    """Every list of the admin with a hostile search, filter, order and page, and a NUL
    in the query string (refused: PostgreSQL text cannot hold one); the CSV exports too."""
    _staff(client, None)
    SpeakerFactory()
    run = FormPass(client)
    exports = [
        reverse("admin:consent_consentevent_export"),
        reverse("admin:consent_consent_export"),
    ]
    sql = quote(HOSTILE_SAMPLE["or_true"])
    for url in [*_changelists(), *exports]:
        for name, value in ADMIN_SEARCHES.items():
            run.request("get", f"{url}?q={quote(value)}", f"q={name}", must_refuse=False)
        query = f"o={sql}&p={sql}&status__exact={sql}&purpose__exact={sql}"
        run.request("get", f"{url}?{query}", "filters=sql", must_refuse=False)
        nul = run.request("get", f"{url}?status__exact=a%00b", "filter=nul")
        if nul is not None and nul.status_code != 400:
            run.findings.add(f"{url} filter=nul", f"answered {nul.status_code}")
    run.findings.check()
