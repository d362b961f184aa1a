"""RPP write paths: enrolment, the security requirement, bonds, cash deposits, reductions, notices.

The requirement (carm-rules §3, worked example 2), per RM account:

- the base is the highest month's amount owing among the last 12 *closed* billing periods (a
  period is named by its 17th; "closed" means it ended on or before the computation date),
  summed in SQL over the ledger: duty + SIMA + excise duty + excise tax + GST of the CAD kinds
  (``LedgerEntry.CAD_KINDS``: charge, correction, adjustment, withdrawal), grouped by
  ``billing_period``. Payments, interest, penalties, offsets and deposits are not part of it
  (the rules' default base: duties, taxes and SIMA, GST included);
- a new importer (no CAD entries in the window) uses the monthly estimate it entered;
- a bond / eWSA must cover ``CARM["RPP_BOND_SHARE"]`` (50%) of it, cash 100%; each amount is
  raised to ``CARM["RPP_MINIMUM"]`` and capped at ``CARM["RPP_MAXIMUM"]``;
- an approved reduction caps the bond amount until the next annual review.

The review year (carm-rules §3): the **binding** requirement (the current ``SecurityRequirement``)
changes only

- at enrolment (``enrolment_request``; a re-enrolment gets a fresh system-calculated amount) —
  and an account enrolled before this app existed gets its first requirement from the jobs;
- at the annual review (``annual_review``: 20 October, over the 12 months to 19 October; an
  increase is due 15 January, and RPP is suspended only when it is still short after that);
- on a reduction decision (``reduction_decide``: the same inputs, the bond capped at the amount
  approved; it holds until the next annual review).

The monthly recompute (the 26th) and the "recompute" button only refresh a ``SecurityForecast``
("if the review were today"), and the estimate form is a what-if (``estimate_what_if``): neither
touches the binding requirement. Review day and month, window and increase due date are
settings (``RPP_REVIEW_*``, ``RPP_INCREASE_DUE_*``).

Every binding computation is a new ``SecurityRequirement`` row with its 12 inputs; the previous
one stops being current. Posted security and shortfalls are read in ``selectors``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts import audit
from accounts.languages import by_language
from accounts.models import Business, Membership, ProgramAccount, User
from accounts.roles import Role
from billing.ledger.models import DUTIES_AND_TAXES_FIELDS, LedgerEntry
from billing.ledger.services import post_entry
from billing.ledger.texts import Text
from carm_portal import calendar, outbox
from carm_portal.conf import carm
from carm_portal.exceptions import ApplicationError
from carm_portal.money import ZERO, format_cad, quantize

from .models import (
    Bond,
    BondAllocation,
    CashDeposit,
    Notice,
    ReductionRequest,
    RppEnrolment,
    RppStatus,
    RppStatusChange,
    SecurityForecast,
    SecurityRequirement,
)

PERIODS = 12  # the default of CARM["RPP_REVIEW_WINDOW_MONTHS"]
EXPIRY_THRESHOLDS = (60, 30, 7)
REQUIREMENT_KINDS = tuple(str(k) for k in LedgerEntry.CAD_KINDS)


# --- Settings ----------------------------------------------------------------------------------

def bond_share() -> Decimal:
    return carm("RPP_BOND_SHARE")


def minimum() -> Decimal:
    return quantize(carm("RPP_MINIMUM"))


def maximum() -> Decimal:
    return quantize(carm("RPP_MAXIMUM"))


def grace_days() -> int:
    """Days to cover an increase outside the annual review (carm-rules §3 ASSUMPTION: 30)."""
    return carm("RPP_SHORTFALL_GRACE_DAYS")


def warning_ratio() -> Decimal:
    return carm("RPP_UTILIZATION_WARNING")


def window_months() -> int:
    """carm-rules §3: the review looks at the last 12 months (``RPP_REVIEW_WINDOW_MONTHS``)."""
    return carm("RPP_REVIEW_WINDOW_MONTHS")


# --- Calendar ----------------------------------------------------------------------------------

def last_closed_period(as_of: date) -> date:
    """The latest billing period (its 17th) that ended on or before ``as_of``."""
    period = calendar.billing_period_for(as_of)
    return period if period <= as_of else calendar.previous_period(period)


def window(as_of: date) -> list[date]:
    """The last 12 closed billing periods, oldest first."""
    return calendar.periods_ending(last_closed_period(as_of), window_months())


def annual_review_date(year: int) -> date:
    """The annual review runs on 20 October (``RPP_REVIEW_MONTH`` / ``RPP_REVIEW_DAY``), over the
    12 months to the day before (19 October)."""
    return date(year, carm("RPP_REVIEW_MONTH"), carm("RPP_REVIEW_DAY"))


def annual_review_window(year: int) -> list[date]:
    return window(annual_review_date(year) - timedelta(days=1))


def increase_due_date(review_date: date) -> date:
    """Increases from the annual review must be posted by 15 January (``RPP_INCREASE_DUE_*``), the
    first such day after the review, or RPP is suspended."""
    due = date(review_date.year, carm("RPP_INCREASE_DUE_MONTH"), carm("RPP_INCREASE_DUE_DAY"))
    return due if due > review_date else calendar.add_years(due, 1)


def last_annual_review(as_of: date) -> date:
    this_year = annual_review_date(as_of.year)
    return this_year if as_of >= this_year else annual_review_date(as_of.year - 1)


def next_annual_review(as_of: date) -> date:
    """The next review day after ``as_of`` (``as_of`` itself if it is one)."""
    this_year = annual_review_date(as_of.year)
    return this_year if as_of <= this_year else annual_review_date(as_of.year + 1)


def is_review_day(day: date) -> bool:
    return day == annual_review_date(day.year)


# --- Amounts -----------------------------------------------------------------------------------

def _clamp(amount: Decimal) -> Decimal:
    return min(max(quantize(amount), minimum()), maximum())


def amounts_for(base: Decimal) -> tuple[Decimal, Decimal]:
    """(bond, cash) for a base amount: 50% and 100%, each within the minimum and maximum."""
    return _clamp(quantize(base) * bond_share()), _clamp(base)


def monthly_totals(account_ids: Iterable[int], periods: Sequence[date]) -> dict[int, dict[date, Decimal]]:
    """{account id: {period: duties and taxes}} for the CAD kinds, one grouped SQL query."""
    dt = F(DUTIES_AND_TAXES_FIELDS[0])
    for name in DUTIES_AND_TAXES_FIELDS[1:]:
        dt = dt + F(name)
    rows = (
        LedgerEntry.objects.filter(
            program_account_id__in=list(account_ids), billing_period__in=list(periods), kind__in=REQUIREMENT_KINDS
        )
        .values("program_account_id", "billing_period")
        .annotate(total=Sum(dt))
        .order_by()
    )
    out: dict[int, dict[date, Decimal]] = {}
    for row in rows:
        out.setdefault(row["program_account_id"], {})[row["billing_period"]] = quantize(row["total"] or ZERO)
    return out


# --- Enrolment ---------------------------------------------------------------------------------

_TRANSITIONS: dict[str, set[str]] = {
    RppStatus.NOT_ENROLLED: {RppStatus.REQUESTED},
    RppStatus.WITHDRAWN: {RppStatus.REQUESTED},
    RppStatus.REQUESTED: {RppStatus.ENROLLED, RppStatus.WITHDRAWN, RppStatus.NOT_ENROLLED},
    RppStatus.ENROLLED: {RppStatus.SUSPENDED, RppStatus.WITHDRAWN},
    RppStatus.SUSPENDED: {RppStatus.ENROLLED, RppStatus.WITHDRAWN},
}
# ProgramAccount.rpp_status has no "withdrawn": a withdrawn account is not enrolled.
_ACCOUNT_STATUS = {
    RppStatus.NOT_ENROLLED: ProgramAccount.RppStatus.NOT_ENROLLED,
    RppStatus.WITHDRAWN: ProgramAccount.RppStatus.NOT_ENROLLED,
    RppStatus.REQUESTED: ProgramAccount.RppStatus.REQUESTED,
    RppStatus.ENROLLED: ProgramAccount.RppStatus.ENROLLED,
    RppStatus.SUSPENDED: ProgramAccount.RppStatus.SUSPENDED,
}


def _enrolment_locked(program_account: ProgramAccount) -> RppEnrolment:
    """The account's enrolment row, created on first use from the account's current flag."""
    initial = program_account.rpp_status if program_account.rpp_status in RppStatus.values else RppStatus.NOT_ENROLLED
    try:
        with transaction.atomic():
            RppEnrolment.objects.get_or_create(program_account=program_account, defaults={"status": initial})
    except IntegrityError:  # a concurrent first use created it
        pass
    return RppEnrolment.objects.select_for_update().select_related("program_account__business").get(
        program_account=program_account
    )


def enrolment_for(program_account: ProgramAccount) -> RppEnrolment:
    with transaction.atomic():
        return _enrolment_locked(program_account)


@transaction.atomic
def enrolment_set_status(
    *, actor: User | None, program_account: ProgramAccount, status: str, reason: str = "",
    enrolment: RppEnrolment | None = None,
) -> RppEnrolment:
    """Move an enrolment to ``status`` (checked against the allowed moves), record the change and
    keep ``ProgramAccount.rpp_status`` in sync."""
    enrolment = enrolment or _enrolment_locked(program_account)
    old = enrolment.status
    if status == old:
        return enrolment
    if status not in _TRANSITIONS.get(old, set()):
        raise ApplicationError(
            _("An enrolment that is %(old)s cannot become %(new)s.")
            % {"old": RppStatus(old).label, "new": RppStatus(status).label},
            field_errors={"status": [_("This change is not allowed.")]},
        )
    now = timezone.now()
    enrolment.status = status
    enrolment.status_changed_at = now
    if status == RppStatus.REQUESTED:
        enrolment.requested_at = now
        enrolment.requested_by = actor if actor is not None and actor.is_authenticated else None
    enrolment.save()
    RppStatusChange.objects.create(
        enrolment=enrolment, from_status=old, to_status=status, reason=reason[:300], changed_at=now,
        actor=actor if actor is not None and actor.is_authenticated else None,
    )
    account_status = _ACCOUNT_STATUS[status]
    ProgramAccount.objects.filter(pk=program_account.pk).update(rpp_status=account_status)
    program_account.rpp_status = account_status
    audit.record(
        "rpp.enrolment.status_changed", actor=actor, target=program_account, acting_for=program_account.business,
        changes={"from": old, "to": status, "reason": reason},
    )
    if status == RppStatus.SUSPENDED:
        _notify(
            business=program_account.business, program_account=program_account, kind=Notice.Kind.SUSPENDED,
            key=f"suspended:{enrolment.pk}:{now.isoformat()}",
            params={"rm": program_account.number, "reason": reason},
        )
    return enrolment


@transaction.atomic
def enrolment_request(
    *, actor: User, program_account: ProgramAccount, monthly_estimate: Decimal | None = None, reason: str = "",
) -> RppEnrolment:
    """Ask for RPP: the enrolment becomes "requested" and a fresh requirement is computed (a
    re-enrolment gets a fresh system-calculated amount). It becomes "enrolled" once the posted
    security covers the requirement (``sync_with_security``)."""
    if not program_account.is_importer_account:
        raise ApplicationError(_("Only an import (RM) account can enrol in RPP."))
    enrolment = _enrolment_locked(program_account)
    if enrolment.status not in (RppStatus.NOT_ENROLLED, RppStatus.WITHDRAWN):
        raise ApplicationError(
            _("This RM account is already %(status)s.") % {"status": enrolment.get_status_display().lower()}
        )
    if monthly_estimate is not None:
        enrolment.monthly_estimate = _check_estimate(monthly_estimate)
        enrolment.save(update_fields=["monthly_estimate"])
    enrolment_set_status(
        actor=actor, program_account=program_account, status=RppStatus.REQUESTED, enrolment=enrolment,
        reason=reason or _("Enrolment requested in the portal."),
    )
    requirements_compute([program_account], trigger=SecurityRequirement.Trigger.ENROLMENT, actor=actor)
    sync_with_security([program_account])
    return RppEnrolment.objects.get(pk=enrolment.pk)


def _check_estimate(value: Decimal) -> Decimal:
    value = quantize(value)
    if value < 0:
        raise ApplicationError(
            _("The estimate cannot be negative."), field_errors={"monthly_estimate": [_("Enter 0 or more.")]}
        )
    return value


@dataclass(frozen=True)
class WhatIf:
    """The security a monthly estimate would call for, next to the binding requirement (a what-if:
    nothing is stored; the binding requirement changes only at enrolment, the review, a reduction)."""

    monthly_estimate: Decimal
    bond_amount: Decimal
    cash_amount: Decimal
    current_bond_amount: Decimal | None
    current_cash_amount: Decimal | None

    @property
    def bond_difference(self) -> Decimal | None:
        return None if self.current_bond_amount is None else self.bond_amount - self.current_bond_amount


def estimate_what_if(*, actor: User | None, program_account: ProgramAccount, monthly_estimate: Decimal) -> WhatIf:
    """What if the importer's monthly duties and taxes were ``monthly_estimate``? The bond (50%) and
    cash (100%) amounts, within the minimum and maximum. Writes nothing: the estimate that counts is
    the one given at enrolment (``enrolment_request``)."""
    estimate = _check_estimate(monthly_estimate)
    bond, cash = amounts_for(estimate)
    current = SecurityRequirement.objects.filter(program_account=program_account, is_current=True).first()
    return WhatIf(
        monthly_estimate=estimate, bond_amount=bond, cash_amount=cash,
        current_bond_amount=current.bond_amount if current else None,
        current_cash_amount=current.cash_amount if current else None,
    )


# --- The requirement ---------------------------------------------------------------------------

@transaction.atomic
def requirements_compute(
    accounts: Sequence[ProgramAccount], *, trigger: str, as_of: date | None = None, actor: User | None = None,
) -> list[SecurityRequirement]:
    """Compute and store the requirement of each account (a constant number of queries)."""
    accounts = list(accounts)
    if not accounts:
        return []
    as_of = as_of or timezone.localdate()
    if trigger == SecurityRequirement.Trigger.ANNUAL_REVIEW:
        periods = window(as_of - timedelta(days=1))  # the 12 months to 19 October
    else:
        periods = window(as_of)
    ids = [pa.pk for pa in accounts]
    # Serialize computations per account (two at once would both see no current row), in id
    # order so two batches never deadlock.
    list(ProgramAccount.objects.select_for_update().filter(pk__in=ids).order_by("pk").values_list("pk", flat=True))
    totals, estimates = _inputs(ids, periods)
    previous = {
        r.program_account_id: r
        for r in SecurityRequirement.objects.filter(program_account_id__in=ids, is_current=True)
    }
    reductions: dict[int, ReductionRequest] = {}
    if trigger == SecurityRequirement.Trigger.REDUCTION:
        # An approved reduction holds until the next annual review (a re-enrolment starts afresh).
        since = last_annual_review(as_of)
        for rr in ReductionRequest.objects.filter(
            program_account_id__in=ids, status=ReductionRequest.Status.APPROVED, decided_at__date__gte=since
        ).order_by("decided_at", "id"):
            reductions[rr.program_account_id] = rr  # the latest decision wins
    share, low, high = bond_share(), minimum(), maximum()
    created = []
    for pa in accounts:
        months, highest_period, highest, basis, base, estimate = _base_for(pa.pk, periods, totals, estimates)
        bond, cash = amounts_for(base)
        reduction = reductions.get(pa.pk)
        if reduction is not None and reduction.approved_amount is not None and reduction.approved_amount < bond:
            basis = SecurityRequirement.Basis.REDUCTION
            bond = quantize(reduction.approved_amount)
            cash = _clamp(bond / share)
        else:
            reduction = None
        prev = previous.get(pa.pk)
        prev_bond = prev.bond_amount if prev is not None else None
        if trigger == SecurityRequirement.Trigger.ANNUAL_REVIEW:
            due = increase_due_date(as_of)
        elif prev is not None and prev_bond is not None and bond <= prev_bond:
            due = prev.due_date  # no increase: the date to cover does not move
        else:
            due = as_of + timedelta(days=grace_days())
        created.append(SecurityRequirement(
            program_account=pa, basis=basis, trigger=trigger, as_of=as_of,
            first_period=periods[0], last_period=periods[-1],
            monthly_totals=[{"period": p.isoformat(), "amount": str(a)} for p, a in months],
            highest_month=highest, highest_period=highest_period,
            monthly_estimate=estimate if basis != SecurityRequirement.Basis.HISTORY else None,
            base_amount=base, bond_share=share, minimum=low, maximum=high, bond_amount=bond, cash_amount=cash,
            previous_bond_amount=prev_bond, due_date=due, reduction=reduction, is_current=True,
            computed_by=actor if actor is not None and actor.is_authenticated else None,
        ))
    SecurityRequirement.objects.filter(program_account_id__in=ids, is_current=True).update(is_current=False)
    created = SecurityRequirement.objects.bulk_create(created)
    if actor is not None:
        for req in created:
            audit.record("rpp.requirement.computed", actor=actor, target=req.program_account,
                         acting_for=req.program_account.business,
                         changes={"bond": req.bond_amount, "cash": req.cash_amount, "trigger": trigger})
    return created


def _inputs(ids: list[int], periods: Sequence[date]) -> tuple[dict, dict]:
    """(monthly totals by account, monthly estimates by account): two queries."""
    estimates = dict(RppEnrolment.objects.filter(program_account_id__in=ids).values_list(
        "program_account_id", "monthly_estimate"
    ))
    return monthly_totals(ids, periods), estimates


def _base_for(pk: int, periods: Sequence[date], totals: dict, estimates: dict):
    """(months, highest period, highest month, basis, base, estimate) of one account: the highest
    month of the window, or the enrolment estimate when there is no history."""
    by_period = totals.get(pk, {})
    months = [(p, by_period.get(p, ZERO)) for p in periods]
    highest_period, highest = max(months, key=lambda m: (m[1], m[0]))
    if highest < ZERO:
        highest = ZERO
    estimate = estimates.get(pk)
    if by_period:
        return months, highest_period, highest, SecurityRequirement.Basis.HISTORY, highest, estimate
    return months, None, highest, SecurityRequirement.Basis.ESTIMATE, quantize(estimate or ZERO), estimate


@transaction.atomic
def forecasts_compute(accounts: Sequence[ProgramAccount], *, as_of: date | None = None) -> list[SecurityForecast]:
    """"If the review were today": the requirement the annual review would set over the 12 months to
    yesterday, stored apart (one ``SecurityForecast`` per RM). Never binding; constant queries."""
    accounts = list(accounts)
    if not accounts:
        return []
    as_of = as_of or timezone.localdate()
    periods = window(as_of - timedelta(days=1))
    ids = [pa.pk for pa in accounts]
    list(ProgramAccount.objects.select_for_update().filter(pk__in=ids).order_by("pk").values_list("pk", flat=True))
    totals, estimates = _inputs(ids, periods)
    rows = []
    for pa in accounts:
        months, highest_period, highest, basis, base, _estimate = _base_for(pa.pk, periods, totals, estimates)
        bond, cash = amounts_for(base)
        rows.append(SecurityForecast(
            program_account=pa, basis=basis, as_of=as_of, first_period=periods[0], last_period=periods[-1],
            monthly_totals=[{"period": p.isoformat(), "amount": str(a)} for p, a in months],
            highest_month=highest, highest_period=highest_period, base_amount=base, bond_amount=bond,
            cash_amount=cash, computed_at=timezone.now(),
        ))
    SecurityForecast.objects.filter(program_account_id__in=ids).delete()
    return SecurityForecast.objects.bulk_create(rows)


def _initial_requirements(accounts: Sequence[ProgramAccount], *, as_of: date, actor: User | None = None) -> None:
    """Accounts in the program with no requirement at all (enrolled before this app existed) get
    their first one: the requirement at enrolment."""
    ids = [pa.pk for pa in accounts]
    # Locked first (id order), so two runs at once create one first requirement, not two.
    list(ProgramAccount.objects.select_for_update().filter(pk__in=ids).order_by("pk").values_list("pk", flat=True))
    have = set(SecurityRequirement.objects.filter(program_account_id__in=ids, is_current=True)
               .values_list("program_account_id", flat=True))
    missing = [pa for pa in accounts if pa.pk not in have]
    if missing:
        requirements_compute(missing, trigger=SecurityRequirement.Trigger.ENROLMENT, as_of=as_of, actor=actor)


def requirement_recompute(*, actor: User | None, program_account: ProgramAccount,
                          today: date | None = None) -> SecurityRequirement:
    """On demand (button / API): refresh the forecast. The binding requirement does not move
    (it is only created, at enrolment terms, for an account that has none yet)."""
    today = today or timezone.localdate()
    with transaction.atomic():
        _initial_requirements([program_account], as_of=today, actor=actor)
        forecasts_compute([program_account], as_of=today)
        sync_with_security([program_account], today=today)
    if actor is not None:
        audit.record("rpp.forecast.computed", actor=actor, target=program_account,
                     acting_for=program_account.business)
    return SecurityRequirement.objects.get(program_account=program_account, is_current=True)


def _accounts_in_program(statuses) -> list[ProgramAccount]:
    # ProgramAccount.rpp_status (kept in sync by enrolment_set_status) also covers accounts
    # enrolled before this app existed, which have no RppEnrolment row yet.
    return list(
        ProgramAccount.objects.filter(
            activity=ProgramAccount.Activity.IMPORTER, rpp_status__in=[str(s) for s in statuses]
        ).select_related("business").order_by("id")
    )


def annual_review(*, review_date: date | None = None, batch_size: int = 500) -> int:
    """20 October: recompute every account in the program over the 12 months to 19 October.

    Only importers whose amount changes are notified; increases are due by 15 January. A rerun on
    the same review date is a no-op (accounts already reviewed that day are skipped).
    """
    review_date = review_date or timezone.localdate()
    accounts = _accounts_in_program([RppStatus.REQUESTED, RppStatus.ENROLLED, RppStatus.SUSPENDED])
    reviewed = set(SecurityRequirement.objects.filter(
        is_current=True, trigger=SecurityRequirement.Trigger.ANNUAL_REVIEW, as_of=review_date,
    ).values_list("program_account_id", flat=True))
    accounts = [pa for pa in accounts if pa.pk not in reviewed]
    done = 0
    for start in range(0, len(accounts), batch_size):
        chunk = accounts[start:start + batch_size]
        with transaction.atomic():
            reqs = requirements_compute(chunk, trigger=SecurityRequirement.Trigger.ANNUAL_REVIEW, as_of=review_date)
            forecasts_compute(chunk, as_of=review_date)
            for req in reqs:
                if req.previous_bond_amount is not None and req.previous_bond_amount != req.bond_amount:
                    _requirement_changed_notice(req)
            sync_with_security(chunk, today=review_date)
        done += len(chunk)
    return done


def annual_review_if_due(*, today: date | None = None) -> int:
    """The daily beat entry: run the annual review on the configured review day only."""
    today = today or timezone.localdate()
    return annual_review(review_date=today) if is_review_day(today) else 0


def monthly_recompute(*, as_of: date | None = None, batch_size: int = 500) -> int:
    """The 26th, after the billing cycle: refresh every account's *forecast* ("if the review were
    today"). The binding requirement does not move (accounts without one get their first)."""
    as_of = as_of or timezone.localdate()
    accounts = _accounts_in_program([RppStatus.REQUESTED, RppStatus.ENROLLED, RppStatus.SUSPENDED])
    for start in range(0, len(accounts), batch_size):
        chunk = accounts[start:start + batch_size]
        with transaction.atomic():
            _initial_requirements(chunk, as_of=as_of)
            forecasts_compute(chunk, as_of=as_of)
            sync_with_security(chunk, today=as_of)
    shortfall_notices(accounts, today=as_of)
    from .forecast import forecast_gap_notices  # forecast builds on this module

    for start in range(0, len(accounts), batch_size):
        forecast_gap_notices(accounts[start:start + batch_size], today=as_of)
    return len(accounts)


# --- Instruments -------------------------------------------------------------------------------

def _positive(value: Decimal, field: str) -> Decimal:
    value = quantize(value)
    if value <= 0:
        raise ApplicationError(_("The amount must be more than zero."), field_errors={field: [_("Enter more than 0.")]})
    return value


@transaction.atomic
def bond_record(
    *, actor: User, business: Business, surety_name: str, bond_number: str, amount: Decimal,
    effective_date: date, expiry_date: date, allocations: Sequence[tuple[ProgramAccount, Decimal]],
    kind: str = Bond.Kind.EWSA,
) -> Bond:
    """Record a bond / eWSA and split it across the importer's RM accounts."""
    amount = _positive(amount, "amount")
    bond_number = bond_number.strip().upper()
    if not bond_number:
        raise ApplicationError(_("Enter the bond number."), field_errors={"bond_number": [_("Required.")]})
    if expiry_date < effective_date:
        raise ApplicationError(_("The bond expires before it takes effect."),
                               field_errors={"expiry_date": [_("Must be on or after the effective date.")]})
    if Bond.objects.filter(bond_number=bond_number).exists():
        raise ApplicationError(_("A bond with this number is already recorded."),
                               field_errors={"bond_number": [_("This bond number is already recorded.")]})
    try:
        with transaction.atomic():
            bond = Bond.objects.create(
                business=business, kind=kind, surety_name=surety_name.strip(), bond_number=bond_number, amount=amount,
                effective_date=effective_date, expiry_date=expiry_date, created_by=actor,
            )
    except IntegrityError:
        raise ApplicationError(_("A bond with this number is already recorded."),
                               field_errors={"bond_number": [_("This bond number is already recorded.")]}) from None
    for program_account, share in allocations:
        if share is not None and quantize(share) > 0:
            bond_allocate(actor=actor, bond=bond, program_account=program_account, amount=share, _audit=False)
    audit.record("rpp.bond.recorded", actor=actor, target=bond, acting_for=business, changes={
        "amount": amount, "allocations": {pa.number: str(quantize(a)) for pa, a in allocations if a},
    })
    sync_with_security([pa for pa, a in allocations if a])
    return bond


@transaction.atomic
def bond_allocate(
    *, actor: User, bond: Bond, program_account: ProgramAccount, amount: Decimal, _audit: bool = True,
) -> BondAllocation:
    """Set how much of ``bond`` covers ``program_account``. The bond row is locked so two
    allocations at once cannot together exceed it."""
    amount = _positive(amount, "amount")
    bond = Bond.objects.select_for_update().get(pk=bond.pk)
    if program_account.business_id != bond.business_id:
        raise ApplicationError(_("A bond covers only its importer's own RM accounts."),
                               field_errors={"program_account": [_("Not an RM account of this importer.")]})
    if not program_account.is_importer_account:
        raise ApplicationError(_("Only an import (RM) account can be covered."),
                               field_errors={"program_account": [_("Not an import account.")]})
    if amount > maximum():
        raise ApplicationError(
            _("A bond covers at most %(max)s per RM account.") % {"max": format_cad(maximum())},
            field_errors={"amount": [_("Too high.")]},
        )
    others = (
        BondAllocation.objects.filter(bond=bond).exclude(program_account=program_account)
        .aggregate(total=Sum("amount"))["total"] or ZERO
    )
    if others + amount > bond.amount:
        raise ApplicationError(
            _("The allocations (%(total)s) would exceed the bond amount (%(bond)s).")
            % {"total": format_cad(others + amount), "bond": format_cad(bond.amount)},
            field_errors={"amount": [_("Only %(left)s of the bond is left.") % {"left": format_cad(bond.amount - others)}]},
        )
    allocation, _created = BondAllocation.objects.update_or_create(
        bond=bond, program_account=program_account, defaults={"amount": amount}
    )
    if _audit:
        audit.record("rpp.bond.allocated", actor=actor, target=bond, acting_for=bond.business,
                     changes={"program_account": program_account.number, "amount": amount})
        sync_with_security([program_account])
    return allocation


@transaction.atomic
def cash_deposit_record(
    *, actor: User, program_account: ProgramAccount, amount: Decimal, received_date: date, reference: str = "",
) -> CashDeposit:
    """Record cash security: a ``security_deposit`` ledger entry (a negative amount: money CBSA
    holds for the importer). Kept apart from payments; offsetting never applies it to debts."""
    amount = _positive(amount, "amount")
    if not program_account.is_importer_account:
        raise ApplicationError(_("Only an import (RM) account takes RPP security."))
    deposit = CashDeposit.objects.create(
        program_account=program_account, amount=amount, received_date=received_date, reference=reference[:40],
        created_by=actor,
    )
    entry = post_entry(
        program_account=program_account, kind=LedgerEntry.Kind.SECURITY_DEPOSIT, effective_date=received_date,
        idempotency_key=f"rpp:cash-deposit:{deposit.pk}", amount=-amount, source=deposit,
        reference=reference or f"RPP-{deposit.pk}", description=Text("rpp_cash_deposit"), created_by=actor,
    )
    deposit.ledger_entry = entry
    deposit.save(update_fields=["ledger_entry"])
    audit.record("rpp.cash_deposit.recorded", actor=actor, target=program_account,
                 acting_for=program_account.business, changes={"amount": amount, "received": received_date})
    sync_with_security([program_account])
    return deposit


# --- Reductions --------------------------------------------------------------------------------

@transaction.atomic
def reduction_request(
    *, actor: User, program_account: ProgramAccount, requested_amount: Decimal, rationale: str,
) -> ReductionRequest:
    requirement = SecurityRequirement.objects.filter(program_account=program_account, is_current=True).first()
    if requirement is None:
        raise ApplicationError(_("Compute the requirement before asking for a reduction."))
    requested_amount = quantize(requested_amount)
    if not rationale.strip():
        raise ApplicationError(_("A reduction request needs a rationale."),
                               field_errors={"rationale": [_("Explain why a lower amount is enough.")]})
    if requested_amount >= requirement.bond_amount:
        raise ApplicationError(
            _("Ask for less than the current bond requirement (%(amount)s).") % {"amount": format_cad(requirement.bond_amount)},
            field_errors={"requested_amount": [_("Must be lower than the requirement.")]},
        )
    if requested_amount < minimum():
        raise ApplicationError(
            _("The amount cannot be below the minimum of %(min)s.") % {"min": format_cad(minimum())},
            field_errors={"requested_amount": [_("Below the minimum.")]},
        )
    if ReductionRequest.objects.filter(program_account=program_account, status=ReductionRequest.Status.PENDING).exists():
        raise ApplicationError(_("A reduction request for this RM account is already under review."))
    rr = ReductionRequest.objects.create(
        program_account=program_account, requirement=requirement, requested_amount=requested_amount,
        rationale=rationale.strip(), requested_by=actor,
    )
    audit.record("rpp.reduction.requested", actor=actor, target=program_account,
                 acting_for=program_account.business, changes={"requested_amount": requested_amount})
    return rr


@transaction.atomic
def reduction_decide(
    *, actor: User, reduction: ReductionRequest, approve: bool, approved_amount: Decimal | None = None, note: str = "",
) -> ReductionRequest:
    """CBSA officer: approve (at ``approved_amount``, default the requested amount) or reject."""
    from accounts.access import require_cbsa_officer

    require_cbsa_officer(actor)
    rr = ReductionRequest.objects.select_for_update().select_related("program_account__business").get(pk=reduction.pk)
    if rr.status != ReductionRequest.Status.PENDING:
        raise ApplicationError(_("This request was already decided."))
    rr.decided_by, rr.decided_at, rr.decision_note = actor, timezone.now(), note[:300]
    if approve:
        amount = quantize(approved_amount if approved_amount is not None else rr.requested_amount)
        if amount < minimum():
            raise ApplicationError(
                _("The amount cannot be below the minimum of %(min)s.") % {"min": format_cad(minimum())},
                field_errors={"approved_amount": [_("Below the minimum.")]},
            )
        rr.status, rr.approved_amount = ReductionRequest.Status.APPROVED, amount
    else:
        rr.status = ReductionRequest.Status.REJECTED
    rr.save()
    audit.record(f"rpp.reduction.{rr.status}", actor=actor, target=rr.program_account,
                 acting_for=rr.program_account.business, changes={"approved_amount": rr.approved_amount, "note": note})
    if approve:
        _reduced_requirement(rr, actor=actor)
        sync_with_security([rr.program_account])
    return rr


def _reduced_requirement(rr: ReductionRequest, *, actor: User | None) -> SecurityRequirement | None:
    """A reduction decision changes the binding requirement: the same inputs as the current one
    (no new history sneaks in between reviews), the bond capped at the approved amount."""
    list(ProgramAccount.objects.select_for_update().filter(pk=rr.program_account_id).values_list("pk", flat=True))
    current = SecurityRequirement.objects.filter(program_account_id=rr.program_account_id, is_current=True).first()
    if current is None or rr.approved_amount is None or rr.approved_amount >= current.bond_amount:
        return None
    bond = quantize(rr.approved_amount)
    reduced = SecurityRequirement(
        program_account=rr.program_account, basis=SecurityRequirement.Basis.REDUCTION,
        trigger=SecurityRequirement.Trigger.REDUCTION, as_of=timezone.localdate(),
        first_period=current.first_period, last_period=current.last_period, monthly_totals=current.monthly_totals,
        highest_month=current.highest_month, highest_period=current.highest_period,
        monthly_estimate=current.monthly_estimate, base_amount=current.base_amount, bond_share=current.bond_share,
        minimum=current.minimum, maximum=current.maximum, bond_amount=bond, cash_amount=_clamp(bond / bond_share()),
        previous_bond_amount=current.bond_amount, due_date=current.due_date, reduction=rr, is_current=True,
        computed_by=actor if actor is not None and actor.is_authenticated else None,
    )
    SecurityRequirement.objects.filter(pk=current.pk).update(is_current=False)
    reduced.save()
    audit.record("rpp.requirement.computed", actor=actor, target=rr.program_account,
                 acting_for=rr.program_account.business,
                 changes={"bond": reduced.bond_amount, "cash": reduced.cash_amount, "trigger": reduced.trigger})
    return reduced


# --- Security versus enrolment -----------------------------------------------------------------

def sync_with_security(accounts: Sequence[ProgramAccount], *, today: date | None = None) -> None:
    """Requested, or suspended, accounts whose posted security now covers the requirement become
    enrolled (the system acts, so the history shows no user)."""
    from .selectors import positions_for

    accounts = [pa for pa in accounts if pa is not None]
    if not accounts:
        return
    today = today or timezone.localdate()
    waiting = {
        e.program_account_id: e for e in RppEnrolment.objects.filter(
            program_account_id__in=[pa.pk for pa in accounts], status__in=[RppStatus.REQUESTED, RppStatus.SUSPENDED]
        )
    }
    if not waiting:
        return
    positions = positions_for([pa for pa in accounts if pa.pk in waiting], today=today)
    for pa in accounts:
        pos = positions.get(pa.pk)
        if pa.pk in waiting and pos is not None and pos.covered:
            was = waiting[pa.pk].status
            enrolment_set_status(
                actor=None, program_account=pa, status=RppStatus.ENROLLED,
                reason=_("Posted security covers the requirement.") if was == RppStatus.REQUESTED
                else _("Reinstated: posted security covers the requirement again."),
            )


def suspends_when_short(requirement: SecurityRequirement | None) -> bool:
    """carm-rules §3 (ASSUMPTION): RPP is suspended only when an increase set by a review is not
    posted by its deadline (15 January for the annual review). Another shortfall (a bond that
    expired, a deposit drawn) is warned about, never suspended for."""
    return (requirement is not None and requirement.trigger == SecurityRequirement.Trigger.ANNUAL_REVIEW
            and requirement.is_increase)


def enforce_due_dates(*, today: date | None = None) -> int:
    """Suspend enrolled accounts still short of an annual-review increase after its due date."""
    from .selectors import positions_for

    today = today or timezone.localdate()
    accounts = _accounts_in_program([RppStatus.ENROLLED])
    positions = positions_for(accounts, today=today)
    suspended = 0
    for pa in accounts:
        pos = positions[pa.pk]
        if suspends_when_short(pos.requirement) and pos.shortfall > 0 and pos.requirement.due_date < today:
            with transaction.atomic():
                enrolment_set_status(
                    actor=None, program_account=pa, status=RppStatus.SUSPENDED,
                    reason=_("The security shortfall of %(amount)s was not covered by %(due)s.")
                    % {"amount": format_cad(pos.shortfall), "due": pos.requirement.due_date.isoformat()},
                )
            suspended += 1
    return suspended


# --- Notices -----------------------------------------------------------------------------------

def _recipients(business: Business) -> list[str]:
    emails = set(
        Membership.objects.filter(
            business=business, role=Role.BAM, status=Membership.Status.ACTIVE, user__is_active=True
        ).values_list("user__email", flat=True)
    )
    if business.billing_contact_email:
        emails.add(business.billing_contact_email)
    return sorted(emails)


def _notify(*, business: Business, kind: str, key: str, params: dict,
            program_account: ProgramAccount | None = None, bond: Bond | None = None,
            threshold_days: int | None = None) -> Notice | None:
    """Create the notice once (``key`` is unique) and email it after commit. None: sent before.

    ``params`` are the sender's values (amounts as strings, dates ISO); the text is rendered from
    them (``notice_text.render``) for the email, and again for each reader of the page."""
    from .notice_text import render

    if Notice.objects.filter(key=key).exists():
        return None
    text = render(kind, params)
    subject, body = text.subject, text.body
    recipients = _recipients(business)
    try:
        with transaction.atomic():
            notice = Notice.objects.create(
                business=business, program_account=program_account, bond=bond, kind=kind, key=key[:120],
                threshold_days=threshold_days, subject=subject[:200], body=body, params=params, emailed_to=", ".join(recipients)[:500],
            )
    except IntegrityError:  # a concurrent run wrote it first
        return None
    # Each recipient reads the email in their own language (amounts in its money format).
    for language, emails in by_language(recipients).items():
        with translation.override(language):
            text = render(kind, params)
        outbox.send_mail_later(text.subject, text.body, emails)
    return notice


def _requirement_changed_notice(req: SecurityRequirement) -> Notice | None:
    from .notice_text import requirement_changed_params  # the same words when sent and when shown

    pa = req.program_account
    return _notify(
        business=pa.business, program_account=pa, kind=Notice.Kind.REQUIREMENT_CHANGED, key=f"requirement:{req.pk}",
        params=requirement_changed_params(req),
    )


def shortfall_notices(accounts: Sequence[ProgramAccount], *, today: date | None = None) -> list[Notice]:
    """One notice per requirement and shortfall amount (a rerun sends nothing new)."""
    from .selectors import positions_for

    today = today or timezone.localdate()
    accounts = list(accounts)
    positions = positions_for(accounts, today=today)
    sent = []
    for pa in accounts:
        pos = positions[pa.pk]
        if pos.requirement is None or pos.shortfall <= 0:
            continue
        notice = _notify(
            business=pa.business, program_account=pa, kind=Notice.Kind.SHORTFALL,
            key=f"shortfall:{pos.requirement.pk}:{pos.shortfall}",
            params={"rm": pa.number, "shortfall": str(pos.shortfall), "cash": str(pos.shortfall_cash),
                    "due": pos.requirement.due_date.isoformat(), "required": str(pos.requirement.bond_amount),
                    "suspends": suspends_when_short(pos.requirement)},
        )
        if notice is not None:
            sent.append(notice)
    return sent


def bond_expiry_notices(*, today: date | None = None) -> list[Notice]:
    """Bonds expiring within 60, 30 or 7 days: one notice per bond and threshold, ever."""
    today = today or timezone.localdate()
    sent = []
    horizon = today + timedelta(days=max(EXPIRY_THRESHOLDS))
    bonds = Bond.objects.filter(expiry_date__gte=today, expiry_date__lte=horizon).select_related("business")
    for bond in bonds:
        days_left = (bond.expiry_date - today).days
        # The tightest threshold reached; a bond first seen at 20 days left gets the 30-day notice only.
        threshold = min(t for t in EXPIRY_THRESHOLDS if days_left <= t)
        with transaction.atomic():
            notice = _notify(
                business=bond.business, bond=bond, kind=Notice.Kind.BOND_EXPIRY, threshold_days=threshold,
                key=f"bond-expiry:{bond.pk}:{threshold}",
                params={"number": bond.bond_number, "days": days_left, "kind": bond.kind, "surety": bond.surety_name,
                        "amount": str(bond.amount), "date": bond.expiry_date.isoformat()},
            )
        if notice is not None:
            sent.append(notice)
    return sent


def daily(*, today: date | None = None) -> dict[str, int]:
    """The daily job: bond expiry notices, shortfall notices, and suspension after the due date."""
    today = today or timezone.localdate()
    expiry = bond_expiry_notices(today=today)
    accounts = _accounts_in_program([RppStatus.REQUESTED, RppStatus.ENROLLED])
    shortfalls = shortfall_notices(accounts, today=today)
    suspended = enforce_due_dates(today=today)
    return {"expiry_notices": len(expiry), "shortfall_notices": len(shortfalls), "suspended": suspended}


@transaction.atomic
def notice_mark_read(*, notice: Notice) -> Notice:
    if notice.read_at is None:
        notice.read_at = timezone.now()
        notice.save(update_fields=["read_at"])
    return notice
