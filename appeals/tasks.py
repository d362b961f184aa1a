"""Celery tasks for appeals: thin, take ids, re-fetch, exit quietly if the row is gone."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="appeals.pdf.render_decision_letter", acks_late=True)
def render_decision_letter(appeal_id: int) -> str:
    """Render (once) the decision letter of a decided appeal; a rerun keeps the letter it has."""
    from django.db import transaction

    from . import pdf, storage
    from .models import Appeal

    if not Appeal.objects.filter(pk=appeal_id, status__in=["decision_rendered", "closed"]).exists():
        return ""
    with transaction.atomic():
        appeal = Appeal.objects.select_for_update(of=("self",)).select_related("program_account__business", "penalty").get(
            pk=appeal_id)
        if appeal.letter_file and storage.path_of(appeal.letter_file).exists():
            return appeal.letter_file
        stored = pdf.store_letter(appeal)
        appeal.letter_file = stored
        appeal.save(update_fields=["letter_file"])
    return stored


@shared_task(name="appeals.tasks.send_deadline_reminders", acks_late=True)
def send_deadline_reminders() -> int:
    """Daily: notices (in-portal and email) 30, 7 and 1 days before appeal deadlines."""
    from .reminders import send_reminders

    return send_reminders()
