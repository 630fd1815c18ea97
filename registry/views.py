"""HTML home page and the machine health endpoint."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views import defaults
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


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """404 for a URL nothing answers: problem+json under /api/, the HTML page elsewhere."""
    if request.path.startswith("/api/"):
        body = {
            "type": "about:blank",
            "title": "Not Found",
            "status": 404,
            "code": "not_found",
            "detail": "no such endpoint or object",
        }
        return JsonResponse(body, status=404, content_type="application/problem+json")
    return defaults.page_not_found(request, exception)
