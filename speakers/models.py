"""Speaker sign-in: an account per speaker and one-time sign-in links.

Speakers sign in as Django users so sessions, CSRF and password hashing are Django's
own; the user row carries no personal data (its username is the speaker's public id,
the email stays encrypted on the speaker). Sign-in links are stored only as a keyed
digest of their secret: the database alone never lets anyone sign in.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from registry.models import Speaker, one_of


class SpeakerAccount(models.Model):
    speaker = models.OneToOneField(Speaker, on_delete=models.PROTECT, related_name="account")
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="speaker_account"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"account of {self.speaker}"


class LinkIssuer(models.TextChoices):
    SPEAKER = "speaker", "Requested by the speaker"
    STAFF = "staff", "Issued by staff (assisted enrolment)"


class SignInLink(models.Model):
    """A one-time, expiring sign-in link. Redeeming it is a conditional UPDATE of
    ``used_at``, so two clicks (or two browsers) never both sign in."""

    speaker = models.ForeignKey(Speaker, on_delete=models.PROTECT, related_name="sign_in_links")
    token_digest = models.CharField(max_length=64, unique=True, editable=False)
    issued_by = models.CharField(max_length=8, choices=LinkIssuer.choices)
    issued_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The staff member who issued it.",
    )
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [
            ("issue_sign_in_link", "Can issue a sign-in link for a speaker (assisted enrolment)")
        ]
        constraints = [
            one_of("issued_by", LinkIssuer, "sign_in_link_issuer_known"),
            models.CheckConstraint(
                condition=Q(expires_at__gt=models.F("created_at")), name="sign_in_link_expires"
            ),
            models.CheckConstraint(
                condition=~Q(issued_by=LinkIssuer.STAFF) | Q(issued_by_user__isnull=False),
                name="sign_in_link_staff_named",
            ),
        ]

    def __str__(self) -> str:
        return f"sign-in link {self.pk} for {self.speaker}"
