"""Read paths for offsetting: what is left of each credit and debt, what each credit paid.

Remaining amounts are derived in SQL from the ledger and the allocations (never stored):

    debt remaining   =  amount − Σ allocations.amount where the entry is the debt
    credit remaining = −amount − Σ allocations.amount where the entry is the credit

Which entries take part:
- a **credit** is a negative entry (payment, CAD correction/adjustment/withdrawal in the
  importer's favour, appeal decision, ...), except a cash **security deposit** (never used to
  pay debts) and ``offset`` entries (transfers written by other tools, not money);
- a **debt** is a positive entry, except security deposits, ``offset`` and ``refund`` entries
  (a refund entry is allocated against its credits when it is paid; it is never "owed").

Functions other apps call: ``available_credit(program_accounts)`` and
``allocations_for_statement(program_account, period_end)``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from django.db.models import (
    DecimalField,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce

from accounts.models import ProgramAccount
from billing.ledger.models import LedgerEntry
from carm_portal import calendar
from carm_portal.calendar import payment_due_date, period_start
from carm_portal.money import ZERO, quantize

from .models import Allocation

__all__ = [
    "NEVER_OFFSET_KINDS",
    "kind_rank",
    "due_date",
    "latest_due_period",
    "credits",
    "debts",
    "open_credits",
    "open_debts",
    "available_credit",
    "open_debt_total",
    "open_debt_totals",
    "allocations_for_statement",
    "allocations_visible",
]

# Never a credit nor a debt for offsetting. A cash security deposit must never pay a debt.
NEVER_OFFSET_KINDS = (LedgerEntry.Kind.SECURITY_DEPOSIT, LedgerEntry.Kind.OFFSET)
NOT_A_DEBT_KINDS = (*NEVER_OFFSET_KINDS, LedgerEntry.Kind.REFUND)

# On SQLite decimals are floats: a fully used entry may sum to 1e-15. Every real remaining is a
# whole cent, so "more than half a cent" is exact on both databases.
HALF_CENT = Decimal("0.005")

_MONEY = DecimalField(max_digits=14, decimal_places=2)

# Ties on the due date: duties and taxes first, then penalties, then other charges (CBSA
# invoices and the like), then interest (carm-rules §5, ASSUMPTION for the tie order).
_DUTIES_AND_TAXES = {*LedgerEntry.CAD_KINDS, LedgerEntry.Kind.APPEAL_DECISION}


def kind_rank(kind: str) -> int:
    if kind in _DUTIES_AND_TAXES:
        return 0
    if kind == LedgerEntry.Kind.PENALTY:
        return 1
    if kind == LedgerEntry.Kind.INTEREST:
        return 3
    return 2


class DueDates(dict):
    """period end → payment due date, computed once per period (``payment_due_date`` may read the
    admin's override table): one lookup per distinct period, not one per entry."""

    def __missing__(self, period_end: date) -> date:
        self[period_end] = payment_due_date(period_end)
        return self[period_end]


def due_date(entry: LedgerEntry, memo: DueDates | None = None) -> date:
    """A debt is payable on its billing period's due date (10 weekdays after the 17th)."""
    if memo is not None:
        return memo[entry.billing_period]
    return payment_due_date(entry.billing_period)


def latest_due_period(today: date) -> date:
    """The last billing period whose payment due date is on or before ``today``.

    Due dates only move forward with the periods, so "period ≤ this" is the SQL filter for
    "due by today"; callers still check each debt's own due date.
    """
    period = calendar.billing_period_for(today)
    while calendar.payment_due_date(period) > today:
        period = calendar.previous_period(period)
    return period


def last_statement_period(today: date) -> date:
    """The latest period whose statement (issued on the 25th) is out by ``today``."""
    return calendar.last_issued_period(today)


def periods_back(period_end: date, count: int) -> date:
    return calendar.add_months(period_end, -count)


# --- Entries with what is left of them ----------------------------------------------------------

def _allocated(side: str):
    sums = (
        Allocation.objects.filter(**{side: OuterRef("pk")})
        .order_by()
        .values(side)
        .annotate(total=Sum("amount"))
        .values("total")
    )
    return Coalesce(Subquery(sums, output_field=_MONEY), Value(ZERO), output_field=_MONEY)


def credits(account_ids: Iterable[int] | QuerySet | None = None) -> QuerySet[LedgerEntry]:
    """Credit entries, annotated with ``allocated`` and ``remaining`` (positive amounts)."""
    qs = LedgerEntry.objects.filter(amount__lt=0).exclude(kind__in=NEVER_OFFSET_KINDS)
    if account_ids is not None:
        qs = qs.filter(program_account_id__in=account_ids)
    return qs.annotate(allocated=_allocated("credit")).annotate(remaining=-F("amount") - F("allocated"))


def debts(account_ids: Iterable[int] | QuerySet | None = None) -> QuerySet[LedgerEntry]:
    """Debt entries, annotated with ``allocated`` and ``remaining``."""
    qs = LedgerEntry.objects.filter(amount__gt=0).exclude(kind__in=NOT_A_DEBT_KINDS)
    if account_ids is not None:
        qs = qs.filter(program_account_id__in=account_ids)
    return qs.annotate(allocated=_allocated("debt")).annotate(remaining=F("amount") - F("allocated"))


def open_credits(account_ids, *, as_of: date | None = None) -> QuerySet[LedgerEntry]:
    """Credits with something left, oldest first; only those in effect by ``as_of`` if given."""
    qs = credits(account_ids).filter(remaining__gt=HALF_CENT)
    if as_of is not None:
        qs = qs.filter(effective_date__lte=as_of)
    return qs.order_by("effective_date", "id")


def open_debts(account_ids, *, due_by: date | None = None) -> QuerySet[LedgerEntry]:
    """Debts with something left, oldest period first; only those due by ``due_by`` if given."""
    qs = debts(account_ids).filter(remaining__gt=HALF_CENT)
    if due_by is not None:
        qs = qs.filter(billing_period__lte=latest_due_period(due_by))
    return qs.order_by("billing_period", "effective_date", "id")


def _by_account(rows, key: str) -> dict[int, Decimal]:
    return {row["program_account_id"]: quantize(row[key] or ZERO) for row in rows}


def available_credit(program_accounts: Iterable[ProgramAccount] | QuerySet) -> dict[int, Decimal]:
    """{program account id: credit not yet used} for each account (0.00 when none). Two queries.

    Security deposits are not available credit. The sum is over the accounts' own credit
    entries, whichever account's debts they paid (auto_business offsetting crosses RMs).
    """
    if isinstance(program_accounts, QuerySet):
        ids = list(program_accounts.values_list("id", flat=True))
    else:
        ids = [pa if isinstance(pa, int) else pa.pk for pa in program_accounts]
    base = LedgerEntry.objects.filter(program_account_id__in=ids, amount__lt=0).exclude(kind__in=NEVER_OFFSET_KINDS)
    totals = _by_account(
        base.order_by().values("program_account_id").annotate(total=Sum("amount")), "total"
    )
    used = _by_account(
        Allocation.objects.filter(credit__in=base.values("pk"))
        .order_by()
        .values(program_account_id=F("credit__program_account_id"))
        .annotate(total=Sum("amount")),
        "total",
    )
    return {pk: quantize(-totals.get(pk, ZERO) - used.get(pk, ZERO)) for pk in ids}


def open_debt_totals(account_ids) -> dict[int, Decimal]:
    """{program account id: left to pay on its debts, due or not} (two queries)."""
    ids = list(account_ids)
    base = LedgerEntry.objects.filter(program_account_id__in=ids, amount__gt=0).exclude(kind__in=NOT_A_DEBT_KINDS)
    totals = _by_account(base.order_by().values("program_account_id").annotate(total=Sum("amount")), "total")
    paid = _by_account(
        Allocation.objects.filter(debt__in=base.values("pk")).order_by()
        .values(program_account_id=F("debt__program_account_id")).annotate(total=Sum("amount")),
        "total",
    )
    return {pk: quantize(totals.get(pk, ZERO) - paid.get(pk, ZERO)) for pk in ids}


def open_debt_total(account_ids) -> Decimal:
    """What is left to pay on the accounts' debts, due or not (one query)."""
    total = LedgerEntry.objects.filter(program_account_id__in=account_ids, amount__gt=0).exclude(
        kind__in=NOT_A_DEBT_KINDS
    ).aggregate(total=Sum("amount"))["total"] or ZERO
    paid = Allocation.objects.filter(
        debt__program_account_id__in=account_ids, debt__amount__gt=0
    ).exclude(debt__kind__in=NOT_A_DEBT_KINDS).aggregate(total=Sum("amount"))["total"] or ZERO
    return quantize(total - paid)


# --- Allocations -------------------------------------------------------------------------------

def _with_entries(qs: QuerySet[Allocation]) -> QuerySet[Allocation]:
    return qs.select_related(
        "credit", "debt", "credit__program_account", "debt__program_account", "created_by"
    )


def allocations_visible(account_ids) -> QuerySet[Allocation]:
    """Allocations whose credit *and* debt are both on the accounts (a gated id queryset).

    An allocation shows both of its entries (reference, description, amount), so it is shown only
    to a reader who may see both sides: a PAM or broker limited to one RM never sees another RM's
    entry through an offset that crossed RMs (``auto_business``).
    """
    return _with_entries(
        Allocation.objects.filter(
            credit__program_account_id__in=account_ids, debt__program_account_id__in=account_ids
        )
    ).order_by("-applied_on", "-id")


def allocations_for_statement(program_account: ProgramAccount, period_end: date) -> QuerySet[Allocation]:
    """The offsets a statement shows: allocations touching the RM account that cleared in the period
    (18th of the previous month to ``period_end``), oldest first, with both entries loaded.

    For each row, ``row.credit`` paid ``row.debt`` (reference, kind, billing_period) with
    ``row.amount`` on ``row.applied_on``. Either entry may be on another RM of the same business
    when the business offsets across its accounts (``auto_business``). Offsets change no total:
    the statement's closing balance is still the sum of its ledger entries.
    """
    return _with_entries(
        Allocation.objects.filter(
            Q(credit__program_account=program_account) | Q(debt__program_account=program_account),
            applied_on__gte=period_start(period_end),
            applied_on__lte=period_end,
        )
    ).order_by("applied_on", "id")
