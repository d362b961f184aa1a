"""Property test: for random debts and credits (kinds, periods, amounts, days), automatic offsetting
- never allocates more than a credit or a debt has left,
- allocates exactly min(total eligible credit, total due debt) in each offsetting scope,
- never changes an account's balance, and never touches a security deposit.

The expectations are computed here in plain Python from the generated entries, not with the
selectors under test.
"""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import Business
from billing.ledger import services as ledger
from billing.ledger.models import LedgerEntry
from billing.offsetting import services
from billing.offsetting.models import Allocation
from carm_portal import calendar

from .conftest import post, set_preference

pytestmark = pytest.mark.django_db

K = LedgerEntry.Kind
PERIODS = [date(2025, m, 17) for m in range(5, 13)] + [date(2026, 1, 17)]
DEBT_KINDS = [K.CAD_CHARGE, K.CAD_CORRECTION, K.CAD_ADJUSTMENT, K.PENALTY, K.INTEREST, K.CBSA_INVOICE,
              K.APPEAL_DECISION, K.OTHER]
CREDIT_KINDS = [K.PAYMENT, K.CAD_CORRECTION, K.CAD_ADJUSTMENT, K.CAD_WITHDRAWAL, K.APPEAL_DECISION,
                K.SECURITY_DEPOSIT, K.OTHER]

entry = st.fixed_dictionaries({
    "rm": st.integers(0, 1),
    "credit": st.booleans(),
    "debt_kind": st.sampled_from(DEBT_KINDS),
    "credit_kind": st.sampled_from(CREDIT_KINDS),
    "cents": st.integers(1, 2_000_000),
    "period": st.sampled_from(PERIODS),
    "day": st.integers(-29, 40),   # effective date relative to the period's 17th
})
preference = st.sampled_from([Business.OffsettingPreference.AUTO_PROGRAM, Business.OffsettingPreference.AUTO_BUSINESS])
day = st.integers(0, 300).map(lambda n: date(2025, 6, 1) + timedelta(days=n))


def _left(entries, today):
    """Per entry id: (is credit, what is left, eligible today) from the rows and allocations in the DB."""
    used = {}
    for credit_id, debt_id, amount in Allocation.objects.values_list("credit_id", "debt_id", "amount"):
        used[credit_id] = used.get(credit_id, Decimal("0")) + amount
        used[debt_id] = used.get(debt_id, Decimal("0")) + amount
    out = {}
    for e in entries:
        if e.kind == K.SECURITY_DEPOSIT:
            continue
        if e.amount < 0:
            out[e.pk] = (True, -e.amount - used.get(e.pk, 0), e.effective_date <= today)
        else:
            out[e.pk] = (False, e.amount - used.get(e.pk, 0), calendar.payment_due_date(e.billing_period) <= today)
    return out


def _expected(entries, today, scopes):
    left = _left(entries, today)
    by_id = {e.pk: e for e in entries}
    expected = 0
    for scope in scopes:
        ids = [pk for pk in left if by_id[pk].program_account_id in scope]
        credit = sum((left[pk][1] for pk in ids if left[pk][0] and left[pk][2]), Decimal("0"))
        debt = sum((left[pk][1] for pk in ids if not left[pk][0] and left[pk][2]), Decimal("0"))
        expected += min(credit, debt)
    return expected


def _check_limits(entries):
    for e in entries:
        got = sum((a for a in Allocation.objects.filter(credit=e).values_list("amount", flat=True)), Decimal("0"))
        got_as_debt = sum((a for a in Allocation.objects.filter(debt=e).values_list("amount", flat=True)), Decimal("0"))
        if e.amount < 0:
            assert got <= -e.amount and got_as_debt == 0
        else:
            assert got_as_debt <= e.amount and got == 0
        if e.kind == K.SECURITY_DEPOSIT:
            assert got == got_as_debt == 0


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(rows=st.lists(entry, min_size=1, max_size=25), pref=preference, first=day, later=st.integers(0, 90))
def test_automatic_offsetting_properties(importer, rows, pref, first, later):
    accounts = list(importer.program_accounts.order_by("id"))
    with transaction.atomic():
        set_preference(importer, pref)
        entries = []
        for row in rows:
            kind = row["credit_kind"] if row["credit"] else row["debt_kind"]
            amount = Decimal(row["cents"]) / 100 * (-1 if row["credit"] else 1)
            entries.append(post(accounts[row["rm"]], kind, amount, row["period"],
                                effective=row["period"] + timedelta(days=row["day"])))
        if pref == Business.OffsettingPreference.AUTO_BUSINESS:
            scopes = [{a.pk for a in accounts}]
        else:
            scopes = [{a.pk} for a in accounts]
        balances = [ledger.balance(a) for a in accounts]

        # Two runs on two days: the second starts from what the first left.
        for today in (first, first + timedelta(days=later)):
            expected = _expected(entries, today, scopes)
            before = sum(Allocation.objects.values_list("amount", flat=True), Decimal("0"))
            for account in accounts:
                services.apply_offsets(program_account_id=account.pk, today=today)
            after = sum(Allocation.objects.values_list("amount", flat=True), Decimal("0"))
            assert after - before == expected
            _check_limits(entries)
            assert [ledger.balance(a) for a in accounts] == balances
            for a in Allocation.objects.select_related("credit", "debt"):
                assert a.credit.effective_date <= a.applied_on <= today
                assert calendar.payment_due_date(a.debt.billing_period) <= a.applied_on
                if pref == Business.OffsettingPreference.AUTO_PROGRAM:
                    assert a.credit.program_account_id == a.debt.program_account_id
            # Idempotent: a rerun the same day writes nothing.
            for account in accounts:
                assert services.apply_offsets(program_account_id=account.pk, today=today) == 0
        transaction.set_rollback(True)
