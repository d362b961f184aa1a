"""Benchmark: the broker board page, its CSV and its API at 100, 1,000 and 5,000 clients, in one run.

    /work/main/.venv/bin/python bench/broker_board.py [--sizes 100,1000,5000] [--repeat 5]

In a dedicated PostgreSQL database (created, migrated, dropped at the end), ``generate_load --broker``
grows ONE broker firm to each size in turn (one RM account and 1 month of CADs per client); then, as
the firm's BAM through Django's test client (the whole request: middleware, gate, template), each
request is timed ``--repeat`` times after one untimed warm-up: the page sorted by client (default), the page sorted by amount due
(every row computed), the page filtered to late CADs, the CSV of the whole board, and the API's first
page; the worklists (CADs, statements, the delegations API). Prints min / median / max milliseconds, the
p95 (nearest rank; with few runs it is the max) and the query count of each, then the 5,000-to-100 ratio of
each request's median and p95 when both sizes were measured.

Each size is ANALYZEd once generated (planner statistics). Generating 5,000 clients takes a while: ``--keep`` keeps one database per size (``<db>_<size>``, a copy
taken right after growing to it), and ``--reuse`` measures those copies again without generating.

    --engine sqlite: SQLite files ``<BENCH_SQLITE_DIR>/<db>_<size>.sqlite3`` (default /tmp) instead.

Environment: BENCH_PG (default postgres://postgres@127.0.0.1:5432), BENCH_DB (default carm_bench_board),
BENCH_SQLITE_DIR (default /tmp).
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _pg import PG, admin_sql  # noqa: E402 - bench/ is the script's own folder

DB = os.environ.get("BENCH_DB", "carm_bench_board")
SQLITE_DIR = Path(os.environ.get("BENCH_SQLITE_DIR", "/tmp"))
ENGINE = "postgresql"  # --engine


def db_url(name: str) -> str:
    return f"sqlite:///{SQLITE_DIR / (name + '.sqlite3')}" if ENGINE == "sqlite" else f"{PG}/{name}"


DB_URL = db_url(DB)
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



def drop(name: str) -> None:
    if ENGINE == "sqlite":
        (SQLITE_DIR / f"{name}.sqlite3").unlink(missing_ok=True)
    else:
        admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def create(name: str) -> None:
    drop(name)
    if ENGINE != "sqlite":
        admin_sql(f'CREATE DATABASE "{name}"')


def snapshot(name: str, copy: str) -> None:
    """A copy of database ``name`` as ``copy`` (``name`` must have no open connection)."""
    drop(copy)
    if ENGINE == "sqlite":
        shutil.copyfile(SQLITE_DIR / f"{name}.sqlite3", SQLITE_DIR / f"{copy}.sqlite3")
    else:
        admin_sql(f'CREATE DATABASE "{copy}" TEMPLATE "{name}"')


def manage(*args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env={**os.environ, "DATABASE_URL": DB_URL},
                   check=True, stdout=subprocess.DEVNULL)


def p95(times: list[float]) -> float:
    ordered = sorted(times)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def use_database(name: str) -> None:
    """Point Django's default connection at database ``name`` (the per-size copies)."""
    from django.db import connections

    connections.close_all()
    settings = connections["default"].settings_dict
    settings["NAME"] = str(SQLITE_DIR / f"{name}.sqlite3") if ENGINE == "sqlite" else name


def measure(client, path: str, params: dict, repeat: int) -> tuple[list[float], int]:
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    times, queries = [], 0
    warm = client.get(path, params, HTTP_HOST="localhost")  # untimed: first-request costs, caches
    if warm.streaming:
        b"".join(warm.streaming_content)
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
        queries = len(ctx.captured_queries)  # the last run's
    return times, queries


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100,1000,5000")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="Keep a copy of the database at each size.")
    parser.add_argument("--reuse", action="store_true", help="Measure the copies --keep left, generate nothing.")
    parser.add_argument("--engine", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--only", default="", help="Request labels to time, separated by semicolons (default: all).")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    requests = [r for r in REQUESTS if not args.only or r[0] in args.only.split(";")]
    global ENGINE, DB_URL
    ENGINE = args.engine
    DB_URL = db_url(DB)
    os.environ["DATABASE_URL"] = DB_URL

    if not args.reuse:
        create(DB)
    try:
        if not args.reuse:
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
        from django.db import connections

        have = 0
        results: dict[tuple[int, str], list[float]] = {}
        print(f"# {ENGINE}")
        print(f"{'clients':>8} {'request':<26} {'min ms':>8} {'median':>8} {'max ms':>8} {'p95':>8} {'queries':>8}")
        for size in sizes:
            if args.reuse:
                use_database(f"{DB}_{size}")
            elif size > have:
                use_database(DB)
                connections.close_all()
                started = time.monotonic()
                manage("generate_load", "--importers", str(size - have), "--months", "1", "--cads-per-month", "2",
                       "--seed", str(size), "--broker")
                print(f"# grew to {size} clients in {time.monotonic() - started:.0f} s", flush=True)
                have = size
                # Planner statistics, as autovacuum keeps them on a live database (without them
                # PostgreSQL misjudges the ledger's indexes on a freshly loaded one).
                with connections["default"].cursor() as cursor:
                    cursor.execute("ANALYZE")
                connections.close_all()
                if args.keep:
                    snapshot(DB, f"{DB}_{size}")
            client = Client()
            client.force_login(User.objects.get(email=LOAD_BROKER_EMAIL))
            for label, path, params in requests:
                times, queries = measure(client, path, params, args.repeat)
                results[size, label] = times
                print(f"{size:>8} {label:<26} {min(times):>8.0f} {statistics.median(times):>8.0f} "
                      f"{max(times):>8.0f} {p95(times):>8.0f} {queries:>8}", flush=True)
        low, high = min(sizes), max(sizes)
        if low != high:
            print(f"# ratios {high} / {low} clients: median, p95")
            for label, _path, _params in requests:
                a, z = results[low, label], results[high, label]
                print(f"{label:<26} {statistics.median(z) / statistics.median(a):>6.2f} {p95(z) / p95(a):>6.2f}")
    finally:
        from django.db import connections

        connections.close_all()
        if not args.reuse:
            drop(DB)


if __name__ == "__main__":
    main()
