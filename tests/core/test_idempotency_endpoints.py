"""Every POST that creates money or documents goes through carm_portal.idempotency (issue 10, item 6):
besides payments, CADs, appeals, NPAs, statements of adjustment, bonds and deposits (tested where
they live), the CAD correction (amend), the CSV import, the manual offset, the refund request and
the appeal's document upload and decision. For each: the same key and body → the original response
(``Idempotent-Replayed: true``), nothing done twice; the same key with another body → 409."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from billing.ledger import services as ledger
from billing.ledger.models import LedgerEntry
from carm_portal.models import IdempotentRequest
from tests import factories
from tests.clock import on
from tests.declarations.conftest import tariff  # noqa: F401  (a fixture)

pytestmark = pytest.mark.django_db
API = "/api/v1"
K = LedgerEntry.Kind


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user=user)
    return client


def replayed_once(api, url, body, other_body, model, *, key, fmt="json", created=201):
    """POST ``body()`` twice with ``key``, then ``other_body()`` with it: one object, the replay, a 409."""
    first = api.post(url, body(), format=fmt, HTTP_IDEMPOTENCY_KEY=key)
    assert first.status_code == created, first.content
    count = model.objects.count()
    again = api.post(url, body(), format=fmt, HTTP_IDEMPOTENCY_KEY=key)
    assert again.status_code == created and again.content == first.content
    assert again["Idempotent-Replayed"] == "true"
    assert model.objects.count() == count
    conflict = api.post(url, other_body(), format=fmt, HTTP_IDEMPOTENCY_KEY=key)
    assert conflict.status_code == 409, conflict.content
    assert "different request" in conflict.json()["detail"]
    assert model.objects.count() == count
    assert IdempotentRequest.objects.filter(key=key).count() == 1
    return first


@pytest.fixture
def account(importer):
    return importer.program_accounts.order_by("number").first()


CAD_LINE = {"description": "Face cream", "classification": "3304990000", "treatment": "MFN",
            "origin_country": "CN", "quantity": "100", "value_foreign": "10000.00"}


@on("2025-11-05")  # released 2025-11-03; the correction is before the period's due date (2025-12-01)
def test_a_cad_correction(importer, account, tariff, settings):  # noqa: F811
    from declarations.models import CADVersion

    settings.CARM = {**settings.CARM, "CAD_AUTO_ACCEPT": True}
    api = client_for(importer.bam)
    cad = api.post(f"{API}/cads/file/", {
        "program_account": account.pk, "release_date": "2025-11-03", "direct_shipment_date": "2025-11-01",
        "office_code": "0497", "transport_mode": "highway", "invoice_currency": "CAD", "vendor_name": "Acme Corp",
        "invoice_number": "INV-1", "lines": [CAD_LINE]}, format="json").json()

    def amend(value):
        return lambda: {"lines": [{**CAD_LINE, "value_foreign": value}], "reason_codes": ["R2-74-1-E.VFD"]}

    first = replayed_once(api, f"{API}/cads/{cad['id']}/amend/", amend("8000.00"), amend("7000.00"), CADVersion,
                          key="amend-1")
    assert first.json()["number"] == 2 and CADVersion.objects.count() == 2
    # One credit for the correction, not two.
    assert LedgerEntry.objects.filter(amount__lt=0).count() == 1


CSV = ("cad_ref,release_date,direct_shipment_date,office_code,invoice_currency,description,classification,"
       "treatment,origin_country,proof_of_origin,quantity,value_foreign\n"
       "A,2025-11-03,2025-11-01,0497,USD,Face cream,3304.99.00.00,MFN,CN,,100,10000.00\n"
       "B,2025-11-03,2025-11-01,0497,USD,Face cream,3304.99.00.00,MFN,CN,,5,500.00\n")


@on("2025-11-05")
def test_a_csv_import(importer, account, tariff):  # noqa: F811
    from declarations.models import CAD

    api = client_for(importer.bam)

    def upload(text):
        return lambda: {"file": SimpleUploadedFile("cads.csv", text.encode()), "program_account": account.pk}

    first = replayed_once(api, f"{API}/cads/import/", upload(CSV), upload(CSV.replace(",5,500.00", ",6,600.00")),
                          CAD, key="csv-1", fmt="multipart")
    assert first.json()["cad_count"] == 2 and CAD.objects.count() == 2


def _entry(account, kind, amount, key):
    period = date(2025, 9, 17)
    return ledger.post_entry(program_account=account, kind=kind, amount=Decimal(amount), billing_period=period,
                             effective_date=date(2025, 9, 10), idempotency_key=key, reference=key.upper())


def test_a_manual_offset(importer, account):
    from billing.offsetting.models import Allocation

    credit = _entry(account, K.PAYMENT, "-100.00", "cr")
    debt, other_debt = _entry(account, K.CAD_CHARGE, "50.00", "d1"), _entry(account, K.CAD_CHARGE, "20.00", "d2")
    api = client_for(importer.bam)
    first = replayed_once(api, f"{API}/offsets/apply/", lambda: {"credit": credit.pk, "debts": [debt.pk]},
                          lambda: {"credit": credit.pk, "debts": [other_debt.pk]}, Allocation, key="apply-1")
    assert [(r["debt"]["id"], r["amount"]) for r in first.json()] == [(debt.pk, "50.00")]
    assert Allocation.objects.count() == 1


def test_a_refund_request(importer, account):
    from billing.offsetting.models import Refund

    _entry(account, K.PAYMENT, "-1500.00", "pay")
    api = client_for(importer.bam)
    first = replayed_once(api, f"{API}/offsets/refunds/", lambda: {"program_account": account.pk, "amount": "1000.00"},
                          lambda: {"program_account": account.pk, "amount": "900.00"}, Refund, key="refund-1")
    assert first.json()["amount"] == "1000.00" and Refund.objects.get().amount == Decimal("1000.00")


PDF = b"%PDF-1.4\n%%EOF\n"


@on("2025-11-25")
def test_an_appeal_document_and_the_decision(importer, account, settings, tmp_path):
    from appeals import services
    from appeals.models import Appeal, AppealDocument

    settings.PRIVATE_STORAGE_ROOT = tmp_path / "private"
    cbsa = factories.make_officer()
    penalty = services.penalty_create(actor=cbsa, program_account=account, npa_number="NPA-IDEM",
                                      contravention_code="C152", amount=Decimal("750.00"),
                                      served_on=date(2025, 11, 20), today=date(2025, 11, 20))
    appeal = services.appeal_create(actor=importer.bam, penalty=penalty, grounds="g")
    api = client_for(importer.bam)

    def pdf(name):
        return lambda: {"file": SimpleUploadedFile(name, PDF, content_type="application/pdf")}

    replayed_once(api, f"{API}/appeals/{appeal.pk}/documents/", pdf("ruling.pdf"), pdf("other.pdf"),
                  AppealDocument, key="doc-1", fmt="multipart")
    assert AppealDocument.objects.count() == 1

    appeal = services.appeal_submit(actor=importer.bam, appeal=appeal)
    appeal = services.appeal_acknowledge(actor=cbsa, appeal=appeal)
    services.appeal_assign(actor=cbsa, appeal=appeal, officer=cbsa)
    officer = client_for(cbsa)
    credits = LedgerEntry.objects.filter(amount__lt=0)
    replayed_once(officer, f"{API}/appeals/{appeal.pk}/decide/",
                  lambda: {"outcome": "allowed", "reasons": "Allowed."},
                  lambda: {"outcome": "partial", "reasons": "In part.", "amount": "100.00"}, Appeal,
                  key="decide-1", created=200)
    appeal.refresh_from_db()
    assert appeal.status == Appeal.Status.DECISION_RENDERED and appeal.outcome == "allowed"
    assert credits.count() == 1  # the allowed appeal's credit, once


# --- Web forms: carm_portal.idempotency.form_post (the payments page) ---------------------------------------


def test_the_payment_form_twice_with_its_key_records_one_payment(client, importer, account):
    from django.urls import reverse

    from billing.models import Payment

    client.force_login(importer.bam)
    page = client.get(reverse("billing-payments"))
    key = page.context["form"]["idempotency_key"].value()
    assert key and f'name="idempotency_key" value="{key}"' in page.content.decode()
    data = {"program_account": account.pk, "method": "online_banking", "reference": "EFT-IDEM",
            "amount": "125.50", "received_on": "2025-11-10", "idempotency_key": key}
    first = client.post(reverse("billing-payments"), data)
    again = client.post(reverse("billing-payments"), data)  # a double click, or a reload after a lost answer
    assert first.status_code == again.status_code == 302 and again["Location"] == first["Location"]
    assert Payment.objects.count() == 1 and ledger.balance(account) == Decimal("-125.50")
    other = client.post(reverse("billing-payments"), {**data, "amount": "99.00", "reference": "EFT-OTHER"})
    assert other.status_code == 200 and "different request" in other.content.decode()
    assert Payment.objects.count() == 1
    # A refused form keeps no claim: corrected, it goes through with the same key.
    fresh = {**data, "idempotency_key": "k-2", "amount": "-1"}
    assert client.post(reverse("billing-payments"), fresh).status_code == 200
    assert not IdempotentRequest.objects.filter(key="k-2").exists()
    assert client.post(reverse("billing-payments"), {**fresh, "amount": "10.00", "reference": "EFT-2"}).status_code == 302
    assert Payment.objects.count() == 2


def test_the_offsetting_page_forms_apply_and_ask_once_per_key(client, importer, account):
    from django.urls import reverse

    from billing.offsetting.models import Allocation, Refund

    credit = _entry(account, K.PAYMENT, "-1500.00", "cr-web")
    debt, other_debt = _entry(account, K.CAD_CHARGE, "50.00", "d-web"), _entry(account, K.CAD_CHARGE, "20.00", "d2")
    client.force_login(importer.bam)
    page = client.get(reverse("offsetting:credits"))
    assert 'name="idempotency_key"' in page.content.decode()
    apply = {"credit": credit.pk, "debts": [debt.pk], "idempotency_key": "web-apply"}
    first = client.post(reverse("offsetting:apply"), apply)
    again = client.post(reverse("offsetting:apply"), apply)
    assert first.status_code == again.status_code == 302 and Allocation.objects.count() == 1
    other = client.post(reverse("offsetting:apply"), {**apply, "debts": [other_debt.pk]})
    assert other.status_code == 400 and "different request" in other.content.decode()
    assert Allocation.objects.count() == 1

    rm2 = importer.program_accounts.order_by("number")[1]  # no debt left there: a refund may be asked
    _entry(rm2, K.PAYMENT, "-1500.00", "pay-rm2")
    ask = {"program_account": rm2.pk, "amount": "1000.00", "idempotency_key": "web-refund"}
    assert client.post(reverse("offsetting:refund-request"), ask).status_code == 302
    assert client.post(reverse("offsetting:refund-request"), ask).status_code == 302
    assert Refund.objects.count() == 1
