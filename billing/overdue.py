"""What is overdue (the one rule), the late-payment penalty, and the readiness item "overdue".

On day *d* the amount overdue is the closing balance of the latest statement due before *d*,
less every payment or credit (negative ledger entry) of a later period effective before *d*
(``overdue_on``). Interest (``billing.ledger.interest``) accrues on it daily; the late-payment penalty
is charged once per statement still overdue the day after its due date. Batch loaders: a
constant number of queries for any number of accounts.

Late-payment penalty (carm-rules §4): ``LATE_PAYMENT_PENALTY`` ($200, AMPS C336, ASSUMPTION)
once per statement not paid in full by its due date, keyed ``late-payment:<account>:<period>``
so a rerun posts nothing twice; none while a waiver is in force (a 0% row of the interest-rate
table, e.g. the 2025 transition, Customs Notice 25-02).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Max, Sum
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _

from billing.ledger import interest
from billing.ledger.models import LedgerEntry
from carm_portal.conf import carm
from carm_portal.money import ZERO, format_cad, quantize

from .models import Statement


@dataclass(frozen=True)
class PastStatement:
    period_end: date
    due_date: date
    closing_balance: Decimal


@dataclass(frozen=True)
class Reduction:
    """A payment or credit (a positive amount here) of ``billing_period``, effective ``effective_date``."""

    billing_period: date
    effective_date: date
    amount: Decimal


@dataclass
class AccountHistory:
    statements: list[PastStatement]
    reductions: list[Reduction]


def overdue_on(day: date, history: AccountHistory) -> tuple[Decimal, PastStatement | None]:
    """(amount overdue at the start of ``day``, the statement it is owed on)."""
    due = [s for s in history.statements if s.due_date < day]
    if not due:
        return ZERO, None
    base = max(due, key=lambda s: s.period_end)
    paid = sum((r.amount for r in history.reductions
                if r.billing_period > base.period_end and r.effective_date < day), ZERO)
    return max(ZERO, quantize(base.closing_balance - paid)), base


def load_histories(account_ids: Iterable[int], *, periods: Sequence[date] | None = None,
                   due_before: date | None = None, until: date) -> dict[int, AccountHistory]:
    """Owing statements (closing > 0) of ``periods`` (or every one due before ``due_before``) and
    the payments and credits after the oldest of them effective before ``until``: two queries."""
    qs = Statement.objects.filter(program_account_id__in=list(account_ids), closing_balance__gt=0)
    qs = qs.filter(period_end__in=list(periods)) if periods is not None else qs.filter(due_date__lt=due_before)
    out: dict[int, AccountHistory] = {}
    for account_id, end, due, closing in qs.values_list("program_account_id", "period_end", "due_date",
                                                         "closing_balance"):
        out.setdefault(account_id, AccountHistory([], [])).statements.append(PastStatement(end, due, closing))
    if not out:
        return out
    oldest = min(s.period_end for h in out.values() for s in h.statements)
    for account_id, billed, effective, total in (
        LedgerEntry.objects.owing()
        .filter(program_account_id__in=list(out), amount__lt=0, billing_period__gt=oldest, effective_date__lt=until)
        .values("program_account_id", "billing_period", "effective_date").annotate(total=Sum("amount"))
        .values_list("program_account_id", "billing_period", "effective_date", "total")
    ):
        out[account_id].reductions.append(Reduction(billed, effective, -total))
    return out


def period_interest(first: date, last: date, history: AccountHistory) -> interest.Accrual:
    """Interest for the days ``first..last`` (a billing period) on what was overdue each day."""
    return interest.accrue_daily(first, last, lambda day: overdue_on(day, history)[0])


def late_payment_penalty(statement: PastStatement, history: AccountHistory) -> Decimal:
    """The penalty a statement earns: the configured amount if it was still overdue the day after
    its due date and no waiver was in force that day; else zero."""
    day_after = statement.due_date + timedelta(days=1)
    amount, base = overdue_on(day_after, history)
    if base != statement or amount <= 0 or interest.is_waived(day_after):
        return ZERO
    return quantize(carm("LATE_PAYMENT_PENALTY"))


def overdue_amounts(account_ids: list[int], today: date) -> dict[int, tuple[Decimal, date]]:
    """{account id: (amount overdue, due date)} for the accounts with an overdue balance (3 queries)."""
    if not account_ids:
        return {}
    latest = dict(
        Statement.objects.filter(program_account_id__in=account_ids, due_date__lt=today)
        .values("program_account_id").annotate(latest=Max("period_end")).values_list("program_account_id", "latest")
    )
    # What is still overdue once today's payments are in: as at the start of tomorrow.
    tomorrow = today + timedelta(days=1)
    histories = load_histories(latest, periods=sorted(set(latest.values())), until=tomorrow)
    out = {}
    for account_id, history in histories.items():
        history.statements = [s for s in history.statements if s.period_end == latest[account_id]]
        amount, base = overdue_on(tomorrow, history)
        if amount > 0:
            out[account_id] = (amount, base.due_date)
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
