"""Closing a chunk of statements: set-based SQL, one INSERT … SELECT per step, idempotent.

For a chunk of program accounts and a period P (``close_chunk``), inside one transaction:

1. interest (``billing.ledger.interest``, the one engine) and late-payment penalties
   (``billing.overdue``) are posted to the ledger for P: a rerun skips the keys already written;
2. the statements are written by ONE ``INSERT … SELECT … GROUP BY`` over the ledger rows of
   the period (the statement's lines), joined to the previous statement for the opening
   balance, ``ON CONFLICT (program_account_id, period_end) DO NOTHING``;
3. the content hash of the new statements is filled in (one SELECT, one bulk UPDATE).

Column definitions: see the comment above ``billing.models.BillingRun``. Opening balance: the
previous period's statement closing; for an account's first statement (no statement for P-1)
the ledger balance of every earlier period, so closing(P) = Σ ledger amounts of periods ≤ P
always holds. Works on PostgreSQL and SQLite (both support ``INSERT … ON CONFLICT``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.db import connection
from django.utils import timezone

from accounts.models import ProgramAccount
from billing.ledger import services as ledger
from billing.ledger.models import OWING_SQL, LedgerEntry
from billing.ledger.texts import Text, interest_pieces
from carm_portal import calendar
from carm_portal.id_lists import ids_param, ids_sql, ids_subquery

from . import overdue
from .models import Statement

# Kinds with their own statement column; every other kind is a charge (> 0) or a credit (< 0).
OWN_COLUMN_KINDS = (LedgerEntry.Kind.PAYMENT.value, LedgerEntry.Kind.INTEREST.value, LedgerEntry.Kind.PENALTY.value)


@dataclass(frozen=True)
class PeriodDates:
    period_end: date
    period_start: date
    previous: date
    due_date: date
    issued_on: date


def period_dates(period_end: date) -> PeriodDates:
    return PeriodDates(
        period_end=period_end,
        period_start=calendar.period_start(period_end),
        previous=calendar.previous_period(period_end),
        due_date=calendar.payment_due_date(period_end),
        issued_on=calendar.statement_date(period_end),
    )


def _quoted_kinds() -> str:
    return ", ".join(f"'{k}'" for k in OWN_COLUMN_KINDS)


def totals_subquery(ids_sql: str) -> str:
    """Per-account sums of the period's ledger rows (params: period_end, *ids)."""
    return f"""
        SELECT program_account_id,
               SUM(CASE WHEN kind NOT IN ({_quoted_kinds()}) AND amount > 0 THEN amount ELSE 0 END) AS charges,
               -SUM(CASE WHEN kind NOT IN ({_quoted_kinds()}) AND amount < 0 THEN amount ELSE 0 END) AS credits,
               -SUM(CASE WHEN kind = 'payment' THEN amount ELSE 0 END) AS payments,
               SUM(CASE WHEN kind = 'interest' THEN amount ELSE 0 END) AS interest,
               SUM(CASE WHEN kind = 'penalty' THEN amount ELSE 0 END) AS penalties,
               SUM(duty + sima + excise_duty + excise_tax + gst) AS duties_and_taxes,
               SUM(amount) AS total,
               COUNT(*) AS lines_count
          FROM billing_ledgerentry
         WHERE billing_period = %s AND {OWING_SQL} {ids_sql}
         GROUP BY program_account_id
    """  # noqa: S608 - only placeholders and constant kinds are interpolated


def post_interest_and_penalties(account_ids: Sequence[int], period_end: date) -> int:
    """Post the period's interest and late-payment penalties for the accounts; returns entries written.

    The rules are ``billing.overdue`` and ``billing.ledger.interest``: two set-based reads (the statements
    that can be overdue during the period, the payments and credits since), the rule applied per
    account in Python, one bulk INSERT that skips keys already written
    (``interest:<account>:<period>``, ``late-payment:<account>:<statement period>``), so a rerun
    charges nothing twice.
    """
    previous = calendar.previous_period(period_end)
    # Pay-at-release CAD charges are overdue from the day after release (declarations.payment_timing);
    # those billed before the previous period are on statements already due.
    histories = overdue.load_histories(account_ids, periods=(calendar.previous_period(previous), previous),
                                       until=period_end, cash_since=previous)
    first_day = calendar.period_start(period_end)
    entries = []
    for account_id, history in histories.items():
        accrual = overdue.period_interest(first_day, period_end, history)
        if accrual.amount > 0:
            entries.append(ledger.build_entry(
                program_account=ProgramAccount(pk=account_id), kind=LedgerEntry.Kind.INTEREST, effective_date=period_end,
                billing_period=period_end, amount=accrual.amount,
                idempotency_key=f"interest:{account_id}:{period_end.isoformat()}",
                description=Text("interest", pieces=interest_pieces(accrual)),
            ))
        for statement in history.statements:
            # Penalised on the period its due date falls in (the one being closed).
            if statement.period_end != previous:
                continue
            penalty = overdue.late_payment_penalty(statement, history)
            if penalty > 0:
                entries.append(ledger.build_entry(
                    program_account=ProgramAccount(pk=account_id), kind=LedgerEntry.Kind.PENALTY,
                    effective_date=statement.due_date + timedelta(days=1), billing_period=period_end,
                    amount=penalty, idempotency_key=f"late-payment:{account_id}:{statement.period_end.isoformat()}",
                    description=Text("late_payment", period=statement.period_end, due=statement.due_date),
                ))
    LedgerEntry.objects.bulk_create(entries, batch_size=1000, ignore_conflicts=True)
    return len(entries)


def insert_statements(account_ids: Sequence[int], period_end: date, run_id: int | None) -> list[tuple[int, Decimal]]:
    """Close the accounts' statements for the period (one INSERT … SELECT … RETURNING).

    Returns (account id, closing balance) of each statement written now: a rerun writes nothing.
    """
    if not account_ids:
        return []
    sql, params = statements_sql(account_ids, period_end, run_id)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [(int(account_id), Decimal(closing)) for account_id, closing in cursor.fetchall()]


def statements_sql(account_ids: Sequence[int], period_end: date, run_id: int | None) -> tuple[str, list]:
    """The chunk's INSERT … SELECT and its parameters (the benchmark EXPLAINs it)."""
    d = period_dates(period_end)
    now = timezone.now()
    # The opening balance is the previous statement's closing; only an account without one (its
    # first statement, or after a gap) needs its whole history summed. Picking those accounts here
    # keeps every other account's history unread (a NOT IN over all statements did not).
    with_previous = set(Statement.objects.filter(period_end=d.previous, program_account_id__in=ids_subquery(account_ids))
                        .values_list("program_account_id", flat=True))
    no_previous = [i for i in account_ids if i not in with_previous]
    if no_previous:
        history_join = f"""LEFT JOIN (SELECT program_account_id, SUM(amount) AS total
                               FROM billing_ledgerentry
                              WHERE billing_period < %s AND {OWING_SQL} AND program_account_id IN ({ids_sql()})
                              GROUP BY program_account_id) hist
                    ON hist.program_account_id = a.id"""  # noqa: S608 - only placeholders are interpolated
        history_params = [d.period_end, ids_param(no_previous)]
    else:
        history_join = ("LEFT JOIN (SELECT CAST(NULL AS BIGINT) AS program_account_id,"
                        " CAST(NULL AS NUMERIC(14, 2)) AS total) hist ON FALSE")
        history_params = []
    sql = f"""
        WITH chunk(id) AS ({ids_sql()})
        INSERT INTO billing_statement
            (program_account_id, period_end, period_start, opening_balance, charges, credits, payments,
             interest, penalties, closing_balance, duties_and_taxes, due_date, issued_on, lines_count,
             content_hash, snapshot, run_id, created_at)
        SELECT x.account_id, %s, %s, x.opening, x.charges, x.credits, x.payments, x.interest, x.penalties,
               x.opening + x.total, x.duties_and_taxes, %s, %s, x.lines_count, {_hash_sql()}, x.snapshot,
               CAST(%s AS BIGINT), %s
          FROM (SELECT a.id AS account_id, {_snapshot_sql()} AS snapshot,
                       COALESCE(prev.closing_balance, hist.total, 0) AS opening,
                       COALESCE(t.charges, 0) AS charges, COALESCE(t.credits, 0) AS credits,
                       COALESCE(t.payments, 0) AS payments, COALESCE(t.interest, 0) AS interest,
                       COALESCE(t.penalties, 0) AS penalties, COALESCE(t.total, 0) AS total,
                       COALESCE(t.duties_and_taxes, 0) AS duties_and_taxes,
                       COALESCE(t.lines_count, 0) AS lines_count
                  FROM chunk
                  JOIN accounts_programaccount a ON a.id = chunk.id
                  LEFT JOIN ({totals_subquery("AND program_account_id IN (SELECT id FROM chunk)")}) t
                    ON t.program_account_id = a.id
                  LEFT JOIN billing_statement prev
                    ON prev.program_account_id = a.id AND prev.period_end = %s
                  {history_join}
                  JOIN accounts_business b ON b.id = a.business_id) x
         WHERE TRUE
        ON CONFLICT (program_account_id, period_end) DO NOTHING
        RETURNING program_account_id, closing_balance
    """  # noqa: S608 - only placeholders are interpolated
    hash_params = [d.period_end, d.due_date, d.issued_on] if connection.vendor == "postgresql" else []
    params = [
        ids_param(account_ids),
        d.period_end, d.period_start, d.due_date, d.issued_on, *hash_params, run_id, now,
        d.period_end,
        d.previous,
        *history_params,
    ]
    return sql, params


# What an issued statement shows of the business and account, frozen with it (Statement.snapshot).
SNAPSHOT_COLUMNS = ("legal_name", "operating_name", "bn9", "street", "city", "province", "postal_code", "country")


def _snapshot_sql() -> str:
    pairs = ", ".join(f"'{c}', b.{c}" for c in SNAPSHOT_COLUMNS) + ", 'account_number', a.number"
    if connection.vendor == "postgresql":
        return f"json_build_object({pairs})::jsonb"
    return f"json_object({pairs})"


def _hash_sql() -> str:
    """On PostgreSQL the content hash is computed in the INSERT itself: sha256 of the same text
    ``statement_hash`` builds in Python (numbers as NUMERIC(14,2) text, dates ISO). Elsewhere ''
    (filled in by ``fill_hashes``). Params: period_end, due_date, issued_on."""
    if connection.vendor != "postgresql":
        return "''"
    money = lambda expr: f"CAST({expr} AS NUMERIC(14, 2))::text"  # noqa: E731
    parts = [
        "x.account_id::text", "CAST(%s AS DATE)::text", money("x.opening"), money("x.charges"), money("x.credits"),
        money("x.payments"), money("x.interest"), money("x.penalties"), money("x.opening + x.total"),
        money("x.duties_and_taxes"), "CAST(%s AS DATE)::text", "CAST(%s AS DATE)::text", "x.lines_count::text",
    ]
    return f"encode(sha256(convert_to(concat_ws('|', {', '.join(parts)}), 'UTF8')), 'hex')"


HASHED_FIELDS = (
    "program_account_id", "period_end", "opening_balance", "charges", "credits", "payments", "interest",
    "penalties", "closing_balance", "duties_and_taxes", "due_date", "issued_on", "lines_count",
)


def statement_hash(values: dict) -> str:
    text = "|".join(str(values[f]) for f in HASHED_FIELDS)
    return hashlib.sha256(text.encode()).hexdigest()


def fill_hashes(account_ids: Sequence[int], period_end: date) -> int:
    rows = list(
        Statement.objects.filter(program_account_id__in=account_ids, period_end=period_end, content_hash="")
        .values("id", *HASHED_FIELDS)
    )
    if not rows:
        return 0
    objs = [Statement(id=r["id"], content_hash=statement_hash(r)) for r in rows]
    Statement.objects.bulk_update(objs, ["content_hash"], batch_size=1000)
    return len(objs)


@dataclass(frozen=True)
class ClosedChunk:
    created: int  # statements written now (0 on a rerun)
    credit_account_ids: list[int]  # of those, the accounts whose closing is a credit (to offset)


def close_chunk(account_ids: Sequence[int], period_end: date, run_id: int | None = None) -> ClosedChunk:
    """Interest and penalties, then statements, then hashes, for the accounts. Call inside ``transaction.atomic``."""
    account_ids = sorted(int(i) for i in account_ids)
    if connection.vendor == "postgresql":
        # A chunk's queries are planned above jit_above_cost at national size, and compiling them
        # costs more than it saves: 135 vs 102 ms for a 2,500-account statement INSERT (EXPLAIN
        # ANALYZE). For this transaction only.
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL jit = off")
    post_interest_and_penalties(account_ids, period_end)
    written = insert_statements(account_ids, period_end, run_id)
    if connection.vendor != "postgresql":
        fill_hashes(account_ids, period_end)
    return ClosedChunk(created=len(written), credit_account_ids=[i for i, closing in written if closing < 0])
