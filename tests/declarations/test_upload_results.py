"""CSV import results (issue #12 item 6): each file reference → the new transaction number, with
totals, and the upload history of the acting-for importer (outcome and counts)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from declarations.models import CAD, CsvUpload
from tests import factories

from .test_views import csv_rows, login, upload

pytestmark = pytest.mark.django_db


def test_results_map_each_file_reference_to_its_transaction_number(client, importer, account, tariff):
    login(client, importer.bam)
    response = upload(client, account, csv_rows(3), name="november.csv")
    html = response.content.decode()
    record = CsvUpload.objects.get()
    assert record.status == CsvUpload.Status.DONE and record.file_name == "november.csv"
    assert (record.line_count, record.cad_count, record.error_count) == (6, 3, 0)
    assert record.uploaded_by == importer.bam and record.broker is None
    cads = {cad.pk: cad for cad in CAD.objects.all()}
    assert [r["ref"] for r in record.results] == ["C0", "C1", "C2"]
    assert [r["row"] for r in record.results] == [2, 4, 6]
    for row in record.results:
        cad = cads[row["cad"]]
        assert cad.transaction_number == row["transaction_number"]
        assert Decimal(row["dt"]) == cad.dt_total and row["lines"] == 2
        assert row["transaction_number"] in html
    assert record.dt_total == sum((c.dt_total for c in cads.values()), Decimal("0.00"))
    assert record.vfd_total == sum((c.vfd_total for c in cads.values()), Decimal("0.00"))
    assert record.dt_total > 0
    assert "What each file reference became" in html and ">C1</td>" in html


def test_a_failed_upload_is_in_the_history_with_its_problem_count(client, importer, account, tariff):
    login(client, importer.bam)
    upload(client, account, csv_rows(2) + "C9,2025-11-03,2025-11-01,04x7,USD,Face cream,1234,MFN,CN,100,-1\n",
           name="bad.csv")
    upload(client, account, csv_rows(1), name="good.csv")
    failed = CsvUpload.objects.get(file_name="bad.csv")
    assert failed.status == CsvUpload.Status.FAILED and failed.error_count >= 2 and failed.cad_count == 0
    html = client.get(reverse("cad_upload_history")).content.decode()
    assert html.index("good.csv") < html.index("bad.csv")  # newest first
    assert "Nothing imported" in html and "Imported" in html


def test_history_is_per_importer_and_within_the_gate(client, importer, other_importer, account, broker, tariff):
    login(client, importer.bam)
    upload(client, account, csv_rows(1), name="mine.csv")
    login(client, other_importer.bam)
    html = client.get(reverse("cad_upload_history")).content.decode()
    assert "mine.csv" not in html
    # A broker acting for the importer with the CAD scopes sees it; without them: 404.
    factories.make_delegation(importer, broker, accounts=[account])
    login(client, broker.bam)
    client.post(reverse("switch-account"), {"business": importer.pk})
    assert "mine.csv" in client.get(reverse("cad_upload_history")).content.decode()


def test_history_and_results_pages_have_constant_queries(client, importer, account, tariff):
    login(client, importer.bam)
    upload(client, account, csv_rows(1))

    def count(url):
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200
        return len(ctx.captured_queries)

    history = reverse("cad_upload_history")
    status = reverse("cad_upload_status", args=[CsvUpload.objects.get().upload_id])
    small = (count(history), count(status))
    for _ in range(4):
        upload(client, account, csv_rows(5))
    big_status = reverse("cad_upload_status", args=[CsvUpload.objects.first().upload_id])
    assert (count(history), count(big_status)) == small
