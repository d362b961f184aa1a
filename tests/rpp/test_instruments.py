"""Bonds, allocations, cash deposits; posted security, shortfall and utilization per RM."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import ProgramAccount
from billing.ledger.models import LedgerEntry
from billing.ledger.services import balance
from billing.rpp import services
from billing.rpp.models import Bond, BondAllocation, RppStatus, SecurityRequirement
from billing.rpp.selectors import positions_for
from carm_portal.exceptions import ApplicationError
from tests import factories
from tests.rpp.conftest import AS_OF, WORKED_EXAMPLE, binding_from_estimate, post_months

pytestmark = pytest.mark.django_db


def _bond(importer, allocations, *, amount="30000", number="EWSA-1", effective=None, expiry=None):
    today = timezone.localdate()
    return services.bond_record(
        actor=importer.bam, business=importer, surety_name="Surety Inc.", bond_number=number,
        amount=Decimal(amount), effective_date=effective or today - timedelta(days=10),
        expiry_date=expiry or today + timedelta(days=365), allocations=allocations,
    )


def test_bond_allocations_never_exceed_the_bond(importer, rm, rm2):
    bond = _bond(importer, [(rm, Decimal("20000")), (rm2, Decimal("10000"))])
    assert sum(a.amount for a in bond.allocations.all()) == Decimal("30000.00")
    with pytest.raises(ApplicationError) as exc:
        services.bond_allocate(actor=importer.bam, bond=bond, program_account=rm2, amount=Decimal("10000.01"))
    assert "exceed" in exc.value.message and "amount" in exc.value.field_errors
    # Replacing an allocation counts only the others: lower rm and raise rm2 within the bond.
    services.bond_allocate(actor=importer.bam, bond=bond, program_account=rm, amount=Decimal("5000"))
    services.bond_allocate(actor=importer.bam, bond=bond, program_account=rm2, amount=Decimal("25000"))
    assert BondAllocation.objects.get(bond=bond, program_account=rm2).amount == Decimal("25000.00")
    with pytest.raises(ApplicationError):
        _bond(importer, [(rm, Decimal("30000.01"))], number="EWSA-2")
    assert not Bond.objects.filter(bond_number="EWSA-2").exists()  # the whole recording rolled back


def test_bond_number_unique_dates_and_own_accounts_only(importer, other_importer, rm):
    _bond(importer, [(rm, Decimal("100"))], number="ab-1")
    with pytest.raises(ApplicationError) as exc:
        _bond(importer, [(rm, Decimal("100"))], number="AB-1")
    assert "bond_number" in exc.value.field_errors
    with pytest.raises(ApplicationError):
        _bond(importer, [(rm, Decimal("100"))], number="X", effective=date(2026, 5, 1), expiry=date(2026, 4, 1))
    foreign = other_importer.program_accounts.get()
    with pytest.raises(ApplicationError):
        _bond(importer, [(foreign, Decimal("100"))], number="Y")
    with pytest.raises(ApplicationError):  # $10M cap per bond per RM
        _bond(importer, [(rm, Decimal("10000000.01"))], amount="20000000", number="Z")


def test_cash_deposit_is_a_ledger_entry_apart_from_payments(importer, rm):
    deposit = services.cash_deposit_record(actor=importer.bam, program_account=rm, amount=Decimal("45750"),
                                           received_date=timezone.localdate(), reference="WIRE-1")
    entry = deposit.ledger_entry
    assert entry.kind == LedgerEntry.Kind.SECURITY_DEPOSIT and entry.amount == Decimal("-45750.00")
    assert entry.source == deposit and entry.other == Decimal("-45750.00")
    assert not LedgerEntry.objects.filter(program_account=rm, kind=LedgerEntry.Kind.PAYMENT).exists()
    assert balance(rm) == Decimal("0.00")  # held as security: never a credit on the account
    assert positions_for([rm])[rm.pk].cash_posted == Decimal("45750.00")


def test_worked_example_bond_versus_cash_position(importer, rm, rm2, django_assert_num_queries):
    post_months(rm, WORKED_EXAMPLE)
    today = timezone.localdate()
    services.requirements_compute([rm], trigger=SecurityRequirement.Trigger.ON_DEMAND, as_of=AS_OF)
    pos = positions_for([rm])[rm.pk]
    assert pos.status == "shortfall" and pos.shortfall == Decimal("22875.00") and pos.shortfall_cash == Decimal("45750.00")
    assert pos.utilization is None and pos.gauge_percent == 100

    _bond(importer, [(rm, Decimal("15000"))])
    pos = positions_for([rm])[rm.pk]
    assert pos.bond_posted == Decimal("15000.00") and pos.shortfall == Decimal("7875.00")
    assert pos.shortfall_cash == Decimal("15750.00") and pos.status == "shortfall"
    assert pos.utilization == Decimal("152.5")

    # Half the rest in cash: 7,875 of bond is 15,750 of cash.
    services.cash_deposit_record(actor=importer.bam, program_account=rm, amount=Decimal("15750"), received_date=today)
    pos = positions_for([rm])[rm.pk]
    assert pos.shortfall == Decimal("0.00") and pos.covered and pos.status == "warning"
    assert pos.utilization == Decimal("100.0")

    # A cash deposit alone covers 100%: 45,750 for an account whose bond requirement is 22,875.
    post_months(rm2, WORKED_EXAMPLE, tag="b")
    services.requirements_compute([rm2], trigger=SecurityRequirement.Trigger.ON_DEMAND, as_of=AS_OF)
    services.cash_deposit_record(actor=importer.bam, program_account=rm2, amount=Decimal("45749.99"), received_date=today)
    assert positions_for([rm2])[rm2.pk].shortfall == Decimal("0.01")
    services.cash_deposit_record(actor=importer.bam, program_account=rm2, amount=Decimal("0.01"), received_date=today)
    assert positions_for([rm2])[rm2.pk].covered

    with django_assert_num_queries(1):
        positions_for([rm, rm2])
    rm5 = importer.program_accounts.create(number=f"{importer.bn9}RM0005")
    with django_assert_num_queries(2):  # one more for accounts with no requirement yet
        positions_for([rm, rm2, rm5])


def test_only_bonds_in_force_today_count(importer, rm):
    today = timezone.localdate()
    binding_from_estimate(rm, "8000")
    _bond(importer, [(rm, Decimal("5000"))], number="OLD", effective=today - timedelta(days=400),
          expiry=today - timedelta(days=1))
    _bond(importer, [(rm, Decimal("5000"))], number="FUTURE", effective=today + timedelta(days=1))
    assert positions_for([rm])[rm.pk].bond_posted == Decimal("0.00")
    _bond(importer, [(rm, Decimal("5000"))], number="NOW", expiry=today)
    pos = positions_for([rm])[rm.pk]
    assert pos.bond_posted == Decimal("5000.00") and pos.covered and pos.status == "warning"
    assert pos.utilization == Decimal("100.0")


def test_warning_at_80_percent(importer, rm):
    binding_from_estimate(rm, "16000")  # bond 8,000
    _bond(importer, [(rm, Decimal("10000"))])
    pos = positions_for([rm])[rm.pk]
    assert pos.utilization == Decimal("80.0") and pos.status == "warning"
    services.bond_allocate(actor=importer.bam, bond=Bond.objects.get(), program_account=rm, amount=Decimal("10000"))
    _bond(importer, [(rm, Decimal("1"))], number="EXTRA")
    assert positions_for([rm])[rm.pk].status == "ok"


def test_enrolment_history_and_rpp_status_in_sync(importer, rm):
    enrolment = services.enrolment_request(actor=importer.bam, program_account=rm, monthly_estimate=Decimal("8000"))
    rm.refresh_from_db()
    assert enrolment.status == RppStatus.REQUESTED and rm.rpp_status == ProgramAccount.RppStatus.REQUESTED
    req = SecurityRequirement.objects.get(program_account=rm, is_current=True)
    assert req.trigger == "enrolment" and req.bond_amount == Decimal("5000.00")
    # Posting security that covers the requirement completes the enrolment (the system acts).
    _bond(importer, [(rm, Decimal("5000"))])
    rm.refresh_from_db()
    assert rm.rpp_status == ProgramAccount.RppStatus.ENROLLED
    services.enrolment_set_status(actor=importer.bam, program_account=rm, status=RppStatus.WITHDRAWN, reason="Closing")
    rm.refresh_from_db()
    assert rm.rpp_status == ProgramAccount.RppStatus.NOT_ENROLLED
    changes = list(enrolment.changes.order_by("changed_at", "id").values_list("from_status", "to_status", "actor", "reason"))
    assert changes == [
        ("not_enrolled", "requested", importer.bam.pk, "Enrolment requested in the portal."),
        ("requested", "enrolled", None, "Posted security covers the requirement."),
        ("enrolled", "withdrawn", importer.bam.pk, "Closing"),
    ]
    with pytest.raises(ApplicationError):
        services.enrolment_set_status(actor=importer.bam, program_account=rm, status=RppStatus.SUSPENDED)


def test_exporter_account_cannot_enrol(importer):
    pa = ProgramAccount.objects.create(business=importer, number=f"{importer.bn9}RM0009",
                                       activity=ProgramAccount.Activity.EXPORTER)
    with pytest.raises(ApplicationError):
        services.enrolment_request(actor=importer.bam, program_account=pa)


def test_reduction_review(importer, rm):
    post_months(rm, WORKED_EXAMPLE, as_of=timezone.localdate())
    services.requirement_recompute(actor=importer.bam, program_account=rm)
    with pytest.raises(ApplicationError):
        services.reduction_request(actor=importer.bam, program_account=rm, requested_amount=Decimal("4000"), rationale="x")
    rr = services.reduction_request(actor=importer.bam, program_account=rm, requested_amount=Decimal("15000"),
                                    rationale="One-off shipment in the highest month")
    with pytest.raises(ApplicationError):  # one pending at a time
        services.reduction_request(actor=importer.bam, program_account=rm, requested_amount=Decimal("15000"), rationale="again")
    staff = factories.make_officer()
    services.reduction_decide(actor=staff, reduction=rr, approve=True, approved_amount=Decimal("18000"), note="OK")
    req = SecurityRequirement.objects.get(program_account=rm, is_current=True)
    assert req.basis == "reduction" and req.bond_amount == Decimal("18000.00") and req.cash_amount == Decimal("36000.00")
    # The monthly recomputation keeps the approved reduction until the next annual review.
    services.requirement_recompute(actor=None, program_account=rm)
    assert SecurityRequirement.objects.get(program_account=rm, is_current=True).bond_amount == Decimal("18000.00")
    with pytest.raises(ApplicationError):
        services.reduction_decide(actor=staff, reduction=rr, approve=False)
    rr2 = services.reduction_request(actor=importer.bam, program_account=rm, requested_amount=Decimal("10000"), rationale="More")
    services.reduction_decide(actor=staff, reduction=rr2, approve=False)
    assert SecurityRequirement.objects.get(program_account=rm, is_current=True).bond_amount == Decimal("18000.00")
