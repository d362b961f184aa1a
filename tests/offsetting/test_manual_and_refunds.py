"""Manual offsetting (the credit must pay each chosen debt in full) and refunds (no debt left,
threshold or two statements running, staff approve and pay, paid to the importer only)."""

from datetime import date
from decimal import Decimal

import pytest
from django.http import Http404

from accounts.models import AuditEvent, Business
from accounts.roles import Role
from billing.ledger import services as ledger
from billing.ledger.models import LedgerEntry
from billing.offsetting import selectors, services
from billing.offsetting.models import Allocation, Refund
from carm_portal.exceptions import ApplicationError
from tests import factories

from .conftest import DEC, DUE, NOV, OCT, SEP, allocations, post, set_preference

pytestmark = pytest.mark.django_db

K = LedgerEntry.Kind
D = Decimal
TODAY = date(2025, 12, 10)


# --- Manual ---------------------------------------------------------------------------------------

def test_manual_apply_pays_each_chosen_debt_in_full(importer, rm):
    set_preference(importer, Business.OffsettingPreference.MANUAL)
    credit = post(rm, K.APPEAL_DECISION, "-500.00", OCT)
    d1 = post(rm, K.CAD_CHARGE, "120.00", NOV)      # not due yet: the importer may still choose it
    d2 = post(rm, K.PENALTY, "200.00", OCT)
    made = services.manual_apply(actor=importer.bam, credit_id=credit.pk, debt_ids=[d1.pk, d2.pk], today=TODAY)
    assert len(made) == 2
    assert allocations() == sorted([(credit.pk, d1.pk, D("120.00")), (credit.pk, d2.pk, D("200.00"))])
    assert set(Allocation.objects.values_list("method", "applied_on", "created_by")) == {
        ("manual", TODAY, importer.bam.pk)}
    assert selectors.available_credit([rm]) == {rm.pk: D("180.00")}
    assert ledger.balance(rm) == D("-180.00")
    assert AuditEvent.objects.filter(action="offsetting.manual.applied").count() == 1


def test_manual_apply_refuses_a_partial_payment(importer, rm):
    credit = post(rm, K.PAYMENT, "-300.00", OCT)
    d1 = post(rm, K.CAD_CHARGE, "200.00", OCT)
    d2 = post(rm, K.CAD_CHARGE, "150.00", OCT)
    with pytest.raises(ApplicationError) as exc:
        services.manual_apply(actor=importer.bam, credit_id=credit.pk, debt_ids=[d1.pk, d2.pk], today=TODAY)
    assert "$300.00 left" in exc.value.message and "$350.00" in exc.value.message
    assert "partial payments are not allowed" in exc.value.message
    assert Allocation.objects.count() == 0
    # Each debt alone is covered: fine.
    services.manual_apply(actor=importer.bam, credit_id=credit.pk, debt_ids=[d1.pk], today=TODAY)
    assert allocations() == [(credit.pk, d1.pk, D("200.00"))]


def test_manual_apply_full_cover_with_what_is_left(importer, rm):
    d = post(rm, K.CAD_CHARGE, "150.00", OCT)
    first = post(rm, K.PAYMENT, "-100.00", SEP)
    services.apply_offsets(program_account_id=rm.pk, today=DUE[OCT])          # pays 100 of 150
    small = post(rm, K.PAYMENT, "-40.00", OCT)
    with pytest.raises(ApplicationError):
        services.manual_apply(actor=importer.bam, credit_id=small.pk, debt_ids=[d.pk], today=TODAY)
    enough = post(rm, K.CAD_WITHDRAWAL, "-50.00", OCT)
    services.manual_apply(actor=importer.bam, credit_id=enough.pk, debt_ids=[d.pk], today=TODAY)
    assert allocations(debt=d) == sorted([(first.pk, d.pk, D("100.00")), (enough.pk, d.pk, D("50.00"))])
    with pytest.raises(ApplicationError, match="Already paid"):
        services.manual_apply(actor=importer.bam, credit_id=small.pk, debt_ids=[d.pk], today=TODAY)


def test_manual_apply_never_uses_a_security_deposit_or_pays_a_credit(importer, rm):
    deposit = post(rm, K.SECURITY_DEPOSIT, "-5000.00", OCT)
    credit = post(rm, K.PAYMENT, "-10.00", OCT)
    debt = post(rm, K.CAD_CHARGE, "10.00", OCT)
    with pytest.raises(ApplicationError, match="security deposit"):
        services.manual_apply(actor=importer.bam, credit_id=deposit.pk, debt_ids=[debt.pk], today=TODAY)
    with pytest.raises(ApplicationError, match="Only debts"):
        services.manual_apply(actor=importer.bam, credit_id=credit.pk, debt_ids=[credit.pk], today=TODAY)
    with pytest.raises(ApplicationError, match="at least one"):
        services.manual_apply(actor=importer.bam, credit_id=credit.pk, debt_ids=[], today=TODAY)


def test_manual_apply_is_gated(importer, other_importer, broker, rm, rm2):
    theirs = post(other_importer.program_accounts.get(), K.CAD_CHARGE, "10.00", OCT)
    credit = post(rm, K.PAYMENT, "-10.00", OCT)
    debt2 = post(rm2, K.CAD_CHARGE, "10.00", OCT)
    with pytest.raises(Http404):
        services.manual_apply(actor=importer.bam, credit_id=credit.pk, debt_ids=[theirs.pk], today=TODAY)
    with pytest.raises(Http404):
        services.manual_apply(actor=other_importer.bam, credit_id=credit.pk, debt_ids=[debt2.pk], today=TODAY)
    reader = factories.add_member(importer, role=Role.READER)
    with pytest.raises(Http404):
        services.manual_apply(actor=reader, credit_id=credit.pk, debt_ids=[debt2.pk], today=TODAY)
    # A broker without the financial scope: 404; with it, for the RM it covers only.
    factories.make_delegation(importer, broker, accounts=[rm], financial=False)
    with pytest.raises(Http404):
        services.manual_apply(actor=broker.bam, credit_id=credit.pk, debt_ids=[debt2.pk], today=TODAY)
    # The importer's BAM may apply one RM's credit to another RM's debt of the same business.
    services.manual_apply(actor=importer.bam, credit_id=credit.pk, debt_ids=[debt2.pk], today=TODAY)
    assert allocations() == [(credit.pk, debt2.pk, D("10.00"))]


# --- Refunds --------------------------------------------------------------------------------------

@pytest.fixture
def cbsa(db):
    return factories.make_officer()


def test_no_refund_while_a_debt_remains(importer, rm):
    post(rm, K.PAYMENT, "-5000.00", OCT)
    post(rm, K.CAD_CHARGE, "10.00", NOV)        # not due yet, but it remains
    check = services.refund_check(rm, today=TODAY)
    assert not check.allowed and "debt remains" in check.reason
    with pytest.raises(ApplicationError, match="debt remains"):
        services.refund_request(actor=importer.bam, program_account=rm, today=TODAY)


def test_auto_business_debt_on_another_rm_blocks_the_refund(importer, rm, rm2):
    post(rm, K.PAYMENT, "-5000.00", OCT)
    post(rm2, K.CAD_CHARGE, "10.00", NOV)
    assert services.refund_check(rm, today=TODAY).allowed  # auto_program: RMs apart
    set_preference(importer, Business.OffsettingPreference.AUTO_BUSINESS)
    rm.business.refresh_from_db()
    assert not services.refund_check(rm, today=TODAY).allowed


def test_threshold_and_two_statements_running(importer, rm, settings):
    post(rm, K.PAYMENT, "-999.99", NOV, effective=date(2025, 11, 12))
    check = services.refund_check(rm, today=TODAY)  # on the Nov statement only (issued 11-25)
    assert (check.available, check.standing, check.maximum) == (D("999.99"), D("0.00"), D("0.00"))
    assert "2 statements running" in check.reason
    # On the Dec statement too (issued 12-25): two statements running.
    assert services.refund_check(rm, today=date(2025, 12, 25)).maximum == D("999.99")
    assert services.refund_check(rm, today=date(2025, 12, 24)).maximum == D("0.00")
    post(rm, K.APPEAL_DECISION, "-0.01", DEC, effective=date(2025, 12, 1))
    assert services.refund_check(rm, today=TODAY).maximum == D("1000.00")  # at the threshold
    settings.CARM = {**settings.CARM, "REFUND_THRESHOLD": D("2000.00")}
    assert services.refund_check(rm, today=TODAY).maximum == D("0.00")


def test_refund_request_approve_pay_consumes_the_credit(importer, rm, cbsa):
    c1 = post(rm, K.PAYMENT, "-700.00", SEP)
    c2 = post(rm, K.CAD_ADJUSTMENT, "-800.00", OCT)
    post(rm, K.SECURITY_DEPOSIT, "-9000.00", OCT)   # never refunded through offsetting
    refund = services.refund_request(actor=importer.bam, program_account=rm, amount="1200.00", today=TODAY)
    assert (refund.status, refund.amount, refund.payee_id) == ("requested", D("1200.00"), importer.pk)
    # Reserved: only 300.00 more may be asked for now.
    with pytest.raises(ApplicationError, match=r"At most \$300.00"):
        services.refund_request(actor=importer.bam, program_account=rm, amount="300.01", today=TODAY)
    with pytest.raises(Http404):
        services.refund_approve(actor=importer.bam, refund=refund)       # staff only
    with pytest.raises(ApplicationError, match="approved"):
        services.refund_pay(actor=cbsa, refund=refund, today=TODAY)
    services.refund_approve(actor=cbsa, refund=refund)
    balance = ledger.balance(rm)
    refund = services.refund_pay(actor=cbsa, refund=refund, today=TODAY)
    refund.refresh_from_db()
    assert refund.status == Refund.Status.PAID and refund.approved_by == cbsa
    entry = refund.ledger_entry
    assert (entry.kind, entry.amount, entry.program_account_id) == (K.REFUND, D("1200.00"), rm.pk)
    assert ledger.balance(rm) == balance + D("1200.00")   # money left: the refund is a ledger entry
    assert allocations(debt=entry) == sorted([(c1.pk, entry.pk, D("700.00")), (c2.pk, entry.pk, D("500.00"))])
    assert selectors.available_credit([rm]) == {rm.pk: D("300.00")}
    assert services.refund_check(rm, today=TODAY).maximum == D("300.00")
    with pytest.raises(ApplicationError):
        services.refund_pay(actor=cbsa, refund=refund, today=TODAY)      # paid once
    assert set(AuditEvent.objects.filter(action__startswith="offsetting.refund").values_list("action", flat=True)) == {
        "offsetting.refund.requested", "offsetting.refund.approved", "offsetting.refund.paid"}


def test_refund_pay_rechecks_the_debt_rule(importer, rm, cbsa):
    post(rm, K.PAYMENT, "-1500.00", OCT)
    refund = services.refund_request(actor=importer.bam, program_account=rm, today=TODAY)
    assert refund.amount == D("1500.00")
    services.refund_approve(actor=cbsa, refund=refund)
    post(rm, K.CAD_CHARGE, "10.00", NOV)
    with pytest.raises(ApplicationError, match="debt remains"):
        services.refund_pay(actor=cbsa, refund=refund, today=TODAY)
    services.refund_reject(actor=cbsa, refund=refund, reason="A debt arrived")
    refund.refresh_from_db()
    assert (refund.status, refund.rejection_reason) == ("rejected", "A debt arrived")
    assert not LedgerEntry.objects.filter(kind=K.REFUND).exists()


def test_refund_request_is_gated_and_for_importers_only(importer, broker, rm):
    post(rm, K.PAYMENT, "-1500.00", OCT)
    with pytest.raises(Http404):
        services.refund_request(actor=broker.bam, program_account=rm, today=TODAY)
    factories.make_delegation(importer, broker, financial=True)
    refund = services.refund_request(actor=broker.bam, program_account=rm, amount="100.00", today=TODAY)
    assert refund.payee_id == importer.pk  # paid to the importer, never care of the broker
    reader = factories.add_member(importer, role=Role.READER)
    with pytest.raises(Http404):
        services.refund_request(actor=reader, program_account=rm, today=TODAY)
