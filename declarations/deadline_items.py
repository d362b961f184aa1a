"""Deadline-centre rows for CADs: open CADs to account by their due date, and late CADs.

Due dates come from the stored ``CAD.due_date`` (set from ``declarations.deadlines.cad_due_date``,
i.e. ``carm_portal.calendar``). Gate: Scope.DECLARATIONS. One query.
"""

from __future__ import annotations

from datetime import date

from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.deadlines import Row, gated, register
from accounts.roles import Scope

from .models import CAD
from .selectors import late_q

DUE, LATE = "cad_due", "cad_late"


def _row(cad: CAD, kind: str, today: date) -> Row:
    if kind == LATE:
        title = _("CAD %(number)s is late") % {"number": cad.transaction_number}
    else:
        title = _("Account for CAD %(number)s") % {"number": cad.transaction_number}
    return Row(
        kind=kind, date=cad.due_date, title=title, url=reverse("cad_detail", args=[cad.pk]),
        program_account_id=cad.program_account_id, account_number=cad.program_account.number,
        business_name=cad.program_account.business.display_name, ref=f"cad-{cad.pk}", late=kind == LATE,
    )


def cad_rows(user, account_ids, start: date, end: date, today: date, *, kind: str) -> list[Row]:
    accounts = gated(user, Scope.DECLARATIONS, account_ids).values("id")
    qs = CAD.objects.filter(program_account__in=accounts).select_related("program_account__business")
    if kind == LATE:
        qs = qs.filter(late_q(today))
    else:
        qs = qs.filter(status__in=CAD.OPEN_STATUSES, due_date__gte=max(start, today), due_date__lte=end)
    return [_row(cad, kind, today) for cad in qs.order_by("due_date", "pk")]


def register_deadlines() -> None:
    register(DUE, lambda *a: cad_rows(*a, kind=DUE), label=gettext_lazy("CAD to account"), order=20)
    register(LATE, lambda *a: cad_rows(*a, kind=LATE), label=gettext_lazy("Late CAD"), order=10)
