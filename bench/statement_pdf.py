"""Benchmark: the statement PDF at 100, 1,000, 5,000 and 20,000 lines, in one run.

    /work/main/.venv/bin/python bench/statement_pdf.py [--sizes 100,1000,5000,20000] [--repeat 3]
        [--language en] [--out DIR]

In a dedicated PostgreSQL database (created, migrated, dropped at the end) one importer gets one RM
account per size; its lines are **generated directly with ``bulk_create``** (not through the posting
service, which would take minutes at 20k): ~93% CAD charges with duty and GST, ~5% corrections of
those CADs (same transaction number), and payments, interest and penalties. The statement is then
closed by the billing cycle's own SQL (``cycle.insert_statements``). Each statement's PDF is built
``--repeat`` times as the pdf worker builds it (``pdf_tasks`` context, in SQL; then WeasyPrint), not
stored. Above ``STATEMENT_PDF_MAX_LINES`` (default 1,000) the PDF is the summary: the lines are in the
CSV. Prints min / median / max seconds, seconds per line, pages, and which PDF it was. ``--out`` keeps
one PDF per size (``statement-<lines>-<language>.pdf``) to look at.

Environment: BENCH_PG (default postgres://postgres@127.0.0.1:5432), BENCH_DB (default carm_bench_pdf).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _pg import PG, admin_sql  # noqa: E402 - bench/ is the script's own folder

DB = os.environ.get("BENCH_DB", "carm_bench_pdf")
DB_URL = f"{PG}/{DB}"
os.environ["DATABASE_URL"] = DB_URL
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "carm_portal.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")

PERIOD = date(2025, 11, 17)



def manage(*args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env={**os.environ, "DATABASE_URL": DB_URL},
                   check=True, stdout=subprocess.DEVNULL)


def generate_statement(business, number: int, lines: int):
    """One RM account with ``lines`` ledger entries in PERIOD (bulk_create), closed by the cycle's SQL."""
    from django.db import transaction

    from accounts.models import ProgramAccount
    from billing import cycle
    from billing.ledger.models import LedgerEntry
    from billing.models import Statement
    from carm_portal import calendar

    K = LedgerEntry.Kind
    account = ProgramAccount.objects.create(business=business, number=f"{business.bn9}RM{number:04d}",
                                            name=f"RM {number}")
    first = calendar.period_start(PERIOD)
    entries, charges = [], []
    for i in range(lines):
        day = first + timedelta(days=i % 31)
        common = {"program_account": account, "effective_date": day, "billing_period": PERIOD,
                  "idempotency_key": f"bench-pdf:{account.pk}:{i}"}
        if i % 100 == 99 and i > 0:
            kind, amount, extra = (K.PAYMENT, Decimal("-25000.00"), {"other": Decimal("-25000.00"),
                                                                   "reference": f"PAY-{i}", "description": "PAD"})
        elif i % 500 == 498:
            kind, amount, extra = K.PENALTY, Decimal("200.00"), {"other": Decimal("200.00"),
                                                                "description": "Late payment penalty"}
        elif i % 20 == 19 and charges:
            ref = charges[(i * 7) % len(charges)]
            kind, amount, extra = K.CAD_CORRECTION, Decimal("-10.50"), {
                "duty": Decimal("-10.00"), "gst": Decimal("-0.50"), "reference": ref, "description": "s.32.2 correction"}
        else:
            duty = Decimal("100.00") + Decimal(i % 977) * Decimal("3.17")
            gst = (duty * Decimal("0.05")).quantize(Decimal("0.01"))
            ref = f"{account.number[:5]}{number:02d}{i:07d}"
            charges.append(ref)
            kind, amount, extra = K.CAD_CHARGE, duty + gst, {"duty": duty, "gst": gst, "reference": ref,
                                                             "description": f"CAD {ref}"}
        entries.append(LedgerEntry(kind=kind, amount=amount, **common, **extra))
    with transaction.atomic():
        LedgerEntry.objects.bulk_create(entries, batch_size=5000)
        cycle.insert_statements([account.pk], PERIOD, None)
        if cycle.connection.vendor != "postgresql":
            cycle.fill_hashes([account.pk], PERIOD)
    statement = Statement.objects.select_related("program_account__business").get(program_account=account)
    assert statement.lines_count == lines, (statement.lines_count, lines)
    return statement


def pages(data: bytes) -> int:
    """Pages, by poppler's pdfinfo (0 if it is not installed)."""
    import shutil
    import tempfile

    if not shutil.which("pdfinfo"):
        return 0
    with tempfile.NamedTemporaryFile(suffix=".pdf") as handle:
        handle.write(data)
        handle.flush()
        info = subprocess.run(["pdfinfo", handle.name], check=True, capture_output=True, text=True).stdout
    return int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100,1000,5000,20000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--language", default="en")
    parser.add_argument("--out", help="Keep one PDF per size in this folder.")
    parser.add_argument("--keep", action="store_true", help="Keep the database at the end.")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    admin_sql(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
    admin_sql(f'CREATE DATABASE "{DB}"')
    try:
        manage("migrate", "--no-input")
        import django

        django.setup()
        from django.utils import translation

        from accounts.models import Business
        from billing import pdf_tasks
        from carm_portal import pdf
        from carm_portal.conf import carm
        from tests.factories import make_bn9

        business = Business.objects.create(kind=Business.Kind.IMPORTER, legal_name="Bench Statements Inc.",
                                           bn9=make_bn9(7), street="1 Main St", city="Ottawa", province="ON",
                                           postal_code="K1A 0B1")
        print(f"# STATEMENT_PDF_MAX_LINES = {carm('STATEMENT_PDF_MAX_LINES')}; language {args.language}; "
              f"lines generated with bulk_create")
        print(f"{'lines':>7} {'pdf':<8} {'min s':>7} {'median':>7} {'max s':>7} {'s/line':>9} {'pages':>6} {'KB':>6}")
        for number, size in enumerate(sizes, start=1):
            started = time.monotonic()
            statement = generate_statement(business, number, size)
            print(f"# generated {size} lines in {time.monotonic() - started:.1f} s", flush=True)
            times, data = [], b""
            if number == 1:  # warm: fonts and stylesheets load once per worker process
                with translation.override(args.language):
                    pdf.render_pdf(pdf_tasks.STATEMENT_TEMPLATE, pdf_tasks._document(statement))
            for _run in range(args.repeat):
                with translation.override(args.language):
                    started = time.perf_counter()
                    data = pdf.render_pdf(pdf_tasks.STATEMENT_TEMPLATE, pdf_tasks._document(statement))
                    times.append(time.perf_counter() - started)
            median = statistics.median(times)
            kind = "summary" if pdf_tasks.summary_only(statement) else "lines"
            print(f"{size:>7} {kind:<8} {min(times):>7.2f} {median:>7.2f} {max(times):>7.2f} "
                  f"{median / size:>9.5f} {pages(data):>6} {len(data) // 1024:>6}", flush=True)
            if args.out:
                out = Path(args.out)
                out.mkdir(parents=True, exist_ok=True)
                (out / f"statement-{size}-{args.language}.pdf").write_bytes(data)
    finally:
        if not args.keep:
            from django.db import connections

            connections.close_all()
            admin_sql(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')


if __name__ == "__main__":
    main()
