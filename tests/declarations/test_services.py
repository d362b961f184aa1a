"""CAD write paths: drafts, submission rules, acceptance, corrections, adjustments, withdrawal."""

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.http import Http404
from django.test.utils import CaptureQueriesContext

from accounts.models import ProgramAccount
from billing.ledger import services as ledger
from billing.ledger.models import LedgerEntry
from carm_portal.exceptions import ApplicationError
from carm_portal.models import IdempotentRequest, InterestRate
from declarations import services
from declarations import transaction_numbers as tn
from declarations.models import CAD, CADLine, CADVersion
from tests import factories

from .conftest import (
    FILED_ON,
    RELEASE,
    SHIPPED,
    accepted_cad,
    file_cad,
    header,
    line,
    numbers_afresh,
)

pytestmark = pytest.mark.django_db


def nothing_stored():
    assert CAD.objects.count() == 0
    assert CADLine.objects.count() == 0
    assert LedgerEntry.objects.count() == 0
    assert IdempotentRequest.objects.count() == 0


def entries_sum(cad):
    return services.cad_ledger_total(cad)


# --- Drafts and submission ------------------------------------------------------------------------

def test_draft_gets_a_valid_number_due_date_and_computed_lines(importer, account, tariff):
    cad = services.cad_create_draft(actor=importer.bam, program_account=account, lines=[line()], today=FILED_ON,
                                    **header())
    assert cad.status == CAD.Status.DRAFT
    assert len(cad.transaction_number) == 14
    assert cad.transaction_number.startswith(tn.account_security_prefix(importer.bn9))
    tn.validate(cad.transaction_number)
    assert cad.due_date == date(2025, 11, 10)
    assert cad.broker is None and cad.filed_by == importer.bam
    stored = cad.lines.get()
    assert stored.exchange_rate == Decimal("1.365") and stored.duty_rate == Decimal("0.065")
    assert stored.unit == "KGM"  # the tariff item's unit of measure
    assert (stored.vfd, stored.duty, stored.gst) == (Decimal("13650.00"), Decimal("887.25"), Decimal("726.86"))
    assert cad.dt_total == Decimal("1614.11")


def test_submit_computes_from_the_tables_and_flags_nothing_late(importer, account, tariff):
    cad = file_cad(importer.bam, account)
    assert cad.status == CAD.Status.SUBMITTED and not cad.submitted_late
    assert (cad.vfd_total, cad.duty_total, cad.gst_total, cad.dt_total) == (
        Decimal("13650.00"), Decimal("887.25"), Decimal("726.86"), Decimal("1614.11"))
    assert not LedgerEntry.objects.exists()  # nothing owed until CBSA accepts


def test_late_submission_is_flagged(importer, account, tariff):
    cad = file_cad(importer.bam, account, today=date(2025, 11, 12))
    assert cad.submitted_late


def test_excise_duty_per_unit_and_two_lines(importer, account, tariff):
    cad = file_cad(importer.bam, account, lines=[
        line(),
        line(description="Red wine", classification="2204.21.41.00", treatment="CEUT", origin_country="FR", proof_of_origin=True,
             quantity="750", value_foreign="3000.00", currency="EUR"),
    ])
    wine = cad.lines.get(line_no=2)
    assert wine.exchange_rate == Decimal("1.51") and wine.vfd == Decimal("4530.00")
    assert wine.excise_duty == Decimal("576.08")  # 750 L × 0.7681
    assert wine.gst == Decimal("255.30")  # 5 % × (4530 + 576.08)
    assert cad.dt_total == Decimal("1614.11") + Decimal("576.08") + Decimal("255.30")


BAD_INPUTS = [
    ("unknown classification", {"lines": [line(classification="9999999999")]}, "lines.0.classification"),
    ("negative value", {"lines": [line(value_foreign="-10.00")]}, "lines.0.value_foreign"),
    ("unknown treatment", {"lines": [line(treatment="XYZ")]}, "lines.0.treatment"),
    ("no rate under that treatment", {"lines": [line(treatment="CEUT")]}, "lines.0.treatment"),
    ("release date in the future", {"release_date": FILED_ON + timedelta(days=1)}, "release_date"),
    ("bad check digit", {"transaction_number": "12345000000010"}, "transaction_number"),
    ("not 14 digits", {"transaction_number": "1234"}, "transaction_number"),
    ("duty rate mismatch", {"lines": [line(duty_rate="0.05")]}, "lines.0.duty_rate"),
    ("exchange rate mismatch", {"lines": [line(exchange_rate="1.40")]}, "lines.0.exchange_rate"),
    ("no exchange rate", {"lines": [line(currency="CHF")]}, "lines.0.exchange_rate"),
    ("shipped after release", {"direct_shipment_date": RELEASE + timedelta(days=1)}, "direct_shipment_date"),
    ("classification not 10 digits", {"lines": [line(classification="3304.99")]}, "lines.0.classification"),
    ("value not a number", {"lines": [line(value_foreign="ten")]}, "lines.0.value_foreign"),
    ("no lines", {"lines": []}, "lines"),
]


@pytest.mark.parametrize(("case", "change", "field"), BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
def test_invalid_cad_raises_with_field_errors_and_stores_nothing(importer, account, tariff, case, change, field):
    change = dict(change)
    lines = change.pop("lines", [line()])
    with pytest.raises(ApplicationError) as exc:
        services.cad_file(actor=importer.bam, program_account=account, lines=lines, today=FILED_ON,
                          idempotency_key="k-1", **header(**change))
    assert field in exc.value.field_errors, exc.value.field_errors
    assert all(isinstance(m, str) and m for m in exc.value.field_errors[field])
    nothing_stored()


def test_exporter_rm_account_cannot_file(importer, tariff):
    exporter = ProgramAccount.objects.create(business=importer, number=f"{importer.bn9}RM0009",
                                             activity=ProgramAccount.Activity.EXPORTER)
    with pytest.raises(ApplicationError) as exc:
        file_cad(importer.bam, exporter)
    assert "program_account" in exc.value.field_errors
    nothing_stored()


def test_every_problem_is_reported_at_once(importer, account, tariff):
    with pytest.raises(ApplicationError) as exc:
        file_cad(importer.bam, account, release_date=FILED_ON + timedelta(days=3),
                 lines=[line(value_foreign="-1"), line(treatment="CEUT", duty_rate="0.1")])
    assert {"release_date", "lines.0.value_foreign", "lines.1.treatment"} <= set(exc.value.field_errors)


def test_failed_submit_leaves_the_draft_as_it_was(importer, account, tariff):
    cad = services.cad_create_draft(actor=importer.bam, program_account=account, lines=[line(duty_rate="0.05")],
                                    today=FILED_ON, **header())
    before = (cad.status, cad.dt_total, list(cad.lines.values_list("duty_rate", "duty")))
    with pytest.raises(ApplicationError) as exc:
        services.cad_submit(actor=importer.bam, cad=cad, today=FILED_ON)
    assert "lines.0.duty_rate" in exc.value.field_errors
    cad.refresh_from_db()
    assert (cad.status, cad.dt_total, list(cad.lines.values_list("duty_rate", "duty"))) == before


def test_update_draft_then_submit(importer, account, tariff):
    cad = services.cad_create_draft(actor=importer.bam, program_account=account, lines=[line()], today=FILED_ON,
                                    **header(release_date=None))
    assert cad.due_date is None
    cad = services.cad_update_draft(actor=importer.bam, cad=cad, release_date="2025-11-03", today=FILED_ON,
                                    lines=[line(value_foreign="20000.00")])
    assert cad.due_date == date(2025, 11, 10) and cad.vfd_total == Decimal("27300.00")
    cad = services.cad_submit(actor=importer.bam, cad=cad, today=FILED_ON)
    assert cad.status == CAD.Status.SUBMITTED
    with pytest.raises(ApplicationError):
        services.cad_update_draft(actor=importer.bam, cad=cad, office_code="0453")


def test_supplied_transaction_number_is_kept_and_must_be_unique(importer, account, tariff):
    number = tn.with_check_digit("5432100000001")
    cad = file_cad(importer.bam, account, transaction_number=number)
    assert cad.transaction_number == number
    with pytest.raises(ApplicationError) as exc:
        file_cad(importer.bam, account, transaction_number=number)
    assert "transaction_number" in exc.value.field_errors


def test_a_number_typed_in_our_range_is_skipped_not_reused(importer, account, tariff):
    """A filer typed the number the counter would give next: the portal's next CAD takes the one
    after it (the unique index tells, no lookup before), and both CADs are stored."""
    prefix = numbers_afresh(tn.account_security_prefix(importer.bn9))
    typed = tn.with_check_digit(f"{prefix}{1:0{tn.COUNTER_DIGITS}d}")
    assert file_cad(importer.bam, account, transaction_number=typed).transaction_number == typed
    numbered = file_cad(importer.bam, account)
    assert numbered.transaction_number == tn.with_check_digit(f"{prefix}{2:0{tn.COUNTER_DIGITS}d}")
    assert CAD.objects.filter(transaction_number__in=[typed, numbered.transaction_number]).count() == 2


# --- Acceptance and the ledger ------------------------------------------------------------------------

def test_accept_posts_the_exact_charge(importer, account, tariff, cbsa):
    cad = accepted_cad(importer.bam, account, cbsa)
    assert cad.status == CAD.Status.ACCEPTED and cad.current_version == 1
    entry = LedgerEntry.objects.get()
    assert entry.kind == LedgerEntry.Kind.CAD_CHARGE
    assert (entry.amount, entry.duty, entry.gst, entry.sima) == (
        Decimal("1614.11"), Decimal("887.25"), Decimal("726.86"), Decimal("0.00"))
    assert entry.effective_date == RELEASE and entry.billing_period == date(2025, 11, 17)
    assert entry.source == cad and entry.reference == cad.transaction_number
    version = cad.versions.get()
    assert version.kind == CADVersion.Kind.ORIGINAL and version.ledger_entry == entry
    assert version.lines[0]["duty"] == "887.25"
    assert ledger.balance(account) == Decimal("1614.11")
    with pytest.raises(ApplicationError):
        services.cad_accept(actor=cbsa, cad=cad, today=FILED_ON)  # only once
    assert LedgerEntry.objects.count() == 1


def test_only_cbsa_staff_accept_or_reject(importer, account, tariff):
    cad = file_cad(importer.bam, account)
    with pytest.raises(Http404):
        services.cad_accept(actor=importer.bam, cad=cad)
    with pytest.raises(Http404):
        services.cad_reject(actor=importer.bam, cad=cad, reason="no")


def test_reject_then_fix_and_resubmit(importer, account, tariff, cbsa):
    cad = file_cad(importer.bam, account)
    with pytest.raises(ApplicationError):
        services.cad_reject(actor=cbsa, cad=cad, reason=" ")
    cad = services.cad_reject(actor=cbsa, cad=cad, reason="Wrong office")
    assert cad.status == CAD.Status.REJECTED and cad.rejection_reason == "Wrong office"
    cad = services.cad_update_draft(actor=importer.bam, cad=cad, office_code="0453", today=FILED_ON)
    assert cad.status == CAD.Status.DRAFT
    cad = services.cad_submit(actor=importer.bam, cad=cad, today=FILED_ON)
    assert cad.status == CAD.Status.SUBMITTED and cad.rejection_reason == ""


def test_auto_accept_setting(importer, account, tariff, settings):
    settings.CARM = {**settings.CARM, "CAD_AUTO_ACCEPT": True}
    cad = file_cad(importer.bam, account)
    assert cad.status == CAD.Status.ACCEPTED
    assert entries_sum(cad) == Decimal("1614.11")


# --- Corrections, adjustments, withdrawal ------------------------------------------------------------

def test_correction_lowering_duty_posts_the_negative_difference(importer, account, tariff, cbsa):
    cad = accepted_cad(importer.bam, account, cbsa)
    version = services.cad_amend(actor=importer.bam, cad=cad, lines=[line(treatment="UST", origin_country="US", proof_of_origin=True)],
                                 reason_codes=["R2-74-1-C11"], today=date(2025, 11, 20))
    assert version.kind == CADVersion.Kind.CORRECTION and version.status == CADVersion.Status.AUTO_APPROVED
    assert version.legal_basis == CADVersion.LegalBasis.S74  # lowers what is owed: a refund
    entry = version.ledger_entry
    assert entry.kind == LedgerEntry.Kind.CAD_CORRECTION
    # new: duty 0, GST 5 % × 13,650 = 682.50 → difference −887.25 duty, −44.36 GST
    assert (entry.duty, entry.gst, entry.amount) == (Decimal("-887.25"), Decimal("-44.36"), Decimal("-931.61"))
    assert entry.billing_period == date(2025, 11, 17)  # filed before the 25th: same SOA
    cad.refresh_from_db()
    assert cad.current_version == 2 and cad.dt_total == Decimal("682.50")
    assert entries_sum(cad) == cad.dt_total == version.dt_total
    assert cad.lines.get().treatment_id == "UST"
    assert version.diff["lines"][0]["changes"]["treatment"] == ["MFN", "UST"]
    assert version.diff["totals"]["duties_and_taxes"] == ["1614.11", "682.50", "-931.61"]


def test_successive_versions_net_out_exactly(importer, account, tariff, cbsa):
    cad = accepted_cad(importer.bam, account, cbsa, lines=[line(), line(description="T-shirts",
                       classification="6109100011", value_foreign="2345.67")])
    assert entries_sum(cad) == cad.dt_total
    steps = [
        # raise the value (s.32.2: needs a reason-to-believe date)
        {"lines": [line(value_foreign="12000.00"),
                   line(description="T-shirts", classification="6109100011", value_foreign="2345.67")],
         "legal_basis": "s32_2", "reason_to_believe_date": date(2025, 11, 10), "today": date(2025, 11, 12)},
        # drop a line (lowers: s.74)
        {"lines": [line(value_foreign="12000.00")], "today": date(2025, 11, 14)},
        # reclassify at a higher rate, after the 25th: still a correction, next SOA
        {"lines": [line(value_foreign="12000.00", classification="6109100011")], "legal_basis": "s32_2",
         "reason_to_believe_date": date(2025, 11, 20), "today": date(2025, 11, 27)},
    ]
    for step in steps:
        today = step.pop("today")
        version = services.cad_amend(actor=importer.bam, cad=cad, reason_codes=["R2-74-1-C11"], today=today, **step)
        cad.refresh_from_db()
        assert version.kind == CADVersion.Kind.CORRECTION
        assert entries_sum(cad) == cad.dt_total == version.dt_total
        assert sum(ln.duties_and_taxes for ln in cad.lines.all()) == cad.dt_total
    assert cad.current_version == 4
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.CAD_CORRECTION).count() == 3
    assert LedgerEntry.objects.order_by("id").last().billing_period == date(2025, 12, 17)


def test_nothing_changed_is_refused(importer, account, tariff, cbsa):
    cad = accepted_cad(importer.bam, account, cbsa)
    with pytest.raises(ApplicationError) as exc:
        services.cad_amend(actor=importer.bam, cad=cad, lines=[line()], reason_codes=["R2-74-1-C11"], today=FILED_ON)
    assert "lines" in exc.value.field_errors


def test_amendment_checks_reason_codes_and_lines(importer, account, tariff, cbsa):
    cad = accepted_cad(importer.bam, account, cbsa)
    with pytest.raises(ApplicationError) as exc:
        services.cad_amend(actor=importer.bam, cad=cad, lines=[line(value_foreign="-5")], reason_codes=[],
                           today=FILED_ON)
    assert {"reason_codes", "lines.0.value_foreign"} <= set(exc.value.field_errors)
    with pytest.raises(ApplicationError) as exc:
        services.cad_amend(actor=importer.bam, cad=cad, lines=[line(treatment="UST")],
                           reason_codes=["1", "2", "3", "4"], today=FILED_ON)
    assert "reason_codes" in exc.value.field_errors
    assert CADVersion.objects.count() == 1 and LedgerEntry.objects.count() == 1


@pytest.mark.parametrize(("filed_on", "kind"), [
    (date(2025, 11, 30), CADVersion.Kind.CORRECTION),  # the day before the due date (2025-12-01)
    (date(2025, 12, 1), CADVersion.Kind.ADJUSTMENT),   # *on* the due date: no longer "before" it
])
def test_a_correction_is_filed_before_the_payment_due_date(importer, account, tariff, cbsa, filed_on, kind):
    cad = accepted_cad(importer.bam, account, cbsa)
    assert cad.billing_period == date(2025, 11, 17)  # payment due 2025-12-01
    version = services.cad_amend(actor=importer.bam, cad=cad, lines=[line(value_foreign="9000.00")],
                                 reason_codes=["R2-74-1-C11"], today=filed_on)
    assert version.kind == kind


def test_a_courier_lvs_cad_released_in_december_is_billed_on_the_january_statement(importer, account, tariff, cbsa):
    released = date(2025, 12, 5)
    lvs = accepted_cad(importer.bam, account, cbsa, cad_type=CAD.Type.COURIER_LVS, release_date=released,
                       direct_shipment_date=released, today=date(2025, 12, 8))
    regular = accepted_cad(importer.bam, account, cbsa, release_date=released, direct_shipment_date=released,
                           today=date(2025, 12, 8), invoice_number="INV-2")
    # Calendar-month cycle: December's courier CADs are accounted by 2026-01-24 and billed with the
    # period ending 2026-01-17 (statement 2026-01-25); a regular CAD of 12-05 is on December's.
    assert (lvs.due_date, lvs.billing_period) == (date(2026, 1, 24), date(2026, 1, 17))
    assert (regular.due_date, regular.billing_period) == (date(2025, 12, 12), date(2025, 12, 17))
    charge = LedgerEntry.objects.get(source_id=lvs.pk, kind=LedgerEntry.Kind.CAD_CHARGE)
    assert charge.billing_period == date(2026, 1, 17)
    # Its free-correction window follows its own statement: due 2026-01-30 (17th a Saturday: 19–23, 26–30).
    from declarations import deadlines

    assert deadlines.correction_last_day(lvs) == date(2026, 1, 29)


def test_adjustment_after_the_payment_due_date_waits_for_review(importer, account, tariff, cbsa):
    cad = accepted_cad(importer.bam, account, cbsa)
    version = services.cad_amend(actor=importer.bam, cad=cad, lines=[line(value_foreign="11000.00")],
                                 reason_codes=["R3-32-2.VFD"], legal_basis="s32_2", reason_to_believe_date=date(2025, 11, 28),
                                 remarks="Invoice revised", today=date(2025, 12, 2))
    assert version.kind == CADVersion.Kind.ADJUSTMENT and version.status == CADVersion.Status.PENDING_REVIEW
    cad.refresh_from_db()
    assert cad.current_version == 1 and cad.dt_total == Decimal("1614.11")
    assert LedgerEntry.objects.count() == 1  # nothing posted before CBSA decides
    with pytest.raises(ApplicationError):  # one pending adjustment at a time
        services.cad_amend(actor=importer.bam, cad=cad, lines=[line(value_foreign="12000.00")],
                           reason_codes=["R3-32-2.VFD"], legal_basis="s32_2", reason_to_believe_date=date(2025, 11, 28),
                           today=date(2025, 12, 3))
    with pytest.raises(Http404):
        services.cad_adjustment_review(actor=importer.bam, version=version, approve=True)
    version = services.cad_adjustment_review(actor=cbsa, version=version, approve=True, today=date(2025, 12, 19))
    assert version.status == CADVersion.Status.APPROVED and version.reviewed_by == cbsa
    cad.refresh_from_db()
    entry = version.ledger_entry
    assert entry.kind == LedgerEntry.Kind.CAD_ADJUSTMENT
    assert entry.billing_period == date(2026, 1, 17)  # the SOA of the month it is approved
    # VFD 15,015.00, duty 975.98, GST 799.55 → +161.42
    assert entry.amount == Decimal("161.42")
    assert entries_sum(cad) == cad.dt_total == Decimal("1775.53")
    # Payable since 2025-12-02, but 2025 is under the transition waiver (a 0% rate row): no interest.
    assert not LedgerEntry.objects.filter(kind=LedgerEntry.Kind.INTEREST).exists()
    with pytest.raises(ApplicationError):
        services.cad_adjustment_review(actor=cbsa, version=version, approve=False, reason="late")


def test_rejected_adjustment_posts_nothing(importer, account, tariff, cbsa):
    cad = accepted_cad(importer.bam, account, cbsa)
    version = services.cad_amend(actor=importer.bam, cad=cad, lines=[line(treatment="UST", origin_country="US", proof_of_origin=True)],
                                 reason_codes=["R2-74-1-C11"], today=date(2025, 12, 5))
    with pytest.raises(ApplicationError):
        services.cad_adjustment_review(actor=cbsa, version=version, approve=False, reason="")
    version = services.cad_adjustment_review(actor=cbsa, version=version, approve=False,
                                             reason="Origin not proven", today=date(2025, 12, 10))
    assert version.status == CADVersion.Status.REJECTED and version.ledger_entry is None
    cad.refresh_from_db()
    assert cad.current_version == 1 and entries_sum(cad) == cad.dt_total == Decimal("1614.11")
    # After a rejection a new adjustment may be filed.
    again = services.cad_amend(actor=importer.bam, cad=cad, lines=[line(treatment="UST", origin_country="US", proof_of_origin=True)],
                               reason_codes=["R2-74-1-C11"], today=date(2025, 12, 11))
    assert again.number == 3 and again.base_number == 1


@pytest.mark.parametrize(("rpp_status", "expected"), [
    # RPP: payable on the statement's due date 2025-12-01:
    # 161.42 × 9 % × 30 days (2025-12-02 … 12-31) / 365 = 1.19
    ("enrolled", Decimal("1.19")),
    # No RPP, a pay-at-release CAD (declarations.payment_timing): payable on release 2025-11-03:
    # 161.42 × 9 % × 58 days (2025-11-04 … 12-31) / 365 = 2.3085 → 2.31
    ("not_enrolled", Decimal("2.31")),
])
def test_upward_adjustment_carries_interest_from_the_day_after_the_original_due_date(importer, account, tariff, cbsa,
                                                                                    rpp_status, expected):
    InterestRate.objects.all().delete()  # no waiver: 9 % throughout
    InterestRate.objects.create(effective_from=date(2025, 10, 1), annual_rate=Decimal("0.09"))
    account.rpp_status = rpp_status
    account.save(update_fields=["rpp_status"])
    cad = accepted_cad(importer.bam, account, cbsa)
    version = services.cad_amend(actor=importer.bam, cad=cad, lines=[line(value_foreign="11000.00")],
                                 reason_codes=["R3-32-2.VFD"], legal_basis="s32_2", reason_to_believe_date=date(2025, 12, 1),
                                 today=date(2025, 12, 2))
    services.cad_adjustment_review(actor=cbsa, version=version, approve=True, today=date(2025, 12, 31))
    interest = LedgerEntry.objects.get(kind=LedgerEntry.Kind.INTEREST)
    assert interest.amount == expected and interest.other == expected
    cad.refresh_from_db()
    assert entries_sum(cad) == cad.dt_total  # interest is not duty: it hangs on the version


def test_s32_2_correction_within_90_days_of_reason_to_believe(importer, account, tariff, cbsa):
    cad = accepted_cad(importer.bam, account, cbsa)
    raised = [line(value_foreign="10500.00")]
    with pytest.raises(ApplicationError) as exc:  # a VFD change is s.32.2: the date is required
        services.cad_amend(actor=importer.bam, cad=cad, lines=raised, reason_codes=["R3-32-2.VFD"], today=FILED_ON)
    assert list(exc.value.field_errors) == ["reason_to_believe_date"]
    with pytest.raises(ApplicationError) as exc:
        services.cad_amend(actor=importer.bam, cad=cad, lines=raised, reason_codes=["R3-32-2.VFD"], legal_basis="other",
                           today=FILED_ON)
    assert "legal_basis" in exc.value.field_errors
    today = date(2026, 3, 1)
    with pytest.raises(ApplicationError) as exc:
        services.cad_amend(actor=importer.bam, cad=cad, lines=raised, reason_codes=["R3-32-2.VFD"], legal_basis="s32_2",
                           reason_to_believe_date=today - timedelta(days=91), today=today)
    assert "90 days" in exc.value.field_errors["reason_to_believe_date"][0]
    version = services.cad_amend(actor=importer.bam, cad=cad, lines=raised, reason_codes=["R3-32-2.VFD"],
                                 legal_basis="s32_2", reason_to_believe_date=today - timedelta(days=90), today=today)
    assert version.legal_basis == "s32_2" and version.kind == CADVersion.Kind.ADJUSTMENT


def test_s74_refund_only_within_4_years_of_the_accounting_date(importer, account, tariff, cbsa):
    release = date(2021, 11, 3)
    # Released 2021-11-03, accounted (accepted) on 2021-11-05: s.74 counts from the accounting date.
    with time_machine.travel(datetime(2021, 11, 5, 12, tzinfo=ZoneInfo("America/Toronto")), tick=False):
        cad = accepted_cad(importer.bam, account, cbsa, release_date=release, direct_shipment_date=release,
                           today=date(2021, 11, 5))
    assert cad.accounting_date == date(2021, 11, 5)
    lower = [line(treatment="UST", origin_country="US", proof_of_origin=True)]
    with pytest.raises(ApplicationError) as exc:
        services.cad_amend(actor=importer.bam, cad=cad, lines=lower, reason_codes=["R2-74-1-C11"], today=date(2025, 11, 6))
    assert "4 years" in exc.value.field_errors["legal_basis"][0]
    # 2025-11-05 is past 4 years from the release, but not from the accounting date.
    version = services.cad_amend(actor=importer.bam, cad=cad, lines=lower, reason_codes=["R2-74-1-C11"],
                                 today=date(2025, 11, 5))
    assert version.legal_basis == "s74" and version.status == CADVersion.Status.PENDING_REVIEW
    services.cad_adjustment_review(actor=cbsa, version=version, approve=False, reason="no", today=date(2025, 11, 5))
    with pytest.raises(ApplicationError) as exc:  # s.74 is for refunds only
        services.cad_amend(actor=importer.bam, cad=cad, lines=[line(value_foreign="10001")], reason_codes=["R2-74-1-C11"],
                           legal_basis="s74", reason_to_believe_date=date(2025, 11, 1), today=date(2025, 11, 6))
    assert "refunds" in exc.value.field_errors["legal_basis"][0]


def test_withdrawal_reverses_the_whole_charge_with_one_entry(importer, account, tariff, cbsa):
    cad = accepted_cad(importer.bam, account, cbsa)
    services.cad_amend(actor=importer.bam, cad=cad, lines=[line(value_foreign="9000.00")], reason_codes=["R2-74-1-C11"],
                       today=date(2025, 11, 6))
    cad = services.cad_withdraw(actor=importer.bam, cad=cad, reason="Goods exported", today=date(2025, 11, 7))
    assert cad.status == CAD.Status.WITHDRAWN and cad.dt_total == 0
    withdrawal = LedgerEntry.objects.get(kind=LedgerEntry.Kind.CAD_WITHDRAWAL)
    assert withdrawal.amount == Decimal("-1452.71")
    assert entries_sum(cad) == Decimal("0.00")
    assert ledger.balance(account) == Decimal("0.00")
    assert cad.versions.order_by("number").last().kind == CADVersion.Kind.WITHDRAWAL
    assert not cad.lines.exists()
    with pytest.raises(ApplicationError):
        services.cad_withdraw(actor=importer.bam, cad=cad, today=date(2025, 11, 7))
    with pytest.raises(ApplicationError):
        services.cad_amend(actor=importer.bam, cad=cad, lines=[line()], reason_codes=["R2-74-1-C11"], today=FILED_ON)


def test_withdrawing_a_draft_posts_nothing(importer, account, tariff):
    cad = services.cad_create_draft(actor=importer.bam, program_account=account, lines=[line()], today=FILED_ON,
                                    **header())
    cad = services.cad_withdraw(actor=importer.bam, cad=cad)
    assert cad.status == CAD.Status.WITHDRAWN and not LedgerEntry.objects.exists()


# --- Idempotency ------------------------------------------------------------------------------------------

def test_same_idempotency_key_gives_the_same_cad(importer, account, tariff):
    kwargs = dict(actor=importer.bam, program_account=account, lines=[line()], today=FILED_ON, **header())
    first = services.cad_create_draft(idempotency_key="abc-1", **kwargs)
    second = services.cad_create_draft(idempotency_key="abc-1", **kwargs)
    assert first.pk == second.pk and CAD.objects.count() == 1
    with pytest.raises(ApplicationError) as exc:  # same key, different request
        services.cad_create_draft(idempotency_key="abc-1", **{**kwargs, "office_code": "0453"})
    assert "idempotency_key" in exc.value.field_errors
    other_user = factories.add_member(importer)
    third = services.cad_create_draft(idempotency_key="abc-1", **{**kwargs, "actor": other_user})
    assert third.pk != first.pk  # keys are per user

    submitted = services.cad_submit(actor=importer.bam, cad=first, idempotency_key="sub-1", today=FILED_ON)
    again = services.cad_submit(actor=importer.bam, cad=first, idempotency_key="sub-1", today=FILED_ON)
    assert submitted.pk == again.pk and again.status == CAD.Status.SUBMITTED


@pytest.mark.parametrize("auto_accept", [False, True], ids=["submitted", "auto_accepted"])
def test_filing_costs_the_same_queries_for_3_or_30_lines(importer, account, tariff, settings, auto_accept):
    """cad_file loads the reference data once and inserts the lines in bulk: constant in the lines."""
    settings.CARM = {**settings.CARM, "CAD_AUTO_ACCEPT": auto_accept}

    def queries_to_file(n, key):
        with CaptureQueriesContext(connection) as ctx:
            services.cad_file(actor=importer.bam, program_account=account, lines=[line() for _ in range(n)],
                              today=FILED_ON, idempotency_key=key, **header())
        return len(ctx)

    queries_to_file(1, "warm-up")  # first-time work: the number counter row, cached content types
    three, thirty = queries_to_file(3, "three"), queries_to_file(30, "thirty")
    assert three == thirty, (three, thirty)
    assert three <= 29  # auto-accepted: 46 when it chained cad_create_draft and cad_submit, 32, 29 now
    assert CADLine.objects.filter(cad=IdempotentRequest.objects.get(key="thirty").response_body["cad"]).count() == 30


def test_cad_file_with_a_key_is_idempotent(importer, account, tariff):
    kwargs = dict(actor=importer.bam, program_account=account, lines=[line()], today=FILED_ON, **header())
    first = services.cad_file(idempotency_key="file-1", **kwargs)
    second = services.cad_file(idempotency_key="file-1", **kwargs)
    assert first.pk == second.pk and CAD.objects.count() == 1
    assert IdempotentRequest.objects.get(key="file-1").response_body == {"cad": first.pk}


# --- Access ---------------------------------------------------------------------------------------------------

def test_broker_without_cad_scopes_gets_404_everywhere(importer, account, broker, tariff, cbsa):
    factories.make_delegation(importer, broker, cad_submit=False, adjust=False)
    cad = accepted_cad(importer.bam, account, cbsa)
    draft = services.cad_create_draft(actor=importer.bam, program_account=account, lines=[line()], today=FILED_ON,
                                      **header())
    with pytest.raises(Http404):
        services.cad_create_draft(actor=broker.bam, program_account=account, lines=[line()], **header())
    with pytest.raises(Http404):
        services.cad_file(actor=broker.bam, program_account=account, lines=[line()], idempotency_key="x", **header())
    with pytest.raises(Http404):
        services.cad_update_draft(actor=broker.bam, cad=draft, office_code="0453")
    with pytest.raises(Http404):
        services.cad_submit(actor=broker.bam, cad=draft)
    with pytest.raises(Http404):
        services.cad_amend(actor=broker.bam, cad=cad, lines=[line(treatment="UST")], reason_codes=["R2-74-1-C11"])
    with pytest.raises(Http404):
        services.cad_withdraw(actor=broker.bam, cad=cad)
    with pytest.raises(Http404):
        services.cad_withdraw(actor=broker.bam, cad=draft)
    assert CAD.objects.count() == 2 and IdempotentRequest.objects.count() == 0


def test_broker_with_submit_but_not_adjust_scope(importer, account, broker, tariff, cbsa):
    factories.make_delegation(importer, broker, cad_submit=True, adjust=False)
    cad = file_cad(broker.bam, account)
    assert cad.broker == broker
    assert cad.transaction_number.startswith(tn.account_security_prefix(broker.bn9))
    cad = services.cad_accept(actor=cbsa, cad=cad, today=FILED_ON)
    with pytest.raises(Http404):
        services.cad_amend(actor=broker.bam, cad=cad, lines=[line(treatment="UST")], reason_codes=["R2-74-1-C11"],
                           today=FILED_ON)


def test_other_importer_cannot_touch_the_cad(importer, other_importer, account, tariff):
    cad = file_cad(importer.bam, account)
    with pytest.raises(Http404):
        services.cad_withdraw(actor=other_importer.bam, cad=cad)
    with pytest.raises(Http404):
        services.cad_create_draft(actor=other_importer.bam, program_account=account, lines=[line()], **header())


def test_reader_may_not_file(importer, account, tariff):
    from accounts.roles import Role

    reader = factories.add_member(importer, role=Role.READER)
    with pytest.raises(Http404):
        file_cad(reader, account)


def test_actions_are_audited(importer, account, tariff, cbsa):
    from accounts.models import AuditEvent

    cad = accepted_cad(importer.bam, account, cbsa)
    actions = list(AuditEvent.objects.filter(target_id=str(cad.pk)).order_by("id").values_list("action", flat=True))
    assert actions == ["declarations.cad.created", "declarations.cad.submitted", "declarations.cad.accepted"]
    assert AuditEvent.objects.filter(action="declarations.cad.created", acting_for=importer).exists()


def test_calculate_previews_without_writing(tariff):
    result = services.cad_calculate(header=header(), lines=[line(), line(treatment="CEUT", origin_country="FR", proof_of_origin=True)],
                                      today=FILED_ON)
    assert result.totals.duties_and_taxes == Decimal("1614.11")  # the line without a rate has no amounts
    assert result.lines[0].amounts.gst == Decimal("726.86") and result.lines[1].amounts is None
    assert list(result.field_errors) == ["lines.1.treatment"]
    assert not CAD.objects.exists()


def test_shipment_date_picks_the_most_recent_rate(importer, account, tariff):
    from declarations.models import ExchangeRate

    ExchangeRate.objects.filter(currency="USD", date=date(2025, 10, 31)).update(rate=Decimal("1.4000"))
    cad = file_cad(importer.bam, account, direct_shipment_date=SHIPPED)  # Saturday → Friday's rate
    assert cad.lines.get().exchange_rate == Decimal("1.4000")
