"""A withdrawal seen as people see it: the speaker withdraws in the portal and watches it
reach the release, the licensee and the model; the public release page shows the
signed errata. Tasks run in-process (eager) here; tests/propagation/test_worker.py runs
the same delivery in real worker processes."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Page, expect

from datasetcards.models import ReleaseStatus
from propagation.models import PropagationTarget, TargetStatus
from speakers.services import ensure_account, set_speaker_password
from tests.consent.conftest import notices  # noqa: F401 - fixture
from tests.propagation.conftest import Receiver, audio_dir, make_world, receiver  # noqa: F401

pytestmark = [
    pytest.mark.browser,
    pytest.mark.usefixtures("eager_tasks"),
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_a_withdrawal_reaches_release_licensee_and_model_and_the_pages_say_so(
    page: Page,
    live_server,
    notices,  # noqa: F811 - the imported fixture
    receiver: Receiver,  # noqa: F811
    audio_dir,  # noqa: F811
    shoot,
) -> None:
    world = make_world(receiver)
    email = world.a.email
    set_speaker_password(account=ensure_account(speaker=world.a), password="a long pass phrase 7")
    page.goto(live_server.url + "/signin/")
    page.fill("#id_pw-email", email)
    page.fill("#id_pw-password", "a long pass phrase 7")
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.locator("h1")).to_have_text("My consents")

    page.locator("#consent-training").get_by_role(
        "link", name="Withdraw consent: Training our models"
    ).click()
    shoot("withdraw-confirm")
    page.get_by_role("button", name="Withdraw now").click()
    expect(page.locator("#consent-training .state")).to_have_text("Withdrawn")

    # Delivered at commit (eager): release, licensee and model reached.
    targets = PropagationTarget.objects.all()
    assert {t.status for t in targets} <= {TargetStatus.DELIVERED, TargetStatus.ACKNOWLEDGED}
    page.goto(live_server.url + "/me/recordings/")
    expect(page.locator("body")).to_contain_text("reached 3 of 3")
    shoot("recordings-reached")

    world.release.refresh_from_db()
    assert world.release.status == ReleaseStatus.TAINTED
    page.goto(live_server.url + f"/datasets/{world.training.slug}/{world.release.version}/")
    expect(page.locator("h2", has_text="Errata")).to_be_visible()
    expect(page.locator("body")).to_contain_text("withdrawal of training consent")
    shoot("release-errata")
    errata = json.loads(
        page.request.get(
            live_server.url + f"/datasets/{world.training.slug}/{world.release.version}/errata.json"
        ).text()
    )
    assert len(errata["errata"][0]["statement"]["recording_ids"]) == len(world.calls)
    assert len(receiver.verified()) == 2  # license + model owner
