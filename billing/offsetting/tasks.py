"""Offsetting tasks. ``apply_offsets_task`` (``billing.offsetting.apply_offsets``) is the one entry
point: the service that posts a credit (a payment, a statement close, a CAD correction, an appeal
decision) asks for it by name through ``carm_portal.outbox.request_offsets``, recorded in its
transaction and sent after the commit. There is no ledger signal.

``sweep_task`` runs daily (``schedule.py``) and fans out one ``apply_offsets_task`` per account
that has unused credit, never one giant task (it also catches bulk loads, which ask for nothing).
"""

from celery import shared_task


@shared_task(name="billing.offsetting.apply_offsets", acks_late=True)
def apply_offsets_task(program_account_id: int) -> int:
    """Apply available credits to debts of one RM account; returns the number of allocations."""
    from . import services

    return services.apply_offsets(program_account_id=program_account_id)


@shared_task(name="billing.offsetting.sweep", acks_late=True)
def sweep_task() -> int:
    """Queue ``apply_offsets_task`` for every account with unused credit; the number queued.

    Accounts of ``manual`` businesses are skipped; for ``auto_business`` one account per business
    is enough (a run covers every RM of the business).
    """
    from .sweep import accounts_to_offset

    queued = 0
    for program_account_id in accounts_to_offset():
        apply_offsets_task.delay(program_account_id)
        queued += 1
    return queued
