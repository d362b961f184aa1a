"""The money summary's SQL form (``billing.summary.money_annotations``) agrees with ``money_summary``.

One set of accounts covering each branch of the rule (unpaid statements, a partial payment, an
overpayment, no statement, a statement due today, pay-at-release CADs with and without a statement,
June's debt carried over five statements, nothing at all), compared on several days.
"""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from decimal import Decimal as D

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import ProgramAccount
from billing.ledger import services as ledger
from billing.ledger.models import LedgerEntry
from billing.summary import money_annotations, money_summary
from carm_portal import calendar
from declarations.models import CAD
from tests import factories
from tests.billing.doc_builders import PERIOD, PREVIOUS, close_statement, post_cads, post_other
from tests.clock import on

pytestmark = pytest.mark.django_db
K = LedgerEntry.Kind
TODAY = date(2025, 11, 26)
OPEN = calendar.next_period(PERIOD)
_seq = itertools.count(1)


def _account(name: str) -> ProgramAccount:
    return factories.make_business(name=name, accounts=1).program_accounts.get()


def _payment(account, amount: str, period: date, effective: date) -> None:
    ledger.post_entry(program_account=account, kind=K.PAYMENT, amount=D(amount), effective_date=effective,
                      billing_period=period, idempotency_key=f"sql-pay:{next(_seq)}")


def _cash_cad(account, amount: str, released: date, period: date) -> None:
    """A pay-at-release CAD and its charge (effective on its release date)."""
    from accounts.models import User

    n = next(_seq)
    filer = User.objects.filter(email="sql-filer@example.com").first() or factories.make_user("sql-filer@example.com")
    cad = CAD.objects.create(transaction_number=f"{77777000000000 + n:014d}", program_account=account, filed_by=filer,
                             status=CAD.Status.ACCEPTED, release_date=released, due_date=released,
                             payment_timing=CAD.PaymentTiming.ON_RELEASE, billing_period=period)
    ledger.post_entry(program_account=account, kind=K.CAD_CHARGE, amount=D(amount), effective_date=released,
                      billing_period=period, source=cad, idempotency_key=f"sql-cash:{n}")


@pytest.fixture
def accounts(db):
    out = []
    with on(date(2025, 10, 20)):
        unpaid = _account("Unpaid")
        post_cads(unpaid, PREVIOUS, 1)
        close_statement(unpaid, PREVIOUS)
        partial = _account("Partial")
        post_cads(partial, PREVIOUS, 2)
        close_statement(partial, PREVIOUS)
        over = _account("Over")
        post_cads(over, PREVIOUS, 1)
        close_statement(over, PREVIOUS)
        old_debt = _account("Old debt")
        post_cads(old_debt, date(2025, 6, 17), 1)
        close_statement(old_debt, date(2025, 6, 17))
        for period in (date(2025, 7, 17), date(2025, 8, 17), date(2025, 9, 17), PREVIOUS):
            close_statement(old_debt, period)
    with on(date(2025, 11, 20)):
        for account in (unpaid, partial, over):
            post_cads(account, PERIOD, 1, start=1)
            close_statement(account, PERIOD)
        _payment(over, "-5000.00", OPEN, TODAY)
        post_other(over, K.CAD_CHARGE, "500.00", OPEN)
        close_statement(old_debt, PERIOD)
    with on(TODAY):
        _payment(partial, "-1000.00", OPEN, TODAY)
        _payment(partial, "-100.00", OPEN, TODAY + timedelta(days=3))  # dated later: amount due only
        fresh = _account("No statement")
        post_other(fresh, K.CAD_CHARGE, "300.00", OPEN)
        _payment(fresh, "-40.00", OPEN, TODAY)
        cash_only = _account("Cash only")
        _cash_cad(cash_only, "800.00", date(2025, 11, 20), OPEN)
        _cash_cad(cash_only, "200.00", TODAY, OPEN)
        _payment(cash_only, "-150.00", OPEN, TODAY)
        cash_after = _account("Cash after a statement")
        post_cads(cash_after, PERIOD, 1)
        close_statement(cash_after, PERIOD)
        _cash_cad(cash_after, "400.00", date(2025, 11, 21), OPEN)
        nothing = _account("Nothing")
        out = [unpaid, partial, over, old_debt, fresh, cash_only, cash_after, nothing]
    return out


def _python(ids, today):
    return {m.program_account_id: (m.amount_due, m.overdue, m.due_date if m.amount_due > 0 else None)
            for m in money_summary(ids, today=today).accounts}


def _sql(ids, today):
    qs = money_annotations(ProgramAccount.objects.filter(pk__in=ids), today=today, prefix="m_")
    return {pk: (due, overdue, due_date) for pk, due, overdue, due_date
            in qs.values_list("pk", "m_amount_due", "m_overdue", "m_due_date")}


@pytest.mark.parametrize("today", [TODAY, date(2025, 11, 21), date(2025, 12, 1), date(2025, 12, 2),
                                   date(2026, 3, 1)])
def test_sql_form_agrees_with_money_summary(accounts, today):
    ids = [a.pk for a in accounts]
    with on(today):
        python, sql = _python(ids, today), _sql(ids, today)
    assert sql == python
    assert all(due == due.quantize(D("0.01")) for due, _o, _d in sql.values())


def test_the_cases_are_the_ones_meant(accounts):
    """The fixture covers what it says (so the agreement above is not over zeros)."""
    unpaid, partial, over, old_debt, fresh, cash_only, cash_after, nothing = accounts
    figures = _sql([a.pk for a in accounts], TODAY)
    assert figures[unpaid.pk] == (D("2114.04"), D("1050.00"), date(2025, 12, 1))
    # 3,178.08 billed less both payments; overdue: October's 2,114.04 less the payment made by today.
    assert figures[partial.pk] == (D("2078.08"), D("1114.04"), date(2025, 12, 1))
    assert figures[over.pk] == (D("0.00"), D("0.00"), None)
    assert figures[fresh.pk] == (D("0.00"), D("0.00"), None)
    # 800 released on the 20th is overdue less today's 150; the 200 released today is due, not overdue.
    assert figures[cash_only.pk] == (D("850.00"), D("650.00"), date(2025, 11, 20))
    assert figures[cash_after.pk] == (D("1450.00"), D("400.00"), date(2025, 12, 1))
    assert figures[nothing.pk] == (D("0.00"), D("0.00"), None)
    assert figures[old_debt.pk] == (D("1050.00"), D("1050.00"), date(2025, 12, 1))


def test_one_query_whatever_the_number_of_accounts(accounts):
    with CaptureQueriesContext(connection) as ctx:
        _sql([a.pk for a in accounts], TODAY)
    assert len(ctx.captured_queries) == 1
