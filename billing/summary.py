"""The one answer to "what do I owe, and by when?" (the dashboard, billing, credits and the API show it).

Per RM account, from the ledger and the issued statements:

- **balance**: every owing ledger entry summed (``ledger.balance``'s rule; negative: a credit);
- **billed and unpaid**: the latest statement's closing balance less every payment or credit posted
  to a later period (the same rule as ``billing.overdue``); what is left is the **amount due**, by
  the statement's due date; if it is below zero, that is **unapplied credit** carried to the next
  statement;
- **overdue**: ``billing.overdue.overdue_on`` as at the start of tomorrow (today's payments count),
  i.e. the part of the amount due whose due date has passed;
- **pay-at-release (cash) CAD charges** after the latest statement are payable on their release
  (``declarations.payment_timing``): part of the amount due, and overdue from the next day;
- **not yet billed**: other charges of periods after the latest statement (on the next one);
  ``balance = amount due − unapplied credit + not yet billed`` to the cent;
- **ageing** of the amount due, by days past the due date of the statement that billed it: payments
  clear the oldest debt first, so what is still due is the newest (current, 1–30, 31–60, 61–90, 90+).

So a payment of exactly the amount due takes it to zero at once; offsetting (which moves credits
between debts, never the balance) changes none of these totals. A constant number of queries for
any number of accounts.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import (
    Case,
    DateField,
    DecimalField,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, ExtractMonth, ExtractYear, Greatest, Least, Round

from billing.ledger.models import LedgerEntry
from carm_portal import calendar
from carm_portal.conf import carm
from carm_portal.money import ZERO, quantize

from .models import Statement
from .overdue import (
    AccountHistory,
    PastStatement,
    Reduction,
    cash_charge_entries,
    cash_charges,
    overdue_on,
)

# Ageing buckets: (key, first day past due, last day past due or None); "current" is not yet due.
AGEING_BUCKETS = (("current", None, 0), ("1-30", 1, 30), ("31-60", 31, 60), ("61-90", 61, 90), ("90+", 91, None))
# Statements read back for the ageing: older debt still due falls in the last bucket.
AGEING_STATEMENTS = 5


@dataclass
class AccountMoney:
    program_account_id: int
    balance: Decimal = ZERO
    amount_due: Decimal = ZERO
    due_date: date | None = None
    overdue: Decimal = ZERO
    overdue_since: date | None = None
    unapplied_credit: Decimal = ZERO
    not_yet_billed: Decimal = ZERO
    ageing: dict[str, Decimal] = field(default_factory=lambda: {key: ZERO for key, *_ in AGEING_BUCKETS})

    @property
    def due_later(self) -> Decimal:
        """The part of the amount due that is not overdue yet (due by ``due_date``)."""
        return self.amount_due - self.overdue


@dataclass
class MoneySummary:
    """The totals over a set of RM accounts, and each account's own figures."""

    today: date
    accounts: list[AccountMoney]
    next_statement_on: date
    next_statement_due: date

    def _sum(self, name: str) -> Decimal:
        return quantize(sum((getattr(a, name) for a in self.accounts), ZERO))

    @property
    def balance(self) -> Decimal:
        return self._sum("balance")

    @property
    def amount_due(self) -> Decimal:
        return self._sum("amount_due")

    @property
    def overdue(self) -> Decimal:
        return self._sum("overdue")

    @property
    def due_later(self) -> Decimal:
        return self._sum("due_later")

    @property
    def unapplied_credit(self) -> Decimal:
        return self._sum("unapplied_credit")

    @property
    def not_yet_billed(self) -> Decimal:
        return self._sum("not_yet_billed")

    @property
    def due_date(self) -> date | None:
        """The next day something billed must be paid by (None when nothing billed is unpaid)."""
        dates = [a.due_date for a in self.accounts if a.due_later > 0 and a.due_date]
        return min(dates) if dates else None

    @property
    def overdue_since(self) -> date | None:
        dates = [a.overdue_since for a in self.accounts if a.overdue > 0 and a.overdue_since]
        return min(dates) if dates else None

    @property
    def ageing(self) -> dict[str, Decimal]:
        return {key: quantize(sum((a.ageing[key] for a in self.accounts), ZERO)) for key, *_ in AGEING_BUCKETS}

    @property
    def is_clear(self) -> bool:
        return self.amount_due == 0


def _bucket(days_past_due: int) -> str:
    for key, first, last in AGEING_BUCKETS:
        if (first is None or days_past_due >= first) and (last is None or days_past_due <= last):
            return key
    return AGEING_BUCKETS[-1][0]


def _age_cash(money: AccountMoney, charges, left: Decimal, today: date) -> Decimal:
    """Age the newest debt first: cash-CAD charges by release date; returns what is left to age."""
    for charge in sorted(charges, key=lambda c: c.release_date, reverse=True):
        take = min(left, charge.amount)
        if take > 0:
            money.ageing[_bucket((today - charge.release_date).days)] += take
            left -= take
    return left


def money_summary(account_ids: Iterable[int], *, today: date) -> MoneySummary:
    """The money summary of these RM accounts on ``today`` (the caller passes gated ids). 5 queries."""
    ids = sorted(set(account_ids))
    current = calendar.billing_period_for(today)
    next_issue = calendar.statement_date(current)
    next_due = calendar.payment_due_date(current)
    if next_issue <= today:  # this period's statement is out: the next one closes the following period
        nxt = calendar.next_period(current)
        next_issue, next_due = calendar.statement_date(nxt), calendar.payment_due_date(nxt)
    if not ids:
        return MoneySummary(today, [], next_issue, next_due)

    balances = dict(
        LedgerEntry.objects.owing().filter(program_account_id__in=ids)
        .values("program_account_id").annotate(total=Sum("amount")).values_list("program_account_id", "total")
    )
    latest = dict(
        Statement.objects.filter(program_account_id__in=ids).values("program_account_id")
        .annotate(latest=Max("period_end")).values_list("program_account_id", "latest")
    )
    statements: dict[int, list] = defaultdict(list)
    if latest:
        oldest = calendar.add_months(min(latest.values()), -(AGEING_STATEMENTS - 1))
        for row in (
            Statement.objects.filter(program_account_id__in=list(latest), period_end__gte=oldest)
            .order_by("period_end")
            .values("program_account_id", "period_end", "due_date", "closing_balance", "charges", "interest",
                    "penalties")
        ):
            if row["period_end"] >= calendar.add_months(latest[row["program_account_id"]], -(AGEING_STATEMENTS - 1)):
                statements[row["program_account_id"]].append(row)

    # Entries after each account's latest statement (all entries of an account with none): the
    # payments and credits that reduce what was billed, and the charges not billed yet.
    after = Q(program_account_id__in=[i for i in ids if i not in latest])
    if latest:
        after |= Q(program_account_id__in=list(latest), billing_period__gt=min(latest.values()))
    reductions: dict[int, list[Reduction]] = defaultdict(list)
    unbilled: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for account_id, period, effective, credit, debit in (
        LedgerEntry.objects.owing().filter(after)
        .values("program_account_id", "billing_period", "effective_date")
        .annotate(credit=Sum("amount", filter=Q(amount__lt=0)), debit=Sum("amount", filter=Q(amount__gt=0)))
        .values_list("program_account_id", "billing_period", "effective_date", "credit", "debit")
    ):
        if account_id in latest and period <= latest[account_id]:
            continue
        if credit:
            reductions[account_id].append(Reduction(period, effective, -credit))
        if debit:
            unbilled[account_id] += debit

    tomorrow = today + timedelta(days=1)
    # Pay-at-release (cash) CAD charges after the latest statement are payable since their release,
    # not on the next statement (declarations.payment_timing; billing.overdue's rule).
    since = calendar.next_period(min(latest.values())) if latest else date.min
    cash: dict[int, list] = defaultdict(list)
    for account_id, charge in cash_charges(ids, since=since, until=tomorrow):
        if account_id not in latest or charge.billing_period > latest[account_id]:
            cash[account_id].append(charge)
            unbilled[account_id] -= charge.amount
    accounts = []
    for account_id in ids:
        money = AccountMoney(account_id, balance=quantize(balances.get(account_id) or ZERO),
                             not_yet_billed=quantize(unbilled[account_id]))
        rows = statements.get(account_id, [])
        paid_since = quantize(sum((r.amount for r in reductions[account_id]), ZERO))
        cash_due = quantize(sum((c.amount for c in cash[account_id]), ZERO))
        if rows:
            last = rows[-1]
            billed_unpaid = quantize(last["closing_balance"] + cash_due - paid_since)
            money.amount_due = max(ZERO, billed_unpaid)
            money.unapplied_credit = max(ZERO, -billed_unpaid)
            money.due_date = last["due_date"]
            # Statements due before today (one due today is not overdue yet), with today's payments in.
            history = AccountHistory(
                [PastStatement(r["period_end"], r["due_date"], r["closing_balance"]) for r in rows
                 if r["closing_balance"] > 0 and r["due_date"] < today],
                reductions[account_id], [c for c in cash[account_id] if c.release_date < today],
            )
            # Payments clear the oldest debt first: the amount still due is the newest debt.
            money.overdue, base = overdue_on(tomorrow, history)
            money.overdue = min(money.overdue, money.amount_due)
            money.overdue_since = base.due_date if base is not None and money.overdue > 0 else None
            left = _age_cash(money, cash[account_id], money.amount_due, today)
            for row in reversed(rows):
                take = min(left, max(ZERO, row["charges"] + row["interest"] + row["penalties"]))
                if take > 0:
                    money.ageing[_bucket((today - row["due_date"]).days)] += take
                    left -= take
            if left > 0:  # debt older than the statements read: the oldest bucket
                money.ageing[AGEING_BUCKETS[-1][0]] += left
        else:
            owed = quantize(cash_due - paid_since)
            money.amount_due, money.unapplied_credit = max(ZERO, owed), max(ZERO, -owed)
            if cash[account_id]:
                history = AccountHistory([], reductions[account_id],
                                         [c for c in cash[account_id] if c.release_date < today])
                overdue, _base = overdue_on(tomorrow, history)
                money.overdue = min(overdue, money.amount_due)
                first_release = min(c.release_date for c in cash[account_id])
                money.overdue_since = first_release if money.overdue > 0 else None
                money.due_date = first_release
                _age_cash(money, cash[account_id], money.amount_due, today)
        accounts.append(money)
    return MoneySummary(today, accounts, next_issue, next_due)


# --- The same rule in SQL --------------------------------------------------------------------------
# A list of thousands of accounts (the broker board) sorts and filters by amount due and overdue
# in the database; it computes ``money_summary`` only for the rows it shows. Each step below
# mirrors a step of ``money_summary`` (tests/billing/test_summary_sql.py checks both agree).

_MONEY = DecimalField(max_digits=14, decimal_places=2)
_ZERO = Value(ZERO, output_field=_MONEY)
_NO_STATEMENT = date(1900, 1, 1)  # "after the latest statement" of an account with none: every entry


def _total(entries, field: str = "amount", *, negate: bool = False):
    """The sum of ``field`` over a correlated queryset (zero when empty)."""
    total = Subquery(entries.order_by().values("program_account_id").annotate(t=Sum(field)).values("t")[:1],
                     output_field=_MONEY)
    return Coalesce(-total if negate else total, _ZERO)


def _first(entries, field: str, output_field):
    return Subquery(entries.order_by().values("program_account_id").annotate(v=Min(field)).values("v")[:1],
                    output_field=output_field)


def _month_index(field: str):
    return ExtractYear(field) * 12 + ExtractMonth(field)


def _latest_statement(ref: str):
    """The latest statement of the account whose id is ``OuterRef(ref)``."""
    return Statement.objects.filter(program_account_id=OuterRef(ref)).order_by("-period_end")


def _after_latest(ref: str) -> Q:
    """Entries of periods after the account's latest statement (every entry if it has none)."""
    latest = Subquery(_latest_statement(ref).values("period_end")[:1], output_field=DateField())
    return Q(billing_period__gt=Coalesce(latest, Value(_NO_STATEMENT, output_field=DateField())))


def money_annotations(accounts: QuerySet, *, today: date, prefix: str = "money_",
                      alias: bool = False) -> QuerySet:
    """``accounts`` (program accounts) annotated with ``<prefix>amount_due``, ``<prefix>overdue`` and
    ``<prefix>due_date`` (None when nothing is due): ``money_summary``'s figures as SQL, one query.

    One difference: an account with no statement at all counts every pay-at-release charge here,
    where ``money_summary`` reads them from the period after the earliest latest statement of the
    accounts it is given (the same unless such an account has cash CADs older than that).
    ``alias=True``: added with ``QuerySet.alias`` (to order or filter by; not selected).
    """
    from declarations.models import CAD

    p = prefix
    tomorrow = today + timedelta(days=1)
    # (Subqueries refer to the entry's own account, never to another annotation: Django cannot
    # relabel a subquery that refers to an annotation holding a subquery.)
    mine = Q(program_account_id=OuterRef("pk"))
    after = _after_latest("program_account_id")
    # Payments and credits after the latest statement reduce what it billed.
    credits = LedgerEntry.objects.owing().filter(mine, after, amount__lt=0)
    # Pay-at-release CAD charges after the latest statement, payable since their release.
    cash = cash_charge_entries(CAD.objects.all()).filter(mine, after)
    # The base of what is overdue: the latest of the last AGEING_STATEMENTS statements owing and due
    # before today (periods end on the same day of the month: their month numbers compare them).
    latest_month = Subquery(_latest_statement("program_account_id").annotate(m=_month_index("period_end"))
                            .values("m")[:1])
    base = (
        Statement.objects.filter(mine, closing_balance__gt=0, due_date__lt=today)
        .annotate(m=_month_index("period_end")).filter(m__gte=latest_month - (AGEING_STATEMENTS - 1))
        .order_by("-period_end")
    )
    # Without a base statement, only the payments of the overdue cash charges' periods and later.
    cash_from = (cash_charge_entries(CAD.objects.all())
                 .filter(program_account_id=OuterRef("program_account_id"), effective_date__lt=today)
                 .filter(_after_latest("program_account_id")))
    cash_from = Subquery(cash_from.order_by().values("program_account_id").annotate(v=Min("billing_period"))
                         .values("v")[:1], output_field=DateField())
    latest = _latest_statement("pk")
    qs = accounts.alias(**{
        f"{p}closing": Subquery(latest.values("closing_balance")[:1], output_field=_MONEY),
        f"{p}latest_due": Subquery(latest.values("due_date")[:1], output_field=DateField()),
        f"{p}base": Subquery(base.values("closing_balance")[:1], output_field=_MONEY),
    })
    billed_unpaid = (Coalesce(f"{p}closing", _ZERO) + _total(cash.filter(effective_date__lt=tomorrow))
                     - _total(credits, negate=True))
    paid = credits.filter(effective_date__lt=tomorrow)
    paid = Case(When(**{f"{p}base__isnull": False}, then=_total(paid, negate=True)),
                default=_total(paid.filter(billing_period__gte=cash_from), negate=True), output_field=_MONEY)
    overdue = Coalesce(f"{p}base", _ZERO) + _total(cash.filter(effective_date__lt=today)) - paid
    add = "alias" if alias else "annotate"
    qs = getattr(qs, add)(**{
        f"{p}amount_due": Greatest(Round(billed_unpaid, 2, output_field=_MONEY), _ZERO, output_field=_MONEY),
    })
    return getattr(qs, add)(**{
        f"{p}overdue": Least(Greatest(Round(overdue, 2, output_field=_MONEY), _ZERO, output_field=_MONEY),
                             f"{p}amount_due", output_field=_MONEY),
        f"{p}due_date": Case(
            When(**{f"{p}amount_due__gt": 0},
                 then=Coalesce(f"{p}latest_due", _first(cash.filter(effective_date__lt=tomorrow), "effective_date",
                                                        DateField()))),
            default=None, output_field=DateField()),
    })


@dataclass(frozen=True)
class PaymentInstructions:
    """What the "How to pay" panel says: payee, the reference to quote, and when to pay by."""

    payee: str
    references: list[str]          # the RM account numbers (BN + RM): the reference on every payment
    due_date: date | None
    pay_by: date | None            # a bank payment sent by then arrives by the due date
    lead_business_days: int
    card_cycle_cap: Decimal


def payment_instructions(summary: MoneySummary, account_numbers: Iterable[str]) -> PaymentInstructions:
    lead = int(carm("PAYMENT_LEAD_BUSINESS_DAYS"))
    due = summary.due_date
    return PaymentInstructions(
        payee=str(carm("PAYEE_NAME")), references=sorted(account_numbers), due_date=due,
        pay_by=calendar.business_days_before(due, lead) if due else None, lead_business_days=lead,
        card_cycle_cap=carm("CREDIT_CARD_CYCLE_CAP"),
    )
