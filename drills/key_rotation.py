"""Key rotation under load: the PII encryption key and the signing key are rotated while
the traffic (consent acts with their receipts, new speakers' personal data, licensee
reads) runs at DRILL_ROTATION_RATE, following the README's procedure:

1. a new Fernet key first in ``PII_ENCRYPTION_KEYS`` (the old one after it), a new
   ``SIGNING_KEY``, the old public key in ``SIGNING_RETIRED_PUBLIC_KEYS``; rolling restart
   of web (a new gunicorn beside the old on the same port, then the old one drains),
   worker (new first, warm shutdown of the old) and beat;
2. ``manage.py rotate_pii_keys`` while the load goes on;
3. the old PII key removed; rolling restart again.

Passes when: no request failed (connection errors during a restart are retried once, as
a client would, and counted); no value of any encrypted column is readable only with the
old key, and every value decrypts with the new one; the staff lookup by email works with
the new key alone; the JWKS lists the new key first and keeps the old ``kid``; every
receipt issued before the rotation, the card and its ``.sig`` downloaded before it, the
feed's errata signed before it, and everything signed after it verify against the JWKS
(independent verifier); ``verify_audit_chain`` (with a checkpoint signed by the old key)
and ``verify_receipt`` pass with the new settings.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

from drills.harness import checks, drill
from drills.harness.drill import Verdict, say, setting
from drills.harness.load import FixedRateLoad
from drills.harness.stack import CLIENT_HEADERS, Stack
from drills.harness.traffic import Traffic
from drills.harness.world import World

NAME = "key-rotation"
RATE = setting("DRILL_ROTATION_RATE", 10)
WARM_UP = 20.0
MIX = ("act", "register", "eligible_tracks", "act", "feed", "card", "consents", "manifest")


def public_key_of(seed: str) -> str:
    """urlsafe base64 of the raw Ed25519 public key of a signing key (its seed)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    key = Ed25519PrivateKey.from_private_bytes(base64.urlsafe_b64decode(seed))
    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.urlsafe_b64encode(raw).decode()


def pii_census(new_key: str, old_key: str) -> dict[str, int]:
    """Every value of every encrypted column, by the key that opens it."""
    from cryptography.fernet import Fernet, InvalidToken
    from django.db import connection

    from registry.key_rotation import encrypted_tables

    checks._fresh_connection()
    new, old = Fernet(new_key.encode()), Fernet(old_key.encode())
    census = {"new key": 0, "old key only": 0, "neither": 0}
    with connection.cursor() as cursor:
        for table in encrypted_tables():
            for column in table.columns:
                cursor.execute(
                    f"SELECT {column} FROM {table.table} WHERE {column} IS NOT NULL"  # noqa: S608
                )
                for (token,) in cursor.fetchall():
                    for name, cipher in (("new key", new), ("old key only", old)):
                        try:
                            cipher.decrypt(str(token).encode())
                        except InvalidToken:
                            continue
                        census[name] += 1
                        break
                    else:
                        census["neither"] += 1
    return census


def card_pair(client: httpx.Client, world: World) -> tuple[bytes, dict[str, Any]]:
    """card.json and card.sig describing the same bytes (an erratum landing between the
    two downloads changes the card: then fetch both again)."""
    path = f"/api/v1/releases/{world.release}"
    for _ in range(10):
        card = client.get(f"{path}/card.json").raise_for_status().content
        sig = client.get(f"{path}/card.sig").raise_for_status().json()
        if sig["files"]["card.json"]["sha256"] == hashlib.sha256(card).hexdigest():
            return card, sig
    raise RuntimeError("card.json kept changing between its download and card.sig's")


def signatures_verify(
    card: bytes, sig: dict[str, Any], feed: list[dict[str, Any]], jwks: dict[str, Any]
) -> dict[str, bool]:
    parsed = json.loads(card)
    return {
        "card.json": checks.card_verifies(parsed, jwks),
        "card.sig": checks.verify_with_jwks(
            checks.canonical(parsed), sig["files"]["card.json"]["signature"], jwks
        ),
        "feed": all(
            checks.verify_with_jwks(checks.canonical(e["statement"]), e["signature"], jwks)
            for e in feed
        ),
    }


def key_rotation(workdir: Path) -> Verdict:
    from cryptography.fernet import Fernet

    stack = Stack(workdir, preload=True)
    try:
        world = stack.start()
        say(
            f"{NAME}: {stack.manage('verify_audit_chain', '--checkpoint').strip().splitlines()[-1]}"
        )
        licensee = httpx.Client(
            base_url=stack.url,
            headers={**CLIENT_HEADERS, "Authorization": f"Bearer {world.licensee_token}"},
            timeout=60,
        )
        traffic = Traffic(world, mix=MIX, keep_receipts=True)
        load = FixedRateLoad(
            base_url=stack.url, rate=RATE, calls=traffic, headers=CLIENT_HEADERS
        ).start(3600)
        time.sleep(WARM_UP)
        old_kid = licensee.get("/.well-known/jwks.json").json()["keys"][0]["kid"]
        old_card, old_sig = card_pair(licensee, world)
        old_receipts = traffic.receipts()
        old_pii, old_signing = stack.secrets["PII_ENCRYPTION_KEYS"], stack.secrets["SIGNING_KEY"]
        new_pii = Fernet.generate_key().decode()
        new_signing = base64.urlsafe_b64encode(os.urandom(32)).decode()
        both = stack.django_env(
            PII_ENCRYPTION_KEYS=f"{new_pii},{old_pii}",
            SIGNING_KEY=new_signing,
            SIGNING_RETIRED_PUBLIC_KEYS=public_key_of(old_signing),
        )
        started = time.monotonic()
        say(f"{NAME}: step 1, rolling restart with the new keys first")
        stack.roll_web(both)
        stack.roll_worker(both)
        stack.restart_beat(both)
        stack.env = both
        say(f"{NAME}: step 2, rotate_pii_keys under load")
        rotation = stack.manage("rotate_pii_keys", env=both).strip().splitlines()[-1]
        say(f"{NAME}: {rotation}")
        census = pii_census(new_pii, old_pii)
        say(f"{NAME}: step 3, the old PII key removed; rolling restart")
        new_only = {**both, "PII_ENCRYPTION_KEYS": new_pii}
        stack.roll_web(new_only)
        stack.roll_worker(new_only)
        stack.restart_beat(new_only)
        stack.env = new_only
        rotated_in = time.monotonic() - started
        time.sleep(10)  # acts signed with the new key
        load.stop()
        report = load.wait()
        new_receipts = traffic.receipts()[len(old_receipts) :]
        jwks = licensee.get("/.well-known/jwks.json").json()
        kids = [key["kid"] for key in jwks["keys"]]
        feed = licensee.get("/api/v1/feed/?after=0&limit=1000").json()["entries"]
        verified_old = signatures_verify(old_card, old_sig, feed, jwks)
        new_card, new_sig = card_pair(licensee, world)
        verified_new = signatures_verify(new_card, new_sig, [], jwks)
        new_card_kid = json.loads(new_card)["signature"]["kid"]
        receipts_ok = {
            "before": sum(checks.receipt_verifies(r, jwks) for r in old_receipts),
            "after": sum(checks.receipt_verifies(r, jwks) for r in new_receipts),
        }
        old_kids_in_receipts = {r["signature"]["kid"] for r in old_receipts}
        new_kids_in_receipts = {r["signature"]["kid"] for r in new_receipts}
        staff = httpx.get(
            f"{stack.url}/api/v1/staff/speakers/",
            params={"email": world.speakers[0].email},
            headers={**CLIENT_HEADERS, "Authorization": f"Bearer {world.staff_token}"},
            timeout=30,
        )
        found = staff.json().get("results", []) if staff.status_code == 200 else []
        lookup_ok = (
            bool(found) and found[0].get("contact", {}).get("email") == world.speakers[0].email
        )
        chain = stack.manage("verify_audit_chain").strip().splitlines()[-1]
        receipt_file = workdir / "old-receipt.json"
        receipt_file.write_text(json.dumps(old_receipts[0]) if old_receipts else "{}")
        try:
            receipt_tool = stack.manage("verify_receipt", str(receipt_file)).strip()
        except RuntimeError as exc:
            receipt_tool = f"FAILED {exc}"
        figures = {
            "rate": RATE,
            "requests": report.requests,
            "errors": report.errors,
            "transport_retries": report.retries,
            "p95_ms": round(report.latency(95)),
            "rotation_s": round(rotated_in, 1),
            "rotate_pii_keys": rotation,
            "pii_census": census,
            "speakers_registered_under_load": len(traffic.registered),
            "jwks_kids": kids,
            "old_kid": old_kid,
            "new_card_kid": new_card_kid,
            "receipts_before": [len(old_receipts), receipts_ok["before"]],
            "receipts_after": [len(new_receipts), receipts_ok["after"]],
            "old_signatures": verified_old,
            "new_signatures": verified_new,
            "feed_entries": len(feed),
            "staff_lookup": staff.status_code,
            "verify_audit_chain": chain,
            "verify_receipt": receipt_tool,
        }
        say(f"{NAME}: figures {figures}")
        failures = []
        if report.errors:
            failures.append(f"{report.errors} requests failed ({report.failure_kinds()})")
        if census["old key only"] or census["neither"] or not census["new key"]:
            failures.append(f"PII not all under the new key: {census}")
        if not lookup_ok:
            failures.append(f"staff lookup by email with the new key alone: {staff.status_code}")
        if len(kids) < 2 or kids[1] != old_kid or kids[0] == old_kid:
            failures.append(f"JWKS {kids} (old kid {old_kid})")
        if (
            old_kids_in_receipts != {old_kid}
            or new_card_kid == old_kid
            or not kids
            or kids[0] not in new_kids_in_receipts
        ):
            failures.append("signatures before/after did not use the old/new key")
        if not all(verified_old.values()) or not all(verified_new.values()):
            failures.append(f"signatures: old {verified_old}, new {verified_new}")
        if receipts_ok["before"] != len(old_receipts) or receipts_ok["after"] != len(new_receipts):
            failures.append(
                f"receipts verified {receipts_ok} of {len(old_receipts)}+{len(new_receipts)}"
            )
        if not old_receipts or not new_receipts:
            failures.append("no receipts before or after the rotation")
        if "audit chain OK" not in chain or "0 checkpoints" in chain:
            failures.append(f"verify_audit_chain: {chain}")
        if "verified" not in receipt_tool:
            failures.append(f"verify_receipt: {receipt_tool}")
        summary = (
            f"PII + signing keys rotated under {RATE:g} req/s in {rotated_in:.0f} s (2 rolling "
            f"restarts): {report.requests} requests, {report.errors} errors "
            f"({report.retries} connection retries); {census['new key']} encrypted values all "
            f"under the new key, 0 under the old only; staff email lookup with the new key "
            f"alone {'OK' if lookup_ok else 'FAILED'}; JWKS keeps the old kid; "
            f"{receipts_ok['before']}/{len(old_receipts)} old and "
            f"{receipts_ok['after']}/{len(new_receipts)} new receipts, old card + .sig, "
            f"{len(feed)} errata verify; verify_audit_chain and verify_receipt pass"
        )
        if failures:
            summary += " | " + "; ".join(failures)
        return Verdict(NAME, not failures, summary, figures)
    except BaseException:
        for log in ("web.log", "worker.log", "beat.log"):
            say(f"--- tail of {log}:\n{stack.log_tail(log)}")
        raise
    finally:
        stack.close()


if __name__ == "__main__":
    drill.run(NAME, key_rotation, time_limit=1500)
