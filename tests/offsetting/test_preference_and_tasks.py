"""The offsetting preference (BAM through the accounts service; a broker with the financial scope
through ours, audited), the daily sweep, the beat entry, and "after every new credit"."""

import importlib
from decimal import Decimal

import pytest
from django.http import Http404

from accounts.models import AuditEvent, Business
from accounts.roles import Role
from billing.ledger.models import LedgerEntry
from billing.offsetting import services, sweep, tasks
from billing.offsetting.models import Allocation
from carm_portal.exceptions import ApplicationError
from tests import factories

from .conftest import OCT, post, set_preference

pytestmark = pytest.mark.django_db

P = Business.OffsettingPreference
K = LedgerEntry.Kind


def test_bam_changes_the_preference_through_the_accounts_service(importer):
    services.preference_update(actor=importer.bam, business=importer, preference=P.MANUAL)
    importer.refresh_from_db()
    assert importer.offsetting_preference == P.MANUAL
    event = AuditEvent.objects.get(action="accounts.business.updated")
    assert event.changes == {"offsetting_preference": ["auto_program", "manual"]}
    with pytest.raises(ApplicationError):
        services.preference_update(actor=importer.bam, business=importer, preference="sometimes")


def test_broker_with_the_financial_scope_on_every_rm(importer, broker):
    assert not services.can_change_preference(broker.bam, importer)
    with pytest.raises(Http404):
        services.preference_update(actor=broker.bam, business=importer, preference=P.AUTO_BUSINESS)
    delegation = factories.make_delegation(importer, broker, accounts=[importer.program_accounts.first()])
    with pytest.raises(Http404):  # one RM of two is not the business
        services.preference_update(actor=broker.bam, business=importer, preference=P.AUTO_BUSINESS)
    delegation.delete()
    factories.make_delegation(importer, broker, financial=False)
    with pytest.raises(Http404):
        services.preference_update(actor=broker.bam, business=importer, preference=P.AUTO_BUSINESS)
    factories.make_delegation(factories.make_business(), broker)  # unrelated
    other = factories.make_business(kind=Business.Kind.BROKER)
    other.bam = factories.add_member(other)
    factories.make_delegation(importer, other, financial=True)
    assert services.can_change_preference(other.bam, importer)
    services.preference_update(actor=other.bam, business=importer, preference=P.AUTO_BUSINESS)
    importer.refresh_from_db()
    assert importer.offsetting_preference == P.AUTO_BUSINESS
    event = AuditEvent.objects.get(action="offsetting.preference.updated")
    assert (event.actor, event.acting_for, event.changes) == (
        other.bam, importer, {"offsetting_preference": ["auto_program", "auto_business"]})
    assert services.preference_changers(other.bam, [importer.pk]) == {importer.pk}


def test_importer_staff_other_than_the_bam_cannot(importer):
    editor = factories.add_member(importer, role=Role.EDITOR)
    assert not services.can_change_preference(editor, importer)
    with pytest.raises(ApplicationError, match="Business Account Manager"):
        services.preference_update(actor=editor, business=importer, preference=P.MANUAL)
    assert services.preference_changers(editor, [importer.pk]) == set()
    assert services.preference_changers(importer.bam, [importer.pk]) == {importer.pk}


def test_schedule_is_a_plain_daily_sweep():
    schedule = importlib.import_module("billing.offsetting.schedule").BEAT_SCHEDULE
    (entry,) = schedule.values()
    assert entry["task"] == "billing.offsetting.sweep" == tasks.sweep_task.name
    from carm_portal.celery import collect_beat_schedule

    assert "offsetting-daily-sweep" in collect_beat_schedule()


def test_sweep_fans_out_one_task_per_account_with_credit(importer, other_importer, rm, rm2):
    manual = factories.make_business(accounts=1)
    set_preference(manual, P.MANUAL)
    post(manual.program_accounts.get(), K.PAYMENT, "-10.00", OCT)
    post(rm, K.PAYMENT, "-10.00", OCT)
    post(rm2, K.PAYMENT, "-10.00", OCT)
    post(rm2, K.PAYMENT, "-5.00", OCT)
    theirs = other_importer.program_accounts.get()
    post(theirs, K.SECURITY_DEPOSIT, "-10.00", OCT)  # not a credit for offsetting
    assert sorted(sweep.accounts_to_offset()) == sorted([rm.pk, rm2.pk])
    set_preference(importer, P.AUTO_BUSINESS)
    assert len(list(sweep.accounts_to_offset())) == 1
    # Eager Celery here: the sweep runs each account's task.
    debt = post(rm, K.CAD_CHARGE, "25.00", OCT)
    assert tasks.sweep_task.delay().get() == 1
    assert sum(Allocation.objects.filter(debt=debt).values_list("amount", flat=True)) == Decimal("25.00")


def test_a_new_credit_queues_offsetting_once_from_its_posting_service(importer, rm, settings,
                                                                      django_capture_on_commit_callbacks):
    """No ledger signal: a bare ledger entry queues nothing (the daily sweep finds it); the service
    that posts a credit (here a payment) asks once, through the outbox, after the commit."""
    from django.utils import timezone

    from billing.payments import payment_record
    from carm_portal.models import OutboxItem

    settings.CARM = {**settings.CARM, "OFFSET_AFTER_NEW_CREDIT": True}
    debt = post(rm, K.CAD_CHARGE, "25.00", OCT)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        post(rm, K.SECURITY_DEPOSIT, "-50.00", OCT)
        post(rm, K.PAYMENT, "-5.00", OCT)
    assert callbacks == []
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        payment_record(importer.bam, rm, "online_banking", "PAY-OFFSET", Decimal("50.00"), timezone.localdate())
    assert len(callbacks) == 1  # ran apply_offsets_task (eager) for today: the Oct debt is due
    item = OutboxItem.objects.get(task="billing.offsetting.apply_offsets")
    assert (item.args, item.status) == ([rm.pk], OutboxItem.Status.DONE)
    assert sum(a.amount for a in Allocation.objects.filter(debt=debt)) == Decimal("25.00")


def test_run_on_demand_is_gated_and_queued(importer, other_importer, rm, django_capture_on_commit_callbacks):
    with pytest.raises(Http404):
        services.run_offsets(actor=other_importer.bam, program_account=rm)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.run_offsets(actor=importer.bam, program_account=rm)
    assert len(callbacks) == 1
    assert AuditEvent.objects.filter(action="offsetting.run.requested").count() == 1
