"""Business days and deadlines: the only place dates are counted.

Federal business days skip the holidays that ``holidays`` files under the public, government
and optional categories for Canada (10 days in 2025, incl. Truth and Reconciliation Day and
Remembrance Day), plus what admins add in the override table, minus what they remove.
"""

from __future__ import annotations

import threading
from datetime import date, timedelta
from functools import lru_cache

import holidays

_CATEGORIES = ("public", "government", "optional")
_lock = threading.Lock()
_override_cache: tuple[frozenset[date], frozenset[date]] | None = None


@lru_cache(maxsize=64)
def _statutory(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("CA", years=year, categories=_CATEGORIES).keys())


def _overrides() -> tuple[frozenset[date], frozenset[date]]:
    """(added, removed) days from the admin table, cached until the table changes."""
    global _override_cache
    with _lock:
        if _override_cache is None:
            from carm_portal.models import HolidayOverride

            rows = list(HolidayOverride.objects.values_list("day", "is_holiday"))
            _override_cache = (
                frozenset(d for d, h in rows if h),
                frozenset(d for d, h in rows if not h),
            )
        return _override_cache


def clear_override_cache() -> None:
    global _override_cache
    with _lock:
        _override_cache = None


def holidays_in(year: int) -> frozenset[date]:
    added, removed = _overrides()
    return (_statutory(year) | {d for d in added if d.year == year}) - removed


def is_business_day(day: date) -> bool:
    return day.weekday() < 5 and day not in holidays_in(day.year)


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


def next_business_day_on_or_after(day: date) -> date:
    while not is_business_day(day):
        day += timedelta(days=1)
    return day


def calendar_deadline(start: date, days: int, *, roll_to_business_day: bool) -> date:
    """``days`` calendar days counted from the day after ``start``.

    When ``roll_to_business_day`` is set, a deadline on a weekend or holiday moves to the
    next business day (the rules file's ASSUMPTION, configurable).
    """
    deadline = start + timedelta(days=days)
    return next_business_day_on_or_after(deadline) if roll_to_business_day else deadline


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
