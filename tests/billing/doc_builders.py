"""Builders for the billing documents and pages tests: real ledger rows, statements closed by the cycle."""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from decimal import Decimal

from django.db import transaction

from billing import cycle
from billing.ledger import services as ledger
from billing.ledger.models import LedgerEntry
from billing.models import Statement
from carm_portal import calendar

K = LedgerEntry.Kind
PERIOD = date(2025, 11, 17)          # the rules file's example: due 2025-12-01
PREVIOUS = date(2025, 10, 17)
_seq = itertools.count(1)


def transaction_number(account, n: int) -> str:
    return f"{account.number[:5]}{n:09d}"


def post_cads(account, period_end: date = PERIOD, count: int = 3, *, start: int = 0) -> list[LedgerEntry]:
    """``count`` CAD charges in the period, with duty and GST and a transaction number each."""
    first = calendar.period_start(period_end)
    entries = []
    for i in range(start, start + count):
        duty = Decimal("1000.00") + Decimal(i) * Decimal("13.37")
        gst = (duty * Decimal("0.05")).quantize(Decimal("0.01"))
        number = transaction_number(account, next(_seq))
        entries.append(ledger.post_entry(
            program_account=account, kind=K.CAD_CHARGE, effective_date=first + timedelta(days=i % 28),
            billing_period=period_end, breakdown={"duty": duty, "gst": gst}, reference=number,
            description=f"CAD {number}", idempotency_key=f"test-doc:{account.pk}:{number}",
        ))
    return entries


def post_other(account, kind: str, amount: str, period_end: date = PERIOD, **extra) -> LedgerEntry:
    return ledger.post_entry(
        program_account=account, kind=kind, amount=Decimal(amount), effective_date=period_end,
        billing_period=period_end, idempotency_key=f"test-doc:{account.pk}:{kind}:{next(_seq)}", **extra,
    )


def post_mixed_period(account, period_end: date = PERIOD, cads: int = 3) -> None:
    """CAD charges, a correction, a payment, a penalty and an offset: every group of the statement."""
    post_cads(account, period_end, cads)
    ledger.post_entry(
        program_account=account, kind=K.CAD_CORRECTION, effective_date=period_end, billing_period=period_end,
        breakdown={"duty": Decimal("-100.00"), "gst": Decimal("-5.00")},
        reference=transaction_number(account, 999), description="Correction",
        idempotency_key=f"test-doc:{account.pk}:corr:{next(_seq)}",
    )
    post_other(account, K.PAYMENT, "-500.00", period_end, reference="PAY-1", description="Cheque")
    post_other(account, K.PENALTY, "200.00", period_end, description="Late payment penalty")
    post_other(account, K.OFFSET, "-10.55", period_end, description="Offset")


def close_statement(account, period_end: date = PERIOD) -> Statement:
    """Close the account's statement for the period with the billing engine's own cycle code."""
    with transaction.atomic():
        cycle.close_chunk([account.pk], period_end)
    return Statement.objects.select_related("program_account__business").get(
        program_account=account, period_end=period_end
    )
