"""The ledger: append-only, idempotent posts, balances summed in SQL, the billing calendar."""

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection, transaction

from billing.ledger import services as ledger
from billing.ledger.models import LedgerEntry
from carm_portal import calendar
from tests.conftest import IN_CI

pytestmark = pytest.mark.django_db


@pytest.fixture
def account(importer):
    return importer.program_accounts.order_by("number").first()


def charge(account, key="k1", **overrides):
    values = {"program_account": account, "kind": LedgerEntry.Kind.CAD_CHARGE, "effective_date": date(2025, 11, 3),
              "breakdown": {"duty": Decimal("887.25"), "gst": Decimal("726.86")}, "idempotency_key": key,
              "posted_on": date(2025, 11, 5)}
    values.update(overrides)
    return ledger.post_entry(**values)


def test_post_entry_sums_the_breakdown_and_picks_the_period(account):
    entry = charge(account)
    assert entry.amount == Decimal("1614.11")
    assert entry.duty == Decimal("887.25") and entry.gst == Decimal("726.86") and entry.other == 0
    assert entry.billing_period == date(2025, 11, 17)
    assert entry.duties_and_taxes == Decimal("1614.11")


def test_a_plain_amount_goes_to_other(account):
    entry = ledger.post_entry(program_account=account, kind=LedgerEntry.Kind.PAYMENT, amount=Decimal("-500"),
                              effective_date=date(2025, 11, 20), idempotency_key="pay-1")
    assert entry.other == Decimal("-500.00") and entry.amount == Decimal("-500.00")


def test_the_same_key_twice_is_one_entry(account):
    first = charge(account)
    again = charge(account)
    assert first.pk == again.pk
    assert LedgerEntry.objects.count() == 1


def test_a_key_reused_for_another_effect_is_refused(account):
    charge(account)
    with pytest.raises(ValueError):
        charge(account, breakdown={"duty": Decimal("1.00")})


def test_amount_must_match_breakdown(account):
    with pytest.raises(ValueError):
        charge(account, amount=Decimal("1.00"))


def test_entries_cannot_be_changed_or_deleted(account):
    entry = charge(account)
    entry.amount = Decimal("1.00")
    with pytest.raises(ValidationError):
        entry.save()
    with pytest.raises(ValidationError):
        entry.delete()
    with pytest.raises(ValidationError):
        LedgerEntry.objects.filter(pk=entry.pk).update(amount=Decimal("1.00"))
    with pytest.raises(ValidationError):
        LedgerEntry.objects.filter(pk=entry.pk).delete()
    assert LedgerEntry.objects.get(pk=entry.pk).amount == Decimal("1614.11")


def test_postgresql_refuses_update_and_delete_in_the_database(account):
    if connection.vendor != "postgresql":
        if IN_CI:
            pytest.fail("the append-only trigger needs PostgreSQL (required in CI)")
        pytest.skip("the trigger exists on PostgreSQL only")
    entry = charge(account)
    with connection.cursor() as cursor:
        for sql in ("UPDATE billing_ledgerentry SET amount = 0 WHERE id = %s",
                    "DELETE FROM billing_ledgerentry WHERE id = %s"):
            with pytest.raises(DatabaseError), transaction.atomic():
                cursor.execute(sql, [entry.pk])
        with pytest.raises(DatabaseError), transaction.atomic():
            cursor.execute(
                "INSERT INTO billing_ledgerentry (program_account_id, kind, amount, duty, sima, excise_duty, "
                "excise_tax, gst, other, effective_date, billing_period, reference, description, idempotency_key, "
                "created_at) VALUES (%s, 'other', 5, 1, 0, 0, 0, 0, 0, '2025-11-03', '2025-11-17', '', '', 'x', "
                "now())", [account.pk])


def test_balance_is_summed_in_sql_and_as_of_a_date(account, other_importer, django_assert_num_queries):
    charge(account)
    ledger.post_entry(program_account=account, kind=LedgerEntry.Kind.PAYMENT, amount=Decimal("-1000.00"),
                      effective_date=date(2025, 12, 1), idempotency_key="pay-1")
    ledger.post_entry(program_account=other_importer.program_accounts.get(), kind=LedgerEntry.Kind.PENALTY,
                      amount=Decimal("200"), effective_date=date(2025, 11, 3), idempotency_key="pen-1")
    with django_assert_num_queries(1):
        assert ledger.balance(account) == Decimal("614.11")
    assert ledger.balance(account, as_of=date(2025, 11, 30)) == Decimal("1614.11")
    assert ledger.balance(account, as_of=date(2025, 11, 1)) == Decimal("0.00")


def test_bulk_posting_validates_each_entry(account):
    good = ledger.build_entry(program_account=account, kind=LedgerEntry.Kind.INTEREST, amount=Decimal("3.10"),
                              effective_date=date(2025, 11, 3), idempotency_key="b1", posted_on=date(2025, 11, 3))
    bad = ledger.build_entry(program_account=account, kind=LedgerEntry.Kind.INTEREST, amount=Decimal("3.10"),
                             effective_date=date(2025, 11, 3), idempotency_key="b2", posted_on=date(2025, 11, 3))
    bad.billing_period = date(2025, 11, 18)
    with pytest.raises(ValidationError):
        ledger.post_entries_bulk([good, bad])
    assert ledger.post_entries_bulk([good])[0].pk is not None


def test_period_helpers():
    assert calendar.period_start(date(2025, 11, 17)) == date(2025, 10, 18)
    assert calendar.period_start(date(2026, 1, 17)) == date(2025, 12, 18)
    assert calendar.next_period(date(2025, 12, 17)) == date(2026, 1, 17)
    assert calendar.statement_date(date(2025, 11, 17)) == date(2025, 11, 25)
    assert calendar.add_weekdays(date(2025, 11, 14), 1) == date(2025, 11, 17)
