"""The one interest engine (Customs Act s.33.4; carm-rules §4). Every interest amount is computed here.

The rule: daily simple interest at the *specified* rate in force on each day, from the day after
an amount was payable until the day it is paid in full (that day included), on the outstanding
balance; 365-day year; the sum is rounded half up to the cent once.

- **Rates** come from the ``InterestRate`` table (admin-edited, read through
  ``carm_portal.reference_tables``): each row is in force from its ``effective_from`` day until the
  next row. One row per quarter, plus rows where a waiver starts or ends: the 2025 waiver
  (Customs Notice 25-02) is a 0% row, and accrual resumes with the row of 2026-01-31. A window
  that spans two rows is split: each day is charged at its own rate.
- **Statements**: ``accrue_daily`` on the amount overdue each day (``billing.overdue.overdue_on``:
  the latest statement due before the day, less the payments and credits posted since, effective
  before the day); so a payment stops interest after the day it is posted, and a debt unpaid
  across a period end keeps accruing with no gap. The billing cycle charges the days of each
  period on that period's statement (one entry per account and period, idempotent).
- **Adjustments** (upward s.32.2) and **appeal credits** use ``interest_between`` on a fixed amount.

Worked example 3 (carm-rules): 4,200.00 × 9% × 30/365 = 31.07.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from carm_portal import reference_tables
from carm_portal.money import ZERO, quantize, to_decimal

DAYS_IN_YEAR = 365


@dataclass(frozen=True)
class Piece:
    """``balance`` outstanding on each day from ``first`` to ``last`` (both included) at ``rate``."""

    first: date
    last: date
    balance: Decimal
    rate: Decimal

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def exact(self) -> Decimal:
        return self.balance * self.rate * self.days / DAYS_IN_YEAR


@dataclass(frozen=True)
class Accrual:
    """An interest amount with the day ranges, balances and rates that make it (for explanations)."""

    pieces: tuple[Piece, ...] = field(default_factory=tuple)

    @property
    def amount(self) -> Decimal:
        return quantize(sum((p.exact for p in self.pieces), ZERO)) if self.pieces else ZERO

    @property
    def days(self) -> int:
        return sum(p.days for p in self.pieces)

    def describe(self) -> str:
        """Plain text, language-neutral: '2026-12-02–2026-12-17 16 d × 4200.00 @ 0.090000; …'."""
        return "; ".join(
            f"{p.first.isoformat()}–{p.last.isoformat()} {p.days} d × {p.balance} @ {p.rate}" for p in self.pieces
        )


def rate_on(day: date) -> Decimal:
    """The specified annual rate in force on ``day`` (0 before the first row)."""
    rates = reference_tables.interest_rates()
    i = bisect_right([start for start, _ in rates], day)
    return rates[i - 1][1] if i else ZERO


def _rate_pieces(first: date, last: date, balance: Decimal) -> list[Piece]:
    """Split ``first..last`` where the rate changes."""
    rates = reference_tables.interest_rates()
    pieces = []
    day = first
    while day <= last:
        rate = rate_on(day)
        later = [start for start, _ in rates if start > day]
        end = min(last, later[0] - timedelta(days=1)) if later else last
        if rate > 0 and balance > 0:
            pieces.append(Piece(day, end, balance, rate))
        day = end + timedelta(days=1)
    return pieces


def accrue(daily_balances: Iterable[tuple[date, date, Decimal]]) -> Accrual:
    """Interest on balances given as (first day, last day, balance outstanding on each of those days)."""
    pieces: list[Piece] = []
    for first, last, balance in daily_balances:
        if last >= first and balance > 0:
            pieces.extend(_rate_pieces(first, last, to_decimal(balance)))
    return Accrual(tuple(pieces))


def interest_between(amount: Decimal, *, payable_on: date, paid_on: date) -> Accrual:
    """Interest on a fixed ``amount`` payable on ``payable_on`` and paid on ``paid_on``: from the
    day after ``payable_on`` to ``paid_on`` included (a payment 2 days late: 2 days)."""
    return accrue([(payable_on + timedelta(days=1), paid_on, to_decimal(amount))])


def accrue_daily(first: date, last: date, balance_on: Callable[[date], Decimal],
                 changes_on: Iterable[date] | None = None) -> Accrual:
    """Interest for the days ``first..last`` on ``balance_on(day)``, the balance outstanding at
    the start of each day (runs of equal balances are grouped).

    ``changes_on``: when the caller knows the only days the balance can change, ``balance_on`` is
    asked on ``first`` and those days only (the billing cycle: a handful of calls per account
    instead of one per day); the result is the same.
    """
    if changes_on is None:
        days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    else:
        days = [first, *sorted({d for d in changes_on if first < d <= last})]
    runs: list[tuple[date, date, Decimal]] = []
    for n, day in enumerate(days):
        end = days[n + 1] - timedelta(days=1) if n + 1 < len(days) else last
        balance = balance_on(day)
        if runs and runs[-1][2] == balance:
            runs[-1] = (runs[-1][0], end, balance)
        else:
            runs.append((day, end, balance))
    return accrue(runs)


def is_waived(day: date) -> bool:
    """A waiver is a 0% row of the rate table in force on ``day`` (interest and penalties)."""
    rates = reference_tables.interest_rates()
    return bool(rates) and day >= rates[0][0] and rate_on(day) == 0
