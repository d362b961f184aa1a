"""Billing Celery tasks: thin wrappers around ``billing.services`` / ``billing.notices``.

All are idempotent (unique constraints, ON CONFLICT DO NOTHING, chunk claims with
``select_for_update(skip_locked=True)``), so ``acks_late`` + reject-on-worker-lost (global
settings) redeliver safely. Chunks are enqueued via ``transaction.on_commit``; no chord.
"""

from __future__ import annotations

from datetime import date

from celery import shared_task
from django.utils import timezone

from carm_portal import calendar

from . import notices, services

CHUNK_LIMITS = {"soft_time_limit": 600, "time_limit": 660}


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


@shared_task(name="billing.run_billing_cycle", acks_late=True, **CHUNK_LIMITS)
def run_billing_cycle(period_end: str | None = None, started_by_id: int | None = None) -> int:
    """Start (or resume) the cycle for a period; default: the period whose statement day is today."""
    from accounts.models import User

    if period_end is None:
        today = timezone.localdate()
        period = today.replace(day=calendar.period_end_day())
    else:
        period = _as_date(period_end)
    actor = User.objects.filter(pk=started_by_id).first() if started_by_id else None
    return services.start_run(period, actor=actor).pk


@shared_task(name="billing.close_statements_chunk", acks_late=True, **CHUNK_LIMITS)
def close_statements_chunk(run_id: int, chunk_number: int) -> str:
    """Close one chunk's statements (interest, statements, hashes) in one transaction."""
    return services.close_chunk(run_id, chunk_number)  # the last chunk enqueues the finalizer


@shared_task(name="billing.finalize_billing_run", acks_late=True, soft_time_limit=60, time_limit=90)
def finalize_billing_run(run_id: int) -> str:
    return services.finalize_run(run_id)


@shared_task(name="billing.finalize_open_runs", acks_late=True, soft_time_limit=120, time_limit=150)
def finalize_open_runs() -> int:
    """Beat sweeper (every minute): finalize runs whose finalizer was lost; re-enqueue the chunks of a
    stalled run that no worker holds (a killed worker); see ``services.finalize_open_runs``."""
    return services.finalize_open_runs()


@shared_task(name="billing.retry_failed", acks_late=True, soft_time_limit=60, time_limit=90)
def retry_failed(run_id: int) -> int:
    return services.retry_failed(run_id)


@shared_task(name="billing.build_daily_notices", acks_late=True, **CHUNK_LIMITS)
def build_daily_notices(day: str | None = None) -> int:
    """One notice per account with activity on ``day`` (default: yesterday)."""
    target = _as_date(day) if day else timezone.localdate() - timezone.timedelta(days=1)
    return notices.build_daily_notices(target)
