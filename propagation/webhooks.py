"""Signed webhook notices to licensees.

Every notice is a JSON POST with
  - ``Idempotency-Key``: the target's key, the same on every retry and redelivery;
  - ``Registry-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>]``: HMAC-SHA256 under
    the endpoint's secret of ``"<t>." + body``; during a secret rotation one ``v1`` per
    valid secret (new first).
A receiver recomputes the HMAC with its secret, compares in constant time, and rejects
a ``t`` more than 5 minutes from its clock (``verify_signature``'s ``tolerance``), so a
captured request cannot be replayed later; within the window, the Idempotency-Key
makes a replay harmless. ``verify_signature`` is the reference implementation.
"""

from __future__ import annotations

import hmac as stdlib_hmac
import ipaddress
import os
import secrets
import socket
import threading
import time
import urllib.parse
from dataclasses import dataclass

import httpx
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac
from django.conf import settings

SIGNATURE_HEADER = "Registry-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
USER_AGENT = "voice-consent-registry-webhooks/1"


def new_secret() -> str:
    """A fresh endpoint secret (shown to the licensee once)."""
    return "whsec_" + secrets.token_urlsafe(32)


def _mac(secret: str, timestamp: int, body: bytes) -> str:
    mac = crypto_hmac.HMAC(secret.encode(), hashes.SHA256())
    mac.update(f"{timestamp}.".encode() + body)
    return mac.finalize().hex()


def signature_header(*, body: bytes, secrets: list[str], timestamp: int | None = None) -> str:
    """The ``Registry-Signature`` value of ``body`` under each of ``secrets``."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    return ",".join([f"t={timestamp}", *(f"v1={_mac(s, timestamp, body)}" for s in secrets)])


def verify_signature(
    *, header: str, body: bytes, secret: str, now: float | None = None, tolerance: int = 300
) -> bool:
    """True when ``header`` carries a valid ``v1`` of ``body`` under ``secret`` and its
    timestamp is within ``tolerance`` seconds of ``now``."""
    timestamp, candidates = None, []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = _mac(secret, timestamp, body)
    return any(stdlib_hmac.compare_digest(expected, c) for c in candidates)


@dataclass(frozen=True)
class Response:
    status_code: int | None
    latency_ms: int
    error: str

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def post(
    *,
    url: str,
    body: bytes,
    idempotency_key: str,
    secrets: list[str],
    timeout: float | None = None,
) -> Response:
    """POST one notice. Never raises for network or HTTP errors: the outcome (status
    code or error class, latency) is returned for the delivery log. Redirects are not
    followed: a notice goes to the registered URL or fails. The connection goes to the
    address that was checked (Host header and TLS SNI keep the name), so a name that
    re-resolves between the check and the connection (DNS rebinding) changes nothing."""
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        IDEMPOTENCY_HEADER: idempotency_key,
        SIGNATURE_HEADER: signature_header(body=body, secrets=secrets),
    }
    started = time.perf_counter()
    host = urllib.parse.urlsplit(url).hostname or ""
    try:
        checked = check_destination(url)
        addresses: list[str | None] = list(checked) if checked else [None]
        for index, address in enumerate(addresses):
            target, extensions = _pinned(url, address, headers)
            try:
                # Only the status line matters: the reply body is never read, so a slow
                # or huge one cannot hold the worker. One pool per host name: a pooled
                # connection (made with this name's SNI and certificate) is never reused
                # for another name that resolves to the same address.
                with _client(host).stream(
                    "POST",
                    target,
                    content=body,
                    headers=headers,
                    extensions=extensions,
                    timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT,
                ) as reply:
                    status = reply.status_code
                break
            except httpx.ConnectError:
                if index == len(addresses) - 1:
                    raise  # every checked address refused the connection
    except (httpx.HTTPError, httpx.InvalidURL, UnsafeDestination, ValueError) as exc:
        # The exception text can echo the URL; its class is enough to act on.
        return Response(None, _elapsed_ms(started), type(exc).__name__)
    error = "" if 200 <= status < 300 else f"HTTP {status}"
    return Response(status, _elapsed_ms(started), error)


class UnsafeDestination(Exception):
    """The endpoint resolves to an address a notice must never be sent to."""


def check_destination(url: str) -> list[str] | None:
    """Refuse loopback, private, link-local (cloud metadata), multicast and reserved
    addresses unless ``WEBHOOK_ALLOW_PRIVATE_ADDRESSES`` (development and tests). Run
    at registration and again before every POST, so a name re-pointed later is caught.
    Returns the checked addresses, in resolver order, to connect to (None: connect by
    name, checks off)."""
    if settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES:
        return None
    host = urllib.parse.urlsplit(url).hostname or ""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeDestination("host does not resolve") from exc
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global or address.is_multicast:
            raise UnsafeDestination("host resolves to a non-public address")
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _pinned(
    url: str, address: str | None, headers: dict[str, str]
) -> tuple[str, dict[str, object]]:
    """The URL with its host replaced by the checked ``address`` (the name kept in the
    Host header and as TLS SNI, so the certificate is still checked against it)."""
    parts = urllib.parse.urlsplit(url)
    name = parts.hostname or ""
    if address is None or _is_ip(name):
        return url, {}  # checks off, or the URL names the checked address itself
    # The Host header as httpx would write it: IDNA for names, brackets for IPv6
    # literals, no port when it is the scheme's default.
    host = name.encode("idna").decode("ascii")
    default = {"http": 80, "https": 443}.get(parts.scheme)
    port = f":{parts.port}" if parts.port and parts.port != default else ""
    headers["Host"] = f"{host}{port}"
    literal = f"[{address}]" if ":" in address else address
    netloc = literal + (f":{parts.port}" if parts.port else "")
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc)), {"sni_hostname": host}


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


_clients: dict[tuple[int, str], httpx.Client] = {}
_clients_lock = threading.Lock()
MAX_CLIENTS = 256  # host names with a pool in one process; the oldest is closed beyond


def _client(host: str) -> httpx.Client:
    """One pooled client per process and host name (a worker child forks before its
    first use): building a client, with its TLS context, costs more than a loopback POST,
    and a connection made for one name must never carry another name's notice."""
    key = (os.getpid(), host)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            if len(_clients) >= MAX_CLIENTS:
                oldest = next(iter(_clients))
                _clients.pop(oldest).close()
            client = httpx.Client(timeout=settings.WEBHOOK_TIMEOUT_SECONDS, follow_redirects=False)
            _clients[key] = client
        return client


def _elapsed_ms(started: float) -> int:
    return max(0, round((time.perf_counter() - started) * 1000))
