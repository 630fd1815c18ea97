"""Staff see every propagation and target, and retry failed or dead ones; nothing else
can be changed from the admin."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse

from propagation.models import Propagation, PropagationTarget, TargetKind, TargetStatus
from tests.admin_login import verified_login
from tests.consent.conftest import withdraw
from tests.propagation.conftest import Receiver, World, deliver_all

pytestmark = pytest.mark.django_db


def _staff(*perms: str) -> User:
    user = User.objects.create_user("staff", password="x", is_staff=True)
    for codename in perms:
        user.user_permissions.add(Permission.objects.get(codename=codename))
    return user


def _dead_license_target(world: World, receiver: Receiver, settings) -> PropagationTarget:
    settings.PROPAGATION_MAX_ATTEMPTS = 1
    receiver.default_status = 500
    withdraw(world.a, "training")
    deliver_all(rounds=1)
    target = PropagationTarget.objects.get(kind=TargetKind.LICENSE)
    assert target.status == TargetStatus.DEAD
    return target


def test_the_propagation_list_shows_how_far_each_one_reached(
    client, admin_user, world: World
) -> None:
    withdraw(world.a, "training")
    deliver_all()
    verified_login(client, admin_user)
    page = client.get(reverse("admin:propagation_propagation_changelist")).content.decode()
    assert "3 of 3" in page
    propagation = Propagation.objects.get()
    detail = client.get(reverse("admin:propagation_propagation_change", args=[propagation.pk]))
    assert detail.status_code == 200
    # Read-only: no save button for anyone, including a superuser.
    assert 'name="_save"' not in detail.content.decode()


def test_staff_with_the_retry_permission_can_retry_a_dead_target(
    client, world: World, receiver: Receiver, settings
) -> None:
    target = _dead_license_target(world, receiver, settings)
    verified_login(client, _staff("view_propagationtarget", "retry_propagationtarget"))
    url = reverse("admin:propagation_propagationtarget_changelist")
    page = client.get(url + "?status__exact=dead").content.decode()
    assert str(target.idempotency_key) in page
    response = client.post(url, {"action": "retry", "_selected_action": [target.pk]}, follow=True)
    assert "1 target(s) queued again" in response.content.decode()
    target.refresh_from_db()
    assert target.status == TargetStatus.PENDING
    assert target.attempts == 0


def test_staff_without_the_retry_permission_cannot_retry(
    client, world: World, receiver: Receiver, settings
) -> None:
    target = _dead_license_target(world, receiver, settings)
    verified_login(client, _staff("view_propagationtarget"))
    url = reverse("admin:propagation_propagationtarget_changelist")
    assert 'value="retry"' not in client.get(url).content.decode()
    client.post(url, {"action": "retry", "_selected_action": [target.pk]})
    target.refresh_from_db()
    assert target.status == TargetStatus.DEAD


def test_the_target_list_leads_with_the_backlog_and_its_oldest_target(
    client, admin_user, world: World, receiver: Receiver, settings
) -> None:
    _dead_license_target(world, receiver, settings)
    dead = PropagationTarget.objects.filter(status=TargetStatus.DEAD).count()
    unreached = PropagationTarget.objects.exclude(
        status__in=[TargetStatus.DELIVERED, TargetStatus.ACKNOWLEDGED]
    )
    oldest = unreached.earliest("created_at", "id")
    verified_login(client, admin_user)
    page = client.get(reverse("admin:propagation_propagationtarget_changelist")).content.decode()
    backlog = page.split('id="backlog"')[1].split("</div>")[0]
    assert dead >= 1
    assert f"<strong>{unreached.count()}</strong> target(s) not reached yet" in backlog
    assert f"<strong>{dead}</strong> dead" in backlog
    assert str(oldest.idempotency_key) in backlog
    # Dead targets stay dead (and counted) until staff retry them.
    deliver_all()
    again = client.get(reverse("admin:propagation_propagationtarget_changelist")).content.decode()
    assert f"<strong>{dead}</strong> dead" in again
