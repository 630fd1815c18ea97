"""A small reference model of the consent rules, in plain Python (no Django), written
from the README's consent model and issue 18, for ``test_rules_state_machine``.

It knows speakers (place, age, erasure), consents per speaker x purpose x scope (all
recordings, or one session), sessions and their recordings, and notice versions per
family (purpose x notice jurisdiction x language). Each act answers the set of problem
codes the registry may refuse it with (empty: it must be accepted) and, when accepted,
changes the model and says how many consent events it writes.

``flags`` switch on the rules issue 18 adds: ``under_age_closes_invitation``,
``erasure_closes_invitations``, ``order_gate`` and ``notice_purpose_gate``; and two
rules the machine found broken and that were fixed with it: ``lapsed_consent_is_not_given``
and ``no_renewal_of_a_calls_recording_after_it``.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

PURPOSES = ("recording", "training", "redistribution", "biometric", "likeness")
VALID = frozenset({"given", "renewed"})

# Where a speaker lives -> the family of notices served there (the most specific
# jurisdiction with notices, in the speaker's language) and the language itself.
PLACES: dict[str, tuple[str, str]] = {
    "US-IL": ("US", "en"),
    "US-CA": ("US", "en"),
    "US-TX": ("US", "en"),
    "DE": ("EU", "de"),
    "JP": ("JP", "ja"),
}
# The rules of the README's table that the machine can run into, per (place, purpose).
WRITTEN = {("US-IL", "biometric"), ("US-CA", "likeness")}  # signature or signed form
EXPLICIT = {("DE", "biometric")}  # GDPR Art. 9: signature, signed form or spoken phrase
SPEAKER_ACT_ONLY = {("US-TX", "biometric")}  # TRAIGA: never recorded on their behalf
RETENTION_SCHEDULE_IN_NOTICE = {("US-IL", "biometric")}
RETENTION = {("US-IL", "biometric"): datetime.timedelta(days=1095)}
WRITTEN_METHODS = {"web_form_signed", "signed_paper"}
EXPLICIT_METHODS = {"web_form_signed", "signed_paper", "spoken_phrase"}
INVITATION_VALID_FOR = datetime.timedelta(days=7)
AGE_ANSWERS_PER_HOUR = 5  # per invitation link

Family = tuple[str, str, str]  # purpose, notice jurisdiction, language


@dataclass
class Row:
    """One consent: speaker x purpose x scope."""

    state: str
    notice_version: int
    given_at: datetime.datetime | None = None
    expires_at: datetime.datetime | None = None

    def in_force(self, at: datetime.datetime) -> bool:
        return (
            self.state in VALID
            and self.given_at is not None
            and self.given_at <= at
            and (self.expires_at is None or self.expires_at > at)
        )


@dataclass
class SpeakerModel:
    place: str
    age: str  # "dob", "attested" (both verified adults) or "unverified"
    erasure_requested: bool = False
    # An invitation answer showed them under age: no later self-declared date counts.
    under_age_on_record: bool = False

    @property
    def family_place(self) -> str:
        return PLACES[self.place][0]

    @property
    def language(self) -> str:
        return PLACES[self.place][1]


@dataclass
class SessionModel:
    participants: list[int]
    created_at: datetime.datetime
    status: str = "open"  # open, recording
    recorded_at: datetime.datetime | None = None
    # Participants whose invitation is closed for good: speaker -> "under_age" or "erased".
    closed: dict[int, str] = field(default_factory=dict)

    @property
    def invite_expires_at(self) -> datetime.datetime:
        return self.created_at + INVITATION_VALID_FOR


@dataclass
class Outcome:
    """What an act must do: refused with one of ``codes``, or accepted writing ``events``."""

    codes: frozenset[str]
    events: int = 0

    @property
    def accepted(self) -> bool:
        return not self.codes


@dataclass
class RulesModel:
    """The registry as the rules describe it."""

    flags: dict[str, bool] = field(default_factory=dict)
    speakers: list[SpeakerModel] = field(default_factory=list)
    sessions: list[SessionModel] = field(default_factory=list)
    # (speaker, purpose, session index or None) -> Row
    rows: dict[tuple[int, str, int | None], Row] = field(default_factory=dict)
    # family -> current version
    notices: dict[Family, int] = field(default_factory=dict)
    # (family..., version) -> (has a retention schedule, published at; None: before start)
    versions: dict[tuple[str, str, str, int], tuple[bool, datetime.datetime | None]] = field(
        default_factory=dict
    )
    # Age answers that reached each invitation link: (session, speaker) -> times.
    age_answers: dict[tuple[int, int], list[datetime.datetime]] = field(default_factory=dict)

    # --- notices ----------------------------------------------------------------------

    def family(self, speaker: int, purpose: str) -> Family:
        s = self.speakers[speaker]
        return (purpose, s.family_place, s.language)

    def current_version(self, speaker: int, purpose: str) -> int:
        return self.notices[self.family(speaker, purpose)]

    def publish(
        self, family: Family, *, with_schedule: bool, at: datetime.datetime | None = None
    ) -> int:
        """A new version is served at once; consents under earlier ones stand."""
        version = self.notices.get(family, 0) + 1
        self.notices[family] = version
        self.versions[(*family, version)] = (with_schedule, at)
        return version

    def needs_reconsent(self, speaker: int, purpose: str, scope: int | None) -> bool:
        """A consent in force under an earlier version of its family's notice stands, but
        the speaker must be asked again."""
        row = self.rows.get((speaker, purpose, scope))
        return (
            row is not None
            and row.state in VALID
            and row.notice_version < self.current_version(speaker, purpose)
        )

    # --- reads --------------------------------------------------------------------------

    def row(self, speaker: int, purpose: str, scope: int | None) -> Row | None:
        return self.rows.get((speaker, purpose, scope))

    def participant_consented(self, session: int, speaker: int, at: datetime.datetime) -> bool:
        """Recording consent in force now, for all recordings or for this session."""
        return any(
            (row := self.row(speaker, "recording", scope)) is not None and row.in_force(at)
            for scope in (None, session)
        )

    def closed_reason(self, session: int, speaker: int) -> str:
        """Why a participant's invitation is closed for good ("" while it is not)."""
        return self.sessions[session].closed.get(speaker, "")

    def counts_as_consented(self, session: int, speaker: int, at: datetime.datetime) -> bool:
        """A closed participant never counts as consented, whatever they gave."""
        return not self.closed_reason(session, speaker) and self.participant_consented(
            session, speaker, at
        )

    def cleared(self, session: int, at: datetime.datetime) -> bool:
        """A call may be recorded only with every participant's recording consent."""
        s = self.sessions[session]
        return all(self.counts_as_consented(session, p, at) for p in s.participants)

    def eligible(self, session: int, purpose: str, at: datetime.datetime) -> bool:
        """A recording is usable for a purpose only while every participant's consent
        covers it: recording consent given no later than the call and in force now, and
        consent for the purpose in force now (each for all recordings or for this call)."""
        s = self.sessions[session]
        recorded_at = s.recorded_at
        assert recorded_at is not None
        for speaker in s.participants:
            recording = [self.row(speaker, "recording", scope) for scope in (None, session)]
            if not any(
                r is not None
                and r.in_force(at)
                and r.given_at is not None
                and r.given_at <= recorded_at
                for r in recording
            ):
                return False
            rows = [self.row(speaker, purpose, scope) for scope in (None, session)]
            if not any(r is not None and r.in_force(at) for r in rows):
                return False
        return True

    def invitation_open(self, session: int, speaker: int, at: datetime.datetime) -> bool:
        """A link works while its session waits for consent, for a week, and until the
        participant's invitation is closed for good."""
        s = self.sessions[session]
        if s.status != "open" or at >= s.invite_expires_at:
            return False
        return not self.closed_reason(session, speaker)

    # --- the checks an act must pass ----------------------------------------------------

    def _scope_codes(self, speaker: int, scope: int | None) -> set[str]:
        if scope is not None and speaker not in self.sessions[scope].participants:
            return {"not_a_participant"}
        return set()

    def _notice_codes(
        self, speaker: int, purpose: str, version: int, notice_purpose: str | None
    ) -> set[str]:
        """The act answers the notice served now for this purpose; a notice about another
        purpose is another question, not an outdated version of this one."""
        if notice_purpose is not None and notice_purpose != purpose:
            if self.flags.get("notice_purpose_gate"):
                return {"notice_wrong_purpose"}
            return {"notice_not_current"}
        if version != self.current_version(speaker, purpose):
            return {"notice_not_current"}
        return set()

    def _order_codes(
        self,
        speaker: int,
        purpose: str,
        scope: int | None,
        *,
        version: int,
        occurred_at: datetime.datetime | None,
        notice_purpose: str | None,
    ) -> set[str]:
        """An act cannot predate the request that asked for it (for a call: its
        invitation, when every participant was asked) nor the notice it answers."""
        if occurred_at is None or not self.flags.get("order_gate"):
            return set()
        codes = set()
        if scope is not None and occurred_at < self.sessions[scope].created_at:
            codes.add("act_before_request")
        family = self.family(speaker, notice_purpose or purpose)
        published = self.versions[(*family, version)][1]
        if published is not None and occurred_at < published:
            codes.add("notice_not_yet_published")
        return codes

    def _affirmative_codes(
        self,
        speaker: int,
        purpose: str,
        *,
        version: int,
        method: str,
        by_speaker: bool,
        notice_purpose: str | None,
    ) -> set[str]:
        """What giving or renewing needs beyond the state: the current notice (with a
        retention schedule where the law asks for one), a verified adult, and evidence
        the rules of the place allow, given by the speaker where only their act counts."""
        s = self.speakers[speaker]
        codes = self._notice_codes(speaker, purpose, version, notice_purpose)
        key = (s.place, purpose)
        has_schedule = self.versions[(*self.family(speaker, notice_purpose or purpose), version)][0]
        if key in RETENTION_SCHEDULE_IN_NOTICE and not has_schedule:
            codes.add("notice_incomplete")
        if s.age == "unverified":
            codes.add("age_not_verified")
        if key in SPEAKER_ACT_ONLY and not by_speaker:
            codes.add("evidence_not_allowed")
        if (key in WRITTEN and method not in WRITTEN_METHODS) or (
            key in EXPLICIT and method not in EXPLICIT_METHODS
        ):
            codes.add("evidence_not_allowed")
        return codes

    def _give_gate(self, speaker: int, purpose: str, scope: int | None, *, renew: bool) -> set[str]:
        """After asking for erasure nothing comes back into force; a call's consent is
        given by its participants, recording consent before its recording (a renewal
        keeps the consent's start, so it may come later: a consent renewed after it
        lapsed starts anew and no longer covers the call), and only while their
        invitation is not closed for good."""
        codes = set()
        if self.speakers[speaker].erasure_requested:
            codes.add("erasure_in_progress")
        codes |= self._scope_codes(speaker, scope)
        if scope is not None and "not_a_participant" not in codes:
            strict = self.flags.get("no_renewal_of_a_calls_recording_after_it")
            if (
                purpose == "recording"
                and self.sessions[scope].status != "open"
                and (strict or not renew)
            ):
                codes.add("session_not_open")
            if self.closed_reason(scope, speaker):
                codes.add("invitation_closed")
        return codes

    def _validity(
        self, speaker: int, purpose: str, at: datetime.datetime
    ) -> datetime.datetime | None:
        retention = RETENTION.get((self.speakers[speaker].place, purpose))
        return at + retention if retention else None

    # --- acts ---------------------------------------------------------------------------

    def give(
        self,
        speaker: int,
        purpose: str,
        scope: int | None,
        *,
        version: int,
        method: str,
        by_speaker: bool,
        at: datetime.datetime,
        occurred_at: datetime.datetime | None = None,
        notice_purpose: str | None = None,
        renew: bool = False,
    ) -> Outcome:
        """Give (or renew) one purpose. Giving what is in force is refused (renew it);
        only a given or expired consent can be renewed, and a renewal while in force
        keeps the start of its validity."""
        codes = self._give_gate(speaker, purpose, scope, renew=renew)
        codes |= self._affirmative_codes(
            speaker,
            purpose,
            version=version,
            method=method,
            by_speaker=by_speaker,
            notice_purpose=notice_purpose,
        )
        codes |= self._order_codes(
            speaker,
            purpose,
            scope,
            version=version,
            occurred_at=occurred_at,
            notice_purpose=notice_purpose,
        )
        row = self.row(speaker, purpose, scope)
        if renew and (row is None or row.state not in (*VALID, "expired")):
            codes.add("consent_not_renewable")
        if not renew and row is not None and row.in_force(at):
            codes.add("consent_already_given")
        if codes:
            return Outcome(frozenset(codes))
        lapsed = self._lapse(row, at)
        start = row.given_at if renew and row is not None and row.in_force(at) else at
        self.rows[(speaker, purpose, scope)] = Row(
            "renewed" if renew else "given",
            version,
            given_at=start,
            expires_at=self._validity(speaker, purpose, at),
        )
        return Outcome(frozenset(), events=1 + lapsed)

    def refuse(
        self,
        speaker: int,
        purpose: str,
        scope: int | None,
        *,
        version: int,
        occurred_at: datetime.datetime | None = None,
        notice_purpose: str | None = None,
        at: datetime.datetime | None = None,
    ) -> Outcome:
        """Refusing is always possible (even after asking for erasure, or with the
        invitation closed), except over a consent that is given: withdraw that one."""
        codes = self._scope_codes(speaker, scope) | self._notice_codes(
            speaker, purpose, version, notice_purpose
        )
        codes |= self._order_codes(
            speaker,
            purpose,
            scope,
            version=version,
            occurred_at=occurred_at,
            notice_purpose=notice_purpose,
        )
        row = self.row(speaker, purpose, scope)
        if row is not None and self._given(row, at):
            codes.add("consent_is_valid")
        if codes:
            return Outcome(frozenset(codes))
        lapsed = self._lapse(row, at)
        self.rows[(speaker, purpose, scope)] = Row("refused", version)
        return Outcome(frozenset(), events=1 + lapsed)

    def _lapse(self, row: Row | None, at: datetime.datetime | None) -> int:
        """An act that goes through on a consent past its expiry first records the expiry
        the hourly job has not written yet (flag ``lapsed_consent_is_not_given``): the
        number of events that adds."""
        if (
            not self.flags.get("lapsed_consent_is_not_given")
            or row is None
            or at is None
            or row.state not in VALID
            or row.in_force(at)
        ):
            return 0
        row.state = "expired"
        return 1

    def _given(self, row: Row, at: datetime.datetime | None) -> bool:
        """Whether a consent counts as given for refusing or withdrawing. By the rules a
        consent past its expiry is no longer given; the registry treats it as given
        until the expiry job has run (flag ``lapsed_consent_is_not_given`` off)."""
        if self.flags.get("lapsed_consent_is_not_given") and at is not None:
            return row.in_force(at)
        return row.state in VALID

    def withdraw(
        self,
        speaker: int,
        purpose: str,
        scope: int | None,
        at: datetime.datetime | None = None,
    ) -> Outcome:
        """Never refused and never harder than giving. Without a scope it withdraws the
        purpose everywhere (all recordings and every call); with one, that call only.
        Withdrawing what is not given writes nothing."""
        events = 0
        for (who, what, where), row in self.rows.items():
            if who != speaker or what != purpose or (scope is not None and where != scope):
                continue
            events += self._lapse(row, at)
            if self._given(row, at):
                row.state = "withdrawn"
                events += 1
        return Outcome(frozenset(), events=events)

    def request_erasure(self, speaker: int) -> Outcome:
        """Every consent given is withdrawn at once; nothing new may be given after, and
        the speaker's invitations to calls still waiting close (those never clear)."""
        s = self.speakers[speaker]
        if s.erasure_requested:
            return Outcome(frozenset(), events=0)
        events = 0
        for (who, _purpose, _scope), row in self.rows.items():
            if who == speaker and row.state in VALID:
                row.state = "withdrawn"
                events += 1
        s.erasure_requested = True
        if self.flags.get("erasure_closes_invitations"):
            for session in self.sessions:
                if speaker in session.participants and session.status == "open":
                    session.closed.setdefault(speaker, "erased")
        return Outcome(frozenset(), events=events)

    def expire(self, at: datetime.datetime) -> int:
        """The scheduled job: consents past their expiry become expired."""
        count = 0
        for row in self.rows.values():
            if row.state in VALID and row.expires_at is not None and row.expires_at <= at:
                row.state = "expired"
                count += 1
        return count

    def enrol(self, place: str, age_evidence: str) -> tuple[Outcome, str | None]:
        """A speaker registered by the platform, with the evidence of age it holds:
        (outcome, the speaker's age status when accepted). A date of birth must be one a
        living person can have (1900 to today) and show an adult; beside an attestation
        it must not show fewer years than attested; no evidence leaves them unverified
        (they can be registered, and give nothing until their age is verified)."""
        refused = {
            "date of birth before 1900": "date_of_birth_implausible",
            "date of birth in the future": "date_of_birth_implausible",
            "date of birth of a 16-year-old": "below_minimum_age",
            "attested 25, date of birth of a 20-year-old": "age_contradicts_attestation",
        }
        if age_evidence in refused:
            return Outcome(frozenset({refused[age_evidence]})), None
        age = {
            "date of birth of an adult": "dob",
            "attested 18": "attested",
            "attested 18, date of birth of a 30-year-old": "attested",
            "none": "unverified",
        }[age_evidence]
        self.speakers.append(SpeakerModel(place=place, age=age))
        return Outcome(frozenset()), age

    def create_session(self, participants: list[int], at: datetime.datetime) -> Outcome:
        """Each participant is asked for recording consent for this call ("requested");
        a speaker who asked for erasure cannot be invited."""
        if any(self.speakers[p].erasure_requested for p in participants):
            return Outcome(frozenset({"erasure_in_progress"}))
        index = len(self.sessions)
        self.sessions.append(SessionModel(participants=list(participants), created_at=at))
        for p in participants:
            self.rows[(p, "recording", index)] = Row(
                "requested", self.current_version(p, "recording")
            )
        return Outcome(frozenset(), events=len(participants))

    def start_recording(self, session: int, at: datetime.datetime) -> Outcome:
        s = self.sessions[session]
        codes = set()
        if s.status != "open":
            codes.add("session_not_open")
        if not self.cleared(session, at):
            codes.add("session_not_cleared")
        if codes:
            return Outcome(frozenset(codes))
        s.status, s.recorded_at = "recording", at
        return Outcome(frozenset())

    def age_answer_may_be_throttled(
        self, session: int, speaker: int, at: datetime.datetime
    ) -> bool:
        """More than five answers on one link within an hour may be turned away (429)."""
        recent = [
            t
            for t in self.age_answers.get((session, speaker), [])
            if at - t < datetime.timedelta(hours=1)
        ]
        return len(recent) > AGE_ANSWERS_PER_HOUR

    def answer_age(
        self, session: int, speaker: int, answer: str, at: datetime.datetime
    ) -> tuple[frozenset[int], str | None, int]:
        """A date of birth given on an invitation page by a participant whose age is not
        verified: (acceptable HTTP statuses, the speaker's new age status or None, events).

        ``answer``: "adult", "under_age", "future" (impossible), "pre1900" (implausible).
        A date below the minimum is never stored. With ``under_age_closes_invitation``
        it closes this invitation for good (a refusal of this call's recording consent)
        and no later self-declared date is believed, on any link."""
        s = self.speakers[speaker]
        sess = self.sessions[session]
        if not self.invitation_open(session, speaker, at):
            return frozenset({403, 409, 410}), None, 0
        self.age_answers.setdefault((session, speaker), []).append(at)
        if answer in ("future", "pre1900") or s.erasure_requested:
            return frozenset({400}), None, 0
        closes = self.flags.get("under_age_closes_invitation")
        if closes and s.under_age_on_record:
            return frozenset({403}), None, 0
        if answer == "under_age":
            if not closes:
                return frozenset({403}), None, 0
            s.under_age_on_record = True
            sess.closed[speaker] = "under_age"
            key = (speaker, "recording", session)
            row = self.rows[key]
            if row.state in VALID:
                row.state = "withdrawn"
            else:
                self.rows[key] = Row("refused", row.notice_version)
            return frozenset({403}), None, 1
        s.age = "dob"
        return frozenset({302}), "dob", 0
