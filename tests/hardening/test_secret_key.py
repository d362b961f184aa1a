"""Production refuses placeholder, short and low-variety SECRET_KEYs, including the compose default."""

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from carm_portal.secret_key import problem_with

ROOT = Path(__file__).resolve().parents[2]


def _compose_default():
    text = (ROOT / "docker-compose.yml").read_text()
    match = re.search(r"SECRET_KEY:\s*\$\{SECRET_KEY:-([^}]*)\}", text)
    return match.group(1) if match else None


@pytest.mark.parametrize("key", [
    "",
    "insecure-demo-key-change-me",
    "change-me-to-a-long-random-secret-of-at-least-fifty-characters-0123456789",
    "django-insecure-" + secrets.token_urlsafe(50),
    secrets.token_urlsafe(30),             # 40 characters
    "ab" * 40,                             # long, 2 distinct characters
    "abcdefghijklmnopq" * 4,               # 68 characters, a repeated chunk
    "Zq7" * 20,                            # 60 characters, 3 distinct
    "my-production-secret-key-" + secrets.token_urlsafe(40),
    "replace-me-" + secrets.token_urlsafe(40),
])
def test_refused(key):
    assert problem_with(key) is not None


def test_a_random_key_is_accepted():
    for _ in range(50):
        assert problem_with(secrets.token_urlsafe(64)) is None
        assert problem_with(secrets.token_hex(32)) is None  # 64 hex characters


def test_compose_has_no_usable_default():
    default = _compose_default()
    assert default is None or problem_with(default) is not None


def _load_production(key):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "carm_portal.production", "SECRET_KEY": key,
           "ALLOWED_HOSTS": "portal.example.com"}
    return subprocess.run([sys.executable, "-c", "import django; django.setup()"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


def test_production_settings_refuse_the_old_compose_default():
    result = _load_production("change-me-to-a-long-random-secret-of-at-least-fifty-characters-0123456789")
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and "placeholder" in result.stderr


def test_production_settings_accept_a_real_key():
    result = _load_production(secrets.token_urlsafe(64))
    assert result.returncode == 0, result.stderr
