"""``Idempotency-Key`` on the platform's consent acts.

The first request with a key performs the act and stores its answer (status and body)
in the act's own transaction, so the answer exists exactly when the act committed. A
retry with the same key and the same request (method, path and canonical JSON body)
gets that answer again, byte for byte, with ``Idempotent-Replayed: true`` and no
second act; the same key with another request is refused (409
``idempotency_key_reused``). Two requests racing with one key: the unique index on the
stored answers makes the second's insert wait for the first's transaction and then
fail, which rolls the second's act back; it then replays the first's answer.

Keys live in one namespace per token kind: every collector token, including the
successors a rotation issues, shares the platform's keys. Bad input (400) and domain
refusals are not stored: nothing changed, so the client may fix the cause and retry
with the same key. Answers are kept at least 24 hours.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from consent.selectors import idempotency_record
from consent.services.idempotency import hold_key, record_idempotent_response, stored_answer
from registry.api.auth import api_token
from registry.errors import RegistryError

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
KEY_RE = re.compile(r"^[!-~]{1,255}$")  # visible ASCII, no spaces

KEY_PARAMETER = OpenApiParameter(
    HEADER,
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=True,
    pattern=KEY_RE.pattern,
    description="1-255 visible ASCII characters, unique per act (a UUID is ideal). A retry "
    "with the same key and body returns the first answer and performs nothing; the same "
    "key with another body is refused (409). Kept 24 h.",
)
OPTIONAL_KEY_PARAMETER = OpenApiParameter(
    HEADER,
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    pattern=KEY_RE.pattern,
    description="Optional, recommended: 1-255 visible ASCII characters (a UUID is ideal). "
    "With it, a retry with the same key and body returns the first answer (its ids, its "
    "invitation links) and creates nothing; the same key with another body is refused "
    "(409). Kept 24 h.",
)
REPLAYED_HEADER = OpenApiParameter(
    REPLAYED,
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    enum=["true"],
    response=[200, 201],
    description="Present (`true`) when this answer is the stored answer to an earlier "
    "request with the same Idempotency-Key.",
)


class IdempotencyKeyRequired(RegistryError):
    code = "idempotency_key_required"


class IdempotencyKeyInvalid(RegistryError):
    code = "idempotency_key_invalid"


class IdempotencyKeyReused(RegistryError):
    code = "idempotency_key_reused"
    status = 409


@dataclass(frozen=True)
class IdempotentRequest:
    namespace: str
    key: str
    request_sha256: str

    @classmethod
    def of(cls, request: Request) -> IdempotentRequest:
        """The key and fingerprint of this request; 400 without a well-formed key."""
        key = request.headers.get(HEADER)
        if key is None or not key.strip():
            raise IdempotencyKeyRequired(f"this write needs an {HEADER} header", field=HEADER)
        if not KEY_RE.match(key):
            raise IdempotencyKeyInvalid(
                f"{HEADER}: 1-255 visible ASCII characters, no spaces", field=HEADER
            )
        body = json.dumps(request.data, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        fingerprint = hashlib.sha256(
            f"{request.method} {request.path}\n{body}".encode()
        ).hexdigest()
        return cls(namespace=str(api_token(request).kind), key=key, request_sha256=fingerprint)

    def replay(self) -> Response | None:
        """The stored answer to this key, if there is one; 409 if it answered another
        request."""
        record = idempotency_record(namespace=self.namespace, key=self.key)
        if record is None:
            return None
        if record.request_sha256 != self.request_sha256:
            raise IdempotencyKeyReused(
                f"this {HEADER} was used for a different request; use a new key",
                field=HEADER,
            )
        return Response(
            json.loads(stored_answer(record)),
            status=record.response_status,
            headers={REPLAYED: "true"},
        )

    def store(self, status: int, body: Any) -> None:
        """Keep the answer, in the caller's (the act's) transaction."""
        record_idempotent_response(
            namespace=self.namespace,
            key=self.key,
            request_sha256=self.request_sha256,
            status=status,
            response_json=JSONRenderer().render(body).decode(),
        )

    def around(self, perform: Callable[[], Response]) -> Response:
        """Replay a stored answer, or ``perform`` and store its (successful) answer in the
        same transaction as what it wrote; a twin racing with this key replays the
        winner's answer. ``perform``'s services must not open durable transactions."""
        replay = self.replay()
        if replay is not None:
            return replay
        try:
            with transaction.atomic(durable=True):
                # A twin in flight with this key: wait for it, then answer as it did.
                hold_key(namespace=self.namespace, key=self.key)
                if (replay := self.replay()) is not None:
                    return replay
                response = perform()
                if response.status_code < 300:
                    self.store(response.status_code, response.data)
        except IntegrityError as exc:
            if not self.lost_race(exc) or (replay := self.replay()) is None:
                raise
            return replay
        return response

    @staticmethod
    def lost_race(exc: IntegrityError) -> bool:
        """The insert failed because a concurrent request with this key committed first."""
        return "idempotency_key_once" in str(exc)


def idempotent_create(
    view: Callable[[Any, Request], Response],
) -> Callable[[Any, Request], Response]:
    """A create endpoint where ``Idempotency-Key`` is optional: with one, retries are
    safe (see ``IdempotentRequest.around``); without, each request creates."""

    @functools.wraps(view)
    def wrapped(self: Any, request: Request) -> Response:
        if HEADER not in request.headers:
            return view(self, request)
        return IdempotentRequest.of(request).around(lambda: view(self, request))

    return wrapped
