"""The deadline centre: every upcoming date for the RM accounts a user may see, from every app.

accounts is the lowest layer, so it owns only the registry and the delegation-expiry provider;
each higher app registers its own provider from its AppConfig.ready():

    from accounts.deadlines import register
    register("cad_due", provider, label=_("CAD to account"), order=20)

A provider is ``provider(user, account_ids, start, end, today) -> list[Row]``. ``account_ids`` is
the set of RM accounts the *page* asked for (already gated with Scope.ACCOUNT); a provider must
narrow it again with the access gate and its own Scope (a broker with no financial flag sees no
statement rows). Rows dated in ``[start, end]`` come back; "late" kinds (a late CAD) may be
dated before ``start``: they stay until dealt with. Each provider runs a constant number of
queries whatever the number of rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .access import active_memberships, program_accounts_for
from .models import Delegation, ProgramAccount, User
from .roles import Scope

DEFAULT_WINDOW_DAYS = 120
DELEGATION_EXPIRY_KIND = "delegation_expiry"


@dataclass(frozen=True)
class Row:
    kind: str
    date: date
    title: str
    url: str
    program_account_id: int | None
    account_number: str = ""
    business_name: str = ""
    detail: str = ""
    # Stable id of the thing (kind + object): the ICS UID and the notice key are built from it.
    ref: str = ""
    late: bool = False
    # An amount to show with the row (rendered with the |money filter in the reader's language).
    amount: Decimal | None = None

    def days_left(self, today: date) -> int:
        return (self.date - today).days


Provider = Callable[[User, list[int], date, date, date], list[Row]]


@dataclass(frozen=True)
class Kind:
    key: str
    label: object  # a lazy string
    provider: Provider
    order: int


_KINDS: dict[str, Kind] = {}


def register(kind: str, provider: Provider, *, label, order: int = 100) -> None:
    """Add or replace the provider of ``kind`` (a later registration with the same key wins)."""
    _KINDS[kind] = Kind(kind, label, provider, order)


def kinds() -> list[Kind]:
    return sorted(_KINDS.values(), key=lambda k: (k.order, k.key))


# Within one ``deadlines_for`` call, each scope's gate runs once (providers share scopes): the
# gate's subqueries are costly to build, and a plain id list is cheaper for every provider query.
_GATE_CACHE: ContextVar[dict | None] = ContextVar("deadline_gate_cache", default=None)


def gated(user: User, scope: Scope, account_ids: Iterable[int]):
    """The accounts among ``account_ids`` the user may act on for ``scope`` (the providers' start)."""
    ids = sorted(set(account_ids))
    cache = _GATE_CACHE.get()
    key = (user.pk, scope, tuple(ids))
    if cache is None or key not in cache:
        allowed = list(program_accounts_for(user, scope).filter(id__in=ids).values_list("id", flat=True))
        if cache is None:
            return ProgramAccount.objects.filter(id__in=allowed)
        cache[key] = allowed
    return ProgramAccount.objects.filter(id__in=cache[key])


def visible_accounts(user: User, *, business=None):
    """The RM accounts whose dates the user may list: Scope.ACCOUNT, optionally one importer."""
    qs = program_accounts_for(user, Scope.ACCOUNT).select_related("business").order_by("business__legal_name", "number")
    if business is not None:
        qs = qs.filter(business=business)
    return qs


def deadlines_for(
    user: User,
    *,
    today: date,
    accounts: Iterable[ProgramAccount] | None = None,
    kinds_wanted: Iterable[str] | None = None,
    days: int = DEFAULT_WINDOW_DAYS,
) -> list[Row]:
    """Every row of every registered kind for ``accounts`` (default: all the user may see), sorted
    by date then kind. ``accounts`` must come from ``visible_accounts`` (gated)."""
    if accounts is None:
        accounts = visible_accounts(user)
    account_ids = [pa.pk for pa in accounts]
    if not account_ids:
        return []
    wanted = set(kinds_wanted) if kinds_wanted else None
    end = today + timedelta(days=days)
    rows: list[Row] = []
    order = {k.key: k.order for k in kinds()}
    token = _GATE_CACHE.set({})
    try:
        for kind in kinds():
            if wanted is not None and kind.key not in wanted:
                continue
            rows.extend(kind.provider(user, account_ids, today, end, today))
    finally:
        _GATE_CACHE.reset(token)
    rows.sort(key=lambda r: (r.date, order.get(r.kind, 999), r.account_number, r.ref))
    return rows


def label_of(kind: str) -> str:
    k = _KINDS.get(kind)
    return str(k.label) if k else kind


# --- accounts' own provider: delegation expiry -------------------------------------------------

def delegation_expiry(user: User, account_ids: list[int], start: date, end: date, today: date) -> list[Row]:
    """Delegations in force that end in the window, for importers among the visible accounts.

    The importer sees its delegations to brokers; a broker sees the delegations its firm holds
    (only those reaching accounts it may see: the gate with Scope.ACCOUNT)."""
    business_ids = gated(user, Scope.ACCOUNT, account_ids).values("business_id")
    # As on the delegations page: an importer's own employees see its delegations; a broker's
    # employees those their firm holds.
    own_firms = active_memberships(user).values("business_id")
    qs = (
        Delegation.objects.filter(status=Delegation.Status.ACTIVE, valid_to__gte=start, valid_to__lte=end,
                                  importer_id__in=business_ids)
        .filter(Q(importer_id__in=own_firms) | Q(broker_id__in=own_firms))
        .select_related("importer", "broker")
        .order_by("valid_to", "pk")
    )
    url = reverse("delegations")
    return [
        Row(
            kind=DELEGATION_EXPIRY_KIND,
            date=d.valid_to,
            title=_("Delegation to %(broker)s ends") % {"broker": d.broker.display_name},
            url=url,
            program_account_id=None,
            business_name=d.importer.display_name,
            ref=f"delegation-{d.pk}",
        )
        for d in qs
    ]


def register_own() -> None:
    register(DELEGATION_EXPIRY_KIND, delegation_expiry, label=gettext_lazy("Delegation expiry"), order=90)
