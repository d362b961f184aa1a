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

CBSA officers are the one exception: the right ``accounts.cbsa_officer`` (given through the
group "CBSA officers"; active superusers hold every right) lets a user work CBSA's side over
every account. ``is_staff`` only opens the Django admin: it reaches no tenant data here.
"""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date

from django.db import connection
from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone

from carm_portal.id_lists import ids_subquery

from .models import Business, ClientGroup, Delegation, Membership, ProgramAccount, User
from .roles import DELEGATION_FLAGS, Right, Role, Scope, roles_with

__all__ = [
    "Scope",
    "program_accounts_for",
    "program_account_ids_for",
    "broker_firm_id_for",
    "GateMemoMiddleware",
    "gate_memo",
    "forget_gate",
    "businesses_for",
    "can",
    "get_program_account_or_404",
    "get_business_or_404",
    "delegations_in_force",
    "managed_businesses",
    "active_memberships",
    "OFFICER_PERMISSION",
    "OFFICER_GROUP",
    "is_cbsa_officer",
    "cbsa_officers",
    "grant_cbsa_officer",
    "require_cbsa_officer",
    "program_accounts_or_all_for_officer",
    "cbsa_officer_required",
    "GatePermission",
]

# The one definition of "is this user a CBSA officer" (architecture decision 12).
OFFICER_PERMISSION = "accounts.cbsa_officer"
OFFICER_GROUP = "CBSA officers"
_OFFICER_APP, _OFFICER_CODENAME = OFFICER_PERMISSION.split(".")


def is_cbsa_officer(user) -> bool:
    """An active user holding the officer right (directly, through a group, or as a superuser)."""
    return bool(
        user is not None and user.is_authenticated and user.is_active and user.has_perm(OFFICER_PERMISSION)
    )


def require_cbsa_officer(user) -> None:
    """404 (never 403) for anyone but a CBSA officer."""
    if not is_cbsa_officer(user):
        raise Http404


def cbsa_officer_required(view):
    """Page decorator: the login page for a visitor, 404 for a signed-in user who is no officer."""
    from functools import wraps

    from django.contrib.auth.decorators import login_required

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        require_cbsa_officer(request.user)
        return view(request, *args, **kwargs)

    return login_required(wrapper)


def cbsa_officers() -> QuerySet[User]:
    """Every active user holding the officer right (for "assign to an officer" choices)."""
    perm = {"permissions__codename": _OFFICER_CODENAME, "permissions__content_type__app_label": _OFFICER_APP}
    holders = User.objects.filter(
        Q(is_superuser=True)
        | Q(**{f"groups__{k}": v for k, v in perm.items()})
        | Q(**{f"user_{k}": v for k, v in perm.items()})
    )
    return User.objects.filter(is_active=True, id__in=holders.values("id"))


def grant_cbsa_officer(user: User) -> None:
    """Put ``user`` in the "CBSA officers" group (created with its right if missing). Idempotent."""
    from django.contrib.auth.models import Group, Permission
    from django.contrib.contenttypes.models import ContentType

    group, _created = Group.objects.get_or_create(name=OFFICER_GROUP)
    permission, _created = Permission.objects.get_or_create(
        codename=_OFFICER_CODENAME,
        content_type=ContentType.objects.get_for_model(User),
        defaults={"name": "Works CBSA's side of the portal (every account)"},
    )
    group.permissions.add(permission)
    user.groups.add(group)
    for cache in ("_perm_cache", "_group_perm_cache", "_user_perm_cache"):
        user.__dict__.pop(cache, None)


def active_memberships(user: User) -> QuerySet[Membership]:
    """The user's active memberships (an inactive user has none that count)."""
    return Membership.objects.filter(user=user, status=Membership.Status.ACTIVE, user__is_active=True)


def delegations_in_force(*, on: date | None = None) -> QuerySet[Delegation]:
    """Delegations that let a broker act today: approved, started, not expired, not revoked."""
    on = on or timezone.localdate()
    return Delegation.objects.filter(status=Delegation.Status.ACTIVE, valid_from__lte=on).filter(
        Q(valid_to__isnull=True) | Q(valid_to__gte=on)
    )


# Who may act where, for every scope at once: one row per (program account, way in): the account,
# the user's role, whether through a broker, the business of the membership (the importer, or the
# broker firm), then the delegation's visibility flags (``DELEGATION_FLAGS`` order) for broker rows.
# Each scope is decided from these rows in Python (``_ids_for_scope``), so a request asking several
# scopes reads the database once.
_GRANTS_SQL = """
    SELECT pa.id, m.role, 0 AS via_broker, m.business_id, {no_flags}
      FROM {membership} m
      JOIN {user} u ON u.id = m.user_id AND u.is_active
      JOIN {programaccount} pa ON pa.business_id = m.business_id
     WHERE m.user_id = %(user)s AND m.status = %(active)s AND m.program_account_id IS NULL
    UNION ALL
    SELECT m.program_account_id, m.role, 0, m.business_id, {no_flags}
      FROM {membership} m
      JOIN {user} u ON u.id = m.user_id AND u.is_active
     WHERE m.user_id = %(user)s AND m.status = %(active)s AND m.program_account_id IS NOT NULL
    UNION ALL
    SELECT pa.id, m.role, 1, m.business_id, {flags}
      FROM {membership} m
      JOIN {user} u ON u.id = m.user_id AND u.is_active
      JOIN {business} firm ON firm.id = m.business_id AND firm.kind = %(broker)s
      JOIN {delegation} d ON d.broker_id = m.business_id
      JOIN {programaccount} pa ON pa.business_id = d.importer_id
     WHERE m.user_id = %(user)s AND m.status = %(active)s
       AND d.status = %(delegation_active)s AND d.valid_from <= %(on)s AND (d.valid_to IS NULL OR d.valid_to >= %(on)s)
       AND (d.coverage = %(business_wide)s
            OR EXISTS (SELECT 1 FROM {delegation_accounts} dp
                        WHERE dp.delegation_id = d.id AND dp.programaccount_id = pa.id))
       -- broker managers act for every client of the firm; other employees for their client groups
       AND (m.role IN (%(bam)s, %(pam)s)
            OR EXISTS (SELECT 1 FROM {clientgroup} g
                         JOIN {group_members} gm ON gm.clientgroup_id = g.id AND gm.user_id = m.user_id
                         JOIN {group_clients} gc ON gc.clientgroup_id = g.id AND gc.business_id = d.importer_id
                        WHERE g.broker_id = m.business_id))
"""


def _grants_sql() -> str:
    return _GRANTS_SQL.format(
        membership=Membership._meta.db_table, user=User._meta.db_table, programaccount=ProgramAccount._meta.db_table,
        business=Business._meta.db_table, delegation=Delegation._meta.db_table,
        delegation_accounts=Delegation.program_accounts.through._meta.db_table,
        clientgroup=ClientGroup._meta.db_table, group_members=ClientGroup.members.through._meta.db_table,
        group_clients=ClientGroup.clients.through._meta.db_table,
        flags=", ".join(f"d.scope_{flag}" for flag in DELEGATION_FLAGS),
        no_flags=", ".join("FALSE" for _flag in DELEGATION_FLAGS),
    )


def _grants(user: User, on: date) -> tuple[tuple, ...]:
    """The gate's one query: (program account id, role, via broker, membership's business, *flags) rows."""
    with connection.cursor() as cursor:
        cursor.execute(_grants_sql(), {
            "user": user.pk, "on": on, "active": Membership.Status.ACTIVE.value,
            "delegation_active": Delegation.Status.ACTIVE.value,
            "broker": Business.Kind.BROKER.value, "business_wide": Delegation.Coverage.BUSINESS.value,
            "bam": Role.BAM.value, "pam": Role.PAM.value,
        })
        return tuple(cursor.fetchall())


def _ids_for_scope(grants: tuple[tuple, ...], scope: Scope) -> tuple[int, ...]:
    """The scope's rule over the grant rows: the role grants the scope's right and, through a broker,
    the delegation shows the scope (any flag of it; ``()``: any delegation; ``None``: never)."""
    roles = set(roles_with(scope.right))
    wanted = scope.delegation_flags
    positions = [DELEGATION_FLAGS.index(flag) for flag in wanted or ()]
    ids = set()
    for account_id, role, via_broker, _business_id, *flags in grants:
        if role not in roles:
            continue
        if via_broker and (wanted is None or (positions and not any(flags[i] for i in positions))):
            continue
        ids.add(account_id)
    return tuple(sorted(ids))


# The per-request memo: {(user id, scope, day): (program account ids, ...)} and the grant rows
# {(user id, "grants", day): rows}. A fresh dict for each request (GateMemoMiddleware), None outside
# one (a task, a shell, a test calling a service), where the gate is evaluated at every call. Changes
# to memberships, delegations, client groups or program accounts clear it (signals below), so a
# delegation revoked mid-request is not used after the revoke.
_memo: ContextVar[dict | None] = ContextVar("carm_gate_memo", default=None)


class GateMemoMiddleware:
    """Evaluate the gate at most once per (user, scope, day) while serving one request."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _memo.set({})
        try:
            return self.get_response(request)
        finally:
            _memo.reset(token)


@contextmanager
def gate_memo():
    """The request's memo for code run outside a request (a task serving one user, a test)."""
    token = _memo.set({})
    try:
        yield
    finally:
        _memo.reset(token)


def forget_gate(*_args, **_kwargs) -> None:
    """Drop every memoised gate of the current request (connected to the models' change signals)."""
    memo = _memo.get()
    if memo:
        memo.clear()


def connect_gate_memo() -> None:
    """Called from AccountsConfig.ready: any change to what the gate reads clears the memo."""
    from django.db.models.signals import m2m_changed, post_delete, post_save

    for model in (Membership, Delegation, ClientGroup, ProgramAccount, Business, User):
        post_save.connect(forget_gate, sender=model, dispatch_uid=f"gate-memo-save-{model._meta.label}")
        post_delete.connect(forget_gate, sender=model, dispatch_uid=f"gate-memo-delete-{model._meta.label}")
    for through in (Delegation.program_accounts.through, ClientGroup.members.through, ClientGroup.clients.through):
        m2m_changed.connect(forget_gate, sender=through, dispatch_uid=f"gate-memo-m2m-{through._meta.label}")


def _memoised_grants(user: User, on: date) -> tuple[tuple, ...]:
    memo = _memo.get()
    key = (user.pk, "grants", on)
    if memo is not None and key in memo:
        return memo[key]
    grants = _grants(user, on)
    if memo is not None:
        memo[key] = grants
    return grants


def program_account_ids_for(user: User, scope: Scope, *, on: date | None = None) -> tuple[int, ...]:
    """The ids of ``program_accounts_for``: one query for every scope of the request, or none when
    this request already asked."""
    if not user.is_authenticated or not user.is_active:
        return ()
    on = on or timezone.localdate()
    memo = _memo.get()
    key = (user.pk, scope, on)
    if memo is not None and key in memo:
        return memo[key]
    ids = _ids_for_scope(_memoised_grants(user, on), scope)
    if memo is not None:
        memo[key] = ids
    return ids


def broker_firm_id_for(user: User, program_account_id: int, *, on: date | None = None) -> int | None:
    """The broker firm through which ``user`` reaches the account today, or None when the user is
    the importer's own (or has no way in): who a filing is made "for" (the CAD's broker)."""
    if not user.is_authenticated or not user.is_active:
        return None
    rows = [row for row in _memoised_grants(user, on or timezone.localdate()) if row[0] == program_account_id]
    if not rows or any(not via_broker for _id, _role, via_broker, *_rest in rows):
        return None
    return min(row[3] for row in rows)


def _in_list_limit() -> int:
    """How many ids we put in a literal ``IN (...)``. PostgreSQL plans a few thousand fine (and
    estimates them exactly); SQLite caps the bound parameters of a statement (999 before 3.32,
    32766 since: SQLITE_MAX_VARIABLE_NUMBER), and the list must leave room for the rest of it."""
    if connection.vendor == "sqlite":
        connection.ensure_connection()
        try:
            limit = connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        except AttributeError:  # Python < 3.11: assume the old compile-time default
            limit = 999
        return limit // 4
    return 20_000


def program_accounts_for(user: User, scope: Scope, *, on: date | None = None) -> QuerySet[ProgramAccount]:
    """Every program account ``user`` may act on for ``scope`` on ``on`` (default today).

    A literal ``pk IN (ids)`` (the planner estimates it exactly: the OR of subqueries was estimated
    at tens of thousands of rows for a user with one account, and lists seq-scanned). Above the
    database's parameter limit, the ids as one array parameter (``carm_portal.id_lists``).
    """
    ids = program_account_ids_for(user, scope, on=on)
    if not ids:
        return ProgramAccount.objects.none()
    if len(ids) > _in_list_limit():
        return ProgramAccount.objects.filter(pk__in=ids_subquery(ids))
    return ProgramAccount.objects.filter(pk__in=ids)


def program_accounts_or_all_for_officer(user: User, scope: Scope) -> QuerySet[ProgramAccount]:
    """The gate, except that a CBSA officer reaches every program account (CBSA-side work)."""
    if is_cbsa_officer(user):
        return ProgramAccount.objects.all()
    return program_accounts_for(user, scope)


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
    return program_account.pk in program_account_ids_for(user, scope, on=on)


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


class GatePermission:
    """The one permission every API view uses (``REST_FRAMEWORK["DEFAULT_PERMISSION_CLASSES"]``).

    - a signed-in, active user, or DRF's 401/403 for a visitor;
    - ``officer_only = True`` on a view: CBSA officers only, 404 for everyone else;
    - ``gate_scope = Scope.X`` on a view: 404 unless the gate gives the user at least one RM
      account for that scope (reference lookups a broker without the scope must not reach).

    Objects are filtered by the view's gated ``get_queryset`` (never by a per-object check), so
    anything outside the gate is simply not found: 404, never 403.
    """

    def has_permission(self, request, view) -> bool:
        from rest_framework.exceptions import NotFound

        user = request.user
        if not (user and user.is_authenticated and user.is_active):
            return False
        if getattr(view, "officer_only", False) and not is_cbsa_officer(user):
            raise NotFound
        scope = getattr(view, "gate_scope", None)
        if scope is not None and not program_account_ids_for(user, scope):
            raise NotFound
        return True

    def has_object_permission(self, request, view, obj) -> bool:
        return True
