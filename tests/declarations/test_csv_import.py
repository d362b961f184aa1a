"""CSV upload: all or nothing, every error with its row and column, 10,000 lines in one go."""

import csv
import io
import time
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db.models import Sum

from billing.ledger.models import LedgerEntry
from carm_portal.money import quantize
from declarations import services
from declarations import transaction_numbers as tn
from declarations.csv_import import import_cads_csv
from declarations.models import CAD, CADLine, CADVersion
from tests import factories

from .conftest import FILED_ON

pytestmark = pytest.mark.django_db

COLUMNS = ["transaction_number", "cad_ref", "program_account", "release_date", "direct_shipment_date", "office_code",
           "transport_mode", "invoice_currency", "vendor_name", "description", "classification", "treatment",
           "origin_country", "proof_of_origin", "quantity", "value_foreign", "duty_rate_percent"]


def row(account, **values):
    base = {"transaction_number": "", "cad_ref": "A", "program_account": account.number,
            "release_date": "2025-11-03", "direct_shipment_date": "2025-11-01", "office_code": "0497",
            "transport_mode": "highway", "invoice_currency": "USD", "vendor_name": "Acme Corp",
            "description": "Face cream", "classification": "3304.99.00.00", "treatment": "MFN",
            "origin_country": "CN", "proof_of_origin": "", "quantity": "100", "value_foreign": "10000.00", "duty_rate_percent": ""}
    base.update(values)
    return base


def to_csv(rows, columns=COLUMNS) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def test_good_file_creates_and_submits_every_cad(importer, account, tariff):
    number = tn.with_check_digit("5432100000001")
    text = to_csv([
        row(account, cad_ref="A"),
        row(account, cad_ref="A", description="T-shirts", classification="6109100011", value_foreign="500"),
        row(account, cad_ref="B", value_foreign="100"),
        row(account, transaction_number=number, cad_ref=""),
    ])
    calls = []
    result = import_cads_csv(actor=importer.bam, file=text.encode(), progress=lambda d, t: calls.append((d, t)),
                             today=FILED_ON)
    assert result.ok, result.errors
    assert len(result.cads) == 3 and result.line_count == 4
    assert calls[-1] == (4, 4)
    a = CAD.objects.get(pk=result.cads[0].pk)
    assert a.status == CAD.Status.SUBMITTED and a.lines.count() == 2
    assert a.due_date == date(2025, 11, 10)
    assert a.dt_total == sum(ln.duties_and_taxes for ln in a.lines.all())
    assert a.lines.get(line_no=1).gst == Decimal("726.86")
    assert CAD.objects.filter(transaction_number=number).exists()
    for cad in CAD.objects.all():
        tn.validate(cad.transaction_number)
    assert not LedgerEntry.objects.exists()


def test_one_bad_row_imports_nothing_and_every_error_is_listed(importer, account, other_importer, tariff):
    rows = [
        row(account, cad_ref="A"),
        row(account, cad_ref="A", classification="9999999999"),                 # row 3
        row(account, cad_ref="B", value_foreign="-5", treatment="XYZ"),         # row 4: two errors
        row(account, cad_ref="C", release_date="2030-01-01"),                   # row 5
        row(account, cad_ref="D", transaction_number="12345000000010"),         # row 6: check digit
        row(other_importer.program_accounts.get(), cad_ref="E"),                # row 7: not allowed
        row(account, cad_ref="A", office_code="0453"),                          # row 8: differs from row 2
        row(account, cad_ref="F", duty_rate_percent="5"),                        # row 9: rate mismatch
        row(account, cad_ref="G", release_date="03/11/2025"),                   # row 10: bad date
    ]
    result = import_cads_csv(actor=importer.bam, file=to_csv(rows), today=FILED_ON)
    assert not result.ok
    found = {(e.row, e.column) for e in result.errors}
    assert {(3, "classification"), (4, "value_foreign"), (4, "treatment"), (5, "release_date"),
            (6, "transaction_number"), (7, "program_account"), (8, "office_code"), (9, "duty_rate_percent"),
            (10, "release_date")} <= found, result.errors
    assert (2, "classification") not in found
    assert all(e.message for e in result.errors)
    assert CAD.objects.count() == 0 and CADLine.objects.count() == 0


def test_header_problems(importer, account, tariff):
    result = import_cads_csv(actor=importer.bam, file="foo,description\n1,x\n", today=FILED_ON)
    assert (1, "foo") in {(e.row, e.column) for e in result.errors}
    assert (1, "classification") in {(e.row, e.column) for e in result.errors}
    assert not import_cads_csv(actor=importer.bam, file="", today=FILED_ON).ok


def test_upload_for_one_account_needs_no_account_column(importer, account, tariff):
    columns = [c for c in COLUMNS if c != "program_account"]
    result = import_cads_csv(actor=importer.bam, file=to_csv([row(account)], columns), program_account=account,
                             today=FILED_ON)
    assert result.ok and result.cads[0].program_account == account


def test_broker_without_submit_scope_cannot_upload(importer, account, broker, tariff):
    factories.make_delegation(importer, broker, cad_submit=False)
    result = import_cads_csv(actor=broker.bam, file=to_csv([row(account)]), today=FILED_ON)
    assert [(e.row, e.column) for e in result.errors] == [(2, "program_account")]
    assert not CAD.objects.exists()


def test_auto_accept_posts_every_charge(importer, account, tariff, settings):
    settings.CARM = {**settings.CARM, "CAD_AUTO_ACCEPT": True}
    result = import_cads_csv(actor=importer.bam, file=to_csv([row(account, cad_ref=str(i)) for i in range(5)]),
                             today=FILED_ON)
    assert result.ok
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.CAD_CHARGE).count() == 5
    assert CADVersion.objects.filter(number=1).count() == 5
    for cad in CAD.objects.all():
        assert cad.status == CAD.Status.ACCEPTED
        assert services.cad_ledger_total(cad) == cad.dt_total == Decimal("1614.11")


def test_a_10000_line_file_imports_in_one_go(importer, account, tariff, settings):
    settings.CARM = {**settings.CARM, "CAD_AUTO_ACCEPT": True}
    items = [("3304990000", "MFN", "CN", ""), ("6109100011", "UST", "US", "yes"), ("8471300000", "MFN", "CN", ""),
             ("6109100011", "MFN", "CN", "")]
    rows = []
    for i in range(10_000):
        classification, treatment, origin, proof = items[i % 4]
        day = date(2025, 10, 1) + timedelta(days=(i // 6) % 30)
        rows.append(row(account, cad_ref=f"C{i // 6}", release_date=day.isoformat(),
                        direct_shipment_date=day.isoformat(), classification=classification, treatment=treatment,
                        origin_country=origin, proof_of_origin=proof, value_foreign=f"{100 + i % 997}.{i % 100:02d}", description=f"Item {i}"))
    text = to_csv(rows)
    progress = []
    started = time.monotonic()
    result = import_cads_csv(actor=importer.bam, file=text, progress=lambda d, t: progress.append(d),
                             today=date(2025, 11, 20))
    elapsed = time.monotonic() - started
    assert result.ok, result.errors[:5]
    assert CADLine.objects.count() == 10_000 and CAD.objects.count() == 1667
    assert progress[-1] == 10_000 and len(progress) >= 5
    assert LedgerEntry.objects.count() == 1667
    ledger_total = quantize(LedgerEntry.objects.aggregate(s=Sum("amount"))["s"])  # SQLite sums in floats
    assert ledger_total == sum(c.dt_total for c in CAD.objects.all())
    print(f"\n10,000-line CSV import: {elapsed:.2f} s")
    assert elapsed < 20
