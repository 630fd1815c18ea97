"""HTML home page and the machine health endpoint."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from registry import signing
from registry.health import system_health
from registry.selectors import catalogue_summary


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "registry/home.html",
        {"summary": catalogue_summary(), "admin_url": "/" + settings.ADMIN_URL},
    )


@require_GET
def jwks(request: HttpRequest) -> JsonResponse:
    """Public keys that verify receipts, checkpoints and cards (RFC 7517 JWKS)."""
    response = JsonResponse(signing.jwks())
    response["Cache-Control"] = "public, max-age=300"
    return response


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    healthy, report = system_health()
    return JsonResponse(report, status=200 if healthy else 503)
