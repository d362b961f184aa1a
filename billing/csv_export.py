"""The ledger lines as CSV: the statement's lines (page and API) and the transaction history.

Streamed row by row (a statement can have tens of thousands of lines), amounts as plain decimals
(``1234.50``, ``-500.00``: what a spreadsheet or a script reads back exactly), and text cells made
safe from spreadsheet formula injection (``carm_portal.csv_export``, the one CSV response).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from django.http import StreamingHttpResponse
from django.utils import timezone

from billing.ledger.models import BREAKDOWN_FIELDS, LedgerEntry
from carm_portal.csv_export import csv_response, safe_cell

__all__ = ["LEDGER_CSV_HEADER", "safe_cell", "ledger_rows", "csv_response", "statement_csv_filename",
           "statement_csv_response"]


LEDGER_CSV_HEADER = ["effective_date", "rm_account", "kind", "reference", "description", *BREAKDOWN_FIELDS,
                     "amount", "billing_period", "posted_at"]


def ledger_rows(entries: Iterable[LedgerEntry]) -> Iterator[list]:
    """The header, then one row per entry (the entries need ``program_account`` selected)."""
    yield LEDGER_CSV_HEADER
    for e in entries:
        yield [e.effective_date.isoformat(), e.program_account.number, e.kind, e.reference,
               e.description, *(getattr(e, f) for f in BREAKDOWN_FIELDS), e.amount,
               e.billing_period.isoformat(), timezone.localtime(e.created_at).isoformat(timespec="seconds")]


def statement_csv_filename(statement) -> str:
    return f"statement-{statement.program_account.number}-{statement.period_end:%Y-%m-%d}.csv"


def statement_csv_response(statement) -> StreamingHttpResponse:
    """Every line of the statement (its ledger entries, in the statement's order), streamed."""
    entries = statement.lines().select_related("program_account").iterator(chunk_size=2000)
    return csv_response(ledger_rows(entries), statement_csv_filename(statement))
