"""Notices (expiring bonds once per threshold, shortfalls) and suspension after the due date; tasks."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from accounts.models import ProgramAccount
from billing.rpp import schedule, services, tasks
from billing.rpp.models import Notice, RppStatus, SecurityRequirement

pytestmark = pytest.mark.django_db


def test_bond_expiry_notices_once_per_threshold(importer, rm, django_capture_on_commit_callbacks):
    today = timezone.localdate()
    bond = services.bond_record(
        actor=importer.bam, business=importer, surety_name="S", bond_number="EXP-1", amount=Decimal("5000"),
        effective_date=today - timedelta(days=300), expiry_date=today + timedelta(days=61),
        allocations=[(rm, Decimal("5000"))],
    )
    assert services.bond_expiry_notices(today=today) == []  # 61 days: nothing yet
    seen = []
    with django_capture_on_commit_callbacks(execute=True):
        for offset in range(0, 62):  # run the daily job every day until expiry, twice a day
            day = today + timedelta(days=offset)
            seen += services.bond_expiry_notices(today=day)
            seen += services.bond_expiry_notices(today=day)
    notices = Notice.objects.filter(bond=bond, kind=Notice.Kind.BOND_EXPIRY).order_by("created_at", "id")
    assert [n.threshold_days for n in notices] == [60, 30, 7]
    assert len(seen) == 3
    assert len(mail.outbox) == 3 and importer.bam.email in mail.outbox[0].to
    assert "expires in 60 days" in mail.outbox[0].subject
    # A bond first seen 20 days before expiry gets the 30-day notice only (then the 7-day one).
    late = services.bond_record(
        actor=importer.bam, business=importer, surety_name="S", bond_number="EXP-2", amount=Decimal("10"),
        effective_date=today, expiry_date=today + timedelta(days=20), allocations=[(rm, Decimal("10"))],
    )
    services.bond_expiry_notices(today=today)
    assert list(Notice.objects.filter(bond=late).values_list("threshold_days", flat=True)) == [30]


def test_shortfall_notice_then_suspension_after_due_date(importer, rm, settings):
    today = timezone.localdate()
    services.enrolment_set_status(actor=None, program_account=rm, status=RppStatus.REQUESTED)
    services.enrolment_set_status(actor=None, program_account=rm, status=RppStatus.ENROLLED)
    req = services.estimate_set(actor=importer.bam, program_account=rm, monthly_estimate=Decimal("20000"))
    assert req.due_date == today + timedelta(days=30)
    assert len(services.shortfall_notices([rm], today=today)) == 1
    assert services.shortfall_notices([rm], today=today) == []  # idempotent
    assert services.daily(today=req.due_date)["suspended"] == 0  # the due date itself is still in time
    result = services.daily(today=req.due_date + timedelta(days=1))
    assert result["suspended"] == 1
    rm.refresh_from_db()
    assert rm.rpp_status == ProgramAccount.RppStatus.SUSPENDED
    assert Notice.objects.filter(program_account=rm, kind=Notice.Kind.SUSPENDED).count() == 1
    # Covering the shortfall reinstates it.
    services.cash_deposit_record(actor=importer.bam, program_account=rm, amount=Decimal("20000"), received_date=today)
    rm.refresh_from_db()
    assert rm.rpp_status == ProgramAccount.RppStatus.ENROLLED


def test_grace_days_is_a_setting(importer, rm, settings):
    settings.CARM = {**settings.CARM, "RPP_SHORTFALL_GRACE_DAYS": 10}
    req = services.estimate_set(actor=importer.bam, program_account=rm, monthly_estimate=Decimal("20000"))
    assert req.due_date == timezone.localdate() + timedelta(days=10)


def test_tasks_and_beat_schedule(importer, rm):
    names = {entry["task"] for entry in schedule.BEAT_SCHEDULE.values()}
    assert names == {"billing.rpp.annual_review", "billing.rpp.monthly_recompute", "billing.rpp.daily"}
    annual = schedule.BEAT_SCHEDULE["rpp-annual-review"]["schedule"]
    assert annual.day_of_month == {20} and annual.month_of_year == {10}
    assert schedule.BEAT_SCHEDULE["rpp-monthly-recompute"]["schedule"].day_of_month == {26}
    from carm_portal.celery import app

    for name in names | {"billing.rpp.recompute_requirement"}:
        assert name in app.tasks
    services.enrolment_request(actor=importer.bam, program_account=rm, monthly_estimate=Decimal("8000"))
    assert tasks.monthly_recompute_task.delay().get() == 1
    assert SecurityRequirement.objects.filter(program_account=rm, is_current=True, trigger="monthly").exists()
    pk = tasks.recompute_requirement_task.delay(rm.pk, importer.bam.pk).get()
    assert SecurityRequirement.objects.get(pk=pk).trigger == "on_demand"
    assert tasks.recompute_requirement_task.delay(999999).get() is None
    assert tasks.daily_task.delay().get()["suspended"] == 0
    assert tasks.annual_review_task.delay().get() == 1


def test_jobs_cover_accounts_enrolled_before_this_app(importer, rm):
    # The foundation's flag alone (no RppEnrolment row yet), as in data loaded before RPP security.
    type(rm).objects.filter(pk=rm.pk).update(rpp_status="enrolled")
    assert services.monthly_recompute() == 1
    assert SecurityRequirement.objects.filter(program_account=rm, is_current=True).exists()
