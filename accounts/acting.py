"""Who the user is acting for: an importer business, chosen with the account switcher.

Kept in the session and re-checked against the access gate on every request, so a revoked
delegation stops a broker at its next click.
"""

from __future__ import annotations

from .access import businesses_for
from .models import Business

SESSION_KEY = "acting_for_business_id"


def get_acting_for(request) -> Business | None:
    """The importer the user acts for now, or None (a broker who has not chosen a client)."""
    if not hasattr(request, "_acting_for"):
        request._acting_for = _resolve(request)
    return request._acting_for


def set_acting_for(request, business: Business) -> None:
    request.session[SESSION_KEY] = business.pk
    request._acting_for = business


def _resolve(request) -> Business | None:
    user = request.user
    if not user.is_authenticated:
        return None
    allowed = businesses_for(user)
    chosen = request.session.get(SESSION_KEY)
    if chosen is not None:
        business = allowed.filter(pk=chosen).first()
        if business is not None:
            return business
        request.session.pop(SESSION_KEY, None)
    # Default: the user's own importer business. A broker with a single client acts for it.
    own = allowed.filter(memberships__user=user, memberships__status="active").first()
    if own is not None:
        return own
    clients = list(allowed[:2])
    return clients[0] if len(clients) == 1 else None
