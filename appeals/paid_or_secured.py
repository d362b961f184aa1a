"""s.60 "paid or secured": what must still be paid before a request for re-determination is filed.

Customs Act s.60(1) (carm-rules §6): a re-determination may be requested only once "all amounts
owing as duties and interest in respect of the goods are paid or security satisfactory to the
Minister is given". The check is therefore about **the goods under appeal**, never the whole RM
account: other charges on the account (this cycle's CADs not yet due, an unrelated NPA) never
block filing.

The goods under appeal are the CADs of the statements of adjustment (SoAs) grouped in the
request. Their amounts are the RM's ledger entries carrying the CAD's transaction number as
reference, of the CAD kinds (charge, correction, adjustment, withdrawal; a SoA posts a
``cad_adjustment``) and ``interest`` (interest on an adjustment). For each, what is left is derived
from the offsetting allocations (``billing.offsetting.selectors``):

    unpaid = Σ debts left (amount − allocated) − Σ the goods' own credits not yet used

Then, in this order (worked cases in ``tests/appeals/test_paid_or_secured.py``):

1. **Secured by CBSA**: a SoA staff marked ``secured`` secures its CAD's amounts: left out.
2. **Credit not yet applied** (a payment offsetting has not allocated yet) pays the goods, after
   the account's other debts already due (offsetting clears the oldest due debt first, §5).
   ASSUMPTION: the payment is meant for the goods under appeal; offsetting will allocate it.
3. **RPP security**: an RM enrolled in RPP (not suspended) whose posted security (bonds in force
   + cash deposits, ``billing.rpp.selectors``) is at least the unpaid amount that is *not yet
   due* has that amount secured (RPP security guarantees payment on the due date).
   Amounts already past their payment due date are not covered: they must be paid.
   ASSUMPTION (carm-rules §3/§6: CBSA does not say whether RPP security counts as s.60
   security); ``CARM["APPEAL_RPP_SECURITY_COVERS"]`` switches it off.

What is left must be paid before the appeal deadline (``appeals.deadlines``) for the request to
be filed in time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.db.models import Sum
from django.utils.translation import gettext as _

from accounts.models import ProgramAccount
from billing.ledger.models import LedgerEntry
from billing.offsetting import selectors as offsetting
from carm_portal.conf import carm
from carm_portal.money import ZERO, format_cad, quantize

from . import deadlines

GOODS_KINDS = (*LedgerEntry.CAD_KINDS, LedgerEntry.Kind.INTEREST)


@dataclass(frozen=True)
class PaidOrSecured:
    """The s.60 position of a set of statements of adjustment on one RM account."""

    unpaid: Decimal  # duties and interest on the goods not yet paid (before security)
    secured_by_cbsa: Decimal  # left out: CBSA recorded security for these SoAs' CADs
    credit_applied: Decimal  # paid by credit on the account that offsetting has not allocated yet
    rpp_secured: Decimal  # not yet due, covered by the RM's posted RPP security
    to_pay: Decimal  # what must still be paid before filing
    overdue: Decimal  # the part of ``to_pay`` already past its payment due date
    deadline: date | None  # the last day to file (the appeal deadline); None once an extension is granted
    transactions: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.to_pay <= ZERO


def _goods_entries(program_account_id: int, transactions: Sequence[str]):
    return LedgerEntry.objects.filter(
        program_account_id=program_account_id, reference__in=list(transactions), kind__in=GOODS_KINDS,
    )


def _sum(qs, name: str) -> Decimal:
    return quantize(qs.aggregate(t=Sum(name))["t"] or ZERO)


def _rpp_posted(program_account: ProgramAccount, today: date) -> Decimal:
    """Posted RPP security (bond allocations in force + cash) if the RM is enrolled, else 0."""
    if not carm("APPEAL_RPP_SECURITY_COVERS"):
        return ZERO
    if program_account.rpp_status != ProgramAccount.RppStatus.ENROLLED:
        return ZERO
    from billing.rpp.selectors import positions_for

    position = positions_for([program_account], today=today, with_unrequired=True)[program_account.pk]
    return quantize(position.bond_posted + position.cash_posted)


def position_for(program_account: ProgramAccount, statements: Sequence, today: date,
                 *, decision_date: date | None = None, extended: bool = False) -> PaidOrSecured:
    """What must still be paid to file a s.60 request on ``statements`` (SoAs of ``program_account``);
    ``extended``: a s.60.1 extension was granted, so the 90-day deadline no longer applies."""
    statements = list(statements)
    decided = decision_date or min(s.decision_date for s in statements)
    deadline = None if extended else deadlines.appeal_deadline(decided)
    cad_numbers = {s.cad_id: s.cad.transaction_number for s in statements}
    secured_cads = {s.cad_id for s in statements if s.secured}
    open_numbers = sorted({n for cad_id, n in cad_numbers.items() if cad_id not in secured_cads})
    secured_numbers = sorted({cad_numbers[c] for c in secured_cads})
    ids = [program_account.pk]

    def unpaid_of(numbers) -> tuple[Decimal, Decimal, Decimal]:
        """(debts left, own credits left, debts left that are not yet due) for those CADs."""
        if not numbers:
            return ZERO, ZERO, ZERO
        goods = _goods_entries(program_account.pk, numbers).values("pk")
        debts = offsetting.debts(ids).filter(pk__in=goods)
        credits = offsetting.credits(ids).filter(pk__in=goods)
        debt_left = _sum(debts, "remaining")
        credit_left = _sum(credits, "remaining")
        # A debt is due on its period's payment due date: "not yet due" is a later period than
        # the last one due by today (one SQL filter, as offsetting does).
        not_due = _sum(debts.filter(billing_period__gt=offsetting.latest_due_period(today)), "remaining")
        return debt_left, credit_left, not_due

    secured_debt, secured_credit, _x = unpaid_of(secured_numbers)
    debt_left, credit_left, not_due = unpaid_of(open_numbers)
    unpaid = max(debt_left - credit_left, ZERO)

    # Credit on the account not allocated yet pays the goods after the other debts already due.
    free = offsetting.available_credit([program_account]).get(program_account.pk, ZERO) - credit_left - secured_credit
    goods_pks = set(_goods_entries(program_account.pk, open_numbers + secured_numbers).values_list("pk", flat=True))
    other_due = _sum(
        offsetting.open_debts(ids, due_by=today).exclude(pk__in=goods_pks), "remaining"
    ) if free > ZERO else ZERO
    credit_applied = min(max(free - other_due, ZERO), unpaid)
    left = unpaid - credit_applied

    # The not-yet-due part (paid last: the overdue part is paid first) may be covered by RPP security.
    not_due_left = min(max(not_due - credit_left, ZERO), left)
    overdue = left - not_due_left
    rpp_secured = ZERO
    if not_due_left > ZERO and _rpp_posted(program_account, today) >= not_due_left:
        rpp_secured = not_due_left
    to_pay = quantize(left - rpp_secured)
    return PaidOrSecured(
        unpaid=quantize(unpaid), secured_by_cbsa=quantize(max(secured_debt - secured_credit, ZERO)),
        credit_applied=quantize(credit_applied), rpp_secured=quantize(rpp_secured), to_pay=to_pay,
        overdue=quantize(min(overdue, to_pay)), deadline=deadline, transactions=open_numbers,
    )


def refusal_message(position: PaidOrSecured, program_account: ProgramAccount) -> str:
    """Why filing is refused: what to pay, on which CADs, and by when."""
    values = {"amount": format_cad(position.to_pay), "cads": ", ".join(position.transactions),
              "rm": program_account.number, "deadline": position.deadline.isoformat() if position.deadline else ""}
    if position.deadline is None:
        message = _(
            "A request for re-determination can only be filed once the duties and interest on the goods under "
            "appeal are paid or secured (Customs Act s. 60). To file, pay %(amount)s on CAD %(cads)s (account "
            "%(rm)s), or ask CBSA to record security for these amounts."
        ) % values
    else:
        message = _(
            "A request for re-determination can only be filed once the duties and interest on the goods under "
            "appeal are paid or secured (Customs Act s. 60). To file, pay %(amount)s on CAD %(cads)s (account "
            "%(rm)s) by %(deadline)s, the last day to file, or ask CBSA to record security for these amounts."
        ) % values
    if position.overdue > ZERO and position.overdue < position.to_pay:
        message += " " + _("%(overdue)s of it is past its payment due date.") % {"overdue": format_cad(position.overdue)}
    return message


def for_appeal(appeal, today: date) -> PaidOrSecured | None:
    """The position of a s.60 appeal (None for a penalty appeal: s.129.1 has no such rule)."""
    from .models import Appeal

    if appeal.kind != Appeal.Kind.REDETERMINATION:
        return None
    statements = list(appeal.statements.select_related("cad"))
    if not statements:
        return None
    return position_for(appeal.program_account, statements, today, decision_date=appeal.decision_date,
                        extended=appeal.extension_id is not None)


__all__ = ["GOODS_KINDS", "PaidOrSecured", "position_for", "for_appeal", "refusal_message"]
