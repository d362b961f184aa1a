"""The CAD REST API: drafts with nested lines, submit, file, amend, withdraw, versions, CSV import,
lookups, Idempotency-Key, invalid CADs (400, nothing stored), constant query counts and the
404 gate for brokers without the CAD scopes. Real database, real requests, no mocks."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import AuditEvent, ProgramAccount
from billing.ledger.models import LedgerEntry
from carm_portal import reference_tables
from carm_portal.models import IdempotentRequest
from declarations import services
from declarations import transaction_numbers as tn
from declarations.models import CAD, CADLine, CADVersion
from tests import factories

from .conftest import FILED_ON, accepted_cad, file_cad, header, line

pytestmark = pytest.mark.django_db
API = "/api/v1"


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user=user)
    return client


def payload(account, lines=None, **overrides):
    body = {"program_account": account.pk, "release_date": "2025-11-03", "direct_shipment_date": "2025-11-01",
            "office_code": "0497", "transport_mode": "highway", "invoice_currency": "USD",
            "vendor_name": "Acme Corp", "invoice_number": "INV-1",
            "lines": lines or [{"description": "Face cream", "classification": "3304.99.00.00", "treatment": "MFN",
                                "origin_country": "CN", "quantity": "100", "value_foreign": "10000.00"}]}
    body.update(overrides)
    return body


def nothing_stored():
    return CAD.objects.count() == 0 and CADLine.objects.count() == 0 and IdempotentRequest.objects.count() == 0


@pytest.fixture
def today_is_filed_on(settings):
    """The API runs "today": CADs released on 2025-11-03 are in the past, which is all the rules need."""
    return FILED_ON


# --- Create, file, submit ------------------------------------------------------------------------------

def test_create_a_draft_with_nested_lines_then_patch_and_submit(importer, account, tariff):
    api = client_for(importer.bam)
    response = api.post(f"{API}/cads/", payload(account), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "draft" and len(body["transaction_number"]) == 14
    assert body["lines"][0]["duty"] == "887.25" and body["gst_total"] == "726.86"
    cad_id = body["id"]

    patched = api.patch(f"{API}/cads/{cad_id}/", {"office_code": "0809", "lines": [
        {"description": "Face cream", "classification": "3304990000", "treatment": "MFN", "origin_country": "CN",
         "value_foreign": "100.00"},
        {"description": "Laptops", "classification": "8471300000", "treatment": "UST", "origin_country": "US",
         "proof_of_origin": True, "value_foreign": "2000.00"},
    ]}, format="json")
    assert patched.status_code == 200, patched.content
    assert patched.json()["office_code"] == "0809" and len(patched.json()["lines"]) == 2

    submitted = api.post(f"{API}/cads/{cad_id}/submit/")
    assert submitted.status_code == 200, submitted.content
    assert submitted.json()["status"] == "submitted"
    # A submitted CAD is no longer a draft.
    assert api.patch(f"{API}/cads/{cad_id}/", {"office_code": "0497"}, format="json").status_code == 400


def test_file_creates_and_submits_in_one_call(importer, account, tariff, settings):
    settings.CARM = {**settings.CARM, "CAD_AUTO_ACCEPT": True}
    api = client_for(importer.bam)
    response = api.post(f"{API}/cads/file/", payload(account), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "accepted" and body["dt_total"] == "1614.11"
    assert body["versions"][0]["ledger_entry"]["amount"] == "1614.11"
    assert LedgerEntry.objects.get().amount == Decimal("1614.11")


def test_idempotency_key_on_create_file_and_submit(importer, account, tariff):
    api = client_for(importer.bam)
    first = api.post(f"{API}/cads/", payload(account), format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = api.post(f"{API}/cads/", payload(account), format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    # The original response again (carm_portal.idempotency), marked as a replay.
    assert first.status_code == again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert first.json() == again.json() and CAD.objects.count() == 1

    other_body = api.post(f"{API}/cads/", payload(account, office_code="0809"), format="json",
                          HTTP_IDEMPOTENCY_KEY="k-1")
    assert other_body.status_code == 409
    assert "different request" in other_body.json()["detail"]

    filed = api.post(f"{API}/cads/file/", payload(account), format="json", HTTP_IDEMPOTENCY_KEY="k-2")
    filed_again = api.post(f"{API}/cads/file/", payload(account), format="json", HTTP_IDEMPOTENCY_KEY="k-2")
    assert filed.status_code == filed_again.status_code == 201
    assert filed.json() == filed_again.json() and CAD.objects.count() == 2

    cad_id = first.json()["id"]
    s1 = api.post(f"{API}/cads/{cad_id}/submit/", HTTP_IDEMPOTENCY_KEY="k-3")
    s2 = api.post(f"{API}/cads/{cad_id}/submit/", HTTP_IDEMPOTENCY_KEY="k-3")
    assert s1.status_code == s2.status_code == 200 and s2.json() == s1.json() and s2.json()["status"] == "submitted"
    # The same key on another endpoint is another request: 409.
    assert api.post(f"{API}/cads/{cad_id}/submit/", HTTP_IDEMPOTENCY_KEY="k-2").status_code == 409
    # A different user may use the same key string: keys are per user.
    other = factories.add_member(importer)
    assert client_for(other).post(f"{API}/cads/", payload(account), format="json",
                                  HTTP_IDEMPOTENCY_KEY="k-1").status_code == 201


def _valid_number(importer) -> str:
    return tn.with_check_digit(tn.account_security_prefix(importer.bn9) + "99999999")


@pytest.mark.parametrize("case", [
    "unknown_classification", "negative_value", "unknown_treatment", "future_release", "bad_check_digit",
    "exporter_account",
])
def test_invalid_cads_answer_400_with_field_messages_and_store_nothing(case, importer, account, tariff):
    api = client_for(importer.bam)
    line_ = payload(account)["lines"][0]
    body = payload(account)
    expected_key = {
        "unknown_classification": "lines.0.classification", "negative_value": "lines.0.value_foreign",
        "unknown_treatment": "lines.0.treatment", "future_release": "release_date",
        "bad_check_digit": "transaction_number", "exporter_account": "program_account",
    }[case]
    if case == "unknown_classification":
        body["lines"] = [{**line_, "classification": "9999999999"}]
    elif case == "negative_value":
        body["lines"] = [{**line_, "value_foreign": "-10.00"}]
    elif case == "unknown_treatment":
        body["lines"] = [{**line_, "treatment": "XYZ"}]
    elif case == "future_release":
        body["release_date"] = (timezone.localdate() + timedelta(days=5)).isoformat()
    elif case == "bad_check_digit":
        good = _valid_number(importer)
        body["transaction_number"] = good[:-1] + str((int(good[-1]) + 1) % 10)
    elif case == "exporter_account":
        exporter = ProgramAccount.objects.create(business=importer, number=f"{importer.bn9}RM0009",
                                                 name="Exports", activity=ProgramAccount.Activity.EXPORTER)
        body["program_account"] = exporter.pk
    response = api.post(f"{API}/cads/file/", body, format="json", HTTP_IDEMPOTENCY_KEY=f"bad-{case}")
    assert response.status_code == 400, response.content
    errors = response.json()
    assert expected_key in errors, errors
    assert errors[expected_key] and all(isinstance(m, str) and m for m in errors[expected_key])
    assert nothing_stored()
    if case in ("unknown_classification", "unknown_treatment", "exporter_account"):
        # Refused as a draft too: such a value cannot even be stored.
        assert api.post(f"{API}/cads/", body, format="json").status_code == 400
        assert nothing_stored()


def test_a_valid_supplied_transaction_number_is_kept(importer, account, tariff):
    number = _valid_number(importer)
    response = client_for(importer.bam).post(f"{API}/cads/file/", payload(account, transaction_number=number),
                                             format="json")
    assert response.status_code == 201, response.content
    assert response.json()["transaction_number"] == number


def test_type_errors_are_field_errors(importer, account, tariff):
    api = client_for(importer.bam)
    response = api.post(f"{API}/cads/", payload(account, release_date="yesterday", lines=[{"value_foreign": "x"}]),
                        format="json")
    assert response.status_code == 400
    body = response.json()
    first_line = body["lines"][0] if isinstance(body["lines"], list) else body["lines"]["0"]
    assert "release_date" in body and "classification" in first_line and "value_foreign" in first_line
    assert nothing_stored()


# --- Amend, withdraw, versions -------------------------------------------------------------------------

def test_a_correction_lowering_the_duty_posts_a_credit(importer, account, tariff, settings):
    settings.CARM = {**settings.CARM, "CAD_AUTO_ACCEPT": True}
    api = client_for(importer.bam)
    release = (timezone.localdate() - timedelta(days=2)).isoformat()
    lines = [{"description": "Face cream", "classification": "3304990000", "treatment": "MFN",
              "origin_country": "CN", "quantity": "100", "value_foreign": "10000.00"}]
    cad = api.post(f"{API}/cads/file/", payload(account, lines, release_date=release, direct_shipment_date=release,
                                                invoice_currency="CAD"), format="json").json()
    response = api.post(f"{API}/cads/{cad['id']}/amend/", {
        "lines": [{**lines[0], "value_foreign": "8000.00"}], "reason_codes": ["R2-74-1-E.VFD"],
    }, format="json")
    assert response.status_code == 201, response.content
    version = response.json()
    assert version["kind"] == "correction" and version["status"] == "auto_approved"
    assert version["legal_basis"] == "s74"
    assert Decimal(version["ledger_entry"]["amount"]) < 0
    assert version["diff"]["lines"][0]["changes"]["value_foreign"] == ["10000.00", "8000.00"]
    versions = api.get(f"{API}/cads/{cad['id']}/versions/").json()
    assert [v["number"] for v in versions] == [1, 2]
    assert sum(Decimal(v["ledger_entry"]["amount"]) for v in versions) == Decimal(version["dt_total"])


def test_an_adjustment_waits_for_review_and_withdraw_reverses(importer, account, tariff, cbsa):
    cad = accepted_cad(importer.bam, account, cbsa)
    api = client_for(importer.bam)
    response = api.post(f"{API}/cads/{cad.pk}/amend/", {"lines": [line(value_foreign="12000.00")],
                                                        "reason_codes": ["R3-32-2.VFD"],
                                                        "reason_to_believe_date": timezone.localdate().isoformat()},
                        format="json")
    assert response.status_code == 201, response.content
    assert response.json()["kind"] == "adjustment" and response.json()["ledger_entry"] is None
    # Pending review: no second change, no withdrawal yet.
    assert api.post(f"{API}/cads/{cad.pk}/withdraw/", {"reason": "x"}, format="json").status_code == 400
    services.cad_adjustment_review(actor=cbsa, version=CADVersion.objects.get(cad=cad, number=2), approve=False,
                                   reason="No")
    withdrawn = api.post(f"{API}/cads/{cad.pk}/withdraw/", {"reason": "Duplicate"}, format="json")
    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "withdrawn"
    assert services.cad_ledger_total(cad) == 0


def test_amend_rules_answer_400(importer, account, tariff, cbsa):
    cad = accepted_cad(importer.bam, account, cbsa)
    api = client_for(importer.bam)
    response = api.post(f"{API}/cads/{cad.pk}/amend/", {"lines": [line(classification="6109100011")],
                                                        "reason_codes": ["R3-32-2.TC"]}, format="json")
    assert response.status_code == 400
    assert "reason_to_believe_date" in response.json()  # s.32.2 needs it
    assert CADVersion.objects.filter(cad=cad).count() == 1


# --- Lists, filters, query counts ------------------------------------------------------------------------

def test_list_filters_and_retrieve(importer, other_importer, account, tariff):
    user = importer.bam
    a = file_cad(user, account, office_code="0497")
    b = file_cad(user, account, office_code="0809")
    draft = services.cad_create_draft(actor=user, program_account=account, lines=[line()], today=FILED_ON,
                                      **header())
    theirs = file_cad(other_importer.bam, other_importer.program_accounts.get())
    api = client_for(user)

    def ids(**params):
        response = api.get(f"{API}/cads/", params)
        assert response.status_code == 200, response.content
        return {row["id"] for row in response.json()["results"]}

    assert ids() == {a.pk, b.pk, draft.pk}
    assert ids(office="0809") == {b.pk}
    assert ids(status="draft") == {draft.pk}
    assert ids(late="true") == {draft.pk}
    assert ids(search=a.transaction_number) == {a.pk}
    assert ids(released_from="2025-11-04") == set()
    assert ids(cad_type="regular", program_account=account.pk) == {a.pk, b.pk, draft.pk}
    assert api.get(f"{API}/cads/", {"status": "nope"}).status_code == 400
    detail = api.get(f"{API}/cads/{a.pk}/").json()
    assert detail["lines"][0]["classification"] == "3304990000" and detail["versions"] == []
    assert api.get(f"{API}/cads/{theirs.pk}/").status_code == 404


def test_list_runs_in_constant_queries(importer, account, tariff, broker):
    factories.make_delegation(importer, broker)
    api = client_for(broker.bam)

    def make(n):
        for _ in range(n):
            services.cad_file(actor=broker.bam, program_account=account, lines=[line(), line()], today=FILED_ON,
                              **header())

    make(2)
    with CaptureQueriesContext(connection) as small:
        assert api.get(f"{API}/cads/").status_code == 200
    make(20)
    with CaptureQueriesContext(connection) as big:
        response = api.get(f"{API}/cads/")
    assert response.json()["count"] == 22
    assert len(big) == len(small), [q["sql"] for q in big.captured_queries]
    assert response.json()["results"][0]["broker"]["bn9"] == broker.bn9


def test_lookups(importer, account, tariff):
    api = client_for(importer.bam)
    items = api.get(f"{API}/tariff-items/", {"search": "3304"}).json()["results"]
    assert [i["classification"] for i in items] == ["3304990000"]
    assert {r["treatment"]: r["rate"] for r in items[0]["rates"]}["MFN"] == "0.065000"
    assert api.get(f"{API}/tariff-items/", {"search": "laptop"}).json()["results"][0]["classification"] == "8471300000"
    assert api.get(f"{API}/tariff-items/6109100011/").json()["description_en"] == "T-shirts of cotton"
    rates = api.get(f"{API}/exchange-rates/", {"currency": "usd", "date_from": "2025-10-31",
                                               "date_to": "2025-11-03"}).json()["results"]
    assert [r["date"] for r in rates] == ["2025-11-03", "2025-10-31"] and rates[0]["rate"] == "1.365000"


# --- CSV import ------------------------------------------------------------------------------------------

CSV = ("cad_ref,release_date,direct_shipment_date,office_code,invoice_currency,description,classification,"
       "treatment,origin_country,proof_of_origin,quantity,value_foreign\n"
       "A,2025-11-03,2025-11-01,0497,USD,Face cream,3304.99.00.00,MFN,CN,,100,10000.00\n"
       "A,2025-11-03,2025-11-01,0497,USD,T-shirts,6109.10.00.11,UST,US,yes,10,100.00\n"
       "B,2025-11-03,2025-11-01,0497,USD,Laptops,8471.30.00.00,UST,US,yes,2,3000.00\n")


def test_csv_import(importer, account, tariff):
    api = client_for(importer.bam)
    response = api.post(f"{API}/cads/import/", {"file": SimpleUploadedFile("c.csv", CSV.encode()),
                                               "program_account": account.pk}, format="multipart")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["cad_count"] == 2 and body["line_count"] == 3 and len(body["cads"]) == 2

    bad = CSV.replace("8471.30.00.00", "8471") + "C,2025-11-03,2025-11-01,0497,USD,X,9999999999,MFN,CN,,1,1\n"
    response = api.post(f"{API}/cads/import/", {"file": SimpleUploadedFile("c.csv", bad.encode()),
                                               "program_account": account.pk}, format="multipart")
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert {(e["row"], e["column"]) for e in errors} == {(4, "classification"), (5, "classification")}
    assert CAD.objects.count() == 2


# --- The gate ----------------------------------------------------------------------------------------------

def test_a_broker_without_the_cad_scopes_gets_404_on_every_endpoint(importer, account, broker, tariff, cbsa):
    factories.make_delegation(importer, broker, cad_submit=False, adjust=False)
    cad = accepted_cad(importer.bam, account, cbsa)
    draft = services.cad_create_draft(actor=importer.bam, program_account=account, lines=[line()],
                                      today=FILED_ON, **header())
    api = client_for(broker.bam)
    assert api.get(f"{API}/program-accounts/").json()["count"] == 2  # the delegation itself works
    for url in (f"{API}/cads/", f"{API}/cads/{cad.pk}/", f"{API}/cads/{cad.pk}/versions/", f"{API}/tariff-items/",
                f"{API}/tariff-items/3304990000/", f"{API}/exchange-rates/"):
        assert api.get(url).status_code == 404, url
    for url, body in (
        (f"{API}/cads/", payload(account)), (f"{API}/cads/file/", payload(account)),
        (f"{API}/cads/{draft.pk}/submit/", {}), (f"{API}/cads/{cad.pk}/amend/", {"lines": [], "reason_codes": ["X"]}),
        (f"{API}/cads/{cad.pk}/withdraw/", {}), (f"{API}/cads/import/", {}),
    ):
        assert api.post(url, body, format="json").status_code == 404, url
    assert api.patch(f"{API}/cads/{draft.pk}/", {"office_code": "0809"}, format="json").status_code == 404
    draft.refresh_from_db()
    assert draft.status == CAD.Status.DRAFT and draft.office_code == "0497"


def test_a_broker_with_view_but_not_submit_cannot_file(importer, account, broker, tariff):
    factories.make_delegation(importer, broker, cad_submit=False)  # "adjust" only
    api = client_for(broker.bam)
    assert api.get(f"{API}/cads/").status_code == 200
    response = api.post(f"{API}/cads/file/", payload(account), format="json")
    assert response.status_code == 400 and "program_account" in response.json()  # not among its choices
    assert CAD.objects.count() == 0


def test_anonymous_is_refused(db):
    assert APIClient().get(f"{API}/cads/").status_code in (401, 403)


def test_filing_through_the_api_costs_few_queries(importer, account, tariff, settings):
    """POST /cads/file/ (auto-accepted, with an Idempotency-Key): the gate is evaluated once, the
    reference data comes from the per-process cache, the audit rows go in one INSERT, the ledger
    entry is inserted without a SELECT first (issue #15 item 4: 39 statements before)."""
    settings.CARM = {**settings.CARM, "CAD_AUTO_ACCEPT": True}
    # The fixtures' reference rows as if committed long ago: the process memo serves them (inside
    # the transaction that changed them, it would read them from the database every time).
    reference_tables.clear_local()
    api = client_for(importer.bam)
    assert api.post(f"{API}/cads/file/", payload(account), format="json",
                    HTTP_IDEMPOTENCY_KEY="warm-up").status_code == 201  # counters, content types
    with CaptureQueriesContext(connection) as ctx:
        response = api.post(f"{API}/cads/file/", payload(account), format="json", HTTP_IDEMPOTENCY_KEY="counted")
    assert response.status_code == 201, response.content
    assert response.json()["status"] == "accepted" and response.json()["dt_total"] == "1614.11"
    # 40 before: the gate built three times (then once per scope), treatments and GST statuses read
    # for each CAD, three audit INSERTs, a ledger SELECT before its INSERT, the response re-read (CAD,
    # lines, versions), the account's business read apart, a membership query to tell importer from
    # broker, the number counter read then written then the number looked up, the ledger's and the
    # idempotency claim's own savepoints. Left: 15 statements that read or write, 8 savepoint ones
    # (this test's transaction makes the outer one a savepoint too).
    assert len(ctx) == 23, "\n".join(q["sql"][:120] for q in ctx.captured_queries)
    assert sum(not q["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT")) for q in ctx.captured_queries) == 15
    # The response is the CAD as stored: what a GET of it answers.
    detail = api.get(f"{API}/cads/{response.json()['id']}/").json()
    assert response.json() == detail
    assert list(AuditEvent.objects.filter(target_id=str(detail["id"])).order_by("id").values_list("action", flat=True)) \
        == ["declarations.cad.created", "declarations.cad.submitted", "declarations.cad.accepted"]


def test_memoised_treatments_and_gst_statuses_follow_an_admin_edit(importer, account, tariff):
    from declarations.models import GstStatus, TariffTreatment
    from declarations.validation import ReferenceData

    reference_tables.clear_local()

    def ref():
        return ReferenceData.load(classifications=[], currencies=[], dates=[])

    assert ref().treatment_rules["UST"].origin_countries == "PR US"
    ust = TariffTreatment.objects.get(code="UST")
    ust.origin_countries = "US"
    ust.save()
    GstStatus.objects.filter(code="S7-1").delete()
    assert ref().treatment_rules["UST"].origin_countries == "US" and "S7-1" not in ref().gst_taxable
