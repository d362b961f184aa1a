"""Benchmark: the billing cycle through real Celery workers (Redis + PostgreSQL) against SQL floors.

    .venv/bin/python bench/billing_cycle.py [--sizes 10000,20000,40000] [--months 12]
        [--cads-per-month 25] [--repeat 3] [--workers 2] [--chunk-sizes 0] [--explain]

For each size N (accounts), in a database of its own (copied from a migrated template):
- data: N importers (the ORM's bulk load, ``declarations.load``), then ledger rows written straight
  with SQL (``generate_series``; the ORM is far too slow at national size): per account a heavy-tailed
  monthly CAD count (log-normal, sigma 0.8, and 1 account in 1,000 150 times bigger: mean ≈
  ``--cads-per-month``, median ≈ 0.63 × it, the largest accounts thousands a month), ~3% of CADs
  corrected in the importer's favour, and one payment a month covering the month before (90% of it for
  every 10th account, so interest and penalties are due);
- **go-live month**: only the period being closed has rows, no statement exists (the first cycle of
  a portal that starts empty, or of a new account);
- then ``--months`` − 1 earlier months and their payments are added, and
- **catch-up month**: still no statement exists, so the cycle for the latest period sums every
  account's 12-month history for the opening balance (a first cycle over migrated, never-billed history);
- **steady month**: the previous period's statements exist (written by one cycle, not timed); the cycle
  reads only the period's rows and the previous closings. It should cost what the go-live month does:
  a cycle must not grow with the history behind it.
Each is run ``--repeat`` times (the period's statements and runs removed in between) and compared with:
- the **write floor**: ONE ``INSERT … SELECT`` writing the same statement columns into a table shaped
  like ``billing_statement`` (same unique index), the least any cycle writing statements can do;
- the **select floor**: the same SELECT without writing.
After every cycle the run must be COMPLETE with no failed account, and every statement column must equal
the floor's (the content hash is checked against ``billing.cycle.statement_hash``); else the bench stops.
Prints min / median / max seconds, cycle ÷ write floor (medians), growth per doubling, and with
``--explain`` the plan of one chunk's statement INSERT at the largest size. ``--chunk-sizes
1000,2500,5000`` runs every month with each chunk size on the same data (the workers restarted with
it): how the setting ``BILLING_CHUNK_SIZE`` is chosen.

Environment: BENCH_PG (default postgres://postgres@127.0.0.1:5432), BENCH_DB (carm_bench),
BENCH_REDIS_URL (default CARM_TEST_REDIS_URL or redis://127.0.0.1:6379/10; flushed).
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _pg import PG, admin_sql  # noqa: E402 - bench/ is the script's own folder

DB = os.environ.get("BENCH_DB", "carm_bench")
TEMPLATE = f"{DB}_template"
REDIS = os.environ.get("BENCH_REDIS_URL") or os.environ.get("CARM_TEST_REDIS_URL") or "redis://127.0.0.1:6379/10"
WORKER_LOG = open(os.environ.get("BENCH_WORKER_LOG", "/tmp/bench_billing_workers.log"), "a")  # noqa: SIM115

os.environ["DATABASE_URL"] = f"{PG}/{DB}"
os.environ["CELERY_BROKER_URL"] = REDIS
os.environ.pop("CELERY_RESULT_BACKEND", None)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "carm_portal.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")

STATEMENT_COLUMNS = ("opening_balance", "charges", "credits", "payments", "interest", "penalties",
                     "closing_balance", "duties_and_taxes", "lines_count")



def fresh_database() -> None:
    """The bench database as a copy of the migrated template (migrating once per run, not per size)."""
    from django.db import connections

    connections.close_all()
    admin_sql(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
    admin_sql(f'CREATE DATABASE "{DB}" TEMPLATE "{TEMPLATE}"')


def migrate_template() -> None:
    admin_sql(f'DROP DATABASE IF EXISTS "{TEMPLATE}" WITH (FORCE)')
    admin_sql(f'CREATE DATABASE "{TEMPLATE}"')
    env = {**os.environ, "DATABASE_URL": f"{PG}/{TEMPLATE}"}
    subprocess.run([sys.executable, "manage.py", "migrate", "--no-input"], cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL)


def create_importers(accounts: int, cads_per_month: float, seed: float = 0.42) -> None:
    """N importers (ORM bulk) and each one's monthly CAD weight (table ``bench_weight``)."""
    from django.db import connection, transaction

    from declarations.load import CadHistoryGenerator

    with connection.cursor() as c:
        c.execute("SELECT COALESCE(MAX(id), 0) FROM accounts_programaccount")
        existing = c.fetchone()[0]  # rows only for the importers made now
    CadHistoryGenerator(seed=7).create_importers(accounts)
    # Log-normal monthly counts (median m, sigma 0.8: mean m·e^0.32), 1 account in 1,000 150× bigger
    # (mean × 1.149); m chosen so the mean is the target.
    median = cads_per_month / (1.377 * 1.149)
    with transaction.atomic(), connection.cursor() as c:
        c.execute("SELECT setseed(%s)", [seed])
        c.execute("DROP TABLE IF EXISTS bench_weight")
        c.execute("CREATE TABLE bench_weight AS SELECT id, LEAST(10000, GREATEST(1, "
                  "%s * exp(0.8 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()))"
                  " * CASE WHEN random() < 0.001 THEN 150 ELSE 1 END)) AS w "
                  "FROM accounts_programaccount WHERE id > %s", [median, existing])


def generate_ledger(charge_periods: list[date], payment_periods: list[date], seed: float = 0.43) -> None:
    """The ledger rows of ``charge_periods`` with SQL (see the module docstring), and the payment of
    each of ``payment_periods`` (it pays the period before, so it needs that period's rows)."""
    from django.db import connection, transaction

    from carm_portal import calendar

    def period_table(name: str, periods: list[date]) -> None:
        rows = [(p, calendar.period_start(p), calendar.previous_period(p),
                 calendar.payment_due_date(calendar.previous_period(p))) for p in periods]
        values = ", ".join(["(CAST(%s AS DATE), CAST(%s AS DATE), CAST(%s AS DATE), CAST(%s AS DATE))"] * len(rows))
        c.execute(f"DROP TABLE IF EXISTS {name}")
        c.execute(f"CREATE TEMP TABLE {name} (period_end DATE, period_start DATE, previous DATE, previous_due DATE)")
        if rows:
            c.execute(f"INSERT INTO {name} VALUES {values}", [v for r in rows for v in r])

    with transaction.atomic(), connection.cursor() as c:
        c.execute("SELECT setseed(%s)", [seed])
        period_table("bench_period", charge_periods)
        c.execute("""
            INSERT INTO billing_ledgerentry
                (program_account_id, kind, amount, duty, sima, excise_duty, excise_tax, gst, other,
                 effective_date, billing_period, reference, description, idempotency_key, created_at)
            SELECT a.id, x.kind, x.duty + x.gst, x.duty, 0, 0, 0, x.gst, 0,
                   x.day, p.period_end, 'BENCH' || g, '', 'bench:' || a.id || ':' || p.period_end || ':' || g, now()
              FROM bench_weight a
             CROSS JOIN bench_period p
             CROSS JOIN LATERAL generate_series(1, GREATEST(1, round(a.w * (0.8 + 0.4 * random()))::int)) g
             CROSS JOIN LATERAL (
                   SELECT CASE WHEN g % 33 = 0 THEN 'cad_correction' ELSE 'cad_charge' END AS kind,
                          CASE WHEN g % 33 = 0 THEN -1 ELSE 1 END * round(CAST(random() * 400 AS NUMERIC), 2) AS duty,
                          CASE WHEN g % 33 = 0 THEN -1 ELSE 1 END * round(CAST(random() * 1200 AS NUMERIC), 2) AS gst,
                          p.period_start + (g % 28) AS day
             ) x
        """)
        # One payment a month, on the previous statement's due date: in full for 9 accounts in 10,
        # 90% of that period's charges for every 10th (so interest and penalties are due there).
        period_table("bench_pay_period", payment_periods)
        c.execute("""
            INSERT INTO billing_ledgerentry
                (program_account_id, kind, amount, duty, sima, excise_duty, excise_tax, gst, other,
                 effective_date, billing_period, reference, description, idempotency_key, created_at)
            SELECT l.program_account_id, 'payment', -round(x.share * SUM(l.amount), 2), 0, 0, 0, 0, 0,
                   -round(x.share * SUM(l.amount), 2), p.previous_due, p.period_end, 'PAY', '',
                   'bench-pay:' || l.program_account_id || ':' || p.period_end, now()
              FROM bench_pay_period p
              JOIN billing_ledgerentry l ON l.billing_period = p.previous AND l.kind <> 'payment'
                   AND l.program_account_id IN (SELECT id FROM bench_weight)
             CROSS JOIN LATERAL (SELECT CASE WHEN l.program_account_id % 10 = 0 THEN 0.90 ELSE 1 END AS share) x
             GROUP BY l.program_account_id, p.period_end, p.previous_due, x.share
            HAVING SUM(l.amount) > 0
        """)
    with connection.cursor() as c:
        c.execute("ANALYZE")


def counts(period: date) -> tuple[int, int, int, str]:
    """Accounts, the period's ledger rows, all ledger rows, and the period's rows per account."""
    from django.db import connection

    with connection.cursor() as c:
        c.execute("SELECT (SELECT COUNT(*) FROM accounts_programaccount), COUNT(*) FILTER (WHERE billing_period = %s),"
                  " COUNT(*) FROM billing_ledgerentry", [period])
        accounts, month_rows, ledger_rows = c.fetchone()
        c.execute("SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY n), MAX(n) FROM (SELECT COUNT(*) AS n "
                  "FROM billing_ledgerentry WHERE billing_period = %s GROUP BY program_account_id) x", [period])
        median, largest = c.fetchone()
    return accounts, month_rows, ledger_rows, f"rows per account in the period: median {median}, max {largest:,}"


def floor_select_sql() -> str:
    """The statements' columns for every account in one SELECT: the period's ledger rows summed, the
    opening balance from the previous statement or, for an account without one, its whole history."""
    from billing.cycle import totals_subquery
    from billing.ledger.models import OWING_SQL

    return f"""
        SELECT pa.id AS program_account_id,
               COALESCE(prev.closing_balance, hist.total, 0) AS opening_balance,
               COALESCE(t.charges, 0) AS charges, COALESCE(t.credits, 0) AS credits,
               COALESCE(t.payments, 0) AS payments, COALESCE(t.interest, 0) AS interest,
               COALESCE(t.penalties, 0) AS penalties,
               COALESCE(prev.closing_balance, hist.total, 0) + COALESCE(t.total, 0) AS closing_balance,
               COALESCE(t.duties_and_taxes, 0) AS duties_and_taxes, COALESCE(t.lines_count, 0) AS lines_count
          FROM accounts_programaccount pa
          LEFT JOIN ({totals_subquery("")}) t ON t.program_account_id = pa.id
          LEFT JOIN billing_statement prev ON prev.program_account_id = pa.id AND prev.period_end = %s
          LEFT JOIN (SELECT l.program_account_id, SUM(l.amount) AS total FROM billing_ledgerentry l
                      WHERE l.billing_period < %s AND {OWING_SQL}
                        AND NOT EXISTS (SELECT 1 FROM billing_statement s
                                         WHERE s.program_account_id = l.program_account_id AND s.period_end = %s)
                      GROUP BY l.program_account_id) hist
            ON hist.program_account_id = pa.id
    """  # noqa: S608 - constants only


def floors(period: date) -> tuple[float, float]:
    """(write floor, select floor) in seconds, one run each (into ``bench_floor``, recreated)."""
    from django.db import connection, transaction

    from billing.cycle import period_dates

    d = period_dates(period)
    params = [d.period_end, d.previous, d.period_end, d.previous]
    cols = ", ".join(STATEMENT_COLUMNS)
    with connection.cursor() as c:
        c.execute("DROP TABLE IF EXISTS bench_floor")
        c.execute("CREATE TABLE bench_floor (program_account_id BIGINT PRIMARY KEY, period_end DATE, "
                  + ", ".join(f"{col} NUMERIC(14, 2)" for col in STATEMENT_COLUMNS) + ")")
        t = time.monotonic()
        with transaction.atomic():
            c.execute(f"INSERT INTO bench_floor (program_account_id, period_end, {cols}) "  # noqa: S608
                      f"SELECT program_account_id, CAST(%s AS DATE), {cols} FROM ({floor_select_sql()}) f",
                      [d.period_end, *params])
        write = time.monotonic() - t
        t = time.monotonic()
        c.execute(floor_select_sql(), params)
        c.fetchall()
        select = time.monotonic() - t
    return write, select


def start_workers(count: int, chunk_size: int) -> list[subprocess.Popen]:
    env = {**os.environ, "CELERY_BROKER_URL": REDIS, "REDIS_URL": ""}
    if chunk_size:
        env["CARM_BILLING_CHUNK_SIZE"] = str(chunk_size)
    names = [f"bench{n}-{os.getpid()}@localhost" for n in range(count)]
    procs = [subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "carm_portal", "worker", "-Q", "celery", "--concurrency", "1",
         "--pool", "prefork", "-l", "warning", "-n", name, "--without-mingle", "--without-gossip"],
        cwd=ROOT, env=env, stdout=WORKER_LOG, stderr=subprocess.STDOUT) for name in names]
    from carm_portal.celery import app

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


def clear_period(period: date) -> None:
    """Remove the period's statements and runs (the bench only: statements are append-only, so their
    trigger is switched off for this transaction)."""
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as c:
        c.execute("SET LOCAL session_replication_role = replica")
        c.execute("DELETE FROM billing_billingrunchunk WHERE run_id IN "
                  "(SELECT id FROM billing_billingrun WHERE period_end = %s)", [period])
        c.execute("DELETE FROM billing_statement WHERE period_end = %s", [period])
        c.execute("DELETE FROM billing_billingrun WHERE period_end = %s", [period])


def run_cycle(period: date, accounts: int) -> float:
    """One cycle through the workers; stops the bench unless it completed for every account."""
    from billing.models import BillingRun
    from billing.tasks import run_billing_cycle

    t = time.monotonic()
    run_billing_cycle.delay(period.isoformat())
    run = None
    while time.monotonic() - t < 3600:
        run = BillingRun.objects.filter(period_end=period).order_by("-run_number").first()
        if run is not None and run.status in (BillingRun.Status.COMPLETE, BillingRun.Status.FAILED):
            break
        time.sleep(0.01)
    elapsed = time.monotonic() - t
    if run is None or run.status != BillingRun.Status.COMPLETE or run.failed or run.done != accounts:
        raise SystemExit(f"the cycle did not complete: {run} done={getattr(run, 'done', 0)} of {accounts}")
    return elapsed


def check_against_floor(period: date) -> None:
    """Every statement column equals the floor's, and every content hash is the Python one."""
    from django.db import connection

    from billing.cycle import HASHED_FIELDS, statement_hash
    from billing.models import Statement

    differ = " OR ".join(f"s.{c} <> f.{c}" for c in STATEMENT_COLUMNS)
    with connection.cursor() as c:
        c.execute(f"SELECT COUNT(*), COUNT(*) FILTER (WHERE f.program_account_id IS NULL OR {differ}) "  # noqa: S608
                  "FROM billing_statement s LEFT JOIN bench_floor f ON f.program_account_id = s.program_account_id "
                  "WHERE s.period_end = %s", [period])
        total, bad = c.fetchone()
        c.execute("SELECT COUNT(*) FROM bench_floor")
        expected = c.fetchone()[0]
    if bad or total != expected:
        raise SystemExit(f"{bad} of {total} statements differ from the floor ({expected} expected)")
    wrong = sum(1 for row in Statement.objects.filter(period_end=period).values("content_hash", *HASHED_FIELDS)
                .iterator(chunk_size=5000) if row.pop("content_hash") != statement_hash(row))
    if wrong:
        raise SystemExit(f"{wrong} statements have a wrong content hash")


def explain_chunk(period: date, chunk_size: int) -> str:
    from django.db import connection

    from billing.cycle import statements_sql

    with connection.cursor() as c:
        c.execute("SELECT id FROM accounts_programaccount ORDER BY id LIMIT %s", [chunk_size])
        ids = [r[0] for r in c.fetchall()]
        sql, params = statements_sql(ids, period, None)
        c.execute("EXPLAIN " + sql, params)
        return "\n".join(r[0] for r in c.fetchall())


def spread(values: list[float]) -> str:
    return f"{min(values):.2f} / {statistics.median(values):.2f} / {max(values):.2f}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000,20000", help="Accounts per size, comma-separated.")
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--cads-per-month", type=float, default=25.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--chunk-sizes", default="0",
                        help="Accounts per chunk, comma-separated (0: the setting); each runs on the same data.")
    parser.add_argument("--explain", action="store_true")
    parser.add_argument("--keep", action="store_true", help="Keep the last size's database.")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    import django

    django.setup()
    import redis
    from django.db import connection
    from django.utils import timezone

    from billing.services import chunk_size
    from carm_portal import calendar

    period = calendar.last_issued_period(timezone.localdate())
    previous = calendar.previous_period(period)
    migrate_template()
    results = []
    chunks = [int(n) or chunk_size() for n in args.chunk_sizes.split(",")]

    def measure(size: int, month: str, chunk: int) -> None:
        accounts, month_rows, ledger_rows, shape = counts(period)
        redis.Redis.from_url(REDIS).flushdb()
        procs = start_workers(args.workers, chunk)
        try:
            clear_period(period)
            clear_period(previous)
            if month == "steady":  # the previous period closed once (set-up, not timed)
                run_cycle(previous, accounts)
            cycles, writes, selects = [], [], []
            for _ in range(args.repeat):
                clear_period(period)
                cycles.append(run_cycle(period, accounts))
                # The floors read the ledger (with the interest the cycle posted) and the previous
                # statements only, so the period's statements can stay for the check.
                write, select = floors(period)
                writes.append(write)
                selects.append(select)
                check_against_floor(period)
        finally:
            stop_workers(procs)
        ratio = statistics.median(cycles) / statistics.median(writes)
        print(f"{month}, chunks of {chunk:,} ({month_rows:,} rows in the period, {ledger_rows:,} in all; {shape}): "
              f"cycle {spread(cycles)} s; write floor {spread(writes)} s; select floor {spread(selects)} s; "
              f"cycle/write floor {ratio:.2f}x (all columns and hashes equal)", flush=True)
        results.append((size, month, accounts, month_rows, ledger_rows, cycles, writes, selects, chunk))

    earlier = [previous]
    while len(earlier) < args.months - 1:
        earlier.append(calendar.previous_period(earlier[-1]))
    earlier.reverse()
    for size in sizes:
        fresh_database()
        t = time.monotonic()
        create_importers(size, args.cads_per_month)
        generate_ledger([period], [])
        print(f"\n=== {size:,} accounts: the go-live month generated in {time.monotonic() - t:.0f} s", flush=True)
        for chunk in chunks:
            measure(size, "go-live", chunk)
        t = time.monotonic()
        generate_ledger(earlier, [*earlier[1:], period])
        print(f"=== the {len(earlier)} months before it and the payments generated in {time.monotonic() - t:.0f} s",
              flush=True)
        for month in ("catch-up", "steady"):
            for chunk in chunks:
                measure(size, month, chunk)
        if args.explain and size == sizes[-1]:
            print(f"\nEXPLAIN of one chunk's statement INSERT ({chunks[0]:,} accounts, steady):")
            print(explain_chunk(period, chunks[0]))
    print(f"\n{args.workers} worker processes, {args.repeat} runs each "
          f"(min / median / max seconds); CADs per account per month: mean ~{args.cads_per_month:g}, log-normal")
    print("\n| accounts | month | chunk | period rows | ledger rows | cycle (s) | write floor (s) | select floor (s) "
          "| cycle / write floor |")
    print("|---|---|---|---|---|---|---|---|---|")
    for _size, month, accounts, month_rows, ledger_rows, cycles, writes, selects, chunk in results:
        print(f"| {accounts:,} | {month} | {chunk:,} | {month_rows:,} | {ledger_rows:,} | {spread(cycles)} "
              f"| {spread(writes)} | {spread(selects)} | {statistics.median(cycles) / statistics.median(writes):.2f}x |")
    for chunk in sorted({r[8] for r in results}):
        for month in ("go-live", "catch-up", "steady"):
            rows = [r for r in results if r[1] == month and r[8] == chunk]
            for a, b in zip(rows, rows[1:], strict=False):
                doublings = math.log2(b[2] / a[2])
                cycle, floor = (statistics.median(b[5]) / statistics.median(a[5]),
                                statistics.median(b[6]) / statistics.median(a[6]))
                print(f"growth {month}, chunks of {chunk:,}, {a[2]:,} -> {b[2]:,} accounts: cycle {cycle:.2f}x "
                      f"({cycle ** (1 / doublings):.2f}x per doubling), write floor {floor:.2f}x "
                      f"({floor ** (1 / doublings):.2f}x per doubling)")
        by = {(r[0], r[1]): statistics.median(r[5]) for r in results if r[8] == chunk}
        for size in sizes:
            for month in ("catch-up", "steady"):
                if (size, "go-live") in by and (size, month) in by:
                    print(f"{month} / go-live at {size:,}, chunks of {chunk:,}: "
                          f"{by[(size, month)] / by[(size, 'go-live')]:.2f}")
    if not args.keep:
        connection.close()
        from django.db import connections

        connections.close_all()
        admin_sql(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')


if __name__ == "__main__":
    main()
