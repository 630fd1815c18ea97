"""What speakers and staff enter is shown as text, never run: a notice published through
the admin's form, a speaker's name, phone and typed signature, a reason for reading
contact details, licensee, model, token, dataset and recording names, each holding
``<script>``, an attribute break and a ``javascript:`` URL, on every page that shows them
(the speaker portal, the invitation page, the public dataset pages, the admin) and in
the PDFs (no script, no link, the payload as plain text)."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth.models import User
from django.test import Client
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.html import escape
from pypdf import PdfReader

from consent.models import ConsentEvent, ConsentNotice, Purpose
from consent.services import create_recording_session, invitation_token
from datasetcards import services as datasets
from registry import services as catalogue
from registry.models import AccessLogEntry, ApiToken, Speaker
from speakers import selectors as portal
from tests.admin_login import verified_login
from tests.consent.conftest import give_all
from tests.factories import RecordingFactory, SpeakerFactory
from tests.propagation.conftest import built_release
from tests.speakers.conftest import sign_in

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def payload(name: str) -> str:
    """What an attacker would type into ``name``: a script, an attribute break, an
    event handler and a ``javascript:`` URL, tagged so each can be found escaped."""
    return f'<script>alert("{name}")</script>"><img src=x onerror=alert(1)>javascript:alert(1)'


SHORT = '"><svg/onload=alert(1)>'  # for fields of at most 50 characters (a phone)
# Any of these in a page means a value was written out as markup.
RAW = [
    re.compile(r'<script>alert\("'),
    re.compile(r"<img src=x onerror", re.I),
    re.compile(r"<svg/onload", re.I),
    re.compile(r"""(href|src|action)\s*=\s*["']?\s*javascript:""", re.I),
]


def shown_escaped(name: str) -> str:
    return escape(f'<script>alert("{name}")')


@dataclass
class Hostile:
    speaker: Speaker
    speaker_client: Client
    staff_client: Client
    release_url: str
    invitation_url: str
    objects: list[Any] = field(default_factory=list)


NOTICE_TEXT = ("title", "body", "allows", "does_not_allow", "retention_schedule")


def _publish_through_the_form(staff: Client, purpose: str) -> None:
    """A compliance officer publishes version 2 of the US English notice, every text
    field holding a payload."""
    text = {name: payload(f"notice-{name}") for name in NOTICE_TEXT}
    data = {"purpose": purpose, "jurisdiction": "US", "language": "en", **text}
    publish = reverse("admin:consent_consentnotice_publish")
    preview = staff.post(publish, data)
    assert preview.status_code == 200, preview.content[:500]
    version = re.search(rb'name="expected_version" value="(\d+)"', preview.content)
    assert version, "the preview carries the version it would publish"
    answer = staff.post(
        publish, {**data, "_publish": "1", "expected_version": version.group(1).decode()}
    )
    assert answer.status_code == 302, answer.content[:500]


@pytest.fixture
def hostile(notices) -> Hostile:
    staff = Client()
    superuser = User.objects.create_superuser("root", password=None)
    verified_login(staff, superuser)
    for purpose in Purpose.values:
        _publish_through_the_form(staff, purpose)
    speaker = SpeakerFactory(name=payload("speaker-name"), phone=SHORT)
    speaker_client = sign_in(Client(), speaker)
    # Every purpose but likeness, whose page then still asks (and shows the notice).
    for purpose in set(Purpose.values) - {"likeness"}:
        card = portal.consent_card(speaker=speaker, purpose=purpose, language="en")
        if card.notice is None or card.evidence_method is None:
            continue
        form = {"notice": str(card.notice.public_id)}
        if card.written:  # the page has no signature field otherwise (and refuses one)
            form["signed_name"] = payload("signed-name")
        answer = speaker_client.post(reverse("speakers:give", args=[purpose]), form)
        assert answer.status_code == 302, (purpose, answer.content[:500])
    # The contact details, read with a reason.
    reveal = staff.post(
        reverse("admin:registry_speaker_change", args=[speaker.pk]),
        {"reason": payload("reason")},
    )
    assert reveal.status_code == 200, reveal.content[:500]
    assert AccessLogEntry.objects.filter(reason=payload("reason")).exists()
    # A licensee, its model (through the API), a token issued in the admin.
    licensee = catalogue.register_licensee(
        name=payload("licensee"), slug="hostile", contact_email="l@example.org", jurisdiction="US"
    )
    catalogue.register_derived_model(
        licensee=licensee,
        name=payload("model-name"),
        version="1",
        withdrawal_action="retrain",
        description=payload("model-description"),
        contract_reference=payload("contract"),
    )
    token = staff.post(
        reverse("admin:registry_apitoken_add"),
        {
            "name": payload("token"),
            "kind": "collector",
            "scopes": ["consent:write"],
            "licensee": "",
            "lifetime_days": "90",
        },
    )
    assert token.status_code == 302, token.content[:500]
    assert ApiToken.objects.filter(name=payload("token")).exists()
    # A dataset whose every text is hostile, released, with a call of the speaker.
    partner = SpeakerFactory()
    give_all(partner, "recording", "training")
    RecordingFactory(
        speakers=[speaker, partner], external_ref=payload("ref")[:200], recorded_at=timezone.now()
    )
    dataset = datasets.create_dataset(
        slug="hostile",
        name=payload("dataset-name"),
        description=payload("dataset-description"),
        purpose_statement=payload("purpose-statement"),
        intended_purposes=["training"],
        license_spdx="CC-BY-NC-4.0",
        phase_fit=["post"],
        owner=payload("owner"),
        redress_contact="javascript:alert(1)",
        processing_description=payload("processing"),
        isolated_at_source_only=False,
    )
    release = built_release(dataset)
    session = create_recording_session(
        external_ref=payload("session")[:200],
        jurisdiction="US-IL",
        language="en",
        speakers=[SpeakerFactory(), SpeakerFactory()],
    )
    participant = session.participants.get(channel=0)
    assert release.built_at is not None
    return Hostile(
        speaker=speaker,
        speaker_client=speaker_client,
        staff_client=staff,
        release_url=reverse("datasetcards:release", args=[dataset.slug, release.version]),
        invitation_url=reverse("speakers:invitation", args=[invitation_token(participant)]),
    )


def _raw_markup(html: str) -> list[str]:
    return [pattern.pattern for pattern in RAW if pattern.search(html)]


class Pages:
    def __init__(self) -> None:
        self.problems: list[str] = []

    def check(self, client: Client, url: str, *, shows: tuple[str, ...] = ()) -> str:
        answer = client.get(url)
        if answer.status_code != 200:
            self.problems.append(f"{url}: {answer.status_code}")
            return ""
        html = answer.content.decode()
        for pattern in _raw_markup(html):
            self.problems.append(f"{url}: unescaped {pattern}")
        for name in shows:
            if shown_escaped(name) not in html:
                self.problems.append(f"{url}: does not show {name} (escaped)")
        return html

    def done(self) -> None:
        assert not self.problems, "\n".join(self.problems)


def test_the_speaker_portal_and_invitation_page_show_hostile_text_escaped(hostile) -> None:
    pages = Pages()
    speaker = hostile.speaker_client
    for purpose in Purpose.values:
        pages.check(speaker, reverse("speakers:withdraw", args=[purpose]))
    pages.check(
        speaker, reverse("speakers:give", args=["likeness"]), shows=("notice-title", "notice-body")
    )
    for url in ("dashboard", "history", "data", "recordings", "earnings", "password", "erasure"):
        pages.check(speaker, reverse(f"speakers:{url}"))
    pages.check(Client(), hostile.invitation_url, shows=("notice-title", "notice-body"))
    pages.check(
        Client(),
        reverse("speakers:sign-in") + "?next=/me/%22%3E%3Cscript%3Ealert(%22x%22)%3C/script%3E",
    )
    pages.done()


def test_public_dataset_pages_show_hostile_text_escaped(hostile) -> None:
    pages = Pages()
    public = Client()
    pages.check(public, reverse("datasetcards:list"), shows=("dataset-name", "dataset-description"))
    html = pages.check(public, hostile.release_url, shows=("dataset-name", "dataset-description"))
    assert 'href="javascript:' not in html
    pages.done()
    for name, content_type in (
        ("card.json", "application/json"),
        ("README.md", "text/markdown"),
        ("rsl.xml", "application/"),
    ):
        answer = public.get(hostile.release_url + name)
        assert answer.status_code == 200, name
        # Served as data, never as a page a browser would run.
        assert not answer["Content-Type"].startswith("text/html"), (name, answer["Content-Type"])
        assert answer["Content-Type"].startswith(content_type), (name, answer["Content-Type"])


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


def test_every_admin_list_and_the_pages_of_hostile_objects_show_them_escaped(hostile) -> None:
    pages = Pages()
    staff = hostile.staff_client
    for url in _changelists():
        pages.check(staff, url)
    expected = {
        "registry_accesslogentry": ("reason",),
        "registry_licensee": ("licensee",),
        "registry_derivedmodel": ("model-name",),
        "registry_apitoken": ("token",),
        "datasetcards_dataset": ("dataset-name",),
        "consent_consentnotice": ("notice-title",),
        "registry_recording": ("ref",),
    }
    for table, shows in expected.items():
        app, model = table.split("_", 1)
        pages.check(staff, reverse(f"admin:{app}_{model}_changelist"), shows=shows)
    notice = ConsentNotice.objects.filter(title=payload("notice-title")).first()
    pages.check(
        staff,
        reverse("admin:consent_consentnotice_change", args=[notice.pk]),
        shows=("notice-title", "notice-body"),
    )
    pages.check(
        staff,
        reverse("admin:consent_consentnotice_retire", args=[notice.pk]),
        shows=("notice-title",),
    )
    pages.check(staff, reverse("admin:index"))
    pages.check(
        staff,
        reverse("admin:registry_speaker_change", args=[hostile.speaker.pk]),
        shows=("reason",),
    )
    event = ConsentEvent.objects.filter(speaker=hostile.speaker).first()
    pages.check(staff, reverse("admin:consent_consentevent_change", args=[event.pk]))
    issued = ApiToken.objects.get(name=payload("token"))
    pages.check(
        staff, reverse("admin:registry_apitoken_change", args=[issued.pk]), shows=("token",)
    )
    pages.done()


def test_contact_details_and_the_notice_preview_show_hostile_text_escaped(hostile) -> None:
    staff = hostile.staff_client
    revealed = staff.post(
        reverse("admin:registry_speaker_change", args=[hostile.speaker.pk]),
        {"reason": "Speaker asked for a call back."},
    ).content.decode()
    assert not _raw_markup(revealed)
    assert shown_escaped("speaker-name") in revealed
    assert escape(SHORT) in revealed
    text = {name: payload(f"preview-{name}") for name in NOTICE_TEXT}
    preview = staff.post(
        reverse("admin:consent_consentnotice_publish"),
        {"purpose": "training", "jurisdiction": "EU", "language": "de", **text},
    ).content.decode()
    assert not _raw_markup(preview)
    for name in NOTICE_TEXT:
        assert shown_escaped(f"preview-{name}") in preview, name


def _pdf_is_inert(pdf: bytes, *, shows: tuple[str, ...]) -> list[str]:
    """No script, no action, no link; the payload there as plain text."""
    problems = []
    for marker in (b"/JavaScript", b"/JS", b"/Launch", b"/OpenAction", b"/URI", b"/AA"):
        # A PDF name ends at white space or a delimiter: "/AA" must not match the subset
        # prefix of an embedded font ("/AAAAAA+DejaVuSans").
        if re.search(re.escape(marker) + rb"(?=[\s()<>\[\]{}/%]|$)", pdf):
            problems.append(f"holds {marker.decode()}")
    reader = PdfReader(io.BytesIO(pdf))
    text = " ".join(page.extract_text() or "" for page in reader.pages)
    text = re.sub(r"\s+", "", text)
    for name in shows:
        if re.sub(r"\s+", "", f'<script>alert("{name}")') not in text:
            problems.append(f"does not show {name} as text")
    for page in reader.pages:
        if "/Annots" in page:
            problems.append("has annotations")
    return problems


def test_pdfs_show_hostile_text_as_text_and_run_nothing(hostile) -> None:
    event = ConsentEvent.objects.filter(
        speaker=hostile.speaker, notice__title=payload("notice-title")
    ).first()
    assert event is not None
    receipt = hostile.speaker_client.get(reverse("speakers:receipt-pdf", args=[event.public_id]))
    card = Client().get(hostile.release_url + "card.pdf")
    statement = hostile.speaker_client.get(reverse("speakers:statement-pdf"))
    for answer in (receipt, card, statement):
        assert answer.status_code == 200
        assert answer["Content-Type"] == "application/pdf"
    problems = {
        "receipt": _pdf_is_inert(receipt.content, shows=("notice-title",)),
        "card": _pdf_is_inert(card.content, shows=("dataset-name", "dataset-description")),
        "statement": _pdf_is_inert(statement.content, shows=()),
    }
    assert not {k: v for k, v in problems.items() if v}, problems
