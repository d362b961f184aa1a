"""The one calendar: business days, month and year arithmetic, billing periods and due dates.

Every app counts dates here; nothing else adds months, counts weekdays or knows the 17th.

- **Business days** skip Saturdays, Sundays and the holidays that ``holidays`` files under the
  public, government and optional categories for Canada (10 days in 2025), plus what admins add
  in the ``HolidayOverride`` table, minus what they remove (carm-rules, calendar note).
- **Months and years** use ``dateutil.relativedelta``, which clamps to the month's last day:
  31 January + 1 month = 28/29 February; 29 February + 1 year = 28 February (an anniversary).
- **Billing periods** (carm-rules §4) run from the day after ``PERIOD_END_DAY`` (the 17th) of one
  month to the 17th of the next; a period is named by its last day. The statement (SOA) is
  issued on ``STATEMENT_DAY`` (the 25th) of the period's last month.
- **Payment due date**: ``PAYMENT_DUE_WEEKDAYS`` (10) weekdays after the period end, holidays
  *counted* (brokers' reading of CBSA's rule); a result that falls on a holiday moves to the next
  day that is neither a holiday, a Sunday nor (``DUE_DATE_ROLLS_OVER_SATURDAY``, ASSUMPTION) a
  Saturday (Interpretation Act s.26). A ``DueDateOverride`` row (CBSA's published date) wins.
- **Calendar-month cycle** (courier LVS and continuous-transmission CADs, carm-rules §4):
  ASSUMPTION: goods released in calendar month M are accounted by the 24th of M+1 and billed
  on the statement of the period ending on the 17th of M+1 (issued the 25th of M+1), so they
  share the account's one statement and due date.

Admin-edited tables are read through ``carm_portal.reference_tables`` (one cache every process
sees).
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

import holidays
from dateutil.relativedelta import relativedelta

from carm_portal import reference_tables
from carm_portal.conf import carm

_CATEGORIES = ("public", "government", "optional")
CAD_MONTHLY_DUE_DAY = 24  # courier LVS / continuous transmission: by the 24th of the next month


# --- Business days -----------------------------------------------------------------------------

@lru_cache(maxsize=64)
def _statutory(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("CA", years=year, categories=_CATEGORIES).keys())


def holidays_in(year: int) -> frozenset[date]:
    added, removed = reference_tables.holiday_overrides()
    return (_statutory(year) | {d for d in added if d.year == year}) - removed


def is_holiday(day: date) -> bool:
    return day in holidays_in(day.year)


def is_business_day(day: date) -> bool:
    return day.weekday() < 5 and not is_holiday(day)


def add_business_days(start: date, count: int) -> date:
    """The date ``count`` business days after ``start`` (start itself not counted)."""
    if count < 0:
        raise ValueError("count must be >= 0")
    day = start
    remaining = count
    while remaining:
        day += timedelta(days=1)
        if is_business_day(day):
            remaining -= 1
    return day


def business_days_before(day: date, count: int) -> date:
    """The date ``count`` business days before ``day`` (``day`` itself not counted)."""
    if count < 0:
        raise ValueError("count must be >= 0")
    remaining = count
    while remaining:
        day -= timedelta(days=1)
        if is_business_day(day):
            remaining -= 1
    return day


def next_business_day_on_or_after(day: date) -> date:
    while not is_business_day(day):
        day += timedelta(days=1)
    return day


def business_days_between(start: date, end: date) -> int:
    """Business days after ``start`` up to and including ``end`` (negative if end < start)."""
    if end < start:
        return -business_days_between(end, start)
    n = 0
    day = start
    while day < end:
        day += timedelta(days=1)
        if is_business_day(day):
            n += 1
    return n


def add_weekdays(start: date, count: int) -> date:
    """``count`` Monday-to-Friday days after ``start``; holidays are counted, not skipped."""
    day = start
    remaining = count
    while remaining > 0:
        day += timedelta(days=1)
        if day.weekday() < 5:
            remaining -= 1
    return day


def roll_payment_day(day: date) -> date:
    """A payment due on a holiday or a Sunday (or, by default, a Saturday) is due the next day
    that is none of these (Interpretation Act s.26)."""
    skip_saturday = bool(carm("DUE_DATE_ROLLS_OVER_SATURDAY"))
    while day.weekday() == 6 or (skip_saturday and day.weekday() == 5) or is_holiday(day):
        day += timedelta(days=1)
    return day


def calendar_deadline(start: date, days: int, *, roll_to_business_day: bool) -> date:
    """``days`` calendar days counted from the day after ``start``.

    When ``roll_to_business_day`` is set, a deadline on a weekend or holiday moves to the
    next business day (the rules file's ASSUMPTION, configurable).
    """
    deadline = start + timedelta(days=days)
    return next_business_day_on_or_after(deadline) if roll_to_business_day else deadline


# --- Months and years --------------------------------------------------------------------------

def add_months(day: date, months: int) -> date:
    """``day`` moved by ``months`` (negative: back); the 31st clamps to the month's last day."""
    return day + relativedelta(months=months)


def add_years(day: date, years: int) -> date:
    """The anniversary ``years`` later: one year after 29 February is 28 February."""
    return day + relativedelta(years=years)


def month_end(day: date) -> date:
    return day + relativedelta(day=31)


# --- Billing periods -----------------------------------------------------------------------------

def period_end_day() -> int:
    return int(carm("PERIOD_END_DAY"))


def is_period_end(day: date) -> bool:
    return day.day == period_end_day()


def billing_period_for(day: date) -> date:
    """The period (named by its last day) that contains ``day``: 18th of one month to 17th of next."""
    end_day = period_end_day()
    if day.day <= end_day:
        return day.replace(day=end_day)
    return add_months(day.replace(day=end_day), 1)


def period_start(period_end: date) -> date:
    """The first day of the period ending ``period_end`` (the 18th of the month before)."""
    return previous_period(period_end) + timedelta(days=1)


def previous_period(period_end: date) -> date:
    return add_months(period_end.replace(day=period_end_day()), -1)


def next_period(period_end: date) -> date:
    return add_months(period_end.replace(day=period_end_day()), 1)


def periods_ending(last: date, count: int) -> list[date]:
    """The ``count`` periods up to and including ``last``, oldest first."""
    return [add_months(last, -i) for i in range(count - 1, -1, -1)]


def statement_date(period_end: date) -> date:
    """The SOA for a period is issued on the 25th of the month the period ends in."""
    return period_end.replace(day=int(carm("STATEMENT_DAY")))


def last_issued_period(today: date) -> date:
    """The most recent period whose statement is issued on or before ``today``."""
    period = billing_period_for(today)
    while statement_date(period) > today:
        period = previous_period(period)
    return period


def billing_period_of_release(release_date: date, *, calendar_month: bool = False) -> date:
    """The period that bills goods released on ``release_date``.

    On the calendar-month cycle (courier LVS, continuous transmission) the whole month of
    release is billed on the statement of the period ending on the 17th of the next month.
    """
    if calendar_month and bool(carm("LVS_CALENDAR_MONTH_CYCLE")):
        return add_months(release_date, 1).replace(day=period_end_day())
    return billing_period_for(release_date)


def posting_period(anchor: date, *, posted_on: date, calendar_month: bool = False) -> date:
    """The period an entry about ``anchor`` lands in when it is posted on ``posted_on``.

    The anchor's own period while its statement is not issued yet (a correction filed before
    the 25th appears on that SOA); otherwise the next statement to be issued. A statement that
    was issued is never changed.
    """
    period = billing_period_of_release(anchor, calendar_month=calendar_month)
    while posted_on >= statement_date(period):
        period = next_period(period)
    return period


def payment_due_date(period_end: date) -> date:
    """When a period's statement must be paid: CBSA's published date if the admin entered one,
    else 10 weekdays after the period end, rolled off a holiday/weekend (2025-11-17 → 2025-12-01;
    2026-06-17 → 2026-07-01, Canada Day → 2026-07-02)."""
    override = reference_tables.due_date_overrides().get(period_end)
    if override is not None:
        return override
    return roll_payment_day(add_weekdays(period_end, int(carm("PAYMENT_DUE_WEEKDAYS"))))


# --- CAD dates ------------------------------------------------------------------------------------

def cad_due_date(release_date: date, *, calendar_month: bool = False) -> date:
    """When a CAD must be accounted: 5 business days after release; courier LVS / continuous
    transmission (``calendar_month``): the 24th of the month after release (carm-rules §2)."""
    if calendar_month:
        return add_months(release_date, 1).replace(day=CAD_MONTHLY_DUE_DAY)
    return add_business_days(release_date, int(carm("CAD_DUE_BUSINESS_DAYS")))
