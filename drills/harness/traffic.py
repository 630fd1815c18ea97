"""The mixed traffic of the drills, as the registry's real clients send it:

- the collection platform (collector token) records training consent acts through
  ``POST /api/v1/speakers/<id>/consents/`` with an ``Idempotency-Key``: each speaker
  alternates withdraw / give, one act in flight per speaker, and withdrawals alternate
  with gives across speakers; optionally registers new speakers (personal data written
  under the current PII key);
- the licensee (licensee token) reads eligibility pages, one recording's eligibility,
  the release's manifest and card, polls the withdrawal feed with its cursor;
- anyone reads the JWKS and the current notices.

``Traffic(index)`` returns the call for slot ``index`` of a fixed cycle (``SOAK_MIX``),
so the shares hold exactly at any rate.
"""

from __future__ import annotations

import threading
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from drills.harness.load import Call
from drills.harness.world import World

# 20 slots: 4 consent acts (20 %); 16 reads: eligibility pages and one recording's
# eligibility (6), feed polls (4), manifests (2), a speaker's consents (2), notices, JWKS.
SOAK_MIX = (
    "act",
    "eligible_tracks",
    "feed",
    "recording_eligibility",
    "act",
    "manifest",
    "consents",
    "eligible_tracks",
    "act",
    "feed",
    "notices",
    "recording_eligibility",
    "act",
    "eligible_tracks",
    "feed",
    "manifest",
    "consents",
    "recording_eligibility",
    "jwks",
    "feed",
)


@dataclass
class ActRecord:
    """One consent act as the platform saw it: its key and, once answered, the events."""

    key: str
    speaker: str
    action: str
    status: int = 0
    events: list[str] = field(default_factory=list)
    receipts: list[dict[str, Any]] = field(default_factory=list)


class Traffic:
    def __init__(
        self,
        world: World,
        *,
        mix: tuple[str, ...] = SOAK_MIX,
        patient_acts: bool = False,
        keep_receipts: bool = False,
    ) -> None:
        self.world = world
        self.mix = mix
        self.patient_acts = patient_acts
        self.keep_receipts = keep_receipts
        self.acts: list[ActRecord] = []
        self.registered: list[str] = []  # emails of speakers registered by the load
        self.retired: list[str] = []  # speakers whose last act had no answer
        self.feed_cursor = 0
        # Free speakers by their next act; acts alternate between the two queues, so
        # withdrawals and gives interleave at any moment of a run.
        self._free: dict[str, deque[int]] = {
            "withdraw": deque(range(len(world.speakers))),
            "give": deque(),
        }
        self._last = "give"
        self._lock = threading.Lock()
        self._collector = {"Authorization": f"Bearer {world.collector_token}"}
        self._licensee = {"Authorization": f"Bearer {world.licensee_token}"}

    def __call__(self, index: int) -> Call | None:
        kind = self.mix[index % len(self.mix)]
        if kind == "act":
            return self.act() or self.read("eligible_tracks", index)
        if kind == "register":
            return self.register()
        return self.read(kind, index)

    # --- the collection platform -----------------------------------------------------

    def act(self) -> Call | None:
        """The next free speaker's next act (None when every speaker has one in flight)."""
        with self._lock:
            action = "withdraw" if self._last == "give" else "give"
            if not self._free[action]:
                action = "give" if action == "withdraw" else "withdraw"
            if not self._free[action]:
                return None
            position = self._free[action].popleft()
            self._last = action
        speaker = self.world.speakers[position]
        body: dict[str, Any] = {"action": action, "purpose": "training"}
        if action == "give":
            body["notice"] = speaker.notices["training"]
            body["evidence"] = {"method": "web_form_signed", "signed_name": "Drill Speaker"}
        else:
            body["evidence"] = {"method": "web_form"}
        record = ActRecord(key=str(uuid.uuid4()), speaker=speaker.id, action=action)

        def done(status: int, answer: Any) -> None:
            record.status = status
            if status and isinstance(answer, dict):
                for event in answer.get("events", []):
                    record.events.append(str(event["id"]))
                    if self.keep_receipts:
                        record.receipts.append(event["receipt"])
                speaker.training_given = action == "give"
            with self._lock:
                self.acts.append(record)
                if status:
                    self._free["withdraw" if speaker.training_given else "give"].append(position)
                else:
                    # No answer: its state is unknown until someone looks; keep it out.
                    self.retired.append(speaker.id)

        return Call(
            name=action,
            method="POST",
            path=f"/api/v1/speakers/{speaker.id}/consents/",
            expect=frozenset({201}),
            headers={**self._collector, "Idempotency-Key": record.key},
            body=body,
            patient=self.patient_acts,
            done=done,
        )

    def register(self) -> Call:
        """A new speaker: name, email and birth year go to disk encrypted."""
        email = f"drill-new-{uuid.uuid4().hex[:12]}@example.org"

        def done(status: int, _answer: Any) -> None:
            if status:
                with self._lock:
                    self.registered.append(email)

        return Call(
            name="register",
            method="POST",
            path="/api/v1/speakers/",
            expect=frozenset({201}),
            headers={**self._collector, "Idempotency-Key": str(uuid.uuid4())},
            body={
                "name": "Drill Newcomer",
                "email": email,
                "jurisdiction": "US-CA",
                "preferred_language": "en",
                "age_verification_method": "platform_attestation",
                "age_attested_minimum": 21,
            },
            patient=self.patient_acts,
            done=done,
        )

    # --- the licensee and the public -------------------------------------------------

    def read(self, kind: str, index: int) -> Call:
        world = self.world
        release = f"/api/v1/releases/{world.release}"
        ok = frozenset({200})
        if kind == "eligible_tracks":
            path = f"/api/v1/eligibility/tracks/?purpose=training&release={world.release}"
            return Call(kind, "GET", path, ok, self._licensee)
        if kind == "recording_eligibility":
            recording = world.recordings[index % len(world.recordings)]
            path = f"/api/v1/recordings/{recording}/eligibility/?purpose=training"
            return Call(kind, "GET", path, ok, self._licensee)
        if kind == "manifest":
            return Call(kind, "GET", f"{release}/manifest", ok, self._licensee)
        if kind == "card":
            return Call(kind, "GET", f"{release}/card.json", ok, self._licensee)
        if kind == "feed":
            return Call(
                kind,
                "GET",
                f"/api/v1/feed/?after={self.feed_cursor}&limit=200",
                ok,
                self._licensee,
                done=self._advance_feed,
            )
        if kind == "consents":
            speaker = world.speakers[index % len(world.speakers)].id
            return Call(kind, "GET", f"/api/v1/speakers/{speaker}/consents/", ok, self._collector)
        if kind == "notices":
            path = "/api/v1/notices/?jurisdiction=US-IL&language=en&purpose=training"
            return Call(kind, "GET", path, ok, self._collector)
        if kind == "jwks":
            return Call(kind, "GET", "/.well-known/jwks.json", ok)
        raise ValueError(f"unknown call kind {kind!r}")

    def _advance_feed(self, status: int, answer: Any) -> None:
        if status and isinstance(answer, dict) and answer.get("next_cursor") is not None:
            with self._lock:
                self.feed_cursor = max(self.feed_cursor, int(answer["next_cursor"]))

    # --- what the drills check afterwards --------------------------------------------

    def answered_acts(self) -> list[ActRecord]:
        with self._lock:
            return [act for act in self.acts if act.status]

    def receipts(self) -> list[dict[str, Any]]:
        with self._lock:
            return [receipt for act in self.acts for receipt in act.receipts]
