"""The offsetting API: gated lists (404 outside), manual apply, run, refunds, preference,
and constant query counts on the lists."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Business
from billing.ledger.models import LedgerEntry
from billing.offsetting import services
from billing.offsetting.models import Allocation, Refund
from tests import factories

from .conftest import DUE, OCT, SEP, post

pytestmark = pytest.mark.django_db

API = "/api/v1/offsets"
K = LedgerEntry.Kind


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user=user)
    return client


def results(response):
    assert response.status_code == 200, response.content
    return response.json()["results"]


@pytest.fixture
def data(importer, other_importer, rm, rm2):
    """Credits, debts and allocations on both importers."""
    out = {"debt": post(rm, K.CAD_CHARGE, "100.00", SEP), "credit": post(rm, K.PAYMENT, "-300.00", SEP),
           "open_debt": post(rm2, K.CAD_CHARGE, "50.00", OCT)}
    theirs = other_importer.program_accounts.get()
    out["their_debt"] = post(theirs, K.CAD_CHARGE, "10.00", SEP)
    out["their_credit"] = post(theirs, K.PAYMENT, "-10.00", SEP)
    services.apply_offsets(program_account_id=rm.pk, today=DUE[OCT])
    services.apply_offsets(program_account_id=theirs.pk, today=DUE[OCT])
    return out


def test_lists_show_only_what_the_gate_allows(importer, data):
    api = client_for(importer.bam)
    rows = results(api.get(f"{API}/allocations/"))
    assert [(r["credit"]["id"], r["debt"]["id"], r["amount"]) for r in rows] == [
        (data["credit"].pk, data["debt"].pk, "100.00")]
    assert rows[0]["debt"]["reference"] == data["debt"].reference
    assert rows[0]["debt"]["billing_period"] == "2025-09-17" and rows[0]["debt"]["kind"] == "cad_charge"
    credits = results(api.get(f"{API}/credits/"))
    assert [(c["id"], c["allocated"], c["remaining"]) for c in credits] == [(data["credit"].pk, "100.00", "200.00")]
    assert results(api.get(f"{API}/credits/", {"include_used": "true"})) == credits
    debts = results(api.get(f"{API}/debts/"))
    assert [(d["id"], d["remaining"], d["due_date"]) for d in debts] == [(data["open_debt"].pk, "50.00", "2025-10-31")]
    assert len(results(api.get(f"{API}/debts/", {"include_used": "true"}))) == 2
    assert results(api.get(f"{API}/allocations/", {"period": "2025-10-17"})) == rows  # cleared 10-01
    assert results(api.get(f"{API}/allocations/", {"period": "2025-11-17"})) == []
    assert results(api.get(f"{API}/allocations/", {"program_account": data["open_debt"].program_account_id})) == []
    for url in (f"{API}/credits/{data['their_credit'].pk}/", f"{API}/debts/{data['their_debt'].pk}/",
                f"{API}/allocations/{Allocation.objects.get(credit=data['their_credit']).pk}/"):
        assert api.get(url).status_code == 404, url


def test_manual_apply_endpoint(importer, other_importer, data):
    api = client_for(importer.bam)
    credit = data["credit"]
    response = api.post(f"{API}/apply/", {"credit": credit.pk, "debts": [data["open_debt"].pk]}, format="json")
    assert response.status_code == 201, response.content
    assert [(r["debt"]["id"], r["amount"]) for r in response.json()] == [(data["open_debt"].pk, "50.00")]
    big = post(data["open_debt"].program_account, K.CAD_CHARGE, "1000.00", OCT)
    response = api.post(f"{API}/apply/", {"credit": credit.pk, "debts": [big.pk]}, format="json")
    assert response.status_code == 400
    assert "in full" in response.json()["detail"] and response.json()["debts"]
    response = api.post(f"{API}/apply/", {"credit": credit.pk, "debts": [data["their_debt"].pk]}, format="json")
    assert response.status_code == 404
    response = client_for(other_importer.bam).post(
        f"{API}/apply/", {"credit": credit.pk, "debts": [big.pk]}, format="json")
    assert response.status_code == 404


def test_run_endpoint(importer, other_importer, rm, django_capture_on_commit_callbacks):
    debt = post(rm, K.CAD_CHARGE, "10.00", SEP)
    post(rm, K.PAYMENT, "-10.00", SEP)
    api = client_for(importer.bam)
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"{API}/run/", {"program_account": rm.pk}, format="json")
    assert response.status_code == 202 and response.json() == {"program_account": rm.pk, "queued": True}
    assert Allocation.objects.filter(debt=debt).exists()
    assert client_for(other_importer.bam).post(f"{API}/run/", {"program_account": rm.pk}, format="json").status_code == 404


def test_refunds_endpoint(importer, other_importer, broker, rm, rm2):
    post(rm, K.PAYMENT, "-1500.00", SEP)
    api = client_for(importer.bam)
    response = api.post(f"{API}/refunds/", {"program_account": rm.pk, "amount": "1000.00"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["status"], body["amount"], body["payee"]) == ("requested", "1000.00", importer.legal_name)
    assert [r["id"] for r in results(api.get(f"{API}/refunds/"))] == [body["id"]]
    response = api.post(f"{API}/refunds/", {"program_account": rm2.pk}, format="json")
    assert response.status_code == 400 and response.json()["amount"]
    other = client_for(other_importer.bam)
    assert other.post(f"{API}/refunds/", {"program_account": rm.pk}, format="json").status_code == 404
    assert other.get(f"{API}/refunds/{body['id']}/").status_code == 404
    assert results(other.get(f"{API}/refunds/")) == []


def test_preference_endpoint(importer, other_importer, broker):
    api = client_for(importer.bam)
    rows = results(api.get(f"{API}/preference/"))
    assert rows == [{"id": importer.pk, "bn9": importer.bn9, "legal_name": importer.legal_name,
                     "offsetting_preference": "auto_program", "can_change": True}]
    response = api.patch(f"{API}/preference/{importer.pk}/", {"offsetting_preference": "manual"}, format="json")
    assert response.status_code == 200 and response.json()["offsetting_preference"] == "manual"
    assert api.patch(f"{API}/preference/{other_importer.pk}/", {"offsetting_preference": "manual"},
                     format="json").status_code == 404
    factories.make_delegation(importer, broker, financial=True)
    brokered = client_for(broker.bam)
    response = brokered.patch(f"{API}/preference/{importer.pk}/", {"offsetting_preference": "auto_business"},
                              format="json")
    assert response.status_code == 200, response.content
    importer.refresh_from_db()
    assert importer.offsetting_preference == Business.OffsettingPreference.AUTO_BUSINESS
    response = brokered.patch(f"{API}/preference/{importer.pk}/", {"offsetting_preference": "x"}, format="json")
    assert response.status_code == 400


def _count(api, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert api.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_list_query_counts_are_constant(importer, broker, rm, rm2):
    factories.make_delegation(importer, broker, financial=True)
    api = client_for(importer.bam)
    urls = [f"{API}/allocations/", f"{API}/credits/", f"{API}/debts/", f"{API}/refunds/", f"{API}/preference/"]

    def add_rows(n):
        for _ in range(n):
            debt = post(rm, K.CAD_CHARGE, "10.00", SEP)
            credit = post(rm2, K.PAYMENT, "-20.00", SEP)
            Allocation.objects.create(credit=credit, debt=debt, amount=Decimal("5.00"), applied_on=DUE[SEP])
            Refund.objects.create(program_account=rm, payee=importer, amount=Decimal("1.00"))

    add_rows(1)
    before = {url: _count(api, url) for url in urls}
    add_rows(5)
    other = factories.make_business(accounts=1)
    factories.make_delegation(other, broker, financial=True)
    assert {url: _count(api, url) for url in urls} == before
    brokered = client_for(broker.bam)
    before = _count(brokered, f"{API}/preference/")
    more = factories.make_business(accounts=2)
    factories.make_delegation(more, broker, financial=True, valid_from=timezone.localdate() - timedelta(days=1))
    assert _count(brokered, f"{API}/preference/") == before
    assert len(results(brokered.get(f"{API}/preference/"))) == 3
