"""The CARM readiness checklist: per RM account, what is done and what to do next.

Checks are batch functions over a list of program accounts (a constant number of queries
whatever the list size). Each app registers its own checks in its AppConfig.ready(), so the
billing, security and appeals apps can add or replace items without touching this module.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date

from django.db.models import Count
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .access import delegations_in_force
from .models import Delegation, Membership, ProgramAccount
from .roles import Role


@dataclass(frozen=True)
class Item:
    key: str
    label: str
    ok: bool
    detail: str = ""
    next_step: str = ""
    next_url: str = ""
    # Informational items (e.g. "CADs due soon") show but do not count toward the score.
    counts: bool = True


@dataclass
class AccountReadiness:
    program_account: ProgramAccount
    items: list[Item] = field(default_factory=list)

    @property
    def counted(self) -> list[Item]:
        return [i for i in self.items if i.counts]

    @property
    def score(self) -> int:
        counted = self.counted
        return round(100 * sum(i.ok for i in counted) / len(counted)) if counted else 100

    @property
    def missing(self) -> list[Item]:
        return [i for i in self.counted if not i.ok]


Check = Callable[[list[ProgramAccount], date], dict[int, Item]]
_CHECKS: dict[str, tuple[int, Check]] = {}


def register(key: str, check: Check, *, order: int = 100) -> None:
    """Add or replace a check; a later registration with the same key replaces the earlier."""
    _CHECKS[key] = (order, check)


def readiness_for(accounts: Iterable[ProgramAccount], *, today: date | None = None) -> list[AccountReadiness]:
    today = today or timezone.localdate()
    accounts = list(accounts)
    results = {pa.pk: AccountReadiness(pa) for pa in accounts}
    for _key, (_order, check) in sorted(_CHECKS.items(), key=lambda kv: kv[1][0]):
        for pk, item in check(accounts, today).items():
            results[pk].items.append(item)
    return [results[pa.pk] for pa in accounts]


# --- The foundation's checks --------------------------------------------------------------------

def _registered(accounts, today):
    return {
        pa.pk: Item(
            "registered", _("Business and RM account registered"),
            ok=pa.status == ProgramAccount.Status.ACTIVE,
            detail=_("BN %(bn)s, account %(rm)s") % {"bn": pa.business.bn9, "rm": pa.number},
            next_step="" if pa.status == ProgramAccount.Status.ACTIVE else _("Reactivate the RM account with CBSA"),
        )
        for pa in accounts
    }


def _bam(accounts, today):
    business_ids = {pa.business_id for pa in accounts}
    counts = dict(
        Membership.objects.filter(business_id__in=business_ids, role=Role.BAM, status=Membership.Status.ACTIVE)
        .values_list("business_id")
        .annotate(n=Count("id"))
    )
    out = {}
    for pa in accounts:
        n = counts.get(pa.business_id, 0)
        out[pa.pk] = Item(
            "bam", _("At least one active Business Account Manager"), ok=n >= 1,
            detail=_("%(n)d active BAM(s); two are recommended") % {"n": n},
            next_step="" if n >= 2 else _("Add a second BAM"), next_url=reverse("users"),
        )
    return out


def _delegation(accounts, today):
    business_ids = {pa.business_id for pa in accounts}
    in_force = delegations_in_force(on=today).filter(importer_id__in=business_ids)
    whole = set(in_force.filter(coverage=Delegation.Coverage.BUSINESS).values_list("importer_id", flat=True))
    per_account = set(
        in_force.filter(coverage=Delegation.Coverage.PROGRAM).values_list("program_accounts", flat=True)
    )
    out = {}
    for pa in accounts:
        ok = pa.business.accounts_itself or pa.business_id in whole or pa.pk in per_account
        detail = (
            _("The importer accounts for its own goods.") if pa.business.accounts_itself
            else _("A customs broker acts for this account.") if ok
            else _("No broker delegation in force.")
        )
        out[pa.pk] = Item(
            "delegation", _("Broker delegation in place (or self-accounting)"), ok=ok, detail=detail,
            next_step="" if ok else _("Grant a delegation to your customs broker"),
            next_url=reverse("delegations"),
        )
    return out


def _rpp(accounts, today):
    return {
        pa.pk: Item(
            "rpp", _("Enrolled in Release Prior to Payment (RPP)"),
            ok=pa.rpp_status == ProgramAccount.RppStatus.ENROLLED,
            detail=pa.get_rpp_status_display(),
            next_step="" if pa.rpp_status == ProgramAccount.RppStatus.ENROLLED else _("Enrol the RM account in RPP"),
        )
        for pa in accounts
    }


def _security(accounts, today):
    # Placeholder until the RPP security issue lands: enrolment implies security was posted.
    return {
        pa.pk: Item(
            "security", _("Posted security covers the requirement"),
            ok=pa.rpp_status == ProgramAccount.RppStatus.ENROLLED,
            detail=_("Computed from billing history once statements exist."),
            next_step="" if pa.rpp_status == ProgramAccount.RppStatus.ENROLLED else _("Post a bond or cash deposit"),
        )
        for pa in accounts
    }


def _overdue(accounts, today):
    # Placeholder until harmonized billing lands: no statement means nothing is overdue.
    return {pa.pk: Item("overdue", _("No overdue balance"), ok=True, detail=_("No statement issued yet."))
            for pa in accounts}


def _payment(accounts, today):
    out = {}
    for pa in accounts:
        b = pa.business
        ok = bool(b.payment_method and b.billing_contact_email)
        out[pa.pk] = Item(
            "payment", _("Payment method and billing contact on file"), ok=ok,
            detail=(b.get_payment_method_display() + (f" · {b.billing_contact_email}" if b.billing_contact_email else "")),
            next_step="" if ok else _("Add a payment method and billing contact"), next_url=reverse("business"),
        )
    return out


register("registered", _registered, order=10)
register("bam", _bam, order=20)
register("delegation", _delegation, order=30)
register("rpp", _rpp, order=40)
register("security", _security, order=50)
register("overdue", _overdue, order=60)
register("payment", _payment, order=70)

__all__ = ["Item", "AccountReadiness", "register", "readiness_for"]
