"""Public dataset pages and card downloads at stable URLs:
``/datasets/<slug>/<version>/card.json|card.jsonld|README.md|card.pdf|card.sig|rsl.xml``."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from datasetcards import selectors
from datasetcards.cards import preferences
from datasetcards.cards import render as cards
from datasetcards.models import Release
from registry.errors import NotFound


def published(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @wraps(view)
    def wrapped(request: HttpRequest, slug: str, version: str) -> HttpResponse:
        try:
            release = selectors.get_published_release(slug=slug, version=version)
        except NotFound as exc:
            raise Http404(exc.detail) from exc
        response = view(request, release)
        # The usage preference travels with every copy of the card (IETF AI Preferences).
        response["Content-Usage"] = preferences.content_usage_header(release)
        response["Cache-Control"] = "public, max-age=300"
        return response

    return require_GET(wrapped)


def _file(release: Release, filename: str, *, attachment: bool = False) -> HttpResponse:
    item = cards.rendering(release, filename)
    response = HttpResponse(item.body, content_type=item.content_type)
    if attachment:
        # The same name as in card.sig, so `verify_card card.pdf --signatures card.sig` works.
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@require_GET
def dataset_list(request: HttpRequest) -> HttpResponse:
    return render(
        request, "datasetcards/dataset_list.html", {"datasets": selectors.published_datasets()}
    )


@published
def release_page(request: HttpRequest, release: Release) -> HttpResponse:
    card = cards.signed_card(release)
    return render(
        request,
        "datasetcards/release.html",
        {"release": release, "card": card, "links": card["release"]["links"]},
    )


@published
def card_json(request: HttpRequest, release: Release) -> HttpResponse:
    return _file(release, "card.json")


@published
def card_jsonld(request: HttpRequest, release: Release) -> HttpResponse:
    return _file(release, "card.jsonld")


@published
def card_readme(request: HttpRequest, release: Release) -> HttpResponse:
    return _file(release, "README.md")


@published
def card_pdf(request: HttpRequest, release: Release) -> HttpResponse:
    return _file(release, "card.pdf", attachment=True)


@published
def rsl(request: HttpRequest, release: Release) -> HttpResponse:
    return _file(release, "rsl.xml")


@published
def card_sig(request: HttpRequest, release: Release) -> HttpResponse:
    return JsonResponse(cards.signatures(release), json_dumps_params={"indent": 2})


@published
def errata_json(request: HttpRequest, release: Release) -> HttpResponse:
    """The release's signed errata: recording and track ids to drop (no personal data).
    Each ``signature`` covers the canonical JSON (RFC 8785) of its ``statement``."""
    errata = release.errata.select_related("release").order_by("created_at", "id")
    return JsonResponse(
        {
            "release": str(release.public_id),
            "errata": [
                {"statement": erratum.statement(), "signature": erratum.signature}
                for erratum in errata
            ],
        },
        json_dumps_params={"indent": 2},
    )
