"""The one interest engine and the late-payment penalty, with worked cases (carm-rules §4; s.33.4).

Every expectation is computed by hand in the comment: balance × rate × days / 365, summed over the
day ranges, rounded half up to the cent once.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest

from billing import cycle, overdue, services
from billing.ledger import services as ledger
from billing.ledger.interest import interest_between, is_waived
from billing.ledger.models import LedgerEntry
from billing.models import Statement
from carm_portal.calendar import payment_due_date
from carm_portal.models import InterestRate
from tests.migration_state import run_migration_function

pytestmark = pytest.mark.django_db


@pytest.fixture
def nine_percent():
    """One rate, no waiver: 9 % from 2025-01-01 (10 % from 2026-04-01 where a test adds it)."""
    InterestRate.objects.all().delete()
    InterestRate.objects.create(effective_from=date(2025, 1, 1), annual_rate=D("0.09"))


@pytest.fixture
def account(importer):
    return importer.program_accounts.order_by("number").first()


def charge(account, period_end: date, amount: str, key: str) -> None:
    ledger.post_entry(program_account=account, kind=LedgerEntry.Kind.CAD_CHARGE, amount=D(amount),
                      effective_date=period_end, billing_period=period_end, idempotency_key=key)


def pay(account, on: date, amount: str, key: str) -> None:
    ledger.post_entry(program_account=account, kind=LedgerEntry.Kind.PAYMENT, amount=-D(amount), effective_date=on,
                      posted_on=on, idempotency_key=key)


def statement(account, period_end: date) -> Statement:
    return Statement.objects.get(program_account=account, period_end=period_end)


def test_worked_example_3(nine_percent):
    # 4,200.00 payable on 2025-12-01, paid 2025-12-31: 30 days × 9 % → 4200 × 0.09 × 30 / 365 = 31.0685 → 31.07.
    accrual = interest_between(D("4200.00"), payable_on=date(2025, 12, 1), paid_on=date(2025, 12, 31))
    assert accrual.amount == D("31.07") and accrual.days == 30


def test_a_payment_two_days_late_pays_two_days_of_interest(nine_percent, account):
    charge(account, date(2026, 3, 17), "4200.00", "c1")
    services.run_in_process(date(2026, 3, 17))
    assert statement(account, date(2026, 3, 17)).due_date == date(2026, 3, 31)
    pay(account, date(2026, 4, 2), "4200.00", "p1")  # due 03-31, paid 04-02
    services.run_in_process(date(2026, 4, 17))
    april = statement(account, date(2026, 4, 17))
    # Interest runs from 04-01 to the day paid, 04-02 (s.33.4): 2 days, not to the period end.
    # 4200 × 0.09 × 2 / 365 = 2.0712 → 2.07.
    assert april.interest == D("2.07")
    # Not paid in full by the due date: the late-payment penalty, once.
    assert april.penalties == D("200.00")
    assert april.closing_balance == D("202.07") and april.reconciles


def test_a_debt_unpaid_over_two_periods_accrues_with_no_gap(nine_percent, account):
    charge(account, date(2026, 3, 17), "4200.00", "c1")
    services.run_in_process(date(2026, 3, 17))  # due 2026-03-31
    services.run_in_process(date(2026, 4, 17))
    april = statement(account, date(2026, 4, 17))
    # 04-01 … 04-17: 17 days on 4,200: 4200 × 0.09 × 17 / 365 = 17.6055 → 17.61; penalty 200.
    assert (april.interest, april.penalties, april.closing_balance) == (D("17.61"), D("200.00"), D("4417.61"))
    assert april.due_date == date(2026, 5, 1)
    services.run_in_process(date(2026, 5, 17))  # a Sunday
    may = statement(account, date(2026, 5, 17))
    # 04-18 … 05-01 (14 days): the March statement's 4,200 is still overdue (no gap at the period end);
    # 05-02 … 05-17 (16 days): the April statement's 4,417.61 is overdue.
    # (4200 × 14 + 4417.61 × 16) × 0.09 / 365 = 129,481.76 × 0.09 / 365 = 31.9270 → 31.93.
    assert may.interest == D("31.93")
    assert may.penalties == D("200.00")  # the April statement was not paid by 05-01 either
    assert may.reconciles


def test_a_window_across_two_quarters_uses_each_days_rate(nine_percent):
    InterestRate.objects.create(effective_from=date(2026, 4, 1), annual_rate=D("0.10"))
    # 1,000 payable 03-20, paid 04-10: 03-21 … 03-31 (11 days) at 9 %, 04-01 … 04-10 (10 days) at 10 %.
    # (1000 × 0.09 × 11 + 1000 × 0.10 × 10) / 365 = 1990 / 365 = 5.4521 → 5.45 (one rate would give 5.18).
    accrual = interest_between(D("1000.00"), payable_on=date(2026, 3, 20), paid_on=date(2026, 4, 10))
    assert accrual.amount == D("5.45")
    assert [(p.first, p.last, p.rate) for p in accrual.pieces] == [
        (date(2026, 3, 21), date(2026, 3, 31), D("0.09")), (date(2026, 4, 1), date(2026, 4, 10), D("0.10"))]


def test_the_2025_waiver_comes_from_the_rate_table():
    # The seeded table (migrations 0004 + 0006): 0 % through 2026-01-30, 9 % from 2026-01-31.
    assert InterestRate.objects.get(effective_from=date(2026, 1, 31)).annual_rate == D("0.09")
    assert interest_between(D("1000.00"), payable_on=date(2025, 6, 1), paid_on=date(2025, 6, 30)).amount == D("0")
    # Payable 2026-01-20, paid 02-09: 01-21 … 01-30 waived (10 days), 01-31 … 02-09 at 9 % (10 days):
    # 1000 × 0.09 × 10 / 365 = 2.4658 → 2.47.
    assert interest_between(D("1000.00"), payable_on=date(2026, 1, 20), paid_on=date(2026, 2, 9)).amount == D("2.47")
    assert is_waived(date(2025, 12, 2)) and not is_waived(date(2026, 1, 31))
    # A statement overdue during the waiver earns no penalty; the same one in 2026 does.
    history = overdue.AccountHistory([overdue.PastStatement(date(2025, 11, 17), date(2025, 12, 1), D("500.00"))], [])
    assert overdue.late_payment_penalty(history.statements[0], history) == D("0")
    history = overdue.AccountHistory([overdue.PastStatement(date(2026, 3, 17), date(2026, 3, 31), D("500.00"))], [])
    assert overdue.late_payment_penalty(history.statements[0], history) == D("200.00")


def test_the_waiver_rows_are_data_an_admin_can_change(nine_percent):
    assert interest_between(D("1000.00"), payable_on=date(2025, 6, 1), paid_on=date(2025, 6, 30)).amount == D("7.15")
    InterestRate.objects.create(effective_from=date(2025, 6, 10), annual_rate=D("0"), note="A future waiver")
    # 06-02 … 06-09 (8 days) at 9 %, then waived: 1000 × 0.09 × 8 / 365 = 1.9726 → 1.97.
    assert interest_between(D("1000.00"), payable_on=date(2025, 6, 1), paid_on=date(2025, 6, 30)).amount == D("1.97")


def test_a_penalty_is_posted_once_per_overdue_statement_even_when_the_cycle_reruns(nine_percent, account, settings):
    settings.CARM = {**settings.CARM, "LATE_PAYMENT_PENALTY": "150.00"}
    charge(account, date(2026, 3, 17), "100.00", "c1")
    services.run_in_process(date(2026, 3, 17))
    pay(account, date(2026, 3, 31), "60.00", "p1")  # on the due date, but short
    services.run_in_process(date(2026, 4, 17))
    assert cycle.close_chunk([account.pk], date(2026, 4, 17)).created == 0  # the chunk again: nothing new
    services.run_in_process(date(2026, 4, 17))  # the whole run again
    penalties = LedgerEntry.objects.filter(program_account=account, kind=LedgerEntry.Kind.PENALTY)
    assert list(penalties.values_list("amount", "idempotency_key")) == [
        (D("150.00"), f"late-payment:{account.pk}:2026-03-17")]
    # 40.00 overdue 04-01 … 04-17 (17 days): 40 × 0.09 × 17 / 365 = 0.1677 → 0.17, once.
    assert LedgerEntry.objects.filter(program_account=account, kind=LedgerEntry.Kind.INTEREST).count() == 1
    assert statement(account, date(2026, 4, 17)).interest == D("0.17")


def test_a_statement_paid_by_its_due_date_earns_neither_interest_nor_penalty(nine_percent, account):
    charge(account, date(2026, 3, 17), "100.00", "c1")
    services.run_in_process(date(2026, 3, 17))
    pay(account, payment_due_date(date(2026, 3, 17)), "100.00", "p1")
    services.run_in_process(date(2026, 4, 17))
    april = statement(account, date(2026, 4, 17))
    assert (april.interest, april.penalties, april.closing_balance) == (D("0.00"), D("0.00"), D("0.00"))


def test_migration_waiver_leaves_admin_edited_rows_alone(nine_percent):
    InterestRate.objects.create(effective_from=date(2025, 7, 1), annual_rate=D("0.08"), note="Set by an admin")
    run_migration_function("billing", "0006_interest_rate_effective_from", "waiver")
    assert InterestRate.objects.get(effective_from=date(2025, 7, 1)).annual_rate == D("0.08")


def test_the_cycles_change_days_give_the_same_interest_as_asking_every_day(nine_percent):
    """The cycle asks the overdue balance only on the days it can change (``overdue.change_days``);
    200 generated histories (statements, part payments, credits, cash CADs, a rate change
    mid-period) must give the same pieces as asking every day."""
    import random
    from datetime import timedelta

    from billing.ledger.interest import accrue_daily

    InterestRate.objects.create(effective_from=date(2026, 4, 3), annual_rate=D("0.10"))
    rng = random.Random(2026)
    first, last = date(2026, 3, 18), date(2026, 4, 17)
    for _case in range(200):
        statements = [overdue.PastStatement(p, payment_due_date(p), D(rng.randrange(1, 900_000)) / 100)
                      for p in (date(2026, 2, 17), date(2026, 3, 17)) if rng.random() < 0.8]
        reductions = [overdue.Reduction(rng.choice([date(2026, 3, 17), date(2026, 4, 17)]),
                                        first + timedelta(days=rng.randrange(-5, 31)), D(rng.randrange(1, 500_000)) / 100)
                      for _ in range(rng.randrange(0, 4))]
        cash = [overdue.CashCharge(date(2026, 4, 17), first + timedelta(days=rng.randrange(0, 31)),
                                   D(rng.randrange(1, 300_000)) / 100) for _ in range(rng.randrange(0, 2))]
        history = overdue.AccountHistory(statements, reductions, cash)
        every_day = accrue_daily(first, last, lambda day, h=history: overdue.overdue_on(day, h)[0])
        assert overdue.period_interest(first, last, history) == every_day
