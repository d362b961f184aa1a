"""Issued documents are frozen: the statement keeps what it showed; nothing is added to an issued period;
statements and allocations are append-only in PostgreSQL (like the ledger)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest
from django.db import IntegrityError, InternalError, connection, transaction

from billing import cycle, selectors
from billing.ledger import services as ledger
from billing.ledger.models import LedgerEntry
from billing.models import Statement
from tests.conftest import IN_CI

pytestmark = pytest.mark.django_db

PERIOD = date(2026, 3, 17)


@pytest.fixture
def account(importer):
    return importer.program_accounts.order_by("number").first()


def close(account, period_end=PERIOD) -> Statement:
    with transaction.atomic():
        cycle.close_chunk([account.pk], period_end)
    return Statement.objects.get(program_account=account, period_end=period_end)


def charge(account, amount="100.00", key="c1", period_end=PERIOD):
    return ledger.post_entry(program_account=account, kind=LedgerEntry.Kind.CAD_CHARGE, amount=D(amount),
                             effective_date=period_end, billing_period=period_end, idempotency_key=key)


def test_a_statement_keeps_the_address_it_was_issued_with(account):
    business = account.business
    business.street, business.city = "1 Old Road", "Ottawa"
    business.save()
    charge(account)
    statement = close(account)
    business.street, business.city, business.legal_name = "99 New Street", "Toronto", "Renamed Inc."
    business.save()
    statement = Statement.objects.get(pk=statement.pk)
    shown = selectors.statement_document(statement)["business"]
    assert (shown["street"], shown["city"], shown["legal_name"]) == ("1 Old Road", "Ottawa", "Maple Imports Inc.")
    assert statement.snapshot["account_number"] == account.number and statement.snapshot["bn9"] == business.bn9


def test_an_entry_for_an_issued_period_goes_to_the_next_open_one(account):
    charge(account, key="before")
    close(account)
    late = charge(account, amount="40.00", key="after")  # asks for PERIOD, whose statement is issued
    assert late.billing_period == date(2026, 4, 17)
    statement = Statement.objects.get(program_account=account, period_end=PERIOD)
    assert [e.idempotency_key for e in statement.lines()] == ["before"]
    assert statement.closing_balance == D("100.00")
    april = close(account, date(2026, 4, 17))
    assert (april.opening_balance, april.charges) == (D("100.00"), D("40.00")) and april.reconciles


def _postgres_only():
    if connection.vendor != "postgresql":
        if IN_CI:
            pytest.fail("the append-only triggers exist on PostgreSQL only (required in CI)")
        pytest.skip("the append-only triggers exist on PostgreSQL only")


def test_statements_cannot_be_updated_or_deleted_in_postgresql(account):
    _postgres_only()
    statement = close(account)
    for sql in ("UPDATE billing_statement SET closing_balance = 0 WHERE id = %s",
                "DELETE FROM billing_statement WHERE id = %s"):
        with pytest.raises((InternalError, IntegrityError)), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [statement.pk])
    assert Statement.objects.get(pk=statement.pk).closing_balance == statement.closing_balance


def test_allocations_cannot_be_updated_or_deleted_in_postgresql(account):
    _postgres_only()
    from billing.offsetting.models import Allocation

    debt = charge(account, amount="50.00", key="debt")
    credit = ledger.post_entry(program_account=account, kind=LedgerEntry.Kind.PAYMENT, amount=D("-50.00"),
                               effective_date=PERIOD, billing_period=PERIOD, idempotency_key="credit")
    allocation = Allocation.objects.create(credit=credit, debt=debt, amount=D("50.00"), applied_on=PERIOD)
    for sql in ("UPDATE offsetting_allocation SET amount = 1 WHERE id = %s",
                "DELETE FROM offsetting_allocation WHERE id = %s"):
        with pytest.raises((InternalError, IntegrityError)), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [allocation.pk])
    assert Allocation.objects.get(pk=allocation.pk).amount == D("50.00")


def test_audit_events_cannot_be_changed_or_deleted_in_postgresql(importer):
    _postgres_only()
    from accounts import audit
    from accounts.models import AuditEvent

    event = audit.record("tests.frozen.checked", actor=importer.bam, target=importer, acting_for=importer)
    for sql in ("UPDATE accounts_auditevent SET action = 'rewritten' WHERE id = %s",
                "DELETE FROM accounts_auditevent WHERE id = %s"):
        with pytest.raises((InternalError, IntegrityError)), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [event.pk])
    # Deleting the user keeps the record, only its link goes (on_delete=SET_NULL).
    importer.bam.delete()
    event = AuditEvent.objects.get(pk=event.pk)
    assert event.action == "tests.frozen.checked" and event.actor_id is None
