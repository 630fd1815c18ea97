"""Staff sign in to the admin with a password and a TOTP code. An account without an
authenticator enrols first; nothing of the admin opens on the password alone; wrong
passwords and wrong codes lock the username out from that address (django-axes)."""

from __future__ import annotations

import re
import time

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.models import Group, User
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"


def code(device: TOTPDevice, steps_ahead: int = 0) -> str:
    """The device's current code (or a later one: each code works once)."""
    device.refresh_from_db()
    value = totp(
        device.bin_key,
        step=device.step,
        t0=device.t0 - steps_ahead * device.step,
        digits=device.digits,
        drift=device.drift,
    )
    return f"{value:0{device.digits}d}"


@pytest.fixture
def officer() -> User:
    user = User.objects.create_user("officer", password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name="Compliance officer"))
    return user


@pytest.fixture
def enrolled(officer: User) -> TOTPDevice:
    return TOTPDevice.objects.create(user=officer, name="phone", confirmed=True)


def sign_in(client, token: str = "", password: str = PASSWORD, username: str = "officer"):
    return client.post(
        reverse("admin:login"),
        {"username": username, "password": password, "otp_token": token, "next": "/admin/"},
    )


def test_password_and_current_code_open_the_admin(client, enrolled) -> None:
    response = sign_in(client, code(enrolled))
    assert response.status_code == 302
    assert client.get(reverse("admin:index")).status_code == 200


def test_password_without_code_is_refused_for_an_enrolled_account(client, enrolled) -> None:
    page = sign_in(client, "")
    assert page.status_code == 200
    assert "authentication code is not right" in page.content.decode()
    assert client.get(reverse("admin:index")).status_code == 302


def test_a_wrong_code_is_refused_and_counted_as_a_failure(client, enrolled) -> None:
    right = code(enrolled)
    wrong = f"{(int(right) + 1) % 10**6:06d}"
    page = sign_in(client, wrong)
    assert "authentication code is not right" in page.content.decode()
    assert client.get(reverse("admin:index")).status_code == 302
    assert AccessAttempt.objects.get(username="officer").failures_since_start == 1


def test_a_code_works_only_once(client, enrolled) -> None:
    used = code(enrolled)
    assert sign_in(client, used).status_code == 302
    client.post(reverse("admin:logout"))
    page = sign_in(client, used)
    assert "authentication code is not right" in page.content.decode()


def test_an_account_without_authenticator_must_enrol_before_anything_opens(client, officer) -> None:
    response = sign_in(client, "")
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:two_factor_enrol")
    # The password alone opens nothing: every admin page sends the user back to enrol.
    changelist = client.get(reverse("admin:consent_consentevent_changelist"), follow=True)
    assert changelist.redirect_chain[-1][0] == reverse("admin:two_factor_enrol")
    page = client.get(reverse("admin:two_factor_enrol"))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'src="data:image/svg+xml' in html  # the QR code, inline
    device = TOTPDevice.objects.get(user=officer)
    assert device.confirmed is False
    secret = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', html).group(1).replace(" ", "")
    assert device.config_url.split("secret=")[1].startswith(secret)

    wrong = client.post(reverse("admin:two_factor_enrol"), {"otp_token": "000000"})
    if code(device) != "000000":
        assert wrong.status_code == 400
        device.refresh_from_db()
        assert device.confirmed is False

    time.sleep(1.1)  # a wrong code slows the next try down (django-otp's throttle)
    done = client.post(reverse("admin:two_factor_enrol"), {"otp_token": code(device)})
    assert done.status_code == 302
    assert done["Location"] == reverse("admin:index")
    device.refresh_from_db()
    assert device.confirmed is True
    assert client.get(reverse("admin:consent_consentevent_changelist")).status_code == 200


def test_an_enrolled_account_cannot_enrol_again_to_replace_its_authenticator(
    client, enrolled
) -> None:
    sign_in(client, code(enrolled))
    assert client.get(reverse("admin:two_factor_enrol")).status_code == 302
    assert TOTPDevice.objects.filter(user=enrolled.user).count() == 1


def test_the_enrolment_page_needs_a_password_sign_in(client, officer) -> None:
    response = client.get(reverse("admin:two_factor_enrol"))
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]
    assert not TOTPDevice.objects.exists()


def test_five_wrong_passwords_lock_the_account_out_even_with_the_right_ones(
    client, enrolled
) -> None:
    for _ in range(4):
        assert sign_in(client, code(enrolled), password="wrong").status_code == 200
    assert sign_in(client, code(enrolled), password="wrong").status_code == 429
    locked = sign_in(client, code(enrolled))
    assert locked.status_code == 429
    assert "Sign-in locked" in locked.content.decode()
    assert client.get(reverse("admin:index")).status_code == 302


def test_five_wrong_codes_lock_the_account_out(client, enrolled) -> None:
    for _ in range(5):
        right = code(enrolled)
        sign_in(client, f"{(int(right) + 7) % 10**6:06d}")
    assert sign_in(client, code(enrolled)).status_code == 429


def test_a_success_before_the_limit_clears_the_failures(client, enrolled) -> None:
    for _ in range(4):
        sign_in(client, code(enrolled), password="wrong")
    assert sign_in(client, code(enrolled)).status_code == 302
    client.post(reverse("admin:logout"))
    for _ in range(4):
        sign_in(client, code(enrolled), password="wrong")
    assert sign_in(client, code(enrolled, 1)).status_code == 302


def test_the_lockout_is_per_username(client, enrolled) -> None:
    other = User.objects.create_user("other", password=PASSWORD, is_staff=True)
    other_device = TOTPDevice.objects.create(user=other, name="phone", confirmed=True)
    for _ in range(5):
        sign_in(client, password="wrong")
    assert sign_in(client, code(other_device), username="other").status_code == 302


def test_speaker_sign_in_failures_are_not_counted_by_the_staff_lockout(client) -> None:
    for _ in range(3):
        client.post(
            reverse("speakers:sign-in"),
            {"pw-email": "nobody@example.org", "pw-password": "wrong"},
        )
    assert not AccessAttempt.objects.exists()


def test_reset_two_factor_removes_the_authenticator_so_the_next_sign_in_enrols(
    client, enrolled
) -> None:
    from io import StringIO

    from django.core.management import call_command
    from django.core.management.base import CommandError

    out = StringIO()
    call_command("reset_two_factor", "officer", stdout=out)
    assert "1 authenticator(s) removed" in out.getvalue()
    assert not TOTPDevice.objects.exists()
    response = sign_in(client, "")
    assert response["Location"] == reverse("admin:two_factor_enrol")
    with pytest.raises(CommandError, match="no staff account"):
        call_command("reset_two_factor", "nobody")
