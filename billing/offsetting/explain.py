"""What each credit paid, for the statement reconciler (``billing.reconcile.register_credit_explainer``).

Billing sits below offsetting and cannot read ``Allocation``; this answers it from here, set in
``OffsettingConfig.ready``.
"""

from __future__ import annotations

from collections import defaultdict

from billing.reconcile import DebtPaid
from carm_portal.money import quantize

from .models import Allocation


def debts_paid(credit_ids: list[int], visible_account_ids) -> dict[int, list[DebtPaid]]:
    """{credit entry id: the debts it paid, oldest first}; one query whatever the number of credits.

    A debt on an RM account outside ``visible_account_ids`` (an offset across RMs under
    ``auto_business``) keeps its amount and date but not its reference or description, as
    ``selectors.allocations_visible`` never shows the other side to such a reader.
    """
    out: dict[int, list[DebtPaid]] = defaultdict(list)
    visible = set(visible_account_ids.values_list("id", flat=True)) if hasattr(
        visible_account_ids, "values_list") else set(visible_account_ids)
    rows = (Allocation.objects.filter(credit_id__in=credit_ids)
            .order_by("applied_on", "id")
            .values_list("credit_id", "amount", "applied_on", "debt_id", "debt__program_account_id",
                         "debt__reference", "debt__description", "debt__kind"))
    for credit_id, amount, applied_on, debt_id, account_id, reference, description, kind in rows:
        if account_id in visible:
            out[credit_id].append(DebtPaid(debt_id, reference, description, kind, quantize(amount), applied_on))
        else:
            out[credit_id].append(DebtPaid(None, "", "", "", quantize(amount), applied_on))
    return out
