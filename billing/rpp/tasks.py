"""Celery tasks for RPP security: thin wrappers that call one service each (ids in, counts out)."""

from __future__ import annotations

from celery import shared_task

from accounts.models import ProgramAccount, User


@shared_task(name="billing.rpp.annual_review")
def annual_review_task() -> int:
    """Daily: the annual review runs on the configured review day (20 October) only."""
    from .services import annual_review_if_due

    return annual_review_if_due()


@shared_task(name="billing.rpp.monthly_recompute")
def monthly_recompute_task() -> int:
    from .services import monthly_recompute

    return monthly_recompute()


@shared_task(name="billing.rpp.daily")
def daily_task() -> dict:
    from .services import daily

    return daily()


@shared_task(name="billing.rpp.recompute_requirement")
def recompute_requirement_task(program_account_id: int, actor_id: int | None = None) -> int | None:
    """On demand; quietly does nothing if the account is gone."""
    from .services import requirement_recompute

    program_account = ProgramAccount.objects.select_related("business").filter(pk=program_account_id).first()
    if program_account is None:
        return None
    actor = User.objects.filter(pk=actor_id).first() if actor_id else None
    return requirement_recompute(actor=actor, program_account=program_account).pk
