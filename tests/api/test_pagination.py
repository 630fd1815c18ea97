"""Cursor pages: a malformed or forged cursor is bad input (400), never a 404 or a 500,
and a genuine cursor walks every item once."""

from __future__ import annotations

import base64
from urllib.parse import urlencode

import pytest
from django.urls import reverse

from datasetcards import services as datasets
from tests.api.helpers import assert_problem, licensee_client
from tests.propagation.conftest import World

pytestmark = pytest.mark.django_db


def _forged(position: str) -> str:
    return base64.b64encode(urlencode({"p": position}).encode()).decode()


@pytest.mark.parametrize(
    ("name", "params", "position"),
    [
        ("releases", {}, "not a date"),
        ("datasets", {}, "x" * 500),
        ("eligible-tracks", {"purpose": "training"}, "not-a-uuid"),
        ("eligible-recordings", {"purpose": "training"}, "123"),
    ],
)
def test_a_forged_cursor_position_is_a_400(world: World, name, params, position) -> None:
    client = licensee_client(world.licensee)
    for cursor in ("!!!not base64", _forged(position)):
        answer = client.get(reverse(f"api:{name}"), {**params, "cursor": cursor})
        body = assert_problem(answer, 400, "invalid_input")
        assert "cursor" in body["errors"]


def test_a_forged_position_beyond_bigint_is_a_400(world: World) -> None:
    from registry.api.base import CursorPages

    class SeqPages(CursorPages):
        ordering = ("seq",)

    from rest_framework.exceptions import ValidationError
    from rest_framework.request import Request
    from rest_framework.test import APIRequestFactory

    from datasetcards.models import FeedEntry

    request = Request(APIRequestFactory().get("/", {"cursor": _forged(str(2**70))}))
    with pytest.raises(ValidationError):
        SeqPages().paginate_queryset(FeedEntry.objects.all(), request)


def test_a_genuine_cursor_walks_every_release_once(world: World) -> None:
    """Four releases a page: every one seen exactly once, following three cursors."""
    releases = [world.release]
    for minor in (1, 2, 3):
        release = datasets.create_release(
            dataset=world.training, version=f"1.{minor}.0", enqueue=False
        )
        releases.append(datasets.build_release(release_id=release.pk))
    world.license.releases.add(*releases[1:])
    client = licensee_client(world.licensee)
    seen: list[str] = []
    pages = 0
    url: str | None = reverse("api:releases") + "?page_size=1"
    while url:
        body = client.get(url).json()
        seen += [item["id"] for item in body["results"]]
        url = body["next"]
        pages += 1
    assert pages == 4
    assert sorted(seen) == sorted(str(r.public_id) for r in releases)
