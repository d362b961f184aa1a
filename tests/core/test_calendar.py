from datetime import date

import pytest

from carm_portal import calendar
from carm_portal.models import HolidayOverride


@pytest.fixture(autouse=True)
def _fresh_cache():
    calendar.clear_override_cache()
    yield
    calendar.clear_override_cache()


@pytest.mark.django_db
def test_federal_holidays_2025_are_the_ten_in_the_rules():
    assert sorted(calendar.holidays_in(2025)) == [
        date(2025, 1, 1), date(2025, 4, 18), date(2025, 5, 19), date(2025, 7, 1), date(2025, 9, 1),
        date(2025, 9, 30), date(2025, 10, 13), date(2025, 11, 11), date(2025, 12, 25), date(2025, 12, 26),
    ]


@pytest.mark.django_db
def test_payment_due_example_ten_business_days_after_the_17th():
    assert calendar.add_business_days(date(2025, 11, 17), 10) == date(2025, 12, 1)
    assert calendar.add_business_days(date(2024, 11, 17), 10) == date(2024, 11, 29)


@pytest.mark.django_db
def test_cad_due_skips_remembrance_day():
    # Released Thursday 2025-11-06: Fri 7, Mon 10, (Tue 11 holiday), Wed 12, Thu 13, Fri 14.
    assert calendar.add_business_days(date(2025, 11, 6), 5) == date(2025, 11, 14)


@pytest.mark.django_db
def test_appeal_deadlines_from_the_rules():
    assert calendar.calendar_deadline(date(2025, 3, 14), 90, roll_to_business_day=True) == date(2025, 6, 12)
    assert calendar.calendar_deadline(date(2025, 11, 20), 90, roll_to_business_day=True) == date(2026, 2, 18)
    # 2025-03-10 + 90 days is Sunday 2025-06-08: it rolls to Monday, unless rolling is off.
    assert calendar.calendar_deadline(date(2025, 3, 8), 90, roll_to_business_day=True) == date(2025, 6, 6)
    assert calendar.calendar_deadline(date(2025, 3, 10), 90, roll_to_business_day=False) == date(2025, 6, 8)
    assert calendar.calendar_deadline(date(2025, 3, 10), 90, roll_to_business_day=True) == date(2025, 6, 9)


@pytest.mark.django_db
def test_admin_override_adds_and_removes_days():
    assert calendar.is_business_day(date(2025, 8, 4))  # civic holiday counts as business day
    HolidayOverride.objects.create(day=date(2025, 8, 4), is_holiday=True, note="Civic holiday")
    assert not calendar.is_business_day(date(2025, 8, 4))
    HolidayOverride.objects.create(day=date(2025, 11, 11), is_holiday=False)
    assert calendar.is_business_day(date(2025, 11, 11))
    assert calendar.add_business_days(date(2025, 11, 6), 5) == date(2025, 11, 13)


@pytest.mark.django_db
def test_business_days_between():
    assert calendar.business_days_between(date(2025, 11, 17), date(2025, 12, 1)) == 10
    assert calendar.business_days_between(date(2025, 12, 1), date(2025, 11, 17)) == -10
