"""Speakers sign in with their email and a password they chose (staff use usernames)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import BaseBackend
from django.contrib.auth.models import AbstractBaseUser, User
from django.http import HttpRequest

from registry.selectors import get_speaker_by_email
from speakers.models import SpeakerAccount


class SpeakerEmailBackend(BaseBackend):
    def authenticate(  # type: ignore[override]
        self,
        request: HttpRequest | None,
        email: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> AbstractBaseUser | None:
        if not email or not password:
            return None
        speaker = get_speaker_by_email(email=email)
        account = (
            SpeakerAccount.objects.select_related("user").filter(speaker=speaker).first()
            if speaker is not None and speaker.erased_at is None
            else None
        )
        if account is None:
            # Spend the same time hashing as a real check, so timing does not reveal
            # whether the address belongs to a speaker.
            get_user_model()().set_password(password)
            return None
        user = account.user
        if user.check_password(password) and user.is_active and not user.is_staff:
            return user
        return None

    def get_user(self, user_id: int) -> User | None:
        return (
            get_user_model()
            .objects.filter(pk=user_id, is_active=True, speaker_account__isnull=False)
            .first()
        )
