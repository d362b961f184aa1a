"""Races on PostgreSQL: two allocations of one bond at once never exceed it; two recomputations
at once leave one current requirement."""

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection, connections
from django.utils import timezone

from billing.rpp import services
from billing.rpp.models import BondAllocation, SecurityForecast, SecurityRequirement
from carm_portal.exceptions import ApplicationError
from tests.conftest import IN_CI
from tests.rpp.conftest import binding_from_estimate

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _postgresql_only():
    if connection.vendor != "postgresql":
        if IN_CI:
            pytest.fail("concurrency tests need PostgreSQL (required in CI)")
        pytest.skip("row locks need PostgreSQL")


def run_concurrently(targets):
    barrier = threading.Barrier(len(targets))
    outcomes = []

    def worker(target):
        try:
            barrier.wait()
            outcomes.append(target())
        except Exception as exc:  # noqa: BLE001 - reported to the test
            outcomes.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(t,)) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_two_allocations_at_once_never_exceed_the_bond(importer):
    rm, rm2 = importer.program_accounts.order_by("number")
    today = timezone.localdate()
    bond = services.bond_record(
        actor=importer.bam, business=importer, surety_name="S", bond_number="RACE-1", amount=Decimal("10000"),
        effective_date=today, expiry_date=today + timedelta(days=365), allocations=[],
    )
    outcomes = run_concurrently([
        lambda: services.bond_allocate(actor=importer.bam, bond=bond, program_account=rm, amount=Decimal("6000")),
        lambda: services.bond_allocate(actor=importer.bam, bond=bond, program_account=rm2, amount=Decimal("6000")),
    ])
    assert sum(isinstance(o, ApplicationError) for o in outcomes) == 1, outcomes
    assert sum(BondAllocation.objects.filter(bond=bond).values_list("amount", flat=True)) == Decimal("6000.00")


def test_two_recomputations_at_once_leave_one_current_requirement(importer):
    rm = importer.program_accounts.order_by("number").first()
    # The very first computations race too: no current row to lock yet.
    outcomes = run_concurrently([
        lambda: services.requirement_recompute(actor=None, program_account=rm) for _ in range(3)
    ])
    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    # Only the first creates a (first) requirement; the others refresh the forecast.
    assert SecurityRequirement.objects.filter(program_account=rm).count() == 1
    binding_from_estimate(rm, "8000")
    outcomes = run_concurrently([
        lambda: services.requirement_recompute(actor=None, program_account=rm) for _ in range(3)
    ])
    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    assert SecurityRequirement.objects.filter(program_account=rm, is_current=True).count() == 1
    assert SecurityRequirement.objects.filter(program_account=rm).count() == 2  # the forecast never adds one
    assert SecurityForecast.objects.filter(program_account=rm).count() == 1
    # Each saw the one before it: the chain of previous amounts is unbroken.
    assert SecurityRequirement.objects.filter(program_account=rm, previous_bond_amount__isnull=True).count() == 1
