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

from django.db.models import Max, Q, Sum

from billing.ledger.models import LedgerEntry
from carm_portal import calendar
from carm_portal.conf import carm
from carm_portal.money import ZERO, quantize

from .models import Statement
from .overdue import AccountHistory, PastStatement, Reduction, cash_charges, overdue_on

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
