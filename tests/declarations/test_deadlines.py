"""CAD due dates, billing periods and the correction/adjustment boundary (carm_portal.calendar)."""

from datetime import date

import pytest

from carm_portal.calendar import add_years, billing_period_for, payment_due_date, posting_period
from carm_portal.models import DueDateOverride, HolidayOverride
from declarations.deadlines import cad_due_date, s32_2_deadline, s74_deadline
from declarations.models import CAD


@pytest.mark.parametrize(
    ("release", "due"),
    [
        (date(2025, 11, 3), date(2025, 11, 10)),   # Mon → Mon: plain 5 business days
        # Released Thu 11-06: 7, 10, (11 Remembrance Day skipped), 12, 13, 14 → 11-14
        (date(2025, 11, 6), date(2025, 11, 14)),
        (date(2025, 12, 19), date(2025, 12, 30)),  # 22, 23, 24, (25, 26 holidays), 29, 30
        (date(2025, 6, 27), date(2025, 7, 7)),     # Canada Day skipped
    ],
)
def test_regular_cad_is_due_5_business_days_after_release(db, release, due):
    assert cad_due_date(release, CAD.Type.REGULAR) == due


def test_an_admin_holiday_override_moves_the_due_date(db):
    assert cad_due_date(date(2025, 11, 6), CAD.Type.REGULAR) == date(2025, 11, 14)
    HolidayOverride.objects.create(day=date(2025, 11, 7), is_holiday=True, note="Office closure")
    assert cad_due_date(date(2025, 11, 6), CAD.Type.REGULAR) == date(2025, 11, 17)


@pytest.mark.parametrize("cad_type", [CAD.Type.COURIER_LVS, CAD.Type.CONTINUOUS])
@pytest.mark.parametrize(
    ("release", "due"),
    [(date(2025, 11, 6), date(2025, 12, 24)), (date(2025, 12, 31), date(2026, 1, 24)),
     (date(2025, 1, 31), date(2025, 2, 24))],
)
def test_courier_and_continuous_cads_are_due_the_24th_of_the_next_month(db, cad_type, release, due):
    assert cad_due_date(release, cad_type) == due


def test_no_release_date_no_due_date():
    assert cad_due_date(None, CAD.Type.REGULAR) is None


@pytest.mark.parametrize(
    ("day", "period"),
    [(date(2025, 11, 17), date(2025, 11, 17)), (date(2025, 11, 18), date(2025, 12, 17)),
     (date(2025, 10, 18), date(2025, 11, 17)), (date(2025, 12, 20), date(2026, 1, 17)),
     (date(2025, 1, 1), date(2025, 1, 17))],
)
def test_billing_period_runs_18th_to_17th(db, day, period):
    assert billing_period_for(day) == period


@pytest.mark.parametrize(
    ("period_end", "due"),
    [(date(2025, 11, 17), date(2025, 12, 1)), (date(2024, 11, 17), date(2024, 11, 29)),
     # holidays are counted, not skipped: 18–31 Dec has Christmas and Boxing Day
     (date(2025, 12, 17), date(2025, 12, 31))],
)
def test_payment_due_10_weekdays_after_the_17th(db, period_end, due):
    assert payment_due_date(period_end) == due


def test_published_due_date_override(db):
    DueDateOverride.objects.create(period_end=date(2025, 12, 17), due_date=date(2026, 1, 2))
    assert payment_due_date(date(2025, 12, 17)) == date(2026, 1, 2)


def test_posting_period_keeps_the_period_until_its_statement_is_issued(db):
    release = date(2025, 11, 3)
    assert posting_period(release, posted_on=date(2025, 11, 5)) == date(2025, 11, 17)
    assert posting_period(release, posted_on=date(2025, 11, 24)) == date(2025, 11, 17)  # before the 25th
    assert posting_period(release, posted_on=date(2025, 11, 25)) == date(2025, 12, 17)  # SOA issued
    assert posting_period(release, posted_on=date(2026, 1, 2)) == date(2026, 1, 17)


def test_time_limits(db):
    assert s32_2_deadline(date(2025, 1, 1)) == date(2025, 4, 1)
    assert s74_deadline(date(2021, 11, 3)) == date(2025, 11, 3)
    assert add_years(date(2024, 2, 29), 4) == date(2028, 2, 29)
    assert add_years(date(2024, 2, 29), 1) == date(2025, 2, 28)
