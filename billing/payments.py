"""Recording payments: gated, idempotent, posted to the ledger, then offsets applied.

A payment is a ``Payment`` row plus one negative ledger entry of kind ``payment`` (the ledger
is the truth; the row holds the method, reference and who recorded it). "Applied to the oldest
debt first" is the offsetting app's job (task ``billing.offsetting.apply_offsets``, recorded in
the outbox with the payment and sent after the commit; see ``carm_portal.outbox``).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import QuerySet, Sum
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import audit
from accounts.access import program_accounts_or_all_for_officer
from accounts.models import ProgramAccount, User
from accounts.roles import Scope
from billing.ledger import services as ledger
from billing.ledger.models import LedgerEntry
from billing.ledger.texts import Text
from carm_portal import calendar, outbox
from carm_portal.conf import carm
from carm_portal.exceptions import ApplicationError
from carm_portal.money import ZERO, format_cad, quantize

from .models import Payment


def accounts_for(user: User, scope: Scope) -> QuerySet[ProgramAccount]:
    """The gate, plus CBSA officers who may act on every account."""
    return program_accounts_or_all_for_officer(user, scope)


def card_cap() -> Decimal:
    return carm("CREDIT_CARD_CYCLE_CAP")


def card_total_in_cycle(program_account: ProgramAccount, received_on: date) -> Decimal:
    """Credit-card payments of the RM received in the billing cycle of ``received_on``.

    ASSUMPTION: RPP cash deposits paid by card count too once the RPP app records them as
    card payments (they would be ``Payment`` rows with method credit_card).
    """
    cycle_end = calendar.billing_period_for(received_on)
    total = Payment.objects.filter(
        program_account=program_account, method=Payment.Method.CREDIT_CARD,
        received_on__gte=calendar.period_start(cycle_end), received_on__lte=cycle_end,
    ).aggregate(t=Sum("amount"))["t"]
    return quantize(total or ZERO)


def payment_record(
    actor: User,
    program_account: ProgramAccount,
    method: str,
    reference: str,
    amount: Decimal,
    received_on: date,
    *,
    posted_on: date | None = None,
) -> Payment:
    """Record a payment for an RM account (gate: ``Scope.PAYMENTS``; staff for anyone).

    Retries are the API's business (``Idempotency-Key``, ``carm_portal.idempotency``). A second
    payment with the same reference on the account is refused; so is a credit-card payment
    that would take the cycle's card total over ``CARM["CREDIT_CARD_CYCLE_CAP"]``.
    ``posted_on`` (default today) picks the billing period (history loaders and the demo only).
    """
    if not accounts_for(actor, Scope.PAYMENTS).filter(pk=program_account.pk).exists():
        raise Http404
    reference = (reference or "").strip()
    amount = quantize(amount)
    if method not in Payment.Method.values:
        raise ApplicationError(_("Unknown payment method."), field_errors={"method": [_("Unknown payment method.")]})
    if not reference:
        raise ApplicationError(_("A payment needs a reference."), field_errors={"reference": [_("Required.")]})
    if amount <= 0:
        raise ApplicationError(_("A payment amount must be positive."),
                               field_errors={"amount": [_("Must be greater than zero.")]})
    today = timezone.localdate()
    if received_on > today:
        raise ApplicationError(_("A payment cannot be received in the future."),
                               field_errors={"received_on": [_("Must be today or earlier.")]})
    duplicate = ApplicationError(
        _("A payment with reference %(reference)s was already recorded for this account.") % {"reference": reference},
        field_errors={"reference": [_("This reference was already used for this account.")]},
    )
    with transaction.atomic():
        # Serialize payments of one RM (the card cap is a per-cycle sum).
        ProgramAccount.objects.select_for_update().filter(pk=program_account.pk).first()
        if Payment.objects.filter(program_account=program_account, reference=reference).exists():
            raise duplicate
        if method == Payment.Method.CREDIT_CARD:
            used = card_total_in_cycle(program_account, received_on)
            if used + amount > card_cap():
                left = max(card_cap() - used, ZERO)
                message = _(
                    "Credit-card payments are capped at %(cap)s per billing cycle per RM account (deposits "
                    "included); %(used)s was already paid by card this cycle, so at most %(left)s can be paid by "
                    "card now. Use another method for the rest."
                ) % {"cap": format_cad(card_cap()), "used": format_cad(used), "left": format_cad(left)}
                raise ApplicationError(message, field_errors={"amount": [message]})
        period = calendar.posting_period(received_on, posted_on=posted_on or today)
        entry = ledger.post_entry(
            program_account=program_account, kind=LedgerEntry.Kind.PAYMENT, amount=-amount,
            effective_date=received_on, billing_period=period,
            idempotency_key=f"payment:{program_account.pk}:{reference}", reference=reference,
            description=Text("payment", method=method, ref=reference), created_by=actor,
        )
        try:
            with transaction.atomic():
                payment = Payment.objects.create(
                    program_account=program_account, method=method, reference=reference, amount=amount,
                    received_on=received_on, billing_period=period, ledger_entry=entry,
                    recorded_by=actor if actor.is_authenticated else None,
                )
        except IntegrityError:
            raise duplicate from None
        audit.record("billing.payment.recorded", actor=actor, target=payment,
                     acting_for=program_account.business,
                     changes={"method": method, "reference": reference, "amount": str(amount),
                              "received_on": received_on.isoformat()})
        # Offsetting follows the commit through the outbox: a broker that is down delays it, never loses it.
        outbox.request_offsets([program_account.pk])
    return payment
