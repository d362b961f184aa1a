"""Benchmark: the broker board page, its CSV and its API at 100, 1,000 and 5,000 clients, in one run.

    /work/main/.venv/bin/python bench/broker_board.py [--sizes 100,1000,5000] [--repeat 5]

In a dedicated PostgreSQL database (created, migrated, dropped at the end), ``generate_load --broker``
grows ONE broker firm to each size in turn (one RM account and 1 month of CADs per client); then, as
the firm's BAM through Django's test client (the whole request: middleware, gate, template), each
request is timed ``--repeat`` times: the page sorted by client (default), the page sorted by amount due
(every row computed), the page filtered to late CADs, the CSV of the whole board, and the API's first
page; the worklists (CADs, statements, the delegations API). Prints min / median / max milliseconds and the query count of each.

Environment: BENCH_PG (default postgres://postgres@127.0.0.1:5432), BENCH_DB (default carm_h6_bench).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
DB = os.environ.get("BENCH_DB", "carm_h6_bench")
DB_URL = f"{PG}/{DB}"
os.environ["DATABASE_URL"] = DB_URL
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "carm_portal.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")

REQUESTS = [
    ("page, sort client", "/brokers/", {}),
    ("page, sort -due", "/brokers/", {"sort": "-due"}),
    ("page, late CADs", "/brokers/", {"late": "1"}),
    ("CSV, all", "/brokers/board.csv", {}),
    ("API, first page", "/api/v1/broker-board/", {"ordering": "-overdue"}),
    ("worklist, CADs", "/brokers/worklists/", {"kind": "cads"}),
    ("worklist, statements", "/brokers/worklists/", {"kind": "statements"}),
    ("worklist API, delegations", "/api/v1/broker-worklists/delegations/", {}),
]


def admin_sql(sql: str) -> None:
    import psycopg2

    conn = psycopg2.connect(f"{PG}/postgres")
    conn.autocommit = True
    try:
        with conn.cursor() as cursor:
            cursor.execute(sql)
    finally:
        conn.close()


def manage(*args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env={**os.environ, "DATABASE_URL": DB_URL},
                   check=True, stdout=subprocess.DEVNULL)


def measure(client, path: str, params: dict, repeat: int) -> tuple[list[float], int]:
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    times, queries = [], 0
    for _run in range(repeat):
        reset_queries()
        with CaptureQueriesContext(connection) as ctx:
            started = time.perf_counter()
            response = client.get(path, params, HTTP_HOST="localhost")
            if response.streaming:
                b"".join(response.streaming_content)
            else:
                response.content  # noqa: B018
            times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (path, response.status_code)
        queries = len(ctx.captured_queries)  # the last run's (the first one also loads the session)
    return times, queries


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100,1000,5000")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="Keep the database at the end.")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    admin_sql(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
    admin_sql(f'CREATE DATABASE "{DB}"')
    try:
        manage("migrate", "--no-input")
        manage("seed_tariffs", "--days", "90")
        import django

        django.setup()
        from django.conf import settings
        from django.test import Client

        from accounts.models import User
        from declarations.management.commands.generate_load import LOAD_BROKER_EMAIL

        settings.ALLOWED_HOSTS = ["*"]
        settings.AXES_ENABLED = False
        have = 0
        print(f"{'clients':>8} {'request':<20} {'min ms':>8} {'median':>8} {'max ms':>8} {'queries':>8}")
        for size in sizes:
            if size > have:
                started = time.monotonic()
                manage("generate_load", "--importers", str(size - have), "--months", "1", "--cads-per-month", "2",
                       "--seed", str(size), "--broker")
                print(f"# grew to {size} clients in {time.monotonic() - started:.0f} s")
                have = size
            client = Client()
            client.force_login(User.objects.get(email=LOAD_BROKER_EMAIL))
            for label, path, params in REQUESTS:
                times, queries = measure(client, path, params, args.repeat)
                print(f"{size:>8} {label:<20} {min(times):>8.0f} {statistics.median(times):>8.0f} "
                      f"{max(times):>8.0f} {queries:>8}", flush=True)
    finally:
        if not args.keep:
            from django.db import connections

            connections.close_all()
            admin_sql(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')


if __name__ == "__main__":
    main()
