"""A real Celery worker (separate processes, PostgreSQL + Redis): the daily sweep fans out one
task per account, and the same account queued three times at once is offset once."""

import time
from decimal import Decimal

import pytest

from billing.ledger.models import LedgerEntry
from billing.offsetting.models import Allocation
from billing.offsetting.tasks import apply_offsets_task, sweep_task
from tests import factories
from tests.celery_worker import real_worker

from .conftest import OCT, SEP, post

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

K = LedgerEntry.Kind


def _wait_for(total: Decimal, timeout: float = 60) -> Decimal:
    deadline = time.monotonic() + timeout
    got = Decimal("0")
    while time.monotonic() < deadline:
        got = sum(Allocation.objects.values_list("amount", flat=True), Decimal("0"))
        if got >= total:
            return got
        time.sleep(0.2)
    return got


def test_sweep_and_concurrent_runs_on_a_real_worker(importer, no_auto_offset):
    rm, rm2 = importer.program_accounts.order_by("number")
    other = factories.make_business(accounts=1).program_accounts.get()
    for account in (rm, rm2, other):
        for i in range(5):
            post(account, K.CAD_CHARGE, f"{40 + i}.00", [SEP, OCT][i % 2])
        post(account, K.PAYMENT, "-150.00", SEP)
    # Debts 40+41+42+43+44 = 210 per account, credit 150: 150 each is allocated.
    with real_worker(concurrency=2) as worker:
        results = [apply_offsets_task.delay(rm.pk) for _ in range(3)]
        assert sorted(r.get(timeout=60) for r in results)[:2] == [0, 0]
        assert sweep_task.delay().get(timeout=60) == 2  # rm has no credit left; rm2 and the other
        assert _wait_for(Decimal("450.00")) == Decimal("450.00")
        assert worker.poll() is None
    assert Allocation.objects.count() == len(set(Allocation.objects.values_list("credit", "debt")))
    assert sum(Allocation.objects.filter(credit__program_account=rm).values_list("amount", flat=True)) == Decimal("150.00")
