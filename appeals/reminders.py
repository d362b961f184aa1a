"""Reminders before appeal deadlines: 30, 7 and 1 days before, in the portal and by email.

Idempotent per appeal, deadline and threshold (a unique constraint): a rerun the same day, or
the next day inside the same threshold, sends nothing more. When days were missed, only the
nearest threshold is sent (no burst of three reminders at once).
"""

from __future__ import annotations

from datetime import date

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.languages import by_language
from accounts.models import Membership
from accounts.roles import Role

from . import deadlines
from .models import Appeal, AppealNotice
from .notice_text import notice_message

THRESHOLDS = (30, 7, 1)


def _threshold(days_left: int) -> int | None:
    applicable = [t for t in THRESHOLDS if 0 <= days_left <= t]
    return min(applicable) if applicable else None


def _recipients(appeal: Appeal) -> list[str]:
    emails = {appeal.filed_by.email}
    emails.update(
        Membership.objects.filter(business_id=appeal.program_account.business_id, role=Role.BAM,
                                  status=Membership.Status.ACTIVE, user__is_active=True)
        .values_list("user__email", flat=True)
    )
    return sorted(e for e in emails if e)


def send_reminders(today: date | None = None) -> int:
    today = today or timezone.localdate()
    sent = 0
    appeals = (Appeal.objects.filter(status__in=[*Appeal.OPEN_STATUSES, Appeal.Status.DECISION_RENDERED])
               .select_related("program_account__business", "filed_by", "penalty"))
    for appeal in appeals.iterator(chunk_size=500):
        for deadline in deadlines.deadlines_for(appeal, today):
            if deadline.key == "extension":
                continue
            threshold = _threshold(deadline.days_left)
            if threshold is None:
                continue
            message = _("Appeal %(id)s (%(rm)s): %(label)s on %(date)s, %(left)s.") % {
                "id": appeal.pk, "rm": appeal.program_account.number, "label": deadline.label,
                "date": deadline.date.isoformat(), "left": deadline.text,
            }
            recipients = _recipients(appeal)
            try:
                with transaction.atomic():
                    notice = AppealNotice.objects.create(
                        appeal=appeal, deadline_kind=deadline.key, deadline=deadline.date, threshold=threshold,
                        message=message[:300], emailed_to=", ".join(recipients),
                    )
            except IntegrityError:
                continue  # already sent for this threshold
            # Each recipient reads the reminder in their own language.
            for language, emails in by_language(recipients).items():
                with translation.override(language):
                    send_mail(_("CARM Portal: appeal deadline reminder"), notice_message(notice, today),
                              settings.DEFAULT_FROM_EMAIL, emails, fail_silently=True)
            sent += 1
    return sent
