"""The outbox against a real broker: Redis unreachable → the payment is recorded and its offsetting
waits in the outbox; a real worker on Redis → the sweeper sends it, the worker applies it and marks
the item done, and sweeping again does nothing (the work happened once). PostgreSQL + Redis."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from billing.offsetting.models import Allocation
from carm_portal import outbox
from carm_portal.models import OutboxItem
from tests.celery_worker import real_worker
from tests.core.test_outbox import _debt, broker_down  # noqa: F401 - the fixture

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_a_payment_made_with_redis_down_is_offset_once_by_a_real_worker_after_the_sweep(
        importer, broker_down, settings):  # noqa: F811
    account = importer.program_accounts.order_by("number").first()
    debt = _debt(account)
    api = APIClient()
    api.force_authenticate(user=importer.bam)
    started = time.monotonic()
    response = api.post("/api/v1/payments/", {
        "program_account": account.pk, "method": "online_banking", "reference": "PAY-REAL",
        "amount": "200.00", "received_on": timezone.localdate().isoformat()}, format="json")
    assert response.status_code == 201 and time.monotonic() - started < 10
    item = OutboxItem.objects.get(task=outbox.OFFSETS_TASK)
    assert item.status == OutboxItem.Status.PENDING and not Allocation.objects.exists()
    settings.CELERY_TASK_ALWAYS_EAGER = False
    with real_worker("celery"):
        assert outbox.sweep(now=timezone.now() + timedelta(hours=1)) == 1
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            item.refresh_from_db()
            if item.status == OutboxItem.Status.DONE:
                break
            time.sleep(0.2)
        assert item.status == OutboxItem.Status.DONE, item.last_error
        assert outbox.sweep(now=timezone.now() + timedelta(hours=2)) == 0
    assert Allocation.objects.filter(debt=debt).count() == 1 and Allocation.objects.count() == 1
