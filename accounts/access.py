"""The one access gate.

"Which program accounts may this user act on, for this scope, today?" Every view, API
queryset, file download and task that serves a user starts from ``program_accounts_for``
(or a helper below built on it). Anything outside answers 404, never 403: we do not
confirm that another importer's object exists.

Two ways in:
- an employee of the business: an active membership whose role grants the scope's right
  (BAM and business-wide Editor/Reader: every RM; PAM and RM-bound roles: that RM only);
- a customs broker's employee: the broker firm holds a delegation that is active, started,
  not expired and not revoked, whose visibility flags include the scope, *and* the employee's
  role in the broker firm grants the right. A broker BAM/PAM acts for every client of the
  firm; other broker employees only for clients in their client groups.
"""

from __future__ import annotations

from datetime import date

from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone

from .models import Business, ClientGroup, Delegation, Membership, ProgramAccount, User
from .roles import Right, Role, Scope, roles_with

__all__ = [
    "Scope",
    "program_accounts_for",
    "businesses_for",
    "can",
    "get_program_account_or_404",
    "get_business_or_404",
    "delegations_in_force",
    "managed_businesses",
    "active_memberships",
]


def active_memberships(user: User) -> QuerySet[Membership]:
    """The user's active memberships (an inactive user has none that count)."""
    return Membership.objects.filter(user=user, status=Membership.Status.ACTIVE, user__is_active=True)


def delegations_in_force(*, on: date | None = None) -> QuerySet[Delegation]:
    """Delegations that let a broker act today: approved, started, not expired, not revoked."""
    on = on or timezone.localdate()
    return Delegation.objects.filter(status=Delegation.Status.ACTIVE, valid_from__lte=on).filter(
        Q(valid_to__isnull=True) | Q(valid_to__gte=on)
    )


def _broker_delegations(user: User, scope: Scope, on: date) -> QuerySet[Delegation]:
    flags = scope.delegation_flags
    if flags is None:
        return Delegation.objects.none()
    memberships = active_memberships(user).filter(
        business__kind=Business.Kind.BROKER, role__in=roles_with(scope.right)
    )
    # Broker managers act for every client of the firm; other employees for their client groups.
    firm_wide = memberships.filter(role__in=[Role.BAM, Role.PAM]).values("business_id")
    grouped = ClientGroup.objects.filter(members=user, broker_id__in=memberships.values("business_id"))
    qs = delegations_in_force(on=on).filter(
        Q(broker_id__in=firm_wide)
        | Q(broker_id__in=grouped.values("broker_id"), importer_id__in=grouped.values("clients"))
    )
    if flags:
        flag_q = Q()
        for flag in flags:
            flag_q |= Q(**{f"scope_{flag}": True})
        qs = qs.filter(flag_q)
    return qs


def program_accounts_for(user: User, scope: Scope, *, on: date | None = None) -> QuerySet[ProgramAccount]:
    """Every program account ``user`` may act on for ``scope`` on ``on`` (default today)."""
    if not user.is_authenticated or not user.is_active:
        return ProgramAccount.objects.none()
    on = on or timezone.localdate()
    roles = roles_with(scope.right)
    own = active_memberships(user).filter(role__in=roles)
    delegations = _broker_delegations(user, scope, on)
    return ProgramAccount.objects.filter(
        Q(business_id__in=own.filter(program_account__isnull=True).values("business_id"))
        | Q(id__in=own.filter(program_account__isnull=False).values("program_account_id"))
        | Q(business_id__in=delegations.filter(coverage=Delegation.Coverage.BUSINESS).values("importer_id"))
        | Q(
            id__in=delegations.filter(coverage=Delegation.Coverage.PROGRAM).values("program_accounts"),
            business_id__in=delegations.filter(coverage=Delegation.Coverage.PROGRAM).values("importer_id"),
        )
    )


def businesses_for(user: User, scope: Scope = Scope.ACCOUNT, *, on: date | None = None) -> QuerySet[Business]:
    """Importer businesses the user may act for: its own, and its broker firm's clients."""
    if not user.is_authenticated:
        return Business.objects.none()
    own = active_memberships(user).filter(role__in=roles_with(scope.right)).values("business_id")
    accounts = program_accounts_for(user, scope, on=on).values("business_id")
    return Business.objects.filter(kind=Business.Kind.IMPORTER).filter(Q(id__in=own) | Q(id__in=accounts))


def managed_businesses(user: User, right: Right) -> QuerySet[Business]:
    """Businesses (importer or broker firm) where the user's own role grants ``right``.

    Used for managing the business itself: users, delegations, client groups. Brokers never
    reach a client's management through this.
    """
    if not user.is_authenticated:
        return Business.objects.none()
    return Business.objects.filter(
        id__in=active_memberships(user).filter(role__in=roles_with(right)).values("business_id")
    )


def can(user: User, scope: Scope, program_account: ProgramAccount, *, on: date | None = None) -> bool:
    return program_accounts_for(user, scope, on=on).filter(pk=program_account.pk).exists()


def get_program_account_or_404(user: User, scope: Scope, pk, *, on: date | None = None) -> ProgramAccount:
    try:
        return program_accounts_for(user, scope, on=on).select_related("business").get(pk=pk)
    except (ProgramAccount.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


def get_business_or_404(user: User, scope: Scope, pk) -> Business:
    try:
        return businesses_for(user, scope).get(pk=pk)
    except (Business.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


def can_manage_account(user: User, right: Right, program_account: ProgramAccount) -> bool:
    """A business's own BAM, or the PAM of this RM (for rights like granting delegations)."""
    roles = roles_with(right)
    return (
        active_memberships(user)
        .filter(business_id=program_account.business_id, role__in=roles)
        .filter(Q(program_account__isnull=True) | Q(program_account=program_account))
        .exists()
    )
