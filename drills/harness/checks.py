"""What a drill checks after the fault, in the drill's own Django (read-only SQL and
selectors) and with an independent verifier for signatures (what a licensee or a
speaker would run: RFC 8785 + Ed25519 with the key named in the JWKS)."""

from __future__ import annotations

import base64
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

# Each query counts rows breaking one invariant of the consent state; all must be 0.
CONSENT_INVARIANTS = {
    # An event whose scope has no current-state row.
    "event without state": """
        SELECT count(*) FROM consent_consentevent e
         WHERE NOT EXISTS (SELECT 1 FROM consent_consent c
                            WHERE c.speaker_id = e.speaker_id AND c.purpose = e.purpose
                              AND c.session_id IS NOT DISTINCT FROM e.session_id)""",
    # A state row that is not what the latest event of its scope says.
    "state without its event": """
        SELECT count(*) FROM consent_consent c
          JOIN consent_consentevent e ON e.id = c.last_event_id
         WHERE e.state <> c.state OR e.speaker_id <> c.speaker_id OR e.purpose <> c.purpose
            OR e.session_id IS DISTINCT FROM c.session_id
            OR EXISTS (SELECT 1 FROM consent_consentevent later
                        WHERE later.speaker_id = c.speaker_id AND later.purpose = c.purpose
                          AND later.session_id IS NOT DISTINCT FROM c.session_id
                          AND later.seq > e.seq)""",
    # A withdrawal or expiry that propagation could never learn of.
    "withdrawal without outbox row": """
        SELECT count(*) FROM consent_consentevent e
         WHERE e.action IN ('withdraw', 'expire')
           AND NOT EXISTS (SELECT 1 FROM consent_consentoutbox o WHERE o.event_id = e.id)""",
    "outbox row without plan": """
        SELECT count(*) FROM consent_consentoutbox o
         WHERE NOT EXISTS (SELECT 1 FROM propagation_propagation p WHERE p.outbox_id = o.id)""",
    "event without receipt": """
        SELECT count(*) FROM consent_consentevent e
         WHERE NOT EXISTS (SELECT 1 FROM consent_consentreceipt r WHERE r.event_id = e.id)""",
}


def _fresh_connection() -> None:
    from django.db import connections

    connections.close_all()  # the database may have restarted since the last query


def consent_state_problems() -> dict[str, int]:
    """Rows breaking each invariant above (only the non-zero ones)."""
    from django.db import connection

    _fresh_connection()
    problems = {}
    with connection.cursor() as cursor:
        for name, sql in CONSENT_INVARIANTS.items():
            cursor.execute(sql)
            count = int(cursor.fetchone()[0])
            if count:
                problems[name] = count
    return problems


def events_with_ids(ids: list[str]) -> Counter[str]:
    """How many events carry each of these public ids (each must be exactly 1)."""
    from consent.models import ConsentEvent

    _fresh_connection()
    found = Counter(
        str(public_id)
        for public_id in ConsentEvent.objects.filter(public_id__in=ids).values_list(
            "public_id", flat=True
        )
    )
    return Counter({event: found.get(event, 0) for event in ids})


def last_event_seq() -> int:
    from consent.models import ConsentEvent

    _fresh_connection()
    return ConsentEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0


def last_target_id() -> int:
    from propagation.models import PropagationTarget

    _fresh_connection()
    return PropagationTarget.objects.order_by("-id").values_list("id", flat=True).first() or 0


@dataclass(frozen=True)
class PropagationState:
    by_status: dict[str, int]
    notice_keys: set[str]  # webhook targets: licenses and models
    release_targets: int
    errata: int  # errata written for those release targets (one each)
    model_targets: int
    model_flags: int  # withdrawals_pending the models gained (one per target)

    @property
    def total(self) -> int:
        return sum(self.by_status.values())

    @property
    def unfinished(self) -> int:
        """Targets not in a final state (delivered, acknowledged or dead)."""
        final = ("delivered", "acknowledged", "dead")
        return sum(n for status, n in self.by_status.items() if status not in final)

    @property
    def unreached(self) -> int:
        return sum(n for s, n in self.by_status.items() if s not in ("delivered", "acknowledged"))


def propagation_state(after_target: int = 0) -> PropagationState:
    """The targets created after ``after_target`` and their effects."""
    from django.db.models import Count

    from datasetcards.models import ReleaseErratum
    from propagation.models import PropagationTarget, TargetKind
    from registry.models import DerivedModel

    _fresh_connection()
    targets = PropagationTarget.objects.filter(id__gt=after_target)
    by_status = {
        row["status"]: row["n"] for row in targets.values("status").annotate(n=Count("id"))
    }
    notices = targets.filter(kind__in=[TargetKind.LICENSE, TargetKind.DERIVED_MODEL])
    releases = targets.filter(kind=TargetKind.RELEASE)
    models = targets.filter(kind=TargetKind.DERIVED_MODEL)
    return PropagationState(
        by_status=by_status,
        notice_keys={str(k) for k in notices.values_list("idempotency_key", flat=True)},
        release_targets=releases.count(),
        errata=ReleaseErratum.objects.filter(
            source_key__in=releases.values("idempotency_key")
        ).count(),
        model_targets=models.count(),
        model_flags=sum(DerivedModel.objects.values_list("withdrawals_pending", flat=True)),
    )


def last_reached_at(after_target: int) -> float:
    """Unix time the last of these targets was delivered (0.0: none was)."""
    from django.db.models import Max

    from propagation.models import PropagationTarget

    _fresh_connection()
    last = PropagationTarget.objects.filter(id__gt=after_target).aggregate(at=Max("delivered_at"))[
        "at"
    ]
    return last.timestamp() if last else 0.0


def wait_for_propagation(after_target: int, timeout: float) -> tuple[PropagationState, float]:
    """Poll until every target after ``after_target`` is final; (state, seconds waited)."""
    started = time.monotonic()
    while True:
        state = propagation_state(after_target)
        if state.unfinished == 0 or time.monotonic() - started > timeout:
            return state, time.monotonic() - started
        time.sleep(2)


def audit_chain_ok() -> tuple[bool, str]:
    from consent import chain

    _fresh_connection()
    report = chain.verify_chain()
    problems = [report.problem, *report.checkpoint_problems]
    detail = "; ".join(p for p in problems if p)
    return report.ok, detail or f"{report.events_checked} events"


# --- signatures, verified the way an outsider would -------------------------------------


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def verify_with_jwks(data: bytes, signature: dict[str, Any], jwks: dict[str, Any]) -> bool:
    """Ed25519 ``signature`` (``{alg, kid, value}``) of ``data`` under the JWKS key with
    that ``kid``; False when the key is not published."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    key = next((k for k in jwks.get("keys", []) if k.get("kid") == signature.get("kid")), None)
    if key is None or signature.get("alg") != "EdDSA":
        return False
    try:
        public = Ed25519PublicKey.from_public_bytes(_b64url_decode(key["x"]))
        public.verify(_b64url_decode(signature["value"]), data)
    except (InvalidSignature, ValueError, KeyError):
        return False
    return True


def canonical(payload: Any) -> bytes:
    import rfc8785

    return bytes(rfc8785.dumps(payload))


def receipt_verifies(envelope: dict[str, Any], jwks: dict[str, Any]) -> bool:
    return verify_with_jwks(canonical(envelope["receipt"]), envelope["signature"], jwks)


def card_verifies(card: dict[str, Any], jwks: dict[str, Any]) -> bool:
    """The native card's embedded signature, over the card without ``signature``."""
    unsigned = {key: value for key, value in card.items() if key != "signature"}
    return verify_with_jwks(canonical(unsigned), card.get("signature", {}), jwks)
