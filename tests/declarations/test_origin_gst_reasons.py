"""Issue 11, items 2-4: a treatment must fit the origin (and a preference claim records proof of
origin), GST follows each line's status (roasted coffee is non-taxable), and reason codes come from
the D17-2-1 reference table. Worked cases on the services, the web form, the API and the CSV import.

Worked example (carm-rules): US$10,000 at 1.3650 → VFD 13,650.00.
- Face cream, MFN 6.5 %, taxable: duty 887.25, GST 5 % × 14,537.25 = 726.86, D&T 1,614.11.
- T-shirts of Chinese origin, MFN 18 %: duty 2,457.00, GST 5 % × 16,107.00 = 805.35. UST (0 %) is refused.
- T-shirts of US origin, UST 0 % with proof of origin: duty 0.00, GST 5 % × 13,650.00 = 682.50.
- Roasted coffee (0901.21), MFN Free, non-taxable (ETA Schedule VII s.1): duty 0.00, GST 0.00.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from carm_portal.exceptions import ApplicationError
from declarations import services
from declarations.calculation import line_amounts
from declarations.csv_import import import_cads_csv
from declarations.models import CAD, CADVersion, GstStatus, ReasonCode, TariffTreatment
from tests import factories

from .conftest import FILED_ON, accepted_cad, file_cad, header, item, line
from .test_api import API, client_for, payload
from .test_csv_import import COLUMNS, row, to_csv
from .test_views import form_data, login

pytestmark = pytest.mark.django_db

T_SHIRTS_CN_UST = {"description": "Cotton T-shirts", "classification": "6109100011", "treatment": "UST",
                   "origin_country": "CN", "proof_of_origin": True}
T_SHIRTS_US_UST = {**T_SHIRTS_CN_UST, "origin_country": "US"}
COFFEE = {"description": "Roasted coffee", "classification": "0901210000", "treatment": "MFN", "origin_country": "CO"}


@pytest.fixture
def coffee(tariff):
    return item("0901210000", "Coffee, roasted, not decaffeinated", {"MFN": "0"}, unit="KGM",
                gst_status_id="S7-1")


def refused(call) -> dict[str, list[str]]:
    with pytest.raises(ApplicationError) as exc:
        call()
    return exc.value.field_errors


# --- Treatment by origin: services --------------------------------------------------------------------

def test_ust_on_chinese_t_shirts_is_refused_and_mfn_charges_the_duty(importer, account, tariff):
    errors = refused(lambda: file_cad(importer.bam, account, lines=[line(**T_SHIRTS_CN_UST)]))
    assert errors == {"lines.0.treatment": [
        "Tariff treatment UST cannot be claimed for goods originating in CN; it is for goods of PR, US."]}
    assert not CAD.objects.exists()

    cad = file_cad(importer.bam, account, lines=[line(**{**T_SHIRTS_CN_UST, "treatment": "MFN",
                                                         "proof_of_origin": False})])
    shirt = cad.lines.get()
    assert (shirt.vfd, shirt.duty, shirt.gst) == (Decimal("13650.00"), Decimal("2457.00"), Decimal("805.35"))


def test_ust_on_us_t_shirts_needs_proof_of_origin(importer, account, tariff):
    errors = refused(lambda: file_cad(importer.bam, account,
                                      lines=[line(**{**T_SHIRTS_US_UST, "proof_of_origin": False})]))
    assert errors == {"lines.0.proof_of_origin": ["Claiming UST requires proof of origin: confirm that it is on file."]}

    cad = file_cad(importer.bam, account, lines=[line(**T_SHIRTS_US_UST)])
    shirt = cad.lines.get()
    assert shirt.proof_of_origin and shirt.treatment_id == "UST"
    assert (shirt.duty, shirt.gst, cad.dt_total) == (Decimal("0.00"), Decimal("682.50"), Decimal("682.50"))


@pytest.mark.parametrize(("treatment", "origin", "ok"), [
    ("CEUT", "FR", True), ("CEUT", "DE", True), ("CEUT", "GB", False), ("UKT", "GB", True),
    ("MFN", "CN", True), ("MFN", "KP", False), ("MFN", "RU", False),
    ("CPTPT", "JP", True), ("CPTPT", "CN", False), ("MXT", "MX", True), ("MXT", "US", False),
])
def test_treatment_table_by_origin(importer, account, tariff, treatment, origin, ok):
    item("9999000001", "Test goods", {treatment: "0"})
    lines = [line(classification="9999000001", treatment=treatment, origin_country=origin, proof_of_origin=True)]
    if ok:
        assert file_cad(importer.bam, account, lines=lines).status == CAD.Status.SUBMITTED
    else:
        assert "lines.0.treatment" in refused(lambda: file_cad(importer.bam, account, lines=lines))


def test_a_draft_may_hold_the_mismatch_but_submission_refuses_it(importer, account, tariff):
    draft = services.cad_create_draft(actor=importer.bam, program_account=account, lines=[line(**T_SHIRTS_CN_UST)],
                                      today=FILED_ON, **header())
    assert draft.status == CAD.Status.DRAFT
    errors = refused(lambda: services.cad_submit(actor=importer.bam, cad=draft, today=FILED_ON))
    assert list(errors) == ["lines.0.treatment"]


def test_the_table_is_editable(importer, account, tariff):
    """An admin who adds a country to a treatment's list makes it claimable (here: UST for CA goods)."""
    lines = [line(**{**T_SHIRTS_US_UST, "origin_country": "CA"})]
    assert "lines.0.treatment" in refused(lambda: file_cad(importer.bam, account, lines=lines))
    ust = TariffTreatment.objects.get(code="UST")
    ust.origin_countries += " CA"
    ust.save()
    assert file_cad(importer.bam, account, lines=lines).lines.get().duty == Decimal("0.00")


def test_a_correction_to_an_ineligible_treatment_is_refused(importer, account, tariff, cbsa):
    cad = accepted_cad(importer.bam, account, cbsa, lines=[line(**{**T_SHIRTS_CN_UST, "treatment": "MFN"})])
    errors = refused(lambda: services.cad_amend(actor=importer.bam, cad=cad, lines=[line(**T_SHIRTS_CN_UST)],
                                                reason_codes=["R2-74-1-C11"], today=FILED_ON))
    assert list(errors) == ["lines.0.treatment"]
    assert CADVersion.objects.filter(cad=cad).count() == 1


# --- Treatment by origin: web, API, CSV ------------------------------------------------------------------

def test_web_form_shows_the_refusal_on_the_line(client, importer, account, tariff):
    login(client, importer.bam)
    response = client.post(reverse("cad_create"), form_data(account, [
        {**T_SHIRTS_CN_UST, "proof_of_origin": "on", "quantity": "100", "value_foreign": "10000.00"}], action="file"))
    assert response.status_code == 200
    assert response.context["formset"].forms[0].errors["treatment"] == [
        "Tariff treatment UST cannot be claimed for goods originating in CN; it is for goods of PR, US."]
    assert not CAD.objects.exists()
    # Without the box ticked, a US claim says what is missing.
    response = client.post(reverse("cad_create"), form_data(account, [
        {**T_SHIRTS_US_UST, "proof_of_origin": "", "quantity": "100", "value_foreign": "10000.00"}], action="file"))
    assert "proof_of_origin" in response.context["formset"].forms[0].errors
    response = client.post(reverse("cad_create"), form_data(account, [
        {**T_SHIRTS_US_UST, "proof_of_origin": "on", "quantity": "100", "value_foreign": "10000.00"}], action="file"))
    assert response.status_code == 302
    assert CAD.objects.get().lines.get().proof_of_origin


def test_api_refuses_the_mismatch_with_a_field_error(importer, account, tariff):
    api = client_for(importer.bam)
    response = api.post(f"{API}/cads/file/", payload(account, [line(**T_SHIRTS_CN_UST)]), format="json")
    assert response.status_code == 400
    assert "lines.0.treatment" in response.json()
    response = api.post(f"{API}/cads/file/", payload(account, [line(**T_SHIRTS_US_UST)]), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["lines"][0]["proof_of_origin"] is True and body["lines"][0]["gst"] == "682.50"
    treatments = {t["code"]: t for t in api.get(f"{API}/tariff-treatments/").json()}
    assert treatments["UST"]["countries"] == ["PR", "US"] and treatments["UST"]["proof_of_origin_required"]
    assert treatments["MFN"]["origin_rule"] == "except" and "KP" in treatments["MFN"]["countries"]


def test_csv_refuses_the_mismatch_on_its_row_and_column(importer, account, tariff):
    text = to_csv([
        row(account, cad_ref="A"),
        row(account, cad_ref="A", description="T-shirts", classification="6109100011", treatment="UST",
            origin_country="CN", proof_of_origin="yes"),
        row(account, cad_ref="B", description="T-shirts", classification="6109100011", treatment="UST",
            origin_country="US", proof_of_origin=""),
        row(account, cad_ref="C", proof_of_origin="maybe"),
    ])
    result = import_cads_csv(actor=importer.bam, file=text, program_account=account, today=FILED_ON)
    assert [(e.row, e.column) for e in result.errors] == [(3, "treatment"), (4, "proof_of_origin"),
                                                          (5, "proof_of_origin")]
    assert "UST cannot be claimed for goods originating in CN" in result.errors[0].message
    assert result.errors[2].message == "Enter yes or no."
    assert not CAD.objects.exists()

    good = to_csv([row(account, cad_ref="B", description="T-shirts", classification="6109100011", treatment="UST",
                       origin_country="US", proof_of_origin="yes")])
    result = import_cads_csv(actor=importer.bam, file=good, program_account=account, today=FILED_ON)
    assert result.ok, result.errors
    assert result.cads[0].dt_total == Decimal("682.50")


# --- GST status -----------------------------------------------------------------------------------------

def test_calculation_takes_the_gst_rate_of_the_status():
    taxable = line_amounts(value_foreign=Decimal("10000"), exchange_rate=Decimal("1.3650"), duty_rate=Decimal("0.065"))
    assert (taxable.vfd, taxable.duty, taxable.gst) == (Decimal("13650.00"), Decimal("887.25"), Decimal("726.86"))
    exempt = line_amounts(value_foreign=Decimal("10000"), exchange_rate=Decimal("1.3650"), duty_rate=Decimal("0"),
                          gst_rate=Decimal("0"))
    assert (exempt.vfd, exempt.duty, exempt.gst, exempt.duties_and_taxes) == (
        Decimal("13650.00"), Decimal("0.00"), Decimal("0.00"), Decimal("0.00"))


def test_roasted_coffee_is_not_charged_gst(importer, account, coffee, cbsa):
    cad = accepted_cad(importer.bam, account, cbsa, lines=[line(), line(**COFFEE)])
    cream, beans = cad.lines.order_by("line_no")
    assert (cream.gst_status_id, cream.gst) == (None, Decimal("726.86"))
    assert (beans.gst_status_id, beans.vfd, beans.gst) == ("S7-1", Decimal("13650.00"), Decimal("0.00"))
    assert (cad.gst_total, cad.dt_total) == (Decimal("726.86"), Decimal("1614.11"))
    # The ledger (and so the statement) carries the same GST.
    assert services.cad_ledger_total(cad) == Decimal("1614.11")
    from billing.ledger.models import LedgerEntry
    assert LedgerEntry.objects.get(kind=LedgerEntry.Kind.CAD_CHARGE).gst == Decimal("726.86")


def test_a_line_may_declare_its_gst_status(importer, account, coffee):
    cad = file_cad(importer.bam, account, lines=[line(gst_status="S7-1"), line(**COFFEE, gst_status="tax")])
    cream, beans = cad.lines.order_by("line_no")
    assert (cream.declared_gst_status, cream.gst_status_id, cream.gst) == ("S7-1", "S7-1", Decimal("0.00"))
    assert (beans.declared_gst_status, beans.gst_status_id, beans.gst) == ("TAX", "TAX", Decimal("682.50"))
    errors = refused(lambda: file_cad(importer.bam, account, lines=[line(gst_status="ZZ")]))
    assert errors == {"lines.0.gst_status": ["Unknown GST status ZZ."]}


def test_a_correction_of_the_gst_status_posts_the_difference(importer, account, tariff, cbsa):
    cad = accepted_cad(importer.bam, account, cbsa)
    version = services.cad_amend(actor=importer.bam, cad=cad, lines=[line(gst_status="S7-1")],
                                 reason_codes=["R2-74-1-E.VFD"], today=FILED_ON)
    assert version.kind == CADVersion.Kind.CORRECTION
    assert version.ledger_entry.amount == Decimal("-726.86")
    assert version.diff["lines"][0]["changes"]["gst_status"] == [None, "S7-1"]
    cad.refresh_from_db()
    assert cad.gst_total == Decimal("0.00") and services.cad_ledger_total(cad) == Decimal("887.25")


def test_gst_status_in_the_form_api_csv_and_pages(client, importer, account, coffee, cbsa):
    login(client, importer.bam)
    page = client.get(reverse("cad_create")).content.decode()
    assert 'name="lines-0-gst_status"' in page and "S7-1 – Non-taxable" in page
    response = client.post(reverse("cad_create"), form_data(account, [
        {**COFFEE, "quantity": "100", "value_foreign": "10000.00"}], action="file"))
    assert response.status_code == 302
    cad = CAD.objects.get()
    assert cad.gst_total == Decimal("0.00")
    detail = client.get(reverse("cad_detail", args=[cad.pk])).content.decode()
    assert 'data-gst-status="S7-1"' in detail

    api = client_for(importer.bam)
    body = api.post(f"{API}/cads/file/", payload(account, [line(**COFFEE)]), format="json").json()
    assert body["lines"][0]["gst_status"] == "S7-1" and body["gst_total"] == "0.00"
    statuses = {s["code"]: s for s in api.get(f"{API}/gst-statuses/").json()}
    assert statuses["S7-1"]["taxable"] is False and statuses["TAX"]["taxable"] is True
    assert api.get(f"{API}/tariff-items/0901210000/").json()["gst_status"] == "S7-1"

    text = to_csv([row(account, cad_ref="G", classification="0901210000", description="Coffee", gst_status=""),
                   row(account, cad_ref="G", gst_status="S7-1")], columns=[*COLUMNS, "gst_status"])
    result = import_cads_csv(actor=importer.bam, file=text, program_account=account, today=FILED_ON)
    assert result.ok, result.errors
    assert result.cads[0].gst_total == Decimal("0.00") and result.cads[0].dt_total == Decimal("887.25")


def test_the_migration_loaded_the_tables():
    """Loaded with the schema (migration 0003), with sources."""
    ust = TariffTreatment.objects.get(code="UST")
    assert ust.allows_origin("US") and not ust.allows_origin("CN") and ust.proof_of_origin_required
    assert "CUSMA" in ust.source
    assert not TariffTreatment.objects.get(code="MFN").proof_of_origin_required
    assert set(TariffTreatment.objects.get(code="CEUT").countries) >= {"FR", "DE", "HU", "IE"}
    assert len(TariffTreatment.objects.get(code="CEUT").countries) == 27
    assert GstStatus.objects.get(code="S7-1").taxable is False
    assert ReasonCode.objects.get(code="R2-74-1-C11").party == ReasonCode.Party.IMPORTER
    assert ReasonCode.objects.filter(party=ReasonCode.Party.CBSA).exists()


# --- Reason codes --------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("codes", "message"), [
    (["12"], "Unknown reason code 12: use an importer code of memo D17-2-1 Appendix A."),
    (["01"], "Unknown reason code 01: use an importer code of memo D17-2-1 Appendix A."),
    (["R1-59-1-A"], "Reason code R1-59-1-A is reserved for CBSA."),
    (["R2-74-1-E.VFD", "r2-74-1-e.vfd"], "Give each reason code once."),
    ([], "Give at least one reason code."),
])
def test_amendments_take_importer_codes_only(importer, account, tariff, cbsa, codes, message):
    cad = accepted_cad(importer.bam, account, cbsa)
    errors = refused(lambda: services.cad_amend(actor=importer.bam, cad=cad, lines=[line(value_foreign="9000.00")],
                                                reason_codes=codes, today=FILED_ON))
    assert errors == {"reason_codes": [message]}


def test_valid_codes_are_kept_in_their_order(importer, account, tariff, cbsa):
    cad = accepted_cad(importer.bam, account, cbsa)
    version = services.cad_amend(actor=importer.bam, cad=cad, lines=[line(value_foreign="9000.00")],
                                 reason_codes=["r2-74-1-e.vfd", "R2-74-1-E.TC"], today=FILED_ON)
    assert version.reason_codes == ["R2-74-1-E.VFD", "R2-74-1-E.TC"]


def test_an_inactive_code_is_refused(importer, account, tariff, cbsa):
    ReasonCode.objects.filter(code="R2-74-1-E.VFD").update(is_active=False)
    cad = accepted_cad(importer.bam, account, cbsa)
    errors = refused(lambda: services.cad_amend(actor=importer.bam, cad=cad, lines=[line(value_foreign="9000.00")],
                                                reason_codes=["R2-74-1-E.VFD"], today=FILED_ON))
    assert "reason_codes" in errors


def test_api_validates_reason_codes_and_lists_them(importer, account, tariff, cbsa):
    cad = accepted_cad(importer.bam, account, cbsa)
    api = client_for(importer.bam)
    response = api.post(f"{API}/cads/{cad.pk}/amend/", {"lines": [line(value_foreign="9000.00")],
                                                        "reason_codes": ["12"]}, format="json")
    assert response.status_code == 400
    assert response.json()["reason_codes"] == ["Unknown reason code 12: use an importer code of memo D17-2-1 "
                                               "Appendix A."]
    response = api.post(f"{API}/cads/{cad.pk}/withdraw/", {"reason": "x", "reason_codes": ["R1-59-1-A"]},
                        format="json")
    assert response.status_code == 400 and "reason_codes" in response.json()
    response = api.post(f"{API}/cads/{cad.pk}/amend/", {"lines": [line(value_foreign="9000.00")],
                                                        "reason_codes": ["R2-74-1-GR-53"]}, format="json")
    assert response.status_code == 201, response.content
    codes = {c["code"]: c for c in api.get(f"{API}/reason-codes/").json()}
    assert codes["R2-74-1-C11"]["party"] == "importer" and codes["R1-59-1-A"]["party"] == "cbsa"
    assert "74(1)(c.11)" in codes["R2-74-1-C11"]["description_en"]


def test_amend_form_offers_importer_codes_with_their_meaning(client, importer, account, tariff, cbsa):
    cad = accepted_cad(importer.bam, account, cbsa)
    login(client, importer.bam)
    html = client.get(reverse("cad_amend", args=[cad.pk])).content.decode()
    assert '<select name="reason_code_1"' in html
    assert "R3-32-2.VFD – s. 32.2 correction: value for duty" in html
    assert "R1-59-1-A" not in html  # reserved for CBSA: not offered
    face_cream = {"description": "Face cream", "classification": "3304990000", "treatment": "MFN",
                  "origin_country": "CN", "quantity": "100", "value_foreign": "9000.00"}
    response = client.post(reverse("cad_amend", args=[cad.pk]), form_data(account, [face_cream], reason_code_1="12"))
    assert response.status_code == 200 and "reason_code_1" in response.context["form"].errors
    response = client.post(reverse("cad_amend", args=[cad.pk]), form_data(
        account, [face_cream], reason_code_1="R2-74-1-E.VFD", reason_code_2="R2-74-1-E.TC"))
    assert response.status_code == 302
    assert CADVersion.objects.get(cad=cad, number=2).reason_codes == ["R2-74-1-E.VFD", "R2-74-1-E.TC"]


def test_admin_edits_the_tables(client, tariff):
    client.force_login(factories.make_user(is_staff=True, is_superuser=True))
    for name in ("tarifftreatment", "gststatus", "reasoncode"):
        assert client.get(reverse(f"admin:declarations_{name}_changelist")).status_code == 200
    url = reverse("admin:declarations_tarifftreatment_change", args=["UST"])
    assert client.get(url).status_code == 200
    ust = TariffTreatment.objects.get(code="UST")
    response = client.post(url, {"code": "UST", "name_en": ust.name_en, "name_fr": ust.name_fr, "sort_order": "20",
                                 "origin_rule": "only", "origin_countries": "us, pr x1", "source": ust.source,
                                 "proof_of_origin_required": "on"})
    assert response.status_code == 200 and "Not 2-letter country codes: X1" in response.content.decode()
    response = client.post(url, {"code": "UST", "name_en": ust.name_en, "name_fr": ust.name_fr, "sort_order": "20",
                                 "origin_rule": "only", "origin_countries": "us, pr", "source": ust.source,
                                 "proof_of_origin_required": "on"})
    assert response.status_code == 302
    assert TariffTreatment.objects.get(code="UST").origin_countries == "PR US"
