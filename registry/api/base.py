"""What every endpoint shares: who the caller is (licensee, collector, staff), the
problem+json response in the schema, and the standard error responses per endpoint."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import exceptions, serializers
from rest_framework.pagination import Cursor, CursorPagination
from rest_framework.request import Request

from registry.api.auth import api_token
from registry.models import ApiToken, TokenScope

# RFC 9457 problem details (``application/problem+json``); for the schema only (a field
# named ``errors`` cannot live on a real serializer class).
ProblemSerializer = inline_serializer(
    name="Problem",
    fields={
        "type": serializers.CharField(default="about:blank"),
        "title": serializers.CharField(),
        "status": serializers.IntegerField(),
        "code": serializers.CharField(help_text="Stable machine code, e.g. `not_found`."),
        "detail": serializers.CharField(help_text="What went wrong, for a person."),
        "field": serializers.CharField(required=False, help_text="The input field at fault."),
        "errors": serializers.DictField(required=False, help_text="Per-field validation errors."),
    },
)


_DESCRIPTIONS = {
    400: "Bad input (`invalid_input`, `invalid_json`, or a domain code); nothing changed.",
    401: "Missing, unknown, expired or revoked token.",
    403: "The token's scopes do not allow this operation.",
    404: "No such object, or not yours (the two are indistinguishable).",
    406: "The requested format is not offered.",
    409: "Conflicts with the current state (e.g. a reused Idempotency-Key).",
    413: "Body too large.",
    415: "Unsupported media type.",
    429: "Too many requests for this token; see Retry-After.",
}


def problems(*statuses: int) -> dict[int, OpenApiResponse]:
    """``responses=`` entries for the errors an endpoint can answer (401/403/429 always)."""
    wanted = sorted({401, 403, 429, *statuses})
    return {
        status: OpenApiResponse(response=ProblemSerializer, description=_DESCRIPTIONS[status])
        for status in wanted
    }


class TokenView:
    """Base for API views: ``required_scope`` is checked by ``HasScope``."""

    required_scope: str

    def token(self, request: Request) -> ApiToken:
        return api_token(request)


class LicenseeView(TokenView):
    """A licensee's endpoint: every query is restricted to ``licensee_id``."""

    required_scope = TokenScope.READ_DATASETS.value

    def licensee_id(self, request: Request) -> int:
        token = api_token(request)
        return token.licensee_id or 0  # staff and collector tokens hold no license


class CollectorView(TokenView):
    """The collection platform's endpoint (collector tokens)."""

    required_scope = TokenScope.WRITE_CONSENT.value


class StaffView(TokenView):
    """Compliance scripts (staff tokens)."""

    required_scope = TokenScope.STAFF_READ.value


class CursorPages(CursorPagination):
    """Cursor pagination whose malformed cursor is bad input (400), not a missing page."""

    page_size = 100
    max_page_size = 1000
    page_size_query_param = "page_size"

    def decode_cursor(self, request: Request) -> Cursor | None:
        try:
            return super().decode_cursor(request)
        except exceptions.NotFound as exc:
            raise exceptions.ValidationError({self.cursor_query_param: [str(exc.detail)]}) from exc
