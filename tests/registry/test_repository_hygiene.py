"""Hygiene of the repository itself: every setting read from the environment is
documented in `.env.example`, and no secret is committed."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(settings.BASE_DIR)
# Modules that read the environment for the running service.
READERS = ["registry/settings.py", "registry/gunicorn_config.py", "registry/local_services.py"]
NAME = r"\"([A-Z][A-Z0-9_]+)\""
READS = re.compile(
    rf"(?:env(?:\.[a-z]+)?\(\s*{NAME}|os\.environ\.get\(\s*{NAME}|env\.setdefault\(\s*{NAME}"
    rf"|_secret\(\s*{NAME})"
)
NOT_SETTINGS = {"DJANGO_SETTINGS_MODULE", "XDG_RUNTIME_DIR", "PATH"}


def environment_variables() -> set[str]:
    found: set[str] = set()
    for module in READERS:
        for match in READS.finditer((ROOT / module).read_text()):
            found.update(name for name in match.groups() if name)
    return found - NOT_SETTINGS


def test_the_scan_finds_the_settings_it_should() -> None:
    names = environment_variables()
    assert {"SECRET_KEY", "PII_ENCRYPTION_KEYS", "GUNICORN_THREADS", "WEB_PORT"} <= names
    assert len(names) > 50


@pytest.mark.parametrize("name", sorted(environment_variables()))
def test_every_environment_variable_is_documented_in_env_example(name: str) -> None:
    documented = (ROOT / ".env.example").read_text()
    assert re.search(rf"^#? ?{name}=", documented, re.MULTILINE), f"{name} not in .env.example"


SECRET_PATTERNS = {
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "AWS access key": re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
    "GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b"),
    "Slack token": re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),
    "registry API token": re.compile(r"\bvcr_[A-Za-z0-9]{8,16}_[A-Za-z0-9_-]{40,}"),
    # A literal password in a URL (a ${VARIABLE} reference or the word "password" is fine).
    "password in a URL": re.compile(r"://[^/\s:@]+:(?!\$\{|password@)[^@\s/]{6,}@"),
}


def tracked_files() -> list[Path]:
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    return [ROOT / name for name in listed.decode().split("\0") if name]


# Fake credentials that tests use on purpose (they reach no server).
TEST_FIXTURES = {"tests/registry/test_settings_production.py"}


def test_no_secret_is_committed() -> None:
    leaks = []
    for path in tracked_files():
        if str(path.relative_to(ROOT)) in TEST_FIXTURES:
            continue
        if path.suffix in {".png", ".pdf", ".mo", ".ttf", ".gz"} or not path.is_file():
            continue
        text = path.read_text(errors="ignore")
        for kind, pattern in SECRET_PATTERNS.items():
            for match in pattern.finditer(text):
                leaks.append(f"{path.relative_to(ROOT)}: {kind}: {match.group(0)[:24]}…")
    assert leaks == []


@pytest.mark.parametrize(
    "leak",
    [
        # Assembled here so this file does not hold what it looks for.
        "-----BEGIN OPENSSH " + "PRIVATE KEY-----",
        "aws_key = AKIA" + "IOSFODNN7EXAMPLE",
        "token: ghp_" + "a1B2" * 9,
        "DATABASE_URL=postgres://admin:" + "hunter2hunter2@db:5432/x",
        "vcr_abcd1234_" + "Zx9" * 15,
    ],
)
def test_the_scan_recognises_each_kind_of_secret(leak: str) -> None:
    assert any(pattern.search(leak) for pattern in SECRET_PATTERNS.values())


@pytest.mark.parametrize(
    "placeholder",
    [
        "smtp+tls://user:password@smtp.example.org:587",
        "postgres://registry:${POSTGRES_PASSWORD}@db",
    ],
)
def test_placeholders_are_not_secrets(placeholder: str) -> None:
    assert not any(pattern.search(placeholder) for pattern in SECRET_PATTERNS.values())
