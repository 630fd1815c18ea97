"""The licensee eligibility query: what a licensee may use for a purpose now (the consent
rule at request time, within the releases its licenses in force grant for the purpose),
its filters and pages, and one recording's explanation without personal data."""

from __future__ import annotations

import base64
import datetime
from dataclasses import dataclass
from typing import Any

import pytest
import time_machine
from django.apps import apps
from django.urls import reverse
from django.utils import timezone

from consent.eligibility import eligible_recordings, eligible_tracks
from datasetcards import services as datasets
from datasetcards.models import Release, ReleaseItem
from registry.models import Licensee, Recording, Speaker, Track
from tests.api.helpers import api_client, assert_problem, collector_client, licensee_client
from tests.consent.conftest import give_all, withdraw
from tests.factories import LicenseeFactory, RecordingFactory, SpeakerFactory
from tests.propagation.conftest import built_release, make_dataset

pytestmark = pytest.mark.django_db

TRACKS = "api:eligible-tracks"
RECORDINGS = "api:eligible-recordings"
EVERYTHING = ("recording", "training", "redistribution")


@dataclass
class Corpus:
    now: datetime.datetime
    speakers: list[Speaker]
    r1: Recording  # s0+s1, en, US-IL, 10 min, 16 kHz, isolated, 1 h ago
    r2: Recording  # s0+s1, ja, JP, 20 min, 48 kHz, separated afterwards, 3 h ago
    r3: Recording  # s2+s3, en, DE, 5 min; s2 withdraws training after the releases
    r4: Recording  # s4+s5, en, US-IL, 15 min; s4 never gave training
    r5: Recording  # s6+s7: recorded after A's releases, only in B's release
    mine: Release  # A: training + redistribution (r1, r2, r3)
    redistributable: Release  # A: redistribution only (r1..r4)
    theirs: Release  # B's (r1, r2, r3, r5)
    a: Licensee
    b: Licensee


_dataset = make_dataset
_release = built_release


def _license(licensee: Licensee, release: Release, purposes: list[str], **terms: Any) -> None:
    terms.setdefault("starts_on", timezone.now().date())
    datasets.grant_license(
        licensee=licensee,
        dataset=release.dataset,
        purposes_allowed=purposes,
        derived_model_action="retrain",
        releases=[release],
        **terms,
    )


@pytest.fixture
def corpus(notices) -> Corpus:
    now = timezone.now()
    speakers = [SpeakerFactory() for _ in range(8)]
    with time_machine.travel(now - datetime.timedelta(hours=5)):
        for index, speaker in enumerate(speakers):
            give_all(speaker, *(("recording", "redistribution") if index == 4 else EVERYTHING))

    def call(pair: int, hours: float, **facts: Any) -> Recording:
        facts = {"language": "en", "jurisdiction": "US-IL", "duration_ms": 600_000, **facts}
        return RecordingFactory(
            speakers=speakers[2 * pair : 2 * pair + 2],
            recorded_at=now - datetime.timedelta(hours=hours),
            **facts,
        )

    r1 = call(0, 1)
    r2 = call(
        0,
        3,
        language="ja",
        jurisdiction="JP",
        duration_ms=1_200_000,
        sample_rate_hz=48_000,
        isolated_at_source=False,
    )
    r3 = call(1, 2, jurisdiction="DE", duration_ms=300_000)
    r4 = call(2, 1, duration_ms=900_000)
    mine = _release(_dataset("duplex", ["training", "redistribution"]))
    redistributable = _release(_dataset("redistributable", ["redistribution"]))
    r5 = call(3, 1)
    theirs = _release(_dataset("theirs", ["training", "redistribution"]))
    a, b = LicenseeFactory(), LicenseeFactory()
    _license(a, mine, ["training", "redistribution"])
    _license(a, redistributable, ["redistribution"])
    _license(b, theirs, ["training", "redistribution"])
    withdraw(speakers[2], "training")  # after every release was built
    return Corpus(now, speakers, r1, r2, r3, r4, r5, mine, redistributable, theirs, a, b)


def _get(client: Any, name: str, **params: Any) -> Any:
    return client.get(reverse(name), params)


def _track_ids(*recordings: Recording) -> list[str]:
    return sorted(
        str(t)
        for t in Track.objects.filter(recording__in=recordings).values_list("public_id", flat=True)
    )


def _ids(response: Any, key: str) -> list[str]:
    assert response.status_code == 200, response.content
    return sorted(item[key] for item in response.json()["results"])


def _rec_ids(*recordings: Recording) -> list[str]:
    return sorted(str(r.public_id) for r in recordings)


def _row_counts() -> dict[str, int]:
    return {m._meta.label: m.objects.count() for m in apps.get_models() if m._meta.managed}


# --- the answer ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("purpose", "expected"),
    [("training", ("r1", "r2")), ("redistribution", ("r1", "r2", "r3", "r4"))],
)
def test_eligible_tracks_are_the_consent_rule_restricted_to_releases_licensed_for_the_purpose(
    corpus: Corpus, purpose: str, expected: tuple[str, ...]
) -> None:
    licensed = [corpus.mine] if purpose == "training" else [corpus.mine, corpus.redistributable]
    rule = eligible_tracks(purpose=purpose).filter(
        recording__in=ReleaseItem.objects.filter(release__in=licensed).values("recording_id")
    )
    wanted = [getattr(corpus, name) for name in expected]
    assert sorted(str(t.public_id) for t in rule) == _track_ids(*wanted)
    client = licensee_client(corpus.a)
    assert _ids(_get(client, TRACKS, purpose=purpose), "track") == _track_ids(*wanted)
    recordings = _get(client, RECORDINGS, purpose=purpose)
    assert _ids(recordings, "recording") == _rec_ids(*wanted)
    rule_recordings = eligible_recordings(purpose=purpose).filter(
        pk__in=ReleaseItem.objects.filter(release__in=licensed).values("recording_id")
    )
    assert _ids(recordings, "recording") == _rec_ids(*rule_recordings)


def test_an_item_carries_the_manifest_facts_and_my_releases_holding_it(corpus: Corpus) -> None:
    client = licensee_client(corpus.a)
    body = _get(client, TRACKS, purpose="redistribution", language="ja").json()
    first = Track.objects.select_related("speaker").get(recording=corpus.r2, channel=0)
    item = next(i for i in body["results"] if i["track"] == str(first.public_id))
    both = sorted([str(corpus.mine.public_id), str(corpus.redistributable.public_id)])
    assert item == {
        "track": str(first.public_id),
        "recording": str(corpus.r2.public_id),
        "channel": 0,
        "speaker": str(first.speaker.public_id),
        "recorded_at": corpus.r2.recorded_at.isoformat().replace("+00:00", "Z"),
        "duration_ms": 1_200_000,
        "sample_rate_hz": 48_000,
        "channels": 2,
        "language": "ja",
        "jurisdiction": "JP",
        "isolated_at_source": False,
        "audio_sha256": corpus.r2.audio_sha256,
        "releases": both,
    }
    only_r4 = _get(client, RECORDINGS, purpose="redistribution", min_duration_ms=900_000)
    r4 = next(r for r in only_r4.json()["results"] if r["recording"] == str(corpus.r4.public_id))
    assert r4["releases"] == [str(corpus.redistributable.public_id)]
    assert [(t["channel"], t["speaker"]) for t in r4["tracks"]] == [
        (0, str(corpus.speakers[4].public_id)),
        (1, str(corpus.speakers[5].public_id)),
    ]


def test_a_withdrawal_after_the_release_removes_the_recording_at_once(corpus: Corpus) -> None:
    client = licensee_client(corpus.a)
    assert _ids(_get(client, RECORDINGS, purpose="training"), "recording") == _rec_ids(
        corpus.r1, corpus.r2
    )
    withdraw(corpus.speakers[1], "training")  # on r1 and r2
    assert _ids(_get(client, RECORDINGS, purpose="training"), "recording") == []
    assert _ids(_get(client, TRACKS, purpose="training"), "track") == []
    # Other purposes are untouched: each is withdrawn on its own.
    assert str(corpus.r1.public_id) in _ids(
        _get(client, RECORDINGS, purpose="redistribution"), "recording"
    )


def test_release_narrows_the_answer_and_lists_only_that_release(corpus: Corpus) -> None:
    client = licensee_client(corpus.a)
    response = _get(
        client, RECORDINGS, purpose="redistribution", release=str(corpus.mine.public_id)
    )
    assert _ids(response, "recording") == _rec_ids(corpus.r1, corpus.r2, corpus.r3)
    assert {tuple(r["releases"]) for r in response.json()["results"]} == {
        (str(corpus.mine.public_id),)
    }


def test_a_purpose_no_license_of_mine_allows_is_403_purpose_not_licensed(corpus: Corpus) -> None:
    client = licensee_client(corpus.a)
    for name in (TRACKS, RECORDINGS):
        assert_problem(_get(client, name, purpose="biometric"), 403, "purpose_not_licensed")
        body = assert_problem(
            _get(client, name, purpose="training", release=str(corpus.redistributable.public_id)),
            403,
            "purpose_not_licensed",
        )
        assert "training" in body["detail"]


def test_a_license_counts_only_during_its_term(corpus: Corpus) -> None:
    today = timezone.now().date()
    later, ended = LicenseeFactory(), LicenseeFactory()
    _license(later, corpus.mine, ["training"], starts_on=today + datetime.timedelta(days=1))
    _license(ended, corpus.mine, ["training"], ends_on=today + datetime.timedelta(days=2))
    assert_problem(
        _get(licensee_client(later), TRACKS, purpose="training"), 403, "purpose_not_licensed"
    )
    client = licensee_client(ended)
    assert _ids(_get(client, RECORDINGS, purpose="training"), "recording") == _rec_ids(
        corpus.r1, corpus.r2
    )
    with time_machine.travel(timezone.now() + datetime.timedelta(days=3)):
        assert_problem(_get(client, TRACKS, purpose="training"), 403, "purpose_not_licensed")


def test_a_withdrawn_release_grants_nothing(corpus: Corpus) -> None:
    Release.objects.filter(pk=corpus.redistributable.pk).update(status="withdrawn")
    client = licensee_client(corpus.a)
    response = _get(client, RECORDINGS, purpose="redistribution")
    assert _ids(response, "recording") == _rec_ids(corpus.r1, corpus.r2, corpus.r3)
    assert {tuple(r["releases"]) for r in response.json()["results"]} == {
        (str(corpus.mine.public_id),)
    }
    only = _get(
        client, TRACKS, purpose="redistribution", release=str(corpus.redistributable.public_id)
    )
    assert _ids(only, "track") == []


# --- filters ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"language": "ja"}, ("r2",)),
        ({"language": "en,ja"}, ("r1", "r2", "r3", "r4")),
        ({"jurisdiction": "DE"}, ("r3",)),
        ({"jurisdiction": "US-IL,JP"}, ("r1", "r2", "r4")),
        ({"min_duration_ms": "600000"}, ("r1", "r2", "r4")),
        ({"max_duration_ms": "600000"}, ("r1", "r3")),
        ({"min_duration_ms": "600001", "max_duration_ms": "1000000"}, ("r4",)),
        ({"sample_rate_hz": "48000"}, ("r2",)),
        ({"sample_rate_hz": "16000,44100"}, ("r1", "r3", "r4")),
        ({"isolated_at_source": "false"}, ("r2",)),
        ({"isolated_at_source": "true"}, ("r1", "r3", "r4")),
        ({"language": "en", "jurisdiction": "US-IL"}, ("r1", "r4")),
        ({"unknown": "ignored", "ordering": "-id"}, ("r1", "r2", "r3", "r4")),
    ],
)
def test_each_filter_narrows_tracks_and_recordings(
    corpus: Corpus, params: dict[str, str], expected: tuple[str, ...]
) -> None:
    wanted = [getattr(corpus, name) for name in expected]
    client = licensee_client(corpus.a)
    tracks = _get(client, TRACKS, purpose="redistribution", **params)
    assert _ids(tracks, "track") == _track_ids(*wanted)
    recordings = _get(client, RECORDINGS, purpose="redistribution", **params)
    assert _ids(recordings, "recording") == _rec_ids(*wanted)


def test_recorded_after_is_inclusive_and_recorded_before_exclusive(corpus: Corpus) -> None:
    client = licensee_client(corpus.a)

    def answer(**params: str) -> list[str]:
        return _ids(_get(client, RECORDINGS, purpose="redistribution", **params), "recording")

    r3_at = corpus.r3.recorded_at.isoformat()  # two hours ago
    assert answer(recorded_after=r3_at) == _rec_ids(corpus.r1, corpus.r3, corpus.r4)
    assert answer(recorded_before=r3_at) == _rec_ids(corpus.r2)
    naive_utc = corpus.r3.recorded_at.replace(tzinfo=None).isoformat()
    assert answer(recorded_after=naive_utc) == _rec_ids(corpus.r1, corpus.r3, corpus.r4)
    in_tokyo = corpus.r3.recorded_at.astimezone(datetime.timezone(datetime.timedelta(hours=9)))
    assert answer(recorded_before=in_tokyo.isoformat()) == _rec_ids(corpus.r2)
    # Offsets PostgreSQL would refuse (beyond 15:59) are valid ISO 8601: made UTC first.
    far = corpus.r3.recorded_at.astimezone(datetime.timezone(-datetime.timedelta(hours=18)))
    assert answer(recorded_before=far.isoformat()) == _rec_ids(corpus.r2)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "purpose"),
        ({"purpose": "flying"}, "purpose"),
        ({"purpose": "training", "release": "not-a-uuid"}, "release"),
        ({"purpose": "training", "language": "EN"}, "language"),
        ({"purpose": "training", "language": "en,x!"}, "language"),
        ({"purpose": "training", "jurisdiction": "us-il"}, "jurisdiction"),
        ({"purpose": "training", "sample_rate_hz": "16000,fast"}, "sample_rate_hz"),
        ({"purpose": "training", "sample_rate_hz": "99999999999"}, "sample_rate_hz"),
        ({"purpose": "training", "min_duration_ms": "-1"}, "min_duration_ms"),
        ({"purpose": "training", "min_duration_ms": "1.5"}, "min_duration_ms"),
        ({"purpose": "training", "max_duration_ms": "1" + "0" * 30}, "max_duration_ms"),
        ({"purpose": "training", "isolated_at_source": "maybe"}, "isolated_at_source"),
        ({"purpose": "training", "recorded_after": "yesterday"}, "recorded_after"),
        ({"purpose": "training", "recorded_before": "2026-13-01T00:00:00Z"}, "recorded_before"),
        # Year 0 once in UTC: out of range, not a database error.
        ({"purpose": "training", "recorded_after": "0001-01-01T00:00:00+01:00"}, "recorded_after"),
        ({"purpose": "training", "cursor": "not-a-cursor"}, "cursor"),
        # A well-formed cursor whose position is not one of ours (hand-made).
        ({"purpose": "training", "cursor": base64.b64encode(b"p=garbage").decode()}, "cursor"),
        ({"purpose": "training", "language": ",".join(["en"] * 101)}, "language"),
    ],
)
def test_bad_input_is_400_with_errors_per_field_and_changes_nothing(
    corpus: Corpus, params: dict[str, str], field: str
) -> None:
    client = licensee_client(corpus.a)
    for name in (TRACKS, RECORDINGS):
        before = _row_counts()
        body = assert_problem(_get(client, name, **params), 400, "invalid_input")
        assert list(body["errors"]) == [field], body
        assert body["errors"][field]
        assert all(isinstance(m, str) for m in body["errors"][field])
        assert _row_counts() == before


# --- pages -----------------------------------------------------------------------------


def test_pages_walk_every_item_exactly_once(corpus: Corpus) -> None:
    client = licensee_client(corpus.a)
    for name, key, size, expected in (
        (TRACKS, "track", 3, _track_ids(corpus.r1, corpus.r2, corpus.r3, corpus.r4)),
        (RECORDINGS, "recording", 1, _rec_ids(corpus.r1, corpus.r2, corpus.r3, corpus.r4)),
    ):
        seen: list[str] = []
        response = _get(client, name, purpose="redistribution", page_size=size)
        pages = 0
        while True:
            body = response.json()
            assert len(body["results"]) <= size
            seen += [item[key] for item in body["results"]]
            pages += 1
            if not body["next"]:
                break
            response = client.get(body["next"])
        assert sorted(seen) == expected
        assert len(seen) == len(set(seen))
        assert pages == -(-len(expected) // size)
        assert seen == sorted(seen)  # keyset order: public ids ascending


def test_a_page_costs_the_same_few_queries_whatever_its_size(
    corpus: Corpus, django_assert_max_num_queries
) -> None:
    client = licensee_client(corpus.a)
    _get(client, TRACKS, purpose="redistribution")  # token's last use recorded
    # token, licenses and releases, the page (+ its tracks, for recordings); plus the
    # page's transaction: savepoint, SET LOCAL (no parallel workers), release
    with django_assert_max_num_queries(3 + 3):
        response = _get(client, TRACKS, purpose="redistribution", page_size=1000)
    assert len(response.json()["results"]) == 8
    with django_assert_max_num_queries(4 + 3):
        response = _get(client, RECORDINGS, purpose="redistribution", page_size=1000)
    assert len(response.json()["results"]) == 4


# --- who may ask -----------------------------------------------------------------------


def _explain_url(recording: Recording) -> str:
    return reverse("api:recording-eligibility", kwargs={"recording_id": recording.public_id})


@pytest.mark.parametrize("endpoint", ["tracks", "recordings", "explain"])
def test_refusals_are_401_and_403_problems(corpus: Corpus, endpoint: str) -> None:
    url = {
        "tracks": reverse(TRACKS),
        "recordings": reverse(RECORDINGS),
        "explain": _explain_url(corpus.r1),
    }[endpoint]
    params = {"purpose": "training"}
    assert_problem(api_client().get(url, params), 401, "not_authenticated")
    feed_only = licensee_client(corpus.a, scopes=["feed:read"])
    assert_problem(feed_only.get(url, params), 403, "permission_denied")
    assert_problem(collector_client().get(url, params), 403, "permission_denied")


def test_another_licensees_release_is_404_like_an_unknown_one(corpus: Corpus) -> None:
    a, b = licensee_client(corpus.a), licensee_client(corpus.b)
    unknown = "00000000-0000-4000-8000-000000000000"
    for name in (TRACKS, RECORDINGS):
        hidden = assert_problem(
            _get(a, name, purpose="training", release=str(corpus.theirs.public_id)),
            404,
            "not_found",
        )
        assert hidden == assert_problem(
            _get(a, name, purpose="training", release=unknown), 404, "not_found"
        )
        assert_problem(
            _get(b, name, purpose="training", release=str(corpus.mine.public_id)), 404, "not_found"
        )
    # B sees its own release's recordings, r5 included, and nothing of A's releases only.
    assert _ids(_get(b, RECORDINGS, purpose="training"), "recording") == _rec_ids(
        corpus.r1, corpus.r2, corpus.r5
    )


def test_another_licensees_recording_is_404_like_an_unknown_one(corpus: Corpus) -> None:
    a, b = licensee_client(corpus.a), licensee_client(corpus.b)
    params = {"purpose": "training"}
    hidden = assert_problem(b.get(_explain_url(corpus.r4), params), 404, "not_found")
    unknown = reverse(
        "api:recording-eligibility", kwargs={"recording_id": "00000000-0000-4000-8000-000000000000"}
    )
    assert hidden == assert_problem(b.get(unknown, params), 404, "not_found")
    assert_problem(a.get(_explain_url(corpus.r5), params), 404, "not_found")


# --- one recording explained -------------------------------------------------------------


def test_the_explanation_gives_reasons_per_participant_and_my_licenses(corpus: Corpus) -> None:
    response = licensee_client(corpus.a).get(_explain_url(corpus.r3), {"purpose": "training"})
    assert response.status_code == 200, response.content
    body = response.json()
    withdrawer, partner = corpus.speakers[2], corpus.speakers[3]
    assert body["recording"] == str(corpus.r3.public_id)
    assert body["purpose"] == "training"
    assert (body["eligible"], body["consent_eligible"], body["license_allows_purpose"]) == (
        False,
        False,
        True,
    )
    today = timezone.now().date().isoformat()
    assert body["reasons"] == [f"speaker on channel 0 withdrew training consent on {today}"]
    assert [
        (p["channel"], p["speaker"], p["recording_consent_ok"], p["purpose_ok"])
        for p in body["participants"]
    ] == [
        (0, str(withdrawer.public_id), True, False),
        (1, str(partner.public_id), True, True),
    ]
    assert [
        (g["release"], g["dataset"], g["in_force"], g["purposes_allowed"]) for g in body["licenses"]
    ] == [
        (str(corpus.mine.public_id), "duplex", True, ["training", "redistribution"]),
        (str(corpus.redistributable.public_id), "redistributable", True, ["redistribution"]),
    ]


def test_eligible_needs_both_consent_and_a_license_allowing_the_purpose(corpus: Corpus) -> None:
    client = licensee_client(corpus.a)
    yes = client.get(_explain_url(corpus.r1), {"purpose": "redistribution"}).json()
    assert (yes["eligible"], yes["reasons"]) == (
        True,
        ["every participant's consent covers redistribution"],
    )
    # r4 is held only through a license for redistribution: training is not the
    # licensee's to ask about (nor biometric, which no license allows), whatever the
    # speakers said.
    for recording, purpose in ((corpus.r4, "training"), (corpus.r1, "biometric")):
        refused = client.get(_explain_url(recording), {"purpose": purpose})
        body = assert_problem(refused, 403, "purpose_not_licensed")
        assert "reasons" not in body
        assert "participants" not in body


def test_no_personal_data_of_any_speaker_is_in_any_answer(corpus: Corpus) -> None:
    client = licensee_client(corpus.a)
    bodies = [
        client.get(_explain_url(recording), {"purpose": purpose}).content.decode()
        for recording in (corpus.r1, corpus.r3, corpus.r4)
        for purpose in ("training", "redistribution")
    ]
    bodies += [
        _get(client, name, purpose="redistribution").content.decode()
        for name in (TRACKS, RECORDINGS)
    ]
    for speaker in corpus.speakers[:6]:
        speaker.refresh_from_db()
        for secret in (speaker.name, speaker.email, speaker.phone, "1990-05-17", "17/05/1990"):
            assert secret
            assert all(secret not in body for body in bodies), secret
        assert any(str(speaker.public_id) in body for body in bodies)


@pytest.mark.parametrize("params", [{}, {"purpose": "cloning"}])
def test_the_explanation_needs_a_known_purpose(corpus: Corpus, params: dict[str, str]) -> None:
    client = licensee_client(corpus.a)
    before = _row_counts()
    response = client.get(_explain_url(corpus.r1), params)
    assert list(assert_problem(response, 400, "invalid_input")["errors"]) == ["purpose"]
    assert _row_counts() == before


def test_the_schema_documents_every_filter_and_the_explanation(client) -> None:
    paths = client.get("/api/v1/schema/", HTTP_ACCEPT="application/json").json()["paths"]
    for path in ("/api/v1/eligibility/tracks/", "/api/v1/eligibility/recordings/"):
        names = {p["name"] for p in paths[path]["get"]["parameters"]}
        assert names == {
            "purpose",
            "release",
            "language",
            "jurisdiction",
            "sample_rate_hz",
            "min_duration_ms",
            "max_duration_ms",
            "isolated_at_source",
            "recorded_after",
            "recorded_before",
            "cursor",
            "page_size",
        }
    explain = paths["/api/v1/recordings/{recording_id}/eligibility/"]["get"]
    assert {p["name"] for p in explain["parameters"]} == {"recording_id", "purpose"}
    assert set(explain["responses"]) == {"200", "400", "401", "403", "404", "429"}
