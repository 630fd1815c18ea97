"""The withdrawal feed: the signed errata of every release licensed to me, in seq order,
polled with a cursor that never skips an erratum and never shows another licensee's."""

from __future__ import annotations

import base64
import datetime
import threading
import uuid

import pytest
import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.db import connection
from django.utils import timezone

from datasetcards import services as datasets
from datasetcards.models import FeedEntry, Release, ReleaseErratum
from registry import signing
from tests.api.helpers import (
    assert_problem,
    at_once,
    biometric_licensee,
    collector_client,
    licensee_client,
)
from tests.consent.conftest import withdraw
from tests.factories import LicenseeFactory
from tests.propagation.conftest import World, deliver_all

pytestmark = pytest.mark.django_db

FEED = "/api/v1/feed/"


def taint(world: World, release: Release | None = None) -> ReleaseErratum:
    """An erratum written as propagation writes one (each call its own)."""
    return datasets.taint_release(
        release_id=(release or world.release).pk,
        source_key=uuid.uuid4(),
        reason="withdrawal of training consent by a speaker",
        purpose="training",
        effective_at=timezone.now(),
        recording_ids=[world.calls[0].public_id],
    )


def seq(erratum: ReleaseErratum) -> int:
    """The erratum's position in the feed of the (one) licensee holding its release."""
    return FeedEntry.objects.get(erratum=erratum).seq


def test_a_withdrawal_reaches_my_feed_as_a_signed_entry(world: World) -> None:
    withdraw(world.a, "training")
    deliver_all()
    erratum = ReleaseErratum.objects.get(release=world.release)
    response = licensee_client(world.licensee).get(FEED)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["has_more"] is False
    assert body["next_cursor"] == seq(erratum)
    (entry,) = body["entries"]
    assert entry["seq"] == seq(erratum)
    assert entry["id"] == str(erratum.public_id)
    assert entry["release"] == str(world.release.public_id)
    assert (entry["dataset"], entry["version"]) == ("duplex", "1.0.0")
    assert entry["purpose"] == "training"
    assert entry["reason"] == "withdrawal of training consent by a speaker"
    assert sorted(entry["recording_ids"]) == sorted(str(r.public_id) for r in world.calls)
    assert len(entry["track_ids"]) == 2 * len(world.calls)
    assert entry["statement"] == erratum.statement()
    assert entry["signature"] == erratum.signature
    # Ids only: nothing about the speaker who withdrew.
    raw = response.content.decode()
    for value in (world.a.name, world.a.email, str(world.a.public_id)):
        assert value not in raw


def _jwks_key(client, kid: str) -> Ed25519PublicKey:
    keys = {k["kid"]: k for k in client.get("/.well-known/jwks.json").json()["keys"]}
    x = keys[kid]["x"]
    return Ed25519PublicKey.from_public_bytes(base64.urlsafe_b64decode(x + "=" * (-len(x) % 4)))


def test_entries_verify_with_the_jwks_key_and_fail_when_a_field_is_altered(
    world: World, client
) -> None:
    taint(world)
    (entry,) = licensee_client(world.licensee).get(FEED).json()["entries"]
    signature, statement = entry["signature"], entry["statement"]
    key = _jwks_key(client, signature["kid"])
    raw = base64.urlsafe_b64decode(signature["value"] + "=" * (-len(signature["value"]) % 4))
    key.verify(raw, rfc8785.dumps(statement))  # raises if it does not verify
    assert signing.verify(statement, signature)
    for field, forged in [
        ("recording_ids", []),
        ("purpose", "likeness"),
        ("release", str(uuid.uuid4())),
        ("effective_at", "2020-01-01T00:00:00+00:00"),
    ]:
        with pytest.raises(InvalidSignature):
            key.verify(raw, rfc8785.dumps({**statement, field: forged}))
        assert not signing.verify({**statement, field: forged}, signature)


def test_polling_after_the_cursor_returns_exactly_the_newer_errata(world: World) -> None:
    client = licensee_client(world.licensee)
    first, second = taint(world), taint(world)
    assert seq(first) < seq(second)
    page = client.get(FEED).json()
    assert [e["id"] for e in page["entries"]] == [str(first.public_id), str(second.public_id)]
    assert page["next_cursor"] == seq(second)
    third = taint(world)
    assert seq(third) > seq(second)
    newer = client.get(FEED, {"after": page["next_cursor"]}).json()
    assert [e["id"] for e in newer["entries"]] == [str(third.public_id)]
    assert (newer["next_cursor"], newer["has_more"]) == (seq(third), False)
    # Nothing new: no entries, and the same cursor to poll with next time.
    idle = client.get(FEED, {"after": newer["next_cursor"]}).json()
    assert idle == {"entries": [], "next_cursor": seq(third), "has_more": False}


def test_a_page_holds_at_most_limit_entries_and_says_more_are_waiting(world: World) -> None:
    errata = [taint(world) for _ in range(3)]
    client = licensee_client(world.licensee)
    page = client.get(FEED, {"limit": 2}).json()
    assert [e["seq"] for e in page["entries"]] == [seq(errata[0]), seq(errata[1])]
    assert (page["next_cursor"], page["has_more"]) == (seq(errata[1]), True)
    rest = client.get(FEED, {"limit": 2, "after": page["next_cursor"]}).json()
    assert [e["seq"] for e in rest["entries"]] == [seq(errata[2])]
    assert rest["has_more"] is False


def test_another_licensees_errata_are_not_in_my_feed(world: World) -> None:
    other = biometric_licensee(world)
    mine, theirs = taint(world), taint(world, world.biometric_release)
    assert [e["id"] for e in licensee_client(world.licensee).get(FEED).json()["entries"]] == [
        str(mine.public_id)
    ]
    assert [e["id"] for e in licensee_client(other).get(FEED).json()["entries"]] == [
        str(theirs.public_id)
    ]
    assert licensee_client(LicenseeFactory()).get(FEED).json()["entries"] == []


def test_a_license_that_has_ended_still_shows_its_releases_errata(world: World) -> None:
    today = timezone.now().date()
    former = biometric_licensee(
        world,
        starts_on=today - datetime.timedelta(days=400),
        ends_on=today - datetime.timedelta(days=30),
    )
    erratum = taint(world, world.biometric_release)
    entries = licensee_client(former).get(FEED).json()["entries"]
    assert [e["id"] for e in entries] == [str(erratum.public_id)]


def test_an_erratum_without_a_feed_position_is_left_out(world: World) -> None:
    ReleaseErratum.objects.create(
        release=world.release,
        reason="written before the feed existed",
        recording_ids=[],
        track_ids=[],
    )
    listed = taint(world)
    entries = licensee_client(world.licensee).get(FEED).json()["entries"]
    assert [e["id"] for e in entries] == [str(listed.public_id)]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"after": "-1"}, "after"),
        ({"after": "latest"}, "after"),
        ({"after": str(2**63)}, "after"),
        ({"limit": "0"}, "limit"),
        ({"limit": "1001"}, "limit"),
        ({"limit": "ten"}, "limit"),
    ],
)
def test_malformed_feed_queries_are_bad_input(world: World, query, field) -> None:
    body = assert_problem(licensee_client(world.licensee).get(FEED, query), 400, "invalid_input")
    assert list(body["errors"]) == [field]


def test_unknown_query_parameters_are_ignored(world: World) -> None:
    erratum = taint(world)
    response = licensee_client(world.licensee).get(FEED, {"since": "yesterday", "x": "1"})
    assert [e["id"] for e in response.json()["entries"]] == [str(erratum.public_id)]


def test_the_feed_needs_a_licensee_token_with_feed_read(world: World, client) -> None:
    assert_problem(client.get(FEED), 401, "not_authenticated")
    reader = licensee_client(world.licensee, scopes=["datasets:read"])
    assert_problem(reader.get(FEED), 403, "permission_denied")
    assert_problem(collector_client().get(FEED), 403, "permission_denied")


def test_a_feed_page_takes_a_fixed_number_of_queries(
    world: World, django_assert_max_num_queries
) -> None:
    for _ in range(25):
        taint(world)
    client = licensee_client(world.licensee)
    client.get(FEED)  # the token's last use is recorded once a minute, not per request
    with django_assert_max_num_queries(2):
        response = client.get(FEED, {"limit": 1000})
    assert len(response.json()["entries"]) == 25


def test_errata_of_a_release_licensed_after_my_cursor_still_reach_me(world: World) -> None:
    """An erratum written on release B before I held B reaches my feed when B is
    licensed to me, after anything my cursor has already passed."""
    licensee = biometric_licensee(world)
    older = taint(world)  # on the training release, which B does not hold yet
    client = licensee_client(licensee)
    cursor = client.get(FEED).json()["next_cursor"]
    taint(world, world.biometric_release)
    cursor = client.get(FEED, {"after": cursor}).json()["next_cursor"]
    # B is granted the training release now: its old erratum comes after the cursor.
    datasets.grant_license(
        licensee=licensee,
        dataset=world.training,
        purposes_allowed=["training"],
        derived_model_action="none",
        starts_on=timezone.now().date(),
        releases=[world.release],
    )
    late = client.get(FEED, {"after": cursor}).json()
    assert [e["id"] for e in late["entries"]] == [str(older.public_id)]
    assert late["entries"][0]["seq"] > cursor
    # Linking the same release again (from either side) adds nothing.
    world.release.licenses.add(*world.release.licenses.all())
    assert client.get(FEED, {"after": late["next_cursor"]}).json()["entries"] == []


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_reader_never_sees_a_later_entry_before_an_earlier_one(world: World) -> None:
    """Errata written at once on two releases by concurrent transactions while a reader
    polls: every read holds a prefix of the final feed (had an entry with a lower seq
    committed after one with a higher seq, a cursor would have skipped it)."""
    world.license.releases.add(world.biometric_release)
    reads: list[set[int]] = []
    stop = threading.Event()

    def reader() -> None:
        try:
            while not stop.is_set():
                seen = FeedEntry.objects.filter(licensee=world.licensee).values_list("seq")
                reads.append({seq for (seq,) in seen})
        finally:
            connection.close()

    polling = threading.Thread(target=reader)
    polling.start()
    try:
        releases = [world.release, world.biometric_release] * 4
        written = at_once([lambda r=r: taint(world, r) for r in releases])
    finally:
        stop.set()
        polling.join(10)
    assert len(written) == 8
    final = set(FeedEntry.objects.filter(licensee=world.licensee).values_list("seq", flat=True))
    assert len(final) == 8
    assert len(reads) > 1
    for seen in reads:
        assert seen == {seq for seq in final if seen and seq <= max(seen)}, (seen, final)
