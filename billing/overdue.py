"""What is overdue (the one rule), the late-payment penalty, and the readiness item "overdue".

On day *d* the amount overdue is the closing balance of the latest statement due before *d*,
less every payment or credit (negative ledger entry) of a later period effective before *d*
(``overdue_on``). Interest (``billing.ledger.interest``) accrues on it daily; the late-payment penalty
is charged once per statement still overdue the day after its due date. Batch loaders: a
constant number of queries for any number of accounts.

Pay-at-release ("cash") CADs (carm-rules §3, the rule in ``declarations.payment_timing``): the
charge of a CAD filed without RPP is payable on release, not on its statement's due date. Its
ledger entry (kind ``cad_charge``, effective on the release date) counts as overdue from the
day after release while no statement due before the day includes it; payments and credits
clear it first (oldest debt first, carm-rules §5). No late-payment penalty is charged on it.

Late-payment penalty (carm-rules §4): ``LATE_PAYMENT_PENALTY`` ($200, AMPS C336, ASSUMPTION)
once per statement not paid in full by its due date, keyed ``late-payment:<account>:<period>``
so a rerun posts nothing twice; none while a waiver is in force (a 0% row of the interest-rate
table, e.g. the 2025 transition, Customs Notice 25-02).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Max, Sum
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _

from billing.ledger import interest
from billing.ledger.models import LedgerEntry
from carm_portal import calendar
from carm_portal.conf import carm
from carm_portal.id_lists import ids_subquery
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


@dataclass(frozen=True)
class CashCharge:
    """A pay-at-release CAD charge of ``billing_period``, payable on ``release_date``."""

    billing_period: date
    release_date: date
    amount: Decimal


@dataclass
class AccountHistory:
    statements: list[PastStatement]
    reductions: list[Reduction]
    cash_charges: list[CashCharge] = field(default_factory=list)


def overdue_on(day: date, history: AccountHistory) -> tuple[Decimal, PastStatement | None]:
    """(amount overdue at the start of ``day``, the statement it is owed on, if any).

    The latest statement due before ``day``, plus the cash-CAD charges payable before ``day``
    that it does not include (billed in a later period), less the payments and credits since.
    """
    due = [s for s in history.statements if s.due_date < day]
    base = max(due, key=lambda s: s.period_end) if due else None
    after = base.period_end if base is not None else None
    cash = [c for c in history.cash_charges
            if c.release_date < day and (after is None or c.billing_period > after)]
    if base is None and not cash:
        return ZERO, None
    if after is None:  # only cash charges: the payments and credits of their periods and later
        after = min(c.billing_period for c in cash) - timedelta(days=1)
    owed = (base.closing_balance if base is not None else ZERO) + sum((c.amount for c in cash), ZERO)
    paid = sum((r.amount for r in history.reductions
                if r.billing_period > after and r.effective_date < day), ZERO)
    return max(ZERO, quantize(owed - paid)), base


def load_histories(account_ids: Iterable[int], *, periods: Sequence[date] | None = None,
                   due_before: date | None = None, until: date,
                   cash_since: date | None = None) -> dict[int, AccountHistory]:
    """Owing statements (closing > 0) of ``periods`` (or every one due before ``due_before``),
    with ``cash_since`` the pay-at-release CAD charges of that period and later released before
    ``until``, and the payments and credits since, effective before ``until``: three queries."""
    account_ids = list(account_ids)
    qs = Statement.objects.filter(program_account_id__in=ids_subquery(account_ids), closing_balance__gt=0)
    qs = qs.filter(period_end__in=list(periods)) if periods is not None else qs.filter(due_date__lt=due_before)
    out: dict[int, AccountHistory] = {}
    for account_id, end, due, closing in qs.values_list("program_account_id", "period_end", "due_date",
                                                         "closing_balance"):
        out.setdefault(account_id, AccountHistory([], [])).statements.append(PastStatement(end, due, closing))
    starts = [s.period_end for h in out.values() for s in h.statements]
    if cash_since is not None:
        for account_id, charge in cash_charges(account_ids, since=cash_since, until=until):
            out.setdefault(account_id, AccountHistory([], [])).cash_charges.append(charge)
        if any(h.cash_charges for h in out.values()):
            starts.append(cash_since - timedelta(days=1))
    if not out:
        return out
    oldest = min(starts)
    for account_id, billed, effective, total in (
        LedgerEntry.objects.owing()
        .filter(program_account_id__in=ids_subquery(list(out)), amount__lt=0, billing_period__gt=oldest, effective_date__lt=until)
        .values("program_account_id", "billing_period", "effective_date").annotate(total=Sum("amount"))
        .values_list("program_account_id", "billing_period", "effective_date", "total")
    ):
        out[account_id].reductions.append(Reduction(billed, effective, -total))
    return out


def cash_charge_entries(cash_cads):
    """The ledger entries that are the original charges of the pay-at-release CADs ``cash_cads``
    (a queryset of CADs, narrowed by the caller). A CAD charge is effective on its release date
    (declarations.services). The one definition: ``cash_charges`` and the SQL form in
    ``billing.summary`` both read it."""
    from django.contrib.contenttypes.models import ContentType

    # The CAD records the decision (declarations.payment_timing); read, never written, here.
    from declarations.models import CAD

    return LedgerEntry.objects.filter(
        kind=LedgerEntry.Kind.CAD_CHARGE, source_type=ContentType.objects.get_for_model(CAD),
        source_id__in=cash_cads.filter(payment_timing=CAD.PaymentTiming.ON_RELEASE).order_by().values("pk"),
    )


def cash_charges(account_ids: list[int], *, since: date, until: date) -> list[tuple[int, CashCharge]]:
    """The original charges of pay-at-release CADs billed in ``since`` or later, released before
    ``until``: one query."""
    from declarations.models import CAD

    # CAD.billing_period is its charge's period: the cash CADs' partial index bounds the read.
    cash_cads = CAD.objects.filter(program_account_id__in=ids_subquery(account_ids), billing_period__gte=since)
    rows = (
        cash_charge_entries(cash_cads).filter(
            program_account_id__in=ids_subquery(account_ids), billing_period__gte=since, effective_date__lt=until,
        ).order_by().values_list("program_account_id", "billing_period", "effective_date", "amount")
    )
    return [(account_id, CashCharge(billed, released, amount)) for account_id, billed, released, amount in rows]


def period_interest(first: date, last: date, history: AccountHistory) -> interest.Accrual:
    """Interest for the days ``first..last`` (a billing period) on what was overdue each day."""
    return interest.accrue_daily(first, last, lambda day: overdue_on(day, history)[0], changes_on=change_days(history))


def change_days(history: AccountHistory) -> set[date]:
    """The days ``overdue_on`` can change: the day after a statement's due date, a payment's or
    credit's effective date, or a cash CAD's release (its rule compares each with ``< day``)."""
    one = timedelta(days=1)
    return ({s.due_date + one for s in history.statements} | {r.effective_date + one for r in history.reductions}
            | {c.release_date + one for c in history.cash_charges})


def late_payment_penalty(statement: PastStatement, history: AccountHistory) -> Decimal:
    """The penalty a statement earns: the configured amount if it was still overdue the day after
    its due date and no waiver was in force that day; else zero."""
    day_after = statement.due_date + timedelta(days=1)
    # The statement's own balance: pay-at-release CAD charges earn interest, not this penalty.
    amount, base = overdue_on(day_after, AccountHistory(history.statements, history.reductions))
    if base != statement or amount <= 0 or interest.is_waived(day_after):
        return ZERO
    return quantize(carm("LATE_PAYMENT_PENALTY"))


def overdue_amounts(account_ids: list[int], today: date) -> dict[int, tuple[Decimal, date]]:
    """{account id: (amount overdue, due date)} for the accounts with an overdue balance (4 queries).

    The due date is the latest statement's due date, or for pay-at-release CAD charges alone the
    earliest release date among them."""
    if not account_ids:
        return {}
    latest = dict(
        Statement.objects.filter(program_account_id__in=account_ids, due_date__lt=today)
        .values("program_account_id").annotate(latest=Max("period_end")).values_list("program_account_id", "latest")
    )
    # What is still overdue once today's payments are in: as at the start of tomorrow. Cash-CAD
    # charges of the previous period or later can be overdue without a statement due yet.
    tomorrow = today + timedelta(days=1)
    histories = load_histories(account_ids, periods=sorted(set(latest.values())), until=tomorrow,
                               cash_since=calendar.previous_period(calendar.billing_period_for(today)))
    out = {}
    for account_id, history in histories.items():
        history.statements = [s for s in history.statements if s.period_end == latest.get(account_id)]
        # Like a statement on its due date, a cash CAD is not overdue on its release day.
        history.cash_charges = [c for c in history.cash_charges if c.release_date < today]
        amount, base = overdue_on(tomorrow, history)
        if amount > 0:
            if base is not None:
                due = base.due_date
            else:
                due = min(c.release_date for c in history.cash_charges)
            out[account_id] = (amount, due)
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
