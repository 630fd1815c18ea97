from __future__ import annotations

import os
from urllib.parse import quote

import pytest
from django.db import connection


def subprocess_database_url() -> str:
    """DATABASE_URL for a process the test starts (worker, beat) that must see the
    test database the suite created."""
    settings = connection.settings_dict
    user = quote(settings["USER"] or "postgres")
    password = f":{quote(settings['PASSWORD'])}" if settings.get("PASSWORD") else ""
    name = settings["NAME"]
    if settings.get("HOST"):
        host = settings["HOST"]
        if host.startswith("/"):
            return f"postgres://{user}{password}@/{name}?host={quote(host)}"
        return f"postgres://{user}{password}@{host}:{settings.get('PORT') or 5432}/{name}"
    socket = settings.get("OPTIONS", {}).get("host", "")
    return f"postgres://{user}{password}@/{name}?host={quote(socket)}"


@pytest.fixture
def subprocess_env() -> dict[str, str]:
    """Environment for a Django process started by a test: same settings, test database."""
    env = dict(os.environ)
    env["DJANGO_ENV"] = "test"
    env["DATABASE_URL"] = subprocess_database_url()
    return env


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    """Rate-limit counters live in the cache (Redis in tests): none carry over."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup):
    """Make the serialized database contents visible to every connection object.

    ``serialized_rollback`` restores seeded rows (jurisdiction rules) from contents
    Django keeps on the connection object that created the test database. Playwright's
    sync API runs test code in a greenlet with its own context, where Django hands out a
    different connection object without them, so transactional tests after the first
    browser test would start empty. A class attribute is seen by all of them.
    """
    from django.db import DEFAULT_DB_ALIAS, connections

    default = connections[DEFAULT_DB_ALIAS]  # the only serialized alias (replica mirrors it)
    contents = getattr(default, "_test_serialized_contents", None)
    if contents is not None:
        type(default)._test_serialized_contents = contents
    return django_db_setup


@pytest.fixture
def eager_tasks():
    """Run Celery tasks in-process, for tests of what a task does rather than of its
    delivery (tests/registry/test_celery_worker.py uses a real worker)."""
    from registry.celery import app

    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager = False
    app.conf.task_eager_propagates = False


@pytest.fixture(scope="session")
def _session_audio_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("audio")


@pytest.fixture(autouse=True)
def _audio_storage(settings, _session_audio_dir) -> None:
    """Audio the tests store (seed_demo, factories) goes to a temporary folder, never
    into the checkout's .local/ (tests/propagation narrow it to one test's own)."""
    settings.STORAGES = {
        **settings.STORAGES,
        "audio": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(_session_audio_dir)},
        },
    }


@pytest.fixture
def admin_client(db, client, admin_user):
    """A superuser signed in to the admin with both factors (see tests.admin_login)."""
    from tests.admin_login import verified_login

    verified_login(client, admin_user)
    return client
