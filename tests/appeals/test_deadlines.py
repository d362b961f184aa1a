"""carm-rules §6, worked example 4: exact dates, with the weekend/holiday rule as configured."""

from datetime import date

import pytest

from appeals import deadlines, services
from appeals.models import Appeal
from tests.appeals.conftest import make_penalty, make_statement

# Deadlines roll over holidays, which admins edit in a table.
pytestmark = pytest.mark.django_db


@pytest.fixture(params=[True, False], ids=["rolls", "no-roll"])
def rolls(request, settings):
    settings.CARM = {**settings.CARM, "APPEAL_DEADLINE_ROLLS_TO_BUSINESS_DAY": request.param}
    return request.param


def test_worked_example_s60(rolls):
    # None of these days is a weekend or a holiday: the same with or without the roll.
    soa = date(2025, 3, 14)
    assert deadlines.appeal_deadline(soa) == date(2025, 6, 12)
    assert deadlines.extension_last_day(soa) == date(2026, 6, 12)
    assert deadlines.citt_deadline(date(2026, 5, 1)) == date(2026, 7, 30)


def test_worked_example_npa(rolls):
    assert deadlines.appeal_deadline(date(2025, 11, 20)) == date(2026, 2, 18)


def test_a_deadline_on_a_saturday_rolls_to_monday_when_configured(rolls):
    # 2025-03-16 + 90 days = Saturday 2025-06-14.
    expected = date(2025, 6, 16) if rolls else date(2025, 6, 14)
    assert deadlines.appeal_deadline(date(2025, 3, 16)) == expected


def test_a_deadline_on_canada_day_rolls_to_the_next_business_day_when_configured(rolls):
    # 2025-04-02 + 90 days = Tuesday 2025-07-01 (Canada Day).
    expected = date(2025, 7, 2) if rolls else date(2025, 7, 1)
    assert deadlines.appeal_deadline(date(2025, 4, 2)) == expected


def test_thirty_days_for_further_submissions():
    assert deadlines.info_due(date(2026, 1, 5)) == date(2026, 2, 4)


def test_days_left_text():
    assert deadlines.days_left_text(date(2026, 2, 18), date(2026, 1, 26)) == "23 days left"
    assert deadlines.days_left_text(date(2026, 2, 18), date(2026, 2, 18)) == "last day today"
    assert deadlines.days_left_text(date(2026, 2, 18), date(2026, 2, 20)) == "passed 2 days ago"


def test_deadlines_shown_for_an_appeal(cbsa, account, importer):
    penalty = make_penalty(cbsa, account, served_on=date(2025, 11, 20))
    appeal = services.appeal_create(actor=importer.bam, penalty=penalty, grounds="x", today=date(2026, 1, 26))
    shown = deadlines.deadlines_for(appeal, date(2026, 1, 26))
    assert [(d.key, d.date, d.text) for d in shown] == [
        ("filing", date(2026, 2, 18), "23 days left"),
        ("extension", date(2027, 2, 18), "388 days left"),
    ]


def test_citt_deadline_after_a_s60_decision_not_after_an_amps_one(cbsa, account, importer):
    from billing.ledger import services as ledger

    statement = make_statement(cbsa, account, decision_date=date(2026, 3, 2), change="400.00")
    # Paid: the account owes nothing when the request is filed.
    ledger.post_entry(program_account=account, kind="payment", effective_date=date(2026, 3, 5),
                      amount=-ledger.balance(account), idempotency_key="test:pay")
    appeal = services.appeal_create(actor=importer.bam, statements=[statement], issue="classification", grounds="g",
                                    today=date(2026, 3, 10))
    services.appeal_submit(actor=importer.bam, appeal=appeal, today=date(2026, 3, 10))
    from tests.appeals.conftest import walk_to_assigned

    walk_to_assigned(cbsa, appeal)
    services.appeal_decide(actor=cbsa, appeal=appeal, outcome=Appeal.Outcome.DENIED, reasons="r",
                           today=date(2026, 5, 1))
    appeal.refresh_from_db()
    assert [(d.key, d.date) for d in deadlines.deadlines_for(appeal, date(2026, 5, 1))] == [
        ("citt", date(2026, 7, 30))]

    penalty = make_penalty(cbsa, account, served_on=date(2026, 3, 2), today=date(2026, 3, 2))
    amps = services.appeal_create(actor=importer.bam, penalty=penalty, grounds="g", today=date(2026, 3, 10))
    services.appeal_submit(actor=importer.bam, appeal=amps, today=date(2026, 3, 10))
    walk_to_assigned(cbsa, amps)
    services.appeal_decide(actor=cbsa, appeal=amps, outcome=Appeal.Outcome.DENIED, reasons="r", today=date(2026, 5, 1))
    amps.refresh_from_db()
    assert deadlines.deadlines_for(amps, date(2026, 5, 1)) == []
