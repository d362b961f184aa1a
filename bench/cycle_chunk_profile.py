"""Where one chunk of the billing cycle spends its time: interest and penalties vs the statements INSERT.

    .venv/bin/python bench/cycle_chunk_profile.py [--accounts 2500] [--repeat 3] [--profile]

In a PostgreSQL database of its own (BENCH_DB, default carm_bench_chunk; created, then dropped), the
billing bench's data for ``--accounts`` importers (``bench/billing_cycle.py``: the go-live month, then
11 months before it and the payments), then ``billing.cycle``'s two steps for all of them as ONE chunk,
in-process, each run rolled back: the go-live month, the catch-up month and the steady month (the
previous period closed first). Prints seconds per step and run; ``--profile`` adds a cProfile of the
last steady run (cumulative, top 25). No Celery: this is the SQL and Python of a chunk, not the cycle.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import time
from pathlib import Path

os.environ.setdefault("BENCH_DB", "carm_bench_chunk")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import billing_cycle as data  # noqa: E402 - the billing bench's data generator and database helpers


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=2500)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()

    import django

    django.setup()
    from django.db import connection, connections, transaction
    from django.utils import timezone

    from billing import cycle
    from carm_portal import calendar

    period = calendar.last_issued_period(timezone.localdate())
    previous = calendar.previous_period(period)

    def chunk(month: str, profile: bool = False) -> None:
        with connection.cursor() as c:
            c.execute("SELECT id FROM accounts_programaccount ORDER BY id")
            ids = [r[0] for r in c.fetchall()]
        profiler = cProfile.Profile()
        with transaction.atomic():
            if profile:
                profiler.enable()
            t1 = time.perf_counter()
            entries = cycle.post_interest_and_penalties(ids, period)
            t2 = time.perf_counter()
            cycle.insert_statements(ids, period, None)
            t3 = time.perf_counter()
            profiler.disable()
            transaction.set_rollback(True)
        print(f"{month}, {len(ids):,} accounts: interest and penalties {t2 - t1:.3f} s ({entries:,} entries), "
              f"statements {t3 - t2:.3f} s", flush=True)
        if profile:
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(25)
            print(out.getvalue())

    data.migrate_template()
    data.fresh_database()
    try:
        data.create_importers(args.accounts, 25.0)
        data.generate_ledger([period], [])
        for _ in range(args.repeat):
            chunk("go-live")
        earlier = [previous]
        while len(earlier) < 11:
            earlier.append(calendar.previous_period(earlier[-1]))
        earlier.reverse()
        data.generate_ledger(earlier, [*earlier[1:], period])
        for _ in range(args.repeat):
            chunk("catch-up")
        _close_previous(previous)
        for _ in range(args.repeat):
            chunk("steady")
        if args.profile:
            chunk("steady", profile=True)
    finally:
        connections.close_all()
        data.admin_sql(f'DROP DATABASE IF EXISTS "{data.DB}" WITH (FORCE)')
        data.admin_sql(f'DROP DATABASE IF EXISTS "{data.TEMPLATE}" WITH (FORCE)')


def _close_previous(previous) -> None:
    """The previous period's statements, as the cycle writes them (set-up, not timed)."""
    from django.db import connection, transaction

    from billing import cycle

    with connection.cursor() as c:
        c.execute("SELECT id FROM accounts_programaccount ORDER BY id")
        ids = [r[0] for r in c.fetchall()]
    with transaction.atomic():
        cycle.close_chunk(ids, previous)


if __name__ == "__main__":
    main()
