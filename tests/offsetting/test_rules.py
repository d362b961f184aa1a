"""The automatic offsetting rules, on exact amounts: due date, oldest first, ties by kind,
security deposits never used, preferences, idempotence, the balance untouched."""

from datetime import date
from decimal import Decimal

import pytest

from accounts.models import Business
from billing.ledger import services as ledger
from billing.ledger.models import LedgerEntry
from billing.offsetting import selectors, services
from billing.offsetting.models import Allocation
from tests import factories

from .conftest import DUE, NOV, OCT, SEP, allocations, post, set_preference

pytestmark = pytest.mark.django_db

K = LedgerEntry.Kind
D = Decimal


def run(account, today):
    return services.apply_offsets(program_account_id=account.pk, today=today)


def test_worked_example_3_credit_clears_on_the_due_date(rm):
    """Example 3: the 1,200 credit clears on 12-01 against this cycle's debts, not before."""
    cad_a = post(rm, K.CAD_CHARGE, "12400.00", NOV, effective=date(2025, 11, 3), reference="CADA")
    cad_b = post(rm, K.CAD_CHARGE, "8150.00", NOV, effective=date(2025, 11, 6), reference="CADB")
    correction = post(rm, K.CAD_CORRECTION, "-650.00", NOV, effective=date(2025, 11, 12))
    npa = post(rm, K.PENALTY, "500.00", NOV, effective=date(2025, 11, 14))
    credit = post(rm, K.CAD_ADJUSTMENT, "-1200.00", NOV, effective=date(2025, 11, 10))
    assert ledger.balance(rm) == D("19200.00")

    assert run(rm, date(2025, 11, 30)) == 0  # nothing is due yet
    assert run(rm, DUE[NOV]) == 2
    # Oldest credit first (the 1,200 of 11-10, then the 650 of 11-12), both to the oldest D&T debt.
    assert allocations() == sorted([(credit.pk, cad_a.pk, D("1200.00")), (correction.pk, cad_a.pk, D("650.00"))])
    assert set(Allocation.objects.values_list("applied_on", flat=True)) == {DUE[NOV]}
    assert ledger.balance(rm) == D("19200.00")  # offsetting never changes the balance
    left = {d.pk: d.remaining for d in selectors.open_debts([rm.pk])}
    assert left == {cad_a.pk: D("10550.00"), cad_b.pk: D("8150.00"), npa.pk: D("500.00")}


def test_oldest_debt_first_then_by_kind(rm):
    interest_old = post(rm, K.INTEREST, "30.00", SEP)
    penalty_new = post(rm, K.PENALTY, "200.00", OCT, effective=date(2025, 10, 1))
    interest_new = post(rm, K.INTEREST, "10.00", OCT, effective=date(2025, 10, 2))
    charge_new = post(rm, K.CAD_CHARGE, "100.00", OCT, effective=date(2025, 10, 15))
    payment = post(rm, K.PAYMENT, "-250.00", OCT, effective=date(2025, 10, 20))

    assert run(rm, DUE[OCT]) == 3
    got = {debt: amount for _c, debt, amount in allocations()}
    # Sep interest (oldest) first; in Oct: duties and taxes, then the penalty, then interest.
    assert got == {interest_old.pk: D("30.00"), charge_new.pk: D("100.00"), penalty_new.pk: D("120.00")}
    assert interest_new.pk not in got
    assert selectors.available_credit([rm.pk]) == {rm.pk: D("0.00")}
    assert Allocation.objects.get(debt=interest_old).applied_on == date(2025, 10, 20)  # credit came later
    assert payment.pk == Allocation.objects.values_list("credit_id", flat=True).distinct().get()


def test_a_debt_is_paid_only_once_due_and_a_credit_only_once_in_effect(rm):
    debt = post(rm, K.CAD_CHARGE, "100.00", NOV)
    future_credit = post(rm, K.PAYMENT, "-100.00", NOV, effective=date(2025, 12, 5))
    assert run(rm, date(2025, 11, 28)) == 0
    assert run(rm, DUE[NOV]) == 0  # the credit is not in effect yet
    assert run(rm, date(2025, 12, 5)) == 1
    assert allocations() == [(future_credit.pk, debt.pk, D("100.00"))]


def test_security_deposits_never_pay_debts(rm):
    debt = post(rm, K.CAD_CHARGE, "500.00", OCT)
    post(rm, K.SECURITY_DEPOSIT, "-5000.00", SEP)
    assert run(rm, DUE[OCT]) == 0
    assert selectors.available_credit([rm.pk]) == {rm.pk: D("0.00")}
    credit = post(rm, K.PAYMENT, "-200.00", OCT)
    assert run(rm, DUE[OCT]) == 1
    assert allocations() == [(credit.pk, debt.pk, D("200.00"))]


def test_idempotent_rerun_writes_nothing(rm):
    post(rm, K.CAD_CHARGE, "100.00", OCT)
    post(rm, K.CAD_CHARGE, "300.00", OCT)
    post(rm, K.PAYMENT, "-250.00", OCT)
    assert run(rm, DUE[NOV]) == 2
    before = allocations()
    assert run(rm, DUE[NOV]) == 0
    assert run(rm, date(2026, 3, 1)) == 0
    assert allocations() == before
    assert sum(a for *_x, a in before) == D("250.00")


def test_auto_program_stays_within_each_rm(importer, rm, rm2):
    post(rm, K.CAD_CHARGE, "100.00", OCT)
    post(rm2, K.PAYMENT, "-100.00", OCT)
    assert run(rm, DUE[OCT]) == 0
    assert run(rm2, DUE[OCT]) == 0


def test_auto_business_crosses_rms_own_rm_credit_first(importer, rm, rm2):
    set_preference(importer, Business.OffsettingPreference.AUTO_BUSINESS)
    old_other = post(rm2, K.PAYMENT, "-100.00", SEP)
    debt = post(rm, K.CAD_CHARGE, "150.00", OCT)
    own = post(rm, K.PAYMENT, "-100.00", OCT)
    other_debt = post(rm2, K.CAD_CHARGE, "40.00", OCT)
    # Running for either RM offsets the whole business.
    assert run(rm2, DUE[OCT]) == 3
    assert allocations() == sorted([
        (own.pk, debt.pk, D("100.00")),         # the debt's own RM credit first ...
        (old_other.pk, debt.pk, D("50.00")),    # ... then another RM's
        (old_other.pk, other_debt.pk, D("40.00")),
    ])
    assert ledger.balance(rm) == D("50.00") and ledger.balance(rm2) == D("-60.00")  # unchanged by offsets
    assert selectors.available_credit([rm.pk, rm2.pk]) == {rm.pk: D("0.00"), rm2.pk: D("10.00")}


def test_manual_preference_does_nothing_automatically(importer, rm):
    set_preference(importer, Business.OffsettingPreference.MANUAL)
    post(rm, K.CAD_CHARGE, "100.00", OCT)
    post(rm, K.PAYMENT, "-100.00", OCT)
    assert run(rm, DUE[NOV]) == 0
    assert Allocation.objects.count() == 0


def test_other_businesses_are_never_touched(importer, other_importer, rm):
    set_preference(importer, Business.OffsettingPreference.AUTO_BUSINESS)
    theirs = other_importer.program_accounts.get()
    post(theirs, K.PAYMENT, "-100.00", OCT)
    post(rm, K.CAD_CHARGE, "100.00", OCT)
    assert run(rm, DUE[OCT]) == 0
    assert run(theirs, DUE[OCT]) == 0


def test_refund_entries_and_offsets_are_not_debts(rm):
    post(rm, K.REFUND, "100.00", OCT)
    post(rm, K.OFFSET, "100.00", OCT)
    post(rm, K.OFFSET, "-100.00", OCT)
    post(rm, K.PAYMENT, "-100.00", OCT)
    assert run(rm, DUE[OCT]) == 0


def test_an_unknown_account_is_a_no_op(db):
    assert services.apply_offsets(program_account_id=999999, today=DUE[OCT]) == 0


def test_selectors_for_the_billing_pages(importer, rm, rm2):
    set_preference(importer, Business.OffsettingPreference.AUTO_BUSINESS)
    debt = post(rm, K.CAD_CHARGE, "100.00", OCT)
    credit = post(rm2, K.PAYMENT, "-300.00", OCT)
    run(rm, DUE[OCT])
    rows = list(selectors.allocations_for_statement(rm, NOV))  # cleared 10-31: in the Nov period
    assert [(r.credit_id, r.debt_id, r.amount) for r in rows] == [(credit.pk, debt.pk, D("100.00"))]
    assert list(selectors.allocations_for_statement(rm2, NOV)) == rows
    assert list(selectors.allocations_for_statement(rm, OCT)) == []
    assert selectors.available_credit(importer.program_accounts.all()) == {rm.pk: D("0.00"), rm2.pk: D("200.00")}
    lonely = factories.make_business(accounts=1).program_accounts.get()
    assert selectors.available_credit([lonely]) == {lonely.pk: D("0.00")}
