"""Billing API: gated lists (404 outside), constant query counts, payments with Idempotency-Key, runs (staff)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from billing import notices, services
from billing.ledger import services as ledger
from billing.ledger.models import LedgerEntry
from billing.models import BillingRun, DailyNotice, Payment, Statement
from tests import factories

pytestmark = pytest.mark.django_db


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user=user)
    return client


@pytest.fixture
def account(importer):
    return importer.program_accounts.order_by("number").first()


def charge(account, n: int, period=date(2025, 11, 17)):
    return ledger.post_entry(program_account=account, kind=LedgerEntry.Kind.CAD_CHARGE, amount=Decimal("100.00") + n,
                             effective_date=period.replace(day=3), billing_period=period,
                             idempotency_key=f"api-{account.pk}-{period}-{n}")


def count_queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, response.content
    return len(ctx.captured_queries)


def test_lists_keep_a_constant_number_of_queries(importer, account):
    client = client_for(importer.bam)
    other = importer.program_accounts.order_by("number").last()
    charge(account, 0)
    services.run_in_process(date(2025, 11, 17))
    notices.build_daily_notices(timezone.localdate())
    from billing.payments import payment_record

    payment_record(importer.bam, account, Payment.Method.PAD, "P-0", Decimal("1"), date(2025, 11, 20))
    urls = ["/api/v1/statements/", "/api/v1/ledger-entries/", "/api/v1/daily-notices/", "/api/v1/payments/"]
    small = {url: count_queries(client, url) for url in urls}
    for n in range(1, 8):
        charge(account, n, date(2025, 12, 17))
        charge(other, n, date(2025, 12, 17))
        payment_record(importer.bam, other, Payment.Method.PAD, f"P-{n}", Decimal("1"), date(2025, 11, 20))
    services.run_in_process(date(2025, 12, 17))
    notices.build_daily_notices(timezone.localdate())
    assert Statement.objects.count() >= 3 and Payment.objects.count() == 8
    big = {url: count_queries(client, url) for url in urls}
    assert big == small


def test_statement_detail_lists_its_ledger_entries(importer, account):
    for n in range(3):
        charge(account, n)
    services.run_in_process(date(2025, 11, 17))
    statement = Statement.objects.get(program_account=account)
    client = client_for(importer.bam)
    body = client.get(f"/api/v1/statements/{statement.pk}/").json()
    assert body["closing_balance"] == "303.00" and body["lines_count"] == 3
    assert body["due_date"] == "2025-12-01" and "lines" not in body
    lines = client.get(body["lines_url"]).json()
    assert lines["count"] == 3 and [line["amount"] for line in lines["results"]] == ["100.00", "101.00", "102.00"]


def test_statement_lines_page_through_a_big_statement(importer, account, monkeypatch):
    from rest_framework.pagination import PageNumberPagination

    monkeypatch.setattr(PageNumberPagination, "page_size", 2)
    for n in range(5):
        charge(account, n)
    services.run_in_process(date(2025, 11, 17))
    statement = Statement.objects.get(program_account=account)
    client = client_for(importer.bam)
    first = client.get(f"/api/v1/statements/{statement.pk}/lines/").json()
    last = client.get(f"/api/v1/statements/{statement.pk}/lines/?page=3").json()
    assert first["count"] == 5 and len(first["results"]) == 2 and [r["amount"] for r in last["results"]] == ["104.00"]


def test_other_importers_get_404_and_empty_lists(importer, other_importer, account):
    charge(account, 0)
    services.run_in_process(date(2025, 11, 17))
    statement = Statement.objects.get(program_account=account)
    client = client_for(other_importer.bam)
    assert client.get(f"/api/v1/statements/{statement.pk}/").status_code == 404
    assert client.get("/api/v1/statements/").json()["count"] == 0
    assert client.get("/api/v1/ledger-entries/").json()["count"] == 0
    response = client.post("/api/v1/payments/", {"program_account": account.pk, "method": "pad", "reference": "X",
                                                 "amount": "10.00", "received_on": "2025-11-20"}, format="json")
    assert response.status_code == 404
    assert client.get("/api/v1/billing-runs/").status_code == 404  # CBSA officers only; 404, never 403


def test_statement_pdf_through_the_api(importer, other_importer, account, settings, tmp_path):
    settings.PRIVATE_STORAGE_ROOT = tmp_path
    for n in range(2):
        charge(account, n)
    services.run_in_process(date(2025, 11, 17))
    statement = Statement.objects.get(program_account=account)
    url = f"/api/v1/statements/{statement.pk}/pdf/"
    response = client_for(importer.bam).get(url)
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert b"".join(response.streaming_content).startswith(b"%PDF-")
    assert client_for(other_importer.bam).get(url).status_code == 404


def test_ledger_entry_filters(importer, account):
    charge(account, 0)
    charge(account, 1, date(2025, 12, 17))
    client = client_for(importer.bam)
    assert client.get("/api/v1/ledger-entries/", {"period": "2025-12-17"}).json()["count"] == 1
    assert client.get("/api/v1/ledger-entries/", {"kind": "payment"}).json()["count"] == 0
    assert client.get("/api/v1/ledger-entries/", {"account": account.pk, "date_from": "2025-12-01"}).json()["count"] == 1


def test_payment_create_with_idempotency_key_and_duplicate_reference(importer, account):
    client = client_for(importer.bam)
    body = {"program_account": account.pk, "method": "online_banking", "reference": "EFT-77", "amount": "250.00",
            "received_on": "2025-11-20"}
    first = client.post("/api/v1/payments/", body, format="json", HTTP_IDEMPOTENCY_KEY="abc")
    assert first.status_code == 201, first.content
    again = client.post("/api/v1/payments/", body, format="json", HTTP_IDEMPOTENCY_KEY="abc")
    assert again.status_code == 201 and again.json()["id"] == first.json()["id"]
    duplicate = client.post("/api/v1/payments/", body, format="json")
    assert duplicate.status_code == 400 and "reference" in duplicate.json()
    card = client.post("/api/v1/payments/", {**body, "reference": "CC-1", "method": "credit_card",
                                             "amount": "5000.00"}, format="json")
    assert card.status_code == 400 and "amount" in card.json()
    assert Payment.objects.count() == 1


def test_billing_runs_are_staff_only_and_can_be_started(importer, account):
    charge(account, 0)
    staff = factories.make_officer()
    assert client_for(importer.bam).get("/api/v1/billing-runs/").status_code == 404
    client = client_for(staff)
    response = client.post("/api/v1/billing-runs/start/", {"period_end": "2025-11-17"}, format="json")
    assert response.status_code == 201, response.content
    run_id = response.json()["id"]
    listed = client.get("/api/v1/billing-runs/").json()
    assert listed["results"][0]["id"] == run_id
    assert client.post(f"/api/v1/billing-runs/{run_id}/retry/").status_code == 200
    bad = client.post("/api/v1/billing-runs/start/", {"period_end": "2025-11-18"}, format="json")
    assert bad.status_code == 400
    assert BillingRun.objects.count() == 1


def test_daily_notices_one_per_account_per_day(importer, account):
    today = timezone.localdate()
    charge(account, 0)
    charge(account, 1)
    assert notices.build_daily_notices(today) == 1
    assert notices.build_daily_notices(today) == 0
    notice = DailyNotice.objects.get(program_account=account, day=today)
    assert notice.entries_count == 2 and notice.total == Decimal("201.00")
    assert notices.notice_lines(notice).count() == 2
