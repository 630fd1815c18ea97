"""Property test: eligibility over purposes x states x jurisdictions x participants x
times, against a small independent model of the rules (an oracle)."""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass

import pytest
import time_machine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consent import services
from consent.eligibility import coverage_of, eligible_recordings, explain_eligibility
from consent.errors import ConsentAlreadyGiven, ConsentIsValid, ConsentNotRenewable
from consent.models import Purpose
from registry.models import Recording
from tests.consent.conftest import give, refuse, renew, withdraw
from tests.factories import RecordingFactory, SpeakerFactory

pytestmark = pytest.mark.django_db

BASE = datetime.datetime(2026, 1, 5, 9, 0, tzinfo=datetime.UTC)
PLACES = [("US-NY", "en"), ("US-IL", "en"), ("DE", "de"), ("JP", "ja")]
# Only Illinois' BIPA rule limits how long a consent lasts (biometric, 3 years).
RETENTION = {("US-IL", Purpose.BIOMETRIC): datetime.timedelta(days=1095)}
ACTIONS = {"give": give, "withdraw": withdraw, "renew": renew, "refuse": refuse}
VALID = {"given", "renewed"}


@dataclass
class Model:
    """The oracle: one speaker's consent for one purpose, by the documented rules."""

    state: str | None = None
    given_at: datetime.datetime | None = None
    expires_at: datetime.datetime | None = None

    def expired(self, t: datetime.datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= t

    def apply(self, action: str, t: datetime.datetime, retention) -> bool:
        """Apply an act; False where the service must refuse it."""
        valid_now = self.state in VALID and not self.expired(t)
        if action == "give":
            if valid_now:
                return False
            self.state, self.given_at = "given", t
            self.expires_at = t + retention if retention else None
        elif action == "renew":
            if self.state not in (*VALID, "expired"):
                return False
            self.given_at = self.given_at if valid_now else t
            self.state, self.expires_at = "renewed", (t + retention if retention else None)
        elif action == "withdraw":
            if self.state in VALID:
                self.state = "withdrawn"
        elif action == "refuse":
            if self.state in VALID:
                return False
            self.state = "refused"
        return True

    def valid_at(self, at: datetime.datetime) -> bool:
        return (
            self.state in VALID
            and self.given_at is not None
            and self.given_at <= at
            and not self.expired(at)
        )


acts = st.lists(st.tuples(st.integers(0, 1500), st.sampled_from(sorted(ACTIONS))), max_size=4)
participant = st.tuples(st.sampled_from(PLACES), acts, acts)  # place, recording acts, purpose acts


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    purpose=st.sampled_from([p for p in Purpose.values if p != Purpose.RECORDING]),
    participants=st.lists(participant, min_size=2, max_size=3),
    recorded_day=st.integers(0, 1500),
    query_after=st.integers(0, 1500),
    run_expiry_job=st.booleans(),
)
def test_eligibility_matches_the_rules(
    notices, purpose, participants, recorded_day, query_after, run_expiry_job
) -> None:
    speakers, models, timeline = [], [], []
    for index, ((jurisdiction, language), recording_acts, purpose_acts) in enumerate(participants):
        speaker = SpeakerFactory(jurisdiction=jurisdiction, preferred_language=language)
        speakers.append(speaker)
        models.append({Purpose.RECORDING: Model(), purpose: Model()})
        for p, chosen in ((Purpose.RECORDING, recording_acts), (purpose, purpose_acts)):
            for order, (day, action) in enumerate(chosen):
                # Distinct instants: day + participant + purpose + order, in seconds.
                t = BASE + datetime.timedelta(
                    days=day, seconds=index * 100 + (p == purpose) * 10 + order
                )
                timeline.append((t, index, p, action))

    for t, index, p, action in sorted(timeline, key=lambda item: item[0]):
        speaker = speakers[index]
        retention = RETENTION.get((speaker.jurisdiction, p))
        expected_ok = models[index][p].apply(action, t, retention)
        with time_machine.travel(t, tick=False):
            try:
                ACTIONS[action](speaker, p)
                assert expected_ok, f"{action} {p} at {t} should have been refused"
            except (ConsentAlreadyGiven, ConsentNotRenewable, ConsentIsValid):
                assert not expected_ok, f"{action} {p} at {t} should have been accepted"

    recorded_at = BASE + datetime.timedelta(days=recorded_day, hours=12)
    last = max([t for t, *_ in timeline] + [recorded_at])
    at = last + datetime.timedelta(days=query_after)
    with time_machine.travel(last + datetime.timedelta(seconds=1), tick=False):
        recording = RecordingFactory(
            external_ref=f"prop-{uuid.uuid4()}", speakers=speakers, recorded_at=recorded_at
        )
    if run_expiry_job:
        services.expire_consents(at=at)

    expected = all(
        m[Purpose.RECORDING].valid_at(at)
        and m[Purpose.RECORDING].given_at <= recorded_at
        and m[purpose].valid_at(at)
        for m in models
    )
    actual = eligible_recordings(purpose=purpose, at=at).filter(pk=recording.pk).exists()
    assert actual == expected
    explanation = explain_eligibility(recording, purpose, at=at)
    assert explanation.eligible == expected
    assert bool(explanation.reasons)
    # Recording-purpose eligibility follows the same rule with the purpose left out.
    expected_recording = all(
        m[Purpose.RECORDING].valid_at(at) and m[Purpose.RECORDING].given_at <= recorded_at
        for m in models
    )
    assert (
        eligible_recordings(purpose=Purpose.RECORDING, at=at).filter(pk=recording.pk).exists()
        == expected_recording
    )
    # The one-pass counter used for dataset cards obeys the same rules.
    coverage = coverage_of(Recording.objects.filter(pk=recording.pk), at=at)
    assert coverage.total == 1
    assert coverage.covered[purpose] == int(expected)
    assert coverage.covered[Purpose.RECORDING] == int(expected_recording)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    given_day=st.integers(0, 400),
    query_day=st.integers(0, 2500),
    renew_day=st.one_of(st.none(), st.integers(0, 2000)),
)
def test_biometric_consent_under_bipa_counts_until_its_expiry(
    notices, given_day, query_day, renew_day
) -> None:
    a, b = SpeakerFactory(jurisdiction="US-IL"), SpeakerFactory(jurisdiction="US-IL")
    model = Model()
    retention = RETENTION[("US-IL", Purpose.BIOMETRIC)]
    with time_machine.travel(BASE, tick=False):
        give(a, Purpose.RECORDING)
        give(b, Purpose.RECORDING)
    events = [(BASE + datetime.timedelta(days=given_day, seconds=1), "give")]
    if renew_day is not None:
        events.append((BASE + datetime.timedelta(days=given_day + renew_day, seconds=2), "renew"))
    for t, action in events:
        ok = model.apply(action, t, retention)
        with time_machine.travel(t, tick=False):
            try:
                ACTIONS[action](a, Purpose.BIOMETRIC)
                assert ok
            except ConsentNotRenewable:
                assert not ok
    with time_machine.travel(BASE, tick=False):
        give(b, Purpose.BIOMETRIC)
    created = max(events[-1][0], BASE + datetime.timedelta(hours=2))
    with time_machine.travel(created, tick=False):
        recording = RecordingFactory(
            external_ref=f"bipa-{uuid.uuid4()}",
            speakers=[a, b],
            recorded_at=BASE + datetime.timedelta(hours=1),
        )
    at = events[-1][0] + datetime.timedelta(days=query_day)
    b_valid = BASE + retention > at
    expected = model.valid_at(at) and b_valid
    actual = eligible_recordings(purpose=Purpose.BIOMETRIC, at=at).filter(pk=recording.pk).exists()
    assert actual == expected
    assert explain_eligibility(recording, Purpose.BIOMETRIC, at=at).eligible == expected
