"""Publishing and retiring consent notices (versioned, hashed, immutable once served)."""

from __future__ import annotations

import hashlib
import re

from django.db import transaction

from consent.errors import NoticeNotCurrent
from consent.models import (
    ConsentNotice,
    Jurisdiction,
    NoticeStatus,
)
from consent.services.checks import check_purpose
from registry.errors import InvalidInput
from registry.models import LANGUAGE_RE
from registry.signing import canonical


def notice_text_sha256(
    *,
    title: str,
    body: str,
    allows: str,
    does_not_allow: str,
    retention_schedule: str,
    language: str,
) -> str:
    """sha256 of the canonical JSON of everything the speaker reads."""
    document = {
        "title": title,
        "body": body,
        "allows": allows,
        "doesNotAllow": does_not_allow,
        "retentionSchedule": retention_schedule,
        "language": language,
    }
    return hashlib.sha256(canonical(document)).hexdigest()


def publish_notice(
    *,
    purpose: str,
    jurisdiction: str,
    language: str,
    title: str,
    body: str,
    allows: str,
    does_not_allow: str,
    retention_schedule: str = "",
) -> ConsentNotice:
    """Publish the next version of a notice. It becomes the current one at once; consents
    given under earlier versions stand, and ``consents_needing_reconsent`` lists them."""
    purpose = check_purpose(purpose)
    for name, value in (
        ("title", title),
        ("body", body),
        ("allows", allows),
        ("does_not_allow", does_not_allow),
    ):
        if not (value or "").strip():
            raise InvalidInput(f"{name} is required", field=name)
    if not Jurisdiction.objects.filter(code=jurisdiction).exists():
        raise InvalidInput(f"unknown jurisdiction {jurisdiction!r}", field="jurisdiction")
    if not re.fullmatch(LANGUAGE_RE, language or ""):
        raise InvalidInput("language must be a BCP 47 tag such as en or ja", field="language")
    with transaction.atomic(durable=True):
        # Serialise publishers of the same notice family so versions never collide.
        Jurisdiction.objects.select_for_update().get(code=jurisdiction)
        latest = (
            ConsentNotice.objects.filter(
                purpose=purpose, jurisdiction_id=jurisdiction, language=language
            )
            .order_by("-version")
            .values_list("version", flat=True)
            .first()
        )
        return ConsentNotice.objects.create(
            purpose=purpose,
            jurisdiction_id=jurisdiction,
            language=language,
            version=(latest or 0) + 1,
            title=title.strip(),
            body=body.strip(),
            allows=allows.strip(),
            does_not_allow=does_not_allow.strip(),
            retention_schedule=retention_schedule.strip(),
            text_sha256=notice_text_sha256(
                title=title.strip(),
                body=body.strip(),
                allows=allows.strip(),
                does_not_allow=does_not_allow.strip(),
                retention_schedule=retention_schedule.strip(),
                language=language,
            ),
        )


def retire_notice(*, notice: ConsentNotice) -> ConsentNotice:
    """Stop serving a notice. Consents given under it stand until withdrawn or renewed."""
    with transaction.atomic(durable=True):
        ConsentNotice.objects.filter(pk=notice.pk).update(status=NoticeStatus.RETIRED)
    notice.refresh_from_db()
    return notice


def retire_active_notice(*, notice: ConsentNotice) -> ConsentNotice:
    """Retire a notice that is still in service (active or draft), for staff who must be
    told when there is nothing to do: a notice already retired is refused, not re-retired.
    Consents given under it stand until withdrawn or renewed."""
    with transaction.atomic(durable=True):
        # Locked so two officers retiring at once get one success and one refusal.
        status = (
            ConsentNotice.objects.select_for_update()
            .values_list("status", flat=True)
            .get(pk=notice.pk)
        )
        if status == NoticeStatus.RETIRED:
            raise NoticeNotCurrent(f"{notice} is already retired: nothing to do", field="status")
        ConsentNotice.objects.filter(pk=notice.pk).update(status=NoticeStatus.RETIRED)
    notice.refresh_from_db()
    return notice
