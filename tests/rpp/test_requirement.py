"""The security requirement: worked example 2 of carm-rules §3, exact Decimals, from real ledger rows."""

from datetime import date, timedelta
from decimal import Decimal

import pytest

from billing.ledger.models import LedgerEntry
from billing.ledger.services import post_entry
from billing.rpp import services
from billing.rpp.models import SecurityRequirement
from tests.rpp.conftest import AS_OF, WORKED_EXAMPLE, binding_from_estimate, post_months

pytestmark = pytest.mark.django_db


def test_window_is_the_last_twelve_closed_billing_periods():
    periods = services.window(date(2026, 11, 26))
    assert periods[0] == date(2025, 12, 17) and periods[-1] == date(2026, 11, 17) and len(periods) == 12
    # Before the 17th, the current period is still open.
    assert services.window(date(2026, 11, 16))[-1] == date(2026, 10, 17)
    # The annual review of 20 October looks at the 12 months to 19 October.
    assert services.annual_review_window(2026) == services.window(date(2026, 10, 19))
    assert services.annual_review_window(2026)[-1] == date(2026, 10, 17)
    assert services.increase_due_date(date(2026, 10, 20)) == date(2027, 1, 15)


def test_worked_example_from_ledger_entries(rm, django_assert_max_num_queries):
    periods = post_months(rm, WORKED_EXAMPLE)
    # An entry outside the window (13 months back) and another account's entries do not count.
    post_entry(program_account=rm, kind=LedgerEntry.Kind.CAD_CHARGE, effective_date=date(2025, 11, 5),
               billing_period=date(2025, 11, 17), idempotency_key="old", breakdown={"duty": Decimal("900000")})
    (req,) = services.requirements_compute([rm], trigger=SecurityRequirement.Trigger.ON_DEMAND, as_of=AS_OF)
    assert [m["amount"] for m in req.monthly_totals] == [f"{Decimal(t):.2f}" for t in WORKED_EXAMPLE]
    assert [m["period"] for m in req.monthly_totals] == [p.isoformat() for p in periods]
    assert req.basis == SecurityRequirement.Basis.HISTORY
    assert req.highest_month == Decimal("45750.00")
    assert req.highest_period == periods[6]
    assert req.base_amount == Decimal("45750.00")
    assert req.bond_amount == Decimal("22875.00")
    assert req.cash_amount == Decimal("45750.00")
    assert req.due_date == AS_OF + timedelta(days=30)
    assert req.is_current


def test_new_importer_estimate_raised_to_the_minimum(rm, importer):
    req = binding_from_estimate(rm, "8000")
    assert req.basis == SecurityRequirement.Basis.ESTIMATE
    assert req.base_amount == Decimal("8000.00")
    assert req.bond_amount == Decimal("5000.00")  # 4,000 raised to the minimum
    assert req.cash_amount == Decimal("8000.00")
    assert req.monthly_estimate == Decimal("8000.00")


def test_minimum_is_a_setting(rm, importer, settings):
    settings.CARM = {**settings.CARM, "RPP_MINIMUM": Decimal("25000.00")}
    req = binding_from_estimate(rm, "8000")
    assert req.bond_amount == Decimal("25000.00") and req.cash_amount == Decimal("25000.00")


def test_ten_million_maximum(rm):
    totals = ["1000"] * 11 + ["24000000"]
    post_months(rm, totals)
    (req,) = services.requirements_compute([rm], trigger=SecurityRequirement.Trigger.ON_DEMAND, as_of=AS_OF)
    assert req.base_amount == Decimal("24000000.00")
    assert req.bond_amount == Decimal("10000000.00")  # 12M capped
    assert req.cash_amount == Decimal("10000000.00")
    # Just under the cap for the bond: 50% of 19,999,999.98.
    assert services.amounts_for(Decimal("19999999.98")) == (Decimal("9999999.99"), Decimal("10000000.00"))


def test_each_computation_is_kept_and_only_the_last_is_current(rm, rm2, django_assert_num_queries):
    post_months(rm, WORKED_EXAMPLE)
    services.requirements_compute([rm], trigger=SecurityRequirement.Trigger.ON_DEMAND, as_of=AS_OF)
    # A batch for many accounts is a constant number of queries (no per-account loop in SQL).
    with django_assert_num_queries(8):
        services.requirements_compute([rm, rm2], trigger=SecurityRequirement.Trigger.ENROLMENT, as_of=AS_OF)
    assert SecurityRequirement.objects.filter(program_account=rm).count() == 2
    current = SecurityRequirement.objects.get(program_account=rm, is_current=True)
    assert current.trigger == "enrolment" and current.previous_bond_amount == Decimal("22875.00")
    assert SecurityRequirement.objects.get(program_account=rm2, is_current=True).bond_amount == Decimal("5000.00")


def test_annual_review_dates_and_increase_due_on_15_january(rm, importer):
    from billing.rpp.models import Notice, RppStatus

    services.enrolment_set_status(actor=None, program_account=rm, status=RppStatus.REQUESTED)
    binding_from_estimate(rm, "8000")
    post_months(rm, WORKED_EXAMPLE, as_of=date(2026, 10, 19))
    assert services.annual_review(review_date=date(2026, 10, 20)) == 1
    req = SecurityRequirement.objects.get(program_account=rm, is_current=True)
    assert req.trigger == "annual_review"
    assert req.last_period == date(2026, 10, 17) and req.first_period == date(2025, 11, 17)
    assert req.bond_amount == Decimal("22875.00") and req.previous_bond_amount == Decimal("5000.00")
    assert req.due_date == date(2027, 1, 15)
    # The amount changed: one notice (a second run with no change sends none).
    assert Notice.objects.filter(kind="requirement_changed", program_account=rm).count() == 1
    services.annual_review(review_date=date(2026, 10, 20))
    assert Notice.objects.filter(kind="requirement_changed", program_account=rm).count() == 1
