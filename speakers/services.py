"""Speaker sign-in: accounts, one-time links (by email or issued by staff), passwords."""

from __future__ import annotations

import datetime
import logging
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from registry import pii
from registry.errors import InvalidInput, RegistryError
from registry.models import Speaker
from speakers.models import LinkIssuer, SignInLink, SpeakerAccount
from speakers.selectors import portal_language, speaker_languages

logger = logging.getLogger(__name__)

LINK_DIGEST_DOMAIN = "sign-in-link"


class SignInLinkInvalid(RegistryError):
    code = "sign_in_link_invalid"
    status = 403


def _digest(token: str) -> str:
    return pii.keyed_digest(LINK_DIGEST_DOMAIN, token)


def ensure_account(*, speaker: Speaker) -> SpeakerAccount:
    """The speaker's sign-in account, created on first use. Its user holds no personal
    data and no usable password until the speaker sets one."""
    existing = SpeakerAccount.objects.filter(speaker=speaker).select_related("user").first()
    if existing is not None:
        return existing
    with transaction.atomic():
        locked = Speaker.objects.select_for_update(no_key=True).get(pk=speaker.pk)
        existing = SpeakerAccount.objects.filter(speaker=locked).select_related("user").first()
        if existing is not None:
            return existing
        user = get_user_model()(username=f"speaker-{locked.public_id}", is_active=True)
        user.set_unusable_password()
        user.save()
        return SpeakerAccount.objects.create(speaker=locked, user=user)


@dataclass(frozen=True)
class IssuedLink:
    link: SignInLink
    url: str


def issue_sign_in_link(
    *, speaker: Speaker, issued_by: str, staff_user: User | None = None
) -> IssuedLink:
    """A new one-time link for ``speaker``. The secret exists only in the returned URL
    (the row keeps a keyed digest); it expires after ``SIGN_IN_LINK_MINUTES``."""
    if speaker.erased_at is not None:
        raise InvalidInput("this speaker's data was erased", field="speaker")
    if issued_by not in LinkIssuer.values:
        raise InvalidInput(f"unknown issuer {issued_by!r}", field="issued_by")
    if issued_by == LinkIssuer.STAFF and (staff_user is None or not staff_user.is_staff):
        raise InvalidInput("only staff can issue a link on a speaker's behalf", field="issued_by")
    token = secrets.token_urlsafe(32)
    now = timezone.now()
    link = SignInLink.objects.create(
        speaker=speaker,
        token_digest=_digest(token),
        issued_by=issued_by,
        issued_by_user=staff_user if issued_by == LinkIssuer.STAFF else None,
        created_at=now,
        expires_at=now + datetime.timedelta(minutes=settings.SIGN_IN_LINK_MINUTES),
    )
    url = settings.PUBLIC_BASE_URL + reverse("speakers:redeem-link", args=[token])
    return IssuedLink(link=link, url=url)


def request_sign_in_link(*, email: str) -> None:
    """Queue "email a sign-in link to this address" and return at once.

    The same task is queued for every address, known or not, and only the keyed digest
    of the address travels through the broker; the worker looks the speaker up. So the
    answer, its timing and a failing mail server reveal nothing about who is a speaker,
    and no address reaches the broker or a traceback."""
    from speakers.tasks import email_sign_in_link

    digest = pii.email_blind_index(email)
    transaction.on_commit(lambda: email_sign_in_link.delay(digest))


def email_sign_in_link(*, email_digest: str) -> SignInLink | None:
    """Issue a link for the speaker whose email has this blind-index digest and mail it
    in their language; nothing when no (unerased) speaker has it. Logs ids only."""
    speaker = Speaker.objects.filter(email_blind_index=email_digest, erased_at__isnull=True).first()
    if speaker is None or not speaker.email:
        return None
    issued = issue_sign_in_link(speaker=speaker, issued_by=LinkIssuer.SPEAKER)
    with translation.override(portal_language(speaker=speaker)):
        context = {"url": issued.url, "minutes": settings.SIGN_IN_LINK_MINUTES}
        send_mail(
            subject=render_to_string("speakers/email/sign_in_subject.txt", context).strip(),
            message=render_to_string("speakers/email/sign_in_body.txt", context),
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=[speaker.email],
        )
    logger.info("sign-in link %s emailed to speaker %s", issued.link.pk, speaker.public_id)
    return issued.link


@dataclass(frozen=True)
class Redeemed:
    account: SpeakerAccount
    link: SignInLink


def redeem_sign_in_link(*, token: str) -> Redeemed:
    """Use a link once: a conditional UPDATE claims it, so a second use (or a race
    between two browsers) fails. Refuses unknown, used and expired links alike."""
    if not token or len(token) > 128:
        raise SignInLinkInvalid("this sign-in link is not valid")
    now = timezone.now()
    with transaction.atomic():
        claimed = SignInLink.objects.filter(
            token_digest=_digest(token),
            used_at__isnull=True,
            expires_at__gt=now,
            speaker__erased_at__isnull=True,
        ).update(used_at=now)
        if claimed != 1:
            raise SignInLinkInvalid("this sign-in link is not valid, already used or expired")
        link = SignInLink.objects.select_related("speaker").get(token_digest=_digest(token))
        return Redeemed(account=ensure_account(speaker=link.speaker), link=link)


def set_preferred_language(*, speaker: Speaker, language: str) -> Speaker:
    """Make ``language`` the speaker's own (chosen with the portal's switcher): emails
    and the next sign-in follow it, and the "notice in the speaker's language" rule
    reads it. Only a language offered to the speaker (``speaker_languages``) is
    accepted; a regional tag (de-AT) the choice agrees with is kept."""
    if language not in speaker_languages(speaker=speaker):
        raise InvalidInput(
            f"{language!r} is not offered in {speaker.jurisdiction}", field="language"
        )
    with transaction.atomic(durable=True):
        locked = Speaker.objects.select_for_update(no_key=True).get(pk=speaker.pk)
        if locked.erased_at is not None:
            raise InvalidInput("this speaker's data was erased", field="speaker")
        if locked.preferred_language.split("-")[0] != language:
            locked.preferred_language = language
            locked.save(update_fields=["preferred_language"])
    speaker.preferred_language = locked.preferred_language
    return locked


def set_speaker_password(*, account: SpeakerAccount, password: str) -> None:
    """Let a signed-in speaker sign in with email and password from now on."""
    try:
        validate_password(password, user=account.user)
    except ValidationError as exc:
        raise InvalidInput(" ".join(exc.messages), field="password") from exc
    account.user.set_password(password)
    account.user.save(update_fields=["password"])
