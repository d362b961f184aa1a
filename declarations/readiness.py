"""Readiness items for CADs: due in the next 5 business days (informational), and no late CADs.

Batch checks: one grouped query for all the accounts, however many there are.
"""

from __future__ import annotations

from datetime import date

from django.db.models import Count, Min
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts.readiness import Item, register

from . import payment_timing
from .models import CAD
from .selectors import due_soon_q, late_q

CAD_LIST_URL_NAME = "cad_list"


def _cad_list_url(query: str = "") -> str:
    try:
        return reverse(CAD_LIST_URL_NAME) + query
    except NoReverseMatch:  # the CAD pages are not wired yet
        return ""


def _counts(accounts, today: date) -> dict[int, dict]:
    rows = (
        CAD.objects.filter(program_account__in=[pa.pk for pa in accounts], status__in=CAD.OPEN_STATUSES)
        .values("program_account_id")
        .annotate(
            due_soon=Count("id", filter=due_soon_q(today)),
            late=Count("id", filter=late_q(today)),
            next_due=Min("due_date", filter=due_soon_q(today)),
        )
    )
    return {row["program_account_id"]: row for row in rows}


def cads_due_soon(accounts, today: date) -> dict[int, Item]:
    counts = _counts(accounts, today)
    out = {}
    for pa in accounts:
        row = counts.get(pa.pk, {})
        n = row.get("due_soon", 0)
        out[pa.pk] = Item(
            "cads_due_soon", _("CADs due in the next 5 business days"), ok=n == 0,
            detail=(ngettext("%(n)d CAD to account for, the first by %(date)s.",
                             "%(n)d CADs to account for, the first by %(date)s.", n)
                    % {"n": n, "date": row.get("next_due")}) if n else _("Nothing due soon."),
            next_step=_("Submit the CADs due soon") if n else "",
            next_url=_cad_list_url("?status=draft") if n else "",
            counts=False,
        )
    return out


def no_late_cads(accounts, today: date) -> dict[int, Item]:
    counts = _counts(accounts, today)
    out = {}
    for pa in accounts:
        n = counts.get(pa.pk, {}).get("late", 0)
        out[pa.pk] = Item(
            "late_cads", _("No late CADs"), ok=n == 0,
            detail=(ngettext("%(n)d CAD is past its accounting due date and not submitted.",
                             "%(n)d CADs are past their accounting due date and not submitted.", n)
                    % {"n": n}) if n else _("Every CAD was accounted for on time."),
            next_step=_("Submit the late CADs now") if n else "",
            next_url=_cad_list_url("?late=1") if n else "",
        )
    return out


def _enrol_url(pa) -> str:
    try:
        return reverse("rpp:account", args=[pa.pk])
    except NoReverseMatch:  # the RPP pages are not wired
        return ""


def payment_timing_check(accounts, today: date) -> dict[int, Item]:
    """What RPP enrolment would change (carm-rules §3; declarations.payment_timing): without RPP
    a CAD is pay-at-release; with it, the same CAD would be billed on the monthly statement.
    Informational (the "rpp" item carries the score). One grouped query for the accounts."""
    cash = dict(
        CAD.objects.filter(program_account__in=[pa.pk for pa in accounts],
                           payment_timing=CAD.PaymentTiming.ON_RELEASE)
        .values("program_account_id").annotate(n=Count("id")).values_list("program_account_id", "n")
    )
    deferred_due = payment_timing.deferred_due_date(today, CAD.Type.REGULAR, today=today)
    out = {}
    for pa in accounts:
        n = cash.get(pa.pk, 0)
        filed = (ngettext(" %(n)d pay-at-release CAD filed so far.", " %(n)d pay-at-release CADs filed so far.", n)
                 % {"n": n}) if n else ""
        if payment_timing.timing_for_status(pa.rpp_status) == payment_timing.ON_RELEASE:
            out[pa.pk] = Item(
                "payment_timing", _("Duties and taxes deferred to the monthly statement"), ok=False,
                detail=_("Without RPP, a CAD is pay-at-release: its duties and taxes are due on release. Enrolled "
                         "in RPP with security, a CAD released today would be billed on the monthly statement "
                         "due on %(due)s.") % {"due": deferred_due.isoformat()} + filed,
                next_step=_("Enrol in RPP and post security to defer duties and taxes"), next_url=_enrol_url(pa),
                counts=False,
            )
        else:
            out[pa.pk] = Item(
                "payment_timing", _("Duties and taxes deferred to the monthly statement"), ok=True,
                detail=_("Enrolled in RPP: CADs are billed on the monthly statement (next due %(due)s).")
                % {"due": deferred_due.isoformat()} + filed,
                counts=False,
            )
    return out


def register_checks() -> None:
    register("cads_due_soon", cads_due_soon, order=80)
    register("late_cads", no_late_cads, order=85)
    register("payment_timing", payment_timing_check, order=87)
