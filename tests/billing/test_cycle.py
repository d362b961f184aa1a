"""The billing cycle, in process (eager): statements reconcile, match the ledger, rerun safely."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.db import connection
from django.db.models import Sum

from billing import cycle, services
from billing.ledger.models import LedgerEntry
from billing.models import BillingRun, BillingRunChunk, Statement
from carm_portal.calendar import payment_due_date
from carm_portal.models import DueDateOverride, InterestRate
from tests.billing.conftest import (
    PERIOD,
    PREVIOUS,
    assert_statements_match_ledger,
    generate_accounts,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("on_billing_today")]


def test_due_date_example_from_the_rules():
    assert payment_due_date(date(2025, 11, 17)) == date(2025, 12, 1)
    assert payment_due_date(date(2024, 11, 17)) == date(2024, 11, 29)


def test_due_date_override_table_wins_over_the_weekday_rule():
    assert payment_due_date(date(2025, 11, 17)) == date(2025, 12, 1)
    override = DueDateOverride.objects.create(period_end=date(2025, 11, 17), due_date=date(2025, 12, 2))
    assert payment_due_date(date(2025, 11, 17)) == date(2025, 12, 2)
    override.delete()
    assert payment_due_date(date(2025, 11, 17)) == date(2025, 12, 1)


def test_cycle_closes_reconciling_statements_on_generated_data(billing_settings):
    accounts = generate_accounts(50)
    ids = [a.pk for a in accounts]
    first = services.run_in_process(PREVIOUS)
    assert first.status == BillingRun.Status.COMPLETE
    assert first.total == first.done > 0 and first.failed == 0
    assert first.chunks_total == first.chunks.filter(status=BillingRunChunk.Status.DONE).count() > 1
    assert_statements_match_ledger(PREVIOUS)
    run = services.run_in_process(PERIOD)
    statements = assert_statements_match_ledger(PERIOD)
    assert run.done == len(statements)
    assert {s.program_account_id for s in statements} <= set(ids)
    previous = dict(Statement.objects.filter(period_end=PREVIOUS).values_list("program_account_id", "closing_balance"))
    for s in statements:
        if s.program_account_id in previous:
            assert s.opening_balance == previous[s.program_account_id]
        assert s.due_date == payment_due_date(PERIOD) and s.issued_on == date(2026, 11, 25)
    # Each column against a plain ORM sum of the lines.
    s = max(statements, key=lambda s: s.lines_count)
    lines = s.lines()
    assert lines.count() == s.lines_count
    assert lines.filter(amount__gt=0).exclude(kind__in=cycle.OWN_COLUMN_KINDS).aggregate(t=Sum("amount"))["t"] \
        == s.charges
    assert -(lines.filter(amount__lt=0).exclude(kind__in=cycle.OWN_COLUMN_KINDS).aggregate(t=Sum("amount"))["t"]
             or 0) == s.credits


def test_rerun_leaves_one_statement_per_account_and_no_double_interest(billing_settings):
    generate_accounts(20, seed=5)
    services.run_in_process(PREVIOUS)
    before = {s.program_account_id: (s.closing_balance, s.content_hash)
              for s in Statement.objects.filter(period_end=PERIOD)}
    assert before == {}
    run1 = services.run_in_process(PERIOD)
    snapshot = {s.program_account_id: (s.closing_balance, s.content_hash)
                for s in Statement.objects.filter(period_end=PERIOD)}
    interest_rows = LedgerEntry.objects.filter(kind=LedgerEntry.Kind.INTEREST).count()
    assert interest_rows > 0  # nothing was paid: every previous balance is overdue
    run2 = services.run_in_process(PERIOD)
    assert run2.pk != run1.pk and run2.run_number == 2 and run2.total == 0
    # The chunk SQL itself, run again over the same accounts: nothing new.
    with connection.cursor():
        assert cycle.close_chunk(list(snapshot), PERIOD).created == 0
    again = {s.program_account_id: (s.closing_balance, s.content_hash)
             for s in Statement.objects.filter(period_end=PERIOD)}
    assert again == snapshot
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.INTEREST).count() == interest_rows
    assert_statements_match_ledger(PERIOD)


def test_interest_is_posted_on_the_statement_for_the_unpaid_previous_balance(billing_settings):
    accounts = generate_accounts(5, seed=9)
    services.run_in_process(PREVIOUS)
    services.run_in_process(PERIOD)
    previous_due = payment_due_date(PREVIOUS)  # 2026-10-30 (17th a Saturday)
    days = (PERIOD - previous_due).days  # the day after the due date to the period end, both included
    rate = InterestRate.objects.filter(effective_from__lte=previous_due).order_by("-effective_from")[0].annual_rate
    with_credits = set(LedgerEntry.objects.filter(billing_period=PERIOD, amount__lt=0)
                       .values_list("program_account_id", flat=True))
    checked = 0
    for s in Statement.objects.filter(period_end=PERIOD, program_account__in=accounts):
        prev = Statement.objects.get(program_account_id=s.program_account_id, period_end=PREVIOUS)
        if prev.closing_balance > 0 and s.program_account_id not in with_credits:
            checked += 1
            # Nothing paid or credited, and PREVIOUS is the first statement: closing × rate × days / 365.
            expected = (prev.closing_balance * rate * days / 365).quantize(Decimal("0.01"), ROUND_HALF_UP)
            assert s.interest == expected
            assert LedgerEntry.objects.get(idempotency_key=f"interest:{s.program_account_id}:{PERIOD}").amount \
                == expected
    assert checked > 0


def test_a_failed_chunk_is_recorded_and_retried_alone(billing_settings, django_capture_on_commit_callbacks):
    generate_accounts(10, seed=11)
    run = services.start_run(PREVIOUS, enqueue=lambda r, n: None)
    chunks = list(run.chunks.order_by("number"))
    assert len(chunks) == 2
    # Chunk 1's SQL fails (recorded the way close_chunk's exception handler does), chunk 2 succeeds.
    services._mark_failed(run.pk, 1, RuntimeError("database went away"))
    assert services.close_chunk(run.pk, 1) == "skipped"  # a failed chunk waits for a retry
    assert services.close_chunk(run.pk, 2) == "done"
    assert services.finalize_run(run.pk) == BillingRun.Status.FAILED
    run.refresh_from_db()
    assert run.failures[0]["chunk"] == 1 and "went away" in run.failures[0]["error"]
    assert run.failed == len(chunks[0].account_ids) and run.done == len(chunks[1].account_ids)
    enqueued = []
    with django_capture_on_commit_callbacks(execute=True):
        assert services.retry_failed(run.pk, enqueue=lambda r, n: enqueued.append(n)) == 1
    assert enqueued == [1]
    assert services.close_chunk(run.pk, 1) == "done"
    assert services.finalize_run(run.pk) == BillingRun.Status.COMPLETE
    run.refresh_from_db()
    assert run.done == run.total and run.failed == 0 and run.failures == []
    assert_statements_match_ledger(PREVIOUS)


def test_worked_example_3_statement(importer):
    from billing.ledger import services as ledger

    account = importer.program_accounts.order_by("number").first()
    rows = [("cad_charge", "12400.00", 3), ("cad_charge", "8150.00", 6), ("cad_correction", "-650.00", 12),
            ("penalty", "500.00", 14), ("cad_adjustment", "-1200.00", 10)]
    for n, (kind, amount, day) in enumerate(rows):
        ledger.post_entry(program_account=account, kind=kind, amount=Decimal(amount),
                          effective_date=date(2025, 11, day), billing_period=date(2025, 11, 17),
                          idempotency_key=f"ex3-{n}")
    services.run_in_process(date(2025, 11, 17))
    s = Statement.objects.get(program_account=account, period_end=date(2025, 11, 17))
    assert (s.opening_balance, s.charges, s.credits, s.penalties, s.closing_balance) == (
        Decimal("0.00"), Decimal("20550.00"), Decimal("1850.00"), Decimal("500.00"), Decimal("19200.00"))
    assert s.due_date == date(2025, 12, 1) and s.issued_on == date(2025, 11, 25) and s.lines_count == 5


def test_the_stored_hash_is_the_python_hash_of_the_numbers(billing_settings):
    from billing.cycle import HASHED_FIELDS, statement_hash

    generate_accounts(8, seed=13)
    services.run_in_process(PREVIOUS)
    for row in Statement.objects.filter(period_end=PREVIOUS).values("content_hash", *HASHED_FIELDS):
        assert row["content_hash"] == statement_hash(row)


def test_the_periodic_finalizer_requeues_a_stale_run_and_finalizes(billing_settings):
    from datetime import timedelta

    from django.utils import timezone

    generate_accounts(10, seed=17)
    run = services.start_run(PREVIOUS, enqueue=lambda r, n: None)  # the messages were "lost"
    queued = []
    assert services.finalize_open_runs(enqueue=lambda r, n: queued.append(n)) == 0 and queued == []
    BillingRun.objects.filter(pk=run.pk).update(started_at=timezone.now() - timedelta(hours=1))
    services.finalize_open_runs(enqueue=lambda r, n: queued.append(n))
    assert queued == [1, 2]
    for number in queued:
        services.close_chunk(run.pk, number)
    assert services.finalize_open_runs() == 1
    run.refresh_from_db()
    assert run.status == BillingRun.Status.COMPLETE
