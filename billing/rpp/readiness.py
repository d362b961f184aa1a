"""The readiness items "rpp" (enrolled) and "security" (posted security covers the requirement),
replacing the foundation's placeholders, and the dashboard panel (posted vs required).

Batch checks: a constant number of queries for any number of accounts.
"""

from __future__ import annotations

from datetime import date

from django.urls import reverse
from django.utils.translation import gettext as _

from accounts.dashboard import register_panel
from accounts.models import ProgramAccount
from accounts.readiness import Item, register
from carm_portal.money import format_cad

from .models import SecurityForecast
from .selectors import positions_for, security_accounts
from .services import suspends_when_short, warning_ratio


def _account_url(pa: ProgramAccount) -> str:
    return reverse("rpp:account", args=[pa.pk])


def rpp_check(accounts: list[ProgramAccount], today: date) -> dict[int, Item]:
    out = {}
    for pa in accounts:
        ok = pa.rpp_status == ProgramAccount.RppStatus.ENROLLED
        if ok:
            step = ""
        elif pa.rpp_status == ProgramAccount.RppStatus.REQUESTED:
            step = _("Post security that covers the requirement to complete the enrolment")
        elif pa.rpp_status == ProgramAccount.RppStatus.SUSPENDED:
            step = _("Cover the security shortfall to reinstate RPP")
        else:
            step = _("Enrol the RM account in RPP")
        out[pa.pk] = Item(
            "rpp", _("Enrolled in Release Prior to Payment (RPP)"), ok=ok, detail=pa.get_rpp_status_display(),
            next_step=step, next_url=_account_url(pa) if step else "",
        )
    return out


def security_check(accounts: list[ProgramAccount], today: date) -> dict[int, Item]:
    """Posted security against the *binding* requirement (carm-rules §3): a shortfall says whether
    it is an annual-review increase (due 15 January, suspension after) or not; the 80% warning
    stays; the forecast ("if the review were today") is shown, never judged."""
    positions = positions_for(accounts, today=today, with_unrequired=False)
    forecasts = dict(SecurityForecast.objects.filter(program_account__in=[pa.pk for pa in accounts])
                     .values_list("program_account_id", "bond_amount"))
    out = {}
    for pa in accounts:
        pos = positions[pa.pk]
        req = pos.requirement
        values = {"posted": format_cad(pos.bond_equivalent), "required": format_cad(req.bond_amount) if req else "",
                  "short": format_cad(pos.shortfall), "due": req.due_date.isoformat() if req else "",
                  "used": pos.utilization, "warning": int(warning_ratio() * 100)}
        if req is None:
            detail = _("No requirement yet: it is set at enrolment.")
            step = _("Enrol the RM account in RPP")
        elif pos.shortfall > 0 and suspends_when_short(req):
            detail = _("The annual review raised the bond requirement to %(required)s; posted %(posted)s: short "
                       "%(short)s. Post it by %(due)s, or RPP is suspended.") % values
            step = _("Post a bond or cash deposit")
        elif pos.shortfall > 0:
            detail = _("Posted %(posted)s against the binding bond requirement of %(required)s: short %(short)s.") % values
            step = _("Post a bond or cash deposit")
        elif pos.status == "warning":
            detail = _("Posted %(posted)s against a bond requirement of %(required)s: %(used)s%% used (warning at "
                       "%(warning)s%%).") % values
            step = ""
        else:
            detail = _("Posted %(posted)s against a bond requirement of %(required)s (%(used)s%% used).") % values
            step = ""
        if req is not None and pa.pk in forecasts:
            detail += " " + _("If the review were today: %(forecast)s.") % {"forecast": format_cad(forecasts[pa.pk])}
        out[pa.pk] = Item(
            "security", _("Posted security covers the requirement"), ok=pos.covered, detail=detail,
            next_step=step, next_url=_account_url(pa) if step else "",
        )
    return out


def panel_context(request, business, accounts):
    visible = list(security_accounts(request.user).filter(
        id__in=accounts.values("id"), activity=ProgramAccount.Activity.IMPORTER
    ).order_by("number"))
    if not visible:
        return None
    positions = positions_for(visible)
    return {"rows": [(pa, positions[pa.pk]) for pa in visible]}


def register_checks() -> None:
    register("rpp", rpp_check, order=40)
    register("security", security_check, order=50)
    register_panel("rpp", "rpp/_panel.html", panel_context, order=30)
