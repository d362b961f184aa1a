"""Two ``apply_offsets`` for one account at once, each on its own PostgreSQL connection, started
together with a barrier: the row lock serializes them and they write what one run writes."""

import threading

import pgtrigger
import pytest
from django.db import connection, connections

from accounts.models import Business
from billing.ledger.models import LedgerEntry
from billing.offsetting import services
from billing.offsetting.models import Allocation
from tests.conftest import IN_CI

from .conftest import DUE, NOV, OCT, SEP, post, set_preference

pytestmark = pytest.mark.django_db(transaction=True)

K = LedgerEntry.Kind


@pytest.fixture(autouse=True)
def _postgresql_only():
    if connection.vendor != "postgresql":
        if IN_CI:
            pytest.fail("concurrency tests need PostgreSQL (required in CI)")
        pytest.skip("row locks need PostgreSQL")


def run_concurrently(targets):
    barrier = threading.Barrier(len(targets))
    results, errors = [None] * len(targets), []

    def worker(i, target):
        try:
            barrier.wait()
            results[i] = target()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i, t)) for i, t in enumerate(targets)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    return results


def _history(accounts):
    for i in range(12):
        for account in accounts:
            post(account, K.CAD_CHARGE, f"{100 + i}.25", [SEP, OCT, NOV][i % 3])
            post(account, K.PENALTY, "200.00", [SEP, OCT][i % 2])
            post(account, K.PAYMENT, f"-{90 + 3 * i}.10", SEP)
            post(account, K.CAD_CORRECTION, "-15.05", OCT)


def _rows():
    return sorted(Allocation.objects.values_list("credit_id", "debt_id", "amount", "applied_on"))


@pytest.mark.parametrize("preference", ["auto_program", "auto_business"])
def test_two_runs_at_once_write_what_one_run_writes(importer, no_auto_offset, preference):
    set_preference(importer, preference)
    accounts = list(importer.program_accounts.order_by("id"))
    _history(accounts)
    rm = accounts[0]
    # Same account twice (and, under auto_business, a run for the other RM too).
    targets = [lambda: services.apply_offsets(program_account_id=rm.pk, today=DUE[NOV])] * 2
    if preference == Business.OffsettingPreference.AUTO_BUSINESS:
        targets.append(lambda: services.apply_offsets(program_account_id=accounts[1].pk, today=DUE[NOV]))
    counts = run_concurrently(targets)
    concurrent = _rows()
    assert concurrent, "the history has due debts and credits"
    assert sorted(counts)[:-1] == [0] * (len(counts) - 1) and max(counts) == len(concurrent)

    # The same history offset by one run alone (allocations are append-only: lift that for the reset).
    with pgtrigger.ignore("offsetting.Allocation:allocation_append_only"):
        Allocation.objects.all().delete()
    if preference == Business.OffsettingPreference.AUTO_PROGRAM:
        assert services.apply_offsets(program_account_id=rm.pk, today=DUE[NOV]) == len(concurrent)
    else:
        services.apply_offsets(program_account_id=rm.pk, today=DUE[NOV])
    assert _rows() == concurrent
