"""Staff verify the audit chain from the admin: a Celery task recomputes it, records
progress and the verdict, and the page shows the latest signed checkpoints."""

from __future__ import annotations

import pgtrigger
import pytest
from django.contrib.auth.models import Group, User
from django.db import connection
from django.urls import reverse

from consent import chain
from consent.models import ChainVerification, ConsentEvent
from tests.admin_login import verified_login
from tests.consent.conftest import give
from tests.factories import SpeakerFactory

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def staff(client, role: str):
    user = User.objects.create_user(role.lower().replace(" ", "-"), is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    verified_login(client, user)
    return client


def _events(count: int = 3) -> None:
    for _ in range(count):
        give(SpeakerFactory(), "training")


def test_an_officer_starts_a_verification_that_finds_the_chain_intact(
    client,
    notices,
    eager_tasks,
) -> None:
    _events()
    chain.write_checkpoint()
    officer = staff(client, "Compliance officer")
    page = officer.get(reverse("admin:consent_chainverification_changelist"))
    assert page.status_code == 200
    assert b"Verify the audit chain now" in page.content
    assert b"Latest signed checkpoints" in page.content
    started = officer.post(reverse("admin:consent_chainverification_verify"))
    assert started.status_code == 302
    run = ChainVerification.objects.get()
    assert (run.status, run.requested_by, run.events_checked) == ("ok", "compliance-officer", 3)
    assert (run.checked, run.total, run.percent, run.checkpoints_checked) == (3, 3, 100, 1)
    assert run.head_hash == ConsentEvent.objects.get(seq=3).hash
    listing = officer.get(reverse("admin:consent_chainverification_changelist")).content
    assert b"Chain intact" in listing


def test_a_tampered_event_is_reported_broken_with_where(client, notices, eager_tasks) -> None:
    _events()
    ignore = pgtrigger.ignore("consent.ConsentEvent:consent_event_append_only")
    with ignore, connection.cursor() as cursor:
        cursor.execute("UPDATE consent_consentevent SET purpose = 'likeness' WHERE seq = 2")
    staff(client, "Compliance officer").post(reverse("admin:consent_chainverification_verify"))
    run = ChainVerification.objects.get()
    assert run.status == "broken"
    assert "#2" in run.problems
    assert run.events_checked == 1


@pytest.mark.parametrize("role", ["Support", "Data steward"])
def test_other_roles_cannot_start_one(client, role: str, eager_tasks) -> None:
    answer = staff(client, role).post(reverse("admin:consent_chainverification_verify"))
    assert answer.status_code == 403
    assert not ChainVerification.objects.exists()
