"""What is overdue: the readiness item "overdue" (replaces the accounts app's placeholder).

An account is overdue when its latest statement whose due date has passed is not covered by the
payments and credits posted after it: ``closing − Σ(negative entries of later periods) > 0``.
Batch functions: a constant number of queries for any number of accounts.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal

from django.db.models import OuterRef, Subquery, Sum
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _

from accounts.models import ProgramAccount
from carm_portal.money import ZERO, format_cad, quantize

from .models import LedgerEntry, Statement


def overdue_amounts(account_ids: list[int], today: date) -> dict[int, tuple[Decimal, date]]:
    """{account id: (amount overdue, due date)} for the accounts with an overdue balance (2 queries)."""
    if not account_ids:
        return {}
    latest = Statement.objects.filter(program_account=OuterRef("pk"), due_date__lt=today).order_by("-period_end")
    rows = list(
        ProgramAccount.objects.filter(pk__in=account_ids)
        .annotate(s_period=Subquery(latest.values("period_end")[:1]),
                  s_closing=Subquery(latest.values("closing_balance")[:1]),
                  s_due=Subquery(latest.values("due_date")[:1]))
        .filter(s_closing__gt=0).values_list("pk", "s_period", "s_closing", "s_due")
    )
    if not rows:
        return {}
    earliest = min(r[1] for r in rows)
    reductions: dict[int, list[tuple[date, Decimal]]] = defaultdict(list)
    for account_id, period, total in (
        LedgerEntry.objects.owing().filter(program_account_id__in=[r[0] for r in rows], amount__lt=0,
                                   billing_period__gt=earliest)
        .values("program_account_id", "billing_period").annotate(total=Sum("amount"))
        .values_list("program_account_id", "billing_period", "total")
    ):
        reductions[account_id].append((period, total))
    out = {}
    for account_id, period, closing, due in rows:
        paid = -sum((t for p, t in reductions[account_id] if p > period), ZERO)
        left = quantize(closing - paid)
        if left > 0:
            out[account_id] = (left, due)
    return out


def overdue_check(accounts, today):
    from accounts.readiness import Item

    overdue = overdue_amounts([pa.pk for pa in accounts], today)
    try:
        url = reverse("billing-statements")
    except NoReverseMatch:
        url = ""
    out = {}
    for pa in accounts:
        if pa.pk in overdue:
            amount, due = overdue[pa.pk]
            out[pa.pk] = Item(
                "overdue", _("No overdue balance"), ok=False,
                detail=_("%(amount)s overdue since %(due)s.") % {"amount": format_cad(amount), "due": due.isoformat()},
                next_step=_("Pay the overdue balance"), next_url=url,
            )
        else:
            out[pa.pk] = Item("overdue", _("No overdue balance"), ok=True, detail=_("Statements paid by their due date."))
    return out
