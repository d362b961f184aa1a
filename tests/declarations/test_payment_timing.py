"""Pay-at-release ("cash") CADs, carm-rules §3 (declarations.payment_timing): worked cases.

Worked example 1's line (US$10,000 × 1.3650, MFN 6.5 %): D&T 1,614.11. Released Monday
2025-11-03, filed 2025-11-05: billing period 2025-10-18 → 2025-11-17, whose statement is due
2025-12-01 (worked example 3). Without RPP the 1,614.11 is due on release, 2025-11-03.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import ProgramAccount
from billing import overdue
from billing import services as billing_services
from billing.ledger import services as ledger
from billing.ledger.models import LedgerEntry
from billing.models import Statement
from billing.rpp import services as rpp_services
from carm_portal.models import InterestRate
from declarations import payment_timing, services
from declarations.csv_import import import_cads_csv
from declarations.models import CAD
from declarations.readiness import payment_timing_check
from tests import factories
from tests.clock import on

from .conftest import FILED_ON, RELEASE, accepted_cad, file_cad

pytestmark = pytest.mark.django_db

RPP = ProgramAccount.RppStatus
WORKED_DT = D("1614.11")
DEFERRED_DUE = date(2025, 12, 1)
API = "/api/v1"


def set_rpp(account: ProgramAccount, status: str) -> ProgramAccount:
    ProgramAccount.objects.filter(pk=account.pk).update(rpp_status=status)
    account.refresh_from_db()
    return account


@pytest.fixture
def account(importer):
    return importer.program_accounts.order_by("number").first()  # not enrolled (the default)


@pytest.fixture
def enrolled(importer):
    return set_rpp(importer.program_accounts.order_by("number").last(), RPP.ENROLLED)


@pytest.fixture
def nine_percent():
    """One rate, no waiver (the 2025 waiver row would hide the interest)."""
    InterestRate.objects.all().delete()
    InterestRate.objects.create(effective_from=date(2025, 1, 1), annual_rate=D("0.09"))


# --- The rule and the services ------------------------------------------------------------------

def test_not_enrolled_is_due_on_release(importer, account, tariff, cbsa):
    cad = file_cad(importer.bam, account)
    assert cad.payment_timing == CAD.PaymentTiming.ON_RELEASE and cad.pays_on_release
    assert cad.payment_due_date == RELEASE
    cad = services.cad_accept(actor=cbsa, cad=cad, today=FILED_ON)
    assert cad.dt_total == WORKED_DT and cad.billing_period == date(2025, 11, 17)
    assert cad.payment_due_date == RELEASE  # not the statement's 2025-12-01


def test_enrolled_stays_deferred_to_the_statement(importer, enrolled, tariff, cbsa):
    cad = accepted_cad(importer.bam, enrolled, cbsa)
    assert cad.payment_timing == CAD.PaymentTiming.DEFERRED and not cad.pays_on_release
    assert cad.payment_due_date == DEFERRED_DUE


@pytest.mark.parametrize("status", [RPP.SUSPENDED, RPP.REQUESTED, RPP.NOT_ENROLLED])
def test_suspended_requested_or_not_enrolled_is_cash(importer, account, tariff, status):
    cad = file_cad(importer.bam, set_rpp(account, status))
    assert cad.payment_timing == CAD.PaymentTiming.ON_RELEASE


def test_a_status_change_after_filing_does_not_change_the_cad(importer, account, enrolled, tariff, cbsa):
    cash = accepted_cad(importer.bam, account, cbsa)
    deferred = accepted_cad(importer.bam, enrolled, cbsa, invoice_number="INV-2")
    set_rpp(account, RPP.ENROLLED)
    set_rpp(enrolled, RPP.SUSPENDED)
    cash.refresh_from_db()
    deferred.refresh_from_db()
    assert (cash.payment_timing, cash.payment_due_date) == (CAD.PaymentTiming.ON_RELEASE, RELEASE)
    assert (deferred.payment_timing, deferred.payment_due_date) == (CAD.PaymentTiming.DEFERRED, DEFERRED_DUE)


def test_the_status_on_the_day_of_release_decides_not_the_status_at_filing(importer, account, enrolled, tariff):
    # Enrolled on 2025-11-03 (release), suspended 2025-11-04, CAD filed 2025-11-05: deferred.
    with on("2025-10-01"):
        rpp_services.enrolment_for(enrolled)
    with on("2025-11-04"):
        rpp_services.enrolment_set_status(actor=None, program_account=enrolled, status="suspended", reason="test")
    assert enrolled.rpp_status == RPP.SUSPENDED
    assert file_cad(importer.bam, enrolled).payment_timing == CAD.PaymentTiming.DEFERRED
    # Not enrolled on release, enrolment requested on 2025-11-04: still a cash CAD.
    with on("2025-11-04"):
        rpp_services.enrolment_set_status(actor=None, program_account=account, status="requested")
    assert file_cad(importer.bam, account, invoice_number="INV-2").payment_timing == CAD.PaymentTiming.ON_RELEASE
    # A change later on the release day itself counts: suspended during 2025-11-03 is cash.
    other = set_rpp(factories.make_business(accounts=1).program_accounts.get(), RPP.ENROLLED)
    rpp_services.enrolment_for(other)
    with on("2025-11-03", hour=15):
        rpp_services.enrolment_set_status(actor=None, program_account=other, status="suspended")
    assert payment_timing.timing_on(other, RELEASE) == CAD.PaymentTiming.ON_RELEASE
    assert payment_timing.timing_on(other, date(2025, 11, 2)) == CAD.PaymentTiming.DEFERRED


def test_a_draft_has_no_decision_until_submitted(importer, account, tariff):
    draft = services.cad_create_draft(actor=importer.bam, program_account=account, lines=[
        {"description": "Face cream", "classification": "3304990000", "treatment": "MFN", "origin_country": "CN",
         "quantity": "100", "value_foreign": "10000.00", "currency": "USD"}], today=FILED_ON,
        release_date=RELEASE, direct_shipment_date=date(2025, 11, 1), office_code="0497", invoice_currency="USD")
    assert draft.payment_timing == ""
    shown = payment_timing.shown(draft, today=FILED_ON)
    assert shown.on_release and shown.due_date == RELEASE and "2025-12-01" in shown.warning
    submitted = services.cad_submit(actor=importer.bam, cad=draft, today=FILED_ON)
    assert submitted.payment_timing == CAD.PaymentTiming.ON_RELEASE


def test_the_warning_says_what_enrolment_would_change():
    text = payment_timing.warning_text(RELEASE, CAD.Type.REGULAR, today=FILED_ON)
    assert text == ("This RM account is not enrolled in RPP: duties and taxes are due on release (2025-11-03). "
                    "Enrolment in RPP with security would defer them to the monthly statement due on 2025-12-01.")
    # A courier LVS released in November is billed on the 2025-12-17 statement, due 2025-12-31.
    assert payment_timing.deferred_due_date(RELEASE, CAD.Type.COURIER_LVS, today=FILED_ON) == date(2025, 12, 31)


# --- Ledger, interest, overdue (billing.overdue, billing.interest) ------------------------------------

def test_a_cash_cad_is_overdue_from_the_day_after_release_with_interest(importer, account, enrolled, tariff, cbsa,
                                                                         nine_percent):
    cad = accepted_cad(importer.bam, account, cbsa)
    other = accepted_cad(importer.bam, enrolled, cbsa, invoice_number="INV-2")
    # The charge is on the ledger in its period like any CAD charge (statements reconcile), and
    # its line on the statement says it was due on release.
    assert ledger.balance(account) == WORKED_DT
    charges = dict(LedgerEntry.objects.filter(kind=LedgerEntry.Kind.CAD_CHARGE).values_list("reference", "description"))
    assert charges == {cad.transaction_number: f"CAD {cad.transaction_number}, due on release 2025-11-03 (no RPP)",
                       other.transaction_number: f"CAD {other.transaction_number}"}
    assert overdue.overdue_amounts([account.pk, enrolled.pk], date(2025, 11, 3)) == {}
    assert overdue.overdue_amounts([account.pk, enrolled.pk], date(2025, 11, 4)) == {
        account.pk: (WORKED_DT, RELEASE)}
    billing_services.run_in_process(date(2025, 11, 17))
    # 2025-11-04 → 2025-11-17, 14 days: 1,614.11 × 0.09 × 14 / 365 = 5.5720 → 5.57; the enrolled
    # account's CAD is due 2025-12-01: no interest yet.
    cash = Statement.objects.get(program_account=account, period_end=date(2025, 11, 17))
    deferred = Statement.objects.get(program_account=enrolled, period_end=date(2025, 11, 17))
    assert (cash.charges, cash.interest, cash.penalties, cash.closing_balance) == (
        WORKED_DT, D("5.57"), D("0.00"), D("1619.68"))
    assert (deferred.charges, deferred.interest, deferred.closing_balance) == (WORKED_DT, D("0.00"), WORKED_DT)


def test_a_cash_cad_paid_a_week_after_release_pays_seven_days(importer, account, tariff, cbsa, nine_percent):
    accepted_cad(importer.bam, account, cbsa)
    ledger.post_entry(program_account=account, kind=LedgerEntry.Kind.PAYMENT, amount=-WORKED_DT,
                      effective_date=date(2025, 11, 10), posted_on=date(2025, 11, 10), idempotency_key="pay-cash")
    assert overdue.overdue_amounts([account.pk], date(2025, 11, 10)) == {}
    billing_services.run_in_process(date(2025, 11, 17))
    # 2025-11-04 → 2025-11-10 (the day paid counts), 7 days: 1,614.11 × 0.09 × 7 / 365 = 2.7860 → 2.79.
    statement = Statement.objects.get(program_account=account, period_end=date(2025, 11, 17))
    assert (statement.interest, statement.closing_balance) == (D("2.79"), D("2.79"))


def test_unpaid_cash_cad_keeps_accruing_into_the_next_period(client, importer, account, tariff, cbsa, nine_percent):
    cad = accepted_cad(importer.bam, account, cbsa)
    billing_services.run_in_process(date(2025, 11, 17))
    november = Statement.objects.get(program_account=account, period_end=date(2025, 11, 17))
    client.force_login(importer.bam)
    page = client.get(reverse("billing-statement-detail", args=[november.pk])).content.decode()
    assert f"CAD {cad.transaction_number}, due on release 2025-11-03 (no RPP)" in page
    billing_services.run_in_process(date(2025, 12, 17))
    december = Statement.objects.get(program_account=account, period_end=date(2025, 12, 17))
    # 2025-11-18 → 2025-12-01: the cash charge 1,614.11, 14 days → 5.5720;
    # 2025-12-02 → 2025-12-17: the November statement 1,619.68 overdue, 16 days → 6.3900;
    # 11.9620 → 11.96, plus the $200 late-payment penalty on the November statement.
    assert (december.interest, december.penalties) == (D("11.96"), D("200.00"))


# --- CSV, API, web -------------------------------------------------------------------------------

def test_csv_import_decides_per_account(importer, account, enrolled, tariff):
    rows = ["program_account,cad_ref,release_date,direct_shipment_date,office_code,invoice_currency,description,"
            "classification,treatment,origin_country,quantity,value_foreign"]
    for pa, ref in ((account, "A"), (enrolled, "B")):
        rows.append(f"{pa.number},{ref},2025-11-03,2025-11-01,0497,USD,Face cream,3304990000,MFN,CN,100,10000.00")
    result = import_cads_csv(actor=importer.bam, file="\n".join(rows).encode(), today=FILED_ON)
    assert result.ok, result.errors
    timing = dict(CAD.objects.values_list("program_account_id", "payment_timing"))
    assert timing == {account.pk: CAD.PaymentTiming.ON_RELEASE, enrolled.pk: CAD.PaymentTiming.DEFERRED}


def _payload(account, **overrides):
    body = {"program_account": account.pk, "release_date": "2025-11-03", "direct_shipment_date": "2025-11-01",
            "office_code": "0497", "transport_mode": "highway", "invoice_currency": "USD", "invoice_number": "INV-1",
            "lines": [{"description": "Face cream", "classification": "3304.99.00.00", "treatment": "MFN",
                       "origin_country": "CN", "quantity": "100", "value_foreign": "10000.00"}]}
    body.update(overrides)
    return body


def test_api_shows_timing_due_date_and_the_warning(importer, account, enrolled, tariff):
    api = APIClient()
    api.force_authenticate(user=importer.bam)
    with on("2025-11-05"):
        draft = api.post(f"{API}/cads/", _payload(account), format="json").json()
        assert (draft["payment_timing"], draft["payment_due_date"]) == ("on_release", "2025-11-03")
        assert draft["payment_warning"].startswith("This RM account is not enrolled in RPP")
        assert "2025-12-01" in draft["payment_warning"]
        filed = api.post(f"{API}/cads/file/", _payload(account, invoice_number="B"), format="json")
        assert filed.status_code == 201
        assert (filed.json()["payment_timing"], filed.json()["payment_due_date"]) == ("on_release", "2025-11-03")
        deferred = api.post(f"{API}/cads/file/", _payload(enrolled, invoice_number="C"), format="json").json()
        assert (deferred["payment_timing"], deferred["payment_due_date"], deferred["payment_warning"]) == (
            "deferred", "2025-12-01", "")
        listed = {c["id"]: c["payment_timing"] for c in api.get(f"{API}/cads/").json()["results"]}
    assert listed == {draft["id"]: "on_release", filed.json()["id"]: "on_release", deferred["id"]: "deferred"}


def test_a_broker_sees_the_warning_for_a_client_without_rpp(importer, account, broker, tariff):
    api = APIClient()
    api.force_authenticate(user=broker.bam)
    with on("2025-11-05"):
        factories.make_delegation(importer, broker, accounts=[account])
        body = api.post(f"{API}/cads/", _payload(account), format="json").json()
    assert body["payment_timing"] == "on_release" and "not enrolled in RPP" in body["payment_warning"]


def test_web_form_warns_before_filing_and_pages_show_it(client, importer, account, tariff):
    client.force_login(importer.bam)
    with on("2025-11-05"):
        page = client.get(reverse("cad_create")).content.decode()
        # Both RM accounts are not enrolled: one warning each, released today (2025-11-05), the
        # statement due 2025-12-01.
        assert page.count("data-payment-warning>") == 2
        assert "duties and taxes are due on release (2025-11-05)" in page and "due on 2025-12-01" in page
        cad = file_cad(importer.bam, account)
        detail = client.get(reverse("cad_detail", args=[cad.pk])).content.decode()
        listing = client.get(reverse("cad_list")).content.decode()
    assert 'data-payment="on_release"' in detail and "Due on release (no RPP)" in detail and "due 2025-11-03" in detail
    assert 'data-payment="on_release"' in listing


def test_web_form_has_no_warning_for_an_enrolled_account(client, importer, tariff):
    for pa in importer.program_accounts.all():
        set_rpp(pa, RPP.ENROLLED)
    client.force_login(importer.bam)
    with on("2025-11-05"):
        assert "data-payment-warning>" not in client.get(reverse("cad_create")).content.decode()


def test_a_broker_sees_the_warning_on_the_web_form(client, importer, account, broker, tariff):
    with on("2025-11-05"):
        factories.make_delegation(importer, broker, accounts=[account])
        client.force_login(broker.bam)
        page = client.get(reverse("cad_create")).content.decode()
    assert page.count("data-payment-warning>") == 1 and "not enrolled in RPP" in page


def test_list_page_query_count_does_not_grow_with_cash_cads(client, importer, account, enrolled, tariff,
                                                           django_assert_max_num_queries):
    client.force_login(importer.bam)
    with on("2025-11-05"):
        file_cad(importer.bam, account)
        file_cad(importer.bam, enrolled, invoice_number="INV-2")
        with django_assert_max_num_queries(40) as few:
            client.get(reverse("cad_list"))
        for i in range(6):
            file_cad(importer.bam, account if i % 2 else enrolled, invoice_number=f"INV-{i + 3}")
        with django_assert_max_num_queries(len(few)):
            client.get(reverse("cad_list"))


def test_readiness_says_what_enrolment_would_change(importer, account, enrolled, tariff):
    file_cad(importer.bam, account)
    items = payment_timing_check([account, enrolled], FILED_ON)
    cash, deferred = items[account.pk], items[enrolled.pk]
    assert not cash.ok and not cash.counts
    assert cash.detail == ("Without RPP, a CAD is pay-at-release: its duties and taxes are due on release. Enrolled "
                           "in RPP with security, a CAD released today would be billed on the monthly statement due "
                           "on 2025-12-01. 1 pay-at-release CAD filed so far.")
    assert cash.next_url == reverse("rpp:account", args=[account.pk])
    assert deferred.ok and "2025-12-01" in deferred.detail


def test_live_calculation_updates_the_warning_for_the_account_and_release_date(client, importer, account, enrolled,
                                                                               tariff):
    from .test_views import FACE_CREAM, form_data

    client.force_login(importer.bam)
    with on("2025-11-05"):
        cash = client.post(reverse("cad_calculate"), form_data(account, [FACE_CREAM])).json()
        deferred = client.post(reverse("cad_calculate"), form_data(enrolled, [FACE_CREAM])).json()
        nothing = client.post(reverse("cad_calculate"), form_data(account, [FACE_CREAM], program_account="")).json()
    assert cash["payment_warning"] == payment_timing.warning_text(RELEASE, CAD.Type.REGULAR, today=FILED_ON)
    assert "(2025-11-03)" in cash["payment_warning"] and "due on 2025-12-01" in cash["payment_warning"]
    assert deferred["payment_warning"] == ""
    assert nothing["payment_warning"] is None


def test_overdue_reads_cash_charges_in_constant_queries(importer, account, tariff, cbsa, django_assert_num_queries):
    accounts = [account]
    accepted_cad(importer.bam, account, cbsa)
    for _ in range(4):
        pa = factories.make_business(accounts=1).program_accounts.get()
        factories.add_member(pa.business, importer.bam)
        accepted_cad(importer.bam, pa, cbsa)
        accounts.append(pa)
    overdue.overdue_amounts([account.pk], date(2025, 11, 10))  # warm the content-type cache
    # The latest due statements, the cash-CAD charges, the payments and credits (no statement is
    # due yet: reading their rows is skipped).
    with django_assert_num_queries(3):
        one = overdue.overdue_amounts([account.pk], date(2025, 11, 10))
    with django_assert_num_queries(3):
        five = overdue.overdue_amounts([pa.pk for pa in accounts], date(2025, 11, 10))
    assert one == {account.pk: (WORKED_DT, RELEASE)}
    assert five == {pa.pk: (WORKED_DT, RELEASE) for pa in accounts}


def test_money_summary_counts_a_cash_cad_as_due_since_release(importer, account, enrolled, tariff, cbsa):
    """The money summary (billing/summary.py) follows the same rule: a cash CAD not yet on a statement is
    due from its release and overdue the next day; a deferred one waits for its statement."""
    from billing.summary import money_summary

    accepted_cad(importer.bam, account, cbsa)
    accepted_cad(importer.bam, enrolled, cbsa)
    on_release = money_summary([account.pk], today=RELEASE)
    assert (on_release.amount_due, on_release.overdue, on_release.due_date) == (WORKED_DT, D("0.00"), RELEASE)
    later = money_summary([account.pk], today=date(2025, 11, 10))
    assert (later.amount_due, later.overdue, later.overdue_since, later.not_yet_billed) == (
        WORKED_DT, WORKED_DT, RELEASE, D("0.00"))
    assert later.ageing["1-30"] == WORKED_DT
    deferred = money_summary([enrolled.pk], today=date(2025, 11, 10))
    assert (deferred.amount_due, deferred.overdue, deferred.not_yet_billed) == (D("0.00"), D("0.00"), WORKED_DT)
    ledger.post_entry(program_account=account, kind=LedgerEntry.Kind.PAYMENT, amount=-WORKED_DT,
                      effective_date=date(2025, 11, 10), posted_on=date(2025, 11, 10), idempotency_key="sum-pay")
    paid = money_summary([account.pk], today=date(2025, 11, 10))
    assert (paid.amount_due, paid.overdue, paid.balance) == (D("0.00"), D("0.00"), D("0.00"))
