"""Readiness item and dashboard panel: open appeals and their deadlines (informational).

One query for all the accounts, however many; deadlines are computed from the rows fetched.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts.access import program_accounts_for
from accounts.readiness import Item
from accounts.roles import Scope

from . import deadlines
from .models import Appeal
from .selectors import open_appeals_in


def _by_account(account_ids, today: date) -> dict[int, list[tuple[Appeal, deadlines.Deadline | None]]]:
    out: dict[int, list] = defaultdict(list)
    for appeal in open_appeals_in(account_ids).select_related("penalty"):
        out[appeal.program_account_id].append((appeal, deadlines.next_deadline(appeal, today)))
    return out


def open_appeals_item(accounts, today: date) -> dict[int, Item]:
    rows = _by_account([pa.pk for pa in accounts], today)
    out = {}
    for pa in accounts:
        found = rows.get(pa.pk, [])
        upcoming = sorted((d for _a, d in found if d is not None and d.days_left >= 0), key=lambda d: d.date)
        if not found:
            detail = _("No open appeals.")
        elif upcoming:
            first = upcoming[0]
            detail = ngettext(
                "%(n)d open appeal; next deadline: %(label)s on %(date)s (%(left)s).",
                "%(n)d open appeals; next deadline: %(label)s on %(date)s (%(left)s).", len(found),
            ) % {"n": len(found), "label": first.label, "date": first.date.isoformat(), "left": first.text}
        else:
            detail = ngettext("%(n)d open appeal.", "%(n)d open appeals.", len(found)) % {"n": len(found)}
        out[pa.pk] = Item(
            "appeals", _("Open appeals and their deadlines"), ok=not upcoming or upcoming[0].days_left > 7,
            detail=detail, next_step=_("Review your appeals") if found else "",
            next_url=reverse("appeals:list") if found else "", counts=False,
        )
    return out


def dashboard_context(request, business, accounts):
    today = timezone.localdate()
    allowed = program_accounts_for(request.user, Scope.APPEALS).filter(business=business)
    appeals = list(open_appeals_in(allowed.values_list("pk", flat=True)).select_related("program_account", "penalty")
                   .order_by("-created_at")[:20])
    if not appeals:
        return None
    rows = [{"appeal": a, "deadline": deadlines.next_deadline(a, today)} for a in appeals]
    rows.sort(key=lambda r: (r["deadline"] is None, r["deadline"].date if r["deadline"] else today))
    return {"rows": rows[:5], "count": len(appeals)}
