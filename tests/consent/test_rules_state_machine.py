"""The consent rules as a state machine (issue 18, "Proof").

Hypothesis drives random sequences of acts (give, refuse, withdraw, renew per purpose
per speaker, for all recordings or for one call), sessions, invitation pages, age
answers, erasure requests, notice publications, the passing of time and the expiry job
through the real doors: ``consent.services``, the collection API with a collector token
and the invitation page with the Django test client. A small reference model
(``tests.consent.rules_model``: plain Python, written from the README's rules) says what
each act must do; after every step the registry is read back through the real selectors
and the API (each speaker's state per purpose, who must re-consent, each session's
clearance, each recording's eligibility per purpose) and any divergence fails the test.

Each example runs inside its own atomic block rolled back at teardown (marked as a test
case's block, so the services' ``atomic(durable=True)`` may open inside it), on a frozen
clock that moves forward five seconds per step, so examples never see each other.
"""

from __future__ import annotations

import datetime
import os
import re
import uuid
from collections import Counter
from typing import Any

import pytest
import time_machine
from django.core.cache import cache
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from consent import services
from consent.eligibility import eligible_recordings, explain_eligibility
from consent.models import (
    Consent,
    ConsentEvent,
    ConsentNotice,
    EvidenceMethod,
    Purpose,
    RecordingSession,
)
from consent.selectors import cleared_to_record, needs_reconsent, session_clearance
from registry import services as catalogue
from registry.errors import RegistryError
from registry.models import AgeVerificationMethod, Recording, Speaker
from tests.api.helpers import collector_client
from tests.consent.conftest import publish
from tests.consent.rules_model import (
    EXPLICIT,
    PLACES,
    PURPOSES,
    WRITTEN,
    Outcome,
    RulesModel,
    SpeakerModel,
)
from tests.factories import SpeakerFactory

# The rules issue 18 adds, each behind its own switch in the model: an under-age answer
# closes that invitation for good; erasure closes the speaker's invitations to calls
# still waiting; an act cannot predate its request nor its notice; a notice about
# another purpose is refused as such. Turn one off to run the machine on a tree
# without that gate.
MODEL_UNDER_AGE_CLOSES_INVITATION = True
MODEL_ERASURE_CLOSES_INVITATIONS = True
MODEL_ORDER_GATE = True
MODEL_NOTICE_PURPOSE_GATE = True
# Strict input: an unknown member in an API body is refused (400 unknown_members).
MODEL_STRICT_API_INPUT = True

# Findings of this machine on existing behaviour, fixed with it: a consent past its expiry
# (BIPA's three years) counted as "given" for refusing and withdrawing until the hourly
# expiry job ran (an act on it now first records the expiry); a call's recording consent
# could be renewed after the call was recorded.
MODEL_LAPSED_CONSENT_IS_NOT_GIVEN = True
MODEL_NO_RENEWAL_OF_A_CALLS_RECORDING_AFTER_IT = True

FLAGS = {
    "lapsed_consent_is_not_given": MODEL_LAPSED_CONSENT_IS_NOT_GIVEN,
    "no_renewal_of_a_calls_recording_after_it": MODEL_NO_RENEWAL_OF_A_CALLS_RECORDING_AFTER_IT,
    "under_age_closes_invitation": MODEL_UNDER_AGE_CLOSES_INVITATION,
    "erasure_closes_invitations": MODEL_ERASURE_CLOSES_INVITATIONS,
    "order_gate": MODEL_ORDER_GATE,
    "notice_purpose_gate": MODEL_NOTICE_PURPOSE_GATE,
}

# Bounded for the suite: 10 derandomized sequences of up to 50 steps run in about 45 s on
# two busy cores. Raise through the environment to explore further, e.g.
# RULES_MACHINE_EXAMPLES=200 RULES_MACHINE_RANDOM=1 RULES_MACHINE_SHRINK=0.
MACHINE_SETTINGS = settings(
    max_examples=int(os.environ.get("RULES_MACHINE_EXAMPLES", "10")),
    stateful_step_count=int(os.environ.get("RULES_MACHINE_STEPS", "50")),
    deadline=None,
    derandomize=os.environ.get("RULES_MACHINE_RANDOM", "") != "1",
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    # Shrinking a long failing sequence against PostgreSQL takes minutes: on by default
    # (the report is then minimal), RULES_MACHINE_SHRINK=0 reports the first failure.
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target]
    + ([Phase.shrink] if os.environ.get("RULES_MACHINE_SHRINK", "1") == "1" else []),
)

# Which outcome each kind of step reached, over a run (RULES_MACHINE_STATS=1 prints it):
# proof that the sequences reach the rules, not only the happy path.
REACHED: Counter[str] = Counter()

NOTICE_FAMILIES = [("US", "en"), ("EU", "de"), ("JP", "ja")]
SESSION_PLACES = [("US-IL", "en"), ("US-CA", "en"), ("DE", "de"), ("JP", "ja")]
AGES = ("dob", "attested", "dob", "unverified")
ACTS = ("give", "refuse", "withdraw", "renew")
API_STATUS = {
    "consent_already_given": 409,
    "consent_not_renewable": 409,
    "consent_is_valid": 409,
    "notice_not_current": 409,
    "session_not_open": 409,
    "erasure_in_progress": 409,
    "age_not_verified": 403,
    "below_minimum_age": 403,
    "not_a_participant": 403,
    "invitation_closed": 410,
    "act_before_request": 422,
    "notice_not_yet_published": 422,
    "unknown_members": 400,
}
# Each step moves the frozen clock on by five seconds: acts get distinct times, and the
# collector token's rate (600 requests a minute) holds for the reads after every step.
STEP = datetime.timedelta(seconds=5)
TIME_JUMPS = {
    "an hour": datetime.timedelta(hours=1),
    "past the invitations": datetime.timedelta(days=8),
    "past BIPA's three years": datetime.timedelta(days=1100),
}


def portal_signs(place: str, purpose: str) -> bool:
    """The web form asks for a typed-name signature where the law wants written or
    explicit consent, and always for biometric data."""
    return purpose == "biometric" or (place, purpose) in WRITTEN | EXPLICIT


class ConsentRulesMachine(RuleBasedStateMachine):
    """Three to four speakers (places, ages drawn), the calls they are invited to, the
    notices of three families, and the reference model that says what must happen."""

    def __init__(self) -> None:
        super().__init__()
        # What TestCase does per test, here per example: everything rolls back at teardown.
        self.atomic = transaction.atomic()
        self.atomic._from_testcase = True
        self.atomic.__enter__()
        cache.clear()
        # Ten minutes after the ``notices`` fixture published version 1 of every family,
        # so "two minutes ago" is always after those publications.
        start = timezone.now().replace(microsecond=0) + datetime.timedelta(minutes=10)
        self.traveller = time_machine.travel(start, tick=False)
        self.clock = self.traveller.start()
        self.model = RulesModel(flags=dict(FLAGS))
        # The ``notices`` fixture published version 1 of every family, with a schedule.
        for purpose in PURPOSES:
            for place, language in NOTICE_FAMILIES:
                self.model.publish((purpose, place, language), with_schedule=True, at=None)
        self.speakers: list[Speaker] = []
        self.sessions: list[RecordingSession] = []
        self.touched: set[int] = set()  # speakers whose state this step may have changed
        self.links: dict[tuple[int, int], str] = {}  # (session, speaker) -> invitation path
        self.recordings: dict[int, Recording] = {}  # session -> its recording
        self.api = collector_client()
        self.web = Client()

    def teardown(self) -> None:
        self.traveller.stop()
        transaction.set_rollback(True)
        self.atomic.__exit__(None, None, None)
        cache.clear()

    # --- helpers ------------------------------------------------------------------------

    @property
    def now(self) -> datetime.datetime:
        return timezone.now()

    def tick(self) -> None:
        self.clock.shift(STEP)

    def speaker_index(self, n: int) -> int:
        return n % len(self.speakers)

    def session_index(self, n: int | None) -> int | None:
        if n is None or not self.sessions:
            return None
        return n % len(self.sessions)

    def notice(self, speaker: int, purpose: str, version: int) -> ConsentNotice:
        _, place, language = self.model.family(speaker, purpose)
        return ConsentNotice.objects.get(
            purpose=purpose, jurisdiction_id=place, language=language, version=version
        )

    def events(self) -> int:
        return ConsentEvent.objects.count()

    def expect(
        self,
        what: str,
        outcome: Outcome,
        code: str | None,
        events_before: int,
        *,
        label: str = "",
    ) -> None:
        """The act was refused with one of the model's codes (nothing written), or was
        accepted and wrote exactly the events the model predicts."""
        written = self.events() - events_before
        # Counted for RULES_MACHINE_STATS=1: which rules the sequences reached.
        REACHED[f"{label or re.sub(r'[0-9]+', 'N', what)}: {code or 'accepted'}"] += 1
        if outcome.accepted:
            assert code is None, f"{what}: refused with {code!r}, the rules accept it"
            assert written == outcome.events, (
                f"{what}: wrote {written} events, not {outcome.events}"
            )
        else:
            assert code is not None, f"{what}: accepted, the rules refuse it ({set(outcome.codes)})"
            assert code in outcome.codes, f"{what}: refused with {code!r}, not {set(outcome.codes)}"
            assert written == 0, f"{what}: refused but wrote {written} events"

    def api_act(self, body: dict[str, Any], speaker: Speaker, outcome: Outcome) -> str | None:
        """POST one act; its problem ``code``, or None when it was accepted (201 when
        it wrote events, 200 when it changed nothing)."""
        response = self.api.post(
            f"/api/v1/speakers/{speaker.public_id}/consents/",
            body,
            format="json",
            HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
        )
        if response.status_code in (200, 201):
            if outcome.accepted:
                assert response.status_code == (201 if outcome.events else 200), body
            return None
        assert response["Content-Type"] == "application/problem+json", response.content
        problem = response.json()
        expected_status = API_STATUS.get(problem["code"])
        if expected_status is not None:
            assert response.status_code == expected_status, problem
        assert 400 <= response.status_code < 500, problem
        return str(problem["code"])

    # --- set-up -------------------------------------------------------------------------

    @initialize(
        profiles=st.lists(
            st.tuples(st.sampled_from(sorted(PLACES)), st.sampled_from(AGES)),
            min_size=3,
            max_size=4,
        )
    )
    def enrol_speakers(self, profiles: list[tuple[str, str]]) -> None:
        ages: dict[str, dict[str, Any]] = {
            "dob": {},  # the factory's 1990 date of birth
            "attested": {
                "date_of_birth": None,
                "age_verification_method": AgeVerificationMethod.PLATFORM_ATTESTATION,
                "age_attested_minimum": 18,
            },
            "unverified": {
                "date_of_birth": None,
                "age_verification_method": AgeVerificationMethod.UNVERIFIED,
            },
        }
        for place, age in profiles:
            age_fields = ages[age]
            self.speakers.append(
                SpeakerFactory(
                    jurisdiction=place, preferred_language=PLACES[place][1], **age_fields
                )
            )
            self.model.speakers.append(SpeakerModel(place=place, age=age))
        self.touched.update(range(len(self.speakers)))

    @precondition(lambda self: len(self.speakers) < 6)
    @rule(
        place=st.sampled_from(sorted(PLACES)),
        age_evidence=st.sampled_from(
            (
                "date of birth of an adult",
                "attested 18",
                "attested 18, date of birth of a 30-year-old",
                "none",
                "date of birth before 1900",
                "date of birth in the future",
                "date of birth of a 16-year-old",
                "attested 25, date of birth of a 20-year-old",
            )
        ),
    )
    def enrol_through_the_api(self, place: str, age_evidence: str) -> None:
        """The platform registers a speaker with the age evidence it holds."""
        self.tick()
        today = self.now.date()

        def born(years: int) -> str:
            return today.replace(year=today.year - years, day=min(today.day, 28)).isoformat()

        evidence_fields: dict[str, dict[str, Any]] = {
            "date of birth of an adult": {"age_verification_method": "date_of_birth",
                                          "date_of_birth": born(40)},
            "attested 18": {"age_verification_method": "platform_attestation",
                            "age_attested_minimum": 18},
            "attested 18, date of birth of a 30-year-old": {
                "age_verification_method": "platform_attestation",
                "age_attested_minimum": 18, "date_of_birth": born(30)},
            "none": {},
            "date of birth before 1900": {"age_verification_method": "date_of_birth",
                                          "date_of_birth": "1899-12-31"},
            "date of birth in the future": {
                "age_verification_method": "date_of_birth",
                "date_of_birth": (today + datetime.timedelta(days=30)).isoformat()},
            "date of birth of a 16-year-old": {"age_verification_method": "date_of_birth",
                                               "date_of_birth": born(16)},
            "attested 25, date of birth of a 20-year-old": {
                "age_verification_method": "platform_attestation",
                "age_attested_minimum": 25, "date_of_birth": born(20)},
        }  # fmt: skip
        fields = evidence_fields[age_evidence]
        outcome, age = self.model.enrol(place, age_evidence)
        response = self.api.post(
            "/api/v1/speakers/",
            {"name": "Dana Example", "jurisdiction": place,
             "preferred_language": PLACES[place][1], **fields},
            format="json",
        )  # fmt: skip
        what = f"api enrolment ({age_evidence})"
        REACHED[f"{what}: {response.status_code}"] += 1
        if not outcome.accepted:
            problem = response.json()
            assert problem["code"] in outcome.codes, (what, problem)
            assert response.status_code == API_STATUS.get(problem["code"], 400), (what, problem)
            return
        assert response.status_code == 201, (what, response.content)
        speaker = Speaker.objects.get(public_id=response.json()["id"])
        verified = {"dob": "date_of_birth", "attested": "platform_attestation"}
        assert speaker.age_verification_method == verified.get(age or "", "unverified"), what
        self.speakers.append(speaker)
        self.touched.add(len(self.speakers) - 1)

    # --- acts through the services and the API ------------------------------------------

    @rule(
        who=st.integers(0, 3),
        purpose=st.sampled_from(PURPOSES),
        action=st.sampled_from(ACTS),
        scope=st.one_of(st.none(), st.none(), st.integers(0, 7)),
        door=st.sampled_from(("service", "api", "service", "api", "api with an unknown member")),
        method=st.sampled_from((EvidenceMethod.WEB_FORM, EvidenceMethod.WEB_FORM_SIGNED)),
        notice_choice=st.sampled_from(("current",) * 5 + ("stale", "another purpose's")),
        dated=st.sampled_from(("now",) * 4 + ("two minutes ago",) * 2),
    )
    def act(
        self,
        who: int,
        purpose: str,
        action: str,
        scope: int | None,
        door: str,
        method: str,
        notice_choice: str,
        dated: str,
    ) -> None:
        """Any act by any speaker, for all recordings or for any session (theirs or not)."""
        self.perform(
            self.speaker_index(who),
            purpose,
            action,
            self.session_index(scope),
            door=door,
            method=method,
            notice_choice=notice_choice,
            dated=dated,
        )

    @precondition(lambda self: bool(self.sessions))
    @rule(
        n=st.integers(0, 7),
        seat=st.integers(0, 2),
        purpose=st.sampled_from(("recording",) * 4 + PURPOSES),
        action=st.sampled_from(("give",) * 5 + ("withdraw", "refuse", "renew")),
        door=st.sampled_from(("service", "api")),
        method=st.sampled_from((EvidenceMethod.WEB_FORM_SIGNED,) * 3 + (EvidenceMethod.WEB_FORM,)),
        dated=st.sampled_from(("now",) * 3 + ("two minutes ago",)),
    )
    def act_for_a_call(
        self, n: int, seat: int, purpose: str, action: str, door: str, method: str, dated: str
    ) -> None:
        """A participant's act for their own call, mostly giving: calls get cleared."""
        session_i = self.session_index(n)
        assert session_i is not None
        participants = self.model.sessions[session_i].participants
        self.perform(
            participants[seat % len(participants)],
            purpose,
            action,
            session_i,
            door=door,
            method=method,
            notice_choice="current",
            dated=dated,
        )

    @precondition(lambda self: bool(self.sessions))
    @rule(
        n=st.integers(0, 7),
        door=st.sampled_from(("service", "api", "invitation page")),
        dated=st.sampled_from(("now",) * 3 + ("two minutes ago",)),
    )
    def consent_to_a_call(self, n: int, door: str, dated: str) -> None:
        """Every participant still awaited gives recording consent for the call, one
        act each (through the invitation page: age first where it is not verified), so
        calls clear and get recorded and eligibility has recordings to judge."""
        session_i = self.session_index(n)
        assert session_i is not None
        participants = self.model.sessions[session_i].participants
        for seat, p in enumerate(participants):
            if self.model.participant_consented(session_i, p, self.now):
                continue
            if door == "invitation page":
                if self.model.speakers[p].age == "unverified":
                    self.answer_age(session_i, seat, "adult")
                self.answer_invitation(session_i, seat, "recording", "give")
                continue
            self.perform(
                p,
                "recording",
                "give",
                session_i,
                door=door,
                method=EvidenceMethod.WEB_FORM_SIGNED,
                notice_choice="current",
                dated=dated,
            )

    def perform(
        self,
        speaker_i: int,
        purpose: str,
        action: str,
        session_i: int | None,
        *,
        door: str,
        method: str,
        notice_choice: str,
        dated: str,
    ) -> None:
        self.tick()
        self.touched.add(speaker_i)
        speaker = self.speakers[speaker_i]
        session = None if session_i is None else self.sessions[session_i]
        model, now = self.model, self.now
        notice_purpose = purpose
        if notice_choice == "another purpose's":
            notice_purpose = PURPOSES[(PURPOSES.index(purpose) + 1) % len(PURPOSES)]
        current = model.current_version(speaker_i, notice_purpose)
        version = current - 1 if notice_choice == "stale" and current > 1 else current
        notice = self.notice(speaker_i, notice_purpose, version)
        evidence: dict[str, Any] = {"method": method}
        if method == EvidenceMethod.WEB_FORM_SIGNED:
            evidence["signed_name"] = "Dana Example"
        occurred_at = None if dated == "now" else now - datetime.timedelta(minutes=2)
        if occurred_at is not None:
            evidence["occurred_at"] = occurred_at
        what = (
            f"{door}: {action} {purpose} by speaker {speaker_i} for "
            f"{'all recordings' if session_i is None else f'session {session_i}'} "
            f"({notice_choice} notice v{version}, dated {dated})"
        )
        if door == "api with an unknown member" and MODEL_STRICT_API_INPUT:
            # One act asked for with a second purpose on the side: refused whole.
            outcome = Outcome(frozenset({"unknown_members"}))
        elif action == "withdraw":
            outcome = model.withdraw(speaker_i, purpose, session_i, at=now)
        elif action == "refuse":
            outcome = model.refuse(
                speaker_i,
                purpose,
                session_i,
                version=version,
                occurred_at=occurred_at,
                notice_purpose=notice_purpose,
                at=now,
            )
        else:
            outcome = model.give(
                speaker_i,
                purpose,
                session_i,
                version=version,
                method=method,
                by_speaker=door == "service",
                at=now,
                occurred_at=occurred_at,
                notice_purpose=notice_purpose,
                renew=action == "renew",
            )
        before = self.events()
        code: str | None = None
        if door.startswith("api"):
            body: dict[str, Any] = {"action": action, "purpose": purpose}
            body["evidence"] = {
                k: v.isoformat() if isinstance(v, datetime.datetime) else v
                for k, v in evidence.items()
            }
            if action != "withdraw":
                body["notice"] = str(notice.public_id)
            if session is not None:
                body["session"] = str(session.public_id)
            if door == "api with an unknown member":
                body["purposes"] = [purpose, "likeness"]
            code = self.api_act(body, speaker, outcome)
        else:
            kwargs: dict[str, Any] = {
                "speaker": speaker,
                "purpose": purpose,
                "evidence": services.Evidence(**evidence),
                "actor": services.Actor.of_speaker(speaker),
                "session": session,
            }
            if action != "withdraw":
                kwargs["notice"] = notice
            function = {
                "give": services.give_consent,
                "renew": services.renew_consent,
                "refuse": services.refuse_consent,
                "withdraw": services.withdraw_consent,
            }[action]
            try:
                function(**kwargs)
            except RegistryError as exc:
                code = exc.code
        self.expect(what, outcome, code, before, label=f"{door} {action}")

    # Rare (one speaker per sequence at most, and not early): after erasure nothing of
    # theirs comes back, so a frequent erasure would leave little else to test.
    @precondition(
        lambda self: (
            len(self.sessions) >= 2 and not any(s.erasure_requested for s in self.model.speakers)
        )
    )
    @rule(who=st.integers(0, 3), really=st.sampled_from((False, False, True)))
    def request_erasure(self, who: int, really: bool) -> None:
        if not really:
            return
        self.tick()
        speaker_i = self.speaker_index(who)
        self.touched.add(speaker_i)
        speaker = self.speakers[speaker_i]
        outcome = self.model.request_erasure(speaker_i)
        before = self.events()
        services.request_erasure(
            speaker=speaker,
            evidence=services.Evidence(method=EvidenceMethod.WEB_FORM),
            actor=services.Actor.of_speaker(speaker),
        )
        self.expect(f"erasure of speaker {speaker_i}", outcome, None, before)

    # --- sessions, invitations and recordings -------------------------------------------

    @rule(
        who=st.lists(st.integers(0, 3), min_size=2, max_size=3, unique=True),
        place=st.sampled_from(SESSION_PLACES),
        door=st.sampled_from(("service", "api", "service", "api", "api with an unknown member")),
    )
    def open_session(self, who: list[int], place: tuple[str, str], door: str) -> None:
        """A call to be recorded: each participant is asked for recording consent."""
        participants = list(dict.fromkeys(self.speaker_index(n) for n in who))
        if len(participants) < 2:
            return
        self.tick()
        self.touched.update(participants)
        if door == "api with an unknown member" and MODEL_STRICT_API_INPUT:
            outcome = Outcome(frozenset({"unknown_members"}))
        else:
            outcome = self.model.create_session(participants, self.now)
        before = self.events()
        external_ref = f"machine-{uuid.uuid4()}"
        jurisdiction, language = place
        code = None
        if door.startswith("api"):
            body: dict[str, Any] = {
                "external_ref": external_ref,
                "jurisdiction": jurisdiction,
                "language": language,
                "participants": [
                    {"channel": channel, "speaker": str(self.speakers[p].public_id)}
                    for channel, p in enumerate(participants)
                ],
            }
            if door == "api with an unknown member":
                # A role the API does not know: refused whole, no session, no request.
                body["participants"][0]["role"] = "host"
            response = self.api.post("/api/v1/sessions/", body, format="json")
            if response.status_code == 201:
                session = RecordingSession.objects.get(public_id=response.json()["id"])
                paths = {
                    p["channel"]: "/" + p["invitation_url"].split("/", 3)[3]
                    for p in response.json()["participants"]
                }
            else:
                code = response.json()["code"]
        else:
            try:
                session = services.create_recording_session(
                    external_ref=external_ref,
                    jurisdiction=jurisdiction,
                    language=language,
                    speakers=[self.speakers[p] for p in participants],
                )
            except RegistryError as exc:
                code = exc.code
            else:
                paths = {
                    participant.channel: reverse(
                        "speakers:invitation", args=[services.invitation_token(participant)]
                    )
                    for participant in session.participants.all()
                }
        self.expect(
            f"{door} session of {participants}", outcome, code, before, label=f"{door} session"
        )
        if code is None:
            index = len(self.sessions)
            self.sessions.append(session)
            for channel, p in enumerate(participants):
                self.links[(index, p)] = paths[channel]

    def invitation_of(self, n: int, seat: int) -> tuple[int, int, str] | None:
        session_i = self.session_index(n)
        if session_i is None:
            return None
        participants = self.model.sessions[session_i].participants
        speaker_i = participants[seat % len(participants)]
        return session_i, speaker_i, self.links[(session_i, speaker_i)]

    @precondition(lambda self: bool(self.sessions))
    @rule(
        n=st.integers(0, 7),
        seat=st.integers(0, 2),
        purpose=st.sampled_from(("recording", *PURPOSES)),
        action=st.sampled_from(("give", "give", "withdraw")),
    )
    def answer_invitation(self, n: int, seat: int, purpose: str, action: str) -> None:
        invitation = self.invitation_of(n, seat)
        if invitation is None:
            return
        self.tick()
        session_i, speaker_i, path = invitation
        self.touched.add(speaker_i)
        model, now = self.model, self.now
        place = model.speakers[speaker_i].place
        before = self.events()
        what = f"invitation {action} {purpose} by speaker {speaker_i} for session {session_i}"
        if not model.invitation_open(session_i, speaker_i, now):
            # Expired (403), no longer waiting for consent (409) or closed for good (410).
            page = self.web.get(path)
            assert page.status_code in (403, 409, 410), f"{what}: the page still opens"
            door = "consent" if action == "give" else "withdraw"
            posted = self.web.post(f"{path}{door}/{purpose}/", self.invitation_form(
                speaker_i, purpose
            ))  # fmt: skip
            assert posted.status_code == page.status_code, f"{what}: {posted.status_code}"
            assert self.events() == before, f"{what}: a closed invitation wrote events"
            REACHED[f"invitation page {action}, closed: {page.status_code}"] += 1
            return
        assert self.web.get(path).status_code == 200, f"{what}: the page does not open"
        if action == "give":
            method = "web_form_signed" if portal_signs(place, purpose) else "web_form"
            outcome = model.give(
                speaker_i, purpose, session_i,
                version=model.current_version(speaker_i, purpose),
                method=method, by_speaker=True, at=now,
            )  # fmt: skip
            response = self.web.post(
                f"{path}consent/{purpose}/", self.invitation_form(speaker_i, purpose)
            )
            expected = 302 if outcome.accepted else 400
        else:
            row = model.row(speaker_i, purpose, session_i)
            # The page withdraws what is in force for this call; anything else is a no-op.
            outcome = (
                model.withdraw(speaker_i, purpose, session_i, at=now)
                if row is not None and row.in_force(now)
                else Outcome(frozenset())
            )
            response = self.web.post(f"{path}withdraw/{purpose}/")
            expected = 302
        assert response.status_code == expected, f"{what}: {response.status_code}"
        REACHED[f"invitation page {action}: {response.status_code}"] += 1
        written = self.events() - before
        assert written == (outcome.events if outcome.accepted else 0), (
            f"{what}: wrote {written} events"
        )

    def invitation_form(self, speaker: int, purpose: str) -> dict[str, str]:
        version = self.model.current_version(speaker, purpose)
        form = {"notice": str(self.notice(speaker, purpose, version).public_id)}
        if portal_signs(self.model.speakers[speaker].place, purpose):
            form["signed_name"] = "Dana Example"
        return form

    @precondition(lambda self: bool(self.sessions))
    @rule(
        n=st.integers(0, 7),
        seat=st.integers(0, 2),
        answer=st.sampled_from(("adult", "under_age", "under_age", "future", "pre1900")),
    )
    def answer_age(self, n: int, seat: int, answer: str) -> None:
        invitation = self.invitation_of(n, seat)
        if invitation is None:
            return
        session_i, speaker_i, path = invitation
        if self.model.speakers[speaker_i].age != "unverified":
            return  # the page asks only participants whose age is not verified
        self.tick()
        self.touched.add(speaker_i)
        today = self.now.date()
        born = {
            "adult": datetime.date(1990, 1, 1),
            "under_age": today.replace(year=today.year - 16),
            "future": today + datetime.timedelta(days=30),
            "pre1900": datetime.date(1899, 12, 31),
        }[answer]
        what = f"age answer {answer} by speaker {speaker_i} for session {session_i}"
        before = self.events()
        response = self.web.post(f"{path}age/", {"date_of_birth": born.isoformat()})
        if response.status_code == 429:
            # Turned away unread: allowed only past the rate of answers per link.
            self.model.age_answers.setdefault((session_i, speaker_i), []).append(self.now)
            assert self.model.age_answer_may_be_throttled(session_i, speaker_i, self.now), what
            assert self.events() == before, what
            return
        statuses, age, events = self.model.answer_age(session_i, speaker_i, answer, self.now)
        assert response.status_code in statuses, f"{what}: {response.status_code}"
        REACHED[f"invitation page age {answer}: {response.status_code}"] += 1
        speaker = Speaker.objects.get(pk=self.speakers[speaker_i].pk)
        if age == "dob":
            assert speaker.age_verification_method == AgeVerificationMethod.DATE_OF_BIRTH, what
            assert speaker.date_of_birth == born, what
        else:
            assert speaker.age_verification_method == AgeVerificationMethod.UNVERIFIED, what
            assert speaker.date_of_birth is None, f"{what}: a refused date of birth was kept"
        assert self.events() - before == events, what

    @precondition(lambda self: bool(self.sessions))
    @rule(n=st.integers(0, 7))
    def start_recording(self, n: int) -> None:
        session_i = self.session_index(n)
        if session_i is None:
            return
        self.tick()
        self.touched.update(self.model.sessions[session_i].participants)
        outcome = self.model.start_recording(session_i, self.now)
        session = self.sessions[session_i]
        before = self.events()
        code = None
        try:
            recording = services.start_recording(
                session=session,
                external_ref=f"rec-{session.external_ref}",
                duration_ms=60_000,
                sample_rate_hz=16_000,
            )
        except RegistryError as exc:
            code = exc.code
        else:
            self.recordings[session_i] = catalogue.attach_recording_audio(
                recording=recording,
                audio_uri=f"s3://machine/{recording.external_ref}.flac",
                audio_sha256=uuid.uuid4().hex * 2,
            )
        self.expect(f"start recording session {session_i}", outcome, code, before)

    # --- notices, time ------------------------------------------------------------------

    @rule(
        purpose=st.sampled_from(PURPOSES),
        family=st.sampled_from(NOTICE_FAMILIES),
        with_schedule=st.sampled_from((True, True, False)),
    )
    def publish_notice(self, purpose: str, family: tuple[str, str], with_schedule: bool) -> None:
        self.tick()
        place, language = family
        version = self.model.publish(
            (purpose, place, language), with_schedule=with_schedule, at=self.now
        )
        overrides = {} if with_schedule else {"retention_schedule": ""}
        notice = publish(purpose, place, language, **overrides)
        assert notice.version == version

    @rule(jump=st.sampled_from(("an hour",) * 4 + tuple(sorted(TIME_JUMPS))))
    def let_time_pass(self, jump: str) -> None:
        self.clock.shift(TIME_JUMPS[jump])
        self.touched.update(range(len(self.speakers)))
        self.api = collector_client()  # a collector token lives 90 days

    @rule()
    def run_expiry_job(self) -> None:
        self.tick()
        self.touched.update(range(len(self.speakers)))
        expected = self.model.expire(self.now)
        assert services.expire_consents(at=self.now) == expected

    # --- what must hold after every step ------------------------------------------------

    @invariant()
    def registry_matches_the_rules(self) -> None:
        """Read back after every step: every consent row through the selectors, the
        speakers and calls the step touched through the API, every recording's
        eligibility per purpose (a speaker the step did not touch reads as before)."""
        self.states_match_the_rules()
        self.sessions_clear_by_the_rules()
        self.recordings_are_eligible_by_the_rules()
        self.touched.clear()

    def states_match_the_rules(self) -> None:
        model, now = self.model, self.now
        session_index = {session.pk: i for i, session in enumerate(self.sessions)}
        speaker_index = {speaker.pk: i for i, speaker in enumerate(self.speakers)}
        stored = {
            (speaker_index[row.speaker_id], row.purpose, session_index.get(row.session_id)): row
            for row in Consent.objects.filter(speaker_id__in=speaker_index).select_related("notice")
        }
        expected = {key: row.state for key, row in model.rows.items()}
        assert {key: row.state for key, row in stored.items()} == expected
        for key, row in stored.items():
            assert row.notice.version == model.rows[key].notice_version, key
            assert needs_reconsent(row) == model.needs_reconsent(*key), key
        for i, speaker in enumerate(self.speakers):
            if i not in self.touched:
                continue
            answer = self.api.get(f"/api/v1/speakers/{speaker.public_id}/consents/")
            assert answer.status_code == 200, answer.content
            for item in answer.json()["consents"]:
                mine = model.row(i, item["purpose"], None)
                assert item["state"] == (mine.state if mine else None), (i, item)
                assert item["in_force"] == bool(mine and mine.in_force(now)), (i, item)
                assert item["notice_version"] == (mine.notice_version if mine else None)

    def sessions_clear_by_the_rules(self) -> None:
        model, now = self.model, self.now
        for i, session in enumerate(self.sessions):
            participants = model.sessions[i].participants
            if not self.touched.intersection(participants):
                continue
            clearance = session_clearance(session, at=now)
            assert [p.consented for p in clearance] == [
                model.counts_as_consented(i, p, now) for p in participants
            ], i
            assert cleared_to_record(session, at=now) == model.cleared(i, now), i
            answer = self.api.get(f"/api/v1/sessions/{session.public_id}/clearance/")
            assert answer.status_code == 200, answer.content
            body = answer.json()
            assert body["cleared"] == model.cleared(i, now), (i, body)
            for item, p in zip(body["participants"], participants, strict=True):
                consented = model.counts_as_consented(i, p, now)
                closed = model.closed_reason(i, p)
                assert item["speaker"] == str(self.speakers[p].public_id)
                assert item["consented"] == consented, (i, item)
                # What is missing names what the participant can still give; a closed
                # participant (under age, erased) is reported as such, never as awaited.
                assert item["missing"] == ([] if consented or closed else ["recording"]), item
                assert item.get("erased", False) == (closed == "erased"), (i, item)
                assert (item.get("blocked") or "") == closed, (i, item)

    def recordings_are_eligible_by_the_rules(self) -> None:
        if not self.recordings:
            return
        now = self.now
        ids = {recording.pk: i for i, recording in self.recordings.items()}
        for purpose in Purpose.values:
            actual = set(
                eligible_recordings(purpose=purpose, at=now)
                .filter(pk__in=ids)
                .values_list("pk", flat=True)
            )
            expected = {pk for pk, i in ids.items() if self.model.eligible(i, purpose, now)}
            assert actual == expected, purpose
            # The explanation a licensee and the portal read agrees, call by call.
            for session_i, recording in self.recordings.items():
                if self.touched.intersection(self.model.sessions[session_i].participants):
                    explanation = explain_eligibility(recording, purpose, at=now)
                    assert explanation.eligible == (recording.pk in expected), (
                        session_i,
                        purpose,
                        explanation.reasons,
                    )


@pytest.mark.django_db
def test_random_sequences_of_acts_sessions_invitations_and_notices_follow_the_rules(
    notices,
) -> None:
    REACHED.clear()
    run_state_machine_as_test(ConsentRulesMachine, settings=MACHINE_SETTINGS)
    if os.environ.get("RULES_MACHINE_STATS"):
        print("\n".join(f"{n:5} {outcome}" for outcome, n in sorted(REACHED.items())))
