"""CSV upload of CADs: one row per CAD line; all or nothing.

Every row is checked and every problem collected with its row and column. If there is any,
nothing is imported and the problems are returned. Otherwise every CAD is created and submitted
(and accepted, with ``CARM["CAD_AUTO_ACCEPT"]``) in one transaction, with bulk inserts and
reference data loaded once: a 10,000-line file imports in seconds.

Columns (a header row is required; names are case-insensitive, order is free, unknown columns
are refused). Row numbers count the header as row 1, as a spreadsheet shows them.

CAD columns, repeated on every row of the CAD and identical on all of them:
  transaction_number    14 digits; rows with the same number form one CAD. Blank: a number is
                        generated and the rows are grouped by ``cad_ref`` instead.
  cad_ref               your own key for one CAD when ``transaction_number`` is blank.
  program_account       the importer's RM account (BN15, e.g. 123456782RM0001); may be blank or
                        absent when the upload is made for one account.
  cad_type              regular (default) | courier_lvs | continuous
  release_date          YYYY-MM-DD, not in the future
  direct_shipment_date  YYYY-MM-DD, on or before the release date
  office_code           4 digits (CBSA office)
  transport_mode        air | highway | rail | marine | postal | courier | pipeline | other
  cargo_control_number, vendor_name, vendor_country (2 letters), invoice_number,
  invoice_currency (3 letters, default CAD), purchase_order

Line columns:
  line_no               optional; default: the row's order within its CAD
  description, description_2
  classification        10 digits (dots allowed: 6109.10.00.11); must be in the tariff table
  treatment             MFN, UST, MXT, CPTPT, CEUT...
  origin_country        2 letters
  quantity, unit        unit defaults to the tariff item's unit of measure
  value_foreign         value in the line's currency, not negative
  currency              default: invoice_currency
  exchange_rate         optional; if given, must equal the Bank of Canada rate for the date of
                        direct shipment
  duty_rate_percent     optional; 6.5 for 6.5 %; if given, must equal the tariff rate
  sima, excise_duty, excise_tax   optional amounts in CAD
  proof_of_origin       yes/no (default no); yes is required to claim any treatment but MFN, and
                        the treatment must allow the origin (UST: US goods...)
  gst_status            optional GST status code (TAX, S7-1, ...); default: the tariff item's
"""

from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import IO, Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import audit
from accounts.access import program_accounts_for
from accounts.models import ProgramAccount, User
from accounts.roles import Scope
from billing.ledger import services as ledger
from carm_portal.conf import carm

from . import deadlines, payment_timing, transaction_numbers
from .models import CAD, CADLine, CADVersion
from .services import (
    broker_for,
    charge_entry_fields,
    filer_bn9,
    mark_accepted,
    original_version,
    totals_of,
)
from .validation import (
    HEADER_FIELDS,
    CleanLine,
    Problems,
    ReferenceData,
    check_header,
    check_line,
    check_program_account,
    clean_header,
    normalize_classification,
    parse_date,
    parse_lines,
)

GROUP_COLUMNS = ("transaction_number", "cad_ref", "program_account")
HEADER_COLUMNS = tuple(HEADER_FIELDS)
LINE_COLUMNS = (
    "line_no", "description", "description_2", "classification", "treatment", "origin_country", "quantity",
    "unit", "value_foreign", "currency", "exchange_rate", "duty_rate_percent", "sima", "excise_duty",
    "excise_tax", "proof_of_origin", "gst_status",
)
COLUMNS = ("cad_ref", "program_account", *HEADER_COLUMNS, *LINE_COLUMNS)
REQUIRED_COLUMNS = ("release_date", "direct_shipment_date", "office_code", "classification", "treatment",
                    "origin_country", "value_foreign", "description")
# Service field names that have a different column name here.
FIELD_TO_COLUMN = {"duty_rate": "duty_rate_percent"}

BATCH = 2000

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class RowError:
    row: int
    column: str
    message: str

    def __str__(self) -> str:
        return f"row {self.row}, {self.column}: {self.message}"


@dataclass
class ImportResult:
    cads: list[CAD] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    line_count: int = 0
    # Per CAD, in file order: the file's own reference (cad_ref, or the transaction number it
    # gave), its first row and line count → the CAD created, with its totals.
    mapping: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass
class _Group:
    key: str
    first_row: int
    header_values: dict[str, str]
    program_account: ProgramAccount | None = None
    rows: list[int] = field(default_factory=list)
    raw_lines: list[dict[str, Any]] = field(default_factory=list)
    header: dict[str, Any] = field(default_factory=dict)
    lines: list[CleanLine] = field(default_factory=list)


# The most problems reported for one file: enough to fix it, never a response of megabytes.
MAX_REPORTED_ERRORS = 500


def _read(file: IO | bytes | str, errors: list[RowError]) -> list[list[str]] | None:
    """The file's rows, in time linear in its size and within the configured limits.

    Limits (``carm()``): ``CSV_MAX_COLUMNS`` cells in the header (and in any row),
    ``CSV_MAX_CELL_CHARS`` characters in a cell, ``CSV_MAX_ROWS`` rows after the header. A file
    that is not UTF-8, holds a NUL byte or breaks a limit gets a row error and None.
    """
    content = file if isinstance(file, bytes | str) else file.read()
    if isinstance(content, bytes):
        try:
            text = content.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            errors.append(RowError(content.count(b"\n", 0, exc.start) + 1, "", _(
                "The file is not UTF-8 text. Save it as \"CSV UTF-8\" and try again.")))
            return None
    else:
        text = content
    text = text.lstrip("\ufeff")
    nul = text.find("\x00")
    if nul >= 0:
        errors.append(RowError(text.count("\n", 0, nul) + 1, "", _(
            "The file contains a NUL character: it is not a CSV text file.")))
        return None
    max_columns, max_cell, max_rows = carm("CSV_MAX_COLUMNS"), carm("CSV_MAX_CELL_CHARS"), carm("CSV_MAX_ROWS")
    table: list[list[str]] = []
    reader = csv.reader(io.StringIO(text))
    header: list[str] = []
    try:
        for cells in reader:
            row_no = len(table) + 1
            if row_no > max_rows + 1:
                errors.append(RowError(row_no, "", _(
                    "The file has more than %(n)d lines; split it into smaller files.") % {"n": max_rows}))
                return None
            if len(cells) > max_columns:
                errors.append(RowError(row_no, "", _(
                    "This row has more than %(n)d cells.") % {"n": max_columns}))
                if row_no == 1:
                    return None
                table.append([])  # keeps the row numbers; the error stops the import
                continue
            for index, cell in enumerate(cells):
                if len(cell) > max_cell:
                    column = header[index].strip().lower() if index < len(header) else ""
                    errors.append(RowError(row_no, column[:50], _(
                        "This cell is longer than %(n)d characters.") % {"n": max_cell}))
            if row_no == 1:
                header = cells
            table.append(cells)
    except csv.Error:
        # The csv module's own cell limit (131,072 characters) or a malformed quote.
        errors.append(RowError(len(table) + 1, "", _(
            "This row cannot be read: a cell is longer than %(n)d characters, or a quote is not closed.")
            % {"n": max_cell}))
        return None
    return table


def _percent_to_fraction(value: str) -> str | Decimal:
    if not value.strip():
        return ""
    try:
        return Decimal(value.strip().rstrip("%").strip()) / Decimal(100)
    except (InvalidOperation, ArithmeticError):
        return value  # the line parser reports "Not a number." on the column


def import_cads_csv(
    *,
    actor: User,
    file: IO | bytes | str,
    program_account: ProgramAccount | None = None,
    progress: Progress | None = None,
    today: date | None = None,
) -> ImportResult:
    """Check the whole file; import all of it or nothing (see ``_import``).

    At most ``MAX_REPORTED_ERRORS`` problems are returned, the last one saying how many more.
    """
    result = _import(actor=actor, file=file, program_account=program_account, progress=progress, today=today)
    if len(result.errors) > MAX_REPORTED_ERRORS:
        more = len(result.errors) - MAX_REPORTED_ERRORS + 1
        del result.errors[MAX_REPORTED_ERRORS - 1:]
        result.errors.append(RowError(result.errors[-1].row, "", _(
            "%(n)d more problems not shown; fix these and upload the file again.") % {"n": more}))
    return result


def _import(
    *,
    actor: User,
    file: IO | bytes | str,
    program_account: ProgramAccount | None = None,
    progress: Progress | None = None,
    today: date | None = None,
) -> ImportResult:
    """Check the whole file; import all of it or nothing. See the module docstring for columns.

    ``program_account``: the RM account the upload is for (the acting-for account in the web UI);
    then the ``program_account`` column may be left out. Either way the actor needs
    ``Scope.SUBMIT_CADS`` on every account named, and an unknown account is reported like one the
    actor may not use.
    """
    today = today or timezone.localdate()
    result = ImportResult()
    errors = result.errors
    table = _read(file, errors)
    if table is None or errors:
        return result
    if not table or not any(cell.strip() for cell in table[0]):
        errors.append(RowError(1, "", _("The file is empty: it needs a header row and at least one line.")))
        return result
    columns = [c.strip().lower() for c in table[0]]
    unknown = [c for c in columns if c not in COLUMNS]
    for column in unknown:
        errors.append(RowError(1, column, _("Unknown column.")))
    duplicated = {c for c, n in Counter(columns).items() if n > 1}
    for column in sorted(duplicated):
        errors.append(RowError(1, column, _("This column appears more than once.")))
    for column in REQUIRED_COLUMNS:
        if column not in columns:
            errors.append(RowError(1, column, _("This column is required.")))
    if "transaction_number" not in columns and "cad_ref" not in columns:
        errors.append(RowError(1, "transaction_number", _("Give a transaction_number or a cad_ref column.")))
    if program_account is None and "program_account" not in columns:
        errors.append(RowError(1, "program_account", _("This column is required.")))
    if errors:
        return result

    # 1. Group the rows into CADs.
    groups: dict[tuple[str, str], _Group] = {}
    for offset, cells in enumerate(table[1:]):
        row_no = offset + 2
        if not any(cell.strip() for cell in cells):
            continue  # blank lines are harmless
        if len(cells) > len(columns):
            errors.append(RowError(row_no, "", _("This row has more cells than the header.")))
            continue
        values = {c: (cells[i].strip() if i < len(cells) else "") for i, c in enumerate(columns)}
        number = transaction_numbers.normalize(values.get("transaction_number", ""))
        ref = values.get("cad_ref", "")
        if not number and not ref:
            errors.append(RowError(row_no, "transaction_number", _("Give a transaction number or a cad_ref.")))
            continue
        account_number = values.get("program_account", "").upper().replace(" ", "")
        key = ("n", number) if number else ("r", f"{account_number}|{ref}")
        header_values = {c: values.get(c, "") for c in (*HEADER_COLUMNS, "program_account") if c in columns}
        group = groups.get(key)
        if group is None:
            group = groups[key] = _Group(key=number or ref, first_row=row_no, header_values=header_values)
        else:
            for column, value in header_values.items():
                if column in ("transaction_number",):
                    continue
                if value != group.header_values[column]:
                    errors.append(RowError(row_no, column, _(
                        "Differs from row %(row)d of the same CAD (%(value)s).")
                        % {"row": group.first_row, "value": group.header_values[column] or _("blank")}))
        line = {c: values[c] for c in LINE_COLUMNS if c in values and c != "duty_rate_percent"}
        if "duty_rate_percent" in values:
            line["duty_rate"] = _percent_to_fraction(values["duty_rate_percent"])
        group.rows.append(row_no)
        group.raw_lines.append(line)
        result.line_count += 1
    if not groups and not errors:
        errors.append(RowError(2, "", _("The file has no lines.")))

    # 2. RM accounts: the ones named, within the actor's gate (one query).
    allowed = {
        pa.number: pa
        for pa in program_accounts_for(actor, Scope.SUBMIT_CADS).select_related("business").filter(
            number__in={g.header_values.get("program_account", "").upper().replace(" ", "") for g in groups.values()}
            | ({program_account.number} if program_account is not None else set())
        )
    }
    if program_account is not None and program_account.number not in allowed:
        errors.append(RowError(1, "program_account", _("You may not file CADs for this RM account.")))
        return result
    for group in groups.values():
        number = group.header_values.get("program_account", "").upper().replace(" ", "")
        if not number and program_account is not None:
            group.program_account = program_account
        elif program_account is not None and number and number != program_account.number:
            errors.append(RowError(group.first_row, "program_account",
                                   _("This upload is for RM account %(number)s.") % {"number": program_account.number}))
        elif number in allowed:
            group.program_account = allowed[number]
        else:
            errors.append(RowError(group.first_row, "program_account", _(
                "Unknown RM account, or you may not file CADs for it.") if number else _("This field is required.")))

    # 3. Parse every header and line; load the reference data once for the whole file.
    problems_by_group: dict[tuple[str, str], Problems] = {}
    for key, group in groups.items():
        problems = problems_by_group[key] = Problems()
        group.header = clean_header(
            {c: group.header_values.get(c, "") for c in HEADER_COLUMNS}, problems
        )
        group.lines = parse_lines(group.raw_lines, problems, default_currency=group.header.get("invoice_currency"))
    ref = ReferenceData.load(
        classifications={normalize_classification(line.get("classification")) for g in groups.values()
                         for line in g.raw_lines},
        currencies={ln.currency for g in groups.values() for ln in g.lines},
        dates=_safe_dates(g.header_values.get("direct_shipment_date") for g in groups.values()),
    )
    supplied = [g.header["transaction_number"] for g in groups.values() if g.header.get("transaction_number")]
    taken = set(CAD.objects.filter(transaction_number__in=supplied).values_list("transaction_number", flat=True))

    # 4. The rules, CAD by CAD.
    for key, group in groups.items():
        problems = problems_by_group[key]
        header = group.header
        check_header(header, problems, today=today, require_number=False)
        if header.get("transaction_number") in taken:
            problems.add("transaction_number", _("Already used by another CAD."))
        if group.program_account is not None:
            check_program_account(group.program_account, problems)
        for index, line in enumerate(group.lines):
            check_line(line, index, problems, ref, direct_shipment_date=header.get("direct_shipment_date"),
                       strict=True)
        for problem in problems.items:
            row = group.rows[problem.line] if problem.line is not None else group.first_row
            errors.append(RowError(row, FIELD_TO_COLUMN.get(problem.field, problem.field), problem.message))
    if errors:
        errors.sort(key=lambda e: (e.row, e.column))
        return result

    try:
        result.cads = _create(actor=actor, groups=list(groups.values()), today=today, progress=progress,
                              total=result.line_count, supplied=set(supplied))
        result.mapping = [
            {"ref": group.key, "row": group.first_row, "lines": len(group.lines), "cad": cad.pk,
             "transaction_number": cad.transaction_number, "vfd": str(cad.vfd_total), "dt": str(cad.dt_total)}
            for group, cad in zip(groups.values(), result.cads, strict=True)
        ]
    except IntegrityError:
        # Checked above, but another upload may have taken a number since: nothing was imported.
        errors.append(RowError(1, "transaction_number", _(
            "A CAD with one of these transaction numbers was created meanwhile; nothing was imported. "
            "Upload the file again to see which.")))
    return result


def _safe_dates(values) -> list[date]:
    out = []
    for value in values:
        try:
            day = parse_date(value)
        except (TypeError, ValueError):
            continue
        if day is not None:
            out.append(day)
    return out


@transaction.atomic
def _create(*, actor: User, groups: list[_Group], today: date, progress: Progress | None, total: int,
            supplied: set[str]) -> list[CAD]:

    now = timezone.now()
    auto_accept = carm("CAD_AUTO_ACCEPT")
    brokers = {}
    for pa in {g.program_account.pk: g.program_account for g in groups}.values():
        brokers[pa.pk] = broker_for(actor, pa)

    # Numbers for the CADs that came without one: one counter bump per prefix.
    need: dict[str, list[_Group]] = defaultdict(list)
    for group in groups:
        if not group.header.get("transaction_number"):
            pa = group.program_account
            prefix = transaction_numbers.account_security_prefix(filer_bn9(actor, pa, brokers[pa.pk]))
            need[prefix].append(group)
    def free(numbers: list[str]) -> list[str]:
        # A filer may have typed numbers in our range, in the database or in this file: skip them.
        used = set(CAD.objects.filter(transaction_number__in=numbers).values_list("transaction_number", flat=True))
        return [n for n in numbers if n not in used and n not in supplied]

    for prefix, waiting in need.items():
        fresh = free(transaction_numbers.reserve(prefix, len(waiting)))
        while len(fresh) < len(waiting):
            fresh += free(transaction_numbers.reserve(prefix, len(waiting) - len(fresh)))
        for group, number in zip(waiting, fresh, strict=False):
            group.header["transaction_number"] = number

    cads = []
    for group in groups:
        pa = group.program_account
        cad = CAD(program_account=pa, filed_by=actor, broker=brokers[pa.pk], created_at=now, updated_at=now,
                  status=CAD.Status.SUBMITTED, submitted_at=now)
        for key, value in group.header.items():
            setattr(cad, key, value)
        cad.due_date = deadlines.cad_due_date(cad.release_date, cad.cad_type)
        cad.submitted_late = cad.due_date is not None and today > cad.due_date
        cad.set_totals(totals_of(group.lines))
        if auto_accept:
            mark_accepted(cad, today=today, now=now)
        cads.append(cad)
    payment_timing.decide_all(cads)  # pay-at-release without RPP on the day of release: one query
    CAD.objects.bulk_create(cads, batch_size=500)

    done = 0
    all_lines: list[list[CADLine]] = []
    batch: list[CADLine] = []
    for cad, group in zip(cads, groups, strict=True):
        objects = [CADLine(cad=cad, **line.model_fields()) for line in group.lines]
        all_lines.append(objects)
        batch.extend(objects)
        if len(batch) >= BATCH:
            CADLine.objects.bulk_create(batch, batch_size=BATCH)
            done += len(batch)
            batch = []
            if progress:
                progress(done, total)
    if batch:
        CADLine.objects.bulk_create(batch, batch_size=BATCH)
        done += len(batch)
    if progress:
        progress(done, total)

    if auto_accept:
        entries, versions = [], []
        for cad, lines in zip(cads, all_lines, strict=True):
            version = original_version(cad, lines, actor=None, now=now)
            fields = charge_entry_fields(cad, actor=None)
            if fields is not None:
                version.ledger_entry = ledger.build_entry(**fields)
                entries.append(version.ledger_entry)
            versions.append(version)
        ledger.post_entries_bulk(entries)
        CADVersion.objects.bulk_create(versions, batch_size=500)

    # One audit event per importer (not per CAD): who uploaded what, for whom.
    by_business: dict[int, list[tuple[CAD, int]]] = defaultdict(list)
    for cad, lines in zip(cads, all_lines, strict=True):
        by_business[cad.program_account.business_id].append((cad, len(lines)))
    for filed in by_business.values():
        audit.record("declarations.cad.csv_imported", actor=actor, acting_for=filed[0][0].program_account.business,
                     changes={"cads": len(filed), "lines": sum(n for _cad, n in filed), "accepted": auto_accept,
                              "transaction_numbers": [cad.transaction_number for cad, _n in filed][:1000]})
    return cads
