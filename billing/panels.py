"""The billing panel on the dashboard: the money summary (amount due, by when, overdue) of the acting-for importer.

Register it once from ``BillingConfig.ready()``::

    from .panels import register_panels
    register_panels()
"""

from __future__ import annotations

from accounts.dashboard import register_panel

from . import selectors

PANEL_KEY = "billing-balance"


def balance_panel_context(request, business, accounts) -> dict | None:
    """Hidden (None) when the user sees none of the business's RM accounts with Scope.BILLING."""
    summary = selectors.money_summary_for(request.user, business)
    if summary is None:
        return None
    return {"summary": summary, "business": business}


def register_panels() -> None:
    register_panel(PANEL_KEY, "billing/panel_balance.html", balance_panel_context, order=10)
