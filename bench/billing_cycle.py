"""Benchmark: the billing cycle through real Celery workers on Redis + PostgreSQL, vs. the SQL floor.

    .venv/bin/python bench/billing_cycle.py [--importers 10000] [--cads-per-month 1.4] [--workers 2]

For each size (N importers, then 2N), in a dedicated database (created, then dropped):
generate_load builds 12 months of CADs; then the cycle for the latest closed period runs through
``--workers`` Celery worker processes (the same tasks beat starts on the 25th), and ONE
hand-written SQL statement computes the same statement totals for every account (the floor).
Prints accounts, CADs, ledger rows, cycle time, floor time, their ratio, and the growth.

Environment: BENCH_PG (default postgres://postgres@127.0.0.1:5432), BENCH_DB (carm_h5_bench),
BENCH_REDIS_URL (default CARM_TEST_REDIS_URL or redis://127.0.0.1:6379/10; flushed).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
DB = os.environ.get("BENCH_DB", "carm_h5_bench")
REDIS = os.environ.get("BENCH_REDIS_URL") or os.environ.get("CARM_TEST_REDIS_URL") or "redis://127.0.0.1:6379/10"
DB_URL = f"{PG}/{DB}"
WORKER_LOG = open(os.environ.get("BENCH_WORKER_LOG", "/tmp/bench_billing_workers.log"), "a")  # noqa: SIM115

os.environ["DATABASE_URL"] = DB_URL
os.environ["CELERY_BROKER_URL"] = REDIS
os.environ.pop("CELERY_RESULT_BACKEND", None)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "carm_portal.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")


def admin_sql(sql: str) -> None:
    import psycopg2

    conn = psycopg2.connect(f"{PG}/postgres")
    conn.autocommit = True
    try:
        with conn.cursor() as cursor:
            cursor.execute(sql)
    finally:
        conn.close()


def recreate_db() -> None:
    from django.db import connections

    connections.close_all()
    admin_sql(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
    admin_sql(f'CREATE DATABASE "{DB}"')


def manage(*args: str) -> None:
    env = {**os.environ, "DATABASE_URL": DB_URL}
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL if args[0] == "migrate" else None)


def start_workers(count: int, chunk_size: int = 0) -> list[subprocess.Popen]:
    env = {**os.environ, "DATABASE_URL": DB_URL, "CELERY_BROKER_URL": REDIS, "REDIS_URL": ""}
    if chunk_size:
        env["CARM_BILLING_CHUNK_SIZE"] = str(chunk_size)
    procs = []
    for n in range(count):
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "carm_portal", "worker", "-Q", "celery", "--concurrency", "1",
             "--pool", "prefork", "-l", "warning", "-n", f"bench{n}-{os.getpid()}@localhost",
             "--without-mingle", "--without-gossip"],
            cwd=ROOT, env=env, stdout=WORKER_LOG, stderr=subprocess.STDOUT,
        ))
    from carm_portal.celery import app

    names = [f"bench{n}-{os.getpid()}@localhost" for n in range(count)]
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if len(app.control.ping(destination=names, timeout=1.0)) == count:
            return procs
    raise RuntimeError("workers did not start")


def stop_workers(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()


def counts() -> tuple[int, int, int]:
    from django.db import connection

    with connection.cursor() as c:
        c.execute("SELECT (SELECT COUNT(*) FROM accounts_programaccount), (SELECT COUNT(*) FROM declarations_cad),"
                  " (SELECT COUNT(*) FROM billing_ledgerentry)")
        return tuple(c.fetchone())


def floor_seconds(period: date) -> float:
    from django.db import connection

    from billing.cycle import FLOOR_SQL, period_dates

    d = period_dates(period)
    best = None
    for _ in range(2):  # the first run warms the cache, as the cycle's chunks would
        with connection.cursor() as c:
            t = time.monotonic()
            c.execute(FLOOR_SQL, [d.period_end, d.previous, d.period_end])
            rows = c.fetchall()
            elapsed = time.monotonic() - t
        best = elapsed if best is None else min(best, elapsed)
    assert rows
    return best


def cycle_seconds(period: date) -> tuple[float, object]:
    from billing.models import BillingRun
    from billing.tasks import run_billing_cycle

    t = time.monotonic()
    run_billing_cycle.delay(period.isoformat())
    run = None
    while time.monotonic() - t < 3600:
        run = BillingRun.objects.filter(period_end=period).order_by("-run_number").first()
        if run is not None and run.status in (BillingRun.Status.COMPLETE, BillingRun.Status.FAILED):
            break
        if run is None and time.monotonic() - t > 60:
            raise SystemExit("the cycle did not start (see the worker log)")
        time.sleep(0.01)
    return time.monotonic() - t, run


def check(period: date) -> None:
    from django.db import connection

    with connection.cursor() as c:
        c.execute("""
            SELECT COUNT(*) FROM billing_statement s
              JOIN (SELECT program_account_id, SUM(amount) AS total FROM billing_ledgerentry
                     WHERE billing_period <= %s AND kind <> 'security_deposit'
                     GROUP BY program_account_id) l
                ON l.program_account_id = s.program_account_id
             WHERE s.period_end = %s AND (s.closing_balance <> l.total OR s.opening_balance + s.charges - s.credits
                   - s.payments + s.interest + s.penalties <> s.closing_balance)""", [period, period])
        bad = c.fetchone()[0]
    if bad:
        raise SystemExit(f"{bad} statements do not match the ledger")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--importers", type=int, default=10_000)
    parser.add_argument("--cads-per-month", type=float, default=1.4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--sizes", type=int, default=2)
    parser.add_argument("--keep", action="store_true", help="Keep the last database.")
    parser.add_argument("--chunk-size", type=int, default=0, help="Accounts per chunk (default: the setting, 500).")
    parser.add_argument("--repeat", type=int, default=3, help="Cycles per size (median reported).")
    parser.add_argument("--reuse", action="store_true",
                        help="Size 1 is the data already in the database (from an earlier run with --keep).")
    args = parser.parse_args()

    import django

    django.setup()

    import redis
    from django.db import connection
    from django.utils import timezone

    from carm_portal.calendar import last_issued_period

    period = last_issued_period(timezone.localdate())
    results = []
    if not args.reuse:
        recreate_db()
    manage("migrate", "--no-input")
    print("database migrated", flush=True)
    for size in range(args.sizes):
        # Size n has args.importers × 2^n importers: each size adds importers (same CAD shape) to the
        # previous data, and the period's statements/runs are cleared, so every size closes all accounts.
        importers = args.importers * (2 ** size)
        added = importers - (args.importers * (2 ** (size - 1)) if size else 0)
        print(f"\n=== size {size + 1}: {importers:,} importers ({DB}) ===", flush=True)
        t = time.monotonic()
        if size == 0 and args.reuse:
            print("reusing the existing data", flush=True)
        else:
            manage("generate_load", "--importers", str(added), "--months", "12", "--seed", str(7 + size),
                   "--cads-per-month", str(args.cads_per_month))
        print(f"generated in {time.monotonic() - t:.0f} s", flush=True)
        with connection.cursor() as c:
            c.execute("TRUNCATE billing_statement, billing_billingrunchunk, billing_billingrun CASCADE")
            c.execute("ANALYZE")
        accounts, cads, entries = counts()
        print(f"{accounts:,} accounts, {cads:,} CADs, {entries:,} ledger rows", flush=True)
        redis.Redis.from_url(REDIS).flushdb()
        procs = start_workers(args.workers, args.chunk_size)
        print("workers up", flush=True)
        cycles, floors = [], []
        try:
            for _attempt in range(args.repeat):
                with connection.cursor() as c:
                    c.execute("TRUNCATE billing_statement, billing_billingrunchunk, billing_billingrun CASCADE")
                floors.append(floor_seconds(period))
                elapsed, run = cycle_seconds(period)
                check(period)
                cycles.append(elapsed)
                print(f"run: {run} done={run.done} failed={run.failed} chunks={run.chunks_total} in {elapsed:.2f} s;"
                      f" floor {floors[-1]:.3f} s", flush=True)
        finally:
            stop_workers(procs)
        elapsed, floor = sorted(cycles)[len(cycles) // 2], sorted(floors)[len(floors) // 2]
        results.append((importers, accounts, cads, entries, elapsed, floor, run.done))
    print(f"\nmedian of {args.repeat} cycles per size; {args.workers} worker processes; chunk size "
          f"{args.chunk_size or 'default (CARM BILLING_CHUNK_SIZE, 2500)'}")
    print("\n| size | accounts | CADs | ledger rows | statements | cycle (s) | floor (s) | cycle/floor |")
    print("|---|---|---|---|---|---|---|---|")
    for n, (_imp, accounts, cads, entries, elapsed, floor, done) in enumerate(results, start=1):
        print(f"| {n} | {accounts:,} | {cads:,} | {entries:,} | {done:,} | {elapsed:.2f} | {floor:.2f} "
              f"| {elapsed / floor:.2f}× |")
    if len(results) >= 2:
        print(f"\ngrowth size 1 → 2: cycle {results[1][4] / results[0][4]:.2f}×, floor "
              f"{results[1][5] / results[0][5]:.2f}× (data {results[1][3] / results[0][3]:.2f}× ledger rows)")
    if not args.keep:
        connection.close()
        from django.db import connections

        connections.close_all()
        admin_sql(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')


if __name__ == "__main__":
    main()
