"""Work that must follow a commit is recorded, not hoped for (architecture decision 13).

``enqueue("app.task.name", *args, key=...)`` writes an ``OutboxItem`` row in the caller's
transaction and, once that transaction commits, hands the task to Celery (best effort: a broker
that is down is logged, never raised, so the request that made the change still succeeds). The
item is done when the task has succeeded once (``task_success``, matched by the task id
``outbox-<pk>-<attempt>``). The sweeper (``carm_portal.tasks.sweep_outbox``, every minute on beat)
sends again what is still pending (the broker was down) and what was sent but never finished (a
lost message), until it is done or has failed ``OUTBOX_MAX_ATTEMPTS`` times. Every task sent this
way must be idempotent (decision 7): it may run more than once.

Tasks are named, not imported, so a lower layer can ask for a higher layer's work (decision 11).
``key``: open items (pending or sent) with the same key are one item, e.g. a PDF asked for by
every poll of a waiting client is rendered once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from .conf import carm

logger = logging.getLogger(__name__)

TASK_ID_PREFIX = "outbox-"
OFFSETS_TASK = "billing.offsetting.apply_offsets"
SEND_MAIL_TASK = "carm_portal.outbox.send_mail"
SWEEP_BATCH = 500
BROKER_TIMEOUT = 2.0
KEEP_DONE_DAYS = 7


def _model():
    from .models import OutboxItem

    return OutboxItem


def enqueue(task: str, *args, key: str = ""):
    """Record ``task(*args)`` in the current transaction; send it to Celery after the commit.

    Returns the item (the already open one when ``key`` matches an open item).
    """
    OutboxItem = _model()
    try:
        with transaction.atomic():
            item = OutboxItem.objects.create(task=task, args=list(args), key=key[:200])
    except IntegrityError:
        if not key:
            raise
        existing = OutboxItem.objects.filter(key=key[:200], status__in=_open_statuses()).first()
        if existing is not None:
            return existing
        item = OutboxItem.objects.create(task=task, args=list(args), key=key[:200])  # closed meanwhile
    pk = item.pk
    transaction.on_commit(lambda: dispatch(pk))
    return item


def request_offsets(program_account_ids: Iterable[int]) -> None:
    """A posting service that wrote a credit asks for offsetting of its account(s), once each.

    ``CARM["OFFSET_AFTER_NEW_CREDIT"] = False`` leaves it to the daily offsetting sweep.
    """
    if not carm("OFFSET_AFTER_NEW_CREDIT"):
        return
    for pk in dict.fromkeys(int(i) for i in program_account_ids):
        # No key: a run already sent may have started before this credit committed.
        enqueue(OFFSETS_TASK, pk)


def send_mail_later(subject: str, body: str, recipients: list[str], from_email: str | None = None):
    """An email that must follow the commit (sent by a worker, retried while the mail server fails)."""
    return enqueue(SEND_MAIL_TASK, subject, body, list(recipients), from_email)


def _open_statuses():
    OutboxItem = _model()
    return [OutboxItem.Status.PENDING, OutboxItem.Status.SENT]


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(60 * 2 ** max(attempts - 1, 0), 3600))


def _celery_task(name: str):
    from .celery import app

    if name not in app.tasks:
        # A web process has not imported every app's tasks.py (Celery discovers them lazily).
        app.loader.import_default_modules()
    return app.tasks.get(name)


def _publish(name: str, args: list, *, task_id: str) -> None:
    """Send one task, failing within about a second when the broker is unreachable (Celery's own
    publish would retry for several seconds while the user waits)."""
    from .celery import app

    task = _celery_task(name)
    if app.conf.task_always_eager:
        if task is None:
            raise LookupError(f"unknown task {name}")
        task.apply_async(args=args, task_id=task_id)
        return
    with app.pool.acquire(block=True, timeout=BROKER_TIMEOUT) as connection:
        connection.ensure_connection(max_retries=1, interval_start=0, interval_step=0.2, timeout=BROKER_TIMEOUT)
        if task is not None:
            task.apply_async(args=args, task_id=task_id, retry=False, connection=connection)
        else:
            app.send_task(name, args=args, task_id=task_id, retry=False, connection=connection)


def dispatch(pk: int) -> bool:
    """Hand a pending item to Celery; True when the broker took it. Never raises."""
    OutboxItem = _model()
    try:
        item = OutboxItem.objects.filter(pk=pk, status=OutboxItem.Status.PENDING).first()
        if item is None:
            return False
        attempt = item.attempts + 1
        claimed = OutboxItem.objects.filter(pk=pk, status=OutboxItem.Status.PENDING).update(
            status=OutboxItem.Status.SENT, attempts=F("attempts") + 1, sent_at=timezone.now(),
        )
        if not claimed:
            return False  # another sender took it
    except Exception:  # the database itself: the sweeper will find the row later
        logger.exception("Outbox item %s could not be claimed", pk)
        return False
    try:
        _publish(item.task, item.args, task_id=f"{TASK_ID_PREFIX}{pk}-{attempt}")
    except Exception as exc:  # the broker is down (or, eagerly, the task failed): try again later
        logger.warning("Outbox item %s (%s) not sent: %s", pk, item.task, exc)
        _record_failure(pk, exc)
        return False
    return True


def _record_failure(pk: int, exc: BaseException) -> None:
    OutboxItem = _model()
    try:
        item = OutboxItem.objects.filter(pk=pk).exclude(status=OutboxItem.Status.DONE).first()
        if item is None:
            return
        failed = item.attempts >= carm("OUTBOX_MAX_ATTEMPTS")
        OutboxItem.objects.filter(pk=pk).exclude(status=OutboxItem.Status.DONE).update(
            status=OutboxItem.Status.FAILED if failed else OutboxItem.Status.PENDING,
            last_error=f"{type(exc).__name__}: {exc}"[:2000],
            next_attempt_at=timezone.now() + _backoff(item.attempts),
        )
    except Exception:
        logger.exception("Outbox item %s: could not record the failure", pk)


def _item_id(task_id: str | None) -> int | None:
    if not task_id or not task_id.startswith(TASK_ID_PREFIX):
        return None
    try:
        return int(task_id[len(TASK_ID_PREFIX):].split("-", 1)[0])
    except ValueError:
        return None


def on_task_success(sender=None, **kwargs) -> None:
    """``task_success`` receiver: the item whose task this was is done."""
    pk = _item_id(getattr(getattr(sender, "request", None), "id", None))
    if pk is None:
        return
    OutboxItem = _model()
    OutboxItem.objects.filter(pk=pk).exclude(status=OutboxItem.Status.DONE).update(
        status=OutboxItem.Status.DONE, done_at=timezone.now(), last_error="",
    )


def on_task_failure(sender=None, task_id=None, exception=None, **kwargs) -> None:
    """``task_failure`` receiver: back to pending, sent again after a back-off."""
    pk = _item_id(task_id)
    if pk is not None:
        _record_failure(pk, exception or RuntimeError("task failed"))


def sweep(*, now=None) -> int:
    """Send again every due pending item and every sent item not done in time; the number sent."""
    OutboxItem = _model()
    now = now or timezone.now()
    lost_before = now - timedelta(seconds=carm("OUTBOX_RESEND_AFTER_SECONDS"))
    OutboxItem.objects.filter(status=OutboxItem.Status.SENT, sent_at__lt=lost_before).update(
        status=OutboxItem.Status.PENDING, last_error="sent but not done in time: sent again",
    )
    due = list(
        OutboxItem.objects.filter(status=OutboxItem.Status.PENDING, next_attempt_at__lte=now)
        .order_by("next_attempt_at", "pk").values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    sent = sum(1 for pk in due if dispatch(pk))
    _forget_old(now)
    return sent


def _forget_old(now) -> None:
    """Done items and finished job states are kept a week (for the admin), then deleted."""
    from .models import JobProgress

    OutboxItem = _model()
    week_ago = now - timedelta(days=KEEP_DONE_DAYS)
    OutboxItem.objects.filter(status=OutboxItem.Status.DONE, done_at__lt=week_ago).delete()
    JobProgress.objects.filter(updated_at__lt=week_ago).delete()


def pending_count() -> int:
    OutboxItem = _model()
    return OutboxItem.objects.filter(status__in=_open_statuses()).count()
