"""Recent clients: the last importers a user chose to act for (kept in the session, re-gated on read)."""

from __future__ import annotations

from accounts.access import businesses_for
from accounts.models import Business

SESSION_KEY = "brokers_recent_clients"
KEEP = 8


def remember(request, business: Business) -> None:
    ids = [pk for pk in request.session.get(SESSION_KEY, []) if pk != business.pk]
    request.session[SESSION_KEY] = [business.pk, *ids][:KEEP]


def recent_clients(request) -> list[Business]:
    """The recent clients the user may still act for, most recent first (one query)."""
    ids = request.session.get(SESSION_KEY) or []
    if not ids or not request.user.is_authenticated:
        return []
    found = {x.pk: x for x in businesses_for(request.user).filter(pk__in=ids)
             .only("id", "legal_name", "operating_name", "bn9")}
    return [found[pk] for pk in ids if pk in found]
