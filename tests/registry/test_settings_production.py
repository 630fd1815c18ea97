"""Production settings refuse to start without real secrets and pass --deploy checks.

Each case runs Django in a fresh process: settings are read once, at import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from registry.generate_keys import fresh_secrets

BASE_DIR = Path(__file__).resolve().parents[2]


def _production_env(**overrides: str | None) -> dict[str, str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "registry.settings",
        "DJANGO_ENV": "production",
        "DJANGO_READ_DOT_ENV": "false",
        "ALLOWED_HOSTS": "registry.example",
        **fresh_secrets(),
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/registry",
        "EMAIL_URL": "smtp+tls://mailer:secret@smtp.registry.example:587",
        "PUBLIC_BASE_URL": "https://registry.example",
    }
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def _manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return _python(env, "manage.py", *args)


def _python(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    "missing", ["SECRET_KEY", "PII_ENCRYPTION_KEYS", "BLIND_INDEX_KEY", "SIGNING_KEY"]
)
def test_production_refuses_to_start_without_each_secret(missing: str) -> None:
    result = _manage(_production_env(**{missing: None}), "check")
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert f"{missing} is not set" in result.stderr


def test_production_refuses_the_public_development_keys() -> None:
    from registry import settings as dev_settings

    result = _manage(_production_env(PII_ENCRYPTION_KEYS=dev_settings._DEV_PII_KEY), "check")
    assert result.returncode != 0
    assert "PII_ENCRYPTION_KEYS is the public development default" in result.stderr


def test_production_refuses_a_malformed_fernet_key() -> None:
    result = _manage(_production_env(PII_ENCRYPTION_KEYS="not-a-key"), "check")
    assert result.returncode != 0
    assert "not a Fernet key" in result.stderr


def test_production_refuses_the_serverless_filesystem_broker() -> None:
    result = _manage(_production_env(CELERY_BROKER_URL="filesystem://localhost/"), "check")
    assert result.returncode != 0
    assert "CELERY_BROKER_URL must name a real broker" in result.stderr


def test_production_refuses_without_allowed_hosts() -> None:
    result = _manage(_production_env(ALLOWED_HOSTS=None), "check")
    assert result.returncode != 0
    assert "ALLOWED_HOSTS is not set" in result.stderr


def test_production_settings_pass_check_deploy_with_no_warnings() -> None:
    result = _manage(_production_env(), "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_forces_debug_off_even_when_asked_for() -> None:
    env = _production_env(DEBUG="true")
    result = _python(env, "-c", "from django.conf import settings; print(settings.DEBUG)")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("EMAIL_URL", None, "EMAIL_URL is not set"),
        ("PUBLIC_BASE_URL", None, "PUBLIC_BASE_URL must be"),
        ("PUBLIC_BASE_URL", "http://registry.example", "PUBLIC_BASE_URL must be"),
    ],
)
def test_production_refuses_to_email_sign_in_links_it_cannot_deliver_safely(
    name: str, value: str | None, message: str
) -> None:
    result = _manage(_production_env(**{name: value}), "check")
    assert result.returncode != 0
    assert message in result.stderr


PROBE = """
from django.test import Client
import django
django.setup()
client = Client(raise_request_exception=False)
missing = client.get("/no-such-page/", secure=True, HTTP_HOST="registry.example")
form = client.get("/signin/", secure=True, HTTP_HOST="registry.example")
plain = client.get("/signin/", HTTP_HOST="registry.example")
body = missing.content.decode()
print(missing.status_code, "Traceback" in body, "settings.py" in body)
print(form.status_code, form["Strict-Transport-Security"])
print(form["Content-Security-Policy"])
csrf = form.cookies["csrftoken"]
print(form["X-Frame-Options"], csrf["secure"], csrf["httponly"])
print(plain.status_code, plain["Location"])
"""


def test_production_answers_with_hsts_csp_secure_cookies_and_no_debug_pages(tmp_path) -> None:
    env = _production_env(DEBUG="true", STATIC_ROOT=str(tmp_path))
    collected = _manage(env, "collectstatic", "--noinput", "-v0")
    assert collected.returncode == 0, collected.stderr
    result = _python(env, "-c", PROBE)
    assert result.returncode == 0, result.stderr
    missing, form, policy, framing, plain = result.stdout.strip().splitlines()
    assert missing == "404 False False"  # the plain 404 page, no debug page
    assert form == "200 max-age=31536000; includeSubDomains; preload"
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert framing == "DENY True True"
    assert plain == "301 https://registry.example/signin/"
