"""Is this SECRET_KEY fit for production? (carm_portal/production.py refuses to start if not.)

Refused: a key shorter than 50 characters, one with fewer than 10 distinct characters or made of
a repeated chunk ("ab" * 40), and any known placeholder: the demo default in settings.py, the
default docker-compose.yml once shipped, Django's ``django-insecure-`` keys, and keys that say
what they are ("change-me", "secret-key", "example", ...).
"""

from __future__ import annotations

MIN_LENGTH = 50
MIN_UNIQUE = 10

KNOWN_PLACEHOLDERS = frozenset({
    "insecure-demo-key-change-me",
    "change-me-to-a-long-random-secret-of-at-least-fifty-characters-0123456789",
})
_PLACEHOLDER_WORDS = (
    "insecure", "change-me", "changeme", "change_me", "replace-me", "replaceme", "secret-key",
    "secret_key", "secretkey", "example", "placeholder", "default", "dummy", "not-secret",
    "fifty-characters", "0123456789", "abcdefghij", "xxxxxxxx",
)


def problem_with(key: str | None) -> str | None:
    """Why ``key`` is not a production secret, or None when it is acceptable."""
    if not key:
        return "SECRET_KEY is empty."
    lowered = key.strip().lower()
    if key in KNOWN_PLACEHOLDERS or lowered in KNOWN_PLACEHOLDERS:
        return "SECRET_KEY is a published placeholder (settings.py or docker-compose.yml default)."
    if any(word in lowered for word in _PLACEHOLDER_WORDS):
        return "SECRET_KEY looks like a placeholder, not a random secret."
    if len(key) < MIN_LENGTH:
        return f"SECRET_KEY must be at least {MIN_LENGTH} characters long."
    if len(set(key)) < MIN_UNIQUE:
        return f"SECRET_KEY must have at least {MIN_UNIQUE} distinct characters."
    if any(key == (key[:period] * (len(key) // period + 1))[: len(key)] for period in range(1, len(key) // 2 + 1)):
        return "SECRET_KEY is a repeated pattern, not a random secret."
    return None
