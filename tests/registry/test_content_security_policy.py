"""The Content Security Policy: this origin's scripts and styles only, never inline, on
every page (the API documentation pages allow inline styles for Swagger UI and Redoc,
never inline scripts); no page may be framed. The templates hold no inline script,
style attribute or event handler that the policy would silently break."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

pytestmark = pytest.mark.django_db

TEMPLATES = Path(settings.BASE_DIR) / "templates"


def directives(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    parsed = {}
    for part in header.split(";"):
        name, *values = part.split()
        parsed[name] = values
    return parsed


@pytest.mark.parametrize(
    "path",
    ["/", "/signin/", "/datasets/", "/admin/login/", "/healthz", "/api/v1/schema/"],
)
def test_every_page_gets_a_strict_policy(client, path: str) -> None:
    response = client.get(path)
    policy = directives(response)
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]
    assert "'unsafe-eval'" not in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize("name", ["api:docs", "api:redoc"])
def test_the_api_documentation_allows_inline_styles_but_not_inline_scripts(
    client, name: str
) -> None:
    response = client.get(reverse(name))
    assert response.status_code == 200
    policy = directives(response)
    assert policy["script-src"] == ["'self'"]
    assert "'unsafe-inline'" in policy["style-src"]
    # Swagger UI's start-up script is a served file, not inline.
    html = response.content.decode()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>\s*\S", html)


@pytest.mark.parametrize("template", sorted(TEMPLATES.rglob("*.html")), ids=str)
def test_no_template_has_inline_script_style_or_event_handler(template: Path) -> None:
    html = template.read_text()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline <script>"
    assert not re.search(r"<style\b", html), "<style> element"
    assert not re.search(r"\sstyle\s*=", html), "style attribute"
    assert not re.search(r"\son[a-z]+\s*=", html), "event handler attribute"
    assert "javascript:" not in html
