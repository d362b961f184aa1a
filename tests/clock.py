"""The tests' clock.

``on(day)`` pins the clock (time-machine) for a test or a fixture whose expectations are written
for one day: ``@on("2026-03-10")``, or ``with on(date(2026, 3, 10)):``. The time is 10:00 in
Toronto, the portal's time zone, so ``timezone.localdate()`` is ``day``. The clock ticks by
default (a frozen clock hides nothing here, and ticking keeps timestamps ordered).

Tests that are not pinned must be right on any day: CI runs the suite again under Debian's
``faketime`` on a few awkward dates (``scripts/test-on-date.sh``, from .ci/run).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import time_machine

PORTAL_TZ = ZoneInfo("America/Toronto")


def on(day: dt.date | str, *, hour: int = 10, tick: bool = True) -> time_machine.travel:
    if isinstance(day, str):
        day = dt.date.fromisoformat(day)
    return time_machine.travel(dt.datetime(day.year, day.month, day.day, hour, tzinfo=PORTAL_TZ), tick=tick)


def stay_on(day: dt.date):
    """An autouse fixture for a module whose tests count from ``day`` (usually the day the module
    was imported, ``TODAY = timezone.localdate()``): the clock stays on that day, so a run that
    goes past midnight does not change what "today" means halfway through.
    ``_on_today = stay_on(TODAY)`` at module level."""
    import pytest

    @pytest.fixture(autouse=True)
    def _stay_on_day():
        with on(day):
            yield day

    return _stay_on_day
