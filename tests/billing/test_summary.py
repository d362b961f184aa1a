"""The money summary: one answer to "what do I owe, and by when?" (billing/summary.py).

Worked case: October's statement (1,050.00) is unpaid past its due date; November's adds 1,064.04.
On 26 November (after November's statement is issued on the 25th):
  amount due 2,114.04 by 1 December, of which 1,050.00 overdue since October's due date;
  ageing: 1,064.04 current, 1,050.00 in 1–30 days.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal as D
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from billing.ledger import services as ledger
from billing.ledger.models import LedgerEntry
from billing.summary import money_summary
from carm_portal import calendar
from tests.billing.doc_builders import PERIOD, PREVIOUS, close_statement, post_cads, post_other

pytestmark = pytest.mark.django_db
K = LedgerEntry.Kind
TODAY = date(2025, 11, 26)
OPEN = calendar.next_period(PERIOD)  # 2025-12-17: what is posted now lands here


@pytest.fixture
def account(importer):
    return importer.program_accounts.order_by("number").first()


@pytest.fixture
def two_statements(account):
    post_cads(account, PREVIOUS, 1)            # 1,000.00 duty + 50.00 GST
    close_statement(account, PREVIOUS)
    post_cads(account, PERIOD, 1, start=1)     # 1,013.37 duty + 50.67 GST
    return close_statement(account, PERIOD)


def pay(account, amount: str, reference: str) -> None:
    """A payment received today (it lands in the open period)."""
    ledger.post_entry(program_account=account, kind=K.PAYMENT, amount=D(amount), effective_date=TODAY,
                      billing_period=OPEN, reference=reference, idempotency_key=f"summary:{reference}")


def _one(account, today=TODAY):
    summary = money_summary([account.pk], today=today)
    assert summary.balance == summary.amount_due - summary.unapplied_credit + summary.not_yet_billed
    return summary


def test_billed_unpaid_overdue_and_ageing(account, two_statements):
    s = _one(account)
    assert two_statements.closing_balance == D("2114.04")
    assert (s.balance, s.amount_due, s.overdue, s.due_later) == (D("2114.04"), D("2114.04"), D("1050.00"), D("1064.04"))
    assert s.due_date == calendar.payment_due_date(PERIOD) == date(2025, 12, 1)
    assert s.overdue_since == calendar.payment_due_date(PREVIOUS)
    assert s.ageing == {"current": D("1064.04"), "1-30": D("1050.00"), "31-60": D("0.00"), "61-90": D("0.00"),
                        "90+": D("0.00")}
    assert (s.unapplied_credit, s.not_yet_billed) == (D("0.00"), D("0.00"))


def test_paying_exactly_the_amount_due_clears_it_at_once(account, two_statements):
    pay(account, "-2114.04", "PAD-1")
    s = _one(account)
    assert (s.amount_due, s.overdue, s.balance, s.unapplied_credit) == (D("0.00"),) * 4
    assert s.is_clear and s.due_date is None and s.overdue_since is None


def test_a_partial_payment_clears_the_oldest_debt_first(account, two_statements):
    pay(account, "-1000.00", "PAD-1")
    s = _one(account)
    assert (s.amount_due, s.overdue, s.due_later) == (D("1114.04"), D("50.00"), D("1064.04"))
    assert s.ageing["current"] == D("1064.04") and s.ageing["1-30"] == D("50.00")


def test_overpayment_is_unapplied_credit_and_new_charges_are_not_yet_billed(account, two_statements):
    pay(account, "-2200.00", "PAD-1")
    post_other(account, K.CAD_CHARGE, "500.00", OPEN, reference="12345000000099")
    s = _one(account)
    assert (s.amount_due, s.unapplied_credit, s.not_yet_billed, s.balance) == (
        D("0.00"), D("85.96"), D("500.00"), D("414.04"))


def test_an_account_with_no_statement_yet_owes_nothing_billed(account):
    post_other(account, K.CAD_CHARGE, "300.00", OPEN, reference="12345000000098")
    pay(account, "-40.00", "PAD-2")
    s = _one(account)
    assert (s.amount_due, s.unapplied_credit, s.not_yet_billed, s.balance) == (
        D("0.00"), D("40.00"), D("300.00"), D("260.00"))


def test_due_today_is_not_overdue_yet(account):
    post_cads(account, PERIOD, 1)
    close_statement(account, PERIOD)
    due = calendar.payment_due_date(PERIOD)
    assert _one(account, due).overdue == D("0.00")
    assert _one(account, due + timedelta(days=1)).overdue == D("1050.00")


def test_old_debt_ages_into_the_last_bucket(account):
    post_cads(account, PREVIOUS, 1)
    close_statement(account, PREVIOUS)
    s = _one(account, date(2026, 3, 1))  # October's statement due 31 Oct 2025: 121 days
    assert s.ageing["90+"] == D("1050.00") and s.overdue == D("1050.00")


def test_totals_over_accounts_and_constant_queries(importer, account, two_statements):
    other = importer.program_accounts.exclude(pk=account.pk).get()
    ledger.post_entry(program_account=other, kind=K.CAD_CHARGE, amount=D("70.00"), effective_date=PERIOD,
                      billing_period=PERIOD, idempotency_key="summary-other")
    close_statement(other, PERIOD)
    with CaptureQueriesContext(connection) as one:
        money_summary([account.pk], today=TODAY)
    with CaptureQueriesContext(connection) as two:
        s = money_summary([account.pk, other.pk], today=TODAY)
    assert len(one) == len(two) == 5
    assert s.amount_due == D("2184.04") and [a.amount_due for a in s.accounts] == [D("2114.04"), D("70.00")]


# --- The API: the same figures, through the gate ----------------------------------------------------

def _api(user):
    client = APIClient()
    client.force_authenticate(user=user)
    return client


def test_api_gives_the_same_figures_as_the_selector(importer, account, two_statements):
    pay(account, "-1000.00", "PAD-1")
    with time_machine.travel(datetime(2025, 11, 26, 12, tzinfo=ZoneInfo("America/Toronto")), tick=False):
        body = _api(importer.bam).get("/api/v1/money-summary/").json()
        one = _api(importer.bam).get(f"/api/v1/money-summary/?account={account.pk}").json()
    assert (body["amount_due"], body["overdue"], body["due_date"]) == ("1114.04", "50.00", "2025-12-01")
    assert body["ageing"] == {"current": "1064.04", "days_1_30": "50.00", "days_31_60": "0.00",
                              "days_61_90": "0.00", "days_over_90": "0.00"}
    assert len(body["accounts"]) == 2 and [a["program_account"] for a in one["accounts"]] == [account.pk]


def test_api_is_gated_and_checks_its_input(importer, other_importer, account, two_statements):
    outsider = _api(other_importer.bam)
    assert outsider.get(f"/api/v1/money-summary/?account={account.pk}").status_code == 404
    body = outsider.get("/api/v1/money-summary/").json()
    assert account.pk not in [a["program_account"] for a in body["accounts"]]
    response = _api(importer.bam).get("/api/v1/money-summary/?account=abc")
    assert response.status_code == 400 and "account" in response.json()


def test_api_query_count_does_not_grow_with_accounts(importer, account, two_statements):
    client = _api(importer.bam)
    client.get("/api/v1/money-summary/")  # warm: per-process caches (reference tables, content types)
    with CaptureQueriesContext(connection) as before:
        assert client.get("/api/v1/money-summary/").status_code == 200
    other = importer.program_accounts.exclude(pk=account.pk).get()
    post_cads(other, PERIOD, 2, start=5)
    close_statement(other, PERIOD)
    with CaptureQueriesContext(connection) as after:
        assert client.get("/api/v1/money-summary/").status_code == 200
    assert len(before) == len(after)
