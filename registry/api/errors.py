"""One exception handler: every error of the API is RFC 9457 problem+json with a stable
``code`` (domain errors keep theirs; validation, auth, throttling and 404 get one)."""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import (
    PermissionDenied,
    RequestDataTooBig,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.http import Http404
from rest_framework import exceptions
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import exception_handler

from registry.errors import RegistryError

PROBLEM = "application/problem+json"
CODES = {
    exceptions.ValidationError: "invalid_input",
    exceptions.ParseError: "invalid_json",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "throttled",
}


# Django refuses these while reading the request (body over DATA_UPLOAD_MAX_MEMORY_SIZE,
# more fields than DATA_UPLOAD_MAX_NUMBER_FIELDS); left alone they become an HTML 400.
REQUEST_LIMITS: dict[type[Exception], tuple[int, str, str]] = {
    RequestDataTooBig: (413, "payload_too_large", "the request body is too large"),
    TooManyFieldsSent: (400, "invalid_input", "too many query or form fields"),
    TooManyFilesSent: (400, "invalid_input", "too many files"),
}
# A lone surrogate (JSON may carry one as "\ud800") cannot be written as UTF-8: an error
# that quotes the input would fail to render and turn a 400 into a 500.
_SURROGATE = re.compile("[\ud800-\udfff]")


class ProblemResponse(Response):
    """Rendered as JSON whatever renderer the view negotiated (the schema view's YAML,
    the documentation's HTML), since its content type says JSON."""

    @property
    def rendered_content(self) -> Any:
        self.accepted_renderer = JSONRenderer()
        self.accepted_media_type = PROBLEM
        return super().rendered_content


def _renderable(value: Any) -> Any:
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {_renderable(k): _renderable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_renderable(v) for v in value]
    return value


def problem(status_code: int, code: str, detail: str, **extra: Any) -> Response:
    body = {
        "type": "about:blank",
        "title": _title(status_code),
        "status": status_code,
        "code": code,
        "detail": detail,
        **extra,
    }
    return ProblemResponse(_renderable(body), status=status_code, content_type=PROBLEM)


def _title(status_code: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status_code).phrase
    except ValueError:
        return "Error"


def problem_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, RegistryError):
        # An error may add members of its own (``unknown_members`` names the members).
        extensions = exc.extensions() if hasattr(exc, "extensions") else {}
        return problem(
            exc.status,
            exc.code,
            exc.detail,
            **({"field": exc.field} if exc.field else {}),
            **extensions,
        )
    limit = next((v for cls, v in REQUEST_LIMITS.items() if isinstance(exc, cls)), None)
    if limit is not None:
        return problem(*limit)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.APIException):
        return response
    code = next((c for cls, c in CODES.items() if isinstance(exc, cls)), "error")
    extra: dict[str, Any] = {}
    if isinstance(exc, exceptions.ValidationError):
        extra["errors"] = exc.detail
        detail = "the request is not valid; see errors"
    else:
        detail = str(exc.detail)
    result = problem(response.status_code, code, detail, **extra)
    for header in ("Retry-After", "WWW-Authenticate", "Allow"):
        if header in response:
            result[header] = response[header]
    return result
