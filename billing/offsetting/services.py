"""Offsetting: credits applied to debts by allocation rows (filled in by the offsetting work)."""


def apply_offsets(*, program_account_id: int, today=None) -> int:
    return 0
