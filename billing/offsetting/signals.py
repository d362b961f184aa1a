"""A new credit in the ledger queues offsetting for its account (after the commit).

Payments, CAD corrections in the importer's favour and appeal decisions all post negative
ledger entries through ``billing.ledger.post_entry``; this catches each of them without their
apps having to know about offsetting. (Bulk loads with ``post_entries_bulk`` send no signal;
the daily sweep picks those up.) ``CARM["OFFSET_AFTER_NEW_CREDIT"] = False`` turns it off.
"""

from __future__ import annotations

from billing.models import LedgerEntry
from carm_portal.conf import carm

from .selectors import NEVER_OFFSET_KINDS


def on_ledger_entry_saved(sender, instance: LedgerEntry, created: bool, **kwargs) -> None:
    if not created or kwargs.get("raw"):
        return
    if instance.amount is None or instance.amount >= 0 or instance.kind in NEVER_OFFSET_KINDS:
        return
    if not carm("OFFSET_AFTER_NEW_CREDIT"):
        return
    from .services import enqueue_apply_offsets

    enqueue_apply_offsets([instance.program_account_id])
