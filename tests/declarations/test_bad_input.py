"""Bad input gets a row / field error, in bounded time, and nothing is stored (issue 10, item 3).

The CSV import reads a file in time linear in its size, within CSV_MAX_COLUMNS, CSV_MAX_CELL_CHARS
and CSV_MAX_ROWS; non-UTF-8 text, a NUL byte, a cell past the csv module's own limit, ``1e309``
and dates outside the input window are row errors. The CAD API answers 400 with field messages.
"""

from __future__ import annotations

import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from declarations.csv_import import MAX_REPORTED_ERRORS, import_cads_csv
from declarations.models import CAD, CADLine

from .conftest import FILED_ON
from .test_csv_import import COLUMNS, row, to_csv

pytestmark = pytest.mark.django_db


def nothing_stored() -> bool:
    return not CAD.objects.exists() and not CADLine.objects.exists()


def run(importer, data):
    started = time.perf_counter()
    result = import_cads_csv(actor=importer.bam, file=data, today=FILED_ON)
    return result, time.perf_counter() - started


def test_a_header_of_50000_columns_is_refused_at_once(importer, account, tariff):
    header = ",".join(f"c{i}" for i in range(50_000)).encode()  # ~340 KB
    result, seconds = run(importer, header + b"\n" + b"x," * 10 + b"\n")
    assert seconds < 1
    assert [(e.row, e.message) for e in result.errors] == [(1, "This row has more than 200 cells.")]
    assert nothing_stored()


def test_many_duplicated_columns_are_reported_quickly(importer, account, tariff, settings):
    settings.CARM = {**settings.CARM, "CSV_MAX_COLUMNS": 100_000}
    header = ",".join(["description"] * 50_000).encode()
    result, seconds = run(importer, header + b"\n")
    assert seconds < 2
    assert any(e.column == "description" and "more than once" in e.message for e in result.errors)


def test_too_many_rows_is_refused(importer, account, tariff, settings):
    settings.CARM = {**settings.CARM, "CSV_MAX_ROWS": 3}
    text = to_csv([row(account, cad_ref=str(i)) for i in range(4)])
    result, _seconds = run(importer, text.encode())
    assert [(e.row, e.message) for e in result.errors] == [
        (5, "The file has more than 3 lines; split it into smaller files.")]
    assert nothing_stored()


def test_a_file_that_is_not_utf8_is_a_row_error(importer, account, tariff):
    text = to_csv([row(account, vendor_name="Café")]).encode("cp1252")
    result, _seconds = run(importer, text)
    assert len(result.errors) == 1
    assert result.errors[0].row == 2 and "not UTF-8" in result.errors[0].message
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
    assert "not UTF-8" in run(importer, png)[0].errors[0].message
    assert nothing_stored()


def test_a_nul_byte_is_a_row_error(importer, account, tariff):
    text = to_csv([row(account), row(account, vendor_name="Ac\x00me")])
    result, _seconds = run(importer, text.encode())
    assert [(e.row, "NUL" in e.message) for e in result.errors] == [(3, True)]
    assert nothing_stored()


@pytest.mark.parametrize("length", [1001, 131_073, 2_000_000])
def test_a_long_cell_is_a_row_error(importer, account, tariff, length):
    text = to_csv([row(account), row(account, vendor_name="x" * length)])
    result, seconds = run(importer, text.encode())
    assert seconds < 2
    assert len(result.errors) == 1 and result.errors[0].row == 3
    assert "longer than 1000 characters" in result.errors[0].message
    if length < 131_072:
        assert result.errors[0].column == "vendor_name"
    assert nothing_stored()


@pytest.mark.parametrize(("column", "value", "message"), [
    ("value_foreign", "1e309", "The number is too large"),
    ("value_foreign", "1e999999999", "The number is too large"),
    ("value_foreign", "NaN", "Not a number."),
    ("quantity", "-Infinity", "Not a number."),
    ("duty_rate_percent", "1e309", "The number is too large"),
    ("duty_rate_percent", "1e999999999", "The number is too large"),
    ("release_date", "0001-01-01", "Enter a date on or after 2000-01-01."),
    ("release_date", "9999-12-31", "Enter a date on or before"),
    ("direct_shipment_date", "0001-01-01", "Enter a date on or after 2000-01-01."),
    ("direct_shipment_date", "9999-12-31", "Enter a date on or before"),
])
def test_out_of_range_numbers_and_dates_are_row_errors(importer, account, tariff, column, value, message):
    text = to_csv([row(account), row(account, cad_ref="Z", **{column: value})])
    result, _seconds = run(importer, text.encode())
    assert result.errors, "accepted"
    assert any(e.column == column and message in e.message for e in result.errors), result.errors
    assert nothing_stored()


def test_at_most_500_problems_are_reported(importer, account, tariff):
    text = to_csv([row(account, cad_ref=str(i), value_foreign="x") for i in range(MAX_REPORTED_ERRORS + 50)])
    result, _seconds = run(importer, text.encode())
    assert len(result.errors) == MAX_REPORTED_ERRORS
    assert "more problems not shown" in result.errors[-1].message


# --- The API ----------------------------------------------------------------------------------------

def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user=user)
    return client


def cad_body(account, line=None, **header):
    body = {"program_account": account.pk, "release_date": "2025-11-03", "direct_shipment_date": "2025-11-01",
            "office_code": "0497", "transport_mode": "highway", "invoice_currency": "USD",
            "lines": [{"description": "Face cream", "classification": "3304.99.00.00", "treatment": "MFN",
                       "origin_country": "CN", "quantity": "100", "value_foreign": "10000.00", **(line or {})}]}
    body.update(header)
    return body


@pytest.mark.parametrize("path", ["/api/v1/cads/", "/api/v1/cads/file/"])
@pytest.mark.parametrize(("header", "line", "field"), [
    ({"release_date": "0001-01-01"}, None, "release_date"),
    ({"release_date": "9999-12-31"}, None, "release_date"),
    ({"direct_shipment_date": "0001-01-01"}, None, "direct_shipment_date"),
    ({}, {"value_foreign": "1e309"}, "lines"),
    ({}, {"value_foreign": "NaN"}, "lines"),
    ({}, {"sima": "Infinity"}, "lines"),
    ({}, {"exchange_rate": "1e309"}, "lines"),
])
def test_the_cad_api_answers_400_with_the_field(importer, account, tariff, path, header, line, field):
    response = client_for(importer.bam).post(path, cad_body(account, line, **header), format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert nothing_stored()


@pytest.mark.parametrize(("content", "message"), [
    (b"\x89PNG\r\n\x1a\n\x00\x00", "not UTF-8"),
    (b"release_date,description\n2025-11-03,a\x00b\n", "NUL"),
    (b"", None),
])
def test_the_import_api_answers_400(importer, account, tariff, content, message):
    upload = SimpleUploadedFile("cads.csv", content, content_type="text/csv")
    response = client_for(importer.bam).post("/api/v1/cads/import/", {"file": upload}, format="multipart")
    assert response.status_code == 400, response.content
    if message:
        assert message in response.json()["errors"][0]["message"]
    assert nothing_stored()


def test_import_columns_are_still_checked(importer, account, tariff):
    # The limits do not change what a good file does.
    text = to_csv([row(account)], columns=COLUMNS)
    result, _seconds = run(importer, text.encode())
    assert result.ok, result.errors
