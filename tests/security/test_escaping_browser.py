"""The hostile text of test_escaping.py, opened in a real browser (Debian's chromium):
no page that shows it opens a dialog, so none of it ran. The browser ignores the
Content-Security-Policy here: it would block an inline script anyway, and this test is
about what escaping alone does."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from consent.models import ConsentNotice
from tests.browser.conftest import browser_type_launch_args  # noqa: F401 - chromium
from tests.security.test_escaping import Hostile, payload
from tests.security.test_escaping import hostile as hostile

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def _with_session(context: Any, client: Client, base_url: str) -> None:
    """The browser carries the session the test client signed in with."""
    cookie = client.cookies[next(iter(client.cookies))]
    context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": base_url}])


def _record(dialog: Any, dialogs: list[str]) -> None:
    dialogs.append(dialog.message)
    dialog.dismiss()


def test_no_page_showing_hostile_text_opens_a_dialog(
    browser: Any, live_server: Any, hostile: Hostile
) -> None:
    notice = ConsentNotice.objects.get(title=payload("notice-title"), purpose="likeness")
    visits = {
        "speaker": [
            reverse("speakers:dashboard"),
            reverse("speakers:give", args=["likeness"]),
            reverse("speakers:history"),
        ],
        "staff": [
            reverse("admin:registry_speaker_change", args=[hostile.speaker.pk]),
            reverse("admin:registry_licensee_changelist"),
            reverse("admin:registry_derivedmodel_changelist"),
            reverse("admin:registry_apitoken_changelist"),
            reverse("admin:registry_accesslogentry_changelist"),
            reverse("admin:consent_consentnotice_change", args=[notice.pk]),
        ],
        "public": [
            reverse("datasetcards:list"),
            hostile.release_url,
            hostile.invitation_url,
        ],
    }
    sessions = {"speaker": hostile.speaker_client, "staff": hostile.staff_client, "public": None}
    dialogs: list[str] = []
    for who, paths in visits.items():
        context = browser.new_context(bypass_csp=True)
        if sessions[who] is not None:
            _with_session(context, sessions[who], live_server.url)
        page = context.new_page()
        page.on("dialog", lambda dialog: _record(dialog, dialogs))
        for path in paths:
            answer = page.goto(live_server.url + path)
            assert answer is not None, (who, path)
            assert answer.status == 200, (who, path)
            page.wait_for_load_state("load")
        context.close()
    assert dialogs == []
