"""Statement reconciler (issue #14 item 1): why does the statement not match our list of CADs?

For one statement and a list of (transaction number, amount) — uploaded by the user, or "my firm's
CADs" for a broker — four groups:

- **matched**: on both, same amount;
- **unlisted**: on the statement, not on the list, with who filed it (this broker, another broker,
  the importer, CBSA);
- **not on statement**: on the list, not on this statement, with why (other period and which
  statement, other RM if the user may see it, not yet accepted, withdrawn, not found);
- **differ**: on both, different amounts, with the CAD's versions (each version's kind, status,
  duties and taxes, and the period its difference was billed on).

and every other line explained: the opening balance (the previous statement, its due date and
age), credits and payments with the debts each paid (``register_credit_explainer``: offsetting's
allocations, a higher layer, answer it), interest (the engine's own day ranges and rates: ``billing.overdue.period_interest``,
the same call the cycle charges with), penalties and payments by method. The amount due is
``billing.summary``'s; the reconciler never suggests paying less.

Reads only; a constant number of queries whatever the number of lines. The list is read with the
bounded CSV reader of ``declarations.csv_import`` (limits ``CSV_MAX_*``, ``UPLOAD_MAX_BYTES``).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from accounts.access import active_memberships
from accounts.models import Business
from accounts.roles import Scope
from billing.ledger.models import LedgerEntry
from carm_portal import calendar
from carm_portal.conf import carm
from carm_portal.exceptions import ApplicationError
from carm_portal.money import ZERO, format_money, quantize
from carm_portal.validators import parse_decimal
from declarations.csv_import import RowError
from declarations.csv_import import _read as read_csv_rows  # the one bounded CSV reader
from declarations.models import CAD, CADVersion

from . import overdue
from .models import Payment, SavedReconciliation, Statement
from .payments import accounts_for
from .summary import money_summary

K = LedgerEntry.Kind
CAD_KINDS = tuple(LedgerEntry.CAD_KINDS)

# Header names recognised without a mapping step (lower case, spaces/underscores/dashes folded).
NUMBER_HEADERS = {"transaction number", "transaction", "transaction no", "transaction #", "txn", "txn number",
                  "cad", "cad number", "numero de transaction", "numéro de transaction", "no de transaction"}
AMOUNT_HEADERS = {"amount", "montant", "total", "duties and taxes", "droits et taxes", "dt total", "amount cad"}
_DIGITS = re.compile(r"\D")

# Filed by.
FILER_THIS_BROKER = "this_broker"
FILER_OTHER_BROKER = "other_broker"
FILER_IMPORTER = "importer"
FILER_CBSA = "cbsa"

# Why a listed transaction is not on this statement.
WHY_OTHER_PERIOD = "other_period"
WHY_OTHER_RM = "other_rm"
WHY_NOT_ACCEPTED = "not_accepted"
WHY_WITHDRAWN = "withdrawn"
WHY_NOT_FOUND = "not_found"


def _fold(header: str) -> str:
    return re.sub(r"[\s_\-]+", " ", header.strip().lower())


# --- Reading the list -------------------------------------------------------------------------------

@dataclass(frozen=True)
class ListItem:
    row: int
    transaction_number: str
    amount: Decimal


@dataclass
class ParsedList:
    items: list[ListItem] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    headers: list[str] = field(default_factory=list)
    needs_mapping: bool = False


def _column(headers: list[str], wanted: str | None, known: set[str]) -> int | None:
    folded = [_fold(h) for h in headers]
    if wanted:
        target = _fold(wanted)
        if target in folded:
            return folded.index(target)
        return None
    for i, name in enumerate(folded):
        if name in known:
            return i
    return None


def read_list(content: bytes | str, *, number_column: str | None = None,
              amount_column: str | None = None) -> ParsedList:
    """The (transaction number, amount) rows of an uploaded CSV, or the errors that stop it.

    Headers are recognised (English or French) unless ``number_column``/``amount_column`` name
    them; when they are not obvious, ``needs_mapping`` is set with the file's ``headers``.
    """
    result = ParsedList()
    if isinstance(content, bytes) and len(content) > carm("UPLOAD_MAX_BYTES"):
        result.errors.append(RowError(0, "", _("The file is larger than %(n)d bytes.") % {
            "n": carm("UPLOAD_MAX_BYTES")}))
        return result
    table = read_csv_rows(content, result.errors)
    if table is None or result.errors:
        return result
    if not table or not any(cell.strip() for cell in table[0]):
        result.errors.append(RowError(1, "", _("The file is empty: give a header row and one row per transaction.")))
        return result
    result.headers = [h.strip()[:100] for h in table[0]]
    number_at = _column(table[0], number_column, NUMBER_HEADERS)
    amount_at = _column(table[0], amount_column, AMOUNT_HEADERS)
    if number_at is None or amount_at is None or number_at == amount_at:
        result.needs_mapping = True
        if number_column or amount_column:
            result.errors.append(RowError(1, "", _("The columns you chose are not in the file's header.")))
        return result
    seen: dict[str, int] = {}
    for row_no, cells in enumerate(table[1:], start=2):
        if not any(c.strip() for c in cells):
            continue
        raw_number = cells[number_at].strip() if number_at < len(cells) else ""
        raw_amount = cells[amount_at].strip() if amount_at < len(cells) else ""
        number = _DIGITS.sub("", raw_number)
        if len(number) != 14 or len(raw_number) > 30:
            result.errors.append(RowError(row_no, "transaction_number", _(
                "A transaction number has 14 digits.")))
            continue
        try:
            amount = parse_decimal(raw_amount.replace("$", ""), places=2, max_digits=14)
        except ValidationError as exc:
            result.errors.append(RowError(row_no, "amount", " ".join(exc.messages)))
            continue
        if amount is None:
            result.errors.append(RowError(row_no, "amount", _("Give the amount.")))
            continue
        if number in seen:
            result.errors.append(RowError(row_no, "transaction_number", _(
                "This transaction number is already on row %(row)d.") % {"row": seen[number]}))
            continue
        seen[number] = row_no
        result.items.append(ListItem(row_no, number, amount))
    return result


def xlsx_as_csv(content: bytes) -> str:
    """The first sheet of an XLSX as CSV text, for the one bounded reader (``read_list``).

    Read lazily (openpyxl read-only mode) and cut one past every ``CSV_MAX_*`` limit, so the reader
    still reports what broke it and a huge sheet is never read whole. Numbers keep their shortest
    decimal text (a float cell 1200.5 → "1200.5"); dates become ISO text.
    """
    import csv
    import io
    import zipfile

    from openpyxl import load_workbook

    max_rows, max_cols, max_cell = carm("CSV_MAX_ROWS"), carm("CSV_MAX_COLUMNS"), carm("CSV_MAX_CELL_CHARS")
    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, TypeError) as exc:
        raise ApplicationError(_("The file cannot be read as an XLSX workbook."), field_errors={
            "file": [_("The file cannot be read as an XLSX workbook. Save it again, or as CSV UTF-8.")]}) from exc
    out = io.StringIO()
    writer = csv.writer(out)
    try:
        sheet = workbook.worksheets[0] if workbook.worksheets else None
        for index, row in enumerate(sheet.iter_rows(max_col=max_cols + 1, values_only=True) if sheet else ()):
            if index > max_rows + 1:
                break
            cells = []
            for value in row:
                if value is None:
                    text = ""
                elif isinstance(value, float):
                    text = repr(value)
                elif hasattr(value, "isoformat"):
                    text = value.isoformat()
                else:
                    text = str(value)
                cells.append(text[:max_cell + 1])
            while cells and cells[-1] == "":
                cells.pop()
            writer.writerow(cells)
    finally:
        workbook.close()
    return out.getvalue()


def firm_of(user) -> Business | None:
    """The broker firm the user works for (None for an importer's user)."""
    membership = (active_memberships(user).filter(business__kind=Business.Kind.BROKER)
                  .select_related("business").order_by("business_id").first())
    return membership.business if membership else None


def firm_cads(statement: Statement, firm: Business) -> list[ListItem]:
    """"My firm's CADs": the accepted CADs the firm filed for the statement's RM and period (one query)."""
    cads = CAD.objects.filter(program_account_id=statement.program_account_id, broker=firm,
                              billing_period=statement.period_end).exclude(status=CAD.Status.DRAFT)
    return [ListItem(0, number, total) for number, total in
            cads.order_by("transaction_number").values_list("transaction_number", "dt_total")]


# --- The result ----------------------------------------------------------------------------------------

@dataclass
class VersionInfo:
    number: int
    kind: str
    kind_display: str
    status: str
    status_display: str
    dt_total: Decimal
    posted: Decimal | None
    billing_period: date | None


@dataclass
class Row:
    transaction_number: str
    listed: Decimal | None = None       # the amount on the user's list
    billed: Decimal | None = None       # the amount of this statement's lines for it
    filer: str = ""                     # FILER_* (statement side)
    filer_name: str = ""
    reason: str = ""                    # WHY_* (list side)
    reason_detail: str = ""
    other_statement_id: int | None = None
    cad_id: int | None = None
    versions: list[VersionInfo] = field(default_factory=list)
    explanation: str = ""

    @property
    def difference(self) -> Decimal | None:
        if self.listed is None or self.billed is None:
            return None
        return self.billed - self.listed


@dataclass
class InterestPiece:
    first: date
    last: date
    days: int
    balance: Decimal
    rate: Decimal


@dataclass(frozen=True)
class DebtPaid:
    """(Part of) a debt a credit paid: the debt's transaction number (or its description), how much, when."""

    debt_id: int | None     # None: a debt on an RM account the reader may not see
    reference: str          # the CAD's transaction number, a CBSA invoice number, ... ("" if none)
    description: str
    kind: str
    amount: Decimal
    applied_on: date

    @property
    def label(self) -> str:
        if self.debt_id is None:
            return _("a debt on another RM account")
        if self.kind in CAD_KINDS and self.reference:
            return _("CAD %(number)s") % {"number": self.reference}
        return self.reference or self.description or self.kind


@dataclass
class OtherLine:
    kind: str
    kind_display: str
    amount: Decimal
    effective_date: date
    reference: str
    description: str
    detail: str = ""
    entry_id: int | None = None
    paid: list[DebtPaid] = field(default_factory=list)  # credits and payments: the debts they paid

    @property
    def paid_text(self) -> str:
        """"paid: CAD 12345… $600.00 on 2026-03-31; …" in the reader's language ("" when nothing yet)."""
        if not self.paid:
            return ""
        return _("paid: %(list)s") % {"list": "; ".join(
            _("%(debt)s %(amount)s on %(date)s") % {"debt": p.label, "amount": format_money(p.amount),
                                                   "date": p.applied_on.isoformat()} for p in self.paid)}


# --- What each credit paid: answered by a higher layer (billing.offsetting) ----------------------------

# fn(credit_entry_ids, visible_account_ids) -> {credit entry id: [DebtPaid, ...]}; ONE query whatever
# the number of credits. ``visible_account_ids`` is a gated id queryset: a debt on an RM account
# outside it is given without its reference (DebtPaid.debt_id None).
CreditExplainer = Callable[[list[int], Any], dict[int, list[DebtPaid]]]
_credit_explainers: list[CreditExplainer] = []


def register_credit_explainer(fn: CreditExplainer) -> None:
    """Set in an AppConfig.ready (billing.offsetting's): billing cannot import the allocations."""
    if fn not in _credit_explainers:
        _credit_explainers.append(fn)


def debts_paid_by(credit_ids: list[int], visible_account_ids) -> dict[int, list[DebtPaid]]:
    out: dict[int, list[DebtPaid]] = defaultdict(list)
    if not credit_ids:
        return out
    for explainer in _credit_explainers:
        for credit_id, paid in explainer(credit_ids, visible_account_ids).items():
            out[credit_id].extend(paid)
    return out


@dataclass
class Reconciliation:
    statement: Statement
    matched: list[Row] = field(default_factory=list)
    unlisted: list[Row] = field(default_factory=list)
    not_on_statement: list[Row] = field(default_factory=list)
    differ: list[Row] = field(default_factory=list)
    opening: dict = field(default_factory=dict)
    credits: list[OtherLine] = field(default_factory=list)
    interest: list[OtherLine] = field(default_factory=list)
    interest_pieces: list[InterestPiece] = field(default_factory=list)
    penalties: list[OtherLine] = field(default_factory=list)
    payments: dict[str, Decimal] = field(default_factory=dict)  # method display → total
    payment_lines: list[OtherLine] = field(default_factory=list)
    other_charges: list[OtherLine] = field(default_factory=list)
    listed_total: Decimal = ZERO
    cad_total: Decimal = ZERO            # this statement's CAD lines
    explained_total: Decimal = ZERO      # opening + every line, explained group by group
    amount_due: Decimal = ZERO
    due_date: date | None = None
    short_pay_warning: str = ""
    changes: list[dict] = field(default_factory=list)  # since the user's last saved reconciliation
    previous_saved_at: object = None

    @property
    def reconciles(self) -> bool:
        return self.explained_total == self.statement.closing_balance

    @property
    def counts_dict(self) -> dict[str, int]:
        return self.counts()

    def counts(self) -> dict[str, int]:
        return {"matched": len(self.matched), "unlisted": len(self.unlisted),
                "not_on_statement": len(self.not_on_statement), "differ": len(self.differ)}


def _versions(cad_ids: list[int]) -> dict[int, list[VersionInfo]]:
    out: dict[int, list[VersionInfo]] = defaultdict(list)
    rows = (CADVersion.objects.filter(cad_id__in=cad_ids).select_related("ledger_entry")
            .order_by("cad_id", "number"))
    for v in rows:
        entry = v.ledger_entry
        out[v.cad_id].append(VersionInfo(
            v.number, v.kind, v.get_kind_display(), v.status, v.get_status_display(), v.dt_total,
            entry.amount if entry else None, entry.billing_period if entry else None))
    return out


def _other_line(entry: LedgerEntry, detail: str = "") -> OtherLine:
    return OtherLine(entry.kind, entry.get_kind_display(), entry.amount, entry.effective_date, entry.reference,
                     entry.description, detail, entry_id=entry.pk)


def reconcile(statement: Statement, items: list[ListItem], *, user, today: date) -> Reconciliation:
    """The four groups and the explanation of every other line (a constant number of queries)."""
    result = Reconciliation(statement=statement)
    account_id = statement.program_account_id
    firm = firm_of(user)
    entries = list(statement.lines())

    billed: dict[str, Decimal] = {}
    for e in entries:
        if e.kind in CAD_KINDS and e.reference:
            billed[e.reference] = billed.get(e.reference, ZERO) + e.amount
    listed = {item.transaction_number: item.amount for item in items}
    result.listed_total = quantize(sum(listed.values(), ZERO))
    result.cad_total = quantize(sum(billed.values(), ZERO))

    numbers = set(billed) | set(listed)
    cads = {c.transaction_number: c for c in CAD.objects.filter(transaction_number__in=numbers)
            .select_related("broker", "program_account")} if numbers else {}
    versions = _versions([c.pk for c in cads.values()]) if cads else {}

    # --- Statement side.
    for number in sorted(billed):
        cad = cads.get(number) if number in cads and cads[number].program_account_id == account_id else None
        row = Row(number, listed.get(number), billed[number], cad_id=cad.pk if cad else None,
                  versions=versions.get(cad.pk, []) if cad else [])
        if cad is None:
            row.filer, row.filer_name = FILER_CBSA, _("CBSA")
        elif cad.broker_id is None:
            row.filer, row.filer_name = FILER_IMPORTER, _("The importer")
        elif firm is not None and cad.broker_id == firm.pk:
            row.filer, row.filer_name = FILER_THIS_BROKER, cad.broker.display_name
        else:
            row.filer, row.filer_name = FILER_OTHER_BROKER, cad.broker.display_name
        if number not in listed:
            result.unlisted.append(row)
        elif listed[number] == billed[number]:
            result.matched.append(row)
        else:
            row.explanation = _explain_difference(row, statement)
            result.differ.append(row)

    # --- List side: not on this statement.
    missing = [n for n in listed if n not in billed]
    if missing:
        visible = set(accounts_for(user, Scope.BILLING).filter(
            pk__in={c.program_account_id for n, c in cads.items() if n in missing}).values_list("id", flat=True))
        periods = {c.billing_period for n, c in cads.items() if n in missing and c.program_account_id == account_id
                   and c.billing_period}
        other_statements = dict(Statement.objects.filter(program_account_id=account_id, period_end__in=periods)
                                .values_list("period_end", "id")) if periods else {}
        for number in missing:
            cad = cads.get(number)
            row = Row(number, listed[number], None)
            if cad is None or (cad.program_account_id != account_id and cad.program_account_id not in visible):
                row.reason, row.reason_detail = WHY_NOT_FOUND, _("No CAD with this number on an RM you may see.")
            elif cad.program_account_id != account_id:
                row.reason = WHY_OTHER_RM
                row.reason_detail = _("Filed on RM %(rm)s.") % {"rm": cad.program_account.number}
                row.cad_id = cad.pk
            elif cad.status == CAD.Status.WITHDRAWN:
                row.reason, row.cad_id = WHY_WITHDRAWN, cad.pk
                row.reason_detail = _("Withdrawn: nothing is owed for it.")
            elif cad.status != CAD.Status.ACCEPTED or cad.billing_period is None:
                row.reason, row.cad_id = WHY_NOT_ACCEPTED, cad.pk
                row.reason_detail = _("Status: %(status)s; it is billed once accepted.") % {
                    "status": cad.get_status_display()}
            else:
                row.reason, row.cad_id = WHY_OTHER_PERIOD, cad.pk
                row.other_statement_id = other_statements.get(cad.billing_period)
                row.reason_detail = _("Billed in the period ending %(period)s.") % {
                    "period": cad.billing_period.isoformat()}
            if row.cad_id:
                row.versions = versions.get(row.cad_id, [])
            result.not_on_statement.append(row)

    # --- Every other line.
    _explain_other_lines(result, entries, today=today)
    _explain_credits(result, user)
    result.explained_total = quantize(statement.opening_balance + sum((e.amount for e in entries), ZERO))

    # --- What is due: billing/summary.py's figure, never less.
    money = money_summary([account_id], today=today).accounts[0]
    result.amount_due, result.due_date = money.amount_due, money.due_date
    if result.listed_total < result.cad_total or result.differ or result.unlisted:
        result.short_pay_warning = _(
            "Pay the amount due in full (%(due)s): a payment of only the amounts on your list would leave "
            "the rest overdue, with interest and penalties. Dispute a line with a correction or an appeal.") % {
            "due": format_money(result.amount_due)}
    return result


def _explain_difference(row: Row, statement: Statement) -> str:
    other = [v for v in row.versions if v.billing_period and v.billing_period != statement.period_end and v.posted]
    this = [v for v in row.versions if v.billing_period == statement.period_end and v.posted is not None]
    parts = []
    if other:
        parts.append(_("Part of this CAD was billed on another statement: %(list)s.") % {"list": ", ".join(
            f"v{v.number} {v.posted:.2f} ({v.billing_period.isoformat()})" for v in other)})
    if this:
        parts.append(_("Billed here: %(list)s.") % {"list": ", ".join(
            f"v{v.number} {v.kind_display} {v.posted:.2f}" for v in this)})
    for v in row.versions:
        if row.listed is not None and v.dt_total == row.listed and v.number != row.versions[-1].number:
            parts.append(_("Your amount is version %(n)d's; the CAD was changed since.") % {"n": v.number})
    return " ".join(parts)


def _explain_other_lines(result: Reconciliation, entries: list[LedgerEntry], *, today: date) -> None:
    statement = result.statement
    previous_end = calendar.previous_period(statement.period_end)
    previous = Statement.objects.filter(program_account_id=statement.program_account_id,
                                        period_end=previous_end).only("id", "period_end", "due_date",
                                                                      "closing_balance").first()
    result.opening = {"amount": statement.opening_balance, "statement_id": previous.pk if previous else None,
                      "period_end": previous.period_end if previous else None,
                      "due_date": previous.due_date if previous else None,
                      "days_past_due": max(0, (today - previous.due_date).days) if previous else 0}
    payments = {p.ledger_entry_id: p for p in Payment.objects.filter(
        ledger_entry_id__in=[e.pk for e in entries if e.kind == K.PAYMENT])} if any(
        e.kind == K.PAYMENT for e in entries) else {}
    for e in entries:
        if e.kind in CAD_KINDS and e.reference:
            continue
        if e.kind == K.PAYMENT:
            payment = payments.get(e.pk)
            method = payment.get_method_display() if payment else _("Other")
            result.payments[method] = result.payments.get(method, ZERO) - e.amount
            result.payment_lines.append(_other_line(e, method))
        elif e.kind == K.INTEREST:
            result.interest.append(_other_line(e))
        elif e.kind == K.PENALTY:
            result.penalties.append(_other_line(e))
        elif e.amount < 0:
            result.credits.append(_other_line(e))
        else:
            result.other_charges.append(_other_line(e))
    if result.interest:
        # The engine's own explanation: the same call the cycle charged this period's interest with.
        histories = overdue.load_histories([statement.program_account_id],
                                           periods=(calendar.previous_period(previous_end), previous_end),
                                           until=statement.period_end)
        history = histories.get(statement.program_account_id)
        if history is not None:
            accrual = overdue.period_interest(statement.period_start, statement.period_end, history)
            result.interest_pieces = [InterestPiece(p.first, p.last, p.days, p.balance, p.rate)
                                      for p in accrual.pieces]


def _explain_credits(result: Reconciliation, user) -> None:
    """Each credit and payment line: the debts it paid (one query for all of them)."""
    lines = [line for line in (*result.credits, *result.payment_lines) if line.entry_id]
    if not lines or not _credit_explainers:
        return
    paid = debts_paid_by([line.entry_id for line in lines], accounts_for(user, Scope.BILLING).values("id"))
    for line in lines:
        line.paid = paid.get(line.entry_id, [])


def reconcile_or_error(statement: Statement, *, user, today: date, content: bytes | None = None,
                       use_firm_cads: bool = False, number_column: str | None = None,
                       amount_column: str | None = None) -> tuple[Reconciliation | None, ParsedList | None]:
    """Read the list (a file, or the broker's firm's CADs) and reconcile; ApplicationError with field
    errors for a bad file. Returns (None, parsed) when the file's columns need mapping."""
    if use_firm_cads:
        firm = firm_of(user)
        if firm is None:
            raise ApplicationError(_("Only a broker can use its firm's CADs."),
                                   field_errors={"source": [_("Only a broker can use its firm's CADs.")]})
        return reconcile(statement, firm_cads(statement, firm), user=user, today=today), None
    if not content:
        raise ApplicationError(_("Choose a file."), field_errors={"file": [_("Choose a CSV or XLSX file.")]})
    if len(content) > carm("UPLOAD_MAX_BYTES"):
        message = _("The file is larger than %(n)d bytes.") % {"n": carm("UPLOAD_MAX_BYTES")}
        raise ApplicationError(message, field_errors={"file": [message]})
    if content[:4] == b"PK\x03\x04":
        content = xlsx_as_csv(content)
    parsed = read_list(content, number_column=number_column, amount_column=amount_column)
    if parsed.errors:
        messages = [str(e) for e in parsed.errors[:20]]
        raise ApplicationError(_("The file cannot be used."), field_errors={"file": messages})
    if parsed.needs_mapping:
        return None, parsed
    return reconcile(statement, parsed.items, user=user, today=today), parsed


# --- Saved reconciliations: what changed since the last look -----------------------------------------------

GROUPS = ("matched", "differ", "unlisted", "not_on_statement")


def _money_text(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


def snapshot_rows(result: Reconciliation) -> dict[str, list]:
    return {r.transaction_number: [group, _money_text(r.listed), _money_text(r.billed)]
            for group in GROUPS for r in getattr(result, group)}


def changes_since(previous: SavedReconciliation | None, result: Reconciliation) -> list[dict]:
    """Per transaction number whose group or amounts moved: before and now (None: absent)."""
    if previous is None:
        return []
    now = snapshot_rows(result)
    out = []
    for number in sorted(set(previous.rows) | set(now)):
        before, after = previous.rows.get(number), now.get(number)
        if before != after:
            out.append({"transaction_number": number,
                        "before_group": before[0] if before else None, "now_group": after[0] if after else None,
                        "before_billed": before[2] if before else None, "now_billed": after[2] if after else None,
                        "before_listed": before[1] if before else None, "now_listed": after[1] if after else None})
    if previous.amount_due != result.amount_due:
        out.append({"transaction_number": "", "before_group": "amount_due", "now_group": "amount_due",
                    "before_billed": _money_text(previous.amount_due), "now_billed": _money_text(result.amount_due),
                    "before_listed": None, "now_listed": None})
    return out


def remembered_mapping(user) -> dict[str, str]:
    """The column mapping the user last gave (any statement): offered again on the next upload."""
    last = (SavedReconciliation.objects.filter(created_by=user).exclude(number_column="")
            .order_by("-id").values("number_column", "amount_column").first())
    return last or {}


def save(result: Reconciliation, *, user, source: str, mapping: dict[str, str] | None = None) -> SavedReconciliation:
    """Compare with the user's last saved reconciliation of the statement (``result.changes``), then save."""
    previous = (SavedReconciliation.objects.filter(statement=result.statement, created_by=user)
                .order_by("-id").first())  # ids are monotonic; clocks may be pinned
    result.changes = changes_since(previous, result)
    result.previous_saved_at = previous.created_at if previous else None
    return SavedReconciliation.objects.create(
        statement=result.statement, created_by=user, source=source, rows=snapshot_rows(result),
        number_column=(mapping or {}).get("number_column") or "", amount_column=(mapping or {}).get("amount_column") or "",
        counts=result.counts(), listed_total=result.listed_total, amount_due=result.amount_due)


def from_saved(saved: SavedReconciliation) -> Reconciliation:
    """The reconciliation a saved one recorded, built again (the PDF worker's input): the same list
    (its rows' listed amounts), the same reader, the day it was saved. Statements are frozen."""
    from django.utils import timezone

    items = [ListItem(0, number, Decimal(row[1])) for number, row in sorted(saved.rows.items())
             if row[1] is not None]
    today = timezone.localdate(saved.created_at)
    return reconcile(saved.statement, items, user=saved.created_by, today=today)


# --- Export --------------------------------------------------------------------------------------------

def pdf_groups(result: Reconciliation) -> list[tuple[str, list[Row]]]:
    return [(_("Matched"), result.matched), (_("Amounts that differ"), result.differ),
            (_("On the statement, not on your list"), result.unlisted),
            (_("On your list, not on this statement"), result.not_on_statement)]


CSV_HEADER = ["group", "transaction_number", "listed_amount", "statement_amount", "difference", "filed_by",
              "reason", "detail"]


def csv_rows(result: Reconciliation):
    yield CSV_HEADER
    for group, rows in (("matched", result.matched), ("differ", result.differ), ("unlisted", result.unlisted),
                        ("not_on_statement", result.not_on_statement)):
        for r in rows:
            yield [group, r.transaction_number, "" if r.listed is None else f"{r.listed:.2f}",
                   "" if r.billed is None else f"{r.billed:.2f}",
                   "" if r.difference is None else f"{r.difference:.2f}", r.filer, r.reason,
                   r.explanation or r.reason_detail]
    yield ["opening", "", "", f"{result.statement.opening_balance:.2f}", "", "", "", ""]
    for group, lines in (("credit", result.credits), ("interest", result.interest), ("penalty", result.penalties),
                         ("payment", result.payment_lines), ("other_charge", result.other_charges)):
        for line in lines:
            detail = " — ".join(t for t in (line.detail or line.description, line.paid_text) if t)
            yield [group, line.reference, "", f"{line.amount:.2f}", "", "", "", detail]
            for p in line.paid:  # one row per debt the credit paid: its transaction number, amount, date
                yield ["credit_paid", p.reference if p.debt_id else "", "", f"{p.amount:.2f}", "", "", "",
                       f"{p.applied_on.isoformat()} {p.label}"]
    yield ["closing", "", "", f"{result.statement.closing_balance:.2f}", "", "", "", ""]
    yield ["amount_due", "", "", f"{result.amount_due:.2f}", "", "", "",
           result.due_date.isoformat() if result.due_date else ""]
