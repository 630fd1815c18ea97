"""The audit log of staff access to personal data and of exports (``AccessLogEntry``).

Every admin view of a speaker's decrypted contact details, every staff API lookup that
returns them, and every export or compliance report writes one row here, in the same
transaction as the read where there is one. Rows name ids, filters and counts only."""

from __future__ import annotations

import ipaddress
from typing import Any

from django.conf import settings
from django.http import HttpRequest

from registry.models import AccessAction, AccessLogEntry, ApiToken, Speaker


def client_ip(request: HttpRequest) -> str | None:
    """The client's address as the rate limiter sees it (``RATELIMIT_IP_META_KEY``:
    ``REMOTE_ADDR`` unless a trusted proxy sets another header); None if not an IP."""
    raw = str(request.META.get(settings.RATELIMIT_IP_META_KEY, "") or "")
    candidate = raw.split(",")[0].strip()
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return None


def record_access(
    *,
    request: HttpRequest,
    action: AccessAction,
    speaker: Speaker | None = None,
    reason: str = "",
    detail: dict[str, Any] | None = None,
) -> AccessLogEntry:
    """Log one access by the request's user (admin) or API token (staff API)."""
    token = getattr(request, "auth", None)
    if isinstance(token, ApiToken):
        actor, kind = f"token vcr_{token.prefix} ({token.name})"[:150], "token"
    else:
        actor, kind = request.user.get_username(), "admin"
    return AccessLogEntry.objects.create(
        action=action,
        actor=actor,
        actor_kind=kind,
        ip_address=client_ip(request),
        speaker=speaker,
        reason=reason[:500],
        detail=detail or {},
    )
