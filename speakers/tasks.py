"""Sign-in link emails, sent by the worker so the web request never waits on SMTP."""

from __future__ import annotations

import logging
import random
import smtplib
from typing import Any

from celery import shared_task

from speakers import services

logger = logging.getLogger(__name__)

MAX_RETRIES = 5


@shared_task(name="speakers.tasks.email_sign_in_link", bind=True, acks_late=True)
def email_sign_in_link(self: Any, email_digest: str) -> int | None:
    """Takes the address's blind-index digest, never the address. A retry issues a fresh
    link (the unsent one simply expires), so a retry never re-sends an old secret.
    SMTP errors can carry the address, so only their type is logged."""
    try:
        link = services.email_sign_in_link(email_digest=email_digest)
    except (smtplib.SMTPException, OSError) as exc:
        delay = min(300, 5 * 2**self.request.retries) * random.uniform(0.5, 1.0)  # noqa: S311
        logger.warning("sign-in email failed (%s); retry in %.0f s", type(exc).__name__, delay)
        if self.request.retries >= MAX_RETRIES:
            logger.error("sign-in email given up after %d attempts", MAX_RETRIES + 1)
            return None
        raise self.retry(countdown=delay, exc=None, max_retries=MAX_RETRIES) from None
    return link.pk if link else None
