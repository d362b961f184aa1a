"""Billing write paths: starting a billing run, closing its chunks, retrying, finalizing.

Tasks (``billing.tasks``) are thin wrappers around these. The rules of a run:

* ``start_run(period_end)`` reuses the period's latest run while it is pending/running/failed
  (a rerun re-enqueues what is not done) and starts a new run number once it is complete; the
  accounts are those with ledger history up to the period that have no statement for it yet,
  split into ``BillingRunChunk`` rows (``carm("BILLING_CHUNK_SIZE")`` accounts each);
* ``close_chunk(run_id, number)`` claims the chunk with ``select_for_update(skip_locked=True)``
  and, in the SAME transaction, posts interest, inserts the statements (set-based SQL,
  ``billing.cycle``), marks the chunk done and bumps the run's counters with ``F()``. A killed
  worker rolls all of it back; a redelivered or re-enqueued chunk does it again exactly once;
* ``finalize_run`` marks the run complete (or failed, listing failures) once every chunk is
  done or failed; ``retry_failed`` puts failed chunks back to pending and re-enqueues them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date

from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import audit
from accounts.models import ProgramAccount, User
from billing.ledger.models import LedgerEntry
from carm_portal import calendar, outbox
from carm_portal.conf import carm
from carm_portal.exceptions import ApplicationError

from . import cycle
from .models import BillingRun, BillingRunChunk, Statement

logger = logging.getLogger(__name__)

OPEN_STATUSES = (BillingRun.Status.PENDING, BillingRun.Status.RUNNING, BillingRun.Status.FAILED)

Enqueue = Callable[[int, int], None]


def chunk_size() -> int:
    return carm("BILLING_CHUNK_SIZE")


def accounts_to_close(period_end: date) -> list[int]:
    """Accounts with ledger history up to the period and no statement for it yet (one query)."""
    history = LedgerEntry.objects.filter(program_account=OuterRef("pk"), billing_period__lte=period_end)
    closed = Statement.objects.filter(program_account=OuterRef("pk"), period_end=period_end)
    return list(
        ProgramAccount.objects.filter(Exists(history)).exclude(Exists(closed)).order_by("pk")
        .values_list("pk", flat=True)
    )


def _check_period(period_end: date, *, today: date | None = None, force: bool = False) -> None:
    if not calendar.is_period_end(period_end):
        raise ApplicationError(_("A billing period ends on the 17th."), field_errors={"period_end": [
            _("A billing period ends on the 17th.")]})
    today = today or timezone.localdate()
    if not force and calendar.statement_date(period_end) > today:
        raise ApplicationError(
            _("The statement for the period ending %(period)s is issued on %(day)s; it cannot be closed before.")
            % {"period": period_end.isoformat(), "day": calendar.statement_date(period_end).isoformat()},
            field_errors={"period_end": [_("Too early to close this period.")]},
        )


def _default_enqueue(run_id: int, number: int) -> None:
    from .tasks import close_statements_chunk

    close_statements_chunk.delay(run_id, number)


def start_run(period_end: date, *, actor: User | None = None, force: bool = False,
              enqueue: Enqueue | None = None) -> BillingRun:
    """Create (or reuse) the period's run, split its accounts into chunks, enqueue them on commit."""
    _check_period(period_end, force=force)
    enqueue = enqueue or _default_enqueue
    size = chunk_size()
    with transaction.atomic():
        latest = (
            BillingRun.objects.select_for_update().filter(period_end=period_end).order_by("-run_number", "pk").first()
        )
        if latest is not None and latest.status in OPEN_STATUSES:
            run = latest
            created = False
        else:
            run = BillingRun.objects.create(
                period_end=period_end, run_number=(latest.run_number + 1) if latest else 1,
                started_by=actor if actor is not None and actor.is_authenticated else None,
            )
            created = True
        if created:
            ids = accounts_to_close(period_end)
            chunks = [
                BillingRunChunk(run=run, number=n, account_ids=ids[i:i + size])
                for n, i in enumerate(range(0, len(ids), size), start=1)
            ]
            BillingRunChunk.objects.bulk_create(chunks, batch_size=500)
            run.total = len(ids)
            run.chunks_total = len(chunks)
        else:
            # A rerun: failed chunks go back to pending; pending ones (a killed worker) are enqueued again.
            _reset_failed(run)
        run.status = BillingRun.Status.RUNNING
        run.started_at = run.started_at or timezone.now()
        run.finished_at = None
        run.save()
        todo = list(run.chunks.exclude(status=BillingRunChunk.Status.DONE).values_list("number", flat=True))
        audit.record("billing.run.started", actor=actor, target=run,
                     changes={"period_end": period_end.isoformat(), "accounts": run.total, "chunks": len(todo),
                              "rerun": not created})
        run_id = run.pk

        def _enqueue_all() -> None:
            for number in todo:
                enqueue(run_id, number)
            _enqueue_finalize(run_id)

        transaction.on_commit(lambda: _best_effort(_enqueue_all, run_id))
    return run


def _reset_failed(run: BillingRun) -> int:
    failed = list(run.chunks.select_for_update().filter(status=BillingRunChunk.Status.FAILED).order_by("pk"))
    if not failed:
        return 0
    accounts = sum(len(c.account_ids) for c in failed)
    BillingRunChunk.objects.filter(pk__in=[c.pk for c in failed]).update(
        status=BillingRunChunk.Status.PENDING, error="", finished_at=None
    )
    numbers = {c.number for c in failed}
    run.failed = F("failed") - accounts
    run.failures = [f for f in run.failures if f.get("chunk") not in numbers]
    run.save(update_fields=["failed", "failures"])
    run.refresh_from_db()
    return len(failed)


def retry_failed(run_id: int, *, actor: User | None = None, enqueue: Enqueue | None = None) -> int:
    """Put the run's failed chunks back to pending and enqueue them (and stale pending ones) alone."""
    enqueue = enqueue or _default_enqueue
    with transaction.atomic():
        run = BillingRun.objects.select_for_update().get(pk=run_id)
        if run.status == BillingRun.Status.COMPLETE:
            return 0
        _reset_failed(run)
        run.status = BillingRun.Status.RUNNING
        run.finished_at = None
        run.save(update_fields=["status", "finished_at"])
        todo = list(run.chunks.exclude(status=BillingRunChunk.Status.DONE).values_list("number", flat=True))
        audit.record("billing.run.retried", actor=actor, target=run, changes={"chunks": todo})

        def _enqueue_all() -> None:
            for number in todo:
                enqueue(run_id, number)
            _enqueue_finalize(run_id)

        transaction.on_commit(lambda: _best_effort(_enqueue_all, run_id))
    return len(todo)


def _enqueue_finalize(run_id: int) -> None:
    from .tasks import finalize_billing_run

    finalize_billing_run.delay(run_id)


def _best_effort(send: Callable[[], None], run_id: int) -> None:
    """Enqueue after the commit without failing the caller: with the broker down the chunks stay
    pending in the database and the beat sweeper (``finalize_open_runs``) enqueues them again."""
    try:
        send()
    except Exception as exc:
        logger.warning("Billing run %s: chunks not enqueued now (%s); the sweeper will", run_id, exc)


def close_chunk(run_id: int, number: int) -> str:
    """Close one chunk exactly once. Returns "done", "skipped" (done or claimed elsewhere) or "failed"."""
    try:
        with transaction.atomic():
            # Lock the chunk row only (no join: FOR UPDATE would lock the run row too, and
            # skip_locked would then skip chunks while another chunk updates the run's counters).
            # order_by("pk"): the model's default ordering ("run" → BillingRun's ordering) would join
            # the run table into the FOR UPDATE as well.
            chunk = BillingRunChunk.objects.select_for_update(skip_locked=True).filter(
                run_id=run_id, number=number
            ).order_by("pk").first()
            if chunk is None or chunk.status in (BillingRunChunk.Status.DONE, BillingRunChunk.Status.FAILED):
                return "skipped"
            period_end = BillingRun.objects.values_list("period_end", flat=True).get(pk=run_id)
            ids = [int(i) for i in chunk.account_ids]
            _slow_down_for_tests()
            closed = cycle.close_chunk(ids, period_end, run_id)
            BillingRunChunk.objects.filter(pk=chunk.pk).update(
                status=BillingRunChunk.Status.DONE, attempts=F("attempts") + 1, finished_at=timezone.now(), error="",
            )
            BillingRun.objects.filter(pk=run_id).update(done=F("done") + len(ids), chunks_done=F("chunks_done") + 1)
            _finalize_if_last(run_id)
            if closed.credit_account_ids:
                outbox.request_offsets(closed.credit_account_ids)
        return "done"
    except Exception as exc:  # the SQL failed: record it, so the run can finish and the chunk be retried
        logger.exception("Billing run %s chunk %s failed", run_id, number)
        _mark_failed(run_id, number, exc)
        return "failed"


def _mark_failed(run_id: int, number: int, exc: Exception) -> None:
    with transaction.atomic():
        chunk = BillingRunChunk.objects.select_for_update().filter(run_id=run_id, number=number).order_by("pk").first()
        if chunk is None or chunk.status in (BillingRunChunk.Status.DONE, BillingRunChunk.Status.FAILED):
            return
        message = f"{type(exc).__name__}: {exc}"[:2000]
        BillingRunChunk.objects.filter(pk=chunk.pk).update(
            status=BillingRunChunk.Status.FAILED, attempts=F("attempts") + 1, error=message,
            finished_at=timezone.now(),
        )
        run = BillingRun.objects.select_for_update().get(pk=run_id)
        run.failed = F("failed") + len(chunk.account_ids)
        run.failures = [*run.failures, {"chunk": number, "accounts": chunk.account_ids, "error": message[:500]}]
        run.save(update_fields=["failed", "failures"])
        _finalize_if_last(run_id)


def _finalize_if_last(run_id: int) -> None:
    """Inside the chunk's transaction (the run row is locked by our counter update): when every
    account is accounted for, enqueue the finalizer on commit. The periodic finalizer is the net."""
    done, failed, total = BillingRun.objects.values_list("done", "failed", "total").get(pk=run_id)
    if done + failed >= total:
        transaction.on_commit(lambda: _best_effort(lambda: _enqueue_finalize(run_id), run_id))


def _slow_down_for_tests() -> None:
    """Only the killed-worker test sets this env var, to have time to kill a worker mid-chunk."""
    import os
    import time

    delay = float(os.environ.get("CARM_TEST_BILLING_CHUNK_DELAY", "0") or 0)
    if delay:
        time.sleep(delay)


def finalize_run(run_id: int) -> str:
    """Mark the run complete (or failed, with its failures) once no chunk is pending or running."""
    with transaction.atomic():
        run = BillingRun.objects.select_for_update().filter(pk=run_id).order_by("pk").first()
        if run is None or run.status not in (BillingRun.Status.RUNNING, BillingRun.Status.PENDING):
            return run.status if run else "missing"
        open_chunks = run.chunks.filter(
            Q(status=BillingRunChunk.Status.PENDING) | Q(status=BillingRunChunk.Status.RUNNING)
        ).exists()
        if open_chunks or run.done + run.failed < run.total:
            return run.status
        run.status = BillingRun.Status.FAILED if run.failed else BillingRun.Status.COMPLETE
        run.finished_at = timezone.now()
        run.save(update_fields=["status", "finished_at"])
        audit.record("billing.run.finished", actor=None, target=run,
                     changes={"status": run.status, "done": run.done, "failed": run.failed})
        return run.status


def stale_chunks(run_id: int) -> list[int]:
    """The run's pending chunks that no worker holds now (a worker closing a chunk holds its row
    lock for the whole chunk; a killed worker's connection drops and its lock with it)."""
    with transaction.atomic():
        return list(
            BillingRunChunk.objects.select_for_update(skip_locked=True)
            .filter(run_id=run_id, status=BillingRunChunk.Status.PENDING).order_by("pk")
            .values_list("number", flat=True)
        )


def finalize_open_runs(*, enqueue: Enqueue | None = None, now=None) -> int:
    """The beat sweeper (every minute): finalize every running run (cheap when there is none), and
    re-enqueue the pending chunks no worker holds of a run with no progress for
    ``BILLING_CHUNK_STALE_SECONDS`` (a worker was killed, its messages unacked or lost: Redis would
    redeliver them only after the visibility timeout). A duplicate delivery is harmless: the chunk
    claim skips a locked or done chunk. Returns the number of runs finished."""
    from datetime import timedelta

    from django.db.models import Max

    enqueue = enqueue or _default_enqueue
    finished = 0
    stale_before = (now or timezone.now()) - timedelta(seconds=carm("BILLING_CHUNK_STALE_SECONDS"))
    for run in BillingRun.objects.filter(status=BillingRun.Status.RUNNING).annotate(
        last_done=Max("chunks__finished_at")
    ):
        if finalize_run(run.pk) in (BillingRun.Status.COMPLETE, BillingRun.Status.FAILED):
            finished += 1
            continue
        last = max(filter(None, [run.last_done, run.started_at]), default=None)
        if last is not None and last < stale_before:
            numbers = stale_chunks(run.pk)
            if numbers:
                logger.warning("Billing run %s: no progress since %s; re-enqueueing chunks %s", run.pk, last, numbers)
            for number in numbers:
                enqueue(run.pk, number)
            if numbers:
                _enqueue_finalize(run.pk)
    return finished


def run_in_process(period_end: date, *, actor: User | None = None, force: bool = False,
                   progress: Callable[[BillingRun], None] | None = None) -> BillingRun:
    """The whole cycle in this process (no broker): the same chunks, closed one after the other."""
    run = start_run(period_end, actor=actor, force=force, enqueue=lambda r, n: None)
    numbers = list(run.chunks.exclude(status=BillingRunChunk.Status.DONE).values_list("number", flat=True))
    for number in numbers:
        close_chunk(run.pk, number)
        if progress:
            progress(BillingRun.objects.get(pk=run.pk))
    finalize_run(run.pk)
    run.refresh_from_db()
    return run
