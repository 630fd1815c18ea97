"""API tokens: issue, rotate, revoke, authenticate. ``vcr_<prefix>_<secret>``: the
prefix finds the row, the secret is compared by its SHA-256 in constant time."""

from __future__ import annotations

import datetime
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from registry.errors import InvalidInput
from registry.models import ApiToken, Licensee, TokenKind, TokenScope

TOKEN_RE = re.compile(r"^vcr_([a-z0-9]{12})_([A-Za-z0-9_-]{43})$")
MAX_LIFETIME = datetime.timedelta(days=366)
# last_used_at is written at most this often per token (not on every request).
LAST_USED_RESOLUTION = datetime.timedelta(minutes=1)
KIND_SCOPES = {
    TokenKind.LICENSEE: {
        TokenScope.READ_DATASETS,
        TokenScope.READ_FEED,
        TokenScope.MANAGE_WEBHOOKS,
        TokenScope.MANAGE_MODELS,
    },
    TokenKind.COLLECTOR: {TokenScope.WRITE_CONSENT, TokenScope.INGEST},
    TokenKind.STAFF: {TokenScope.STAFF_READ},
}


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    secret: str  # the whole bearer value; shown once, never stored


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def check_token_request(
    *,
    name: str,
    kind: str,
    scopes: list[str],
    licensee: Licensee | None,
    lifetime: datetime.timedelta,
) -> None:
    """Raise InvalidInput (naming the field) for a token that may not be issued."""
    if kind not in TokenKind.values:
        raise InvalidInput(f"unknown kind {kind!r}", field="kind")
    allowed = {str(s) for s in KIND_SCOPES[TokenKind(kind)]}
    if not scopes or not set(scopes) <= allowed:
        raise InvalidInput(f"scopes for a {kind} token: {sorted(allowed)}", field="scopes")
    if (kind == TokenKind.LICENSEE) != (licensee is not None):
        raise InvalidInput("a licensee token (and only one) names its licensee", field="licensee")
    if not datetime.timedelta(minutes=5) <= lifetime <= MAX_LIFETIME:
        raise InvalidInput("lifetime: 5 minutes to 366 days", field="lifetime")
    if not (name or "").strip():
        raise InvalidInput("name is required", field="name")


def issue_api_token(
    *,
    name: str,
    kind: str,
    scopes: list[str],
    licensee: Licensee | None = None,
    lifetime: datetime.timedelta = datetime.timedelta(days=90),
) -> IssuedToken:
    """A new token; its scopes must belong to its kind, a licensee token names its
    licensee, and it expires within a year."""
    check_token_request(name=name, kind=kind, scopes=scopes, licensee=licensee, lifetime=lifetime)
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    bearer = f"vcr_{prefix}_{secret}"
    token = ApiToken.objects.create(
        prefix=prefix,
        secret_sha256=_digest(secret),
        name=name.strip()[:200],
        kind=kind,
        licensee=licensee,
        scopes=sorted(set(scopes)),
        expires_at=timezone.now() + lifetime,
    )
    return IssuedToken(token, bearer)


def revoke_api_token(*, token: ApiToken) -> ApiToken:
    """Stop a token now (idempotent)."""
    ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    token.refresh_from_db()
    return token


def rotate_api_token(*, token: ApiToken, overlap: datetime.timedelta) -> IssuedToken:
    """A successor with the same kind, licensee and scopes; the old one keeps working
    for ``overlap`` (0 to 7 days) so deployments can switch without an outage."""
    if not datetime.timedelta(0) <= overlap <= datetime.timedelta(days=7):
        raise InvalidInput("overlap: 0 to 7 days", field="overlap")
    with transaction.atomic(durable=True):
        locked = ApiToken.objects.select_for_update().get(pk=token.pk)
        if locked.revoked_at is not None or locked.replaced_by_id is not None:
            raise InvalidInput(
                "only a live token that was not rotated can be rotated", field="token"
            )
        issued = issue_api_token(
            name=locked.name,
            kind=locked.kind,
            scopes=list(locked.scopes),
            licensee=locked.licensee,
            lifetime=max(locked.expires_at - timezone.now(), datetime.timedelta(days=1)),
        )
        locked.replaced_by = issued.token
        locked.expires_at = min(locked.expires_at, timezone.now() + overlap)
        locked.save(update_fields=["replaced_by", "expires_at"])
    return issued


def authenticate(bearer: str) -> ApiToken | None:
    """The live token for a bearer value, or None (unknown, wrong secret, expired or
    revoked all look the same to the caller)."""
    match = TOKEN_RE.match(bearer or "")
    if match is None:
        return None
    prefix, secret = match.groups()
    token = ApiToken.objects.select_related("licensee").filter(prefix=prefix).first()
    if token is None or not hmac.compare_digest(token.secret_sha256, _digest(secret)):
        return None
    now = timezone.now()
    if token.revoked_at is not None or token.expires_at <= now:
        return None
    if token.last_used_at is None or token.last_used_at < now - LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token
