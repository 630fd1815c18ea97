"""The bad-input pass: one world per test module (built once, rolled back at the end),
since each test sends hundreds of requests at it and rebuilding it per test would be
most of the pass's time. Every test still runs in its own savepoint: what one test
writes, the next never sees."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.db import connections, transaction
from django.test import override_settings

from consent.models import Purpose
from tests.consent.conftest import NOTICE_PLACES, notices, publish  # noqa: F401 - fixture
from tests.propagation.conftest import make_world, start_receiver
from tests.security.api_calls import Api, make_api


@pytest.fixture(scope="module")
def shared_api(
    django_db_setup: Any, django_db_blocker: Any, _session_audio_dir: Any
) -> Iterator[Api]:
    receiver, server = start_receiver()
    audio = {
        **settings.STORAGES,
        "audio": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(_session_audio_dir)},
        },
    }
    with django_db_blocker.unblock(), override_settings(STORAGES=audio):
        # Marked as TestCase marks its own blocks: the services' durable blocks may open
        # inside, and each test's own blocks become savepoints within it.
        block = transaction.atomic()
        block._from_testcase = True
        block.__enter__()
        try:
            for purpose in Purpose.values:
                for jurisdiction, language in NOTICE_PLACES:
                    publish(purpose, jurisdiction, language)
            yield make_api(make_world(receiver), receiver.url)
        finally:
            transaction.set_rollback(True)
            block.__exit__(None, None, None)
            server.shutdown()
            server.server_close()
            # Manifests read through the replica alias (a mirror of the test database
            # here): its connection must not outlive the run, or the database stays.
            connections["replica"].close()


@pytest.fixture
def api(shared_api: Api) -> Api:
    return shared_api
