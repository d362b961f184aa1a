"""The tests' clock.

``on(day)`` pins the clock (time-machine) for a test or a fixture whose expectations are written
for one day: ``@on("2026-03-10")``, or ``with on(date(2026, 3, 10)):``. The time is 10:00 in
Toronto, the portal's time zone, so ``timezone.localdate()`` is ``day``. The clock ticks by
default (a frozen clock hides nothing here, and ticking keeps timestamps ordered).

Tests that are not pinned must be right on any day: CI runs the suite again under Debian's
``faketime`` on a few awkward dates (.ci/run). ``guard_libfaketime()`` makes that possible.
"""

from __future__ import annotations

import datetime as dt
import os
import select
import time
from zoneinfo import ZoneInfo

import time_machine

PORTAL_TZ = ZoneInfo("America/Toronto")


def on(day: dt.date | str, *, hour: int = 10, tick: bool = True) -> time_machine.travel:
    if isinstance(day, str):
        day = dt.date.fromisoformat(day)
    return time_machine.travel(dt.datetime(day.year, day.month, day.day, hour, tzinfo=PORTAL_TZ), tick=tick)


def under_libfaketime() -> bool:
    return "libfaketime" in os.environ.get("LD_PRELOAD", "")


def guard_libfaketime() -> None:
    """Under libfaketime 0.9.10 (Debian 12) with ``FAKETIME_DONT_FAKE_MONOTONIC=1``, Python 3.11's
    ``time.sleep`` fails with EINVAL: it sleeps with ``clock_nanosleep(CLOCK_MONOTONIC,
    TIMER_ABSTIME)`` and libfaketime shifts that absolute monotonic time by the fake offset
    (libfaketime issue 426). Without that variable the monotonic clock is faked too, and every
    timed wait on a lock (``threading``, ``queue``, ``subprocess``) hangs (issue 390). So the
    monotonic clock stays real and ``time.sleep`` waits with ``select``, which takes a relative
    timeout. Nothing changes outside libfaketime."""
    if not under_libfaketime() or not os.environ.get("FAKETIME_DONT_FAKE_MONOTONIC"):
        return
    if getattr(time.sleep, "_carm_faketime_guard", False):
        return

    def sleep(seconds: float) -> None:
        if seconds < 0:
            raise ValueError("sleep length must be non-negative")
        deadline = time.monotonic() + seconds
        remaining = seconds
        while remaining > 0:
            select.select([], [], [], remaining)
            remaining = deadline - time.monotonic()

    sleep._carm_faketime_guard = True
    time.sleep = sleep
