"""Benchmark: the admin changelists of the big tables at 1M ledger rows and 300k CADs, before and after.

    /work/main/.venv/bin/python bench/admin_changelists.py [--ledger 1000000] [--cads 300000]
        [--accounts 3000] [--audit 300000] [--repeat 3] [--keep]

In a dedicated PostgreSQL database (created, migrated, dropped at the end) one row of each table is
made with the ORM, then **cloned with SQL** (``INSERT ... SELECT ... FROM generate_series``: every
column copied from the template row, the unique and varying ones computed from the series number):
``--accounts`` businesses with one RM account each, ``--cads`` CADs, ``--ledger`` ledger entries
(charges, corrections, payments over 12 periods), 12 statements per account and ``--audit`` audit
events; then ANALYZE (what autovacuum does on a live table). Each changelist is requested as a
superuser through Django's test client (middleware, admin template and all) ``--repeat`` times:

- **after**: the admins as they are (carm_portal.admin.BigTableAdmin: estimated count, no date
  hierarchy, ``-id`` ordering, exact indexed search);
- **before**: the same admin objects with the settings main had before (patched on the instance:
  the default paginator, the date hierarchy, the model's ordering, ``=field`` (iexact) or icontains
  search, the DISTINCT list filters), so both are measured in one run on the same data.

Prints min / median / max milliseconds and the queries of a request.
Environment: BENCH_PG (default postgres://postgres@127.0.0.1:5432), BENCH_DB (default carm_bench_admin).
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

from _pg import PG, admin_sql  # noqa: E402 - bench/ is the script's own folder

DB = os.environ.get("BENCH_DB", "carm_bench_admin")
DB_URL = f"{PG}/{DB}"
os.environ["DATABASE_URL"] = DB_URL
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "carm_portal.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")

# What main had before this change (issue #15 item 6), per model: patched onto the admin instance.
BEFORE = {
    "ledger.ledgerentry": {
        "list_filter": ["kind", "billing_period"], "date_hierarchy": "effective_date",
        "search_fields": ["=reference", "=program_account__number", "=idempotency_key"],
    },
    "declarations.cad": {
        "list_filter": ["status", "cad_type", "payment_timing", "transport_mode", "submitted_late", "release_date"],
        "date_hierarchy": "release_date", "search_fields": ["=transaction_number", "=program_account__number"],
    },
    "billing.statement": {"list_filter": ["period_end"], "search_fields": ["=program_account__number"]},
    "accounts.auditevent": {
        "list_filter": ["action"], "date_hierarchy": "created_at", "show_full_result_count": True,
        "search_fields": ["action", "actor__email", "acting_for__legal_name", "target_repr"],
    },
}



def manage(*args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env={**os.environ, "DATABASE_URL": DB_URL},
                   check=True, stdout=subprocess.DEVNULL)


def clone(table: str, template_id: int, count: int, overrides: dict[str, str], *, start: int = 1) -> None:
    """INSERT ``count`` copies of row ``template_id`` of ``table``; ``overrides`` are SQL expressions of ``g``
    (the series number) for the columns that must differ. Columns are read from the catalog, so a column
    added later is copied too."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT column_name FROM information_schema.columns WHERE table_name = %s "
                       "ORDER BY ordinal_position", [table])
        columns = [row[0] for row in cursor.fetchall() if row[0] != "id"]
        select = ", ".join(overrides.get(c, f't."{c}"') for c in columns).replace("%", "%%")  # g % n: modulo
        names = ", ".join(f'"{c}"' for c in columns)
        cursor.execute(
            f'INSERT INTO "{table}" ({names}) SELECT {select} FROM "{table}" t, '  # noqa: S608 - bench, constants
            f"generate_series({start}, {start + count - 1}) AS g WHERE t.id = %s", [template_id])


def generate(args) -> dict:
    """Template rows with the ORM, then SQL clones. Returns what the requests search for."""
    from datetime import date, timedelta
    from decimal import Decimal

    from django.db import connection, transaction

    from accounts.models import AuditEvent, Business, ProgramAccount, User
    from billing.ledger.models import LedgerEntry
    from billing.models import Statement
    from carm_portal import calendar
    from declarations.models import CAD

    period = date(2025, 11, 17)
    periods = calendar.periods_ending(period, 12)
    with transaction.atomic():
        user = User.objects.create_user(email="bench-admin@example.com", password="x", is_staff=True,
                                        is_superuser=True)
        business = Business.objects.create(legal_name="Bench 0", bn9="000000000")
        account = ProgramAccount.objects.create(business=business, number="000000000RM0001", name="RM 1")
        clone("accounts_business", business.pk, args.accounts - 1,
              {"bn9": "lpad(g::text, 9, '0')", "legal_name": "'Bench ' || g"})
        with connection.cursor() as cursor:
            cursor.execute("SELECT id, bn9 FROM accounts_business WHERE id <> %s ORDER BY id", [business.pk])
            rows = cursor.fetchall()
        first_business = rows[0][0]
        clone("accounts_programaccount", account.pk, args.accounts - 1,
              {"business_id": f"{first_business} + g - 1", "number": "lpad(g::text, 9, '0') || 'RM0001'"})
        account_ids = "(SELECT min(id) FROM accounts_programaccount)"
        n_accounts = args.accounts
        cad = CAD.objects.create(transaction_number="10000000000000", program_account=account, filed_by=user,
                                 status=CAD.Status.ACCEPTED, release_date=period - timedelta(days=3),
                                 due_date=period, billing_period=period, current_version=1,
                                 payment_timing=CAD.PaymentTiming.DEFERRED, dt_total=Decimal("105.00"))
        clone("declarations_cad", cad.pk, args.cads - 1, {
            "transaction_number": "(10000000000000 + g)::text",
            "program_account_id": f"{account_ids} + (g % {n_accounts})",
            "release_date": f"DATE '{period}' - (g % 365)", "dt_total": "(g % 5000) + 0.25",
        })
        entry = LedgerEntry.objects.create(
            program_account=account, kind=LedgerEntry.Kind.CAD_CHARGE, amount=Decimal("105.00"),
            duty=Decimal("100.00"), gst=Decimal("5.00"), effective_date=period, billing_period=period,
            reference="10000000000000", idempotency_key="bench:0")
        kinds = "(ARRAY['cad_charge','cad_charge','cad_charge','cad_charge','cad_charge','cad_charge'," \
                "'cad_charge','cad_correction','payment','interest'])[1 + g % 10]"
        period_sql = "(ARRAY[" + ",".join(f"DATE '{p}'" for p in periods) + "])[1 + g % 12]"
        clone("billing_ledgerentry", entry.pk, args.ledger - 1, {
            "program_account_id": f"{account_ids} + (g % {n_accounts})", "kind": kinds,
            "reference": f"(10000000000000 + g % {args.cads})::text", "idempotency_key": "'bench:' || g",
            "billing_period": period_sql, "effective_date": f"{period_sql} - (g % 28)",
            "created_at": "now() - (g || ' seconds')::interval",
        })
        # The template is (first account, oldest period): series number g gives (g % accounts, g / accounts).
        statement = Statement.objects.create(
            program_account=account, period_end=periods[0], period_start=calendar.period_start(periods[0]),
            due_date=calendar.payment_due_date(periods[0]), issued_on=calendar.statement_date(periods[0]))
        clone("billing_statement", statement.pk, n_accounts * 12 - 1, {
            "program_account_id": f"{account_ids} + (g % {n_accounts})",
            "period_end": "(ARRAY[" + ",".join(f"DATE '{p}'" for p in periods) + f"])[1 + (g / {n_accounts}) % 12]",
        })
        event = AuditEvent.objects.create(action="cad.submit", actor=user, acting_for=business,
                                          target_type="cad", target_id="1", target_repr="CAD 10000000000000")
        clone("accounts_auditevent", event.pk, args.audit - 1, {
            "action": "(ARRAY['cad.submit','cad.accept','payment.record','delegation.grant'])[1 + g % 4]",
            "acting_for_id": f"{first_business} + (g % {n_accounts - 1})",
            "created_at": "now() - (g || ' seconds')::interval",
        })
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return {"user": user, "tn": "10000000012345", "rm": "000000042RM0001", "email": user.email}


def measure(client, path: str, repeat: int) -> tuple[list[float], int, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    times, queries = [], 0
    for _run in range(repeat):
        with CaptureQueriesContext(connection) as ctx:
            started = time.perf_counter()
            response = client.get(path, HTTP_HOST="localhost")
            times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (path, response.status_code)
        queries = len(ctx.captured_queries)
    import re

    # The count the page shows ("1,000,123 ledger entries" in the paginator line).
    match = re.search(rb'class="paginator">.*?(\d[\d,]*)\s', response.content, re.S)
    return times, queries, int(match.group(1).replace(b",", b"")) if match else -1


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ledger", type=int, default=1_000_000)
    parser.add_argument("--cads", type=int, default=300_000)
    parser.add_argument("--accounts", type=int, default=3000)
    parser.add_argument("--audit", type=int, default=300_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="Keep the database at the end.")
    args = parser.parse_args()

    admin_sql(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
    admin_sql(f'CREATE DATABASE "{DB}"')
    try:
        manage("migrate", "--no-input")
        import django

        django.setup()
        from django.conf import settings
        from django.contrib import admin
        from django.core.paginator import Paginator
        from django.test import Client

        settings.ALLOWED_HOSTS = ["*"]
        settings.AXES_ENABLED = False
        started = time.monotonic()
        found = generate(args)
        print(f"# generated with SQL (INSERT ... SELECT generate_series): {args.ledger:,} ledger rows, "
              f"{args.cads:,} CADs, {args.accounts:,} accounts, {args.accounts * 12:,} statements, "
              f"{args.audit:,} audit events in {time.monotonic() - started:.0f} s; ANALYZEd")
        client = Client()
        client.force_login(found["user"])
        requests = [
            ("ledger.ledgerentry", "all", ""),
            ("ledger.ledgerentry", "q=RM number", f"?q={found['rm']}"),
            ("ledger.ledgerentry", "q=transaction no.", f"?q={found['tn']}"),
            ("ledger.ledgerentry", "kind=payment", "?kind__exact=payment"),
            ("declarations.cad", "all", ""),
            ("declarations.cad", "q=transaction no.", f"?q={found['tn']}"),
            ("declarations.cad", "q=RM number", f"?q={found['rm']}"),
            ("declarations.cad", "status=accepted", "?status__exact=accepted"),
            ("billing.statement", "all", ""),
            ("billing.statement", "q=RM number", f"?q={found['rm']}"),
            ("accounts.auditevent", "all", ""),
            ("accounts.auditevent", "q=email", f"?q={found['email']}"),
        ]
        client.get("/admin/", HTTP_HOST="localhost")  # warm: session, templates, content types
        registry = {f"{m._meta.app_label}.{m._meta.model_name}": a for m, a in admin.site._registry.items()}
        print(f"{'changelist':<22} {'request':<18} {'config':<7} {'min ms':>8} {'median':>8} {'max ms':>8} "
              f"{'queries':>7} {'rows':>10}")
        for config in ("after", "before"):
            for label, name, query in requests:
                model_admin = registry[label]
                if config == "before":
                    for attr, value in {"paginator": Paginator, "ordering": None, "exact_search_fields": (),
                                        "date_hierarchy": None, **BEFORE[label]}.items():
                        setattr(model_admin, attr, value)
                app, model = label.split(".")
                path = f"/admin/{app}/{model}/{query}"
                times, queries, rows = measure(client, path, args.repeat)
                print(f"{label:<22} {name:<18} {config:<7} {min(times):>8.0f} {statistics.median(times):>8.0f} "
                      f"{max(times):>8.0f} {queries:>7} {rows:>10,}", flush=True)
    finally:
        if not args.keep:
            from django.db import connections

            connections.close_all()
            admin_sql(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')


if __name__ == "__main__":
    main()
