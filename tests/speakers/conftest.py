"""Speaker portal test set-up: the consent notices and a signed-in client."""

from __future__ import annotations

import pytest
from django.test import Client

from registry.models import Speaker
from speakers.services import ensure_account
from tests.consent.conftest import give, notices, publish, withdraw

__all__ = ["give", "notices", "publish", "sign_in", "withdraw"]


def sign_in(client: Client, speaker: Speaker) -> Client:
    account = ensure_account(speaker=speaker)
    client.force_login(account.user, backend="speakers.backends.SpeakerEmailBackend")
    return client


@pytest.fixture
def speaker_client(client: Client):
    def make(speaker: Speaker) -> Client:
        return sign_in(client, speaker)

    return make
