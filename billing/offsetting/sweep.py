"""Which accounts the daily sweep runs offsetting for (kept apart from the task for testing)."""

from __future__ import annotations

from collections.abc import Iterator

from accounts.models import Business

from . import selectors


def accounts_to_offset(*, chunk_size: int = 2000) -> Iterator[int]:
    """Ids of RM accounts with unused credit whose business offsets automatically.

    One id per business under ``auto_business``. Streams in chunks: never the whole table in memory.
    """
    rows = (
        selectors.credits()
        .filter(remaining__gt=selectors.HALF_CENT)
        .exclude(program_account__business__offsetting_preference=Business.OffsettingPreference.MANUAL)
        .order_by("program_account_id")
        .values_list("program_account_id", "program_account__business_id",
                     "program_account__business__offsetting_preference")
        .distinct()
    )
    seen_businesses: set[int] = set()
    for account_id, business_id, preference in rows.iterator(chunk_size=chunk_size):
        if preference == Business.OffsettingPreference.AUTO_BUSINESS:
            if business_id in seen_businesses:
                continue
            seen_businesses.add(business_id)
        yield account_id
