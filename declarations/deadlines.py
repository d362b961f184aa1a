"""CAD deadlines and time limits (carm-rules §2), counted with ``carm_portal.calendar``.

- Accounting due date: 5 business days after release (Canadian federal holidays skipped);
  courier low-value shipments and continuous transmission: the 24th of the month after release.
- Correction or adjustment: a change filed on or before the payment due date of the billing
  period the CAD was charged in is a correction; after it, an adjustment.
- s.32.2: a correction of origin, classification or value for duty within 90 days of having
  reason to believe. s.74: a refund within 4 years of the accounting (release) date.
"""

from __future__ import annotations

from datetime import date

from django.conf import settings

from billing.ledger import payment_due_date
from carm_portal import calendar

from .models import CAD

S32_2_DAYS = 90
S74_YEARS = 4
MONTHLY_DUE_DAY = 24


def _next_month(day: date, day_of_month: int) -> date:
    month_index = day.year * 12 + day.month  # the month after ``day``, 0-based
    return date(month_index // 12, month_index % 12 + 1, day_of_month)


def cad_due_date(release_date: date | None, cad_type: str) -> date | None:
    if release_date is None:
        return None
    if cad_type in (CAD.Type.COURIER_LVS, CAD.Type.CONTINUOUS):
        return _next_month(release_date, MONTHLY_DUE_DAY)
    return calendar.add_business_days(release_date, int(settings.CARM.get("CAD_DUE_BUSINESS_DAYS", 5)))


def correction_deadline(cad: CAD) -> date | None:
    """The last day a change is a (free, auto-approved) correction rather than an adjustment."""
    if cad.billing_period is None:
        return None
    return payment_due_date(cad.billing_period)


def add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def s32_2_deadline(reason_to_believe_date: date) -> date:
    return calendar.calendar_deadline(
        reason_to_believe_date, int(settings.CARM.get("S32_2_DAYS", S32_2_DAYS)), roll_to_business_day=False
    )


def s74_deadline(release_date: date) -> date:
    return add_years(release_date, int(settings.CARM.get("S74_YEARS", S74_YEARS)))


def due_soon_until(today: date, business_days: int = 5) -> date:
    return calendar.add_business_days(today, business_days)


__all__ = [
    "cad_due_date",
    "correction_deadline",
    "s32_2_deadline",
    "s74_deadline",
    "add_years",
    "due_soon_until",
]
