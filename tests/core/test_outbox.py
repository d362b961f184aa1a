"""Work after a commit (carm_portal.outbox): recorded with the change, sent after the commit, sent
again by the sweeper until done; with the broker unreachable the request still succeeds.

"Broker down" here is a broker URL where nothing listens (``redis://127.0.0.1:1/0``); "the broker
is back" is the eager mode (the task runs in-process) or, in ``test_outbox_worker.py``, a real
worker on Redis.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from billing.models import Payment
from billing.offsetting.models import Allocation
from carm_portal import outbox
from carm_portal.models import OutboxItem
from tests.appeals.conftest import make_cad

pytestmark = pytest.mark.django_db

DOWN = "redis://127.0.0.1:1/0"


def _reset(app) -> None:
    from tests.celery_worker import _reset_connections

    _reset_connections(app)


@pytest.fixture
def broker_down(settings):
    """Celery is configured for a broker nobody answers; yields a function that brings it "back"
    (eager: the task runs in this process, as a worker would)."""
    from carm_portal.celery import app

    old = {k: app.conf.get(k) for k in ("broker_url", "task_always_eager")}
    app.conf.update(broker_url=DOWN, task_always_eager=False)
    settings.CELERY_TASK_ALWAYS_EAGER = False
    _reset(app)

    def back() -> None:
        app.conf.update(**old)
        settings.CELERY_TASK_ALWAYS_EAGER = True
        _reset(app)

    yield back
    app.conf.update(**old)
    _reset(app)


@pytest.fixture
def account(importer):
    return importer.program_accounts.order_by("number").first()


def _debt(account, amount="500.00"):
    from billing.ledger import services as ledger
    from billing.ledger.models import LedgerEntry
    from carm_portal import calendar

    period = calendar.billing_period_for(timezone.localdate() - timedelta(days=70))
    return ledger.post_entry(
        program_account=account, kind=LedgerEntry.Kind.CAD_CHARGE, amount=Decimal(amount),
        effective_date=period - timedelta(days=3), billing_period=period, idempotency_key=f"debt:{account.pk}",
        reference="DEBT-1", description="An old charge",
    )


# --- The module ------------------------------------------------------------------------------------

def test_an_item_is_recorded_in_the_transaction_and_done_after_the_commit(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        item = outbox.enqueue("carm_portal.tasks.heartbeat")
        assert OutboxItem.objects.get(pk=item.pk).status == OutboxItem.Status.PENDING
    assert len(callbacks) == 1
    item.refresh_from_db()
    assert (item.status, item.attempts) == (OutboxItem.Status.DONE, 1) and item.done_at is not None


def test_a_rolled_back_change_leaves_no_item():
    from django.db import transaction

    with pytest.raises(RuntimeError), transaction.atomic():
        outbox.enqueue("carm_portal.tasks.heartbeat")
        raise RuntimeError
    assert not OutboxItem.objects.exists()


def test_open_items_with_one_key_are_one_item(broker_down, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = outbox.enqueue("declarations.pdf.render_cad", 1, key="pdf:cad:1:v1")
    with django_capture_on_commit_callbacks(execute=True):
        again = outbox.enqueue("declarations.pdf.render_cad", 1, key="pdf:cad:1:v1")
    assert again.pk == first.pk and OutboxItem.objects.count() == 1
    broker_down()
    OutboxItem.objects.update(status=OutboxItem.Status.DONE)
    assert outbox.enqueue("declarations.pdf.render_cad", 1, key="pdf:cad:1:v1").pk != first.pk  # a done one is history


def test_broker_down_keeps_the_item_pending_and_the_sweeper_sends_it_once_back(
        broker_down, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        item = outbox.enqueue("carm_portal.tasks.heartbeat")  # sent after the commit, and failed
    item.refresh_from_db()
    assert item.status == OutboxItem.Status.PENDING and "OperationalError" in item.last_error
    assert item.next_attempt_at > timezone.now()  # backs off
    assert outbox.sweep() == 0  # not due yet
    broker_down()
    assert outbox.sweep(now=timezone.now() + timedelta(minutes=2)) == 1
    item.refresh_from_db()
    assert item.status == OutboxItem.Status.DONE and item.attempts == 2
    assert outbox.sweep(now=timezone.now() + timedelta(hours=2)) == 0  # done is done


def test_a_sent_item_that_never_finished_is_sent_again(broker_down, settings):
    broker_down()
    item = OutboxItem.objects.create(task="carm_portal.tasks.heartbeat", status=OutboxItem.Status.SENT,
                                     sent_at=timezone.now() - timedelta(hours=1), attempts=1)
    assert outbox.sweep() == 1
    item.refresh_from_db()
    assert item.status == OutboxItem.Status.DONE and item.attempts == 2


def test_a_failing_task_is_retried_then_marked_failed(settings, django_capture_on_commit_callbacks):
    settings.CARM = {**settings.CARM, "OUTBOX_MAX_ATTEMPTS": 2}
    with django_capture_on_commit_callbacks(execute=True):
        item = outbox.enqueue("declarations.pdf.render_cad", 999_999_999)  # eager; the task: "gone", a success
        bad = outbox.enqueue("no.such.task")
    item.refresh_from_db()
    assert item.status == OutboxItem.Status.DONE
    bad.refresh_from_db()
    assert bad.status == OutboxItem.Status.PENDING and "unknown task" in bad.last_error
    outbox.sweep(now=timezone.now() + timedelta(hours=2))
    bad.refresh_from_db()
    assert bad.status == OutboxItem.Status.FAILED and bad.attempts == 2


# --- Every place that enqueued after a commit ------------------------------------------------------

def test_a_payment_with_the_broker_down_is_recorded_and_offsetting_follows_once_back(
        client, importer, account, broker_down, django_capture_on_commit_callbacks):
    debt = _debt(account)
    client.force_login(importer.bam)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/api/v1/payments/", {
            "program_account": account.pk, "method": "online_banking", "reference": "PAY-OUTBOX",
            "amount": "200.00", "received_on": timezone.localdate().isoformat(),
        }, content_type="application/json")
    assert response.status_code == 201, response.content
    assert Payment.objects.filter(reference="PAY-OUTBOX").count() == 1
    items = list(OutboxItem.objects.filter(task=outbox.OFFSETS_TASK))
    assert [(i.args, i.status) for i in items] == [([account.pk], OutboxItem.Status.PENDING)]  # queued ONCE
    assert not Allocation.objects.exists()
    broker_down()
    assert outbox.sweep(now=timezone.now() + timedelta(hours=1)) == 1
    assert Allocation.objects.filter(debt=debt).count() == 1
    assert outbox.sweep(now=timezone.now() + timedelta(hours=2)) == 0
    assert Allocation.objects.count() == 1


def test_one_payment_queues_offsetting_once(importer, account, django_capture_on_commit_callbacks):
    """No ledger signal: the payment service asks once (it used to be asked twice)."""
    from billing.payments import payment_record

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        payment_record(importer.bam, account, "online_banking", "PAY-ONCE", Decimal("10.00"), timezone.localdate())
    assert OutboxItem.objects.filter(task=outbox.OFFSETS_TASK).count() == 1
    assert len(callbacks) == 1


def test_a_cad_pdf_with_the_broker_down_says_being_prepared(client, importer, account, broker_down, settings,
                                                            tmp_path, django_capture_on_commit_callbacks):
    settings.PRIVATE_STORAGE_ROOT = tmp_path / "private"
    cad = make_cad(account)
    client.force_login(importer.bam)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.get(f"/declarations/{cad.pk}/pdf/")
    assert response.status_code == 202 and response["Retry-After"]
    with django_capture_on_commit_callbacks(execute=True):
        assert client.get(f"/declarations/{cad.pk}/pdf/").status_code == 202  # a poll does not queue it again
    assert OutboxItem.objects.filter(task="declarations.pdf.render_cad", args=[cad.pk]).count() == 1
    broker_down()
    assert outbox.sweep(now=timezone.now() + timedelta(hours=1)) == 1
    assert OutboxItem.objects.get(task="declarations.pdf.render_cad").status == OutboxItem.Status.DONE
    assert client.get(f"/declarations/{cad.pk}/pdf/").status_code == 200


def test_an_appeal_decision_with_the_broker_down_is_kept_and_its_letter_follows(
        cbsa_officer, account, broker_down, settings, tmp_path, django_capture_on_commit_callbacks):
    from appeals import services
    from appeals.models import Appeal
    from tests.appeals.conftest import make_statement, walk_to_assigned

    settings.PRIVATE_STORAGE_ROOT = tmp_path / "private"
    today = timezone.localdate()
    statement = make_statement(cbsa_officer, account, decision_date=today - timedelta(days=5), today=today)
    services.statement_record_secured(actor=cbsa_officer, statement=statement)
    appeal = services.appeal_create(actor=account.business.bam, statements=[statement], issue="classification",
                                    grounds="Heading 61.09.")
    appeal = services.appeal_submit(actor=account.business.bam, appeal=appeal)
    appeal = walk_to_assigned(cbsa_officer, appeal)
    with django_capture_on_commit_callbacks(execute=True):
        services.appeal_decide(actor=cbsa_officer, appeal=appeal, outcome="allowed", reasons="Allowed.",
                               amount=Decimal("100.00"))
    assert Appeal.objects.get(pk=appeal.pk).status == Appeal.Status.DECISION_RENDERED
    letters = OutboxItem.objects.filter(task="appeals.pdf.render_decision_letter", args=[appeal.pk])
    assert letters.get().status == OutboxItem.Status.PENDING
    assert OutboxItem.objects.filter(task=outbox.OFFSETS_TASK, args=[account.pk]).count() == 1
    broker_down()
    assert outbox.sweep(now=timezone.now() + timedelta(hours=1)) == 2
    assert letters.get().status == OutboxItem.Status.DONE


@pytest.fixture
def cbsa_officer(db):
    from tests import factories

    make = getattr(factories, "make_officer", None)
    if make is not None:
        return make(email="outbox-officer@cbsa.example.com")
    return factories.make_user(email="outbox-officer@cbsa.example.com", is_staff=True)


def test_done_items_are_forgotten_after_a_week():
    old = OutboxItem.objects.create(task="x", status=OutboxItem.Status.DONE,
                                    done_at=timezone.now() - timedelta(days=8))
    recent = OutboxItem.objects.create(task="x", status=OutboxItem.Status.DONE, done_at=timezone.now())
    failed = OutboxItem.objects.create(task="x", status=OutboxItem.Status.FAILED)
    outbox.sweep()
    assert set(OutboxItem.objects.values_list("pk", flat=True)) == {recent.pk, failed.pk} and old.pk
