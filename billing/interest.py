"""Interest on overdue balances (carm-rules §4): daily simple interest at the specified rate.

ASSUMPTION (documented rule, every input a table or a setting):

* The amount overdue on statement P is the previous statement's closing balance minus every
  payment or credit (negative ledger entry) of period P effective on or before that statement's
  due date D: ``overdue = max(0, closing(P-1) − reductions(P, ≤ D))``.
* It accrues daily simple interest from the day after the due date (D + 1) through the period's
  last day P, both included: ``days = P − D``. Days before ``CARM["INTEREST_ACCRUES_FROM"]``
  (default 2026-01-31, the end of the 2025 waiver, Customs Notice 25-02) do not count.
* The annual rate is the ``InterestRate`` of the quarter containing D + 1 (the specified rate,
  prescribed + 6 points; seeded, admin-editable). With the default calendar the whole window
  lies in one month, so in one quarter.
* ``interest = round_half_up(overdue × rate × days / 365)``: one entry of kind ``interest`` per
  account and period, effective on P, keyed ``interest:<account id>:<period>``, so a rerun never
  charges it twice. An amount still unpaid is part of the next closing balance, so it accrues
  again from the next due date; the days between a period's end and the next due date (the new
  statement's grace) accrue nothing. A late payment stops the accrual for the next period.

Worked example 3: 4,200.00 × 9% × 30/365 = 31.07 (``interest_amount``).
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from django.conf import settings

from carm_portal.money import ZERO, quantize, to_decimal

from . import ledger
from .models import InterestRate

DAYS_IN_YEAR = 365
DEFAULT_ACCRUES_FROM = date(2026, 1, 31)


def interest_amount(overdue: Decimal, annual_rate: Decimal, days: int) -> Decimal:
    """Daily simple interest, rounded half up to the cent once: overdue × rate × days / 365."""
    overdue = to_decimal(overdue)
    if overdue <= 0 or days <= 0:
        return ZERO
    return quantize(overdue * to_decimal(annual_rate) * days / DAYS_IN_YEAR)


def quarter_start(day: date) -> date:
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def rate_on(day: date) -> Decimal:
    """The specified annual rate in force on ``day`` (the latest quarter row on or before it)."""
    rate = (
        InterestRate.objects.filter(quarter_start__lte=day).order_by("-quarter_start")
        .values_list("annual_rate", flat=True).first()
    )
    return rate if rate is not None else ZERO


def accrues_from() -> date:
    value = settings.CARM.get("INTEREST_ACCRUES_FROM", DEFAULT_ACCRUES_FROM)
    return value if isinstance(value, date) or value is None else date.fromisoformat(value)


def window(period_end: date) -> tuple[date, date, int, Decimal]:
    """(previous period end, its due date D, interest days in period ``period_end``, rate)."""
    previous = ledger.period_start(period_end) - timedelta(days=1)
    due = ledger.payment_due_date(previous)
    first_day = due + timedelta(days=1)
    floor = accrues_from()
    if floor is not None:
        first_day = max(first_day, floor)
    days = max(0, (period_end - first_day).days + 1)
    return previous, due, days, rate_on(due + timedelta(days=1)) if days else ZERO
