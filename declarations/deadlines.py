"""CAD deadlines and time limits (carm-rules §2); every date is counted by ``carm_portal.calendar``.

- Accounting due date: 5 business days after release; courier low-value shipments and
  continuous transmission: the 24th of the month after release (``calendar.cad_due_date``).
- Billing: those two types are on the calendar-month cycle (``calendar.billing_period_of_release``).
- Correction or adjustment: a change filed *before* the payment due date of the billing period
  the CAD was charged in is a correction; on or after it, an adjustment.
- s.32.2: a correction of origin, classification or value for duty within 90 days of having
  reason to believe. s.74: a refund within 4 years of the accounting date (the day the CAD was
  accounted, i.e. accepted).
"""

from __future__ import annotations

from datetime import date, timedelta

from carm_portal import calendar
from carm_portal.conf import carm

from .models import CAD

CALENDAR_MONTH_TYPES = (CAD.Type.COURIER_LVS, CAD.Type.CONTINUOUS)


def on_calendar_month_cycle(cad_type: str) -> bool:
    return cad_type in CALENDAR_MONTH_TYPES


def cad_due_date(release_date: date | None, cad_type: str) -> date | None:
    if release_date is None:
        return None
    return calendar.cad_due_date(release_date, calendar_month=on_calendar_month_cycle(cad_type))


def billing_period(cad: CAD, *, posted_on: date) -> date:
    """The period a change to ``cad`` posted on ``posted_on`` is billed in."""
    return calendar.posting_period(cad.release_date, posted_on=posted_on,
                                   calendar_month=on_calendar_month_cycle(cad.cad_type))


def payment_due_date(cad: CAD) -> date | None:
    """When the CAD's duties and taxes must be paid: the release date for a pay-at-release (cash)
    CAD (declarations.payment_timing decides which), else the due date of the statement it is
    billed on (None while not billed)."""
    if cad.payment_timing == CAD.PaymentTiming.ON_RELEASE:
        return cad.release_date
    if cad.billing_period is not None:
        return calendar.payment_due_date(cad.billing_period)
    return None


def correction_last_day(cad: CAD) -> date | None:
    """The last day a change is a (free, auto-approved) correction: the day before the payment due
    date of the statement the CAD is billed on. ASSUMPTION (carm-rules §2 speaks of RPP CADs): a
    pay-at-release CAD keeps the same window, although its own payment was due on release."""
    if cad.billing_period is None:
        return None
    return calendar.payment_due_date(cad.billing_period) - timedelta(days=1)


def is_correction(cad: CAD, today: date) -> bool:
    last_day = correction_last_day(cad)
    return last_day is not None and today <= last_day


def s32_2_deadline(reason_to_believe_date: date) -> date:
    return calendar.calendar_deadline(reason_to_believe_date, carm("S32_2_DAYS"), roll_to_business_day=False)


def s74_deadline(accounting_date: date) -> date:
    return calendar.add_years(accounting_date, carm("S74_YEARS"))


def due_soon_until(today: date, business_days: int = 5) -> date:
    return calendar.add_business_days(today, business_days)


__all__ = [
    "cad_due_date",
    "billing_period",
    "correction_last_day",
    "is_correction",
    "on_calendar_month_cycle",
    "s32_2_deadline",
    "s74_deadline",
    "due_soon_until",
]
