"""Staff roles (groups made by a migration): what each may and may not do. Consent
events, consents and notices can be changed by no role."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User

from tests.admin_login import verified_login
from tests.consent.conftest import notices  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db

ROLES = ("Compliance officer", "Data steward", "Support")
# (permission, officer, steward, support)
MATRIX = [
    ("consent.view_consentevent", True, False, True),
    ("consent.view_consent", True, False, True),
    ("registry.view_speaker", True, False, True),
    ("propagation.view_propagationtarget", True, False, False),
    ("propagation.retry_propagationtarget", True, False, False),
    ("datasetcards.view_dataset", True, True, False),
    ("datasetcards.add_dataset", False, True, False),
    ("datasetcards.change_release", False, True, False),
    ("datasetcards.change_license", False, True, False),
    ("registry.change_licensee", False, True, False),
    ("registry.add_derivedmodel", False, True, False),
    ("compensation.change_rateplan", False, True, False),
    ("speakers.issue_sign_in_link", False, False, True),
    ("datasetcards.delete_dataset", False, False, False),
    ("registry.change_speaker", False, False, False),
    ("registry.view_speaker_contact", True, False, False),
    ("registry.export_records", True, False, False),
    ("registry.view_accesslogentry", True, False, False),
    ("registry.change_accesslogentry", False, False, False),
    ("registry.delete_accesslogentry", False, False, False),
]
NEVER = [
    f"consent.{verb}_{model}"
    for model in ("consentevent", "consent", "consentnotice", "consentreceipt")
    for verb in ("add", "change", "delete")
]


def member(role: str) -> User:
    user = User.objects.create_user(f"{role.lower().replace(' ', '-')}", is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    return User.objects.get(pk=user.pk)  # a fresh object: no cached permissions


def test_the_three_roles_exist() -> None:
    assert set(Group.objects.filter(name__in=ROLES).values_list("name", flat=True)) == set(ROLES)


@pytest.mark.parametrize(("permission", "officer", "steward", "support"), MATRIX)
def test_each_role_may_do_exactly_its_part(permission, officer, steward, support) -> None:
    for role, allowed in zip(ROLES, (officer, steward, support), strict=True):
        assert member(role).has_perm(permission) is allowed, (role, permission)
        User.objects.all().delete()


@pytest.mark.parametrize("role", ROLES)
def test_no_role_may_change_consent_history(role: str) -> None:
    user = member(role)
    assert not [p for p in NEVER if user.has_perm(p)]
    assert not any(
        p.startswith(("consent.change_", "consent.delete_")) for p in user.get_all_permissions()
    )


@pytest.mark.parametrize("who", ["Compliance officer", "superuser"])
def test_nobody_changes_or_deletes_a_consent_event_through_the_admin(
    who: str,
    client,
    notices,  # noqa: F811
) -> None:
    from django.urls import reverse

    from consent.models import ConsentEvent
    from tests.consent.conftest import give
    from tests.factories import SpeakerFactory

    give(SpeakerFactory(), "training")
    event = ConsentEvent.objects.get()
    before = ConsentEvent.objects.values().get()
    user = (
        User.objects.create_superuser("root", password="x") if who == "superuser" else member(who)
    )
    verified_login(client, user)
    change = reverse("admin:consent_consentevent_change", args=[event.pk])
    assert client.get(change).status_code == 200  # read-only view
    assert client.post(change, {"purpose": "likeness"}).status_code == 403
    assert (
        client.post(
            reverse("admin:consent_consentevent_delete", args=[event.pk]), {"post": "yes"}
        ).status_code
        == 403
    )
    assert client.get(reverse("admin:consent_consentevent_add")).status_code == 403
    assert ConsentEvent.objects.values().get() == before
