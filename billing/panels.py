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
    # The "Reconcile" entry point (issue #14): the newest issued statement the user may see (one query).
    latest = selectors.statements_for(request.user, business).only(
        "id", "period_end", "program_account__number", "program_account__business").first()
    return {"summary": summary, "business": business, "latest_statement": latest}


def register_panels() -> None:
    register_panel(PANEL_KEY, "billing/panel_balance.html", balance_panel_context, order=10)
