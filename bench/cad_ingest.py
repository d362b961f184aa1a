"""Benchmark: CADs per second through the API, beside a trivial authenticated endpoint.

    .venv/bin/python bench/cad_ingest.py [--clients 8] [--duration 30] [--workers 2] [--threads 4]
                                         [--preload-importers 20] [--preload-months 3]

In a dedicated PostgreSQL database (created, then dropped): migrate, seed the tariff tables,
optionally preload CAD history with ``generate_load`` (so the tables are not empty), create a
broker firm with an API token and a delegation from an importer. Then gunicorn serves the app
on 127.0.0.1 and, in the same run, ``--clients`` threads each loop for ``--duration`` seconds:
first on ``GET /api/v1/me/`` (the trivial authenticated endpoint), then on
``POST /api/v1/cads/file/`` with a valid 3-line CAD (a fresh Idempotency-Key each). Prints the
data size, requests per second, p50/p95 latency of each, and the ratio.

Loopback only; every loop is bounded by time and by ``--max-requests``.

Environment: BENCH_PG (default postgres://postgres@127.0.0.1:5432), BENCH_DB (carm_bench_ingest).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _pg import PG, admin_sql  # noqa: E402 - bench/ is the script's own folder

DB = os.environ.get("BENCH_DB", "carm_bench_ingest")
DB_URL = f"{PG}/{DB}"

os.environ["DATABASE_URL"] = DB_URL
os.environ["DEBUG"] = "false"
os.environ.pop("CELERY_BROKER_URL", None)
os.environ.pop("REDIS_URL", None)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "carm_portal.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-not-for-production-use-0123456789")



def manage(*args: str) -> None:
    subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], check=True, cwd=ROOT,
                   stdout=subprocess.DEVNULL)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- Setup ---------------------------------------------------------------------------------------------

def setup(preload_importers: int, preload_months: int) -> dict:
    """Tables, history, a broker with a token and a delegation. Returns what the clients need."""
    manage("migrate", "--no-input", "-v", "0")
    manage("seed_tariffs", "--days", str(max(60, preload_months * 31 + 40)))
    if preload_importers:
        manage("generate_load", "--importers", str(preload_importers), "--months", str(preload_months))

    import django

    django.setup()
    from django.utils import timezone
    from rest_framework.authtoken.models import Token

    from accounts.models import Business, Delegation, Membership, ProgramAccount, User
    from accounts.roles import Role
    from carm_portal import calendar
    from declarations.models import TariffItem

    importer = Business.objects.create(kind=Business.Kind.IMPORTER, legal_name="Bench Importer Inc.",
                                       bn9="123456782")
    account = ProgramAccount.objects.create(business=importer, number="123456782RM0001", name="Imports")
    broker = Business.objects.create(kind=Business.Kind.BROKER, legal_name="Bench Brokers Ltd.", bn9="871234563",
                                     broker_licence_number="CB-1")
    user = User.objects.create_user(email="bench-broker@example.com", password=None)
    Membership.objects.create(user=user, business=broker, role=Role.BAM, status=Membership.Status.ACTIVE,
                              decided_at=timezone.now())
    Delegation.objects.create(importer=importer, broker=broker, coverage=Delegation.Coverage.BUSINESS,
                              status=Delegation.Status.ACTIVE, valid_from=timezone.localdate())
    token = Token.objects.create(user=user).key
    items = list(TariffItem.objects.filter(is_active=True, rates__treatment_id="MFN", excise_duty_per_unit=None,
                                           excise_tax_per_unit=None).values_list("classification", flat=True)[:12])
    release = timezone.localdate() - timedelta(days=1)
    while not calendar.is_business_day(release):
        release -= timedelta(days=1)
    from django.db import connections

    connections.close_all()
    return {"token": token, "account": account.pk, "items": items, "release": release.isoformat(),
            "shipped": (release - timedelta(days=2)).isoformat()}


def data_size() -> dict:
    from django.db import connection

    with connection.cursor() as cursor:
        out = {}
        for table, label in (("declarations_cad", "cads"), ("declarations_cadline", "lines"),
                             ("billing_ledgerentry", "ledger_entries")):
            cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608 - fixed table names
            out[label] = cursor.fetchone()[0]
    return out


# --- Load ----------------------------------------------------------------------------------------------

def cad_body(ctx: dict, n: int) -> bytes:
    items = ctx["items"]
    lines = [{"description": f"Bench item {n}-{i}", "classification": items[(n + i) % len(items)], "treatment": "MFN",
              "origin_country": "CN", "quantity": str(1 + (n + i) % 50), "value_foreign": f"{100 + (n * 7 + i) % 9000}.00"}
             for i in range(3)]
    return json.dumps({
        "program_account": ctx["account"], "release_date": ctx["release"], "direct_shipment_date": ctx["shipped"],
        "office_code": "0497", "transport_mode": "highway", "invoice_currency": "USD", "vendor_name": "Bench Vendor",
        "invoice_number": f"B-{n}", "lines": lines,
    }).encode()


def drive(base: str, ctx: dict, *, kind: str, clients: int, duration: float, max_requests: int) -> dict:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    counter = iter(range(10**9))
    deadline = time.perf_counter() + duration
    headers = {"Authorization": f"Token {ctx['token']}", "Content-Type": "application/json"}

    def client() -> None:
        mine: list[float] = []
        codes: dict[int, int] = {}
        while time.perf_counter() < deadline and len(mine) < max_requests:
            with lock:
                n = next(counter)
            if kind == "me":
                request = urllib.request.Request(f"{base}/api/v1/me/", headers=headers)
            else:
                request = urllib.request.Request(f"{base}/api/v1/cads/file/", data=cad_body(ctx, n), method="POST",
                                                 headers={**headers, "Idempotency-Key": uuid.uuid4().hex})
            start = time.perf_counter()
            try:
                with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback only
                    response.read()
                    code = response.status
            except urllib.error.HTTPError as exc:
                code = exc.code
                if codes.get(code, 0) < 1:
                    print(f"  {kind}: HTTP {code}: {exc.read()[:300]!r}")
            mine.append(time.perf_counter() - start)
            codes[code] = codes.get(code, 0) + 1
        with lock:
            latencies.extend(mine)
            for code, count in codes.items():
                statuses[code] = statuses.get(code, 0) + count

    started = time.perf_counter()
    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(duration + 60)
    elapsed = time.perf_counter() - started
    ok = sum(count for code, count in statuses.items() if 200 <= code < 300)
    ordered = sorted(latencies)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000 if ordered else float("nan")

    return {"requests": len(latencies), "ok": ok, "statuses": statuses, "seconds": elapsed, "rate": ok / elapsed,
            "p50": pct(0.50), "p95": pct(0.95), "mean": statistics.fmean(ordered) * 1000 if ordered else 0}


def wait_until_up(base: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:  # noqa: S310 - loopback only
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, OSError):
            time.sleep(0.3)
    raise RuntimeError("gunicorn did not come up")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=8, help="Concurrent client threads.")
    parser.add_argument("--duration", type=float, default=30.0, help="Seconds per endpoint.")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes.")
    parser.add_argument("--threads", type=int, default=4, help="Threads per gunicorn worker.")
    parser.add_argument("--max-requests", type=int, default=20000, help="Per client, per endpoint.")
    parser.add_argument("--preload-importers", type=int, default=20)
    parser.add_argument("--preload-months", type=int, default=3)
    parser.add_argument("--keep-db", action="store_true", help="Do not drop the database at the end.")
    args = parser.parse_args()

    admin_sql(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
    admin_sql(f'CREATE DATABASE "{DB}"')
    server = None
    try:
        t0 = time.perf_counter()
        ctx = setup(args.preload_importers, args.preload_months)
        before = data_size()
        print(f"Setup {time.perf_counter() - t0:.1f}s. Data before: {before['cads']} CADs, {before['lines']} lines, "
              f"{before['ledger_entries']} ledger entries (database {DB}).")
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(  # noqa: S603 - our own gunicorn, fixed arguments
            [str(Path(sys.executable).with_name("gunicorn")), "carm_portal.wsgi", "-b", f"127.0.0.1:{port}",
             "-w", str(args.workers), "--threads", str(args.threads), "--log-level", "warning",
             "--timeout", "60"],
            cwd=ROOT, env={**os.environ, "CONN_MAX_AGE": "60"},
        )
        wait_until_up(base)
        print(f"gunicorn on {base}: {args.workers} workers × {args.threads} threads; {args.clients} clients, "
              f"{args.duration:.0f}s per endpoint; {os.cpu_count()} CPUs (shared).")
        drive(base, ctx, kind="me", clients=2, duration=2, max_requests=50)  # warm up both paths
        drive(base, ctx, kind="cad", clients=2, duration=2, max_requests=10)
        me = drive(base, ctx, kind="me", clients=args.clients, duration=args.duration,
                   max_requests=args.max_requests)
        cads = drive(base, ctx, kind="cad", clients=args.clients, duration=args.duration,
                     max_requests=args.max_requests)
        after = data_size()
        print()
        print(f"{'endpoint':<26}{'ok':>8}{'req/s':>10}{'p50 ms':>10}{'p95 ms':>10}  statuses")
        for label, r in (("GET me/ (trivial)", me), ("POST cads/file/ (3 lines)", cads)):
            print(f"{label:<26}{r['ok']:>8}{r['rate']:>10.1f}{r['p50']:>10.1f}{r['p95']:>10.1f}  {r['statuses']}")
        print()
        print(f"CADs/s: {cads['rate']:.1f} ({cads['rate'] * 3:.1f} lines/s); trivial endpoint: {me['rate']:.1f} req/s; "
              f"ratio CAD/trivial: {cads['rate'] / me['rate']:.3f}" if me["rate"] else "no trivial requests succeeded")
        print(f"Data after: {after['cads']} CADs, {after['lines']} lines, {after['ledger_entries']} ledger entries.")
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(15)
            except subprocess.TimeoutExpired:
                server.kill()
        from django.db import connections

        connections.close_all()
        if not args.keep_db:
            admin_sql(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')


if __name__ == "__main__":
    main()
