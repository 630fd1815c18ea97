"""Bearer-token authentication and scope checks for /api/v1/."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AnonymousUser
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions, throttling
from rest_framework.request import Request

from registry import tokens
from registry.models import ApiToken


class TokenUser(AnonymousUser):
    """The caller behind an API token: not a Django user, but authenticated."""

    def __init__(self, token: ApiToken) -> None:
        super().__init__()
        self.token = token

    @property
    def is_authenticated(self) -> bool:  # type: ignore[override]
        return True

    def __str__(self) -> str:
        return f"api token {self.token.prefix}"


class ApiTokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer vcr_<prefix>_<secret>``."""

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[TokenUser, ApiToken] | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        keyword, _, value = header.partition(" ")
        if keyword != self.keyword or not value:
            raise exceptions.AuthenticationFailed("expected 'Authorization: Bearer <token>'")
        token = tokens.authenticate(value.strip())
        if token is None:
            raise exceptions.AuthenticationFailed("unknown, expired or revoked token")
        return TokenUser(token), token

    def authenticate_header(self, request: Request) -> str:
        return f'{self.keyword} realm="api"'


def api_token(request: Request) -> ApiToken:
    token = request.auth
    if not isinstance(token, ApiToken):
        raise exceptions.NotAuthenticated()
    return token


class HasScope(permissions.BasePermission):
    """The view's ``required_scope`` must be one of the token's scopes."""

    message = "this token's scopes do not allow this operation"

    def has_permission(self, request: Request, view: Any) -> bool:
        token = request.auth
        required = getattr(view, "required_scope", None)
        return isinstance(token, ApiToken) and required is not None and required in token.scopes


class TokenRateThrottle(throttling.SimpleRateThrottle):
    """Requests per token (``API_RATE``, e.g. ``600/min``); 429 with Retry-After."""

    scope = "token"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        token = request.auth
        if not isinstance(token, ApiToken):
            return self.cache_format % {"scope": "anon", "ident": self.get_ident(request)}
        return self.cache_format % {"scope": self.scope, "ident": token.prefix}


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """Describes the bearer tokens in the OpenAPI schema."""

    target_class = "registry.api.auth.ApiTokenAuthentication"
    name = "apiToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "vcr_<prefix>_<secret>",
            "description": "A token issued to a licensee, the collection platform or staff.",
        }
