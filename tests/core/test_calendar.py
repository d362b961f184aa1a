from datetime import date

import pytest

from carm_portal import calendar
from carm_portal.models import HolidayOverride


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


# --- Billing periods and due dates (the one calendar) ---------------------------------------------

@pytest.mark.django_db
@pytest.mark.parametrize(("period_end", "due"), [
    # 10 weekdays after the 17th land on Canada Day each year; it moves to the next business day.
    (date(2025, 6, 17), date(2025, 7, 2)),  # Tue: 18 19 20 23 24 25 26 27 30, Jul 1 → Jul 2
    (date(2026, 6, 17), date(2026, 7, 2)),  # Wed: 18 19 22 23 24 25 26 29 30, Jul 1 → Jul 2
    (date(2027, 6, 17), date(2027, 7, 2)),  # Thu: 18 21 22 23 24 25 28 29 30, Jul 1 → Jul 2 (Fri)
    # A period ending on a Sunday (2027-01-17): 18–22, 25–29 → Fri 2027-01-29.
    (date(2027, 1, 17), date(2027, 1, 29)),
])
def test_a_payment_due_on_a_holiday_moves_to_the_next_business_day(period_end, due):
    assert calendar.payment_due_date(period_end) == due


@pytest.mark.django_db
def test_a_due_date_rolled_off_a_friday_holiday_skips_saturday_unless_configured(settings):
    # 2026-04-17 is a Friday: 20–24, 27–May 1 → Fri 2026-05-01. Make that day a holiday.
    assert calendar.payment_due_date(date(2026, 4, 17)) == date(2026, 5, 1)
    HolidayOverride.objects.create(day=date(2026, 5, 1), is_holiday=True, note="Closure")
    assert calendar.payment_due_date(date(2026, 4, 17)) == date(2026, 5, 4)  # Monday
    settings.CARM = {**settings.CARM, "DUE_DATE_ROLLS_OVER_SATURDAY": False}
    assert calendar.payment_due_date(date(2026, 4, 17)) == date(2026, 5, 2)  # Saturday is then a payment day


@pytest.mark.django_db
def test_the_override_table_wins_over_the_holiday_roll():
    from carm_portal.models import DueDateOverride

    DueDateOverride.objects.create(period_end=date(2026, 6, 17), due_date=date(2026, 7, 3))
    assert calendar.payment_due_date(date(2026, 6, 17)) == date(2026, 7, 3)


def test_one_year_after_29_february_is_28_february_everywhere():
    assert calendar.add_years(date(2028, 2, 29), 1) == date(2029, 2, 28)
    assert calendar.add_years(date(2028, 2, 29), 4) == date(2032, 2, 29)
    assert calendar.add_months(date(2027, 1, 31), 1) == date(2027, 2, 28)
    assert calendar.add_months(date(2028, 1, 31), 1) == date(2028, 2, 29)


@pytest.mark.django_db
def test_appeals_and_cads_count_the_anniversary_the_same_way(settings):
    from appeals import deadlines as appeal_deadlines
    from declarations import deadlines as cad_deadlines

    settings.CARM = {**settings.CARM, "APPEAL_DEADLINE_ROLLS_TO_BUSINESS_DAY": False}
    # 2027-12-01 + 90 days = 2028-02-29; the s.60.1 extension runs one year more: 2029-02-28.
    assert appeal_deadlines.appeal_deadline(date(2027, 12, 1)) == date(2028, 2, 29)
    assert appeal_deadlines.extension_last_day(date(2027, 12, 1)) == date(2029, 2, 28)
    settings.CARM = {**settings.CARM, "S74_YEARS": 1}
    assert cad_deadlines.s74_deadline(date(2028, 2, 29)) == date(2029, 2, 28)


@pytest.mark.django_db
@pytest.mark.parametrize(("day", "period"), [
    (date(2027, 1, 17), date(2027, 1, 17)), (date(2027, 1, 18), date(2027, 2, 17)),
    (date(2028, 2, 29), date(2028, 3, 17)), (date(2026, 12, 24), date(2027, 1, 17)),
    (date(2027, 2, 27), date(2027, 3, 17)),
])
def test_billing_periods_and_their_edges(day, period):
    assert calendar.billing_period_for(day) == period
    assert calendar.period_start(period) <= day <= period
    assert (calendar.period_start(period) - calendar.previous_period(period)).days == 1
    assert calendar.next_period(calendar.previous_period(period)) == period


@pytest.mark.django_db
def test_the_calendar_month_cycle_bills_a_whole_month_on_the_next_statement():
    # Courier LVS / continuous transmission, released in December 2026: billed with the period
    # ending 2027-01-17 (statement 2027-01-25), whatever the day of release.
    for released in (date(2026, 12, 1), date(2026, 12, 5), date(2026, 12, 17), date(2026, 12, 31)):
        assert calendar.billing_period_of_release(released, calendar_month=True) == date(2027, 1, 17)
    # The 18th–17th cycle puts 1–17 December on the December statement.
    assert calendar.billing_period_of_release(date(2026, 12, 5)) == date(2026, 12, 17)
    # Posted after the January statement was issued, it lands on the next one.
    assert calendar.posting_period(date(2026, 12, 5), posted_on=date(2027, 1, 25), calendar_month=True) \
        == date(2027, 2, 17)
