"""A staff member lost their authenticator: remove it, so their next sign-in with the
password leads to enrolling a new one. Run by an administrator after checking who asks."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_otp.plugins.otp_totp.models import TOTPDevice


class Command(BaseCommand):
    help = "Remove a staff member's authenticator; they enrol a new one at next sign-in."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")

    def handle(self, *args: Any, username: str, **options: Any) -> None:
        user = get_user_model().objects.filter(username=username, is_staff=True).first()
        if user is None:
            raise CommandError(f"no staff account named {username!r}")
        removed, _ = TOTPDevice.objects.filter(user=user).delete()
        self.stdout.write(
            f"{username}: {removed} authenticator(s) removed; "
            "the next sign-in with the password asks to enrol a new one."
        )
