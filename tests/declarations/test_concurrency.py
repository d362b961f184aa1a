"""Races on PostgreSQL: concurrent numbers never collide; one Idempotency-Key gives one CAD."""

import threading

import pytest
from django.db import connection, connections, transaction

from declarations import services
from declarations import transaction_numbers as tn
from declarations.models import CAD
from tests.conftest import IN_CI

from .conftest import FILED_ON, header, line

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _postgresql_only():
    if connection.vendor != "postgresql":
        if IN_CI:
            pytest.fail("concurrency tests need PostgreSQL (required in CI)")
        pytest.skip("row locks need PostgreSQL")


def run_concurrently(target, count):
    barrier = threading.Barrier(count)
    results, errors = [], []

    def worker():
        try:
            barrier.wait()
            results.append(target())
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    return results


def test_concurrent_reservations_never_collide():
    def reserve():
        with transaction.atomic():
            return tn.reserve("54321", 25)

    batches = run_concurrently(reserve, 6)
    numbers = [n for batch in batches for n in batch]
    assert len(numbers) == len(set(numbers)) == 150


def test_one_idempotency_key_under_a_race_is_one_cad(importer, account, tariff):
    def create():
        return services.cad_create_draft(actor=importer.bam, program_account=account, lines=[line()],
                                         idempotency_key="race-1", today=FILED_ON, **header()).pk

    ids = run_concurrently(create, 5)
    assert len(set(ids)) == 1
    assert CAD.objects.count() == 1
