"""Browser tests: Playwright driving Debian's chromium (never a downloaded browser)
against pytest-django's live server. Screenshots of every page land in the test's
output folder (``test-results/<test>/``) to be looked at."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from django.core import mail

# Playwright's sync API keeps an event loop in the test thread; Django's ORM calls
# from that thread are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"chromium not found at {CHROMIUM} (apt-get install chromium; .ci/run does)")
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture
def shoot(page, output_path) -> Callable[[str], None]:
    """Save a full-page screenshot of the current page under a readable name."""
    Path(output_path).mkdir(parents=True, exist_ok=True)
    counter = iter(range(1, 100))

    def save(name: str, target=None) -> None:
        (target or page).screenshot(
            path=str(Path(output_path) / f"{next(counter):02d}-{name}.png"), full_page=True
        )

    return save


@pytest.fixture
def public_base_url(live_server, settings) -> str:
    """Emailed links point at the live server."""
    settings.PUBLIC_BASE_URL = live_server.url
    return live_server.url


LINK = re.compile(r"https?://\S+/signin/link/[\w-]+/")


def last_emailed_link() -> str:
    match = LINK.search(mail.outbox[-1].body)
    assert match, mail.outbox[-1].body
    return match.group(0)
