"""Billing test helpers: generated CAD history (the load generator) and plain-SQL checks."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.db import connection

from billing.models import Statement
from declarations.load import CadHistoryGenerator
from tests.clock import on

TODAY = date(2026, 11, 26)
PERIOD = date(2026, 11, 17)
PREVIOUS = date(2026, 10, 17)


def generate_accounts(count: int = 50, *, seed: int = 3, months: int = 4, cads_per_month: float = 3.0):
    generator = CadHistoryGenerator(seed=seed, today=TODAY)
    accounts = generator.create_importers(count)
    generator.generate(accounts, months=months, cads_per_month=cads_per_month, batch=500)
    return accounts


def plain_sums(period_end: date) -> dict[int, dict[str, Decimal]]:
    """Per account: Σ amount of the period's lines, Σ of all periods ≤ it, and the line count, in plain SQL."""
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT program_account_id,
                      SUM(CASE WHEN billing_period = %s THEN amount ELSE 0 END),
                      SUM(amount),
                      SUM(CASE WHEN billing_period = %s THEN 1 ELSE 0 END)
                 FROM billing_ledgerentry WHERE billing_period <= %s AND kind <> 'security_deposit'
                GROUP BY program_account_id""",
            [period_end, period_end, period_end],
        )
        return {
            row[0]: {"period": Decimal(str(row[1])).quantize(Decimal("0.01")),
                     "to_date": Decimal(str(row[2])).quantize(Decimal("0.01")), "lines": int(row[3])}
            for row in cursor.fetchall()
        }


def assert_statements_match_ledger(period_end: date, expected_accounts=None) -> list[Statement]:
    statements = list(Statement.objects.filter(period_end=period_end).order_by("program_account_id"))
    sums = plain_sums(period_end)
    ids = [s.program_account_id for s in statements]
    assert len(ids) == len(set(ids)), "one statement per account"
    if expected_accounts is not None:
        assert set(ids) == set(expected_accounts)
    for s in statements:
        assert s.reconciles, s
        expected = sums[s.program_account_id]
        assert s.closing_balance == expected["to_date"], s
        assert s.closing_balance - s.opening_balance == expected["period"], s
        assert s.lines_count == expected["lines"]
        assert s.content_hash
    return statements


@pytest.fixture
def on_billing_today():
    """The generated history is as of ``TODAY``: the clock says so too (a period closes only once
    its statement day has come, and the 2026-11-17 one is issued on 2026-11-25)."""
    with on(TODAY):
        yield TODAY


@pytest.fixture
def billing_settings(settings):
    """Small chunks, and the seeded interest rates (a transactional test's flush removes migration data)."""
    settings.CARM = {**settings.CARM, "BILLING_CHUNK_SIZE": 7}
    ensure_interest_rates()
    return settings


def ensure_interest_rates() -> None:
    import importlib

    from carm_portal.models import InterestRate
    from tests.migration_state import run_migration_function

    seed = importlib.import_module("billing.migrations.0004_seed_interest_rates")
    for (year, month), rate in seed.RATES.items():
        InterestRate.objects.get_or_create(effective_from=date(year, month, 1),
                                           defaults={"annual_rate": Decimal(rate), "note": "Seeded"})
    run_migration_function("billing", "0006_interest_rate_effective_from", "waiver")
