"""Background work for CADs: a big CSV upload imported by a worker (sent through the outbox), its
progress in the database (``carm_portal.models.JobProgress``, durable: the page works with Redis
down) and, live while the import runs, in the cache when it is up."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from django.core.cache import cache
from django.utils.translation import gettext as _

logger = logging.getLogger(__name__)

PROGRESS_TTL = 24 * 3600
MAX_LINKED_CADS = 100


def progress_key(upload_id: str) -> str:
    return f"declarations:csv-upload:{upload_id}"


def read_progress(upload_id: str) -> dict[str, Any] | None:
    from carm_portal.models import JobProgress

    key = progress_key(upload_id)
    try:
        state = cache.get(key)
    except Exception:  # the cache (Redis) is down: the database has it
        state = None
    if state is None:
        state = JobProgress.objects.filter(key=key).values_list("state", flat=True).first()
    return state


def write_progress(upload_id: str, **values: Any) -> dict[str, Any]:
    from carm_portal.models import JobProgress

    key = progress_key(upload_id)
    state = {**(read_progress(upload_id) or {}), **values}
    try:
        cache.set(key, state, PROGRESS_TTL)
    except Exception as exc:
        logger.warning("CSV upload %s: progress not cached (%s)", upload_id, exc)
    JobProgress.objects.update_or_create(key=key, defaults={"state": state})
    return state


def record_upload(upload_id: str, **fields: Any) -> None:
    """Keep the upload history row (``CsvUpload``) in step with the progress."""
    from .models import CsvUpload

    CsvUpload.objects.filter(upload_id=upload_id).update(**fields)


def run_import(upload_id: str, *, actor, program_account, text: str) -> dict[str, Any]:
    """Import ``text`` and leave the outcome (errors or the CADs) under the upload's key."""
    from decimal import Decimal

    from django.utils import timezone

    from carm_portal.money import quantize

    from .csv_import import import_cads_csv

    write_progress(upload_id, state="checking")
    record_upload(upload_id, status="checking")

    def progress(done: int, total: int) -> None:
        write_progress(upload_id, state="importing", done=done, total=total)

    result = import_cads_csv(actor=actor, file=text, program_account=program_account, progress=progress)
    if result.errors:
        record_upload(upload_id, status="failed", error_count=len(result.errors), line_count=result.line_count,
                      finished_at=timezone.now())
        return write_progress(upload_id, state="failed", errors=[(e.row, e.column, e.message) for e in result.errors],
                              line_count=result.line_count)
    record_upload(
        upload_id, status="done", line_count=result.line_count, cad_count=len(result.cads), error_count=0,
        results=result.mapping, finished_at=timezone.now(),
        vfd_total=quantize(sum((Decimal(r["vfd"]) for r in result.mapping), Decimal(0))),
        dt_total=quantize(sum((Decimal(r["dt"]) for r in result.mapping), Decimal(0))),
    )
    return write_progress(
        upload_id, state="done", done=result.line_count, total=result.line_count, line_count=result.line_count,
        cad_count=len(result.cads),
        cads=[(cad.pk, cad.transaction_number) for cad in result.cads[:MAX_LINKED_CADS]],
    )


@shared_task(name="declarations.import_cads_csv")
def import_cads_csv_task(upload_id: str, user_id: int, program_account_id: int, text: str) -> str:
    from accounts.models import ProgramAccount, User

    actor = User.objects.filter(pk=user_id, is_active=True).first()
    account = ProgramAccount.objects.filter(pk=program_account_id).select_related("business").first()
    if actor is None or account is None:
        write_progress(upload_id, state="failed", errors=[(1, "", _("The user or the RM account is gone."))])
        record_upload(upload_id, status="failed", error_count=1)
        return "gone"
    try:
        return run_import(upload_id, actor=actor, program_account=account, text=text)["state"]
    except Exception:
        record_upload(upload_id, status="failed", error_count=1)
        write_progress(upload_id, state="failed", errors=[(1, "", _("The import failed unexpectedly; nothing was "
                                                                   "imported. Try again or contact support."))])
        raise
