"""What the speaker sees of their withdrawal's journey."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from consent import services as consent
from propagation.models import PropagationTarget
from tests.consent.conftest import signed, withdraw
from tests.propagation.conftest import Receiver, World, deliver_all
from tests.speakers.conftest import sign_in

pytestmark = pytest.mark.django_db


def test_the_recordings_page_says_how_many_places_a_withdrawal_reached(
    client, world: World, receiver: Receiver
) -> None:
    withdraw(world.a, "training")
    page = sign_in(client, world.a).get(reverse("speakers:recordings")).content.decode()
    assert "reached 0 of 3" in page
    receiver.default_status = 503  # the licensee is down: its notices fail for now
    deliver_all(rounds=1)
    page = client.get(reverse("speakers:recordings")).content.decode()
    assert "reached 1 of 3" in page  # the release; licensee and model not yet
    assert "2 being retried" in page
    receiver.default_status = 200
    PropagationTarget.objects.filter(status="failed").update(next_attempt_at=timezone.now())
    deliver_all()
    page = client.get(reverse("speakers:recordings")).content.decode()
    assert "reached 3 of 3" in page
    assert "1 confirmed done" in page


def test_the_data_page_shows_erasure_progress(client, world: World) -> None:
    consent.request_erasure(
        speaker=world.a, evidence=signed(), actor=consent.Actor.of_speaker(world.a)
    )
    sign_in(client, world.a)
    page = client.get(reverse("speakers:data")).content.decode()
    assert "reached 0 of" in page
    deliver_all()
    # Erased: the account no longer opens; the data page sends to sign-in.
    response = client.get(reverse("speakers:data"))
    assert response.status_code == 302
    assert reverse("speakers:sign-in") in response["Location"]
