"""Celery tasks of the broker command centre."""

from __future__ import annotations

from datetime import date

from celery import shared_task


@shared_task(name="brokers.send_client_reminders", acks_late=True)
def send_client_reminders(sender_id: int, business_ids: list[int], today: str) -> int:
    """Email each client's BAMs a reminder, once per client and day (rerun-safe: SentNotice)."""
    from .reminders import send_reminders

    return send_reminders(sender_id, business_ids, date.fromisoformat(today))
