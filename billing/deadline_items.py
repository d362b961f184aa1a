"""Deadline-centre rows for statements: the amount due by the latest statement's due date, and
the overdue amount, both from the one money summary (``billing.summary.money_summary``), never
re-summed here. Gate: Scope.BILLING. 4 + 1 queries whatever the number of accounts.
"""

from __future__ import annotations

from datetime import date, timedelta

from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.deadlines import Row, gated, register
from accounts.notifications import LOOKBACK_DAYS, Notice, register_source
from accounts.roles import Scope

from .models import Statement
from .summary import money_summary

DUE, OVERDUE = "statement_due", "statement_overdue"


def statement_rows(user, account_ids, start: date, end: date, today: date, *, kind: str) -> list[Row]:
    accounts = {pa.pk: pa for pa in gated(user, Scope.BILLING, account_ids).select_related("business")}
    if not accounts:
        return []
    summary = money_summary(accounts.keys(), today=today)
    wanted = {(m.program_account_id, m.due_date) for m in summary.accounts if m.amount_due > 0 and m.due_date}
    wanted |= {(m.program_account_id, m.overdue_since) for m in summary.accounts if m.overdue > 0 and m.overdue_since}
    statements = {}
    if wanted:
        for st in Statement.objects.filter(program_account_id__in=[a for a, _d in wanted],
                                           due_date__in=[d for _a, d in wanted]).only("pk", "program_account_id", "due_date"):
            statements[(st.program_account_id, st.due_date)] = st.pk
    rows = []
    for money in summary.accounts:
        pa = accounts[money.program_account_id]

        def url(due, pa=pa):
            pk = statements.get((pa.pk, due))
            return reverse("billing-statement-detail", args=[pk]) if pk else reverse("billing-statements")

        common = {"program_account_id": pa.pk, "account_number": pa.number, "business_name": pa.business.display_name}
        due_now = money.amount_due - money.overdue
        if due_now > 0 and money.due_date and start <= money.due_date <= end:
            rows.append(Row(kind=DUE, date=money.due_date, url=url(money.due_date),
                            title=_("Statement payment due"), amount=due_now,
                            ref=f"statement-{pa.pk}-{money.due_date.isoformat()}", **common))
        if money.overdue > 0 and money.overdue_since:
            rows.append(Row(kind=OVERDUE, date=money.overdue_since, url=url(money.overdue_since), late=True,
                            title=_("Overdue amount"), amount=money.overdue,
                            ref=f"overdue-{pa.pk}-{money.overdue_since.isoformat()}", **common))
    return [r for r in rows if r.kind == kind]


def register_deadlines() -> None:
    register(OVERDUE, lambda *a: statement_rows(*a, kind=OVERDUE), label=gettext_lazy("Overdue amount"), order=5)
    register(DUE, lambda *a: statement_rows(*a, kind=DUE), label=gettext_lazy("Statement due"), order=30)
    register_source("statement_issued", statements_issued)


def statements_issued(user, account_ids, today: date):
    """Notice "statement issued": statements issued in the last days on accounts the user may bill."""
    accounts = gated(user, Scope.BILLING, account_ids).values("id")
    qs = (Statement.objects.filter(program_account__in=accounts, issued_on__lte=today,
                                   issued_on__gte=today - timedelta(days=LOOKBACK_DAYS))
          .select_related("program_account").order_by("issued_on", "pk"))
    return [Notice("statement_issued", f"statement-{st.pk}", st.issued_on,
                   _("Statement for the period ending %(period)s issued, due %(due)s")
                   % {"period": st.period_end.isoformat(), "due": st.due_date.isoformat()},
                   reverse("billing-statement-detail", args=[st.pk]), st.program_account.number,
                   st.closing_balance) for st in qs]
