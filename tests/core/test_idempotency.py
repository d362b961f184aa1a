"""One idempotency mechanism (carm_portal.idempotency) for every POST that creates money or
documents: same key + same request → the original response; same key + another request → 409;
concurrent requests with one key → one row, every caller the same answer (PostgreSQL)."""

from __future__ import annotations

import json
import threading

import pytest
from django.db import connection, connections
from django.utils import timezone
from rest_framework.test import APIClient

from billing.ledger.models import LedgerEntry
from billing.models import Payment
from carm_portal.models import IdempotentRequest

API = "/api/v1"


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user=user)
    return client


def payment(account, **overrides):
    return {"program_account": account.pk, "method": "online_banking", "reference": "PAY-IDEM", "amount": "125.00",
            "received_on": timezone.localdate().isoformat(), **overrides}


@pytest.fixture
def account(importer):
    return importer.program_accounts.order_by("number").first()


@pytest.mark.django_db
def test_a_payment_retried_with_its_key_gets_the_original_response(importer, account):
    api = client_for(importer.bam)
    first = api.post(f"{API}/payments/", payment(account), format="json", HTTP_IDEMPOTENCY_KEY="pay-1")
    again = api.post(f"{API}/payments/", payment(account), format="json", HTTP_IDEMPOTENCY_KEY="pay-1")
    assert first.status_code == again.status_code == 201, again.content
    assert again.content == first.content and again["Idempotent-Replayed"] == "true"
    assert Payment.objects.count() == 1 and LedgerEntry.objects.filter(kind="payment").count() == 1
    assert IdempotentRequest.objects.get().response_status == 201


@pytest.mark.django_db
@pytest.mark.parametrize("change", [{"amount": "126.00"}, {"method": "pad"}, {"reference": "PAY-OTHER"}])
def test_a_payment_key_reused_for_another_payment_answers_409(importer, account, change):
    api = client_for(importer.bam)
    assert api.post(f"{API}/payments/", payment(account), format="json",
                    HTTP_IDEMPOTENCY_KEY="pay-2").status_code == 201
    other = api.post(f"{API}/payments/", payment(account, **change), format="json", HTTP_IDEMPOTENCY_KEY="pay-2")
    assert other.status_code == 409 and "different request" in other.json()["detail"]
    assert Payment.objects.count() == 1


@pytest.mark.django_db
def test_keys_are_per_user_a_failed_request_keeps_no_claim_and_long_keys_are_refused(importer, account):
    from tests import factories

    api = client_for(importer.bam)
    bad = api.post(f"{API}/payments/", payment(account, amount="-5.00"), format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert bad.status_code == 400 and not IdempotentRequest.objects.exists()
    assert api.post(f"{API}/payments/", payment(account), format="json", HTTP_IDEMPOTENCY_KEY="k").status_code == 201
    colleague = factories.add_member(importer)
    second = client_for(colleague).post(f"{API}/payments/", payment(account, reference="PAY-2"), format="json",
                                        HTTP_IDEMPOTENCY_KEY="k")
    assert second.status_code == 201 and Payment.objects.count() == 2
    too_long = api.post(f"{API}/payments/", payment(account, reference="PAY-3"), format="json",
                        HTTP_IDEMPOTENCY_KEY="x" * 101)
    assert too_long.status_code == 400 and Payment.objects.count() == 2


@pytest.mark.django_db
def test_without_a_key_nothing_is_remembered(importer, account):
    api = client_for(importer.bam)
    assert api.post(f"{API}/payments/", payment(account), format="json").status_code == 201
    assert api.post(f"{API}/payments/", payment(account), format="json").status_code == 400  # duplicate reference
    assert not IdempotentRequest.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_one_key_make_one_payment_and_all_get_the_replay(importer, account):
    if connection.vendor != "postgresql":
        from tests.conftest import IN_CI

        if IN_CI:
            pytest.fail("concurrent requests need PostgreSQL (required in CI)")
        pytest.skip("concurrent requests need PostgreSQL row locks (set DATABASE_URL)")
    user = importer.bam
    barrier = threading.Barrier(8)
    results: list = []

    def post() -> None:
        try:
            barrier.wait(timeout=10)
            response = client_for(user).post(f"{API}/payments/", payment(account), format="json",
                                             HTTP_IDEMPOTENCY_KEY="race-1")
            results.append((response.status_code, response.json()))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=post) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(results) == 8
    assert {status for status, _ in results} == {201}, results
    assert len({json.dumps(body) for _, body in results}) == 1  # the same bytes, key order included
    assert Payment.objects.count() == 1 and IdempotentRequest.objects.count() == 1


@pytest.mark.django_db
def test_security_deposits_and_bonds_take_the_same_key_rules(importer, account):
    from datetime import timedelta

    from billing.rpp.models import Bond, CashDeposit

    api = client_for(importer.bam)
    today = timezone.localdate()
    deposit = {"program_account": account.pk, "amount": "8000.00", "received_date": today.isoformat(),
               "reference": "W-IDEM"}
    first = api.post(f"{API}/security/deposits/", deposit, format="json", HTTP_IDEMPOTENCY_KEY="dep-1")
    again = api.post(f"{API}/security/deposits/", deposit, format="json", HTTP_IDEMPOTENCY_KEY="dep-1")
    assert first.status_code == again.status_code == 201, first.content
    assert again.content == first.content and CashDeposit.objects.count() == 1
    other = api.post(f"{API}/security/deposits/", {**deposit, "amount": "9000.00"}, format="json",
                     HTTP_IDEMPOTENCY_KEY="dep-1")
    assert other.status_code == 409 and CashDeposit.objects.count() == 1
    bond = {"bond_kind": "ewsa", "surety_name": "Surety", "bond_number": "IDEM-1", "amount": "30000.00",
            "effective_date": today.isoformat(), "expiry_date": (today + timedelta(days=365)).isoformat(),
            "allocations": [{"program_account": account.pk, "amount": "20000.00"}]}
    first = api.post(f"{API}/security/bonds/", bond, format="json", HTTP_IDEMPOTENCY_KEY="bond-1")
    again = api.post(f"{API}/security/bonds/", bond, format="json", HTTP_IDEMPOTENCY_KEY="bond-1")
    assert first.status_code == again.status_code == 201, first.content
    assert again.content == first.content and Bond.objects.count() == 1


# --- Retention: keys are forgotten after CARM["IDEMPOTENCY_RETENTION_DAYS"] ----------------------------


def _key_row(user, key: str, created_at):
    return IdempotentRequest.objects.create(user=user, key=key, endpoint="POST /api/v1/payments/",
                                            request_hash="0" * 64, response_status=201, response_body="{}",
                                            created_at=created_at)


@pytest.mark.django_db
def test_the_purge_deletes_keys_older_than_the_retention_in_batches(importer, settings):
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    from carm_portal import idempotency

    now = datetime(2026, 3, 10, 12, 0, tzinfo=ZoneInfo("America/Toronto"))
    user = importer.bam
    for n in range(7):
        _key_row(user, f"old-{n}", now - timedelta(days=30, seconds=1 + n))
    kept = [_key_row(user, "edge", now - timedelta(days=30)), _key_row(user, "young", now - timedelta(days=1))]
    assert idempotency.purge_expired(now=now, batch=3) == 7  # three statements: 3 + 3 + 1
    assert sorted(IdempotentRequest.objects.values_list("key", flat=True)) == sorted(r.key for r in kept)

    settings.CARM = {**settings.CARM, "IDEMPOTENCY_RETENTION_DAYS": 1}
    assert idempotency.purge_expired(now=now, batch=3) == 1  # "edge" (30 days old); "young" is exactly 1 day
    assert list(IdempotentRequest.objects.values_list("key", flat=True)) == ["young"]


@pytest.mark.django_db
def test_the_purge_stops_after_max_batches_and_the_next_run_finishes(importer):
    from datetime import timedelta

    from carm_portal import idempotency

    now = timezone.now()
    for n in range(5):
        _key_row(importer.bam, f"old-{n}", now - timedelta(days=40))
    assert idempotency.purge_expired(now=now, batch=2, max_batches=2) == 4
    assert idempotency.purge_expired(now=now, batch=2, max_batches=2) == 1
    assert not IdempotentRequest.objects.exists()


@pytest.mark.django_db
def test_a_purged_key_is_a_new_request(importer, account):
    """After the retention, the same key and body run afresh (here: refused as a duplicate reference)."""
    from datetime import timedelta

    from carm_portal import idempotency

    api = client_for(importer.bam)
    assert api.post(f"{API}/payments/", payment(account), format="json", HTTP_IDEMPOTENCY_KEY="p").status_code == 201
    assert idempotency.purge_expired(now=timezone.now() + timedelta(days=31)) == 1
    again = api.post(f"{API}/payments/", payment(account), format="json", HTTP_IDEMPOTENCY_KEY="p")
    assert again.status_code == 400 and "reference" in again.json()


def test_the_purge_is_on_the_beat_schedule_and_the_task_is_registered():
    from carm_portal.celery import app, collect_beat_schedule

    entry = collect_beat_schedule()["idempotency-purge"]
    assert entry["task"] == "carm_portal.idempotency.purge"
    assert entry["task"] in app.tasks


@pytest.mark.django_db
def test_the_purge_task_runs(importer):
    from datetime import timedelta

    from carm_portal.tasks import purge_idempotency_keys

    _key_row(importer.bam, "old", timezone.now() - timedelta(days=31))
    _key_row(importer.bam, "new", timezone.now())
    assert purge_idempotency_keys.apply().get() == 1
    assert list(IdempotentRequest.objects.values_list("key", flat=True)) == ["new"]
