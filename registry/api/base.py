"""What every endpoint shares: who the caller is (licensee, collector, staff), the
problem+json response in the schema, and the standard error responses per endpoint."""

from __future__ import annotations

from typing import Any, NoReturn

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import exceptions, serializers
from rest_framework.pagination import Cursor, CursorPagination
from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request

from registry.api.auth import api_token
from registry.api.errors import PROBLEM
from registry.api.strict import UnknownMembers
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
        "members": serializers.ListField(
            child=serializers.CharField(),
            required=False,
            help_text="`unknown_members`: each member the operation does not accept, by "
            "path (e.g. `evidence.signedname`).",
        ),
    },
)


_DESCRIPTIONS = {
    400: "Bad input (`invalid_input`, `invalid_json`, `unknown_members` for a member the "
    "operation does not declare, or a domain code); nothing changed.",
    401: "Missing, unknown, expired or revoked token.",
    403: "The token's scopes do not allow this operation.",
    404: "No such object, or not yours (the two are indistinguishable).",
    406: "The requested format is not offered.",
    409: "Conflicts with the current state (e.g. a reused Idempotency-Key).",
    413: "Body too large.",
    410: "Gone: the speaker's data was erased (`speaker_erased`).",
    415: "Unsupported media type.",
    422: "Understood but refused by a rule (e.g. `tracks_mismatch`, `batch_rejected`).",
    429: "Too many requests for this token; see Retry-After.",
}


def problems(*statuses: int) -> dict[tuple[int, str], OpenApiResponse]:
    """``responses=`` entries for the errors an endpoint can answer (401/403/429 always),
    each as ``application/problem+json``."""
    wanted = sorted({401, 403, 429, *statuses})
    return {
        (status, PROBLEM): OpenApiResponse(
            response=ProblemSerializer, description=_DESCRIPTIONS[status]
        )
        for status in wanted
    }


class TokenView:
    """Base for API views: ``required_scope`` is checked by ``HasScope``."""

    required_scope: str

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]  # APIView's, by the MRO
        if request.method not in SAFE_METHODS and request.query_params:
            # No write declares a query parameter: one sent (``?session=…`` beside a
            # consent act) would be dropped while the caller believes it applied.
            raise UnknownMembers([f"?{name}" for name in request.query_params])

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
    """Cursor pagination where a malformed or forged cursor is bad input (400): the
    position it carries must parse as the ordering field's type before it reaches SQL."""

    page_size = 100
    max_page_size = 1000
    page_size_query_param = "page_size"

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> Any:
        self._model = queryset.model
        return super().paginate_queryset(queryset, request, view)

    def _refuse(self) -> NoReturn:
        raise exceptions.ValidationError({self.cursor_query_param: [self.invalid_cursor_message]})

    def decode_cursor(self, request: Request) -> Cursor | None:
        try:
            cursor = super().decode_cursor(request)
        except exceptions.NotFound:
            self._refuse()
        if cursor is None or cursor.position is None:
            return cursor
        ordering = self.ordering if isinstance(self.ordering, str) else self.ordering[0]
        field = _field_at(self._model, ordering.lstrip("-"))
        try:
            # Parses and range-checks it as the column would (e.g. a bigint's bounds).
            field.clean(cursor.position, None)
        except (DjangoValidationError, ValueError, TypeError, OverflowError):
            self._refuse()
        return cursor


def _field_at(model: Any, path: str) -> Any:
    """The model field at the end of ``a__b__c``."""
    *relations, name = path.split("__")
    for relation in relations:
        model = model._meta.get_field(relation).related_model
    return model._meta.get_field(name)
