"""Offsetting write paths: automatic and manual allocations, refunds, the offsetting preference.

**Offsetting never changes an account's balance.** The balance is Σ ledger entries (billing.ledger
``balance``); an ``Allocation`` is not a ledger entry, it only says which credit paid which debt.
Only a *paid refund* moves money: it posts a positive ``refund`` ledger entry, allocated against
the credits it pays out.

The rules (carm-rules §5):
- a credit clears a debt on the debt's due date (``payment_due_date`` of its billing period), so a
  debt is eligible once that date is on or before ``today``; a credit once it is in effect;
- the oldest debt clears first (earliest due date); ties by kind: duties and taxes, then
  penalties, then other charges, then interest; credits are used oldest first, the debt's own RM
  account's credits before another RM's;
- ``auto_program`` (default): within one RM account; ``auto_business``: any RM of the business
  pays any of its RMs; ``manual``: nothing automatic;
- a cash security deposit never pays a debt;
- never more than either side has left (remaining amounts are derived in SQL, see ``selectors``).

Concurrency: every write here first locks *all* RM accounts of the business, in id order
(``SELECT ... FOR UPDATE``). Two runs for one account (or one business) serialize; the second sees
the first's allocations and finds nothing left. One lock order per business means no deadlock,
and a preference changed mid-flight cannot make two runs lock different sets.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Count
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import audit
from accounts import services as accounts_services
from accounts.access import program_accounts_for, require_cbsa_officer
from accounts.models import Business, Membership, ProgramAccount, User
from accounts.roles import Right, Scope, roles_with
from billing.ledger import services as ledger
from billing.ledger.models import LedgerEntry
from billing.ledger.texts import Text
from carm_portal import outbox
from carm_portal.conf import carm
from carm_portal.exceptions import ApplicationError
from carm_portal.money import ZERO, format_cad, quantize

from . import selectors
from .models import Allocation, Refund

__all__ = [
    "apply_offsets",
    "plan_allocations",
    "enqueue_apply_offsets",
    "run_offsets",
    "manual_apply",
    "refund_check",
    "refund_request",
    "refund_approve",
    "refund_reject",
    "refund_pay",
    "can_change_preference",
    "preference_update",
    "preference_changers",
]

Preference = Business.OffsettingPreference


# --- Locks and scope -----------------------------------------------------------------------------

def _lock_business_accounts(business_id: int) -> list[int]:
    """Lock every RM account of the business, in id order; their ids. Call inside a transaction."""
    return list(
        ProgramAccount.objects.select_for_update()
        .filter(business_id=business_id)
        .order_by("id")
        .values_list("id", flat=True)
    )


def _offsetting_scope(program_account: ProgramAccount, preference: str, business_ids: list[int]) -> list[int]:
    """The RM accounts whose credits and debts offset each other for this account."""
    if preference == Preference.AUTO_BUSINESS:
        return business_ids
    return [program_account.pk]


# --- Automatic offsetting ------------------------------------------------------------------------

@dataclass
class _Open:
    entry: LedgerEntry
    left: Decimal


def plan_allocations(
    credits: Iterable[LedgerEntry], debts: Iterable[LedgerEntry], *, today: date,
    method: str = Allocation.Method.AUTO,
) -> list[Allocation]:
    """Unsaved allocations: due debts oldest first (ties by kind), each paid by the oldest credits,
    its own RM account's first. ``credits``/``debts`` carry a ``remaining`` annotation."""
    by_account: dict[int, deque[_Open]] = {}
    pool: list[_Open] = []
    for entry in sorted(credits, key=lambda c: (c.effective_date, c.pk)):
        if entry.effective_date > today:
            continue
        item = _Open(entry, quantize(entry.remaining))
        if item.left > ZERO:
            by_account.setdefault(entry.program_account_id, deque()).append(item)
            pool.append(item)
    planned: list[Allocation] = []
    used_up = 0
    due_dates = selectors.DueDates()

    def debt_order(entry: LedgerEntry) -> tuple:
        return (due_dates[entry.billing_period], selectors.kind_rank(entry.kind), entry.effective_date, entry.pk)

    for debt in sorted(debts, key=debt_order):
        due = due_dates[debt.billing_period]
        if due > today:
            continue
        need = quantize(debt.remaining)
        own = by_account.get(debt.program_account_id, deque())
        others = (c for c in pool if c.entry.program_account_id != debt.program_account_id)
        for source in (own, others):
            for item in source:
                if need <= ZERO:
                    break
                if item.left <= ZERO:
                    continue
                amount = min(need, item.left)
                item.left -= amount
                need -= amount
                used_up += item.left <= ZERO
                planned.append(Allocation(
                    credit=item.entry, debt=debt, amount=amount, method=method,
                    applied_on=max(due, item.entry.effective_date),
                ))
            while own and own[0].left <= ZERO:
                own.popleft()
        if used_up * 2 > len(pool):  # keep the scan over other accounts' credits short
            pool, used_up = [c for c in pool if c.left > ZERO], 0
    return planned


def apply_offsets(*, program_account_id: int, today: date | None = None) -> int:
    """Apply the account's available credits to its due debts; the number of allocations written.

    Idempotent (a rerun finds nothing left) and safe when two run at once (row locks). Under
    ``auto_business`` the whole business's RM accounts offset together; under ``manual`` nothing
    happens.
    """
    today = today or timezone.localdate()
    with transaction.atomic():
        account = ProgramAccount.objects.filter(pk=program_account_id).first()
        if account is None:
            return 0
        business_ids = _lock_business_accounts(account.business_id)
        # Read after the lock: the preference as of now, not as of the enqueue.
        preference = Business.objects.values_list("offsetting_preference", flat=True).get(pk=account.business_id)
        if preference == Preference.MANUAL:
            return 0
        scope = _offsetting_scope(account, preference, business_ids)
        debts = list(selectors.open_debts(scope, due_by=today))
        if not debts:
            return 0
        credits = list(selectors.open_credits(scope, as_of=today))
        if not credits:
            return 0
        planned = plan_allocations(credits, debts, today=today)
        Allocation.objects.bulk_create(planned)
        return len(planned)


def enqueue_apply_offsets(program_account_ids: Iterable[int]) -> None:
    """Run ``apply_offsets_task`` for each account once the current transaction commits (outbox)."""
    for pk in dict.fromkeys(program_account_ids):
        outbox.enqueue(outbox.OFFSETS_TASK, pk)


def run_offsets(*, actor: User, program_account: ProgramAccount) -> None:
    """On demand (button, API): queue a run for an account the actor may pay for."""
    if not program_accounts_for(actor, Scope.PAYMENTS).filter(pk=program_account.pk).exists():
        raise Http404
    with transaction.atomic():
        audit.record("offsetting.run.requested", actor=actor, target=program_account,
                     acting_for=program_account.business)
        enqueue_apply_offsets([program_account.pk])


# --- Manual offsetting ---------------------------------------------------------------------------

def manual_apply(
    *, actor: User, credit_id: int, debt_ids: Iterable[int], today: date | None = None,
) -> list[Allocation]:
    """Apply one credit to chosen debts, paying each in full, or nothing at all.

    The actor needs ``Scope.PAYMENTS`` on the credit's and every debt's RM account (else 404);
    all must belong to one business. Debts need not be due yet (the importer chooses).
    """
    today = today or timezone.localdate()
    debt_ids = list(dict.fromkeys(int(pk) for pk in debt_ids))
    if not debt_ids:
        raise ApplicationError(_("Choose at least one debt to pay."), field_errors={"debts": [_("Choose at least one debt.")]})
    gated = program_accounts_for(actor, Scope.PAYMENTS)
    entries = {e.pk: e for e in LedgerEntry.objects.filter(
        pk__in=[credit_id, *debt_ids], program_account__in=gated.values("id")
    ).select_related("program_account")}
    if credit_id not in entries or any(pk not in entries for pk in debt_ids):
        raise Http404
    business_id = entries[credit_id].program_account.business_id
    if any(entries[pk].program_account.business_id != business_id for pk in debt_ids):
        raise ApplicationError(_("A credit can only pay debts of the same business."),
                               field_errors={"debts": [_("Choose debts of the credit's business.")]})
    with transaction.atomic():
        _lock_business_accounts(business_id)
        credit = selectors.credits().filter(pk=credit_id).first()
        if credit is None:
            raise ApplicationError(
                _("This entry is not a credit that can pay debts (a security deposit never pays debts)."),
                field_errors={"credit": [_("Not an available credit.")]},
            )
        if credit.effective_date > today:
            raise ApplicationError(_("This credit is not in effect yet."), field_errors={"credit": [_("Not in effect yet.")]})
        debts = {d.pk: d for d in selectors.debts().filter(pk__in=debt_ids)}
        if len(debts) != len(debt_ids):
            raise ApplicationError(_("Only debts can be paid with a credit."),
                                   field_errors={"debts": [_("One of these is not a debt.")]})
        paid = [debts[pk] for pk in debt_ids if quantize(debts[pk].remaining) <= ZERO]
        if paid:
            raise ApplicationError(
                _("Already paid: %(refs)s.") % {"refs": ", ".join(d.reference or str(d.pk) for d in paid)},
                field_errors={"debts": [_("One of these debts is already paid.")]},
            )
        needed = quantize(sum((quantize(debts[pk].remaining) for pk in debt_ids), ZERO))
        left = quantize(credit.remaining)
        if left < needed:
            raise ApplicationError(
                _("The credit has %(left)s left but the chosen debts need %(needed)s. A credit may only be "
                  "applied if it pays each chosen debt in full; partial payments are not allowed.")
                % {"left": format_cad(left), "needed": format_cad(needed)},
                field_errors={"debts": [_("The credit does not cover these debts in full.")]},
            )
        allocations = [
            Allocation(credit=credit, debt=debts[pk], amount=quantize(debts[pk].remaining), applied_on=today,
                       method=Allocation.Method.MANUAL, created_by=actor)
            for pk in debt_ids
        ]
        try:
            with transaction.atomic():
                Allocation.objects.bulk_create(allocations)
        except IntegrityError:
            raise ApplicationError(_("This credit already paid part of one of these debts; "
                                     "choose another credit.")) from None
        account = entries[credit_id].program_account
        audit.record("offsetting.manual.applied", actor=actor, target=credit, acting_for=account.business,
                     changes={"credit": credit.pk, "debts": debt_ids, "amount": str(needed)})
    return allocations


# --- Refunds ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RefundCheck:
    """Whether an RM account's credit may be refunded now, and up to how much."""

    available: Decimal          # unused credit on the account (security deposits excluded)
    reserved: Decimal           # in refunds already requested or approved
    open_debt: Decimal          # left to pay on the account (or the business, for auto_business)
    standing: Decimal           # credit that has stood on the last N statements
    threshold: Decimal
    maximum: Decimal            # the most that may be requested now (0: none)
    reason: str                 # why not, when maximum is 0

    @property
    def allowed(self) -> bool:
        return self.maximum > ZERO


def _refund_threshold() -> Decimal:
    return carm("REFUND_THRESHOLD")


def refund_threshold() -> Decimal:
    """A credit of at least this much can be refunded at once (the pages say it)."""
    return _refund_threshold()


def _refund_cycles() -> int:
    # ASSUMPTION (carm-rules §5): a smaller credit that stood on two statements running.
    return carm("REFUND_SMALL_CREDIT_CYCLES")


def refund_check(program_account: ProgramAccount, *, today: date | None = None) -> RefundCheck:
    today = today or timezone.localdate()
    business = program_account.business
    if business.offsetting_preference == Preference.AUTO_BUSINESS:
        debt_scope = list(business.program_accounts.values_list("id", flat=True))
    else:
        debt_scope = [program_account.pk]
    available = selectors.available_credit([program_account.pk])[program_account.pk]
    reserved = quantize(sum(
        Refund.objects.open().filter(program_account=program_account).values_list("amount", flat=True), ZERO
    ))
    open_debt = selectors.open_debt_total(debt_scope)
    cutoff = selectors.periods_back(selectors.last_statement_period(today), max(_refund_cycles() - 1, 0))
    standing = quantize(sum(
        (quantize(c.remaining) for c in selectors.open_credits([program_account.pk], as_of=today)
         if c.billing_period <= cutoff),
        ZERO,
    ))
    threshold = _refund_threshold()
    free = max(available - reserved, ZERO)
    reason = ""
    if business.kind != Business.Kind.IMPORTER:
        maximum, reason = ZERO, _("Refunds are paid only to importers.")
    elif open_debt > ZERO:
        maximum = ZERO
        reason = _("No refund while any debt remains (%(debt)s left to pay).") % {"debt": format_cad(open_debt)}
    elif free <= ZERO:
        maximum, reason = ZERO, _("There is no credit to refund.")
    elif available >= threshold:
        maximum = free
    elif standing > ZERO:
        maximum = min(free, max(standing - reserved, ZERO))
        if maximum <= ZERO:
            reason = _("The standing credit is already in a refund request.")
    else:
        maximum = ZERO
        reason = _(
            "A credit under %(threshold)s can be refunded once it has stood on %(n)s statements running."
        ) % {"threshold": format_cad(threshold), "n": _refund_cycles()}
    return RefundCheck(available, reserved, open_debt, standing, threshold, quantize(maximum), reason)


def refund_request(
    *, actor: User, program_account: ProgramAccount, amount: Decimal | str | None = None, reason: str = "",
    today: date | None = None,
) -> Refund:
    """The importer (or its broker, with the financial scope) asks for its credit back.

    Without ``amount``: everything that may be refunded now. Staff approve, then pay.
    """
    if not program_accounts_for(actor, Scope.PAYMENTS).filter(pk=program_account.pk).exists():
        raise Http404
    with transaction.atomic():
        _lock_business_accounts(program_account.business_id)
        program_account = ProgramAccount.objects.select_related("business").get(pk=program_account.pk)
        check = refund_check(program_account, today=today)
        if not check.allowed:
            raise ApplicationError(check.reason, field_errors={"amount": [check.reason]})
        amount = check.maximum if amount in (None, "") else quantize(amount)
        if amount <= ZERO:
            raise ApplicationError(_("Enter an amount above zero."), field_errors={"amount": [_("Above zero.")]})
        if amount > check.maximum:
            message = _("At most %(max)s can be refunded now.") % {"max": format_cad(check.maximum)}
            raise ApplicationError(message, field_errors={"amount": [message]})
        refund = Refund.objects.create(
            program_account=program_account, payee=program_account.business, amount=amount,
            reason=reason[:300], requested_by=actor,
        )
        audit.record("offsetting.refund.requested", actor=actor, target=refund,
                     acting_for=program_account.business, changes={"amount": str(amount)})
    return refund


def _require_staff(actor: User) -> None:
    require_cbsa_officer(actor)


def _locked_refund(refund: Refund) -> Refund:
    _lock_business_accounts(refund.program_account.business_id)
    return Refund.objects.select_for_update().select_related("program_account__business").get(pk=refund.pk)


def refund_approve(*, actor: User, refund: Refund) -> Refund:
    _require_staff(actor)
    with transaction.atomic():
        refund = _locked_refund(refund)
        if refund.status != Refund.Status.REQUESTED:
            raise ApplicationError(_("Only a requested refund can be approved."))
        refund.status = Refund.Status.APPROVED
        refund.approved_by = actor
        refund.approved_at = timezone.now()
        refund.save(update_fields=["status", "approved_by", "approved_at"])
        audit.record("offsetting.refund.approved", actor=actor, target=refund,
                     acting_for=refund.program_account.business)
    return refund


def refund_reject(*, actor: User, refund: Refund, reason: str = "") -> Refund:
    _require_staff(actor)
    with transaction.atomic():
        refund = _locked_refund(refund)
        if refund.status not in (Refund.Status.REQUESTED, Refund.Status.APPROVED):
            raise ApplicationError(_("Only an open refund can be rejected."))
        refund.status = Refund.Status.REJECTED
        refund.decided_by = actor
        refund.decided_at = timezone.now()
        refund.rejection_reason = reason[:300]
        refund.save(update_fields=["status", "decided_by", "decided_at", "rejection_reason"])
        audit.record("offsetting.refund.rejected", actor=actor, target=refund,
                     acting_for=refund.program_account.business, changes={"reason": reason})
    return refund


def refund_pay(*, actor: User, refund: Refund, today: date | None = None) -> Refund:
    """Pay an approved refund to the importer: a positive ``refund`` ledger entry, allocated
    against the account's credits (oldest first), which it consumes."""
    _require_staff(actor)
    today = today or timezone.localdate()
    with transaction.atomic():
        refund = _locked_refund(refund)
        if refund.status != Refund.Status.APPROVED:
            raise ApplicationError(_("Only an approved refund can be paid."))
        account = refund.program_account
        if refund.payee_id != account.business_id:
            raise ApplicationError(_("A refund is paid only to the importer that owns the RM account."))
        check = refund_check(account, today=today)
        if check.open_debt > ZERO:
            raise ApplicationError(check.reason)
        if check.available < refund.amount:
            raise ApplicationError(
                _("Only %(left)s of credit is left; reject this refund.") % {"left": format_cad(check.available)}
            )
        entry = ledger.post_entry(
            program_account=account, kind=LedgerEntry.Kind.REFUND, amount=refund.amount, effective_date=today,
            idempotency_key=f"offsetting:refund:{refund.pk}", source=refund, posted_on=today,
            description=Text("refund", payee=account.business.legal_name), created_by=actor,
        )
        need = refund.amount
        allocations = []
        for credit in selectors.open_credits([account.pk], as_of=today):
            if need <= ZERO:
                break
            amount = min(need, quantize(credit.remaining))
            need -= amount
            allocations.append(Allocation(credit=credit, debt=entry, amount=amount, applied_on=today,
                                          method=Allocation.Method.REFUND, created_by=actor))
        if need > ZERO:  # Cannot happen after the check above; never pay out more than the credit.
            raise ApplicationError(_("The credit does not cover this refund."))
        Allocation.objects.bulk_create(allocations)
        refund.status = Refund.Status.PAID
        refund.ledger_entry = entry
        refund.decided_by = actor
        refund.decided_at = timezone.now()
        refund.save(update_fields=["status", "ledger_entry", "decided_by", "decided_at"])
        audit.record("offsetting.refund.paid", actor=actor, target=refund, acting_for=account.business,
                     changes={"amount": str(refund.amount), "entry": entry.pk})
    return refund


# --- Offsetting preference ------------------------------------------------------------------------

def _is_business_manager(user: User, business: Business) -> bool:
    """The business's own BAM: the one who may use ``accounts.services.business_update``."""
    return Membership.objects.filter(
        user=user, business=business, status=Membership.Status.ACTIVE, user__is_active=True,
        program_account__isnull=True, role__in=roles_with(Right.MANAGE_USERS),
    ).exists()


def _is_member(user: User, business: Business) -> bool:
    return Membership.objects.filter(user=user, business=business, status=Membership.Status.ACTIVE).exists()


def _broker_covers_business(user: User, business: Business) -> bool:
    """A broker's employee with the financial scope (``Scope.PAYMENTS``) on every RM of the business."""
    accounts = set(business.program_accounts.values_list("id", flat=True))
    if not accounts:
        return False
    allowed = set(program_accounts_for(user, Scope.PAYMENTS).filter(business=business).values_list("id", flat=True))
    return accounts <= allowed


def can_change_preference(user: User, business: Business) -> bool:
    if not user.is_authenticated:
        return False
    if _is_member(user, business):
        return _is_business_manager(user, business)
    return _broker_covers_business(user, business)


def preference_update(*, actor: User, business: Business, preference: str) -> Business:
    """Change how the business's credits offset its debts: its BAM (through the accounts service)
    or a broker with the financial scope over all its RM accounts (checked here, audited here)."""
    if preference not in Preference.values:
        raise ApplicationError(_("Choose an offsetting preference."),
                               field_errors={"offsetting_preference": [_("Not a valid choice.")]})
    if _is_business_manager(actor, business):
        with transaction.atomic():
            business = accounts_services.business_update(
                actor=actor, business=business, offsetting_preference=preference
            )
            enqueue_apply_offsets(business.program_accounts.values_list("id", flat=True))
        return business
    if _is_member(actor, business):
        raise ApplicationError(_("Only a Business Account Manager can change the offsetting preference."))
    if not _broker_covers_business(actor, business):
        raise Http404
    with transaction.atomic():
        business = Business.objects.select_for_update().get(pk=business.pk)
        before = business.offsetting_preference
        if before != preference:
            business.offsetting_preference = preference
            business.save(update_fields=["offsetting_preference"])
            audit.record("offsetting.preference.updated", actor=actor, target=business, acting_for=business,
                         changes={"offsetting_preference": [before, preference]})
            enqueue_apply_offsets(business.program_accounts.values_list("id", flat=True))
    return business


def preference_changers(user: User, business_ids: Iterable[int]) -> set[int]:
    """Of ``business_ids``, those whose preference ``user`` may change (a fixed number of queries)."""
    business_ids = list(business_ids)
    if not user.is_authenticated or not business_ids:
        return set()
    own = Membership.objects.filter(user=user, business_id__in=business_ids, status=Membership.Status.ACTIVE,
                                    user__is_active=True)
    members = set(own.values_list("business_id", flat=True))
    managers = set(own.filter(program_account__isnull=True, role__in=roles_with(Right.MANAGE_USERS))
                   .values_list("business_id", flat=True))
    others = [pk for pk in business_ids if pk not in members]
    if not others:
        return managers
    totals = dict(ProgramAccount.objects.filter(business_id__in=others).order_by().values("business_id")
                  .annotate(n=Count("id")).values_list("business_id", "n"))
    allowed = dict(program_accounts_for(user, Scope.PAYMENTS).filter(business_id__in=others).order_by()
                   .values("business_id").annotate(n=Count("id")).values_list("business_id", "n"))
    covered = {pk for pk, n in totals.items() if n and allowed.get(pk) == n}
    return managers | covered
