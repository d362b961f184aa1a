"""The broker board: one row per client RM account, with what a broker must act on.

Every figure comes from the module that owns it (nothing is re-summed here):
readiness (``accounts.readiness.readiness_for``), amount due / due date / overdue
(``billing.summary.money_summary``: one call for every account on the board), security
requirement / posted / gap (``billing.rpp.selectors.positions_for``), CADs due within 5 business
days and late CADs (``declarations.selectors.due_soon_q`` / ``late_q``), open appeals and their
nearest deadline (``appeals.selectors.open_appeals_in`` + ``appeals.deadlines.next_deadline``),
and the delegation in force (``accounts.access.delegations_in_force``).

Access: the rows are ``program_accounts_for(user, Scope.ACCOUNT)`` less the user's own
businesses; each column group is shown only for the accounts the gate gives for its scope
(a delegation without the financial scope: no money figures for that client, None here).

A constant number of queries whatever the number of clients, and only the rows asked for (the
page) are computed in full. Sorting or filtering by client, BN, RM, amount due, due date, overdue,
CADs due soon or late, or delegation expiry happens in SQL (``SQL_COLUMNS``, ``SQL_FILTERS``: the
money figures are ``billing.summary.money_annotations``, the SQL form of the money summary's rule,
gated like their column). Any other column or filter computes just its own figures (``GROUPS``)
for every row of the searched set, in Python, then the page in full.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.db import connection
from django.db.models import (
    Case,
    Count,
    DateField,
    DecimalField,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Collate, Lower, NullIf
from django.utils.translation import gettext_lazy as _

from accounts.access import active_memberships, delegations_in_force, program_accounts_for
from accounts.models import Business, Delegation, ProgramAccount, User
from accounts.readiness import readiness_for
from accounts.roles import Scope
from appeals.deadlines import next_deadline
from appeals.selectors import open_appeals_in
from billing.rpp.forecast import review_forecasts
from billing.rpp.selectors import positions_for
from billing.summary import AccountMoney, money_annotations, money_summary
from declarations.models import CAD
from declarations.selectors import due_soon_q, late_q

# A delegation ending within this many days is "expiring" (the board's filter and worklist).
EXPIRING_DAYS = 30
CAD_DUE_SOON_BUSINESS_DAYS = 5
PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
SEARCH_MAX = 100


@dataclass
class BoardRow:
    program_account: ProgramAccount
    score: int = 100
    missing: int = 0
    money: AccountMoney | None = None  # None: no financial scope for this client
    security: object | None = None  # billing.rpp.selectors.SecurityPosition, None: no security scope
    forecast_gap: Decimal | None = None  # bond the next review's forecast needs beyond what is posted
    cads_due_soon: int | None = None  # None: no declarations scope
    cads_late: int | None = None
    appeals_open: int | None = None  # None: no appeals scope
    appeal_deadline: date | None = None
    delegation_scopes: list[str] = field(default_factory=list)
    delegation_expires: date | None = None
    expiring: bool = False

    @property
    def business(self) -> Business:
        return self.program_account.business

    @property
    def amount_due(self) -> Decimal | None:
        return None if self.money is None else self.money.amount_due

    @property
    def due_date(self) -> date | None:
        return None if self.money is None or self.money.amount_due <= 0 else self.money.due_date

    @property
    def overdue(self) -> Decimal | None:
        return None if self.money is None else self.money.overdue

    @property
    def security_required(self) -> Decimal | None:
        sec = self.security
        if sec is None or sec.requirement is None:
            return None
        return sec.requirement.bond_amount

    @property
    def security_posted(self) -> Decimal | None:
        return None if self.security is None else self.security.posted

    @property
    def security_gap(self) -> Decimal | None:
        return None if self.security is None else self.security.shortfall


# --- Columns: sort keys ------------------------------------------------------------------------
# Each key gives a JSON-friendly primitive (money in cents, dates as ISO text) or None (sorted last).

def _cents(value: Decimal | None) -> int | None:
    return None if value is None else int(value * 100)


def _iso(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    value: Callable[[BoardRow], object]
    bare: bool = False  # known without computing the row (the fast path)


COLUMNS: list[Column] = [
    Column("client", _("Client"), lambda r: r.business.display_name.lower(), bare=True),
    Column("bn", _("BN"), lambda r: r.business.bn9, bare=True),
    Column("rm", _("RM account"), lambda r: r.program_account.number, bare=True),
    Column("score", _("Readiness"), lambda r: r.score),
    Column("due", _("Amount due"), lambda r: _cents(r.amount_due)),
    Column("due_date", _("Due date"), lambda r: _iso(r.due_date)),
    Column("overdue", _("Overdue"), lambda r: _cents(r.overdue)),
    Column("required", _("Security required"), lambda r: _cents(r.security_required)),
    Column("posted", _("Security posted"), lambda r: _cents(r.security_posted)),
    Column("gap", _("Security gap"), lambda r: _cents(r.security_gap)),
    Column("forecast_gap", _("Forecast gap at the next review"), lambda r: _cents(r.forecast_gap)),
    Column("cads_soon", _("CADs due in 5 business days"), lambda r: r.cads_due_soon),
    Column("cads_late", _("Late CADs"), lambda r: r.cads_late),
    Column("appeals", _("Open appeals"), lambda r: r.appeals_open),
    Column("appeal_deadline", _("Nearest appeal deadline"), lambda r: _iso(r.appeal_deadline)),
    Column("delegation_expires", _("Delegation expires"), lambda r: _iso(r.delegation_expires)),
]
COLUMN_BY_KEY = {c.key: c for c in COLUMNS}
DEFAULT_SORT = "client"

FILTERS = {
    "overdue": _("Overdue"),
    "shortfall": _("Security shortfall"),
    "late": _("Late CADs"),
    "expiring": _("Delegation expiring"),
}


def _filter_ok(row: BoardRow, name: str) -> bool:
    if name == "overdue":
        return bool(row.overdue and row.overdue > 0)
    if name == "shortfall":
        return bool(row.security_gap and row.security_gap > 0)
    if name == "late":
        return bool(row.cads_late)
    if name == "expiring":
        return row.expiring
    return True


# The figures (``compute_rows`` groups) each column and filter needs; None: none (the account's own).
GROUPS: dict[str, str | None] = {
    "client": None, "bn": None, "rm": None, "score": "readiness", "due": "money", "due_date": "money",
    "overdue": "money", "required": "security", "posted": "security", "gap": "security",
    "forecast_gap": "forecast", "cads_soon": "cads", "cads_late": "cads", "appeals": "appeals",
    "appeal_deadline": "appeals", "delegation_expires": "delegation",
    # filters
    "shortfall": "security", "late": "cads", "expiring": "delegation",
}
ALL_GROUPS = frozenset({"readiness", "money", "security", "forecast", "cads", "appeals", "delegation"})


@dataclass(frozen=True)
class BoardQuery:
    """What the user asked for (from URL parameters; anything unknown falls back to the default)."""

    search: str = ""
    sort: str = DEFAULT_SORT  # a column key, "-" prefix: descending
    filters: tuple[str, ...] = ()

    @property
    def sort_key(self) -> str:
        return self.sort.lstrip("-")

    @property
    def descending(self) -> bool:
        return self.sort.startswith("-")

    @classmethod
    def from_params(cls, params) -> BoardQuery:
        search = (params.get("q") or "").strip()[:SEARCH_MAX]
        sort = params.get("sort") or params.get("ordering") or DEFAULT_SORT
        if sort.lstrip("-") not in COLUMN_BY_KEY:
            sort = DEFAULT_SORT
        chosen = tuple(name for name in FILTERS if params.get(name) in ("1", "true", "on", "yes"))
        return cls(search=search, sort=sort, filters=chosen)

    def params(self) -> dict[str, str]:
        out = {}
        if self.search:
            out["q"] = self.search
        if self.sort != DEFAULT_SORT:
            out["sort"] = self.sort
        for name in self.filters:
            out[name] = "1"
        return out

    @property
    def needs_every_row(self) -> bool:
        return bool(self.filters) or not COLUMN_BY_KEY[self.sort_key].bare

    @property
    def in_sql(self) -> bool:
        """Whether the sort and every filter have an SQL form (the page then needs only its rows)."""
        return self.sort_key in SQL_COLUMNS and all(name in SQL_FILTERS for name in self.filters)

    @property
    def groups(self) -> set[str]:
        """The row figures (``compute_rows`` groups) the sort and filters need."""
        return {GROUPS[self.sort_key], *(GROUPS[name] for name in self.filters)} - {None}


# --- The gated set ------------------------------------------------------------------------------

def broker_firm_ids(user: User) -> list[int]:
    return list(
        active_memberships(user).filter(business__kind=Business.Kind.BROKER).values_list("business_id", flat=True)
    )


def client_accounts(user: User, *, today: date) -> QuerySet[ProgramAccount]:
    """Every client RM account the user reaches through a broker firm (its own businesses excluded)."""
    return (
        program_accounts_for(user, Scope.ACCOUNT, on=today)
        .exclude(business_id__in=active_memberships(user).values("business_id"))
        .select_related("business")
    )


def search_accounts(qs: QuerySet[ProgramAccount], search: str) -> QuerySet[ProgramAccount]:
    """Name (legal or operating, contains), BN or RM number (beginning; spaces and dashes ignored)."""
    if not search:
        return qs
    compact = "".join(ch for ch in search if ch.isalnum()).upper()
    cond = Q(business__legal_name__icontains=search) | Q(business__operating_name__icontains=search)
    if compact:
        cond |= Q(business__bn9__startswith=compact) | Q(number__startswith=compact)
    return qs.filter(cond)


# --- Sorting and filtering in SQL ---------------------------------------------------------------
# Each SQL column gives the same order as its Column.value (None last, then the account id); each
# figure is None where the gate gives no scope for it, as in compute_rows.

_MONEY = DecimalField(max_digits=14, decimal_places=2)


def _code_points(expr):
    """Text ordered by code point, as Python compares strings (PostgreSQL's "C" collation)."""
    return Collate(expr, "C") if connection.vendor == "postgresql" else expr


def _gated(user: User, scope: Scope, today: date, expr, output_field):
    allowed = program_accounts_for(user, scope, on=today).values("pk")
    return Case(When(pk__in=allowed, then=expr), default=None, output_field=output_field)


def _cad_count(q: Q):
    counted = (CAD.objects.filter(q, program_account_id=OuterRef("pk")).order_by().values("program_account_id")
               .annotate(n=Count("id")).values("n")[:1])
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def _delegation_expires(user: User, today: date):
    firms = active_memberships(user).filter(business__kind=Business.Kind.BROKER).values("business_id")
    latest = (delegations_in_force(on=today).filter(broker_id__in=firms, importer_id=OuterRef("business_id"))
              .order_by("-valid_from", "-id").values("valid_to")[:1])
    return Subquery(latest, output_field=DateField())


def _sql_figure(user: User, qs: QuerySet, key: str, today: date) -> QuerySet:
    """``qs`` with the alias ``sql_<key>``: the SQL form of the column or filter ``key``."""
    name = f"sql_{key}"
    if name in qs.query.annotations:  # sorted by the column it is filtered on
        return qs
    if key in ("client", "bn", "rm"):
        text = {"client": Lower(Coalesce(NullIf("business__operating_name", Value("")), "business__legal_name")),
                "bn": F("business__bn9"), "rm": F("number")}[key]
        return qs.alias(**{name: _code_points(text)})
    if key in ("due", "due_date", "overdue"):
        if "money_amount_due" not in qs.query.annotations:
            qs = money_annotations(qs, today=today, alias=True)
        field = {"due": "money_amount_due", "due_date": "money_due_date", "overdue": "money_overdue"}[key]
        output = DateField() if key == "due_date" else _MONEY
        return qs.alias(**{name: _gated(user, Scope.BILLING, today, F(field), output)})
    if key in ("cads_soon", "cads_late", "late"):
        q = due_soon_q(today, CAD_DUE_SOON_BUSINESS_DAYS) if key == "cads_soon" else late_q(today)
        return qs.alias(**{name: _gated(user, Scope.DECLARATIONS, today, _cad_count(q), IntegerField())})
    if key in ("delegation_expires", "expiring"):
        return qs.alias(**{name: _delegation_expires(user, today)})
    raise KeyError(key)


SQL_COLUMNS = frozenset({"client", "bn", "rm", "due", "due_date", "overdue", "cads_soon", "cads_late",
                         "delegation_expires"})
SQL_FILTERS = {
    "overdue": lambda today: Q(sql_overdue__gt=0),
    "late": lambda today: Q(sql_late__gt=0),
    "expiring": lambda today: Q(sql_expiring__lte=today + timedelta(days=EXPIRING_DAYS)),
}


def sql_page(user: User, qs: QuerySet[ProgramAccount], query: BoardQuery, *, today: date, offset: int,
             end: int | None) -> tuple[list[ProgramAccount], int]:
    """(the accounts ``[offset:end]`` of the filtered, sorted set, the size of that set): two queries."""
    for name in query.filters:
        qs = _sql_figure(user, qs, name, today).filter(SQL_FILTERS[name](today))
    total = qs.count()
    qs = _sql_figure(user, qs, query.sort_key, today)
    # Empty values last in both directions, then by account id (as ``sort_rows``).
    value = F(f"sql_{query.sort_key}")
    if query.descending:
        qs = qs.order_by(value.desc(nulls_last=True), "-pk")
    else:
        qs = qs.order_by(value.asc(nulls_last=True), "pk")
    return list(qs[offset:end]), total


# --- Computing rows -----------------------------------------------------------------------------

def _ids_for(user: User, scope: Scope, ids: Sequence[int], today: date) -> set[int]:
    gated = program_accounts_for(user, scope, on=today)
    if len(ids) <= 500:
        gated = gated.filter(id__in=ids)
    # Many ids: the gate's set intersected here (a long IN list costs more than it saves).
    return set(gated.values_list("id", flat=True)) & set(ids)


def fill_readiness(rows: Sequence[BoardRow], *, today: date) -> None:
    """The readiness score and missing count of these rows (the slowest column: every app's checks)."""
    by_pk = {row.program_account.pk: row for row in rows}
    for readiness in readiness_for([row.program_account for row in rows], today=today):
        row = by_pk[readiness.program_account.pk]
        row.score, row.missing = readiness.score, len(readiness.missing)


def compute_rows(user: User, accounts: Sequence[ProgramAccount], *, today: date,
                 readiness: bool = True, groups: frozenset[str] | set[str] = ALL_GROUPS) -> list[BoardRow]:
    """Every column for these (already gated) accounts, in a constant number of queries.
    ``readiness=False``: all but the readiness score (then ``fill_readiness`` the rows shown);
    ``groups``: only these figures (``GROUPS``; what a sort or filter needs of every row)."""
    accounts = list(accounts)
    if not accounts:
        return []
    ids = [pa.pk for pa in accounts]
    rows = {pa.pk: BoardRow(pa) for pa in accounts}
    if readiness and "readiness" in groups:
        fill_readiness(list(rows.values()), today=today)

    billing_ids = _ids_for(user, Scope.BILLING, ids, today) if "money" in groups else ()
    if billing_ids:
        for money in money_summary(billing_ids, today=today).accounts:
            rows[money.program_account_id].money = money

    security_ids = _ids_for(user, Scope.SECURITY, ids, today) if groups & {"security", "forecast"} else ()
    if security_ids:
        security_accounts = [rows[pk].program_account for pk in security_ids]
        if "security" in groups:
            for pk, position in positions_for(security_accounts, today=today).items():
                rows[pk].security = position
        # The next annual review's forecast (billing/rpp/forecast.py, last year's months): read-only.
        if "forecast" in groups:
            for pk, forecast in review_forecasts(security_accounts, today=today).items():
                rows[pk].forecast_gap = forecast.bond_gap

    cad_ids = _ids_for(user, Scope.DECLARATIONS, ids, today) if "cads" in groups else ()
    if cad_ids:
        counts = {
            pk: (soon, late)
            for pk, soon, late in CAD.objects.filter(program_account_id__in=cad_ids)
            .filter(due_soon_q(today, CAD_DUE_SOON_BUSINESS_DAYS) | late_q(today))
            .values("program_account_id")
            .annotate(soon=Count("id", filter=due_soon_q(today, CAD_DUE_SOON_BUSINESS_DAYS)),
                      late=Count("id", filter=late_q(today)))
            .values_list("program_account_id", "soon", "late")
            .order_by()
        }
        for pk in cad_ids:
            rows[pk].cads_due_soon, rows[pk].cads_late = counts.get(pk, (0, 0))

    appeal_ids = _ids_for(user, Scope.APPEALS, ids, today) if "appeals" in groups else ()
    if appeal_ids:
        open_count: dict[int, int] = defaultdict(int)
        nearest: dict[int, date] = {}
        for appeal in open_appeals_in(appeal_ids).order_by():
            open_count[appeal.program_account_id] += 1
            deadline = next_deadline(appeal, today)
            if deadline is not None:
                current = nearest.get(appeal.program_account_id)
                if current is None or deadline.date < current:
                    nearest[appeal.program_account_id] = deadline.date
        for pk in appeal_ids:
            rows[pk].appeals_open = open_count.get(pk, 0)
            rows[pk].appeal_deadline = nearest.get(pk)

    if "delegation" not in groups:
        return [rows[pk] for pk in ids]
    business_ids = {pa.business_id for pa in accounts}
    by_importer: dict[int, Delegation] = {}
    for delegation in (
        delegations_in_force(on=today)
        .filter(broker_id__in=broker_firm_ids(user), importer_id__in=business_ids)
        .order_by("importer_id", "-valid_from", "-id")
    ):
        by_importer.setdefault(delegation.importer_id, delegation)
    horizon = today + timedelta(days=EXPIRING_DAYS)
    for row in rows.values():
        delegation = by_importer.get(row.program_account.business_id)
        if delegation is not None:
            row.delegation_scopes = delegation.scopes
            row.delegation_expires = delegation.valid_to
            row.expiring = delegation.valid_to is not None and delegation.valid_to <= horizon
    return [rows[pk] for pk in ids]


def sort_rows(rows: list[BoardRow], query: BoardQuery) -> list[BoardRow]:
    """Sorted by the column (empty values last in both directions), then by account id."""
    column = COLUMN_BY_KEY[query.sort_key]
    valued = [r for r in rows if column.value(r) is not None]
    empty = [r for r in rows if column.value(r) is None]
    valued.sort(key=lambda r: (column.value(r), r.program_account.pk), reverse=query.descending)
    empty.sort(key=lambda r: r.program_account.pk, reverse=query.descending)
    return valued + empty


def position_key(row: BoardRow, query: BoardQuery) -> list:
    """Where a row sits in the order: [empty?, value, id] (the API's cursor)."""
    value = COLUMN_BY_KEY[query.sort_key].value(row)
    return [value is None, value, row.program_account.pk]


def after(key: list, cursor: list, descending: bool) -> bool:
    """Whether a row with position ``key`` comes after ``cursor`` in the board's order."""
    if key[0] != cursor[0]:
        return key[0] > cursor[0]
    if key[0]:  # both empty: by id only
        return key[2] < cursor[2] if descending else key[2] > cursor[2]
    mine, theirs = (key[1], key[2]), (cursor[1], cursor[2])
    return mine < theirs if descending else mine > theirs


@dataclass
class Board:
    rows: list[BoardRow]  # the rows asked for (a page, or every row)
    total: int


def board(user: User, query: BoardQuery, *, today: date, offset: int = 0, limit: int | None = None) -> Board:
    """The board's rows for ``query``: ``rows[offset:offset + limit]`` of the sorted, filtered set.

    Sorted and filtered in SQL when every part of the query has an SQL form; otherwise the figures
    the sort and filters need are computed for every row of the searched set. Either way, only the
    rows asked for are computed in full.
    """
    qs = search_accounts(client_accounts(user, today=today), query.search)
    end = None if limit is None else offset + limit
    if query.in_sql:
        chosen, total = sql_page(user, qs, query, today=today, offset=offset, end=end)
        return Board(compute_rows(user, chosen, today=today), total)
    rows = compute_rows(user, list(qs), today=today, groups=query.groups)
    rows = sort_rows([r for r in rows if all(_filter_ok(r, name) for name in query.filters)], query)
    chosen = [row.program_account for row in rows[offset:end]]
    return Board(compute_rows(user, chosen, today=today), len(rows))


def everything(user: User, query: BoardQuery, *, today: date, qs=None, readiness: bool = True) -> list[BoardRow]:
    """Every row of the searched, filtered set, sorted (CSV export, the API's cursor).
    ``readiness=False``: without the readiness score (the caller fills the rows it shows)."""
    if qs is None:
        qs = search_accounts(client_accounts(user, today=today), query.search)
    rows = compute_rows(user, list(qs), today=today, readiness=readiness)
    rows = [r for r in rows if all(_filter_ok(r, name) for name in query.filters)]
    return sort_rows(rows, query)
