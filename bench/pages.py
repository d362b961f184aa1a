"""Benchmark: API lists for ONE importer as the ledger grows around it (the access gate at scale).

    .venv/bin/python bench/pages.py [--sizes 1000000,7000000] [--repeat 20] [--explain]

For each size (ledger rows in all), a database of its own (a copy of a migrated template): the billing
bench's generator (``bench/billing_cycle.py``: SQL ``generate_series``, 12 months, heavy-tailed CADs
per account) makes enough importers for that many rows; then one more importer, ours, gets the same
12 months (a few hundred rows) and a BAM. As that BAM, through Django's test client (middleware, the
gate, serializers), each list is asked ``--repeat`` times after a warm-up: ledger entries, offsetting
debts and credits, statements, CADs. Prints milliseconds min / median / p95 / max and the query count
per request, and the ratio of each list's p95 at the largest size to the smallest: the gate hands the
planner a literal id list, so a user's list should not grow with other tenants' rows.

Environment: BENCH_PG, BENCH_DB (default carm_bench_pages).
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("BENCH_DB", "carm_bench_pages")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import billing_cycle as data  # noqa: E402 - bench/ is the script's own folder; sets the database env

URLS = {
    "ledger entries": "/api/v1/ledger-entries/",
    "offset debts": "/api/v1/offsets/debts/",
    "offset credits": "/api/v1/offsets/credits/",
    "statements": "/api/v1/statements/",
    "CADs": "/api/v1/cads/",
}
ROWS_PER_ACCOUNT = 300  # ~25 rows a month for 12 months, from the generator's shape


def our_importer(period):
    """One more importer with 12 months of rows (the same SQL generator) and its BAM; returns the BAM."""
    from django.db import connection
    from django.utils import timezone

    from accounts.models import Membership, ProgramAccount, User
    from accounts.roles import Role

    with connection.cursor() as c:
        c.execute("SELECT COALESCE(MAX(id), 0) FROM accounts_programaccount")
        before = c.fetchone()[0]
    data.generate(1, 12, 25.0, period, seed=0.11)
    account = ProgramAccount.objects.filter(pk__gt=before).select_related("business").get()
    bam = User.objects.create_user(email="bench-pages@carm-portal.local", password=None)
    Membership.objects.create(user=bam, business=account.business, role=Role.BAM, status=Membership.Status.ACTIVE,
                              decided_at=timezone.now())
    return bam


def measure(client, url: str, repeat: int) -> tuple[list[float], int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(url)  # warm-up
    times = []
    for _ in range(repeat):
        with CaptureQueriesContext(connection) as queries:
            t = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - t) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    return times, len(queries)


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000000,7000000", help="Ledger rows in all, comma-separated.")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE the ledger list's SQL.")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from carm_portal import calendar

    settings.ALLOWED_HOSTS = ["*"]
    period = calendar.last_issued_period(timezone.localdate())
    data.migrate_template()
    results = {}
    for size in sizes:
        data.fresh_database()
        data.generate(max(1, size // ROWS_PER_ACCOUNT), 12, 25.0, period)
        bam = our_importer(period)
        with connection.cursor() as c:
            c.execute("ANALYZE")
            c.execute("SELECT COUNT(*) FROM billing_ledgerentry")
            total = c.fetchone()[0]
        client = Client()
        client.force_login(bam)
        ours = client.get("/api/v1/ledger-entries/").json()["count"]
        print(f"\n=== {total:,} ledger rows in all; our importer's: {ours:,}", flush=True)
        for name, url in URLS.items():
            times, queries = measure(client, url, args.repeat)
            results[(size, name)] = (total, times, queries)
            print(f"{name:15} {min(times):7.1f} / {statistics.median(times):7.1f} / {p95(times):7.1f} / "
                  f"{max(times):7.1f} ms (min / median / p95 / max), {queries} queries", flush=True)
        if args.explain:
            from accounts.access import Scope, program_accounts_for
            from billing.api import LedgerEntryViewSet  # noqa: F401 - the view the plan is for
            from billing.ledger.models import LedgerEntry

            qs = LedgerEntry.objects.filter(program_account__in=program_accounts_for(bam, Scope.BILLING))
            sql, params = qs.order_by("-effective_date", "-id")[:50].query.sql_with_params()
            with connection.cursor() as c:
                c.execute("EXPLAIN ANALYZE " + sql, params)
                print("\n".join(r[0] for r in c.fetchall()))
    print(f"\n{args.repeat} requests each after a warm-up, as one importer's BAM (Django test client, PostgreSQL)")
    print("\n| ledger rows | list | min | median | p95 | max | queries |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    for (_size, name), (total, times, queries) in results.items():
        print(f"| {total:,} | {name} | {min(times):.1f} | {statistics.median(times):.1f} | {p95(times):.1f} | "
              f"{max(times):.1f} | {queries} |")
    if len(sizes) >= 2:
        for name in URLS:
            small, large = results[(sizes[0], name)], results[(sizes[-1], name)]
            print(f"{name}: p95 {p95(large[1]) / p95(small[1]):.2f}x from {small[0]:,} to {large[0]:,} rows; "
                  f"queries {small[2]} -> {large[2]}")
    connection.close()
    data.admin_sql(f'DROP DATABASE IF EXISTS "{data.DB}" WITH (FORCE)')


if __name__ == "__main__":
    main()
