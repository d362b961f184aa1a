"""Demo data for offsetting: a credit in the importer's favour on each RM, applied by a run.

Idempotent: fixed ledger keys (``post_entry`` returns the entry already written) and
``apply_offsets`` finds nothing left on a second run.
"""

from __future__ import annotations

from decimal import Decimal

from django.utils import timezone

from billing.ledger import services as ledger
from billing.ledger.models import LedgerEntry
from billing.ledger.texts import Text

from . import selectors, services


def seed(ctx, stdout=None) -> None:
    today = timezone.localdate()
    # Two statements back: the credit has stood long enough to be refunded once no debt remains.
    period = selectors.periods_back(selectors.last_statement_period(today), 1)
    accounts = list(ctx.importer.program_accounts.order_by("number"))
    credits = [("-1200.00", LedgerEntry.Kind.CAD_ADJUSTMENT, "older_cad_credit"),
               ("-350.00", LedgerEntry.Kind.PAYMENT, "overpayment")]
    for account, (amount, kind, code) in zip(accounts, credits, strict=False):
        ledger.post_entry(
            program_account=account, kind=kind,
            amount=Decimal(amount), effective_date=period.replace(day=10), billing_period=period,
            idempotency_key=f"demo:offsetting:credit:{account.number}", reference=f"DEMO-CR-{account.number[-4:]}",
            description=Text(code),
        )
    made = sum(services.apply_offsets(program_account_id=a.pk, today=today) for a in accounts)
    if stdout is not None:
        stdout.write(f"  offsetting: {made} new allocation(s)")
