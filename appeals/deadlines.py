"""Appeal deadlines (carm-rules §6, worked example 4). Calendar days from the day after the decision.

- s.60 request / s.129.1 appeal: 90 days after the SoA date / the NPA service date;
- s.60.1 extension application: within 1 year after those 90 days expire;
- further submissions after CBSA asks for information: 30 days;
- CITT further appeal (s.67): 90 days after a s.60 decision (AMPS decisions do not go to the CITT).

A deadline on a weekend or holiday rolls to the next business day when
``CARM["APPEAL_DEADLINE_ROLLS_TO_BUSINESS_DAY"]`` is set (the rules file's ASSUMPTION).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from carm_portal.calendar import add_years, calendar_deadline, next_business_day_on_or_after
from carm_portal.conf import carm

APPEAL_DAYS = 90
INFO_DAYS = 30
CITT_DAYS = 90


def _rolls() -> bool:
    return bool(carm("APPEAL_DEADLINE_ROLLS_TO_BUSINESS_DAY"))


def deadline_after(start: date, days: int) -> date:
    return calendar_deadline(start, days, roll_to_business_day=_rolls())


def appeal_deadline(decision_date: date) -> date:
    """Last day to file a s.60 request or a s.129.1 appeal."""
    return deadline_after(decision_date, APPEAL_DAYS)


def extension_last_day(decision_date: date) -> date:
    """Last day to apply for an extension: one year after the (unrolled) 90 days expire."""
    expired = calendar_deadline(decision_date, APPEAL_DAYS, roll_to_business_day=False)
    last = add_years(expired, 1)  # one year after 29 February is 28 February, as everywhere
    return next_business_day_on_or_after(last) if _rolls() else last


def info_due(requested_on: date) -> date:
    return deadline_after(requested_on, INFO_DAYS)


def citt_deadline(decided_on: date) -> date:
    return deadline_after(decided_on, CITT_DAYS)


def days_left(deadline: date, today: date | None = None) -> int:
    return (deadline - (today or timezone.localdate())).days


def days_left_text(deadline: date, today: date | None = None) -> str:
    n = days_left(deadline, today)
    if n > 1:
        return ngettext("%(n)d day left", "%(n)d days left", n) % {"n": n}
    if n == 1:
        return _("1 day left (tomorrow)")
    if n == 0:
        return _("last day today")
    return ngettext("passed %(n)d day ago", "passed %(n)d days ago", -n) % {"n": -n}


@dataclass(frozen=True)
class Deadline:
    key: str
    label: str
    date: date
    days_left: int
    text: str

    @property
    def urgency(self) -> str:
        if self.days_left < 0:
            return "danger"
        if self.days_left <= 7:
            return "warn"
        return "info"


def make(key: str, label: str, day: date, today: date | None = None) -> Deadline:
    return Deadline(key, label, day, days_left(day, today), days_left_text(day, today))


def deadlines_for(appeal, today: date | None = None) -> list[Deadline]:
    """The deadlines that matter for an appeal in its current state."""
    from .models import Appeal

    today = today or timezone.localdate()
    out = []
    if appeal.status in (Appeal.Status.DRAFT, Appeal.Status.REJECTED_INCOMPLETE):
        out.append(make("filing", _("Filing deadline"), appeal_deadline(appeal.decision_date), today))
        if appeal.extension_id is None:
            out.append(make("extension", _("Last day to apply for an extension"),
                            extension_last_day(appeal.decision_date), today))
    if appeal.status == Appeal.Status.INFO_REQUESTED and appeal.info_due_date:
        out.append(make("info", _("Further submissions due"), appeal.info_due_date, today))
    if (appeal.status in (Appeal.Status.DECISION_RENDERED, Appeal.Status.CLOSED)
            and appeal.kind == Appeal.Kind.REDETERMINATION and appeal.decided_on):
        out.append(make("citt", _("Further appeal to the CITT"), citt_deadline(appeal.decided_on), today))
    return out


def next_deadline(appeal, today: date | None = None) -> Deadline | None:
    upcoming = [d for d in deadlines_for(appeal, today) if d.key != "extension"]
    return min(upcoming, key=lambda d: d.date) if upcoming else None
