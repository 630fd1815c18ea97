"""Bad input against every API operation (tests/security/api_calls.py lists them from
the URL conf, each with a request it accepts): wrong JSON types, hostile strings in
every member, query parameter and header, oversized and malformed bodies, wrong
content types and methods, forged or unfit tokens.

Never a 5xx; every refusal is application/problem+json with a ``code`` and a
``detail``; a refused request (and any read) changes nothing in the database. A value
the schema does not admit (a choice, id, date, pattern, length) must be refused."""

from __future__ import annotations

import datetime
import json
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consent.api.views import MAX_BULK_BYTES
from consent.services.ingestion import MAX_BATCH_LINES
from propagation.views import MAX_BODY as ACK_MAX_BODY
from registry import tokens
from registry.models import ApiToken, TokenKind
from tests.security.api_calls import (
    CALLS,
    FUNCTION_VIEW_METHODS,
    METHODS,
    NDJSON,
    Api,
    Call,
    admits,
    api_operations,
    body_field_schema,
    constrains,
    encode,
    members,
    query_parameters,
    replaced,
    required_scope,
    send,
)
from tests.security.hostile import (
    HOSTILE_JSON_TEXT,
    HOSTILE_SAMPLE,
    LONE_SURROGATE,
    Findings,
    StateGuard,
    json_kind,
    own_savepoint,
    short,
    wrong_types,
)

pytestmark = [pytest.mark.django_db(databases=["default", "replica"]), pytest.mark.slow]

PROBLEM = "application/problem+json"
# Reads may write one thing: the access log of staff reads (its own tests cover it).
LOGGED_READS = {"registry_accesslogentry"}


class Pass:
    """Sends spoiled requests and judges each answer."""

    def __init__(self, client: Client, api: Api) -> None:
        self.client = client
        self.api = api
        self.guard = StateGuard()
        self.findings = Findings()

    def send(self, call: Call, what: str, *, must_refuse: bool = True, **spoiled: Any) -> Any:
        """``must_refuse``: the request holds something the operation does not admit
        (otherwise it may be accepted, e.g. a name holding quotes)."""
        where = f"{call.label} {what}"
        # Build the request first: what the builders write is not the request's doing.
        spoiled["url"] = call.url(self.api, spoiled.pop("query", None))
        if "body" not in spoiled and call.takes_body:
            spoiled["body"] = encode(call, call.body(self.api))
        self.guard.catch_up()
        try:
            with own_savepoint():
                answer = send(self.client, self.api, call, **spoiled)
        except Exception as exc:  # a 5xx, as a WSGI server would answer it
            self.findings.add(where, f"server error {type(exc).__name__}: {short(str(exc), 160)}")
            self.guard.accept()
            return None
        self._judge(call, where, answer, must_refuse=must_refuse)
        return answer

    def _judge(self, call: Call, where: str, answer: Any, *, must_refuse: bool) -> None:
        status = answer.status_code
        changed = self.guard.changed_tables()
        self.guard.accept()
        if status >= 500:
            self.findings.add(where, f"server error {status}")
        elif 200 <= status < 300:
            if must_refuse:
                self.findings.add(where, f"accepted ({status})")
            if call.method == "get" and set(changed) - LOGGED_READS:
                self.findings.add(where, f"a read changed {changed}")
            return
        elif 300 <= status < 400:
            self.findings.add(where, f"redirected ({status})")
        else:
            self._check_problem(where, answer)
        if changed:
            self.findings.add(where, f"refused ({status}) but changed {changed}")

    def _check_problem(self, where: str, answer: Any) -> None:
        content_type = answer.get("Content-Type", "")
        if content_type != PROBLEM:
            self.findings.add(where, f"{answer.status_code} as {content_type!r}, not {PROBLEM}")
            return
        try:
            body = json.loads(answer.content)
        except ValueError:
            self.findings.add(where, f"{answer.status_code} problem is not JSON")
            return
        if not (isinstance(body, dict) and body.get("detail") and body.get("code")):
            self.findings.add(where, f"{answer.status_code} problem without code or detail")
        elif body.get("status") != answer.status_code:
            self.findings.add(where, f"problem says {body.get('status')}, not {answer.status_code}")


@pytest.fixture
def fuzz(client: Client, api: Api) -> Pass:
    return Pass(client, api)


def test_every_api_operation_is_in_the_pass() -> None:
    listed = {(c.name, c.method) for c in CALLS}
    missing = sorted(api_operations() - listed)
    assert not missing, f"add these operations to tests/security/api_calls.py: {missing}"
    stale = sorted(listed - api_operations())
    assert not stale, f"no longer in the URL conf: {stale}"
    assert set(FUNCTION_VIEW_METHODS) <= {c.name for c in CALLS}


def test_each_starting_request_is_accepted(client: Client, api: Api) -> None:
    """The pass spoils requests the API accepts, so a refusal is for what was spoiled;
    an operation that does not write, accepted, writes nothing."""
    guard = StateGuard()
    wrong: dict[str, Any] = {}
    for call in CALLS:
        url = call.url(api)
        body = encode(call, call.body(api)) if call.takes_body else None
        guard.catch_up()
        answer = send(client, api, call, url=url, body=body)
        changed = set(guard.changed_tables()) - LOGGED_READS
        guard.accept()
        if not 200 <= answer.status_code < 300:
            wrong[call.label] = (answer.status_code, answer.content[:300])
        elif changed and not call.writes:
            wrong[call.label] = f"changed {sorted(changed)}"
    assert not wrong, wrong


def test_wrong_json_types_are_refused_and_change_nothing(fuzz: Pass, api: Api) -> None:
    """The body, and each member in turn, as every JSON type the schema does not
    declare (null only where it is not nullable); numbers past any column's range."""
    for call in CALLS:
        if not call.takes_body:
            continue
        start = call.body(api)
        for kind, value in wrong_types(start):
            fuzz.send(call, f"body as {kind}", body=encode(call, value))
        for path, member in members(start):
            for kind, value in wrong_types(member, body_field_schema(call, path)):
                body = replaced(call.body(api), path, value)
                fuzz.send(call, f"{path} as {kind}", body=encode(call, body))
            if json_kind(member) == "number":
                body = replaced(call.body(api), path, 10**400)
                fuzz.send(call, f"{path} as 10**400", body=encode(call, body))
    fuzz.findings.check()


# What a choice, id or date validator may trip over: it refuses the rest alike.
CONSTRAINED_SAMPLE = {
    **{name: HOSTILE_SAMPLE[name] for name in ("nul", "or_true", "unicode_mix", "very_long")},
    "lone_surrogate": LONE_SURROGATE,
}


def test_hostile_strings_in_body_members_never_break_an_operation(fuzz: Pass, api: Api) -> None:
    """Injection and unicode edge cases in every string member: refused where the
    schema admits only some values (and always for NUL and lone surrogates), stored as
    given otherwise. Free text gets every string; a choice, id or date one of each kind
    (its validator refuses them alike)."""
    for call in CALLS:
        if not call.takes_body:
            continue
        for path, member in members(call.body(api)):
            if not isinstance(member, str):
                continue
            schema = body_field_schema(call, path)
            strings = CONSTRAINED_SAMPLE if constrains(schema) else HOSTILE_JSON_TEXT
            for name, value in strings.items():
                must_refuse = (
                    constrains(schema)
                    or len(value) > schema.get("maxLength", len(value))
                    or name in ("nul", "lone_surrogate")
                )
                body = replaced(call.body(api), path, value)
                fuzz.send(call, f"{path}={name}", body=encode(call, body), must_refuse=must_refuse)
    fuzz.findings.check()


EXAMPLES = 60


def test_arbitrary_unicode_in_free_text_never_breaks_an_operation(fuzz: Pass, api: Api) -> None:
    """Hypothesis writes any text (every code point, surrogates and controls included)
    into a free-text member: refused when it holds NUL, a surrogate or too much, else
    taken; never a server error, never a change on refusal."""
    targets = [
        (call, path, body_field_schema(call, path))
        for call in CALLS
        if call.takes_body
        for path, member in members(call.body(api))
        if isinstance(member, str) and not constrains(body_field_schema(call, path))
    ]

    @given(target=st.sampled_from(targets), text=st.text(st.characters(), max_size=300))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(target: tuple[Call, tuple[Any, ...], dict[str, Any]], text: str) -> None:
        call, path, schema = target
        unstorable = "\x00" in text or any("\ud800" <= c <= "\udfff" for c in text)
        too_long = len(text) > schema.get("maxLength", len(text))
        body = replaced(call.body(api), path, text)
        before = len(fuzz.findings.problems)
        fuzz.send(
            call, f"{path}={text!r}", body=encode(call, body), must_refuse=unstorable or too_long
        )
        # Fail inside the example, so Hypothesis shrinks it to the smallest such text.
        assert len(fuzz.findings.problems) == before, fuzz.findings.problems[-1]

    run()


# DRF falls back to the default page size for a page_size it cannot read (documented).
LENIENT_PARAMETERS = {"page_size"}


def test_hostile_query_parameters_and_headers_never_break_an_operation(
    fuzz: Pass, api: Api
) -> None:
    """Every declared query parameter and header, and one nobody declared: refused when
    the schema does not admit the value, never a server error, never a write."""
    headers_tried: set[str] = set()
    for call in CALLS:
        start = call.query(api)
        unknown = {**start, "unknown": HOSTILE_SAMPLE["or_true"]}
        fuzz.send(call, "?unknown", query=unknown, must_refuse=False)
        for parameter, spec in query_parameters(call).items():
            schema = spec.get("schema", {})
            values = HOSTILE_SAMPLE
            if spec["in"] == "header":
                # A header is read by one shared piece of code (conditional GET, keys):
                # every value on the first operation that declares it, one on the rest.
                if parameter in headers_tried:
                    values = {"unicode_mix": HOSTILE_SAMPLE["unicode_mix"]}
                headers_tried.add(parameter)
            for name, value in values.items():
                lenient = parameter in LENIENT_PARAMETERS
                must_refuse = not lenient and admits(schema, value) is False
                if spec["in"] == "header":
                    spoiled: dict[str, Any] = {"headers": {parameter: value}}
                else:
                    spoiled = {"query": {**start, parameter: value}}
                fuzz.send(call, f"{parameter}={name}", must_refuse=must_refuse, **spoiled)
            if spec["in"] == "query":
                twice = {**start, parameter: [HOSTILE_SAMPLE["script"], "1"]}
                fuzz.send(call, f"{parameter} twice, disagreeing", query=twice, must_refuse=False)
    fuzz.findings.check()


def test_too_many_query_parameters_never_break_an_operation(fuzz: Pass, api: Api) -> None:
    """More fields than DATA_UPLOAD_MAX_NUMBER_FIELDS: refused (problem+json) by every
    operation that reads its query, ignored by those that read none."""
    limit = django_settings.DATA_UPLOAD_MAX_NUMBER_FIELDS or 1000
    many = {f"p{i}": "1" for i in range(limit + 1)}
    for call in CALLS:
        query = {**call.query(api), **many}
        fuzz.send(call, f"{limit + 1} query fields", query=query, must_refuse=False)
    fuzz.findings.check()


def test_oversized_bodies_are_refused_and_change_nothing(fuzz: Pass, api: Api) -> None:
    """Beyond DATA_UPLOAD_MAX_MEMORY_SIZE (JSON), the bulk limits (NDJSON: bytes and
    lines) and the notice acknowledgement's own limit."""
    limit = django_settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 2_621_440
    for call in CALLS:
        if not call.takes_body:
            continue  # reads no body, so no large one either
        if call.media == NDJSON:
            line = encode(call, call.body(api))
            fuzz.send(call, "too many bytes", body=line + b"\n" * MAX_BULK_BYTES)
            many = b"\n".join([line] * (MAX_BATCH_LINES + 1))
            fuzz.send(call, "too many lines", body=many)
            continue
        start = call.body(api)
        fuzz.send(call, "past the upload limit", body=encode(call, {**start, "x": "x" * limit}))
        if call.name == "propagation:acknowledge":
            padded = {**start, "x": "x" * ACK_MAX_BODY}
            fuzz.send(call, "past its own limit", body=encode(call, padded))
    fuzz.findings.check()


MALFORMED = {
    "truncated": b'{"name": "Dana',
    "single_quotes": b"{'name': 'Dana'}",
    "trailing_garbage": b'{"a": 1} x',
    "nan": b'{"a": NaN}',
    "infinity": b'{"a": -Infinity}',
    # Deeper than Python's decoder recurses, and within every size limit.
    "deep_arrays": b"[" * 2000 + b"]" * 2000,
    "deep_objects": b'{"a":' * 2000 + b"1" + b"}" * 2000,
    "invalid_utf8": b'{"name": "\xff\xfe\xed\xa0\x80"}',
    "utf16": '{"name": "Dana"}'.encode("utf-16"),
    "bom": b'\xef\xbb\xbf{"a": 1}',
    "nul_byte": b'{"a": 1}\x00',
    "empty": b"",
    "whitespace": b"   \n",
}


def test_malformed_bodies_are_refused_and_change_nothing(fuzz: Pass, api: Api) -> None:
    for call in CALLS:
        if not call.takes_body:
            continue
        for name, raw in MALFORMED.items():
            optional = call.body_optional and name == "empty"
            fuzz.send(call, f"malformed {name}", body=raw, must_refuse=not optional)
    fuzz.findings.check()


CONTENT_TYPES = [
    "text/plain",
    "application/xml",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "application/json; charset=utf-16",
    "application/json; charset=nope",
    "application/octet-stream",
    "",
]
# A notice's token is its acknowledgement's only credential, and licensees post it from
# whatever HTTP client received the notice: its body is read as JSON whatever type it
# declares (and refused when it is not JSON).
TYPE_BLIND = {"propagation:acknowledge"}


def test_wrong_content_types_are_refused_and_change_nothing(fuzz: Pass, api: Api) -> None:
    for call in CALLS:
        if not call.takes_body:
            continue
        for content_type in CONTENT_TYPES:
            if content_type.split(";")[0] == call.media:
                continue
            fuzz.send(
                call,
                f"as {content_type!r}",
                content_type=content_type,
                must_refuse=call.name not in TYPE_BLIND,
            )
    fuzz.findings.check()


def test_methods_an_operation_does_not_answer_are_refused(fuzz: Pass, api: Api) -> None:
    answered = api_operations()
    for call in {c.name: c for c in CALLS}.values():
        for method in METHODS:
            if (call.name, method) not in answered:
                other = Call(call.name, method, call.caller, path=call.path, body=call.body)
                fuzz.send(other, "not answered", body=encode(call, call.body(api)))
    fuzz.findings.check()


def _issue(kind: str, api: Api, scopes: list[str] | None = None) -> tokens.IssuedToken:
    return tokens.issue_api_token(
        name="fuzz",
        kind=kind,
        scopes=scopes or sorted(str(s) for s in tokens.KIND_SCOPES[TokenKind(kind)]),
        licensee=api.world.licensee if kind == TokenKind.LICENSEE else None,
    )


def _expired(kind: str, api: Api) -> str:
    issued = _issue(kind, api)
    now = timezone.now()
    ApiToken.objects.filter(pk=issued.token.pk).update(
        created_at=now - datetime.timedelta(days=91), expires_at=now - datetime.timedelta(seconds=1)
    )
    return issued.secret


def _revoked(kind: str, api: Api) -> str:
    issued = _issue(kind, api)
    tokens.revoke_api_token(token=issued.token)
    return issued.secret


def _rotated(kind: str, api: Api) -> str:
    """The predecessor of a rotated token, once the overlap is over."""
    issued = _issue(kind, api)
    tokens.rotate_api_token(token=issued.token, overlap=datetime.timedelta(0))
    return issued.secret


def _forged(real: str) -> dict[str, str]:
    """Authorization values that open nothing ("" sends no header at all)."""
    prefix = real.split("_")[1]
    return {
        "empty bearer": "Bearer ",
        "basic": "Basic dXNlcjpwYXNz",
        "lowercase scheme": f"bearer {real}",
        "unknown prefix": "Bearer vcr_000000000000_" + "A" * 43,
        "known prefix, wrong secret": f"Bearer vcr_{prefix}_" + "B" * 43,
        "truncated": f"Bearer {real[:-1]}",
        "sql": "Bearer vcr_' OR '1'='1",
        "unicode": "Bearer vcr_ＡＢＣ_🎙️\u202e",
        "nul": "Bearer vcr_\x00",
        "very long": "Bearer " + "A" * 100_000,
        "two tokens": f"Bearer {real} {real}",
    }


def test_forged_expired_revoked_and_rotated_tokens_are_refused(fuzz: Pass, api: Api) -> None:
    """Every operation refuses a request with no token, a forged, an expired, a revoked
    and a rotated-out one. Authentication is one class for all, so the long list of
    forgeries goes to one operation of each kind of caller."""
    made = {"expired": _expired, "revoked": _revoked, "rotated": _rotated}
    first_of_kind: set[str] = set()
    for call in CALLS:
        if call.caller not in api.bearers:
            continue
        real = api.bearers[call.caller]
        forged = {"none": "", "forged": "Bearer vcr_000000000000_" + "A" * 43}
        if call.caller not in first_of_kind:
            first_of_kind.add(call.caller)
            forged.update(_forged(real))
        for name, authorization in forged.items():
            fuzz.send(call, f"token {name}", authorization=authorization)
        for name, make in made.items():
            bearer = f"Bearer {make(call.caller, api)}"
            fuzz.send(call, f"{name} token", authorization=bearer)
    fuzz.findings.check()


def test_tokens_of_another_kind_or_without_the_scope_are_refused(fuzz: Pass, api: Api) -> None:
    for call in CALLS:
        if call.caller not in api.bearers:
            continue
        for kind, bearer in api.bearers.items():
            if kind != call.caller:
                fuzz.send(call, f"{kind} token", authorization=f"Bearer {bearer}")
        needed = required_scope(call)
        others = sorted(str(s) for s in tokens.KIND_SCOPES[TokenKind(call.caller)] - {needed})
        if needed and others:
            issued = _issue(call.caller, api, scopes=others)
            fuzz.send(call, f"token without {needed}", authorization=f"Bearer {issued.secret}")
    fuzz.findings.check()


def test_forged_acknowledgement_tokens_are_refused(fuzz: Pass, api: Api) -> None:
    """The token in a notice: a wrong, altered or hostile one acknowledges nothing."""
    call = next(c for c in CALLS if c.name == "propagation:acknowledge")
    real = call.body(api)["token"]
    forged = {
        **HOSTILE_JSON_TEXT,
        "wrong": "0" * len(real),
        "altered": real[:-1] + ("0" if real[-1] != "0" else "1"),
        "with spaces": f" {real} ",
    }
    for name, token in forged.items():
        fuzz.send(call, f"ack token {name}", body=encode(call, {"token": token}))
    for kind, value in wrong_types(real):
        fuzz.send(call, f"ack token as {kind}", body=encode(call, {"token": value}))
    fuzz.findings.check()
