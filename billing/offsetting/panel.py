"""The dashboard panel: available credit, and what credits paid this billing period."""

from __future__ import annotations

from django.db.models import Sum
from django.utils import timezone

from accounts.access import program_accounts_for
from accounts.roles import Scope
from carm_portal.calendar import billing_period_for, period_start
from carm_portal.money import ZERO, quantize

from . import selectors
from .models import Allocation


def panel_context(request, business, accounts):
    """None (no panel) unless the user sees the business's billing (Scope.BILLING)."""
    ids = list(
        program_accounts_for(request.user, Scope.BILLING)
        .filter(id__in=accounts.values("id"))
        .values_list("id", flat=True)
    )
    if not ids:
        return None
    period_end = billing_period_for(timezone.localdate())
    available = selectors.available_credit(ids)
    paid = Allocation.objects.filter(
        credit__program_account_id__in=ids,
        applied_on__gte=period_start(period_end), applied_on__lte=period_end,
    ).exclude(method=Allocation.Method.REFUND).aggregate(total=Sum("amount"))["total"]
    return {
        "available": quantize(sum(available.values(), ZERO)),
        "paid": quantize(paid or ZERO),
        "period_start": period_start(period_end),
        "period_end": period_end,
    }
