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


def test_a_reservation_does_not_wait_for_another_filing_to_commit():
    """Two filings under one prefix: the second gets its number while the first is still open (on a
    locked counter row it would wait until the first commits; here it would hit the lock timeout)."""
    with transaction.atomic():
        tn.reserve("54322")  # the prefix's first number makes its sequence (that waits once, on the catalogue)
    holding, done = threading.Event(), threading.Event()
    errors = []

    def first():
        try:
            with transaction.atomic():
                tn.reserve("54322")
                holding.set()
                done.wait(10)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
            holding.set()
        finally:
            connections.close_all()

    thread = threading.Thread(target=first)
    thread.start()
    try:
        assert holding.wait(10)
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '1s'")
            second = tn.reserve("54322")
    finally:
        done.set()
        thread.join()
    assert not errors, errors
    assert second[0].startswith("54322")


def test_one_idempotency_key_under_a_race_is_one_cad(importer, account, tariff):
    def create():
        return services.cad_create_draft(actor=importer.bam, program_account=account, lines=[line()],
                                         idempotency_key="race-1", today=FILED_ON, **header()).pk

    ids = run_concurrently(create, 5)
    assert len(set(ids)) == 1
    assert CAD.objects.count() == 1
