"""Offsetting tasks. ``apply_offsets_task`` is the one entry point other apps enqueue
(after a payment, a statement close, any new credit), always via ``transaction.on_commit``.
"""

from celery import shared_task


@shared_task(name="billing.offsetting.apply_offsets", acks_late=True)
def apply_offsets_task(program_account_id: int) -> int:
    """Apply available credits to debts of one RM account; returns the number of allocations."""
    from . import services

    return services.apply_offsets(program_account_id=program_account_id)
