"""Cross-client worklists (issue #13 item 2): what a broker must act on, across every client.

Five lists over the same gated set as the board (``board.client_accounts``: the user's clients
through accounts.access, client groups and scopes; never the user's own businesses), each list
only for the accounts the gate gives for its scope (``board._ids_for``):

- ``cads``: CADs to account, late or due within 5 business days (declarations.selectors
  ``late_q`` / ``due_soon_q``), one row per CAD (declarations scope);
- ``statements``: RM accounts with an amount due > 0 (billing.summary.money_summary, through the
  board's ``compute_rows``; financial scope);
- ``shortfalls``: RM accounts whose security position has a gap > 0 (billing.rpp positions,
  through ``compute_rows``; security scope);
- ``appeals``: open appeals with their next deadline (appeals.selectors.open_appeals_in +
  appeals.deadlines.next_deadline), one row per appeal (appeals scope);
- ``delegations``: RM accounts whose delegation in force ends within 30 days (``compute_rows``'s
  ``expiring``).

Nothing is re-computed here: figures come from the board's rows or the owning selectors. A constant
number of queries whatever the number of clients.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from accounts.models import ProgramAccount, User
from accounts.roles import Scope
from appeals.deadlines import next_deadline
from appeals.selectors import open_appeals_in
from declarations.models import CAD
from declarations.selectors import due_soon_q, late_q

from . import board as b

KINDS: dict[str, object] = {
    "cads": _("CADs to account"),
    "statements": _("Statements due"),
    "shortfalls": _("Security shortfalls"),
    "appeals": _("Appeal deadlines"),
    "delegations": _("Delegations to renew"),
}
DEFAULT_KIND = "cads"


@dataclass
class WorkRow:
    program_account: ProgramAccount
    item: str  # what the row is about (a CAD number, an appeal, ...)
    url: str  # the object (or the client's page for it)
    when: date | None = None  # the date to act by
    amount: Decimal | None = None  # money (statements, shortfalls), None otherwise
    late: bool = False  # past its date

    @property
    def business(self):
        return self.program_account.business


def _cads(user: User, accounts: list[ProgramAccount], today: date) -> list[WorkRow]:
    ids = b._ids_for(user, Scope.DECLARATIONS, [pa.pk for pa in accounts], today)
    if not ids:
        return []
    by_pk = {pa.pk: pa for pa in accounts}
    cads = (CAD.objects.filter(program_account_id__in=ids)
            .filter(due_soon_q(today, b.CAD_DUE_SOON_BUSINESS_DAYS) | late_q(today))
            .only("id", "transaction_number", "due_date", "program_account_id")
            .order_by("due_date", "id"))
    return [WorkRow(by_pk[cad.program_account_id], cad.transaction_number,
                    reverse("cad_detail", args=[cad.pk]), cad.due_date,
                    late=cad.due_date < today) for cad in cads]


def _appeals(user: User, accounts: list[ProgramAccount], today: date) -> list[WorkRow]:
    ids = b._ids_for(user, Scope.APPEALS, [pa.pk for pa in accounts], today)
    if not ids:
        return []
    by_pk = {pa.pk: pa for pa in accounts}
    rows = []
    for appeal in open_appeals_in(ids).order_by("id"):
        deadline = next_deadline(appeal, today)
        label = str(_("Appeal %(number)s") % {"number": appeal.pk})
        if deadline is not None:
            label = f"{label}: {deadline.label}"
        rows.append(WorkRow(by_pk[appeal.program_account_id], label, reverse("appeals:detail", args=[appeal.pk]),
                            None if deadline is None else deadline.date,
                            late=deadline is not None and deadline.date < today))
    # Nearest deadline first; appeals with no deadline left last.
    rows.sort(key=lambda r: (r.when is None, r.when or date.max, r.program_account.pk))
    return rows


def _from_board(user: User, kind: str, accounts: list[ProgramAccount], today: date) -> list[WorkRow]:
    rows = b.compute_rows(user, accounts, today=today, readiness=False)
    out: list[WorkRow] = []
    if kind == "statements":
        for r in rows:
            if r.amount_due is not None and r.amount_due > 0:
                out.append(WorkRow(r.program_account, str(_("Amount due")), reverse("billing-statements"),
                                   r.due_date, r.amount_due, late=bool(r.overdue and r.overdue > 0)))
    elif kind == "shortfalls":
        for r in rows:
            if r.security_gap is not None and r.security_gap > 0:
                req = r.security.requirement
                out.append(WorkRow(r.program_account, str(_("Security gap")),
                                   reverse("rpp:account", args=[r.program_account.pk]),
                                   None if req is None else req.due_date, r.security_gap,
                                   late=req is not None and req.due_date is not None and req.due_date < today))
    elif kind == "delegations":
        for r in rows:
            if r.expiring:
                out.append(WorkRow(r.program_account, " ".join(r.delegation_scopes), reverse("delegations"),
                                   r.delegation_expires))
    out.sort(key=lambda w: (w.when is None, w.when or date.max, w.program_account.pk))
    return out


def worklist(user: User, kind: str, *, today: date) -> list[WorkRow]:
    """Every row of one worklist, by date to act by (then RM account / object id)."""
    if kind not in KINDS:
        raise ValueError(kind)
    accounts = list(b.client_accounts(user, today=today).order_by("id"))
    if not accounts:
        return []
    if kind == "cads":
        return _cads(user, accounts, today)
    if kind == "appeals":
        return _appeals(user, accounts, today)
    return _from_board(user, kind, accounts, today)
