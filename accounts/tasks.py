"""Celery tasks of accounts: the deadline-centre email notices."""

from __future__ import annotations

from datetime import date

from celery import shared_task
from django.utils import timezone


@shared_task(name="accounts.send_deadline_notices", acks_late=True)
def send_deadline_notices(today: str | None = None) -> int:
    """Send every user's new notices for ``today`` (ISO date; default the local date). Rerun-safe:
    a notice already recorded in SentNotice is never sent again."""
    from .notifications import send_notices

    return send_notices(date.fromisoformat(today) if today else timezone.localdate())
