"""Statements at scale (issue #15 item 5): over ``STATEMENT_PDF_MAX_LINES`` lines the PDF is a summary
(totals by kind, by tax kind and per CAD) that says where the lines are; the lines' CSV (page and
API) holds every line exactly."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from billing import pdf_tasks, selectors
from billing.csv_export import LEDGER_CSV_HEADER
from billing.ledger.models import BREAKDOWN_FIELDS, LedgerEntry
from carm_portal.money import ZERO, format_money
from tests.billing.doc_builders import close_statement, post_cads, post_mixed_period, post_other
from tests.billing.test_pdf import pdf_text

pytestmark = pytest.mark.django_db
K = LedgerEntry.Kind


@pytest.fixture(autouse=True)
def private_storage(settings, tmp_path):
    settings.PRIVATE_STORAGE_ROOT = tmp_path / "private"
    return settings.PRIVATE_STORAGE_ROOT


@pytest.fixture
def account(importer):
    return importer.program_accounts.order_by("number").first()


@pytest.fixture
def statement(account):
    post_mixed_period(account)
    post_other(account, K.OTHER, "1.00", description='=HYPERLINK("http://evil")', reference="@SUM(A1)")
    return close_statement(account)


@pytest.fixture
def low_threshold(settings):
    settings.CARM = {**settings.CARM, "STATEMENT_PDF_MAX_LINES": 3}


def api_client(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user=user)
    return client


def body(response) -> str:
    return b"".join(response.streaming_content).decode()


def expected_rows(statement) -> list[list[str]]:
    """The statement's lines as the CSV must hold them: plain decimals, text made formula-safe."""
    rows = []
    for e in statement.lines().select_related("program_account"):
        text = [("'" + v if v[:1] and v[:1] in "=+-@" else v) for v in (e.reference, e.description)]
        rows.append([e.effective_date.isoformat(), e.program_account.number, e.kind, *text,
                     *(str(getattr(e, f)) for f in BREAKDOWN_FIELDS), str(e.amount), e.billing_period.isoformat()])
    return rows


# --- The lines' CSV: page and API -------------------------------------------------------------------------

def test_api_lines_csv_equals_the_statements_lines_exactly(importer, statement):
    url = reverse("api-statement-lines-csv", args=[statement.pk])
    assert url == f"/api/v1/statements/{statement.pk}/lines.csv"
    response = api_client(importer.bam).get(url)
    assert response.status_code == 200 and response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].endswith(f'statement-{statement.program_account.number}-2025-11-17.csv"')
    rows = list(csv.reader(io.StringIO(body(response))))
    assert rows[0] == LEDGER_CSV_HEADER
    assert [r[:-1] for r in rows[1:]] == expected_rows(statement)  # all but posted_at, a timestamp
    assert len(rows) - 1 == statement.lines_count == 8
    amount = LEDGER_CSV_HEADER.index("amount")
    assert sum(Decimal(r[amount]) for r in rows[1:]) == statement.closing_balance - statement.opening_balance
    formula_cells = [next(r[4] for r in rows if "HYPERLINK" in r[4]), next(r[3] for r in rows if "SUM" in r[3])]
    assert formula_cells == ["'=HYPERLINK(\"http://evil\")", "'@SUM(A1)"]
    assert "-500.00" in [r[amount] for r in rows]  # a payment: a plain negative decimal, not quoted


def test_page_csv_and_api_csv_are_the_same_file(client, importer, statement):
    client.force_login(importer.bam)
    page = body(client.get(reverse("billing-statement-csv", args=[statement.pk])))
    api = body(api_client(importer.bam).get(reverse("api-statement-lines-csv", args=[statement.pk]),
                                            HTTP_ACCEPT="text/csv"))
    assert page == api


def test_api_lines_csv_is_404_outside_the_gate(other_importer, statement):
    response = api_client(other_importer.bam).get(reverse("api-statement-lines-csv", args=[statement.pk]))
    assert response.status_code == 404
    assert api_client(other_importer.bam).get("/api/v1/statements/999999/lines.csv").status_code == 404


def test_api_lines_csv_asks_a_constant_number_of_queries(importer, account):
    post_cads(account, count=3)
    small = close_statement(account)
    client = api_client(importer.bam)

    def queries(statement) -> int:
        with CaptureQueriesContext(connection) as ctx:
            body(client.get(reverse("api-statement-lines-csv", args=[statement.pk])))
        return len(ctx.captured_queries)

    other = importer.program_accounts.order_by("number").last()
    post_cads(other, count=40)
    queries(small)  # warm: content types and the like, cached per process
    assert queries(small) == queries(close_statement(other))


# --- The summary PDF ---------------------------------------------------------------------------------------

def test_statement_under_the_threshold_prints_its_lines(statement):
    assert not pdf_tasks.summary_only(statement)
    assert "summary" not in pdf_tasks.statement_version(statement)


def test_big_statement_pdf_is_a_summary_that_says_where_the_lines_are(low_threshold, statement, tmp_path):
    assert pdf_tasks.summary_only(statement)
    assert pdf_tasks.statement_version(statement).endswith("-summary")
    stored = pdf_tasks.statement_pdf(statement, language="en")
    text = pdf_text(stored.read(), tmp_path, layout=False)
    csv_path = f"/billing/statements/{statement.pk}/csv/"
    api_path = f"/api/v1/statements/{statement.pk}/lines.csv"
    for expected in (
        "This statement has 8 lines, more than the 3 printed in a PDF", "Cet état compte 8 lignes",
        csv_path, f"GET {api_path}", "Totals by kind", "Totaux par type", "Totals by tax kind", "Customs duty",
        "Droits de douane", "GST", "Totals per CAD", "Totaux par DDC", "Opening balance", "Closing balance",
        format_money(statement.closing_balance),
    ):
        assert expected in text, expected
    assert "Transactions in the period" not in text  # no line table
    assert "Late payment penalty" not in text  # a line's description: only in the CSV


def test_summary_totals_add_up_to_the_statement(statement):
    document = selectors.statement_document(statement, with_lines=False)
    groups = {g.key: g for g in document["groups"]}
    lines = list(statement.lines())
    assert sum(g.count for g in groups.values()) == len(lines) == statement.lines_count
    assert groups["cad_charges"].count == 3 and groups["payments"].total == Decimal("-500.00")
    assert document["lines_total"] == statement.closing_balance - statement.opening_balance
    taxes = {t.key: t.amount for t in document["tax_totals"]}
    assert sum(taxes.values(), ZERO) == document["lines_total"]
    for key in BREAKDOWN_FIELDS:
        assert taxes[key] == sum((getattr(e, key) for e in lines), ZERO)
    # Per CAD: the charge and its correction (same transaction number) net together.
    cads = {t.transaction_number: t for t in document["cad_totals"]}
    cad_lines = [e for e in lines if e.kind in (K.CAD_CHARGE, K.CAD_CORRECTION) and e.reference]
    assert set(cads) == {e.reference for e in cad_lines}
    for number, total in cads.items():
        mine = [e for e in cad_lines if e.reference == number]
        assert (total.lines, total.amount) == (len(mine), sum((e.amount for e in mine), ZERO))


def test_cad_total_rows_are_fixed_width_columns():
    totals = [selectors.CadTotal("12345000000001", 1, Decimal("1050.00")),
              selectors.CadTotal("12345000000002", 2, Decimal("-12.34")),
              selectors.CadTotal("12345000000003", 1, Decimal("7.00"))]
    rows = pdf_tasks.cad_total_rows(totals, per_row=2)
    assert rows == ["12345000000001     $1,050.00   12345000000002 (2)   -$12.34",
                    "12345000000003         $7.00"]
    assert pdf_tasks.cad_total_rows([]) == []


def test_summary_pdf_in_french_writes_french_amounts(low_threshold, statement, tmp_path):
    stored = pdf_tasks.statement_pdf(statement, language="fr")
    text = pdf_text(stored.read(), tmp_path, layout=False)
    assert "Totaux par DDC" in text
    assert format_money(statement.closing_balance, language="fr").replace("\u202f", " ").replace("\xa0", " ") in \
        text.replace("\u202f", " ").replace("\xa0", " ")


def test_summary_document_asks_a_constant_number_of_queries(account, importer):
    post_cads(account, count=3)
    small = close_statement(account)
    other = importer.program_accounts.order_by("number").last()
    post_mixed_period(other, cads=40)
    big = close_statement(other)

    def queries(statement) -> int:
        with CaptureQueriesContext(connection) as ctx:
            selectors.statement_document(statement, with_lines=False)
        return len(ctx.captured_queries)

    queries(small)
    assert queries(small) == queries(big)


def test_statement_page_says_when_the_pdf_is_a_summary(client, importer, statement, settings):
    client.force_login(importer.bam)
    url = reverse("billing-statement-detail", args=[statement.pk])
    page = client.get(url).content.decode()
    assert "its PDF is a summary" not in page
    assert reverse("billing-statement-csv", args=[statement.pk]) in page
    settings.CARM = {**settings.CARM, "STATEMENT_PDF_MAX_LINES": 3}
    page = client.get(url).content.decode()
    assert "This statement has 8 lines: its PDF is a summary" in page
