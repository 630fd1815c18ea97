"""Licensee endpoints over datasets, releases, card files and manifests: what a token
may see, the exact bytes served, conditional requests, compression and resumption."""

from __future__ import annotations

import csv
import datetime
import gzip
import hashlib
import io
import json
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from consent import exports
from datasetcards import manifest
from datasetcards import services as datasets
from datasetcards.api.manifests import accepts_gzip
from datasetcards.manifest import MANIFEST_FIELDS, write_manifest
from datasetcards.models import Dataset, License, Release, ReleaseErratum, ReleaseItem
from registry.models import TokenScope
from tests.api.helpers import api_client, assert_problem, collector_client, licensee_client
from tests.factories import LicenseeFactory, RecordingFactory
from tests.propagation.conftest import World, built_release, make_dataset

# The manifest is read through the replica alias (a mirror of the test database here).
pytestmark = pytest.mark.django_db(databases=["default", "replica"])

UNKNOWN = "00000000-0000-4000-8000-000000000000"
CARD_FILES = [
    # (API URL name suffix, file name, Content-Type)
    ("card-json", "card.json", "application/json"),
    ("card-jsonld", "card.jsonld", "application/ld+json"),
    ("readme", "README.md", "text/markdown; charset=utf-8"),
    ("card-pdf", "card.pdf", "application/pdf"),
    ("card-sig", "card.sig", "application/json"),
    ("rsl", "rsl.xml", "application/rsl+xml"),
]


@pytest.fixture(autouse=True)
def _close_replica_connection() -> Iterator[None]:
    yield
    # The mirror's own connection would otherwise keep the test database open.
    connections["replica"].close()


def _manifest_url(release: Release, **query: str) -> str:
    url = f"/api/v1/releases/{release.public_id}/manifest"
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def _body(response: Any) -> bytes:
    assert response.streaming, "the manifest is streamed"
    return b"".join(response.streaming_content)


def _manifest_bytes(release: Release) -> bytes:
    out = io.BytesIO()
    write_manifest(release.pk, out)
    return out.getvalue()


def _counts() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (Dataset, Release, ReleaseItem, License, ReleaseErratum)
    }


def _csv_value(value: object) -> str:
    """A JSON value as the CSV writes it (the text of the JSON value)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _license(world: World, licensee: Any, releases: list[Release], **extra: Any) -> License:
    return datasets.grant_license(
        licensee=licensee,
        dataset=releases[0].dataset if releases else world.training,
        purposes_allowed=["training"],
        derived_model_action="none",
        starts_on=extra.pop("starts_on", timezone.now().date()),
        releases=releases,
        **extra,
    )


# --- datasets ---------------------------------------------------------------------------


def test_datasets_list_my_licensed_datasets_with_my_licenses_and_releases(world: World) -> None:
    response = licensee_client(world.licensee).get("/api/v1/datasets/")
    assert response.status_code == 200
    [dataset] = response.json()["results"]  # not the biometric dataset: no license on it
    assert dataset["id"] == str(world.training.public_id)
    assert dataset["slug"] == "duplex"
    assert dataset["intended_purposes"] == ["training", "redistribution"]
    [license_] = dataset["licenses"]
    assert license_ == {
        "id": str(world.license.public_id),
        "purposes_allowed": ["training", "redistribution"],
        "commercial_redistribution": False,
        "territory": [],
        "starts_on": world.license.starts_on.isoformat(),
        "ends_on": None,
        "in_force": True,
        "includes_future_releases": False,
        "ack_deadline_days": 14,
        "derived_model_action": "retrain",
        "contract_reference": "",
    }
    [release] = dataset["releases"]
    assert release["id"] == str(world.release.public_id)
    assert release["manifest_sha256"] == world.release.manifest_sha256
    assert release["api"]["manifest"].endswith(
        f"/api/v1/releases/{world.release.public_id}/manifest"
    )
    assert dataset["api"]["self"].endswith(f"/api/v1/datasets/{world.training.public_id}/")


def test_a_dataset_under_an_ended_license_is_still_listed_as_not_in_force(world: World) -> None:
    licensee = LicenseeFactory()
    today = timezone.now().date()
    past = _license(
        world,
        licensee,
        [world.release],
        starts_on=today - datetime.timedelta(days=400),
        ends_on=today - datetime.timedelta(days=30),
        territory=["US-CA", "JP"],
        includes_future_releases=True,
    )
    [dataset] = licensee_client(licensee).get("/api/v1/datasets/").json()["results"]
    [license_] = dataset["licenses"]
    assert license_["id"] == str(past.public_id)
    assert license_["in_force"] is False
    assert license_["territory"] == ["US-CA", "JP"]
    assert license_["includes_future_releases"] is True
    assert [r["id"] for r in dataset["releases"]] == [str(world.release.public_id)]


def test_one_dataset_is_mine_and_another_licensees_is_404_like_an_unknown_id(
    world: World,
) -> None:
    url = f"/api/v1/datasets/{world.training.public_id}/"
    mine = licensee_client(world.licensee).get(url)
    assert mine.status_code == 200
    assert mine.json()["licenses"][0]["id"] == str(world.license.public_id)
    other = licensee_client(LicenseeFactory())
    hidden = assert_problem(other.get(url), 404, "not_found")
    unknown = assert_problem(other.get(f"/api/v1/datasets/{UNKNOWN}/"), 404, "not_found")
    assert hidden == unknown
    assert other.get("/api/v1/datasets/").json()["results"] == []
    # A dataset I hold no license on, though it exists and is published.
    assert_problem(
        licensee_client(world.licensee).get(f"/api/v1/datasets/{world.biometric.public_id}/"),
        404,
        "not_found",
    )


@pytest.mark.parametrize("path", ["/api/v1/datasets/", f"/api/v1/datasets/{UNKNOWN}/"])
def test_dataset_endpoints_refuse_missing_tokens_and_scopes(world: World, path: str) -> None:
    assert_problem(api_client().get(path), 401, "not_authenticated")
    assert_problem(collector_client().get(path), 403, "permission_denied")
    feed_only = licensee_client(world.licensee, scopes=[TokenScope.READ_FEED])
    assert_problem(feed_only.get(path), 403, "permission_denied")


def test_a_malformed_cursor_is_bad_input_and_changes_nothing(world: World) -> None:
    before = _counts()
    client = licensee_client(world.licensee)
    for path in ("/api/v1/datasets/", "/api/v1/releases/"):
        body = assert_problem(client.get(path + "?cursor=not-a-cursor"), 400, "invalid_input")
        assert "cursor" in body["errors"]
    assert _counts() == before


def _more_licensed(world: World, count: int) -> None:
    """``count`` more datasets, each with a built release licensed to the world's
    licensee, and ``count`` more releases of the world's dataset."""
    for index in range(count):
        dataset = make_dataset(f"extra-{index}", ["training", "redistribution"])
        _license(world, world.licensee, [built_release(dataset)])
    future = _license(world, world.licensee, [], includes_future_releases=True)
    for index in range(count):
        release = datasets.create_release(
            dataset=world.training, version=f"1.{index + 1}.0", enqueue=False
        )
        datasets.build_release(release_id=release.pk)
    assert future.releases.count() == count


def _queries(client: Any, path: str) -> tuple[int, list[Any]]:
    client.get(path)  # the token's last_used_at is written once a minute, not per request
    with CaptureQueriesContext(connections["default"]) as captured:
        response = client.get(path)
    assert response.status_code == 200
    return len(captured), response.json()["results"]


@pytest.mark.parametrize("path", ["/api/v1/datasets/", "/api/v1/releases/"])
def test_list_queries_do_not_grow_with_datasets_and_releases(
    world: World, path: str, django_assert_max_num_queries
) -> None:
    client = licensee_client(world.licensee)
    _more_licensed(world, 2)
    few, few_results = _queries(client, path)
    for index in range(9):
        dataset = make_dataset(f"more-{index}", ["training", "redistribution"])
        _license(world, world.licensee, [built_release(dataset)])
    many, many_results = _queries(client, path)
    assert len(many_results) == len(few_results) + 9
    assert many == few
    with django_assert_max_num_queries(4):
        client.get(path)


def test_release_pages_follow_each_other_without_repeats(world: World) -> None:
    _more_licensed(world, 2)
    client = licensee_client(world.licensee)
    seen: list[str] = []
    url: str | None = "/api/v1/releases/?page_size=2"
    while url:
        page = client.get(url).json()
        seen += [r["id"] for r in page["results"]]
        url = page["next"]
    expected = Release.objects.filter(licenses__licensee=world.licensee).distinct()
    assert sorted(seen) == sorted(str(r.public_id) for r in expected)
    assert len(seen) == 5
    newest_first = sorted(expected, key=lambda r: r.built_at or timezone.now(), reverse=True)
    assert seen == [str(r.public_id) for r in newest_first]


def test_a_release_lists_its_api_links(world: World) -> None:
    body = licensee_client(world.licensee).get(f"/api/v1/releases/{world.release.public_id}/")
    api = body.json()["api"]
    base = f"/api/v1/releases/{world.release.public_id}/"
    assert api["manifest"].endswith(base + "manifest")
    assert api["manifest_csv"].endswith(base + "manifest?format=csv")
    assert api["pdf"].endswith(base + "card.pdf")
    assert api["signatures"].endswith(base + "card.sig")
    assert body.json()["manifest_bytes"] == world.release.manifest_bytes


# --- card files -------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "filename", "content_type"), CARD_FILES)
def test_each_card_file_is_byte_identical_to_the_public_file(
    world: World, client: Any, name: str, filename: str, content_type: str
) -> None:
    release = world.release
    public = client.get(f"/datasets/duplex/{release.version}/{filename}")
    assert public.status_code == 200
    response = licensee_client(world.licensee).get(
        f"/api/v1/releases/{release.public_id}/{filename}"
    )
    assert response.status_code == 200
    assert response.content == public.content
    assert response["Content-Type"] == content_type == public["Content-Type"]
    assert response["ETag"] == f'"{hashlib.sha256(response.content).hexdigest()}"'
    assert response["Content-Usage"] == public["Content-Usage"]
    assert response["Content-Disposition"] == f'attachment; filename="{filename}"'


def test_card_signatures_cover_the_files_the_api_serves(world: World) -> None:
    client = licensee_client(world.licensee)
    base = f"/api/v1/releases/{world.release.public_id}/"
    signatures = client.get(base + "card.sig").json()
    assert signatures["release"] == str(world.release.public_id)
    for filename in ("card.json", "card.jsonld", "README.md", "card.pdf"):
        body = client.get(base + filename).content
        assert signatures["files"][filename]["sha256"] == hashlib.sha256(body).hexdigest()


@pytest.mark.parametrize("filename", ["card.json", "card.pdf", "card.sig"])
def test_a_card_file_answers_304_when_the_etag_is_current(world: World, filename: str) -> None:
    client = licensee_client(world.licensee)
    url = f"/api/v1/releases/{world.release.public_id}/{filename}"
    etag = client.get(url)["ETag"]
    for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        response = client.get(url, HTTP_IF_NONE_MATCH=header)
        assert response.status_code == 304, header
        assert response.content == b""
        assert response["ETag"] == etag
    stale = client.get(url, HTTP_IF_NONE_MATCH='"' + "0" * 64 + '"')
    assert stale.status_code == 200
    assert stale["ETag"] == etag
    # Not a valid entity tag at all: the file, not an error.
    assert client.get(url, HTTP_IF_NONE_MATCH="garbage").status_code == 200


def test_a_card_changes_its_etag_when_the_release_is_tainted(world: World) -> None:
    client = licensee_client(world.licensee)
    url = f"/api/v1/releases/{world.release.public_id}/card.json"
    before = client.get(url)["ETag"]
    _taint(world)
    after = client.get(url, HTTP_IF_NONE_MATCH=before)
    assert after.status_code == 200
    assert after["ETag"] != before
    assert after.json()["release"]["status"] == "tainted"


@pytest.mark.parametrize("filename", [f for _, f, _ in CARD_FILES] + ["manifest"])
def test_files_of_another_licensees_release_are_404_like_an_unknown_id(
    world: World, filename: str
) -> None:
    other = licensee_client(LicenseeFactory())
    hidden = assert_problem(
        other.get(f"/api/v1/releases/{world.release.public_id}/{filename}"), 404, "not_found"
    )
    unknown = assert_problem(other.get(f"/api/v1/releases/{UNKNOWN}/{filename}"), 404, "not_found")
    assert hidden == unknown
    # A published release of a dataset the licensee holds no license on.
    mine = licensee_client(world.licensee)
    assert_problem(
        mine.get(f"/api/v1/releases/{world.biometric_release.public_id}/{filename}"),
        404,
        "not_found",
    )


@pytest.mark.parametrize("filename", [f for _, f, _ in CARD_FILES] + ["manifest"])
def test_files_refuse_missing_tokens_and_scopes(world: World, filename: str) -> None:
    url = f"/api/v1/releases/{world.release.public_id}/{filename}"
    assert_problem(api_client().get(url), 401, "not_authenticated")
    assert_problem(collector_client().get(url), 403, "permission_denied")
    feed_only = licensee_client(world.licensee, scopes=[TokenScope.READ_FEED])
    assert_problem(feed_only.get(url), 403, "permission_denied")


@pytest.mark.parametrize("filename", [f for _, f, _ in CARD_FILES] + ["manifest"])
def test_a_release_of_mine_not_built_is_404_release_not_built(world: World, filename: str) -> None:
    building = datasets.create_release(dataset=world.training, version="2.0.0", enqueue=False)
    world.license.releases.add(building)
    client = licensee_client(world.licensee)
    body = assert_problem(
        client.get(f"/api/v1/releases/{building.public_id}/{filename}"), 404, "release_not_built"
    )
    assert "building" in body["detail"]
    datasets.mark_release_failed(release_id=building.pk, error="no recording is eligible")
    body = assert_problem(
        client.get(f"/api/v1/releases/{building.public_id}/{filename}"), 404, "release_not_built"
    )
    assert "failed" in body["detail"]
    # Another licensee does not learn that it exists.
    other = licensee_client(LicenseeFactory())
    assert_problem(other.get(f"/api/v1/releases/{building.public_id}/{filename}"), 404, "not_found")


@pytest.mark.parametrize("filename", [f for _, f, _ in CARD_FILES] + ["manifest"])
@pytest.mark.parametrize("term", ["ended", "not begun"])
def test_files_are_refused_outside_the_license_term(world: World, filename: str, term: str) -> None:
    """A release held only under a license that ended (or has not begun) stays listed,
    but its cards and manifest are not the licensee's to download today."""
    licensee = LicenseeFactory()
    today = timezone.now().date()
    if term == "ended":
        span = {"starts_on": today - datetime.timedelta(days=400), "ends_on": today}
    else:
        span = {"starts_on": today + datetime.timedelta(days=1)}
    _license(world, licensee, [world.release], **span)
    client = licensee_client(licensee)
    url = f"/api/v1/releases/{world.release.public_id}/{filename}"
    body = assert_problem(client.get(url), 403, "license_not_in_force")
    assert world.release.version in body["detail"]
    assert client.get(f"/api/v1/releases/{world.release.public_id}/").status_code == 200
    # A license in force beside the old one opens the files again.
    _license(world, licensee, [world.release])
    assert client.get(url).status_code == 200


# --- the manifest -----------------------------------------------------------------------


def test_the_manifest_streams_the_bytes_of_the_release(world: World) -> None:
    release = world.release
    response = licensee_client(world.licensee).get(_manifest_url(release))
    assert response.status_code == 200
    body = _body(response)
    assert body == _manifest_bytes(release)
    assert hashlib.sha256(body).hexdigest() == release.manifest_sha256
    assert len(body) == release.manifest_bytes
    lines = body.decode().splitlines()
    assert len(lines) == release.track_count == 8
    assert [json.loads(line)["track"] for line in lines] == [
        str(t)
        for t in ReleaseItem.objects.filter(release=release)
        .order_by("recording_id", "track__channel")
        .values_list("track__public_id", flat=True)
    ]
    assert response["Content-Type"] == "application/jsonl"
    assert response["ETag"] == f'"{release.manifest_sha256}"'
    assert response["X-Manifest-SHA256"] == release.manifest_sha256
    assert response["X-Manifest-Tracks"] == "8"
    assert response["X-Manifest-Bytes"] == str(release.manifest_bytes)
    assert response["Content-Disposition"] == 'attachment; filename="duplex-1.0.0.jsonl"'
    assert "Accept-Encoding" in response["Vary"]
    assert response["X-Release-Status"] == "current"
    assert "/datasets/duplex/1.0.0/errata.json>" in response["Link"]
    assert 'title="errata"' in response["Link"]
    assert "Content-Encoding" not in response
    assert "X-Manifest-Resumed-After" not in response


def test_the_csv_manifest_has_the_same_rows_and_columns(world: World) -> None:
    release = world.release
    response = licensee_client(world.licensee).get(_manifest_url(release, format="csv"))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["ETag"] == f'"{release.manifest_sha256}.csv"'
    assert response["Content-Disposition"] == 'attachment; filename="duplex-1.0.0.csv"'
    rows = list(csv.reader(io.StringIO(_body(response).decode())))
    assert rows[0] == list(MANIFEST_FIELDS)
    expected = [
        [_csv_value(line[name]) for name in MANIFEST_FIELDS]
        for line in map(json.loads, _manifest_bytes(release).decode().splitlines())
    ]
    assert rows[1:] == expected
    assert rows[1][MANIFEST_FIELDS_INDEX["isolated_at_source"]] in ("true", "false")


MANIFEST_FIELDS_INDEX = {name: index for index, name in enumerate(MANIFEST_FIELDS)}


@pytest.mark.parametrize(("fmt", "extension"), [("jsonl", "jsonl"), ("csv", "csv")])
def test_gzip_is_the_same_bytes_compressed(world: World, fmt: str, extension: str) -> None:
    release = world.release
    client = licensee_client(world.licensee)
    plain = _body(client.get(_manifest_url(release, format=fmt)))
    response = client.get(
        _manifest_url(release, format=fmt), HTTP_ACCEPT_ENCODING="br;q=1.0, gzip;q=0.8"
    )
    assert response.status_code == 200
    assert response["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in response["Vary"]
    assert response["ETag"] == f'W/"{release.manifest_sha256}.{extension}.gz"'
    assert response["Content-Disposition"] == f'attachment; filename="duplex-1.0.0.{extension}.gz"'
    assert gzip.decompress(_body(response)) == plain
    if fmt == "jsonl":
        assert hashlib.sha256(plain).hexdigest() == release.manifest_sha256


@pytest.mark.parametrize(
    ("header", "gzipped"),
    [
        ("gzip", True),
        ("deflate, gzip", True),
        ("x-gzip", True),
        ("*", True),
        ("gzip;q=0", False),
        ("*;q=0.5, gzip;q=0", False),
        ("identity", False),
        ("", False),
        ("gzip;q=abc", False),
        (";;,", False),
    ],
)
def test_accept_encoding_is_read_with_its_qualities(header: str, gzipped: bool) -> None:
    assert accepts_gzip(header) is gzipped


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_a_broken_download_resumes_after_its_last_track(world: World, fmt: str) -> None:
    release = world.release
    client = licensee_client(world.licensee)
    whole = _body(client.get(_manifest_url(release, format=fmt))).decode()
    json_lines = _manifest_bytes(release).decode().splitlines(keepends=True)
    lines = whole.splitlines(keepends=True)
    header = lines[:1] if fmt == "csv" else []
    rows = lines[len(header) :]
    assert len(rows) == len(json_lines) == 8
    for n in range(1, len(rows) + 1):
        last_track = json.loads(json_lines[n - 1])["track"]
        response = client.get(_manifest_url(release, format=fmt, after=last_track))
        assert response.status_code == 200
        assert "ETag" not in response
        assert response["X-Manifest-Resumed-After"] == last_track
        assert response["X-Manifest-SHA256"] == release.manifest_sha256
        rest = _body(response).decode()
        assert "".join(header + rows[:n]) + rest == whole, n
    # After the last line there is nothing left.
    assert rest == ""


def test_a_resumed_part_ignores_if_none_match_of_the_whole(world: World) -> None:
    release = world.release
    first = json.loads(_manifest_bytes(release).decode().splitlines()[0])["track"]
    response = licensee_client(world.licensee).get(
        _manifest_url(release, after=first), HTTP_IF_NONE_MATCH=f'"{release.manifest_sha256}"'
    )
    assert response.status_code == 200
    assert len(_body(response).decode().splitlines()) == 7


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"format": "xml"}, "format"),
        ({"after": "not-a-uuid"}, "after"),
        ({"format": "JSONL"}, "format"),
    ],
)
def test_malformed_manifest_parameters_are_bad_input(
    world: World, query: dict[str, str], field: str
) -> None:
    before = _counts()
    response = licensee_client(world.licensee).get(_manifest_url(world.release, **query))
    body = assert_problem(response, 400, "invalid_input")
    assert field in body["errors"]
    assert _counts() == before


def test_resuming_after_a_track_not_in_the_release_is_bad_input(world: World) -> None:
    # A real track recorded after the release was built, then an id of nothing.
    later = RecordingFactory(with_audio=False).tracks.first()
    assert later is not None
    before = _counts()
    client = licensee_client(world.licensee)
    for after in (str(later.public_id), UNKNOWN):
        for fmt in ("jsonl", "csv"):
            response = client.get(_manifest_url(world.release, after=after, format=fmt))
            body = assert_problem(response, 400, "after_not_in_manifest")
            assert body["field"] == "after"
            assert after in body["detail"]
    assert _counts() == before


def test_unknown_query_parameters_are_ignored(world: World) -> None:
    response = licensee_client(world.licensee).get(_manifest_url(world.release, page="2", x="y"))
    assert hashlib.sha256(_body(response)).hexdigest() == world.release.manifest_sha256


@pytest.mark.parametrize(
    ("query", "encoding", "etag"),
    [
        ({}, "", '"{sha}"'),
        ({"format": "csv"}, "", '"{sha}.csv"'),
        ({}, "gzip", 'W/"{sha}.jsonl.gz"'),
        ({"format": "csv"}, "gzip", 'W/"{sha}.csv.gz"'),
    ],
)
def test_if_none_match_answers_304_without_a_body(
    world: World, query: dict[str, str], encoding: str, etag: str
) -> None:
    release = world.release
    current = etag.format(sha=release.manifest_sha256)
    response = licensee_client(world.licensee).get(
        _manifest_url(release, **query), HTTP_IF_NONE_MATCH=current, HTTP_ACCEPT_ENCODING=encoding
    )
    assert response.status_code == 304
    assert not response.streaming
    assert response.content == b""
    assert response["ETag"] == current
    assert "Accept-Encoding" in response["Vary"]
    assert "Content-Encoding" not in response


def test_another_representations_etag_is_not_a_match(world: World) -> None:
    release = world.release
    client = licensee_client(world.licensee)
    response = client.get(
        _manifest_url(release, format="csv"), HTTP_IF_NONE_MATCH=f'"{release.manifest_sha256}"'
    )
    assert response.status_code == 200
    assert response["ETag"] == f'"{release.manifest_sha256}.csv"'
    _body(response)


def test_head_answers_the_headers_without_streaming(world: World) -> None:
    response = licensee_client(world.licensee).head(_manifest_url(world.release))
    assert response.status_code == 200
    assert not response.streaming
    assert response.content == b""
    assert response["ETag"] == f'"{world.release.manifest_sha256}"'
    assert response["X-Manifest-Tracks"] == "8"


def _taint(world: World) -> ReleaseErratum:
    return datasets.taint_release(
        release_id=world.release.pk,
        source_key=uuid.uuid4(),
        reason="training consent withdrawn",
        purpose="training",
        effective_at=timezone.now(),
        recording_ids=[world.calls[0].public_id],
    )


def test_a_tainted_release_still_serves_its_manifest_with_a_link_to_its_errata(
    world: World, client: Any
) -> None:
    erratum = _taint(world)
    release = Release.objects.get(pk=world.release.pk)
    assert release.status == "tainted"
    response = licensee_client(world.licensee).get(_manifest_url(release))
    assert response.status_code == 200
    assert hashlib.sha256(_body(response)).hexdigest() == release.manifest_sha256
    assert response["ETag"] == f'"{release.manifest_sha256}"'
    assert response["X-Release-Status"] == "tainted"
    errata_url = response["Link"].split(">", 1)[0].removeprefix("<")
    errata = client.get(urlsplit(errata_url).path).json()
    assert [e["statement"]["erratum"] for e in errata["errata"]] == [str(erratum.public_id)]


def test_the_manifest_is_read_from_the_primary_while_the_replica_lacks_the_build(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The replica's own connection cannot see this test's uncommitted rows: like a
    # replica that has not yet replayed the build, it must not be streamed from.
    used: list[str] = []

    class SpyConnections:
        def __getitem__(self, alias: str) -> Any:
            used.append(alias)
            return connections[alias]

    # The COPY runs through consent.exports.copy_chunks, on the connection it picks.
    monkeypatch.setattr(exports, "connections", SpyConnections())
    assert manifest.manifest_alias(world.release.pk) == "default"
    response = licensee_client(world.licensee).get(_manifest_url(world.release))
    assert hashlib.sha256(_body(response)).hexdigest() == world.release.manifest_sha256
    assert used == ["default"]


@pytest.mark.django_db(transaction=True, serialized_rollback=True, databases=["default", "replica"])
def test_the_manifest_streams_from_the_replica_once_it_holds_the_build(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    used: list[str] = []

    class SpyConnections:
        def __getitem__(self, alias: str) -> Any:
            used.append(alias)
            return connections[alias]

    # The COPY runs through consent.exports.copy_chunks, on the connection it picks.
    monkeypatch.setattr(exports, "connections", SpyConnections())
    response = licensee_client(world.licensee).get(_manifest_url(world.release))
    assert hashlib.sha256(_body(response)).hexdigest() == world.release.manifest_sha256
    assert used == ["replica"]
