"""Pay-at-release ("cash") CADs: the one rule that says when a CAD's duties and taxes are payable.

carm-rules §3: RPP is release *prior to payment* plus deferred accounting and payment. Without
RPP there is no release before payment: duties and taxes are paid at release with a cash CAD
(https://fedex.com/en-ca/contact-us/faq/regulatory/carm/release-prior-to-payment-bond/use-customs-broker.html).

- **The decision**: a CAD is pay-at-release (``on_release``) when its importer RM account was not
  ENROLLED in RPP on the day of release (not enrolled, requested, suspended or withdrawn);
  otherwise ``deferred`` (``timing_on``). The status on that day comes from the enrolment's
  status history (``billing.rpp.models.RppStatusChange``, read through ``set_status_changes``): the status before the first change
  made after the release day, else the account's current status.
- **Recorded on the CAD** (``CAD.payment_timing``) when it is submitted or filed, so a later
  enrolment, suspension or re-enrolment never changes a CAD already filed. Drafts have no
  decision yet; forms and previews show what it would be (``preview``).
- **Payment due date** (``payment_due_date``): on release, the release date itself; deferred,
  the due date of the statement the CAD is billed on (``carm_portal.calendar.payment_due_date``).

How the ledger and the statement treat a cash CAD (least disruption, one rule each):
  the charge is posted like any CAD charge (the ledger is the truth; it is on the statement of
  its period, so statements still reconcile), but it is *payable on release*: ``billing.overdue``
  counts an unpaid cash-CAD charge as overdue from the day after release, and the one interest
  engine (``billing.interest``) accrues on it from then, on the statement's interest line, until
  payments or credits clear it (oldest debt first, carm-rules §5). It is not deferred to the
  statement's due date as if RPP applied; the CAD page, list and API show it "due on release".
  ASSUMPTION: only the original charge is due on release; later corrections and adjustments
  follow their own rules (deadlines.py; s.32.2 interest from this due date).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import ProgramAccount
from carm_portal import calendar

from . import deadlines
from .models import CAD

ON_RELEASE = CAD.PaymentTiming.ON_RELEASE
DEFERRED = CAD.PaymentTiming.DEFERRED
ENROLLED = ProgramAccount.RppStatus.ENROLLED.value


def _end_of(day: date) -> datetime:
    """The first instant after ``day`` in the portal's time zone."""
    return timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min))


# The RPP status history is billing.rpp's (RppStatusChange), a layer above declarations; it hands
# its reader down at start-up (RppConfig.ready). Without it every account has its current status.
StatusChanges = Callable[[set[int], datetime], Iterable[tuple[int, datetime, str]]]
_status_changes: StatusChanges = lambda account_ids, since: ()  # noqa: E731


def set_status_changes(reader: StatusChanges) -> None:
    """``reader(account ids, since)`` -> (account id, changed at, status before the change), oldest first."""
    global _status_changes
    _status_changes = reader


def rpp_statuses_on(pairs: Iterable[tuple[ProgramAccount, date]]) -> dict[tuple[int, date], str]:
    """{(account id, day): RPP status at the end of that day} for each pair: one query.

    The status before the first change made after the day, else the account's current one.
    """
    pairs = [(pa, day) for pa, day in pairs if day is not None]
    out = {(pa.pk, day): pa.rpp_status for pa, day in pairs}
    if not pairs:
        return out
    changes: dict[int, list[tuple[datetime, str]]] = {}
    for account_id, changed_at, from_status in _status_changes(
        {pa.pk for pa, _day in pairs}, _end_of(min(day for _pa, day in pairs))
    ):
        changes.setdefault(account_id, []).append((changed_at, from_status))
    for pa, day in pairs:
        after = [status for changed_at, status in changes.get(pa.pk, []) if changed_at >= _end_of(day)]
        if after:
            out[(pa.pk, day)] = after[0]
    return out


def timing_for_status(rpp_status: str) -> str:
    """RPP enrolled on the day of release: deferred; anything else (suspended too): on release."""
    return DEFERRED if rpp_status == ENROLLED else ON_RELEASE


def timing_on(program_account: ProgramAccount, release_date: date) -> str:
    status = rpp_statuses_on([(program_account, release_date)])[(program_account.pk, release_date)]
    return timing_for_status(status)


def decide(cad: CAD) -> None:
    """Record the decision on a CAD being submitted (its release date is checked by then)."""
    cad.payment_timing = timing_on(cad.program_account, cad.release_date)


def decide_all(cads: Iterable[CAD]) -> None:
    """``decide`` for many CADs (CSV import): one query."""
    cads = list(cads)
    statuses = rpp_statuses_on((cad.program_account, cad.release_date) for cad in cads)
    for cad in cads:
        cad.payment_timing = timing_for_status(statuses[(cad.program_account_id, cad.release_date)])


def deferred_due_date(release_date: date, cad_type: str, *, today: date) -> date:
    """The statement due date RPP would give a CAD released on ``release_date`` and filed today."""
    period = calendar.posting_period(release_date, posted_on=today,
                                     calendar_month=deadlines.on_calendar_month_cycle(cad_type))
    return calendar.payment_due_date(period)


def warning_text(release_date: date, cad_type: str, *, today: date) -> str:
    """What a filer is told before filing a cash CAD, and what enrolment would change."""
    return _("This RM account is not enrolled in RPP: duties and taxes are due on release "
             "(%(release)s). Enrolment in RPP with security would defer them to the monthly statement "
             "due on %(deferred)s.") % {
        "release": release_date.isoformat(),
        "deferred": deferred_due_date(release_date, cad_type, today=today).isoformat(),
    }


def preview(program_account: ProgramAccount, release_date: date | None, cad_type: str = CAD.Type.REGULAR,
            *, today: date) -> dict:
    """What filing today would decide: timing, due date and (for a cash CAD) the warning."""
    release = release_date or today
    timing = timing_on(program_account, release)
    if timing == ON_RELEASE:
        return {"payment_timing": timing, "payment_due_date": release,
                "warning": warning_text(release, cad_type, today=today)}
    return {"payment_timing": timing, "payment_due_date": deferred_due_date(release, cad_type, today=today),
            "warning": ""}


@dataclass(frozen=True)
class Shown:
    """A CAD's payment timing as pages and the API show it."""

    timing: str
    due_date: date | None
    warning: str

    @property
    def on_release(self) -> bool:
        return self.timing == ON_RELEASE


def shown(cad: CAD, *, today: date) -> Shown:
    """The recorded decision of a filed CAD; for a draft, what filing would decide (previewed
    with the account's current RPP status: no query). A deferred CAD not yet billed shows the
    due date of the statement it would be billed on if accepted today."""
    decided = bool(cad.payment_timing)
    timing = cad.payment_timing if decided else timing_for_status(cad.program_account.rpp_status)
    if cad.release_date is None:
        return Shown(timing, None, "")
    if timing == ON_RELEASE:
        if decided:
            warning = _("Pay-at-release CAD (no RPP on the day of release): duties and taxes were due on "
                        "release, %(release)s.") % {"release": cad.release_date.isoformat()}
        else:
            warning = warning_text(cad.release_date, cad.cad_type, today=today)
        return Shown(timing, cad.release_date, warning)
    due = deadlines.payment_due_date(cad) or deferred_due_date(cad.release_date, cad.cad_type, today=today)
    return Shown(timing, due, "")


__all__ = [
    "DEFERRED",
    "ON_RELEASE",
    "decide",
    "decide_all",
    "deferred_due_date",
    "preview",
    "rpp_statuses_on",
    "shown",
    "timing_for_status",
    "timing_on",
    "warning_text",
]
