"""The acknowledgement a licensee (or model owner) posts back for a withdrawal notice.

Authenticated by the token carried in the signed notice itself (derived from the notice
id, never stored), so a licensee can acknowledge from the code that received it."""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from propagation import services
from registry.api.strict import DuplicateMembers, UnknownMembers, members_once
from registry.errors import NotFound

MAX_BODY = 4096


def _problem(status: int, code: str, title: str, detail: str, **extra: Any) -> JsonResponse:
    return JsonResponse(
        {
            "type": "about:blank",
            "title": title,
            "status": status,
            "code": code,
            "detail": detail,
            **extra,
        },
        status=status,
        content_type="application/problem+json",
    )


def _declared_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


@csrf_exempt  # machine-to-machine, authenticated by the notice's token, no cookies
def acknowledge_notice(request: HttpRequest, key: uuid.UUID) -> JsonResponse:
    # Every answer is problem+json, as in the rest of the API (require_POST's is HTML).
    if request.method != "POST":
        refused = _problem(405, "method_not_allowed", "Method Not Allowed", "POST the token")
        refused["Allow"] = "POST"
        return refused
    too_large = _problem(413, "body_too_large", "Body too large", f"at most {MAX_BODY} bytes")
    # Refused from the declared length before reading; Django's own limit would raise.
    if _declared_length(request) > MAX_BODY:
        return too_large
    try:
        body = request.body
    except RequestDataTooBig:
        return too_large
    if len(body) > MAX_BODY:
        return too_large
    try:
        payload = json.loads(body or b"{}", object_pairs_hook=members_once)
    except DuplicateMembers as exc:
        return _problem(400, exc.code, "Bad Request", exc.detail, **exc.extensions())
    except (ValueError, UnicodeDecodeError, RecursionError):
        return _problem(400, "invalid_json", "Invalid JSON", "the body must be a JSON object")
    if isinstance(payload, dict) and (others := sorted(set(payload) - {"token"})):
        unknown = UnknownMembers(others)
        return _problem(400, unknown.code, "Bad Request", unknown.detail, **unknown.extensions())
    token = payload.get("token") if isinstance(payload, dict) else None
    if not isinstance(token, str) or not token:
        return _problem(
            400, "invalid_input", "Invalid input", "'token' (string) from the notice is required"
        )
    try:
        target = services.acknowledge(key=key, token=token)
    except NotFound:
        return _problem(404, "not_found", "Not found", "no such notice, or the token is wrong")
    acknowledged_at = target.acknowledged_at.isoformat() if target.acknowledged_at else None
    return JsonResponse(
        {
            "id": str(target.idempotency_key),
            "status": target.status,
            "acknowledged_at": acknowledged_at,
        }
    )
