"""RPP read paths: posted security, shortfall and utilization per RM, and gated querysets.

Posted security per RM = bond / eWSA allocations in force on the day + cash deposits (the
ledger's ``security_deposit`` entries). A requirement asks for a bond amount *or* a cash
amount (50% vs 100% of the base), so what is posted is turned into bond terms:
``bond + cash × bond_required / cash_required``; the shortfall is the bond still missing (or its
cash equivalent), and utilization = the requirement as a share of what is posted.
Every function here is a constant number of queries, whatever the number of accounts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_UP, Decimal

from django.db.models import DecimalField, OuterRef, Prefetch, Q, QuerySet, Subquery, Sum
from django.utils import timezone

from accounts.access import program_accounts_for
from accounts.models import ProgramAccount, User
from accounts.roles import Scope
from billing.ledger.models import LedgerEntry
from carm_portal.money import CENT, ZERO, quantize

from .models import (
    Bond,
    BondAllocation,
    CashDeposit,
    Notice,
    ReductionRequest,
    RppEnrolment,
    SecurityRequirement,
)

_HUNDRED = Decimal("100")


@dataclass(frozen=True)
class SecurityPosition:
    program_account_id: int
    requirement: SecurityRequirement | None
    bond_posted: Decimal
    cash_posted: Decimal

    @property
    def posted(self) -> Decimal:
        return self.bond_posted + self.cash_posted

    @property
    def bond_equivalent(self) -> Decimal:
        req = self.requirement
        if req is None or not req.cash_amount:
            return self.bond_posted + self.cash_posted
        return quantize(self.bond_posted + self.cash_posted * req.bond_amount / req.cash_amount)

    @property
    def _missing(self) -> Decimal:
        """The bond amount missing, unrounded: bond_required − bond − cash × bond_required / cash_required."""
        req = self.requirement
        if req is None:
            return ZERO
        cash_as_bond = self.cash_posted * req.bond_amount / req.cash_amount if req.cash_amount else self.cash_posted
        return req.bond_amount - self.bond_posted - cash_as_bond

    @property
    def shortfall(self) -> Decimal:
        """The bond / eWSA amount still missing, rounded up to the cent (0 when covered): a
        cash deposit one cent short is never rounded into "covered"."""
        missing = self._missing
        return missing.quantize(CENT, rounding=ROUND_UP) if missing > 0 else ZERO

    @property
    def shortfall_cash(self) -> Decimal:
        """The same shortfall as a cash deposit."""
        req = self.requirement
        missing = self._missing
        if req is None or not req.bond_amount or missing <= 0:
            return ZERO
        return (missing * req.cash_amount / req.bond_amount).quantize(CENT, rounding=ROUND_UP)

    @property
    def covered(self) -> bool:
        return self.requirement is not None and self.shortfall == ZERO

    @property
    def utilization(self) -> Decimal | None:
        """The requirement as a percentage of posted security; None when nothing is posted."""
        if self.requirement is None:
            return None
        equivalent = self.bond_equivalent
        if equivalent <= 0:
            return None
        return (self.requirement.bond_amount * _HUNDRED / equivalent).quantize(Decimal("0.1"))

    @property
    def gauge_percent(self) -> int:
        """0–100 for drawing: a shortfall fills the gauge."""
        if self.requirement is None:
            return 0
        u = self.utilization
        return 100 if u is None else int(min(u, _HUNDRED))

    @property
    def status(self) -> str:
        """"none" (no requirement yet), "shortfall", "warning" (≥ 80% used) or "ok"."""
        from .services import warning_ratio

        if self.requirement is None:
            return "none"
        if self.shortfall > 0:
            return "shortfall"
        # The exact ratio, not the rounded percentage shown: 79.99% is not a warning.
        posted = self.requirement.bond_amount - self._missing
        if posted > 0 and self.requirement.bond_amount >= warning_ratio() * posted:
            return "warning"
        return "ok"


def _bond_total(account_ref, today: date):
    return Subquery(
        BondAllocation.objects.filter(
            program_account=account_ref, bond__effective_date__lte=today, bond__expiry_date__gte=today
        ).order_by().values("program_account").annotate(total=Sum("amount")).values("total")[:1],
        output_field=DecimalField(max_digits=14, decimal_places=2),
    )


def _cash_total(account_ref, today: date):
    return Subquery(
        LedgerEntry.objects.filter(
            program_account=account_ref, kind=LedgerEntry.Kind.SECURITY_DEPOSIT, effective_date__lte=today
        ).order_by().values("program_account").annotate(total=Sum("amount")).values("total")[:1],
        output_field=DecimalField(max_digits=14, decimal_places=2),
    )


def _position(pk, requirement, bond_total, cash_total) -> SecurityPosition:
    return SecurityPosition(
        program_account_id=pk, requirement=requirement, bond_posted=quantize(bond_total or ZERO),
        cash_posted=quantize(-(cash_total or ZERO)),  # deposits are credits (negative) in the ledger
    )


def positions_for(
    accounts: Iterable[ProgramAccount], *, today: date | None = None, with_unrequired: bool = True,
) -> dict[int, SecurityPosition]:
    """{account id: SecurityPosition} for any number of accounts: one query (the current
    requirements, with posted bonds and cash as subqueries), plus one for the accounts with no
    requirement yet when ``with_unrequired`` (readiness does not need their amounts)."""
    today = today or timezone.localdate()
    ids = [pa.pk for pa in accounts]
    if not ids:
        return {}
    out: dict[int, SecurityPosition] = {}
    for req in SecurityRequirement.objects.filter(program_account_id__in=ids, is_current=True).annotate(
        bond_total=_bond_total(OuterRef("program_account"), today), cash_total=_cash_total(OuterRef("program_account"), today)
    ):
        out[req.program_account_id] = _position(req.program_account_id, req, req.bond_total, req.cash_total)
    missing = [pk for pk in ids if pk not in out]
    if missing and with_unrequired:
        rows = ProgramAccount.objects.filter(pk__in=missing).annotate(
            bond_total=_bond_total(OuterRef("pk"), today), cash_total=_cash_total(OuterRef("pk"), today)
        ).values_list("pk", "bond_total", "cash_total")
        for pk, bond_total, cash_total in rows:
            out[pk] = _position(pk, None, bond_total, cash_total)
    for pk in missing:
        out.setdefault(pk, _position(pk, None, ZERO, ZERO))
    return out


# --- Gated querysets ----------------------------------------------------------------------------

def security_accounts(user: User, *, manage: bool = False) -> QuerySet[ProgramAccount]:
    """RM accounts whose security the user may see (or change, with ``manage``)."""
    return program_accounts_for(user, Scope.MANAGE_SECURITY if manage else Scope.SECURITY)


def enrolments_for(user: User) -> QuerySet[RppEnrolment]:
    return RppEnrolment.objects.filter(program_account__in=security_accounts(user).values("id"))


def requirements_for(user: User) -> QuerySet[SecurityRequirement]:
    return SecurityRequirement.objects.filter(program_account__in=security_accounts(user).values("id"))


def bonds_for(user: User) -> QuerySet[Bond]:
    """Bonds that cover (or belong to the importer of) an RM account the user may see; only the
    allocations to those accounts are prefetched (``visible_allocations``)."""
    visible = security_accounts(user)
    return (
        Bond.objects.filter(
            Q(allocations__program_account__in=visible.values("id"))
            | Q(business_id__in=visible.values("business_id"), allocations__isnull=True)
        )
        .distinct()
        .select_related("business")
        .prefetch_related(Prefetch(
            "allocations",
            queryset=BondAllocation.objects.filter(program_account__in=visible.values("id")).select_related("program_account"),
            to_attr="visible_allocations",
        ))
    )


def deposits_for(user: User) -> QuerySet[CashDeposit]:
    return CashDeposit.objects.filter(program_account__in=security_accounts(user).values("id")).select_related(
        "program_account", "ledger_entry"
    )


def reductions_for(user: User) -> QuerySet[ReductionRequest]:
    return ReductionRequest.objects.filter(program_account__in=security_accounts(user).values("id")).select_related(
        "program_account"
    )


def notices_for(user: User, *, manage: bool = False) -> QuerySet[Notice]:
    """Notices on an RM account the user may see (or act on, with ``manage``); a bond's notices
    only where the bond covers such an account (or covers none yet); business-wide notices of its
    importers."""
    visible = security_accounts(user, manage=manage)
    bonds = Bond.objects.filter(
        Q(allocations__program_account__in=visible.values("id"))
        | Q(business_id__in=visible.values("business_id"), allocations__isnull=True)
    )
    return Notice.objects.filter(
        Q(program_account__in=visible.values("id"))
        | Q(program_account__isnull=True, bond__isnull=False, bond__in=bonds.values("id"))
        | Q(program_account__isnull=True, bond__isnull=True, business_id__in=visible.values("business_id"))
    ).select_related("program_account", "bond")


def status_changes_since(account_ids, since):
    """(account id, changed at, status before) of the RPP status changes since ``since``, oldest first
    (one query): declarations.payment_timing reads a CAD's release-day status through it."""
    from .models import RppStatusChange

    return (RppStatusChange.objects.filter(enrolment__program_account_id__in=account_ids, changed_at__gte=since)
            .order_by("changed_at", "id").values_list("enrolment__program_account_id", "changed_at", "from_status"))
