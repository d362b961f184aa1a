"""Read paths for the billing pages, documents and dashboard panel.

Every user-facing query starts from the access gate: ``program_accounts_for(user, Scope.BILLING)``
(payments recorded: ``Scope.PAYMENTS``), narrowed to the importer the user acts for. Anything
outside answers 404. Sums are done in SQL; lists keep a constant number of queries.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.contrib.contenttypes.models import ContentType
from django.core.paginator import Paginator
from django.db.models import Case, Count, F, IntegerField, QuerySet, Sum, Value, When
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.access import is_cbsa_officer, program_accounts_for
from accounts.models import Business, ProgramAccount, User
from accounts.roles import Scope
from billing.ledger.models import DUTIES_AND_TAXES_FIELDS, LedgerEntry
from carm_portal import calendar
from carm_portal.money import ZERO, quantize
from declarations.models import CAD, CADVersion

from .models import BillingRun, Payment, Statement
from .summary import MoneySummary, PaymentInstructions, money_summary, payment_instructions

__all__ = [
    "billing_accounts",
    "statements_for",
    "get_statement_for_user_or_404",
    "LineGroup",
    "StatementLine",
    "statement_lines",
    "statement_line_groups",
    "statement_summary",
    "statement_document",
    "statement_tax_totals",
    "statement_cad_totals",
    "ledger_entries_for",
    "payments_for",
    "monthly_duties_and_taxes",
    "money_summary_for",
    "how_to_pay_for",
    "billing_runs",
]

Kind = LedgerEntry.Kind


# --- The gate, narrowed to the acting-for importer ------------------------------------------------

def billing_accounts(user: User, business: Business | None, scope: Scope = Scope.BILLING) -> QuerySet[ProgramAccount]:
    """The RM accounts of ``business`` the user may see for ``scope`` (none without a business)."""
    if business is None:
        return ProgramAccount.objects.none()
    return program_accounts_for(user, scope).filter(business=business).order_by("number")


def statements_for(user: User, business: Business | None, *, program_account=None) -> QuerySet[Statement]:
    """Statements of the acting-for importer's RM accounts the user may see; newest first."""
    qs = Statement.objects.filter(program_account__in=billing_accounts(user, business)).select_related(
        "program_account__business"
    )
    if program_account is not None:
        qs = qs.filter(program_account=program_account)
    return qs.order_by("-period_end", "program_account__number")


def get_statement_for_user_or_404(user: User, business: Business | None, pk) -> Statement:
    try:
        return statements_for(user, business).get(pk=pk)
    except (Statement.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


# --- Statement lines, grouped by kind -------------------------------------------------------------

# (group key, page label, English and French PDF headings, ledger kinds), in the statement's order.
LINE_GROUPS: list[tuple[str, str, str, str, tuple[str, ...]]] = [
    ("cad_charges", _("CAD charges"), "CAD charges", "Frais des DDC", (Kind.CAD_CHARGE,)),
    ("corrections", _("Corrections and adjustments"), "Corrections and adjustments", "Corrections et rajustements",
     (Kind.CAD_CORRECTION, Kind.CAD_ADJUSTMENT, Kind.CAD_WITHDRAWAL, Kind.APPEAL_DECISION)),
    ("other_charges", _("Other charges"), "Other charges", "Autres frais",
     (Kind.CBSA_INVOICE, Kind.OTHER)),
    ("payments", _("Payments"), "Payments", "Paiements", (Kind.PAYMENT,)),
    ("interest", _("Interest"), "Interest", "Intérêts", (Kind.INTEREST,)),
    ("penalties", _("Penalties"), "Penalties", "Pénalités", (Kind.PENALTY,)),
    ("credits", _("Credits and offsets"), "Credits and offsets", "Crédits et compensations", (Kind.REFUND, Kind.OFFSET)),
]
_GROUP_OF_KIND = {kind: group[0] for group in LINE_GROUPS for kind in group[4]}
OTHER_GROUP_RANK = [g[0] for g in LINE_GROUPS].index("other_charges")


@dataclass
class StatementLine:
    entry: LedgerEntry
    cad_id: int | None = None

    @property
    def transaction_number(self) -> str:
        return self.entry.reference

    @property
    def duties(self) -> Decimal:
        """Customs, SIMA and excise duties and excise tax: duties and taxes without the GST."""
        return self.entry.duties_and_taxes - self.entry.gst


@dataclass
class LineGroup:
    key: str
    title: str
    title_en: str
    title_fr: str
    lines: list[StatementLine] = field(default_factory=list)
    count: int = 0  # all its lines (``lines`` may hold one page of them)
    total: Decimal = ZERO
    duties: Decimal = ZERO
    gst: Decimal = ZERO

    @property
    def duties_and_taxes(self) -> Decimal:
        return self.duties + self.gst


def _with_cads(entries: list[LedgerEntry], program_account_ids) -> list[StatementLine]:
    """Attach each entry's CAD id (from its source or its transaction number): one query."""
    cad_type = ContentType.objects.get_for_model(CAD)
    version_type = ContentType.objects.get_for_model(CADVersion)
    refs = {e.reference for e in entries if e.reference}
    version_ids = {e.source_id for e in entries if e.source_type_id == version_type.pk}
    by_number: dict[str, int] = {}
    by_version: dict[int, int] = {}
    if refs:
        by_number = dict(
            CAD.objects.filter(program_account_id__in=program_account_ids, transaction_number__in=refs)
            .values_list("transaction_number", "id")
        )
    unresolved = {e.source_id for e in entries if e.source_type_id == version_type.pk and e.reference not in by_number}
    if version_ids and unresolved:
        by_version = dict(CADVersion.objects.filter(pk__in=version_ids).values_list("id", "cad_id"))
    out = []
    for entry in entries:
        cad_id = None
        if entry.source_type_id == cad_type.pk:
            cad_id = entry.source_id
        elif entry.reference in by_number:
            cad_id = by_number[entry.reference]
        elif entry.source_type_id == version_type.pk:
            cad_id = by_version.get(entry.source_id)
        out.append(StatementLine(entry=entry, cad_id=cad_id))
    return out


def statement_lines(statement: Statement) -> QuerySet[LedgerEntry]:
    return statement.lines()


def statement_line_groups(statement: Statement) -> list[LineGroup]:
    """The statement's lines by kind, each group with its total (groups without lines omitted).

    The group totals sum to closing − opening, to the cent.
    """
    entries = list(statement.lines())
    groups: OrderedDict[str, LineGroup] = OrderedDict(
        (key, LineGroup(key, label, en, fr)) for key, label, en, fr, _kinds in LINE_GROUPS
    )
    for line in _with_cads(entries, [statement.program_account_id]):
        group = groups[_GROUP_OF_KIND.get(line.entry.kind, "other_charges")]
        group.lines.append(line)
        group.count += 1
        group.total += line.entry.amount
        group.duties += line.duties
        group.gst += line.entry.gst
    return [g for g in groups.values() if g.lines]


STATEMENT_PAGE_LINES = 200  # lines per page of the statement page (a statement can have tens of thousands)


def statement_line_page(statement: Statement, page_number, *, size: int | None = None):
    """One page of the statement's lines, in group order, and every group's full count and totals.

    Returns (groups, page): each group holds the page's lines of its kinds, and its ``count``,
    ``total``, ``duties`` and ``gst`` over all its lines (one aggregate query); the page object
    for the pagination links. The cost does not grow with the statement's size.
    """
    rank = Case(*[When(kind__in=kinds, then=Value(i)) for i, (*_head, kinds) in enumerate(LINE_GROUPS)],
                default=Value(OTHER_GROUP_RANK), output_field=IntegerField())
    page = Paginator(statement.lines().annotate(group_rank=rank).order_by("group_rank", "effective_date", "id"),
                     size or STATEMENT_PAGE_LINES).get_page(page_number)
    groups = _group_totals(statement)
    for line in _with_cads(list(page), [statement.program_account_id]):
        groups[_GROUP_OF_KIND.get(line.entry.kind, "other_charges")].lines.append(line)
    return [g for g in groups.values() if g.lines], page


def _group_totals(statement: Statement) -> OrderedDict[str, LineGroup]:
    """Every group's count and totals over all the statement's lines: one aggregate query."""
    groups: OrderedDict[str, LineGroup] = OrderedDict(
        (key, LineGroup(key, label, en, fr)) for key, label, en, fr, _kinds in LINE_GROUPS
    )
    for row in statement.lines().order_by().values("kind").annotate(
        n=Count("id"), amount_sum=Sum("amount"), gst_sum=Sum("gst"),
        dt_sum=Sum(F("duty") + F("sima") + F("excise_duty") + F("excise_tax") + F("gst")),
    ):
        group = groups[_GROUP_OF_KIND.get(row["kind"], "other_charges")]
        group.count += row["n"]
        group.total += row["amount_sum"] or ZERO
        group.gst += row["gst_sum"] or ZERO
        group.duties += (row["dt_sum"] or ZERO) - (row["gst_sum"] or ZERO)
    return groups


# Tax kinds of the summary PDF (the ledger's breakdown columns), English and French.
TAX_KINDS: list[tuple[str, str, str]] = [
    ("duty", "Customs duty", "Droits de douane"),
    ("sima", "SIMA duty", "Droits LMSI"),
    ("excise_duty", "Excise duty", "Droits d'accise"),
    ("excise_tax", "Excise tax", "Taxe d'accise"),
    ("gst", "GST", "TPS"),
    ("other", "Other amounts", "Autres montants"),
]
_CAD_GROUP_KINDS = tuple(kind for key, *_rest, kinds in LINE_GROUPS if key in ("cad_charges", "corrections")
                         for kind in kinds)


@dataclass(frozen=True)
class TaxTotal:
    key: str
    en: str
    fr: str
    amount: Decimal


@dataclass(frozen=True)
class CadTotal:
    """One CAD's net on the statement: its charge plus its corrections and adjustments."""

    transaction_number: str
    lines: int
    amount: Decimal


def statement_tax_totals(statement: Statement) -> list[TaxTotal]:
    """The statement's lines summed by tax kind (one query); they add up to the net of the period."""
    sums = statement.lines().order_by().aggregate(**{key: Sum(key) for key, _en, _fr in TAX_KINDS})
    return [TaxTotal(key, en, fr, quantize(sums[key] or ZERO)) for key, en, fr in TAX_KINDS]


def statement_cad_totals(statement: Statement) -> list[CadTotal]:
    """Per CAD (transaction number), the net of its lines on the statement, by number: one GROUP BY.

    Lines of the CAD groups without a transaction number are left to the kind totals."""
    rows = (statement.lines().filter(kind__in=_CAD_GROUP_KINDS).exclude(reference="").order_by()
            .values("reference").annotate(n=Count("id"), total=Sum("amount")).order_by("reference"))
    return [CadTotal(row["reference"], row["n"], quantize(row["total"] or ZERO)) for row in rows]


@dataclass(frozen=True)
class SummaryRow:
    key: str
    label: str  # in the page's language
    en: str
    fr: str
    amount: Decimal


def statement_summary(statement: Statement) -> list[SummaryRow]:
    """The summary box as frozen on the statement; credits and payments shown as negative amounts."""
    return [
        SummaryRow("opening", _("Opening balance"), "Opening balance", "Solde d'ouverture", statement.opening_balance),
        SummaryRow("charges", _("Charges"), "Charges", "Frais", statement.charges),
        SummaryRow("credits", _("Credits"), "Credits", "Crédits", -statement.credits),
        SummaryRow("payments", _("Payments"), "Payments", "Paiements", -statement.payments),
        SummaryRow("interest", _("Interest"), "Interest", "Intérêts", statement.interest),
        SummaryRow("penalties", _("Penalties"), "Penalties", "Pénalités", statement.penalties),
        SummaryRow("closing", _("Closing balance"), "Closing balance", "Solde de clôture", statement.closing_balance),
    ]


def statement_document(statement: Statement, *, with_lines: bool = True) -> dict:
    """Everything the statement PDF shows: a snapshot built in a constant number of queries.

    ``with_lines=False`` (a statement too long to print, ``STATEMENT_PDF_MAX_LINES``): no lines,
    but every group's count and totals, the totals by tax kind and per CAD, all summed in SQL.
    """
    account = statement.program_account
    if with_lines:
        groups = statement_line_groups(statement)
        extra = {}
    else:
        groups = [g for g in _group_totals(statement).values() if g.count]
        extra = {"tax_totals": statement_tax_totals(statement), "cad_totals": statement_cad_totals(statement)}
    return {
        "statement": statement,
        "account": account,
        "business": statement.issued_to,  # as issued: a later address change does not rewrite it
        "groups": groups,
        "summary": statement_summary(statement),
        "lines_total": quantize(sum((g.total for g in groups), ZERO)),
        "generated_on": timezone.localdate(),
        "summary_only": not with_lines,
        **extra,
    }


# --- Transaction history and payments ------------------------------------------------------------

def ledger_entries_for(
    user: User,
    business: Business | None,
    *,
    program_account=None,
    kind: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
) -> QuerySet[LedgerEntry]:
    """The transaction history (ledger entries) the user may see, newest first, filtered."""
    qs = LedgerEntry.objects.filter(program_account__in=billing_accounts(user, business)).select_related(
        "program_account"
    )
    if program_account is not None:
        qs = qs.filter(program_account=program_account)
    if kind:
        qs = qs.filter(kind=kind)
    if date_from is not None:
        qs = qs.filter(effective_date__gte=date_from)
    if date_to is not None:
        qs = qs.filter(effective_date__lte=date_to)
    return qs.order_by("-effective_date", "-id")


def payments_for(user: User, business: Business | None, *, program_account=None) -> QuerySet[Payment]:
    qs = Payment.objects.filter(program_account__in=billing_accounts(user, business)).select_related(
        "program_account", "recorded_by"
    )
    if program_account is not None:
        qs = qs.filter(program_account=program_account)
    return qs.order_by("-received_on", "-id")


# --- Chart and dashboard -------------------------------------------------------------------------

def _month_periods(today: date, months: int) -> list[date]:
    """The last ``months`` period ends (17ths), oldest first, ending with today's period."""
    return calendar.periods_ending(calendar.billing_period_for(today), months)


def monthly_duties_and_taxes(accounts: QuerySet[ProgramAccount], *, months: int = 12,
                             today: date | None = None) -> list[tuple[date, Decimal]]:
    """Duties and taxes billed per period (named by its 17th), the last ``months``: one query.

    Summed over the ledger by billing period, so the open period shows what is billed so far;
    a closed period equals its statements' ``duties_and_taxes``.
    """
    periods = _month_periods(today or timezone.localdate(), months)
    dt_sum = sum((F(f) for f in DUTIES_AND_TAXES_FIELDS[1:]), F(DUTIES_AND_TAXES_FIELDS[0]))
    rows = (
        LedgerEntry.objects.filter(program_account__in=accounts, billing_period__gte=periods[0],
                                   billing_period__lte=periods[-1])
        .values("billing_period").annotate(total=Sum(dt_sum)).order_by()
    )
    totals = {row["billing_period"]: quantize(row["total"] or ZERO) for row in rows}
    return [(p, totals.get(p, ZERO)) for p in periods]


# --- Staff ----------------------------------------------------------------------------------------

def billing_runs(user: User, *, limit: int = 24) -> QuerySet[BillingRun]:
    """Billing runs for the operations page (CBSA officers only: everyone else sees nothing)."""
    if not is_cbsa_officer(user):
        return BillingRun.objects.none()
    return BillingRun.objects.select_related("started_by").order_by("-period_end", "-run_number")[:limit]


def how_to_pay_for(user: User, business: Business | None, summary: MoneySummary | None) -> PaymentInstructions | None:
    """The "How to pay" panel for the RM accounts the user may see for billing (their numbers are the references)."""
    if summary is None:
        return None
    numbers = billing_accounts(user, business).filter(pk__in=[a.program_account_id for a in summary.accounts])
    return payment_instructions(summary, numbers.values_list("number", flat=True))


def money_summary_for(user: User, business: Business | None, *, today: date | None = None) -> MoneySummary | None:
    """The money summary (billing/summary.py) of the acting-for importer's RM accounts the user may
    see for billing; None when it sees none."""
    account_ids = list(billing_accounts(user, business).values_list("id", flat=True))
    if not account_ids:
        return None
    return money_summary(account_ids, today=today or timezone.localdate())
