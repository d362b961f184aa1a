"""Deadline-centre rows for appeals: filing, extension, further submissions and CITT deadlines,
as ``appeals.deadlines.deadlines_for`` computes them (carm-rules §6). Gate: Scope.APPEALS. One query.
"""

from __future__ import annotations

from datetime import date, timedelta

from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.deadlines import Row, gated, register
from accounts.notifications import LOOKBACK_DAYS, Notice, register_source
from accounts.roles import Scope

from .deadlines import APPEAL_DAYS, CITT_DAYS, deadlines_for
from .models import Appeal

APPEAL, EXTENSION = "appeal", "appeal_extension"


def appeal_rows(user, account_ids, start: date, end: date, today: date, *, kind: str) -> list[Row]:
    accounts = gated(user, Scope.APPEALS, account_ids).values("id")
    # Only appeals that can still have a deadline on or after ``start``: the extension's last day
    # is at most 90 days + 1 year (+ a roll) after the decision; the CITT's 90 days after a decision.
    recent = Q(decision_date__gte=start - timedelta(days=APPEAL_DAYS + 366 + 7)) | Q(
        decided_on__gte=start - timedelta(days=CITT_DAYS + 7))
    qs = (Appeal.objects.filter(program_account__in=accounts).exclude(status=Appeal.Status.WITHDRAWN)
          .filter(recent).select_related("program_account__business").order_by("pk"))
    rows = []
    for appeal in qs:
        for d in deadlines_for(appeal, today):
            if (d.key == "extension") != (kind == EXTENSION) or not start <= d.date <= end:
                continue
            rows.append(Row(
                kind=kind, date=d.date, url=reverse("appeals:detail", args=[appeal.pk]),
                title=_("%(deadline)s: appeal %(number)s") % {"deadline": d.label, "number": appeal.pk},
                program_account_id=appeal.program_account_id, account_number=appeal.program_account.number,
                business_name=appeal.program_account.business.display_name, ref=f"appeal-{appeal.pk}-{d.key}",
            ))
    return rows


def register_deadlines() -> None:
    register(APPEAL, lambda *a: appeal_rows(*a, kind=APPEAL), label=gettext_lazy("Appeal deadline"), order=50)
    register(EXTENSION, lambda *a: appeal_rows(*a, kind=EXTENSION),
             label=gettext_lazy("Appeal extension deadline"), order=60)
    register_source("appeal_decided", appeals_decided)


def appeals_decided(user, account_ids, today: date) -> list[Notice]:
    """Notice "appeal decided": decisions of the last days on accounts the user may see appeals of."""
    accounts = gated(user, Scope.APPEALS, account_ids).values("id")
    qs = (Appeal.objects.filter(program_account__in=accounts, decided_on__lte=today,
                                decided_on__gte=today - timedelta(days=LOOKBACK_DAYS))
          .exclude(outcome="").select_related("program_account").order_by("decided_on", "pk"))
    return [Notice("appeal_decided", f"appeal-{a.pk}", a.decided_on,
                   _("Appeal %(number)s decided: %(outcome)s") % {"number": a.pk, "outcome": a.get_outcome_display()},
                   reverse("appeals:detail", args=[a.pk]), a.program_account.number) for a in qs]
