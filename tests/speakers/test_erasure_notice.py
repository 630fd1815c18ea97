"""The partner of an erased participant is told in their portal why a shared call
left (without naming anyone), and their earnings are not touched; a biometric
withdrawal's confirmation says the voiceprint is destroyed, and by when."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from compensation import services as compensation
from compensation.models import LedgerEntry
from consent.services.biometrics import destruction_deadline, enroll_voiceprint
from propagation.models import PropagationTarget, TargetKind
from tests.consent.conftest import give, signed
from tests.factories import SpeakerFactory
from tests.propagation.conftest import audio_dir, deliver_all, receiver  # noqa: F401
from tests.propagation.test_erasure_partner import (  # noqa: F401 - fixtures
    SharedRoom,
    _erase,
    early_notices,
    room,
)
from tests.speakers.conftest import sign_in

pytestmark = pytest.mark.django_db

REMOVED_FOR_ERASURE = "Another participant in this call exercised their right to erasure."
KEPT = "What you earned for this call is kept."


def _recordings_page(client) -> str:
    return client.get(reverse("speakers:recordings")).content.decode()


def test_the_partner_sees_the_shared_call_removed_for_another_participants_erasure(
    client,
    room: SharedRoom,  # noqa: F811 - the imported fixture
) -> None:
    _erase(room.a)
    sign_in(client, room.b)
    pending = _recordings_page(client)
    today = timezone.now().date().isoformat()
    assert f"Being removed since {today}." in pending
    deliver_all()
    page = _recordings_page(client)
    assert page.count(REMOVED_FOR_ERASURE) == 1  # the shared call only, not the isolated one
    assert f"Removed on {today}." in page
    assert KEPT in page
    # Nobody is named: neither the erased speaker's id nor anything of theirs.
    assert str(room.a.public_id) not in page
    detail = client.get(reverse("speakers:recording", args=[room.shared.public_id]))
    text = detail.content.decode()
    assert REMOVED_FOR_ERASURE in text
    position = room.track(room.shared, room.a).channel + 1
    assert f"Participant {position} exercised their right to erasure on {today}." in text
    isolated = client.get(reverse("speakers:recording", args=[room.isolated.public_id]))
    assert REMOVED_FOR_ERASURE not in isolated.content.decode()


def test_the_partner_is_told_when_a_shared_call_leaves_for_a_recording_withdrawal(
    client,
    room: SharedRoom,  # noqa: F811 - the imported fixture
) -> None:
    from tests.consent.conftest import withdraw

    withdraw(room.a, "recording")
    deliver_all()
    page = _recordings_page(sign_in(client, room.b))
    assert "Another participant in this call withdrew their consent to being recorded." in page
    assert REMOVED_FOR_ERASURE not in page


def test_the_partners_earnings_page_still_shows_what_the_shared_call_earned(
    client,
    room: SharedRoom,  # noqa: F811 - the imported fixture
) -> None:
    compensation.accrue_earnings()
    before = list(LedgerEntry.objects.filter(speaker=room.b).values_list("pk", "amount"))
    _erase(room.a)
    deliver_all()
    compensation.accrue_earnings()
    assert list(LedgerEntry.objects.filter(speaker=room.b).values_list("pk", "amount")) == before
    page = sign_in(client, room.b).get(reverse("speakers:earnings")).content.decode()
    assert "10.00" in page  # two ten-minute calls at 30 an hour, nothing clawed back


def test_the_biometric_withdrawal_confirmation_says_the_voiceprint_is_destroyed_and_by_when(
    client,
    notices,
    audio_dir,  # noqa: F811 - the imported fixture
) -> None:
    speaker = SpeakerFactory()
    give(speaker, "biometric", evidence=signed())
    enroll_voiceprint(speaker=speaker, template=b"template")
    page = sign_in(client, speaker).get(reverse("speakers:withdraw", args=["biometric"]))
    text = page.content.decode()
    by = destruction_deadline(withdrawn_at=timezone.now())
    assert "Your voiceprint is destroyed" in text
    assert f"is complete by {by:%Y-%m-%d} " in text
    assert "It cannot be recovered." in text
    response = client.post(reverse("speakers:withdraw", args=["biometric"]), follow=True)
    assert response.redirect_chain[-1][0] == reverse("speakers:dashboard")
    # The confirmation after the act repeats the promise with its deadline.
    confirmation = response.content.decode()
    assert "Your voiceprint is being destroyed and is gone by" in confirmation
    assert f"{by:%Y-%m-%d}" in confirmation
    # What the page promised is planned: a destruction target for the template, and the
    # template is due for the retention job from the withdrawal on.
    target = PropagationTarget.objects.get(kind=TargetKind.VOICEPRINT)
    assert target.voiceprint is not None
    assert target.voiceprint.speaker_id == speaker.pk
    assert target.voiceprint.retention_until <= timezone.now()
    assert target.voiceprint.purpose_met_at is not None


def test_a_withdrawal_of_another_purpose_says_nothing_of_voiceprints(
    client,
    notices,
    audio_dir,  # noqa: F811 - the imported fixture
) -> None:
    speaker = SpeakerFactory()
    give(speaker, "training")
    text = sign_in(client, speaker).get(reverse("speakers:withdraw", args=["training"]))
    assert "voiceprint" not in text.content.decode().lower()


def test_without_a_voiceprint_the_confirmation_says_there_is_none_to_destroy(
    client, notices
) -> None:
    speaker = SpeakerFactory()
    give(speaker, "biometric", evidence=signed())
    text = sign_in(client, speaker).get(reverse("speakers:withdraw", args=["biometric"]))
    assert "We hold no voiceprint of yours, so there is none to destroy." in text.content.decode()


def test_the_compliance_admin_file_of_the_partner_shows_the_removed_channel(
    client,
    room: SharedRoom,  # noqa: F811 - the imported fixture
) -> None:
    from django.contrib.auth.models import Group, User

    from tests.admin_login import verified_login

    _erase(room.a)
    deliver_all()
    officer = User.objects.create_user("officer", is_staff=True)
    officer.groups.add(Group.objects.get(name="Compliance officer"))
    verified_login(client, officer)
    page = client.get(reverse("admin:registry_speaker_change", args=[room.b.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert (
        html.count("another participant&#x27;s erasure")
        + html.count("another participant's erasure")
        == 1
    )
    assert "call not isolated at source (earnings kept)" in html


def test_an_erasure_asked_in_the_portal_destroys_the_partner_channel_too(
    client,
    room: SharedRoom,  # noqa: F811 - the imported fixture
    audio_dir,  # noqa: F811 - the imported fixture
) -> None:
    page = sign_in(client, room.a).get(reverse("speakers:erasure")).content.decode()
    assert "their tracks carry your voice too and are deleted as well" in page
    partner = room.track(room.shared, room.b)
    name = partner.audio_name
    response = client.post(reverse("speakers:erasure"), {"understood": "on"})
    assert response.status_code == 302
    deliver_all()
    assert not (audio_dir / name).exists()
    partner.refresh_from_db()
    assert partner.audio_name == ""
    assert partner.tombstone.verified_absent
    # The isolated call's partner channel stays.
    assert (audio_dir / room.track(room.isolated, room.b).audio_name).exists()
