"""The compliance officer's walk through the admin, in a real browser: sign in with a
password and a TOTP code, find a speaker by email, read their contact details (logged),
verify the audit chain, retry a dead withdrawal target, download the compliance report.
Tasks run in-process (eager); tests/propagation/test_worker.py covers real workers."""

from __future__ import annotations

import datetime
import re

import pytest
from django.contrib.auth.models import Group, User
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import Page, expect
from pypdf import PdfReader

from consent.models import (
    ChainVerification,
    ConsentAction,
    ConsentEvent,
    VerificationStatus,
)
from propagation.models import PropagationTarget, TargetKind, TargetStatus
from registry.models import AccessAction, AccessLogEntry
from tests.consent.conftest import notices, withdraw  # noqa: F401 - fixture
from tests.propagation.conftest import Receiver, audio_dir, make_world, receiver  # noqa: F401

pytestmark = [
    pytest.mark.browser,
    pytest.mark.usefixtures("eager_tasks"),
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

PASSWORD = "officer pass phrase 12"


def current_code(device: TOTPDevice) -> str:
    device.refresh_from_db()
    value = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits)
    return f"{value:0{device.digits}d}"


def test_an_officer_signs_in_with_totp_finds_a_speaker_verifies_retries_and_reports(
    page: Page,
    live_server,
    notices,  # noqa: F811 - the imported fixture
    receiver: Receiver,  # noqa: F811
    audio_dir,  # noqa: F811
    settings,
    shoot,
) -> None:
    world = make_world(receiver)
    # The licensee's endpoint is down: with one attempt allowed, its target dies.
    settings.PROPAGATION_MAX_ATTEMPTS = 1
    receiver.default_status = 500
    withdraw(world.a, "training")
    dead = PropagationTarget.objects.get(kind=TargetKind.LICENSE)
    assert dead.status == TargetStatus.DEAD

    officer = User.objects.create_user("olivia", password=PASSWORD, is_staff=True)
    officer.groups.add(Group.objects.get(name="Compliance officer"))
    device = TOTPDevice.objects.create(user=officer, name="phone", confirmed=True)

    # Nothing on these pages may break the Content Security Policy.
    blocked: list[str] = []
    page.on(
        "console",
        lambda message: (
            blocked.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )

    # Sign in: password and the authenticator's current code.
    page.goto(live_server.url + "/admin/")
    page.fill("#id_username", "olivia")
    page.fill("#id_password", PASSWORD)
    page.fill("#id_otp_token", current_code(device))
    shoot("sign-in")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#site-name")).to_contain_text("Voice consent registry")
    shoot("admin-index")

    # Find the speaker by email (exact, through the blind index) and open their page.
    page.goto(live_server.url + "/admin/registry/speaker/")
    page.fill("#searchbar", f"  {world.a.email.upper()} ")
    page.locator("#searchbar").press("Enter")
    expect(page.locator("#result_list tbody tr")).to_have_count(1)
    page.locator("#result_list tbody tr a").first.click()
    expect(page.locator("#timeline")).to_contain_text("Withdrew consent")
    expect(page.locator("body")).not_to_contain_text(world.a.email)
    page.fill("#id_reason", "Data subject access request DSAR-2026-31")
    page.get_by_role("button", name="Show contact details").click()
    expect(page.locator("#contact-email")).to_have_text(world.a.email)
    shoot("speaker-page")
    entry = AccessLogEntry.objects.get(action=AccessAction.CONTACT_VIEWED)
    assert (entry.actor, entry.speaker_id) == ("olivia", world.a.pk)

    # Verify the audit chain (a task; eager here) and read the verdict.
    page.goto(live_server.url + "/admin/consent/chainverification/")
    page.get_by_role("button", name="Verify the audit chain now").click()
    expect(page.locator("#result_list")).to_contain_text("Chain intact")
    shoot("chain-verified")
    assert ChainVerification.objects.get().status == VerificationStatus.OK

    # Retry the dead target once the licensee's endpoint is back.
    receiver.default_status = 200
    page.goto(live_server.url + "/admin/propagation/propagationtarget/?status__exact=dead")
    dead_now = PropagationTarget.objects.filter(status=TargetStatus.DEAD).count()
    expect(page.locator("#backlog")).to_contain_text(f"{dead_now} dead")
    page.locator(f"#result_list input[value='{dead.pk}']").check()
    page.select_option("select[name=action]", "retry")
    page.locator("button[name=index]").click()
    expect(page.locator(".messagelist")).to_contain_text("1 target(s) queued again")
    shoot("target-retried")
    dead.refresh_from_db()
    assert dead.status in {TargetStatus.DELIVERED, TargetStatus.ACKNOWLEDGED}
    assert PropagationTarget.objects.filter(status=TargetStatus.DEAD).count() == dead_now - 1

    # Download the compliance report for the period that holds the world from the admin index.
    page.goto(live_server.url + "/admin/")
    page.locator("#compliance-tasks").get_by_role("link", name="Compliance report (PDF)").click()
    # The world's consents were given two hours ago: before 02:00 UTC that is yesterday,
    # and the period must hold them for the report's numbers to be the whole log's.
    since = (timezone.now() - datetime.timedelta(hours=3)).date().isoformat()
    page.fill("input[name=start]", since)
    page.fill("input[name=end]", timezone.now().date().isoformat())
    shoot("report-form")
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Generate the PDF").click()
    download = download_info.value
    assert download.suggested_filename.startswith("compliance-report_")
    # Cells come out one per line, some with a leading space (the embedded font's
    # spacing): compare with white space folded, as tests/propagation does.
    text = re.sub(r"\s+", " ", " ".join(p.extract_text() for p in PdfReader(download.path()).pages))
    # The withdrawal row: the report's numbers are the event log's.
    training = ConsentEvent.objects.filter(purpose="training", jurisdiction=world.a.jurisdiction)
    given = training.filter(action=ConsentAction.GIVE).count()
    withdrawn = training.filter(action=ConsentAction.WITHDRAW).count()
    assert withdrawn == 1
    assert f"{world.a.jurisdiction} training {given} 0 {withdrawn} 0" in text
    assert "Chain intact" in text
    report = AccessLogEntry.objects.get(action=AccessAction.REPORT_GENERATED)
    assert report.actor == "olivia"
    assert blocked == []
