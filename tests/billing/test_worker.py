"""The billing cycle on a REAL Celery worker on Redis (not eager), and a worker SIGKILLed mid-run.

Needs PostgreSQL (DATABASE_URL) and Redis (CARM_TEST_REDIS_URL); skips locally without them,
fails in CI.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

import pytest

from billing import services
from billing.ledger.models import LedgerEntry
from billing.models import BillingRun, BillingRunChunk, Statement
from tests.billing.conftest import (
    PERIOD,
    PREVIOUS,
    assert_statements_match_ledger,
    generate_accounts,
)
from tests.celery_worker import real_worker

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def wait_for(run_id: int, *, done: int | None = None, timeout: float = 120) -> BillingRun:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = BillingRun.objects.get(pk=run_id)
        if done is not None and run.done >= done:
            return run
        if done is None and run.status in (BillingRun.Status.COMPLETE, BillingRun.Status.FAILED):
            return run
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} did not get there in {timeout} s: {BillingRun.objects.get(pk=run_id).__dict__}")


def test_the_cycle_runs_on_a_real_worker_and_every_statement_reconciles(billing_settings):
    accounts = generate_accounts(30, seed=21)
    with real_worker("celery"):
        first = services.start_run(PREVIOUS)
        assert first.chunks_total == 5
        first = wait_for(first.pk)
        assert first.status == BillingRun.Status.COMPLETE and first.done == first.total and first.failed == 0
        second = wait_for(services.start_run(PERIOD).pk)
        assert second.status == BillingRun.Status.COMPLETE
    assert_statements_match_ledger(PREVIOUS)
    statements = assert_statements_match_ledger(PERIOD)
    assert {s.program_account_id for s in statements} <= {a.pk for a in accounts}
    previous = dict(Statement.objects.filter(period_end=PREVIOUS).values_list("program_account_id", "closing_balance"))
    assert all(s.opening_balance == previous.get(s.program_account_id, s.opening_balance) for s in statements)
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.INTEREST).exists()


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(entry.name))
    return out


def test_a_worker_killed_mid_run_then_a_rerun_leaves_one_correct_statement_per_account(billing_settings):
    generate_accounts(30, seed=23)
    with real_worker("celery", concurrency=1, extra_env={"CARM_TEST_BILLING_CHUNK_DELAY": "1.5"}) as worker:
        run = services.start_run(PREVIOUS)
        total_chunks = run.chunks_total
        assert total_chunks == 5
        wait_for(run.pk, done=1)  # the first chunk is committed; the worker is inside the second
        time.sleep(0.5)
        for pid in [worker.pid, *_children(worker.pid)]:
            os.kill(pid, signal.SIGKILL)
        worker.wait(timeout=10)
    run.refresh_from_db()
    assert run.status == BillingRun.Status.RUNNING and run.chunks_done < total_chunks
    assert run.chunks.filter(status=BillingRunChunk.Status.DONE).count() == run.chunks_done
    # A new worker; the rerun re-enqueues what is not done (the killed chunk rolled back).
    with real_worker("celery"):
        rerun = services.start_run(PREVIOUS)
        assert rerun.pk == run.pk
        rerun = wait_for(run.pk)
        # And once more after completion: a new run with nothing to close.
        again = wait_for(services.start_run(PREVIOUS).pk)
    assert rerun.status == BillingRun.Status.COMPLETE and rerun.done == rerun.total and rerun.failed == 0
    assert again.total == 0 and again.run_number == 2
    statements = assert_statements_match_ledger(PREVIOUS)
    assert len(statements) == rerun.total


def test_a_killed_worker_main_process_never_stalls_the_run_the_sweeper_finishes_it(billing_settings, settings):
    """The whole worker dies (its main process SIGKILLed mid-chunk, then its orphaned pool child);
    nobody reruns anything. The beat sweeper (``billing.finalize_open_runs``, called here as beat
    would every minute) finds the run stalled, re-enqueues the chunks no worker holds, and a new
    worker finishes it: one statement per account, one interest row per account and period."""
    from django.db.models import Count

    from billing.tasks import finalize_open_runs

    settings.CARM = {**settings.CARM, "BILLING_CHUNK_STALE_SECONDS": 2}
    accounts = generate_accounts(30, seed=29)
    with real_worker("celery", concurrency=1, extra_env={"CARM_TEST_BILLING_CHUNK_DELAY": "1.5"}) as worker:
        assert wait_for(services.start_run(PREVIOUS).pk).status == BillingRun.Status.COMPLETE
        run = services.start_run(PERIOD)  # the period with overdue balances: interest is posted
        assert run.chunks_total == 5
        wait_for(run.pk, done=1)  # the first chunk is committed; the worker is inside the second
        time.sleep(0.5)
        children = _children(worker.pid)
        os.kill(worker.pid, signal.SIGKILL)  # the MAIN process: nothing acks, nothing restores its messages
        worker.wait(timeout=10)
        for pid in children:  # the orphaned pool child goes with its container
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    run.refresh_from_db()
    assert run.status == BillingRun.Status.RUNNING and run.chunks_done < run.chunks_total
    # A new worker (real_worker empties the broker db: the killed worker's unacked messages are gone).
    with real_worker("celery"):
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            run.refresh_from_db()
            if run.status != BillingRun.Status.RUNNING:
                break
            finalize_open_runs()  # what beat runs every minute (the stale window is 2 s here)
            time.sleep(2.5)
    run.refresh_from_db()
    assert run.status == BillingRun.Status.COMPLETE and run.done == run.total and run.failed == 0
    statements = assert_statements_match_ledger(PERIOD)
    per_account = Statement.objects.filter(period_end=PERIOD).values("program_account").annotate(n=Count("id"))
    assert len(statements) == run.total and {row["n"] for row in per_account} == {1}
    assert {s.program_account_id for s in statements} <= {a.pk for a in accounts}
    interest = (LedgerEntry.objects.filter(kind=LedgerEntry.Kind.INTEREST)
                .values("program_account", "billing_period").annotate(n=Count("id")))
    assert interest and {row["n"] for row in interest} == {1}
