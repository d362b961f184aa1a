"""Notices (expiring bonds once per threshold, shortfalls) and suspension after the due date; tasks."""

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from accounts.models import ProgramAccount
from billing.rpp import schedule, services, tasks
from billing.rpp.models import Notice, RppStatus, SecurityForecast, SecurityRequirement
from tests.rpp.conftest import WORKED_EXAMPLE, binding_from_estimate, post_months

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


def test_a_shortfall_outside_the_review_warns_but_never_suspends(importer, rm):
    """A shortfall against the binding requirement set at enrolment (e.g. a bond that lapsed): a
    notice, no suspension threat, no suspension (carm-rules §3 ASSUMPTION)."""
    today = date(2026, 11, 30)
    services.enrolment_set_status(actor=None, program_account=rm, status=RppStatus.REQUESTED)
    services.enrolment_set_status(actor=None, program_account=rm, status=RppStatus.ENROLLED)
    req = binding_from_estimate(rm, "20000", as_of=today)
    assert req.due_date == today + timedelta(days=30)
    (notice,) = services.shortfall_notices([rm], today=today)
    assert "binding requirement of $10,000.00" in notice.body and "suspended" not in notice.body
    assert services.shortfall_notices([rm], today=today) == []  # idempotent
    assert services.daily(today=req.due_date + timedelta(days=1))["suspended"] == 0
    rm.refresh_from_db()
    assert rm.rpp_status == ProgramAccount.RppStatus.ENROLLED


def test_review_increase_is_due_15_january_and_suspends_only_after(importer, rm):
    """Worked case: enrolled on an estimate of 8,000 (bond 5,000, or 8,000 cash), covered by $8,000
    cash. The review of 2026-10-20 over the 12 months to 19 October (worked example 2) raises it to
    a $22,875 bond or $45,750 cash: the $8,000 cash counts as a $4,000 bond, short $18,875, due
    2027-01-15. 2027-01-15 is still in time; 2027-01-16 suspends; covering it reinstates."""
    services.enrolment_set_status(actor=None, program_account=rm, status=RppStatus.REQUESTED)
    binding_from_estimate(rm, "8000", as_of=date(2025, 12, 1))
    services.cash_deposit_record(actor=importer.bam, program_account=rm, amount=Decimal("8000"),
                                 received_date=date(2025, 12, 1))
    rm.refresh_from_db()
    assert rm.rpp_status == ProgramAccount.RppStatus.ENROLLED
    post_months(rm, WORKED_EXAMPLE, as_of=date(2026, 10, 19))
    # The monthly job in between only forecasts: the binding bond stays $5,000, no shortfall.
    services.monthly_recompute(as_of=date(2026, 8, 26))
    assert SecurityRequirement.objects.get(program_account=rm, is_current=True).bond_amount == Decimal("5000.00")
    assert services.annual_review(review_date=date(2026, 10, 20)) == 1
    req = SecurityRequirement.objects.get(program_account=rm, is_current=True)
    assert (req.bond_amount, req.due_date, req.is_increase) == (Decimal("22875.00"), date(2027, 1, 15), True)
    changed = Notice.objects.get(kind="requirement_changed", program_account=rm)
    assert "Post the increase by 2027-01-15, or RPP is suspended" in changed.body
    (short,) = services.shortfall_notices([rm], today=date(2026, 10, 21))
    assert "$18,875.00" in short.body and "by 2027-01-15" in short.body and "suspended" in short.body
    assert services.daily(today=date(2027, 1, 15))["suspended"] == 0  # the due date itself is in time
    assert services.daily(today=date(2027, 1, 16))["suspended"] == 1
    rm.refresh_from_db()
    assert rm.rpp_status == ProgramAccount.RppStatus.SUSPENDED
    assert Notice.objects.filter(program_account=rm, kind=Notice.Kind.SUSPENDED).count() == 1
    services.cash_deposit_record(actor=importer.bam, program_account=rm, amount=Decimal("40000"),
                                 received_date=date(2027, 1, 16))
    services.sync_with_security([rm], today=date(2027, 1, 16))
    rm.refresh_from_db()
    assert rm.rpp_status == ProgramAccount.RppStatus.ENROLLED


def test_grace_days_is_a_setting(importer, rm, settings):
    settings.CARM = {**settings.CARM, "RPP_SHORTFALL_GRACE_DAYS": 10}
    req = binding_from_estimate(rm, "20000", as_of=date(2026, 11, 30))
    assert req.due_date == date(2026, 12, 10)


def test_review_day_window_and_increase_due_date_are_settings(settings):
    settings.CARM = {**settings.CARM, "RPP_REVIEW_MONTH": 9, "RPP_REVIEW_DAY": 1, "RPP_REVIEW_WINDOW_MONTHS": 6,
                     "RPP_INCREASE_DUE_MONTH": 11, "RPP_INCREASE_DUE_DAY": 30}
    assert services.annual_review_date(2026) == date(2026, 9, 1)
    assert services.increase_due_date(date(2026, 9, 1)) == date(2026, 11, 30)  # the first 30 November after it
    assert len(services.annual_review_window(2026)) == 6
    assert services.is_review_day(date(2026, 9, 1)) and not services.is_review_day(date(2026, 10, 20))
    assert services.next_annual_review(date(2026, 9, 2)) == date(2027, 9, 1)


def test_tasks_and_beat_schedule(importer, rm):
    names = {entry["task"] for entry in schedule.BEAT_SCHEDULE.values()}
    assert names == {"billing.rpp.annual_review", "billing.rpp.monthly_recompute", "billing.rpp.daily"}
    # Daily: the task itself runs the review on the configured day only.
    annual = schedule.BEAT_SCHEDULE["rpp-annual-review"]["schedule"]
    assert annual.hour == {3} and len(annual.day_of_month) == 31
    assert schedule.BEAT_SCHEDULE["rpp-monthly-recompute"]["schedule"].day_of_month == {26}
    from carm_portal.celery import app

    for name in names | {"billing.rpp.recompute_requirement"}:
        assert name in app.tasks
    with time_machine.travel(datetime(2026, 11, 26, 12, tzinfo=ZoneInfo("America/Toronto")), tick=False):
        services.enrolment_request(actor=importer.bam, program_account=rm, monthly_estimate=Decimal("8000"))
        assert tasks.monthly_recompute_task.delay().get() == 1
        # The monthly job forecasts; the binding requirement is still the one set at enrolment.
        current = SecurityRequirement.objects.get(program_account=rm, is_current=True)
        assert current.trigger == "enrolment"
        assert SecurityForecast.objects.get(program_account=rm).as_of == date(2026, 11, 26)
        pk = tasks.recompute_requirement_task.delay(rm.pk, importer.bam.pk).get()
        assert pk == current.pk
        assert tasks.recompute_requirement_task.delay(999999).get() is None
        assert tasks.daily_task.delay().get()["suspended"] == 0
        assert tasks.annual_review_task.delay().get() == 0  # not the review day
    with time_machine.travel(datetime(2026, 10, 20, 12, tzinfo=ZoneInfo("America/Toronto")), tick=False):
        assert tasks.annual_review_task.delay().get() == 1
        assert tasks.annual_review_task.delay().get() == 0  # a rerun the same day is a no-op


def test_jobs_cover_accounts_enrolled_before_this_app(importer, rm):
    # The foundation's flag alone (no RppEnrolment row yet), as in data loaded before RPP security.
    type(rm).objects.filter(pk=rm.pk).update(rpp_status="enrolled")
    assert services.monthly_recompute() == 1
    assert SecurityRequirement.objects.filter(program_account=rm, is_current=True).exists()
