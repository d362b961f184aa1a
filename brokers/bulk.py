"""Bulk delegation requests: a broker firm asks many importers at once (a CSV file or a pasted list).

Each row names an importer by its BN9 (a request for the whole business) or by one of its RM
accounts, e.g. 123456782RM0001 (a request for that RM account: program coverage). A CSV may add a
``scopes`` column (flags separated by spaces, ``;`` or ``|``) and an end-date column (``valid_to``,
YYYY-MM-DD); empty cells take the terms chosen for every row.

``evaluate`` is the preview: every row's outcome (will request / already delegated or requested /
unknown / bad format / duplicate) in a constant number of queries, nothing written. ``submit``
writes every row the preview said it would request, each through
``accounts.services.delegation_request`` (the one rule, which audits each request), in one
transaction: a row that fails then (it became invalid since the preview) rolls every row back, and
the outcome says which row and why.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts import services
from accounts.access import managed_businesses
from accounts.models import Business, Delegation, Membership, ProgramAccount, User
from accounts.roles import DELEGATION_FLAGS, Right
from accounts.validators import normalize_bn, validate_bn9, validate_program_account_number
from carm_portal.exceptions import ApplicationError
from carm_portal.validators import parse_date

MAX_ROWS = 500
MAX_BYTES = 100_000  # 100 kB: 500 rows of a BN15, scopes and a date fit many times over

NUMBER_COLUMNS = {"bn", "bn9", "rm", "rm_number", "rm_account", "number", "account", "identifier"}
SCOPES_COLUMNS = {"scopes", "scope"}
END_COLUMNS = {"valid_to", "end_date", "end", "until"}


class Outcome(StrEnum):
    REQUEST = "request"  # preview: will be requested; after submit: requested
    ALREADY = "already"
    UNKNOWN = "unknown"
    BAD_FORMAT = "bad_format"
    DUPLICATE = "duplicate"
    FAILED = "failed"  # valid at the preview, failed on submit: every row rolled back
    ROLLED_BACK = "rolled_back"  # would have been requested, but another row failed


OUTCOME_LABELS = {
    Outcome.REQUEST: gettext_lazy("Will request"),
    Outcome.ALREADY: gettext_lazy("Already delegated or requested"),
    Outcome.UNKNOWN: gettext_lazy("Unknown BN or RM account"),
    Outcome.BAD_FORMAT: gettext_lazy("Bad format"),
    Outcome.DUPLICATE: gettext_lazy("Duplicate row"),
    Outcome.FAILED: gettext_lazy("Failed"),
    Outcome.ROLLED_BACK: gettext_lazy("Not requested (rolled back)"),
}
DONE_LABEL = gettext_lazy("Requested")


@dataclass(frozen=True)
class Row:
    line: int  # the row's number in the input (1 = the first line, the header included)
    number: str  # as written
    scopes: tuple[str, ...] | None = None  # None: the terms' scopes
    valid_to: date | None = None
    has_valid_to: bool = False  # the row has its own end date (else: the terms')
    error: str = ""  # a format problem found while reading the row

    def to_json(self) -> list:
        return [self.line, self.number, list(self.scopes) if self.scopes is not None else None,
                self.valid_to.isoformat() if self.valid_to else None, self.error]

    @classmethod
    def from_json(cls, data: list) -> Row:
        line, number, scopes, valid_to, error = data
        return cls(int(line), str(number), tuple(scopes) if scopes is not None else None,
                   date.fromisoformat(valid_to) if valid_to else None, bool(valid_to), str(error))


@dataclass(frozen=True)
class Terms:
    """What every row asks for unless its own columns say otherwise."""

    scopes: tuple[str, ...]
    valid_from: date
    valid_to: date | None = None
    note: str = ""

    def to_json(self) -> dict:
        return {"scopes": list(self.scopes), "valid_from": self.valid_from.isoformat(),
                "valid_to": self.valid_to.isoformat() if self.valid_to else None, "note": self.note}

    @classmethod
    def from_json(cls, data: dict) -> Terms:
        return cls(tuple(data["scopes"]), date.fromisoformat(data["valid_from"]),
                   date.fromisoformat(data["valid_to"]) if data["valid_to"] else None, data["note"])


@dataclass
class RowResult:
    row: Row
    outcome: Outcome
    message: str = ""
    bn9: str = ""
    rm: str = ""  # the RM account the row names ("" for a BN9 row)
    importer: Business | None = None
    delegation: Delegation | None = None
    scopes: tuple[str, ...] = ()
    valid_to: date | None = None

    @property
    def label(self) -> str:
        if self.outcome == Outcome.REQUEST and self.delegation is not None:
            return str(DONE_LABEL)
        return str(OUTCOME_LABELS[self.outcome])

    def to_json(self) -> dict:
        return {
            "row": self.row.line, "number": self.row.number, "outcome": str(self.outcome),
            "label": self.label, "message": self.message,
            "importer": self.importer.display_name if self.importer else "",
            "bn9": self.bn9, "rm_account": self.rm, "scopes": list(self.scopes),
            "valid_to": self.valid_to.isoformat() if self.valid_to else None,
            "delegation": self.delegation.pk if self.delegation is not None else None,
        }


@dataclass
class BulkResult:
    results: list[RowResult]
    written: bool = False
    failed_row: int | None = None  # the row that rolled everything back
    totals: dict[str, int] = field(default_factory=dict)

    def __post_init__(self):
        self.totals = totals(self.results)


def totals(results: list[RowResult]) -> dict[str, int]:
    out = {str(o): 0 for o in Outcome}
    for r in results:
        out[str(r.outcome)] += 1
    return out


# --- Who may ask --------------------------------------------------------------------------------

def requesting_firms(user: User) -> QuerySet[Business]:
    """Broker firms where the user may request delegations: ``delegation_request``'s own rule
    (the right to grant delegations, business-wide, i.e. the firm's BAM)."""
    return managed_businesses(user, Right.GRANT_DELEGATIONS).filter(
        kind=Business.Kind.BROKER,
        id__in=Membership.objects.filter(user=user, status=Membership.Status.ACTIVE,
                                         program_account__isnull=True).values("business_id"),
    ).order_by("legal_name", "pk")


# --- Reading the input --------------------------------------------------------------------------

def _too_big(field_name: str, size: int) -> None:
    if size > MAX_BYTES:
        message = _("The list is too large: at most %(kb)d kB.") % {"kb": MAX_BYTES // 1000}
        raise ApplicationError(message, field_errors={field_name: [message]})


def _too_many(field_name: str, count: int) -> None:
    if count > MAX_ROWS:
        message = _("Too many rows: at most %(n)d, this list has %(m)d.") % {"n": MAX_ROWS, "m": count}
        raise ApplicationError(message, field_errors={field_name: [message]})


def _empty(field_name: str) -> None:
    message = _("The list has no BN or RM number.")
    raise ApplicationError(message, field_errors={field_name: [message]})


def parse_list(text: str, *, field_name: str = "numbers") -> list[Row]:
    """A pasted list: BN9s or RM numbers, one per line (or separated by commas, semicolons, spaces)."""
    _too_big(field_name, len(text.encode()))
    rows = []
    for n, line in enumerate(text.splitlines(), start=1):
        for number in re.split(r"[\s,;]+", line.strip()):
            if number:
                rows.append(Row(n, number))
    if not rows:
        _empty(field_name)
    _too_many(field_name, len(rows))
    return rows


def _split_scopes(cell: str) -> tuple[tuple[str, ...] | None, str]:
    flags = [f for f in re.split(r"[\s;|,+]+", cell.strip().lower()) if f]
    if not flags:
        return None, ""
    unknown = [f for f in flags if f not in DELEGATION_FLAGS]
    if unknown:
        return None, _("Unknown scope: %(scopes)s (use %(known)s).") % {
            "scopes": ", ".join(unknown), "known": ", ".join(DELEGATION_FLAGS)}
    return tuple(f for f in DELEGATION_FLAGS if f in flags), ""


def parse_csv(data: bytes, *, field_name: str = "file") -> list[Row]:
    """A CSV file: the BN9 or RM number first (or in a column named bn, rm, number...), then
    optional ``scopes`` and ``valid_to`` columns. A header row is optional."""
    _too_big(field_name, len(data))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        message = _("The file is not UTF-8 text: save it as CSV (UTF-8).")
        raise ApplicationError(message, field_errors={field_name: [message]}) from None
    if "\x00" in text:
        message = _("The file is not a CSV file.")
        raise ApplicationError(message, field_errors={field_name: [message]})
    sample = text[:4096]
    delimiter = max(",;\t", key=sample.count) if any(d in sample for d in ",;\t") else ","
    lines = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    columns = {"number": 0, "scopes": 1, "valid_to": 2}
    start = 0
    if lines:
        head = [c.strip().lower().replace(" ", "_") for c in lines[0]]
        if any(h in NUMBER_COLUMNS | SCOPES_COLUMNS | END_COLUMNS for h in head):
            start = 1
            columns = {"number": None, "scopes": None, "valid_to": None}
            for i, h in enumerate(head):
                for key, names in (("number", NUMBER_COLUMNS), ("scopes", SCOPES_COLUMNS),
                                   ("valid_to", END_COLUMNS)):
                    if h in names and columns[key] is None:
                        columns[key] = i
            if columns["number"] is None:
                message = _("The header has no BN or RM number column (name it bn, rm or number).")
                raise ApplicationError(message, field_errors={field_name: [message]})
    rows = []
    for n, cells in enumerate(lines[start:], start=start + 1):
        cells = [c.strip() for c in cells]
        if not any(cells):
            continue

        def cell(key: str, cells=cells) -> str:
            i = columns[key]
            return cells[i] if i is not None and i < len(cells) else ""

        scopes, error = _split_scopes(cell("scopes"))
        valid_to, raw_end = None, cell("valid_to")
        if raw_end and not error:
            try:
                valid_to = parse_date(raw_end, future=True)
            except ValidationError as exc:
                error = f"{raw_end}: {exc.messages[0]}"
        rows.append(Row(n, cell("number"), scopes, valid_to, bool(raw_end), error))
    if not rows:
        _empty(field_name)
    _too_many(field_name, len(rows))
    return rows


# --- The preview --------------------------------------------------------------------------------

def _identify(number: str) -> tuple[str, str, str]:
    """(bn9, rm number or "", error) for a row's number."""
    compact = normalize_bn(number)
    if not compact:
        return "", "", _("No BN or RM number.")
    try:
        if len(compact) == 15:
            validate_program_account_number(compact)
            return compact[:9], compact, ""
        validate_bn9(compact)
        return compact, "", ""
    except ValidationError as exc:
        return "", "", exc.messages[0]


def evaluate(broker: Business, rows: list[Row], terms: Terms) -> list[RowResult]:
    """Every row's outcome, nothing written: 3 queries whatever the number of rows."""
    results: list[RowResult] = []
    for row in rows:
        bn9, rm, error = _identify(row.number)
        error = row.error or error
        result = RowResult(row, Outcome.BAD_FORMAT if error else Outcome.REQUEST, error, bn9, rm,
                           scopes=row.scopes if row.scopes is not None else terms.scopes,
                           valid_to=row.valid_to if row.has_valid_to else terms.valid_to)
        if not error and not result.scopes:
            result.outcome, result.message = Outcome.BAD_FORMAT, _("Choose at least one scope.")
        elif not error and result.valid_to is not None and result.valid_to < terms.valid_from:
            result.outcome, result.message = Outcome.BAD_FORMAT, _("The end date is before the start date.")
        results.append(result)

    candidates = [r for r in results if r.outcome == Outcome.REQUEST]
    importers = {b.bn9: b for b in Business.objects.filter(
        kind=Business.Kind.IMPORTER, bn9__in={r.bn9 for r in candidates})}
    rm_owner = dict(ProgramAccount.objects.filter(number__in={r.rm for r in candidates if r.rm})
                    .values_list("number", "business_id"))
    open_with = set(Delegation.objects.filter(
        broker=broker, importer__in=importers.values(),
        status__in=[Delegation.Status.REQUESTED, Delegation.Status.ACTIVE],
    ).values_list("importer_id", flat=True))

    seen_number: dict[str, int] = {}
    seen_importer: dict[str, int] = {}
    for r in results:
        if r.outcome != Outcome.REQUEST:
            continue
        key = r.rm or r.bn9
        if key in seen_number:
            r.outcome = Outcome.DUPLICATE
            r.message = _("The same as row %(n)d.") % {"n": seen_number[key]}
            continue
        seen_number[key] = r.row.line
        if r.bn9 in seen_importer:
            # One open delegation per importer and broker: a second row for it cannot be requested.
            r.outcome = Outcome.DUPLICATE
            r.message = _("Row %(n)d already asks this importer.") % {"n": seen_importer[r.bn9]}
            continue
        importer = importers.get(r.bn9)
        if importer is None:
            r.outcome, r.message = Outcome.UNKNOWN, _("No importer is registered with this Business Number.")
            continue
        r.importer = importer
        seen_importer[r.bn9] = r.row.line
        if r.rm and rm_owner.get(r.rm) != importer.pk:
            r.outcome, r.message = Outcome.UNKNOWN, _("This RM account is not registered for the importer.")
            continue
        if importer.pk in open_with:
            r.outcome = Outcome.ALREADY
            r.message = _("There is already an active or pending delegation between this importer and this broker.")
    return results


# --- Submit -------------------------------------------------------------------------------------

class _RollBack(Exception):
    pass


def _service_message(exc: ApplicationError) -> str:
    details = [m for messages in exc.field_errors.values()
               for m in ([messages] if isinstance(messages, str) else messages) if m != exc.message]
    return " ".join([exc.message, *details])


def submit(*, actor: User, broker: Business, rows: list[Row], terms: Terms,
           expected: set[int] | None = None) -> BulkResult:
    """Request every row the preview would request, all or nothing.

    ``expected``: the row numbers the preview (seen by the user) said it would request; a row
    among them that cannot be requested now fails the whole submit. ``None`` (the API without a
    preview): every row must be requestable. Rows outside ``expected`` are reported, not written.
    """
    results: list[RowResult] = []
    failed: RowResult | None = None
    try:
        with transaction.atomic():
            results = evaluate(broker, rows, terms)
            for r in results:
                wanted = r.row.line in expected if expected is not None else True
                if not wanted:
                    continue
                if r.outcome != Outcome.REQUEST:
                    failed = r
                    raise _RollBack
                try:
                    r.delegation = services.delegation_request(
                        actor=actor, broker=broker, importer_bn9=r.bn9,
                        coverage=Delegation.Coverage.PROGRAM if r.rm else Delegation.Coverage.BUSINESS,
                        program_account_numbers=[r.rm] if r.rm else None,
                        scopes={flag: flag in r.scopes for flag in DELEGATION_FLAGS},
                        valid_from=terms.valid_from, valid_to=r.valid_to, note=terms.note,
                    )
                except ApplicationError as exc:
                    r.message = _service_message(exc)
                    failed = r
                    raise _RollBack from None
    except _RollBack:
        for r in results:
            r.delegation = None  # rolled back with everything else
            if r is failed:
                if r.outcome == Outcome.REQUEST or (expected is not None and r.row.line in expected):
                    r.outcome = Outcome.FAILED
            elif r.outcome == Outcome.REQUEST:
                r.outcome = Outcome.ROLLED_BACK
                r.message = _("Not requested: row %(n)d failed, so nothing was requested.") % {
                    "n": failed.row.line}
        return BulkResult(results, written=False, failed_row=failed.row.line)
    return BulkResult(results, written=any(r.delegation is not None for r in results))


def firm_for(user: User, firm_id) -> Business | None:
    """The user's requesting firm ``firm_id`` (None: the first); None when it has none (→ 404)."""
    firms = requesting_firms(user)
    if firm_id in (None, ""):
        return firms.first()
    try:
        return firms.filter(pk=int(firm_id)).first()
    except (TypeError, ValueError):
        return None

