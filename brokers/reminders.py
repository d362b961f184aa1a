"""Reminders from a broker to its clients' Business Account Managers (BAMs), at most once a day each.

``request_reminders(user, business_ids, today)`` (the board's "Send reminder") goes through the
gate: every client must be one the user reaches on the board (else 404: another firm's client is
not found). Clients already reminded today are counted, not sent again; the others are queued as
one outbox item (``carm_portal.outbox``: the work after the commit is recorded, not hoped for) for
the task ``brokers.send_client_reminders``.

``send_reminder(sender, business, today)`` (the task, per client) writes a ``SentNotice`` row per
BAM (key: user, notice ``client_reminder``, ref ``business-<id>``, date) and sends the emails in the
same transaction, so a rerun, a double click or a concurrent send reminds each client once a day:
the unique key makes the second insert fail and nothing is sent again. Each BAM gets the email in
its own language: what the readiness checklist still lacks (``accounts.readiness``) and what is
due (``billing.summary.money_summary``), for the RM accounts the sender may see for each scope.
"""

from __future__ import annotations

import logging
from datetime import date

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.http import Http404
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from accounts.access import delegations_in_force, program_accounts_for
from accounts.models import Business, Membership, SentNotice, User
from accounts.readiness import readiness_for
from accounts.roles import Role, Scope
from billing.summary import money_summary
from carm_portal import outbox
from carm_portal.money import format_money

from .board import broker_firm_ids, client_accounts

log = logging.getLogger(__name__)

NOTICE = "client_reminder"
TASK = "brokers.send_client_reminders"
MAX_CLIENTS = 200  # one request: the board's largest page


def ref_for(business_id: int) -> str:
    return f"business-{business_id}"


def reminded_today(business_ids, today: date) -> set[int]:
    """The clients whose BAMs were already reminded on ``today`` (by any broker firm)."""
    refs = {ref_for(pk): pk for pk in business_ids}
    return {refs[ref] for ref in SentNotice.objects.filter(notice=NOTICE, on=today, ref__in=refs)
            .values_list("ref", flat=True).distinct()}


def request_reminders(user: User, business_ids, *, today: date) -> tuple[int, int]:
    """Queue a reminder to each of these clients not reminded today: (queued, already reminded).

    Any id outside the user's board (another firm's client, its own business, nonsense): 404.
    4 queries whatever the number of clients."""
    try:
        wanted = {int(pk) for pk in business_ids}
    except (TypeError, ValueError):
        raise Http404 from None
    if not wanted or len(wanted) > MAX_CLIENTS:
        raise Http404
    reachable = set(client_accounts(user, today=today).filter(business_id__in=wanted)
                    .values_list("business_id", flat=True))
    if reachable != wanted:
        raise Http404
    already = reminded_today(wanted, today)
    to_send = sorted(wanted - already)
    if to_send:
        with transaction.atomic():
            outbox.enqueue(TASK, user.pk, to_send, today.isoformat())
    return len(to_send), len(already)


def _bams(business: Business) -> list[User]:
    return list(User.objects.filter(
        is_active=True, memberships__business=business, memberships__role=Role.BAM,
        memberships__status=Membership.Status.ACTIVE,
    ).exclude(email="").distinct().order_by("pk"))


def _content(sender: User, business: Business, today: date) -> dict:
    """What the email says, in the active language (readiness labels are translated when built)."""
    accounts = list(program_accounts_for(sender, Scope.ACCOUNT, on=today)
                    .filter(business=business).select_related("business").order_by("number"))
    missing = []
    for readiness in readiness_for(accounts, today=today):
        for item in readiness.missing:
            missing.append({"account": readiness.program_account.number, "label": str(item.label),
                            "next_step": str(item.next_step)})
    billing_ids = list(program_accounts_for(sender, Scope.BILLING, on=today)
                       .filter(business=business).values_list("id", flat=True))
    money = None
    if billing_ids:
        summary = money_summary(billing_ids, today=today)
        money = {"amount_due": format_money(summary.amount_due) if summary.amount_due > 0 else "",
                 "overdue": format_money(summary.overdue) if summary.overdue > 0 else "",
                 "due_date": summary.due_date}
    return {"missing": missing, "money": money}


def send_reminder(sender: User, business: Business, firm: Business | None, today: date) -> bool:
    """Email this client's BAMs once today; False when already reminded (or no BAM to tell)."""
    recipients = _bams(business)
    if not recipients or reminded_today([business.pk], today):
        return False
    try:
        with transaction.atomic():
            # A concurrent send that recorded one of these first makes this insert fail: nothing sent.
            SentNotice.objects.bulk_create([SentNotice(user=u, notice=NOTICE, ref=ref_for(business.pk), on=today)
                                            for u in recipients])
            site = getattr(settings, "SITE_URL", "").rstrip("/")
            for user in recipients:
                with translation.override(user.preferred_language or settings.LANGUAGE_CODE):
                    context = {"user": user, "client": business, "firm": firm, "today": today,
                               "site": site, "dashboard_url": reverse("dashboard"),
                               **_content(sender, business, today)}
                    subject = _("CARM Portal: %(firm)s reminds you about %(client)s") % {
                        "firm": firm.display_name if firm else _("your customs broker"),
                        "client": business.display_name}
                    body = render_to_string("brokers/email/client_reminder.txt", context)
                EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, [user.email]).send()
    except IntegrityError:
        log.info("client reminder for business %s already recorded by another run", business.pk)
        return False
    return True


def send_reminders(sender_id: int, business_ids: list[int], today: date) -> int:
    """The task's body: each client once today, through the sender's gate as it is now."""
    sender = User.objects.filter(pk=sender_id, is_active=True).first()
    if sender is None:
        return 0
    reachable = set(client_accounts(sender, today=today).filter(business_id__in=business_ids)
                    .values_list("business_id", flat=True))
    firms: dict[int, Business] = {}  # the firm whose delegation the client gave (the latest one)
    for d in (delegations_in_force(on=today).filter(broker_id__in=broker_firm_ids(sender), importer_id__in=reachable)
              .select_related("broker").order_by("importer_id", "-valid_from", "-pk")):
        firms.setdefault(d.importer_id, d.broker)
    sent = 0
    for business in Business.objects.filter(pk__in=reachable).order_by("pk"):
        if send_reminder(sender, business, firms.get(business.pk), today):
            sent += 1
    return sent
