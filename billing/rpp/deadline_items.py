"""Deadline-centre rows for RPP security: bond expiry, the date a security shortfall must be
covered by, and the annual review day (``services.next_annual_review``). Gate: Scope.SECURITY.
A constant number of queries whatever the number of accounts.
"""

from __future__ import annotations

from datetime import date

from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.deadlines import Row, gated, register
from accounts.models import ProgramAccount
from accounts.roles import Scope

from .models import BondAllocation
from .selectors import positions_for
from .services import next_annual_review

BOND, SHORTFALL, REVIEW = "bond_expiry", "rpp_shortfall", "rpp_review"


def _common(pa: ProgramAccount) -> dict:
    return {"program_account_id": pa.pk, "account_number": pa.number, "business_name": pa.business.display_name,
            "url": reverse("rpp:account", args=[pa.pk])}


def bond_rows(user, account_ids, start: date, end: date, today: date) -> list[Row]:
    accounts = gated(user, Scope.SECURITY, account_ids).values("id")
    qs = (BondAllocation.objects.filter(program_account__in=accounts, bond__expiry_date__gte=start,
                                        bond__expiry_date__lte=end)
          .select_related("bond", "program_account__business").order_by("bond__expiry_date", "pk"))
    return [Row(kind=BOND, date=a.bond.expiry_date, amount=a.amount,
                title=_("Bond %(number)s expires") % {"number": a.bond.bond_number},
                ref=f"bond-{a.bond_id}-{a.program_account_id}", **_common(a.program_account)) for a in qs]


def shortfall_rows(user, account_ids, start: date, end: date, today: date) -> list[Row]:
    accounts = list(gated(user, Scope.SECURITY, account_ids).select_related("business"))
    positions = positions_for(accounts, today=today, with_unrequired=False)
    rows = []
    for pa in accounts:
        pos = positions.get(pa.pk)
        if pos is None or pos.requirement is None or pos.shortfall <= 0:
            continue
        due = pos.requirement.due_date
        if due > end:
            continue
        rows.append(Row(kind=SHORTFALL, date=due, amount=pos.shortfall, late=due < today,
                        title=_("Cover the security shortfall"),
                        ref=f"shortfall-{pos.requirement.pk}", **_common(pa)))
    return rows


def review_rows(user, account_ids, start: date, end: date, today: date) -> list[Row]:
    review = next_annual_review(start)
    if not start <= review <= end:
        return []
    accounts = (gated(user, Scope.SECURITY, account_ids).filter(rpp_status=ProgramAccount.RppStatus.ENROLLED)
                .select_related("business"))
    return [Row(kind=REVIEW, date=review, title=_("RPP annual security review"),
                ref=f"review-{pa.pk}-{review.year}", **_common(pa)) for pa in accounts]


def register_deadlines() -> None:
    register(SHORTFALL, shortfall_rows, label=gettext_lazy("Security shortfall"), order=40)
    register(BOND, bond_rows, label=gettext_lazy("Bond expiry"), order=70)
    register(REVIEW, review_rows, label=gettext_lazy("RPP annual review"), order=80)
