"""Python under libfaketime: loaded by every Python process that ``scripts/test-on-date.sh``
starts (it puts this folder on ``PYTHONPATH``): pytest and anything it spawns (``manage.py``,
a second process reading the reference tables).

libfaketime 0.9.10 (Debian 12) and Python 3.11 disagree on two things:

- with the monotonic clock faked, every timed wait on a lock (``threading.Event.wait``,
  ``queue.Queue.get(timeout=...)``, ``subprocess`` timeouts) hangs: glibc's ``sem_clockwait``
  goes to the kernel with a faked deadline (libfaketime issue 390). So the script sets
  ``FAKETIME_DONT_FAKE_MONOTONIC=1``: only the wall clock is faked, and nothing in the portal
  measures days with the monotonic clock;
- with ``FAKETIME_DONT_FAKE_MONOTONIC=1``, ``time.sleep`` fails with EINVAL: it sleeps with
  ``clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME)`` and libfaketime shifts that real monotonic
  deadline by the fake offset (issue 426). So ``time.sleep`` waits with ``select``, whose timeout
  is relative.

Nothing changes outside libfaketime.
"""

import os

if "libfaketime" in os.environ.get("LD_PRELOAD", "") and os.environ.get("FAKETIME_DONT_FAKE_MONOTONIC"):
    import select
    import time

    def _sleep(seconds: float) -> None:
        if seconds < 0:
            raise ValueError("sleep length must be non-negative")
        deadline = time.monotonic() + seconds
        remaining = seconds
        while remaining > 0:
            select.select([], [], [], remaining)
            remaining = deadline - time.monotonic()

    _sleep.carm_faketime_guard = True
    time.sleep = _sleep
