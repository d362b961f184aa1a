"""Appeal deadline reminders in the reader's language, rendered when they are shown.

``AppealNotice.message`` is the sentence the daily reminder job emailed (in its language:
English). The page says it again from the notice's own fields (appeal, deadline kind and date,
the day it was sent) through the job's message id, so a French reader reads French. An unknown
deadline kind falls back to the stored message.
"""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext as _

from . import deadlines

# The labels ``deadlines.deadlines_for`` gives each kind (the same message ids).
LABELS = {
    "filing": lambda: _("Filing deadline"),
    "extension": lambda: _("Last day to apply for an extension"),
    "info": lambda: _("Further submissions due"),
    "citt": lambda: _("Further appeal to the CITT"),
}


def notice_message(notice, sent_on=None) -> str:
    """The reminder as the job wrote it, in the active language (days left counted from the day it
    was sent: ``sent_on``, the job's day, else the day it was created)."""
    label = LABELS.get(notice.deadline_kind)
    if label is None:
        return notice.message
    sent_on = sent_on or timezone.localdate(notice.created_at)
    return _("Appeal %(id)s (%(rm)s): %(label)s on %(date)s, %(left)s.") % {
        "id": notice.appeal_id, "rm": notice.appeal.program_account.number, "label": label(),
        "date": notice.deadline.isoformat(), "left": deadlines.days_left_text(notice.deadline, sent_on),
    }


def with_text(notices):
    """Set ``.text`` on each notice (select_related ``appeal__program_account`` first)."""
    notices = list(notices)
    for n in notices:
        n.text = notice_message(n)
    return notices
