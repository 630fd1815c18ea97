"""Notices and jurisdiction rules in the admin: compliance officers publish the next
version of a notice after a preview of who must re-consent, and retire one; nobody
changes a notice's text through any admin URL; rules are read-only, filtered by the date
they are in force."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.contrib.auth.models import Group, User
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from consent import admin_notices
from consent.models import (
    ConsentNotice,
    Jurisdiction,
    JurisdictionRule,
    NoticeStatus,
)
from consent.rules import rules_in_force
from consent.selectors import consents_needing_reconsent
from registry.errors import InvalidInput
from tests.admin_login import verified_login
from tests.consent.conftest import give, withdraw
from tests.factories import SpeakerFactory

pytestmark = pytest.mark.django_db

ROLES = ("Compliance officer", "Data steward", "Support")
PUBLISH = reverse("admin:consent_consentnotice_publish")
NEW_TEXT = {
    "purpose": "training",
    "jurisdiction": "US",
    "language": "en",
    "title": "Training consent, second edition",
    "body": "We now also train on the silences between turns.\n\nYou can withdraw any time.",
    "allows": "Use of your voice, and the pauses in it, for training our models.",
    "does_not_allow": "Selling or licensing your voice to anyone else.",
    "retention_schedule": "",
}


def member(role: str) -> User:
    user = User.objects.create_user(role.lower().replace(" ", "-"), is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    return User.objects.get(pk=user.pk)  # a fresh object: no cached permissions


def signed_in(client: Client, role: str) -> Client:
    verified_login(client, member(role))
    return client


def notices_now() -> list[dict[str, Any]]:
    return list(ConsentNotice.objects.order_by("pk").values())


def messages_of(response: Any) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


@pytest.fixture
def v1(notices) -> ConsentNotice:
    """US/en training notice, served: three speakers gave consent under it, one of whom
    withdrew; a likeness consent (another family) is beside them."""
    speakers = [SpeakerFactory() for _ in range(3)]
    for speaker in speakers:
        give(speaker, "training")
    withdraw(speakers[2], "training")
    give(speakers[0], "likeness")
    notice = notices[("training", "US", "en")]
    notice.refresh_from_db()
    assert notice.first_served_at is not None
    return notice


def test_an_officer_publishes_version_2_after_seeing_who_must_reconsent(client, v1) -> None:
    officer = signed_in(client, "Compliance officer")
    before = ConsentNotice.objects.values().get(pk=v1.pk)

    form = officer.get(f"{PUBLISH}?from={v1.pk}")
    assert form.status_code == 200
    assert form.context["form"].initial["title"] == v1.title  # prefilled from the family

    preview = officer.post(PUBLISH, {**NEW_TEXT, "_preview": "1"})
    assert preview.status_code == 200
    assert not ConsentNotice.objects.filter(version=2, purpose="training").exists()
    upcoming = ConsentNotice(purpose="training", jurisdiction_id="US", language="en", version=2)
    shown = preview.context["reconsent_count"]
    assert shown == consents_needing_reconsent(notice=upcoming).count() == 2
    assert "<strong>2</strong> valid consents" in preview.content.decode()
    assert "Publish version 2" in preview.content.decode()

    published = officer.post(PUBLISH, {**NEW_TEXT, "expected_version": "2", "_publish": "1"})
    v2 = ConsentNotice.objects.get(
        purpose="training", jurisdiction_id="US", language="en", version=2
    )
    assert published.status_code == 302
    assert published.url == reverse("admin:consent_consentnotice_change", args=[v2.pk])
    assert (v2.title, v2.status, v2.body) == (NEW_TEXT["title"], "active", NEW_TEXT["body"])
    assert ConsentNotice.objects.values().get(pk=v1.pk) == before  # previous version stays
    assert consents_needing_reconsent(notice=v2).count() == shown
    assert LogEntry.objects.get(object_id=str(v2.pk)).action_flag == ADDITION
    assert "2 valid consent(s) given under earlier versions" in messages_of(published)[0]


def test_the_new_version_page_lists_who_must_reconsent_by_public_id_only(client, v1) -> None:
    officer = signed_in(client, "Compliance officer")
    officer.post(PUBLISH, {**NEW_TEXT, "expected_version": "2", "_publish": "1"})
    v2 = ConsentNotice.objects.get(purpose="training", jurisdiction_id="US", version=2)

    page = officer.get(reverse("admin:consent_consentnotice_change", args=[v2.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    affected = consents_needing_reconsent(notice=v2).select_related("speaker")
    for consent in affected:
        assert str(consent.speaker.public_id) in html
        assert consent.speaker.email not in html
        assert consent.speaker.name not in html
    assert "Who must be asked again: 2 valid consents" in html
    assert v2.text_sha256 in html
    assert "matches the text above" in html
    assert "Versions of this notice" in html
    assert "v1</a>" in html

    consent_list = officer.get(page.context["consent_list_url"])
    assert consent_list.status_code == 200
    assert {c.pk for c in consent_list.context["cl"].result_list} == {c.pk for c in affected}


def test_the_notice_page_caps_the_list_and_keeps_the_full_count(client, v1, monkeypatch) -> None:
    monkeypatch.setattr(admin_notices, "AFFECTED_SHOWN", 1)
    officer = signed_in(client, "Compliance officer")
    officer.post(PUBLISH, {**NEW_TEXT, "expected_version": "2", "_publish": "1"})
    v2 = ConsentNotice.objects.get(purpose="training", jurisdiction_id="US", version=2)
    page = officer.get(reverse("admin:consent_consentnotice_change", args=[v2.pk]))
    assert len(page.context["affected"]) == 1
    assert "The first 1 are listed here" in page.content.decode()
    assert "Open all 2 in the Consent list" in page.content.decode()


def test_a_preview_gone_stale_publishes_nothing(client, v1) -> None:
    officer = signed_in(client, "Compliance officer")
    # Someone else published version 2 after this officer's preview of "version 2".
    admin_notices.publish_notice(**{**NEW_TEXT, "title": "Another edit"})
    answer = officer.post(PUBLISH, {**NEW_TEXT, "expected_version": "2", "_publish": "1"})
    assert answer.status_code == 200
    assert answer.context["next_version"] == 3
    assert "published meanwhile" in messages_of(answer)[0]
    assert not ConsentNotice.objects.filter(purpose="training", jurisdiction_id="US", version=3)


def test_a_preview_of_unchanged_text_warns_that_it_would_ask_for_nothing(client, v1) -> None:
    officer = signed_in(client, "Compliance officer")
    form = officer.get(f"{PUBLISH}?from={v1.pk}").context["form"]
    preview = officer.post(PUBLISH, {**form.initial, "_preview": "1"})
    assert preview.context["changed"] == []
    assert "The text is identical to version 1" in preview.content.decode()


def test_line_breaks_are_published_the_same_from_any_browser(client, v1) -> None:
    officer = signed_in(client, "Compliance officer")
    body = "First paragraph.\r\n\r\nSecond paragraph."
    officer.post(PUBLISH, {**NEW_TEXT, "body": body, "expected_version": "2", "_publish": "1"})
    v2 = ConsentNotice.objects.get(purpose="training", jurisdiction_id="US", version=2)
    assert v2.body == "First paragraph.\n\nSecond paragraph."


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("title", "", "This field is required."),
        ("title", "   ", "This field is required."),
        ("language", "English", "language must be a BCP 47 tag such as en or ja"),
        (
            "jurisdiction",
            "XX",
            "Select a valid choice. That choice is not one of the available choices.",
        ),
    ],
)
@pytest.mark.parametrize("step", ["_preview", "_publish"])
def test_bad_input_re_renders_the_form_with_the_message_and_writes_nothing(
    client, v1, field: str, value: str, message: str, step: str
) -> None:
    officer = signed_in(client, "Compliance officer")
    before = notices_now()
    answer = officer.post(PUBLISH, {**NEW_TEXT, field: value, "expected_version": "2", step: "1"})
    assert answer.status_code == 200
    assert answer.templates[0].name == "admin/consent/consentnotice/publish.html"
    assert message in answer.context["form"].errors[field]
    assert "Please correct the error below." in answer.content.decode()
    assert notices_now() == before
    assert not LogEntry.objects.exists()


def test_a_refusal_of_the_service_shows_on_its_field(client, v1, monkeypatch) -> None:
    def refuse(**_: Any) -> ConsentNotice:
        raise InvalidInput("body must name the controller", field="body")

    monkeypatch.setattr(admin_notices, "publish_notice", refuse)
    officer = signed_in(client, "Compliance officer")
    answer = officer.post(PUBLISH, {**NEW_TEXT, "expected_version": "2", "_publish": "1"})
    assert answer.status_code == 200
    assert answer.context["form"].errors["body"] == ["body must name the controller"]
    assert not LogEntry.objects.exists()


@pytest.mark.parametrize("who", ["Compliance officer", "superuser"])
def test_a_served_notice_cannot_be_changed_through_any_admin_url(client, v1, who: str) -> None:
    user = (
        User.objects.create_superuser("root", password="x") if who == "superuser" else member(who)
    )
    verified_login(client, user)
    before = notices_now()
    change = reverse("admin:consent_consentnotice_change", args=[v1.pk])
    page = client.get(change)
    assert page.status_code == 200  # read-only
    assert "Yes: served since" in page.content.decode()
    assert 'name="_save"' not in page.content.decode()
    assert client.post(change, {**NEW_TEXT, "_save": "Save"}).status_code == 403
    delete = reverse("admin:consent_consentnotice_delete", args=[v1.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    add = reverse("admin:consent_consentnotice_add")
    assert client.get(add).status_code == 403
    assert client.post(add, NEW_TEXT).status_code == 403
    changelist = reverse("admin:consent_consentnotice_changelist")
    bulk_delete = {"action": "delete_selected", "_selected_action": [v1.pk], "post": "yes"}
    client.post(changelist, bulk_delete)
    assert notices_now() == before


def test_an_officer_retires_a_notice_after_a_confirmation(client, v1) -> None:
    officer = signed_in(client, "Compliance officer")
    retire = reverse("admin:consent_consentnotice_retire", args=[v1.pk])
    page = officer.get(retire)
    assert page.status_code == 200
    html = page.content.decode()
    assert "2 valid consents given under it stand" in html
    assert "No other version of this notice is active." in html
    assert ConsentNotice.objects.get(pk=v1.pk).status == NoticeStatus.ACTIVE  # GET: nothing

    done = officer.post(retire)
    assert done.status_code == 302
    assert ConsentNotice.objects.get(pk=v1.pk).status == NoticeStatus.RETIRED
    assert LogEntry.objects.get(object_id=str(v1.pk)).action_flag == CHANGE
    assert messages_of(done) == [f"{v1} retired."]


def test_retiring_the_newest_version_says_the_previous_one_is_served_again(client, v1) -> None:
    v2 = admin_notices.publish_notice(**NEW_TEXT)
    officer = signed_in(client, "Compliance officer")
    page = officer.get(reverse("admin:consent_consentnotice_retire", args=[v2.pk]))
    assert "Speakers will be served" in page.content.decode()
    assert page.context["served_after"] == v1


def test_retiring_a_retired_notice_is_refused_as_nothing_to_do(client, v1) -> None:
    officer = signed_in(client, "Compliance officer")
    retire = reverse("admin:consent_consentnotice_retire", args=[v1.pk])
    officer.post(retire, follow=True)  # shows (and so clears) the success message
    before = notices_now()
    again = officer.post(retire)
    assert again.status_code == 302
    assert messages_of(again) == [f"{v1} is already retired: nothing to do"]
    shown = officer.get(retire)
    assert shown.status_code == 302
    assert "already retired" in messages_of(shown)[0]
    assert notices_now() == before
    assert LogEntry.objects.count() == 1
    page = officer.get(reverse("admin:consent_consentnotice_change", args=[v1.pk]))
    assert "Retire this version" not in page.content.decode()


def test_retiring_a_notice_that_does_not_exist_is_not_found(client, v1) -> None:
    officer = signed_in(client, "Compliance officer")
    missing = reverse("admin:consent_consentnotice_retire", args=[v1.pk + 10_000])
    assert officer.post(missing).status_code == 404
    assert not LogEntry.objects.exists()


@pytest.mark.parametrize("role", ["Support", "Data steward"])
def test_other_roles_may_neither_publish_nor_retire(client, v1, role: str) -> None:
    staff = signed_in(client, role)
    before = notices_now()
    retire = reverse("admin:consent_consentnotice_retire", args=[v1.pk])
    assert staff.get(PUBLISH).status_code == 403
    assert staff.post(PUBLISH, {**NEW_TEXT, "_preview": "1"}).status_code == 403
    assert (
        staff.post(PUBLISH, {**NEW_TEXT, "expected_version": "2", "_publish": "1"}).status_code
        == 403
    )
    assert staff.get(retire).status_code == 403
    assert staff.post(retire).status_code == 403
    assert notices_now() == before
    assert not LogEntry.objects.exists()


def test_support_reads_notices_without_publish_or_retire_buttons(client, v1) -> None:
    support = signed_in(client, "Support")
    listing = support.get(reverse("admin:consent_consentnotice_changelist"))
    assert listing.status_code == 200
    assert "Publish a new notice version" not in listing.content.decode()
    page = support.get(reverse("admin:consent_consentnotice_change", args=[v1.pk]))
    assert page.status_code == 200
    assert "New version of this notice" not in page.content.decode()
    assert "Retire this version" not in page.content.decode()


@pytest.mark.parametrize(
    ("permission", "officer", "steward", "support"),
    [
        ("consent.publish_notice", True, False, False),
        ("consent.retire_notice", True, False, False),
        ("consent.add_consentnotice", False, False, False),
        ("consent.change_consentnotice", False, False, False),
        ("consent.delete_consentnotice", False, False, False),
    ],
)
def test_only_officers_hold_the_new_permissions(permission, officer, steward, support) -> None:
    for role, allowed in zip(ROLES, (officer, steward, support), strict=True):
        assert member(role).has_perm(permission) is allowed, (role, permission)
        User.objects.all().delete()


# Jurisdiction rules ---------------------------------------------------------------------

RULES = reverse("admin:consent_jurisdictionrule_changelist")


@pytest.fixture
def ended_rule(db) -> JurisdictionRule:
    """A rule in force from 2020 until (not including) 2024-01-01, citing a URL."""
    return JurisdictionRule.objects.create(
        jurisdiction=Jurisdiction.objects.get(code="US-CA"),
        purpose="biometric",
        effective_from=datetime.date(2020, 1, 1),
        effective_to=datetime.date(2024, 1, 1),
        citation="https://leginfo.legislature.ca.gov/example",
        summary="A rule that has ended.",
    )


def in_force(day: datetime.date) -> set[int]:
    """What the one reader of rules (consent.rules) takes as in force on ``day``."""
    at = datetime.datetime.combine(day, datetime.time(12), tzinfo=datetime.UTC)
    codes = Jurisdiction.objects.values_list("code", flat=True)
    purposes = ["recording", "training", "redistribution", "biometric", "likeness"]
    return {
        rule.pk
        for code in codes
        for purpose in purposes
        for rule in rules_in_force(chain=(code,), purpose=purpose, at=at)
    }


def listed(response: Any) -> set[int]:
    return {rule.pk for rule in response.context["cl"].queryset}


@pytest.mark.parametrize(
    "day",
    [
        datetime.date(2023, 12, 31),  # the ended rule's last day
        datetime.date(2024, 1, 1),  # effective_to is excluded
        datetime.date(2025, 6, 1),  # before TRAIGA (2026-01-01)
        datetime.date(2026, 1, 1),  # TRAIGA's first day
    ],
)
def test_the_rules_list_shows_the_rules_in_force_on_a_date(client, ended_rule, day) -> None:
    officer = signed_in(client, "Compliance officer")
    answer = officer.get(RULES, {"in_force_on": day.isoformat()})
    assert answer.status_code == 200
    assert listed(answer) == in_force(day)
    assert (ended_rule.pk in listed(answer)) is (day < ended_rule.effective_to)


def test_the_rules_list_defaults_to_today_and_can_show_every_rule(client, ended_rule) -> None:
    officer = signed_in(client, "Compliance officer")
    today = officer.get(RULES)
    assert listed(today) == in_force(timezone.now().date())
    assert ended_rule.pk not in listed(today)
    assert f'value="{timezone.now().date().isoformat()}"' in today.content.decode()
    every = officer.get(RULES, {"in_force_on": "any"})
    assert listed(every) == set(JurisdictionRule.objects.values_list("pk", flat=True))
    html = every.content.decode()
    assert f'<a href="{ended_rule.citation}" rel="noopener noreferrer">' in html
    assert "740 ILCS 14/15(a)-(b)" in html
    assert "US-IL – Illinois" in html or "US-IL –" in html


def test_a_date_that_is_not_one_is_refused_by_the_rules_list(client) -> None:
    officer = signed_in(client, "Compliance officer")
    answer = officer.get(RULES, {"in_force_on": "yesterday"})
    assert answer.status_code == 302
    assert answer.url.endswith("?e=1")


def test_a_rule_page_shows_its_citation_and_dates_and_nobody_changes_it(client, ended_rule) -> None:
    verified_login(client, User.objects.create_superuser("root", password="x"))
    change = reverse("admin:consent_jurisdictionrule_change", args=[ended_rule.pk])
    page = client.get(change)
    html = page.content.decode()
    assert page.status_code == 200
    assert f'href="{ended_rule.citation}"' in html
    assert "2020-01-01" in html or "Jan. 1, 2020" in html
    assert "US-CA" in html
    before = JurisdictionRule.objects.values().get(pk=ended_rule.pk)
    assert client.post(change, {"summary": "edited"}).status_code == 403
    delete = reverse("admin:consent_jurisdictionrule_delete", args=[ended_rule.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert client.get(reverse("admin:consent_jurisdictionrule_add")).status_code == 403
    assert JurisdictionRule.objects.values().get(pk=ended_rule.pk) == before
