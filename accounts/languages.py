"""Email recipients grouped by the language they read, so each email is rendered in it.

A recipient's language is the ``preferred_language`` of the active user with that email; an address
no user has (a business's billing contact, say) reads the site's default language.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings

from .models import User


def by_language(emails: Iterable[str]) -> dict[str, list[str]]:
    """{language: sorted emails} for the given addresses (one query)."""
    emails = sorted({e for e in emails if e})
    known = dict(User.objects.filter(email__in=emails, is_active=True).values_list("email", "preferred_language"))
    out: dict[str, list[str]] = {}
    for email in emails:
        out.setdefault(known.get(email) or settings.LANGUAGE_CODE, []).append(email)
    return out
