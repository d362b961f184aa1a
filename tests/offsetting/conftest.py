"""Offsetting test helpers: ledger entries posted through the real ``post_entry``, on fixed days.

Periods and due dates (10 weekdays after the 17th, holidays counted):
  2025-09-17 → 2025-10-01 · 2025-10-17 → 2025-10-31 · 2025-11-17 → 2025-12-01 · 2025-12-17 → 2025-12-31
"""

from __future__ import annotations

import itertools
from datetime import date
from decimal import Decimal

import pytest

from accounts.models import Business, ProgramAccount
from billing.ledger import services as ledger
from billing.ledger.models import LedgerEntry
from billing.offsetting.models import Allocation

SEP, OCT, NOV, DEC = date(2025, 9, 17), date(2025, 10, 17), date(2025, 11, 17), date(2025, 12, 17)
DUE = {SEP: date(2025, 10, 1), OCT: date(2025, 10, 31), NOV: date(2025, 12, 1), DEC: date(2025, 12, 31)}

_keys = itertools.count(1)


def post(account: ProgramAccount, kind: str, amount: str | Decimal, period: date, *,
         effective: date | None = None, reference: str = "") -> LedgerEntry:
    """A ledger entry in ``period`` (effective on the period's 10th unless given)."""
    return ledger.post_entry(
        program_account=account, kind=kind, amount=Decimal(amount), billing_period=period,
        effective_date=effective or period.replace(day=10), idempotency_key=f"test-offset-{next(_keys)}",
        reference=reference or f"{kind[:6].upper()}{next(_keys)}",
    )


def allocations(**filters) -> list[tuple[int, int, Decimal]]:
    return sorted(Allocation.objects.filter(**filters).values_list("credit_id", "debt_id", "amount"))


def set_preference(business: Business, preference: str) -> None:
    Business.objects.filter(pk=business.pk).update(offsetting_preference=preference)
    business.offsetting_preference = preference


@pytest.fixture
def rm(importer) -> ProgramAccount:
    return importer.program_accounts.order_by("number")[0]


@pytest.fixture
def rm2(importer) -> ProgramAccount:
    return importer.program_accounts.order_by("number")[1]


@pytest.fixture
def no_auto_offset(settings):
    """Tests that commit for real: no offsetting run queued by a new credit behind their back."""
    settings.CARM = {**settings.CARM, "OFFSET_AFTER_NEW_CREDIT": False}
