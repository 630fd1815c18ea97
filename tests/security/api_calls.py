"""Every operation of the API (read from the URL conf, so a new endpoint cannot be
forgotten), each with a request it accepts: the bad-input pass starts from these and
spoils one thing at a time.

A ``Call`` builds its path, query and body afresh for each request (new external refs,
emails, speakers, models), so a request refused for bad input is never refused for a
duplicate instead, and one accepted by mistake does not spoil the next."""

from __future__ import annotations

import datetime
import itertools
import json
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer

from consent.models import RecordingSession, SessionStatus
from consent.selectors import current_notice
from consent.services import create_recording_session
from propagation import services as propagation
from propagation.models import PropagationTarget, TargetStatus, WebhookEndpoint
from registry import tokens
from registry.models import TokenKind, TokenScope
from tests.api.helpers import LICENSEE_SCOPES
from tests.consent.conftest import withdraw
from tests.factories import DerivedModelFactory, SpeakerFactory
from tests.propagation.conftest import World, deliver_all

JSON = "application/json"
NDJSON = "application/x-ndjson"
METHODS = ("get", "post", "put", "patch", "delete")


@dataclass
class Api:
    """The world the calls act on, a live token per kind and a delivered notice."""

    world: World
    receiver_url: str
    bearers: dict[str, str]
    notice: PropagationTarget
    session_id: str
    numbers: Iterator[int] = field(default_factory=itertools.count)
    spare_session: str = ""

    def fresh(self, prefix: str) -> str:
        return f"{prefix}-{next(self.numbers)}"

    def active_webhook(self) -> str:
        endpoint = WebhookEndpoint.objects.filter(
            licensee=self.world.licensee, is_active=True
        ).first()
        if endpoint is None:
            endpoint = propagation.register_webhook(
                licensee=self.world.licensee, url=self.receiver_url
            ).endpoint
        return str(endpoint.public_id)

    def open_session(self) -> str:
        """A session still waiting for its recording (kept until a recording uses it:
        opening one per request would be most of the pass's time)."""
        if (
            self.spare_session
            and RecordingSession.objects.filter(
                public_id=self.spare_session, status=SessionStatus.OPEN, recording__isnull=True
            ).exists()
        ):
            return self.spare_session
        session = create_recording_session(
            external_ref=self.fresh("fuzz-session"),
            jurisdiction="US-IL",
            language="en",
            speakers=[self.world.a, self.world.b],
        )
        self.spare_session = str(session.public_id)
        return self.spare_session

    def recording(self, session: str | None = None) -> dict[str, Any]:
        """A call of a and b (both gave recording consent hours ago) in an open session."""
        world = self.world
        return {
            "session": session or self.open_session(),
            "external_ref": self.fresh("fuzz-call"),
            "recorded_at": timezone.now().isoformat(),
            "duration_ms": 60_000,
            "sample_rate_hz": 16_000,
            "channel_count": 2,
            "isolated_at_source": True,
            "audio_uri": "s3://fuzz/call.flac",
            "audio_sha256": "ab" * 32,
            "tracks": [
                {"channel": 0, "speaker": str(world.a.public_id)},
                {"channel": 1, "speaker": str(world.b.public_id)},
            ],
        }

    def consent_act(self) -> dict[str, Any]:
        notice = current_notice(speaker=self.world.a, purpose="training")
        assert notice is not None
        return {
            "action": "give",
            "purpose": "training",
            "notice": str(notice.public_id),
            "session": None,
            "evidence": {
                "method": "web_form_signed",
                "signed_name": "Dana Example",
                "occurred_at": timezone.now().isoformat(),
                "ip_address": "203.0.113.7",
                "user_agent": "Mozilla/5.0",
            },
        }


def make_api(world: World, receiver_url: str) -> Api:
    licensee = tokens.issue_api_token(
        name="fuzz",
        kind=TokenKind.LICENSEE,
        scopes=[str(s) for s in LICENSEE_SCOPES],
        licensee=world.licensee,
    )
    collector = tokens.issue_api_token(
        name="fuzz", kind=TokenKind.COLLECTOR, scopes=[TokenScope.WRITE_CONSENT, TokenScope.INGEST]
    )
    staff = tokens.issue_api_token(name="fuzz", kind=TokenKind.STAFF, scopes=["staff:read"])
    # A withdrawal of b's reaches the licensee: a notice delivered to its webhook.
    withdraw(world.b, "redistribution")
    deliver_all()
    notice = PropagationTarget.objects.get(license=world.license, kind="license")
    assert notice.status == TargetStatus.DELIVERED
    api = Api(
        world=world,
        receiver_url=receiver_url,
        bearers={
            "licensee": licensee.secret,
            "collector": collector.secret,
            "staff": staff.secret,
        },
        notice=notice,
        session_id="",
    )
    api.session_id = api.open_session()
    for bearer in api.bearers.values():
        tokens.authenticate(bearer)  # last used now: no write on the requests that follow
    return api


Builder = Callable[[Api], Any]


def _none(api: Api) -> None:
    return None


def _empty(api: Api) -> dict[str, Any]:
    return {}


@dataclass(frozen=True)
class Call:
    """One operation and a request it accepts."""

    name: str  # URL name
    method: str
    caller: str  # licensee, collector, staff, or public (no token)
    path: Builder = _empty
    query: Builder = _empty
    body: Builder = _none  # JSON value; for NDJSON a list of lines' values
    media: str = JSON
    # The operation changes something when it succeeds (else it must write nothing).
    writes: bool = False
    # Every member has a default: an empty body is a request like any other.
    body_optional: bool = False

    @property
    def takes_body(self) -> bool:
        return self.body is not _none

    @property
    def label(self) -> str:
        return f"{self.method.upper()} {self.name}"

    def url(self, api: Api, query: dict[str, Any] | None = None) -> str:
        url = reverse(self.name, kwargs=self.path(api))
        query = self.query(api) if query is None else query
        return f"{url}?{urlencode(query, doseq=True)}" if query else url


def _release(api: Api) -> dict[str, Any]:
    return {"release_id": api.world.release.public_id}


def _speaker(api: Api) -> dict[str, Any]:
    return {"speaker_id": api.world.a.public_id}


def _fresh_speaker(api: Api) -> dict[str, Any]:
    return {"speaker_id": SpeakerFactory().public_id}


def _fresh_model(api: Api) -> dict[str, Any]:
    return {"model_id": DerivedModelFactory(licensee=api.world.licensee).public_id}


def _webhook(api: Api) -> dict[str, Any]:
    return {"webhook_id": api.active_webhook()}


def _delivery(api: Api) -> dict[str, Any]:
    return {"delivery_id": api.notice.idempotency_key}


def _export_period(api: Api) -> dict[str, str]:
    today = timezone.now().date()
    return {
        "from": (today - datetime.timedelta(days=1)).isoformat(),
        "to": (today + datetime.timedelta(days=1)).isoformat(),
    }


RELEASE_FILES = ("card-json", "card-jsonld", "readme", "card-pdf", "card-sig", "rsl")

CALLS: list[Call] = [
    Call("api:schema", "get", "public"),
    Call("api:docs", "get", "public"),
    Call("api:redoc", "get", "public"),
    # Licensees: datasets, releases, cards, manifests, eligibility.
    Call("api:datasets", "get", "licensee"),
    Call(
        "api:dataset", "get", "licensee", path=lambda a: {"dataset_id": a.world.training.public_id}
    ),
    Call("api:releases", "get", "licensee"),
    Call("api:release", "get", "licensee", path=_release),
    *(Call(f"api:release-{name}", "get", "licensee", path=_release) for name in RELEASE_FILES),
    Call(
        "api:release-manifest", "get", "licensee", path=_release, query=lambda a: {"format": "csv"}
    ),
    Call("api:eligible-tracks", "get", "licensee", query=lambda a: {"purpose": "training"}),
    Call("api:eligible-recordings", "get", "licensee", query=lambda a: {"purpose": "training"}),
    Call(
        "api:recording-eligibility",
        "get",
        "licensee",
        path=lambda a: {"recording_id": a.world.calls[0].public_id},
        query=lambda a: {"purpose": "training"},
    ),
    # Licensees: the feed, webhooks, deliveries, models.
    Call("api:feed", "get", "licensee", query=lambda a: {"after": 0, "limit": 10}),
    Call("api:webhooks", "get", "licensee"),
    Call(
        "api:webhooks",
        "post",
        "licensee",
        body=lambda a: {"url": f"{a.receiver_url}/{a.fresh('hook')}"},
        writes=True,
    ),
    Call("api:webhook", "get", "licensee", path=_webhook),
    Call("api:webhook", "delete", "licensee", path=_webhook, writes=True),
    Call(
        "api:webhook-rotate-secret",
        "post",
        "licensee",
        path=_webhook,
        body=lambda a: {"grace_hours": 24},
        writes=True,
        body_optional=True,
    ),
    Call("api:webhook-ping", "post", "licensee", path=_webhook),
    Call("api:deliveries", "get", "licensee", query=lambda a: {"status": "delivered"}),
    Call("api:delivery", "get", "licensee", path=_delivery),
    Call("api:delivery-acknowledge", "post", "licensee", path=_delivery, writes=True),
    Call("api:models", "get", "licensee"),
    Call(
        "api:models",
        "post",
        "licensee",
        body=lambda a: {
            "name": "duplex",
            "version": a.fresh("v"),
            "description": "A full-duplex model.",
            "contract_reference": "C-1",
            "withdrawal_action": "retrain",
            "trained_at": timezone.now().isoformat(),
            "releases": [str(a.world.release.public_id)],
        },
        writes=True,
    ),
    Call("api:model", "get", "licensee", path=lambda a: {"model_id": a.world.model.public_id}),
    Call(
        "api:model",
        "patch",
        "licensee",
        path=_fresh_model,
        body=lambda a: {"status": "retired", "note": "Replaced by a newer model."},
        writes=True,
    ),
    Call(
        "api:model-releases",
        "post",
        "licensee",
        path=_fresh_model,
        body=lambda a: {"releases": [str(a.world.release.public_id)]},
        writes=True,
    ),
    # The collection platform.
    Call(
        "api:collector-speakers",
        "post",
        "collector",
        body=lambda a: {
            "name": "Dana Example",
            "jurisdiction": "US-IL",
            "preferred_language": "en",
            "email": f"{a.fresh('dana')}@example.org",
            "phone": "+1 312 555 0100",
            "date_of_birth": "1990-05-17",
            "age_verification_method": "date_of_birth",
            "age_attested_minimum": None,
        },
        writes=True,
    ),
    Call("api:collector-speaker-consents", "get", "collector", path=_speaker),
    Call(
        "api:collector-speaker-consents",
        "post",
        "collector",
        path=_fresh_speaker,
        body=lambda a: a.consent_act(),
        writes=True,
    ),
    Call(
        "api:collector-notices",
        "get",
        "collector",
        query=lambda a: {"jurisdiction": "US-IL", "language": "en", "purpose": "training"},
    ),
    Call(
        "api:collector-sessions",
        "post",
        "collector",
        body=lambda a: {
            "external_ref": a.fresh("fuzz-session"),
            "jurisdiction": "US-IL",
            "language": "en",
            "participants": [
                {"channel": 0, "speaker": str(a.world.a.public_id)},
                {"channel": 1, "speaker": str(a.world.b.public_id)},
            ],
            "invite_valid_for_hours": 24,
        },
        writes=True,
    ),
    Call(
        "api:collector-session-clearance",
        "get",
        "collector",
        path=lambda a: {"session_id": a.session_id},
    ),
    Call(
        "api:collector-recordings", "post", "collector", body=lambda a: a.recording(), writes=True
    ),
    Call(
        "api:collector-recordings-bulk",
        "post",
        "collector",
        body=lambda a: [a.recording()],
        media=NDJSON,
        writes=True,
    ),
    # Compliance staff.
    Call("api:staff-speakers", "get", "staff", query=lambda a: {"email": a.world.a.email}),
    Call("api:staff-speaker-events", "get", "staff", path=_speaker),
    Call("api:staff-speaker-consents", "get", "staff", path=_speaker),
    Call("api:staff-speaker-propagation", "get", "staff", path=_speaker),
    Call("api:staff-events-export", "get", "staff", query=_export_period),
    # The acknowledgement link in a notice: authenticated by the notice's own token.
    Call(
        "propagation:acknowledge",
        "post",
        "notice",
        path=lambda a: {"key": a.notice.idempotency_key},
        body=lambda a: {"token": propagation.ack_token(a.notice)},
        writes=True,
    ),
]
# Function views say which methods they answer only by answering.
FUNCTION_VIEW_METHODS = {"propagation:acknowledge": ("post",)}


def _walk(
    patterns: list[Any], route: str = "", namespace: str = ""
) -> Iterator[tuple[str, str, Any]]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}:{entry.namespace}" if entry.namespace else namespace
            yield from _walk(entry.url_patterns, route + str(entry.pattern), inner.strip(":"))
        elif isinstance(entry, URLPattern) and entry.name:
            name = f"{namespace}:{entry.name}".strip(":")
            yield route + str(entry.pattern), name, entry.callback


def api_operations() -> set[tuple[str, str]]:
    """(URL name, method) of every operation under /api/."""
    found = set()
    for route, name, callback in _walk(get_resolver().url_patterns):
        if not route.startswith("api/"):
            continue
        view = getattr(callback, "view_class", None) or getattr(callback, "cls", None)
        if view is None:
            methods: tuple[str, ...] = FUNCTION_VIEW_METHODS.get(name, ("<unknown>",))
        else:
            methods = tuple(m for m in METHODS if hasattr(view, m))
        found |= {(name, method) for method in methods}
    return found


def required_scope(call: Call) -> str | None:
    url = reverse(call.name, kwargs={k: uuid.uuid4() for k in _kwarg_names(call.name)})
    callback = resolve(url).func
    view = getattr(callback, "view_class", None) or getattr(callback, "cls", None)
    return getattr(view, "required_scope", None)


def _kwarg_names(name: str) -> list[str]:
    for route, found, _ in _walk(get_resolver().url_patterns):
        if found == name:
            return [part.split(">")[0].split(":")[-1] for part in route.split("<")[1:]]
    raise KeyError(name)


# --- The OpenAPI schema: which values a field or parameter constrains ------------------

_SCHEMA: dict[str, Any] | None = None


def openapi() -> dict[str, Any]:
    global _SCHEMA
    if _SCHEMA is None:
        generated = SchemaGenerator().get_schema(request=None, public=True)
        _SCHEMA = json.loads(OpenApiJsonRenderer().render(generated))
    return _SCHEMA


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[1]
        node = openapi()["components"]["schemas"][name]
    if "allOf" in node and len(node["allOf"]) == 1:
        return _resolve(node["allOf"][0])
    return node


def operation_schema(call: Call) -> dict[str, Any]:
    """The OpenAPI operation for this call ({} for those outside the schema)."""
    ids = {name: uuid.uuid4() for name in _kwarg_names(call.name)}
    template = reverse(call.name, kwargs=ids)
    for name, value in ids.items():
        template = template.replace(str(value), "{" + name + "}")
    return openapi()["paths"].get(template, {}).get(call.method, {})


def body_field_schema(call: Call, path: tuple[Any, ...]) -> dict[str, Any]:
    """The schema of the body member at ``path`` ({} when unknown)."""
    if call.media == NDJSON:
        lines = next(c for c in CALLS if c.name == "api:collector-recordings")
        return body_field_schema(lines, path[1:])
    content = operation_schema(call).get("requestBody", {}).get("content", {})
    node = _resolve(content.get(JSON, {}).get("schema", {}))
    for step in path:
        if isinstance(step, int):
            node = _resolve(node.get("items", {}))
        else:
            node = _resolve(node.get("properties", {}).get(step, {}))
    return node


def constrains(schema: dict[str, Any]) -> bool:
    """Whether the schema admits only some strings (a choice, id, date, pattern…)."""
    if schema.get("type") not in (None, "string"):
        return True
    return any(key in schema for key in ("enum", "format", "pattern"))


def admits(schema: dict[str, Any], value: str) -> bool | None:
    """Whether a query parameter or header of this schema admits ``value`` (None: the
    schema does not say)."""
    if "enum" in schema:
        return value in schema["enum"]
    if schema.get("type") == "array":
        items = schema.get("items", {})
        verdicts = [admits(items, part) for part in value.split(",")]
        return None if None in verdicts else all(verdicts)
    if schema.get("type") == "integer":
        return re.fullmatch(r"-?[0-9]+", value) is not None
    if schema.get("format") == "uuid":
        try:
            uuid.UUID(value)
        except ValueError:
            return False
        return True
    if schema.get("format") == "date-time":
        try:
            return parse_datetime(value) is not None
        except ValueError:
            return False
    if "pattern" in schema:
        return re.fullmatch(schema["pattern"], value) is not None
    return None


def query_parameters(call: Call) -> dict[str, dict[str, Any]]:
    """Query (and header) parameters the schema declares, by name."""
    return {
        p["name"]: p
        for p in operation_schema(call).get("parameters", [])
        if p.get("in") in ("query", "header")
    }


# --- Sending -----------------------------------------------------------------------------


def wsgi_header(value: str) -> str:
    """A header value as a WSGI server hands it over: the bytes read as latin-1."""
    return value.encode("utf-8", "surrogatepass").decode("latin-1")


def send(
    client: Client,
    api: Api,
    call: Call,
    *,
    body: bytes | None = None,
    content_type: str | None = None,
    query: dict[str, Any] | None = None,
    url: str | None = None,
    authorization: str | None = None,
    headers: dict[str, str] | None = None,
) -> Any:
    """The call, as given or with its body, query, token or headers replaced (an empty
    ``authorization`` sends none)."""
    extra: dict[str, str] = {}
    if authorization is None and call.caller in api.bearers:
        authorization = f"Bearer {api.bearers[call.caller]}"
    if authorization:
        extra["HTTP_AUTHORIZATION"] = wsgi_header(authorization)
    if call.method != "get":
        extra["HTTP_IDEMPOTENCY_KEY"] = str(uuid.uuid4())
    for name, value in (headers or {}).items():
        extra["HTTP_" + name.upper().replace("-", "_")] = wsgi_header(value)
    if body is None and call.takes_body:
        body = encode(call, call.body(api))
    return client.generic(
        call.method.upper(),
        url or call.url(api, query),
        data=body or b"",
        content_type=call.media if content_type is None else content_type,
        **extra,
    )


def encode(call: Call, value: Any) -> bytes:
    """``value`` as the call's body: JSON, or for NDJSON a list as one line each."""
    if call.media == NDJSON and isinstance(value, list):
        return b"\n".join(json.dumps(line, ensure_ascii=True).encode() for line in value)
    return json.dumps(value, ensure_ascii=True).encode()


def members(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    """Every member of a JSON value (objects and arrays, depth first), with its path."""
    if isinstance(value, dict):
        for key, inner in value.items():
            yield (*path, key), inner
            yield from members(inner, (*path, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield (*path, index), inner
            yield from members(inner, (*path, index))


def replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    """A copy of ``value`` with the member at ``path`` replaced by ``new``."""
    if not path:
        return new
    head, *rest = path
    if isinstance(value, dict):
        return {**value, head: replaced(value[head], tuple(rest), new)}
    copy = list(value)
    copy[head] = replaced(copy[head], tuple(rest), new)
    return copy
