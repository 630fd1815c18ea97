"""Found by the broker-outage drill: with the broker down, the kick after a withdrawal
held the speaker's request ~6 s (kombu retried the connection before publishing, despite
``retry=False``), and at 10 req/s the web threads filled up. Publishing now makes one
attempt and leaves the rest to the beat sweep."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from propagation import services


@pytest.fixture
def broker_down() -> Iterator[None]:
    """The Celery app pointed at a loopback port nobody listens on, for this test."""
    from registry.celery import app

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    configured = app.conf.broker_url

    def forget_pools() -> None:
        if app._pool is not None:
            app._pool.force_close_all()
        app._pool = None
        app.amqp._producer_pool = None

    forget_pools()
    app.conf.broker_url = f"redis://127.0.0.1:{port}/0"
    try:
        yield
    finally:
        forget_pools()
        app.conf.broker_url = configured


def test_a_kick_with_the_broker_down_gives_up_at_once(broker_down: None) -> None:
    started = time.monotonic()
    assert services.kick(outbox_ids=[1]) is False
    assert time.monotonic() - started < 1.0


def test_sending_targets_with_the_broker_down_fails_at_once(broker_down: None) -> None:
    started = time.monotonic()
    with pytest.raises(Exception, match=r"refused|Connection"):
        services._send([1, 2, 3])
    assert time.monotonic() - started < 1.0
