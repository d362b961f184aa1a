"""Email notices of the deadline centre, in each user's language, each sent once.

Notices (the keys are the ``NotificationPreference`` fields):
- from the deadline rows (accounts.deadlines): ``due_soon`` (a statement is due within 3 business
  days), ``overdue``, ``cad_late``, ``delegation_expiring`` (ends within 14 days);
- from events other apps report through ``register_source(notice, source)`` from their
  AppConfig.ready(): ``statement_issued`` (billing), ``appeal_decided`` (appeals); accounts' own
  ``delegation_requested`` / ``delegation_approved``.

A source is ``source(user, account_ids, today) -> list[Notice]`` and must go through the access
gate with its own Scope, like a deadline provider. ``send_notices(today)`` (the beat task
``accounts.send_deadline_notices``) is rerun-safe: for each user, the new notices' ``SentNotice``
rows (unique user + notice + object + date) and the one email are in one transaction, so a
notice already recorded is never sent again and a failed send leaves nothing recorded.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from carm_portal import calendar

from . import deadlines
from .access import active_memberships
from .models import Delegation, NotificationPreference, SentNotice, User

log = logging.getLogger(__name__)

DUE_SOON_BUSINESS_DAYS = 3
DELEGATION_WARNING_DAYS = 14
# Events up to this many days old are still reported (a day the beat did not run is not lost).
LOOKBACK_DAYS = 7

NOTICES = {
    "statement_issued": gettext_lazy("A statement is issued"),
    "due_soon": gettext_lazy("A payment is due in 3 business days"),
    "overdue": gettext_lazy("An amount is overdue"),
    "cad_late": gettext_lazy("A CAD is late"),
    "delegation_requested": gettext_lazy("A delegation is requested"),
    "delegation_approved": gettext_lazy("A delegation is approved"),
    "delegation_expiring": gettext_lazy("A delegation is about to expire"),
    "appeal_decided": gettext_lazy("An appeal is decided"),
}


@dataclass(frozen=True)
class Notice:
    notice: str
    ref: str
    on: date
    title: str
    url: str = ""
    account_number: str = ""
    amount: Decimal | None = None


Source = Callable[[User, list[int], date], list[Notice]]
_SOURCES: dict[str, Source] = {}


def register_source(notice: str, source: Source) -> None:
    _SOURCES[notice] = source


def preferences_for(user: User) -> NotificationPreference:
    pref = getattr(user, "_notification_preference", None)
    if pref is None:
        pref = NotificationPreference.objects.filter(user=user).first() or NotificationPreference(user=user)
        user._notification_preference = pref
    return pref


# --- Notices built from the deadline rows ------------------------------------------------------

_FROM_ROWS = {
    "statement_due": "due_soon",
    "statement_overdue": "overdue",
    "cad_late": "cad_late",
    deadlines.DELEGATION_EXPIRY_KIND: "delegation_expiring",
}


def _from_deadlines(user: User, accounts, today: date) -> list[Notice]:
    rows = deadlines.deadlines_for(user, today=today, accounts=accounts, kinds_wanted=_FROM_ROWS.keys(),
                                   days=DELEGATION_WARNING_DAYS)
    due_soon_until = calendar.add_business_days(today, DUE_SOON_BUSINESS_DAYS)
    out = []
    for row in rows:
        notice = _FROM_ROWS[row.kind]
        if notice == "due_soon" and row.date > due_soon_until:
            continue
        out.append(Notice(notice, row.ref, row.date, row.title, row.url, row.account_number, row.amount))
    return out


# --- accounts' own event notices ---------------------------------------------------------------

def delegation_events(user: User, account_ids: list[int], today: date) -> list[Notice]:
    """Delegations requested of an importer the user manages (it decides them) and delegations
    approved that the user's firm holds or granted, in the last ``LOOKBACK_DAYS`` days."""
    from .roles import Right, roles_with

    since = today - timedelta(days=LOOKBACK_DAYS)
    managing = active_memberships(user).filter(role__in=roles_with(Right.GRANT_DELEGATIONS)).values("business_id")
    own = active_memberships(user).values("business_id")
    out = []
    url = reverse("delegations")
    for d in Delegation.objects.filter(status=Delegation.Status.REQUESTED, importer_id__in=managing,
                                       requested_at__date__gte=since).select_related("broker"):
        out.append(Notice("delegation_requested", f"delegation-{d.pk}", d.requested_at.date(),
                          _("%(broker)s asks for a delegation") % {"broker": d.broker.display_name}, url))
    for d in (Delegation.objects.filter(status=Delegation.Status.ACTIVE, decided_at__date__gte=since)
              .filter(Q(importer_id__in=own) | Q(broker_id__in=own)).select_related("broker", "importer")):
        out.append(Notice("delegation_approved", f"delegation-{d.pk}", d.decided_at.date(),
                          _("Delegation of %(importer)s to %(broker)s approved")
                          % {"importer": d.importer.display_name, "broker": d.broker.display_name}, url))
    return out


def register_own() -> None:
    register_source("delegations", delegation_events)


# --- Collect and send --------------------------------------------------------------------------

def notices_for(user: User, today: date) -> list[Notice]:
    """Every notice the user wants today (preferences applied), already-sent ones included."""
    pref = preferences_for(user)
    accounts = list(deadlines.visible_accounts(user))
    account_ids = [pa.pk for pa in accounts]
    found = _from_deadlines(user, accounts, today) if account_ids else []
    for source in _SOURCES.values():
        found.extend(source(user, account_ids, today))
    seen, out = set(), []
    for n in found:
        key = (n.notice, n.ref, n.on)
        if key in seen or not getattr(pref, n.notice, False):
            continue
        seen.add(key)
        out.append(n)
    return out


def _recipients():
    return (User.objects.filter(is_active=True, memberships__status="active").exclude(email="")
            .distinct().order_by("pk"))


def send_to(user: User, today: date) -> int:
    """Send the user's new notices in one email; returns how many notices it held (0: none sent)."""
    notices = notices_for(user, today)
    if not notices:
        return 0
    sent = set(SentNotice.objects.filter(user=user, on__in={n.on for n in notices})
               .values_list("notice", "ref", "on"))
    new = [n for n in notices if (n.notice, n.ref, n.on) not in sent]
    if not new:
        return 0
    try:
        with transaction.atomic():
            # A concurrent run that recorded one of these first makes this insert fail: nothing sent.
            SentNotice.objects.bulk_create([SentNotice(user=user, notice=n.notice, ref=n.ref, on=n.on) for n in new])
            with translation.override(user.preferred_language or settings.LANGUAGE_CODE):
                context = {"user": user, "notices": new, "today": today,
                           "labels": {k: str(v) for k, v in NOTICES.items()},
                           "site": getattr(settings, "SITE_URL", "").rstrip("/"),
                           "centre_url": reverse("deadlines")}
                subject = _("CARM Portal: %(count)d notice(s)") % {"count": len(new)}
                text = render_to_string("accounts/email/deadline_notices.txt", context)
                html = render_to_string("accounts/email/deadline_notices.html", context)
            message = EmailMultiAlternatives(subject, text, settings.DEFAULT_FROM_EMAIL, [user.email])
            message.attach_alternative(html, "text/html")
            message.send()
    except IntegrityError:
        log.info("deadline notices for user %s already recorded by another run", user.pk)
        return 0
    return len(new)


def send_notices(today: date) -> int:
    """Every user's new notices; safe to rerun (returns the number of notices sent)."""
    total = 0
    for user in _recipients():
        try:
            total += send_to(user, today)
        except Exception:  # one user's failure (SMTP down) must not stop the others; rerun retries it
            log.exception("deadline notices failed for user %s", user.pk)
    return total
