"""Compliance officers are emailed when a withdrawal target goes dead and when notices
are overdue for acknowledgement: once, after commit, with ids and no personal data."""

from __future__ import annotations

import datetime

import pytest
from django.contrib.auth.models import Group, User
from django.core import mail

from propagation import services as propagation
from propagation.models import PropagationTarget, TargetKind
from tests.consent.conftest import withdraw
from tests.propagation.conftest import Receiver, World, deliver_all

pytestmark = pytest.mark.django_db


@pytest.fixture
def officers(settings) -> list[str]:
    settings.COMPLIANCE_ALERT_EMAILS = ["dpo@registry.example"]
    officer = User.objects.create_user("officer", email="officer@registry.example", is_staff=True)
    officer.groups.add(Group.objects.get(name="Compliance officer"))
    User.objects.create_user("steward", email="steward@registry.example", is_staff=True)
    return ["dpo@registry.example", "officer@registry.example"]


def _license_target() -> PropagationTarget:
    return PropagationTarget.objects.get(kind=TargetKind.LICENSE)


def test_a_dead_target_emails_the_compliance_officers_once(
    world: World, receiver: Receiver, settings, officers, django_capture_on_commit_callbacks
) -> None:
    settings.PROPAGATION_MAX_ATTEMPTS = 2
    receiver.default_status = 503
    withdraw(world.a, "training")
    target = _license_target()
    with django_capture_on_commit_callbacks(execute=True):
        propagation.deliver(target_id=target.pk, token="one")
    assert mail.outbox == []  # failed, not dead: retried with backoff
    PropagationTarget.objects.filter(pk=target.pk).update(next_attempt_at=target.created_at)
    with django_capture_on_commit_callbacks(execute=True):
        assert propagation.deliver(target_id=target.pk, token="two").status == "dead"
    (alert,) = mail.outbox
    assert sorted(alert.to) == officers
    assert str(target.idempotency_key) in alert.subject
    assert "HTTP 503" in alert.body
    assert f"/propagationtarget/{target.pk}/change/" in alert.body
    for secret in (world.a.name, world.a.email, world.licensee.contact_email):
        assert secret not in alert.body


def test_overdue_acknowledgements_are_one_digest_per_run(
    world: World, officers, django_capture_on_commit_callbacks
) -> None:
    withdraw(world.a, "training")
    deliver_all()
    target = _license_target()
    later = target.ack_due_at + datetime.timedelta(minutes=1)
    with django_capture_on_commit_callbacks(execute=True):
        assert propagation.flag_overdue_acknowledgements(now=later) == 1
        assert propagation.flag_overdue_acknowledgements(now=later) == 0
    (digest,) = mail.outbox
    assert sorted(digest.to) == officers
    assert "1 withdrawal notice(s) overdue" in digest.subject
    assert str(target.idempotency_key) in digest.body
