"""Checking a CAD's header and lines, and computing its amounts, for one CAD or thousands.

Shared by the services (web form, API) and the CSV import so a CAD is judged the same way
whichever way it arrives. Reference data (tariff items, rates, exchange rates) is loaded once
per batch by ``ReferenceData.load``: a constant number of queries, however many lines.

Problems come in two strengths:
- *fatal*: the value cannot even be stored (not a number, not a date, unknown classification
  or treatment). A draft with such a problem is refused.
- *rule*: a business rule is broken (negative value, release date in the future, rate
  mismatch, no exchange rate...). A draft may hold it; submission refuses it.
"""

from __future__ import annotations

import bisect
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from accounts.models import ProgramAccount
from carm_portal import reference_tables, validators
from carm_portal.conf import carm
from carm_portal.money import ZERO

from . import transaction_numbers
from .calculation import LineAmounts, line_amounts, specific_amount
from .models import CAD, ExchangeRate, GstStatus, TariffItem, TariffRate, TariffTreatment

HOME_CURRENCY = "CAD"
MAX_LINES = 999

HEADER_FIELDS = (
    "transaction_number",
    "cad_type",
    "release_date",
    "direct_shipment_date",
    "office_code",
    "transport_mode",
    "cargo_control_number",
    "vendor_name",
    "vendor_country",
    "invoice_number",
    "invoice_currency",
    "purchase_order",
)

LINE_FIELDS = (
    "line_no",
    "description",
    "description_2",
    "classification",
    "treatment",
    "origin_country",
    "quantity",
    "unit",
    "value_foreign",
    "currency",
    "exchange_rate",
    "duty_rate",
    "sima",
    "excise_duty",
    "excise_tax",
    "gst_status",
    "proof_of_origin",
)

# Line fields whose change makes a version a s.32.2 correction (origin, classification, VFD).
S32_2_FIELDS = ("origin_country", "classification", "vfd")

_DIGITS = re.compile(r"^\d+$")


def exchange_rate_max_age() -> int:
    return carm("EXCHANGE_RATE_MAX_AGE_DAYS")


# --- Problems ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Problem:
    field: str
    message: str
    line: int | None = None  # index into the lines list (0-based); None for the header
    fatal: bool = False


@dataclass
class Problems:
    items: list[Problem] = field(default_factory=list)

    def add(self, field_name: str, message: str, *, line: int | None = None, fatal: bool = False) -> None:
        self.items.append(Problem(field_name, str(message), line, fatal))

    @property
    def fatal(self) -> list[Problem]:
        return [p for p in self.items if p.fatal]

    def __bool__(self) -> bool:
        return bool(self.items)

    def field_errors(self, *, fatal_only: bool = False) -> dict[str, list[str]]:
        """{"release_date": [...], "lines.0.classification": [...]}: for forms and the API."""
        out: dict[str, list[str]] = defaultdict(list)
        for p in self.fatal if fatal_only else self.items:
            key = p.field if p.line is None else f"lines.{p.line}.{p.field}"
            out[key].append(p.message)
        return dict(out)


# --- Parsing helpers -------------------------------------------------------------------------------

def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _code(value: Any) -> str:
    return _text(value).upper()


def parse_date(value: Any) -> date | None:
    """A date within the input window (``carm_portal.validators``); None when empty.

    Raises ValueError with the field's message (not ISO, or outside the window).
    """
    try:
        return validators.parse_date(value, future=True)
    except ValidationError as exc:
        raise ValueError(" ".join(exc.messages)) from None


def parse_decimal(value: Any, *, places: int, max_digits: int) -> Decimal | None:
    """A finite Decimal that fits DecimalField(max_digits, places); None when empty. Raises ValueError."""
    try:
        return validators.parse_decimal(value, places=places, max_digits=max_digits)
    except ValidationError as exc:
        raise ValueError(" ".join(exc.messages)) from None


_TRUE = {"1", "true", "yes", "y", "on", "oui", "o"}
_FALSE = {"", "0", "false", "no", "n", "off", "non"}


def parse_bool(value: Any) -> bool:
    """True/False from a form, JSON or a CSV cell (yes/no, true/false, 1/0; empty is no)."""
    if isinstance(value, bool):
        return value
    text = _text(value).lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(value)


def normalize_classification(value: Any) -> str:
    return "".join(ch for ch in _text(value) if ch not in ". -")


# --- Reference data ----------------------------------------------------------------------------------

TREATMENTS_TABLE = "declarations.tariff_treatments"
GST_TABLE = "declarations.gst_statuses"


def register_reference_tables() -> None:
    """DeclarationsConfig.ready: tariff treatments and GST statuses become process-memoised
    reference tables (carm_portal.reference_tables), refreshed in every process on an admin edit."""
    from types import MappingProxyType

    from django.db.models.signals import post_delete, post_save

    reference_tables.register(
        TREATMENTS_TABLE, load=lambda: list(TariffTreatment.objects.order_by("code")),
        build=lambda rows: MappingProxyType({t.code: t for t in rows}), model=TariffTreatment._meta.label,
    )
    reference_tables.register(
        GST_TABLE, load=lambda: list(GstStatus.objects.order_by("code").values_list("code", "taxable")),
        build=lambda rows: MappingProxyType(dict(rows)), model=GstStatus._meta.label,
    )
    for model in (TariffTreatment, GstStatus):
        uid = f"reftable-{model._meta.label_lower}"
        post_save.connect(reference_tables.changed, sender=model, dispatch_uid=f"{uid}-save")
        post_delete.connect(reference_tables.changed, sender=model, dispatch_uid=f"{uid}-delete")

@dataclass
class ReferenceData:
    """Tariff items, duty rates, treatments, GST statuses and exchange rates for a batch, in 5 queries."""

    items: dict[str, TariffItem]
    rates: dict[tuple[str, str], Decimal]
    treatments: set[str]
    fx: dict[str, tuple[list[date], list[Decimal]]]
    # The treatments with their origin rules, and GST status code → taxable.
    treatment_rules: dict[str, TariffTreatment] = field(default_factory=dict)
    gst_taxable: dict[str, bool] = field(default_factory=dict)

    @classmethod
    def load(cls, *, classifications: Iterable[str], currencies: Iterable[str],
             dates: Iterable[date | None]) -> ReferenceData:
        codes = {c for c in classifications if c}
        items = {i.classification: i for i in TariffItem.objects.filter(classification__in=codes, is_active=True)}
        rates = {
            (c, t): r
            for c, t, r in TariffRate.objects.filter(tariff_item__classification__in=codes)
            .values_list("tariff_item__classification", "treatment_id", "rate")
        }
        # Treatments and GST statuses: admin-edited tables, memoised per process (no query per CAD).
        treatment_rules = dict(reference_tables.get(TREATMENTS_TABLE))
        treatments = set(treatment_rules)
        gst_taxable = dict(reference_tables.get(GST_TABLE))
        foreign = {c for c in currencies if c and c != HOME_CURRENCY}
        days = [d for d in dates if d is not None]
        fx: dict[str, tuple[list[date], list[Decimal]]] = {}
        if foreign and days:
            since = min(days) - timedelta(days=exchange_rate_max_age())
            rows = (
                ExchangeRate.objects.filter(currency__in=foreign, date__gte=since, date__lte=max(days))
                .order_by("currency", "date")
                .values_list("currency", "date", "rate")
            )
            grouped: dict[str, tuple[list[date], list[Decimal]]] = defaultdict(lambda: ([], []))
            for currency, day, rate in rows:
                grouped[currency][0].append(day)
                grouped[currency][1].append(rate)
            fx = dict(grouped)
        return cls(items=items, rates=rates, treatments=treatments, fx=fx, treatment_rules=treatment_rules,
                   gst_taxable=gst_taxable)

    def exchange_rate(self, currency: str, on: date) -> Decimal | None:
        """The most recent rate on or before ``on``, if not older than the allowed age."""
        if currency == HOME_CURRENCY:
            return Decimal("1")
        days, rates = self.fx.get(currency, ([], []))
        i = bisect.bisect_right(days, on) - 1
        if i < 0 or (on - days[i]).days > exchange_rate_max_age():
            return None
        return rates[i]


def exchange_rate_on(currency: str, on: date) -> Decimal:
    """The Bank of Canada rate for the date of direct shipment; a clear error if there is none."""
    from carm_portal.exceptions import ApplicationError

    rate = ReferenceData.load(classifications=(), currencies=[currency], dates=[on]).exchange_rate(currency, on)
    if rate is None:
        raise ApplicationError(
            _("No %(currency)s exchange rate on or within %(days)d days before %(date)s.")
            % {"currency": currency, "days": exchange_rate_max_age(), "date": on},
            field_errors={"exchange_rate": [_("No rate for this currency and date.")]},
        )
    return rate


# --- Header ---------------------------------------------------------------------------------------------

def clean_header(data: Mapping[str, Any], problems: Problems, *, partial: bool = False) -> dict[str, Any]:
    """Parse header fields into model values. Unparseable values are fatal problems.

    With ``partial`` only the given keys are returned (a draft update).
    """
    unknown = set(data) - set(HEADER_FIELDS)
    for key in sorted(unknown):
        problems.add(key, _("Unknown field."), fatal=True)
    out: dict[str, Any] = {}
    keys = [k for k in HEADER_FIELDS if k in data] if partial else HEADER_FIELDS
    for key in keys:
        value = data.get(key)
        if key in ("release_date", "direct_shipment_date"):
            try:
                out[key] = parse_date(value)
            except (TypeError, ValueError) as exc:
                problems.add(key, str(exc) or _("Enter a date as YYYY-MM-DD."), fatal=True)
        elif key == "transaction_number":
            out[key] = transaction_numbers.normalize(value)
            if out[key] and (len(out[key]) != transaction_numbers.LENGTH or not out[key].isdigit()):
                problems.add(key, _("A transaction number has exactly 14 digits."), fatal=True)
        elif key == "cad_type":
            out[key] = _text(value) or CAD.Type.REGULAR
            if out[key] not in CAD.Type.values:
                problems.add(key, _("Unknown CAD type."), fatal=True)
        elif key == "transport_mode":
            out[key] = _text(value).lower() or CAD.TransportMode.HIGHWAY
            if out[key] not in CAD.TransportMode.values:
                problems.add(key, _("Unknown mode of transport."), fatal=True)
        elif key == "office_code":
            out[key] = _text(value)
            if out[key] and not (len(out[key]) == 4 and out[key].isdigit()):
                problems.add(key, _("A CBSA office code has 4 digits."), fatal=True)
        elif key == "invoice_currency":
            out[key] = _code(value) or HOME_CURRENCY
            if not re.fullmatch(r"[A-Z]{3}", out[key]):
                problems.add(key, _("A currency is a 3-letter ISO code, e.g. USD."), fatal=True)
        elif key == "vendor_country":
            out[key] = _code(value)
            if out[key] and not re.fullmatch(r"[A-Z]{2}", out[key]):
                problems.add(key, _("A country is a 2-letter ISO code, e.g. US."), fatal=True)
        else:
            out[key] = _text(value)
            max_length = CAD._meta.get_field(key).max_length
            if max_length and len(out[key]) > max_length:
                problems.add(key, _("At most %(n)d characters.") % {"n": max_length}, fatal=True)
    return out


def check_header(header: Mapping[str, Any], problems: Problems, *, today: date, require_number: bool = True) -> None:
    """The rules a header must meet to be submitted (without ``require_number``, one is generated)."""
    number = header.get("transaction_number") or ""
    if not number:
        if require_number:
            problems.add("transaction_number", _("This field is required."))
    else:
        try:
            transaction_numbers.validate(number)
        except ValidationError as exc:
            problems.add("transaction_number", " ".join(exc.messages))
    release = header.get("release_date")
    if release is None:
        problems.add("release_date", _("This field is required."))
    elif release > today:
        problems.add("release_date", _("The release date cannot be in the future."))
    shipped = header.get("direct_shipment_date")
    if shipped is None:
        problems.add("direct_shipment_date", _("This field is required."))
    elif release is not None and shipped > release:
        problems.add("direct_shipment_date", _("The date of direct shipment cannot be after the release date."))
    if not header.get("office_code"):
        problems.add("office_code", _("This field is required."))


def check_program_account(program_account: ProgramAccount, problems: Problems) -> None:
    if program_account.activity != ProgramAccount.Activity.IMPORTER:
        problems.add(
            "program_account",
            _("CADs can only be filed under an importer RM account; %(number)s is an exporter account.")
            % {"number": program_account.number},
        )
    elif program_account.status != ProgramAccount.Status.ACTIVE:
        problems.add("program_account", _("This RM account is inactive."))


# --- Lines -------------------------------------------------------------------------------------------------

@dataclass
class CleanLine:
    line_no: int
    description: str = ""
    description_2: str = ""
    classification: str = ""
    treatment: str = ""
    origin_country: str = ""
    quantity: Decimal | None = None
    unit: str = ""
    value_foreign: Decimal | None = None
    currency: str = ""
    declared_exchange_rate: Decimal | None = None
    declared_duty_rate: Decimal | None = None
    exchange_rate: Decimal | None = None
    duty_rate: Decimal | None = None
    sima: Decimal | None = None
    excise_duty: Decimal | None = None
    excise_tax: Decimal | None = None
    proof_of_origin: bool = False
    declared_gst_status: str = ""  # what the filer typed; empty: the tariff item's
    gst_status: str | None = None  # the status applied (None: taxable, nothing looked up)
    amounts: LineAmounts | None = None

    def model_fields(self) -> dict[str, Any]:
        """Keyword arguments for ``CADLine`` (amounts zero until they can be computed)."""
        a = self.amounts
        return {
            "line_no": self.line_no,
            "description": self.description,
            "description_2": self.description_2,
            "classification_id": self.classification,
            "treatment_id": self.treatment,
            "origin_country": self.origin_country,
            "proof_of_origin": self.proof_of_origin,
            "quantity": self.quantity if self.quantity is not None else Decimal("1"),
            "unit": self.unit or "NMB",
            "value_foreign": self.value_foreign if self.value_foreign is not None else ZERO,
            "currency": self.currency,
            "declared_exchange_rate": self.declared_exchange_rate,
            "declared_duty_rate": self.declared_duty_rate,
            "exchange_rate": self.exchange_rate,
            "duty_rate": self.duty_rate,
            "vfd": a.vfd if a else ZERO,
            "duty": a.duty if a else ZERO,
            "sima": a.sima if a else (self.sima or ZERO),
            "excise_duty": a.excise_duty if a else (self.excise_duty or ZERO),
            "excise_tax": a.excise_tax if a else (self.excise_tax or ZERO),
            "declared_gst_status": self.declared_gst_status,
            "gst_status_id": self.gst_status,
            "gst": a.gst if a else ZERO,
        }


_DECIMALS = {
    # field: (decimal places, max digits)
    "quantity": (3, 14),
    "value_foreign": (2, 14),
    "declared_exchange_rate": (6, 12),
    "declared_duty_rate": (6, 9),
    "sima": (2, 14),
    "excise_duty": (2, 14),
    "excise_tax": (2, 14),
}


def parse_line(data: Mapping[str, Any], index: int, problems: Problems, *, default_currency: str) -> CleanLine:
    """Types and formats of one line (fatal problems only)."""
    for key in sorted(set(data) - set(LINE_FIELDS)):
        problems.add(key, _("Unknown field."), line=index, fatal=True)
    line_no = index + 1
    if data.get("line_no") not in (None, ""):
        try:
            line_no = int(data["line_no"])
            if not 1 <= line_no <= MAX_LINES:
                raise ValueError
        except (TypeError, ValueError):
            problems.add("line_no", _("A line number is between 1 and %(n)d.") % {"n": MAX_LINES},
                         line=index, fatal=True)
    line = CleanLine(line_no=line_no)
    line.description = _text(data.get("description"))[:300]
    line.description_2 = _text(data.get("description_2"))[:300]
    line.classification = normalize_classification(data.get("classification"))
    if not line.classification:
        problems.add("classification", _("This field is required."), line=index, fatal=True)
    elif len(line.classification) != 10 or not _DIGITS.match(line.classification):
        problems.add("classification", _("A classification has 10 digits (tariff item + statistical suffix)."),
                     line=index, fatal=True)
    line.treatment = _code(data.get("treatment"))
    if not line.treatment:
        problems.add("treatment", _("This field is required."), line=index, fatal=True)
    line.origin_country = _code(data.get("origin_country"))
    if line.origin_country and not re.fullmatch(r"[A-Z]{2}", line.origin_country):
        problems.add("origin_country", _("A country is a 2-letter ISO code, e.g. US."), line=index, fatal=True)
    line.unit = _code(data.get("unit"))[:3]
    line.declared_gst_status = _code(data.get("gst_status"))
    if len(line.declared_gst_status) > 8:
        problems.add("gst_status", _("Unknown GST status %(code)s.") % {"code": line.declared_gst_status[:20]},
                     line=index, fatal=True)
    try:
        line.proof_of_origin = parse_bool(data.get("proof_of_origin"))
    except ValueError:
        problems.add("proof_of_origin", _("Enter yes or no."), line=index, fatal=True)
    line.currency = _code(data.get("currency")) or default_currency
    if not re.fullmatch(r"[A-Z]{3}", line.currency):
        problems.add("currency", _("A currency is a 3-letter ISO code, e.g. USD."), line=index, fatal=True)
    for key, (places, digits) in _DECIMALS.items():
        source = key.removeprefix("declared_")  # input says "exchange_rate", we keep it as declared
        try:
            setattr(line, key, parse_decimal(data.get(source), places=places, max_digits=digits))
        except ValueError as exc:
            problems.add(source, str(exc), line=index, fatal=True)
    if line.value_foreign is None:
        problems.add("value_foreign", _("This field is required."), line=index, fatal=True)
    return line


def check_line(line: CleanLine, index: int, problems: Problems, ref: ReferenceData, *,
               direct_shipment_date: date | None, strict: bool) -> None:
    """Look the line up in the reference data and compute its amounts.

    Unknown classification or treatment is fatal (the row could not be stored); the other
    problems are rule problems, reported only when ``strict`` (submission).
    """
    def rule(field_name: str, message: str) -> None:
        if strict:
            problems.add(field_name, message, line=index)

    item = ref.items.get(line.classification) if line.classification else None
    if line.classification and len(line.classification) == 10 and item is None:
        problems.add("classification", _("Unknown classification %(code)s.") % {"code": line.classification},
                     line=index, fatal=True)
    if line.treatment and line.treatment not in ref.treatments:
        problems.add("treatment", _("Unknown tariff treatment %(code)s.") % {"code": line.treatment},
                     line=index, fatal=True)
    if line.declared_gst_status and line.declared_gst_status not in ref.gst_taxable:
        problems.add("gst_status", _("Unknown GST status %(code)s.") % {"code": line.declared_gst_status},
                     line=index, fatal=True)
    treatment = ref.treatment_rules.get(line.treatment)
    if treatment is not None:
        check_treatment(line, treatment, rule)
    if not line.description:
        rule("description", _("This field is required."))
    if not line.origin_country:
        rule("origin_country", _("This field is required."))
    if line.value_foreign is not None and line.value_foreign < 0:
        rule("value_foreign", _("The value cannot be negative."))
    if line.quantity is not None and line.quantity <= 0:
        rule("quantity", _("The quantity must be more than zero."))
    for key in ("sima", "excise_duty", "excise_tax"):
        value = getattr(line, key)
        if value is not None and value < 0:
            rule(key, _("The amount cannot be negative."))

    table_rate = ref.rates.get((line.classification, line.treatment)) if item else None
    if item is not None and line.treatment in ref.treatments and table_rate is None:
        rule("treatment", _("Classification %(code)s has no rate under %(treatment)s.")
             % {"code": line.classification, "treatment": line.treatment})
    declared = line.declared_duty_rate
    if table_rate is not None and declared is not None and declared != table_rate:
        rule("duty_rate", _("The duty rate %(given)s does not match the tariff rate %(rate)s for %(code)s "
                            "under %(treatment)s.")
             % {"given": _percent(declared), "rate": _percent(table_rate),
                "code": line.classification, "treatment": line.treatment})
    # A draft keeps what the filer declared; a submission only ever uses the table's rate.
    line.duty_rate = table_rate if (strict or declared is None) else declared

    table_fx = None
    if line.currency == HOME_CURRENCY:
        table_fx = Decimal("1")
    elif direct_shipment_date is not None:
        table_fx = ref.exchange_rate(line.currency, direct_shipment_date)
        if table_fx is None:
            rule("exchange_rate", _("No %(currency)s exchange rate on or within %(days)d days before the date "
                                    "of direct shipment (%(date)s).")
                 % {"currency": line.currency, "days": exchange_rate_max_age(), "date": direct_shipment_date})
    declared = line.declared_exchange_rate
    if table_fx is not None and declared is not None and declared != table_fx:
        rule("exchange_rate", _("The exchange rate %(given)s does not match the Bank of Canada rate %(rate)s.")
             % {"given": declared, "rate": table_fx})
    line.exchange_rate = table_fx if (strict or declared is None) else declared

    if item is not None:
        if not line.unit:
            line.unit = item.unit_of_measure
        quantity = line.quantity if line.quantity is not None else Decimal("1")
        for key, per_unit in (("excise_duty", item.excise_duty_per_unit), ("excise_tax", item.excise_tax_per_unit)):
            if per_unit is None:
                continue  # no specific rate: the declared amount (default none) stands
            computed = specific_amount(quantity, per_unit)
            given = getattr(line, key)
            if given is not None and given != computed:
                rule(key, _("%(given)s does not match quantity × %(rate)s per %(unit)s = %(computed)s.")
                     % {"given": given, "rate": per_unit, "unit": item.unit_of_measure, "computed": computed})
            setattr(line, key, computed if (strict or given is None) else given)
    # GST: the status the filer declared, else the tariff item's (none: taxable at the GST rate).
    line.gst_status = line.declared_gst_status or (item.gst_status_id if item is not None else None) or None
    taxable = ref.gst_taxable.get(line.gst_status, True) if line.gst_status else True
    if line.value_foreign is not None and line.exchange_rate is not None and line.duty_rate is not None:
        line.amounts = line_amounts(
            value_foreign=line.value_foreign, exchange_rate=line.exchange_rate, duty_rate=line.duty_rate,
            sima=line.sima or ZERO, excise_duty=line.excise_duty or ZERO, excise_tax=line.excise_tax or ZERO,
            gst_rate=None if taxable else ZERO,
        )


def check_treatment(line: CleanLine, treatment: TariffTreatment, rule) -> None:
    """The treatment must fit the origin (CARM: "Tariff Treatment cannot be used with country entered"),
    and a preference claim must record that proof of origin is on file."""
    origin = line.origin_country
    if origin and re.fullmatch(r"[A-Z]{2}", origin) and not treatment.allows_origin(origin):
        if treatment.origin_rule == TariffTreatment.OriginRule.ONLY:
            rule("treatment", _("Tariff treatment %(treatment)s cannot be claimed for goods originating in "
                                "%(origin)s; it is for goods of %(countries)s.")
                 % {"treatment": treatment.code, "origin": origin,
                    "countries": ", ".join(sorted(treatment.countries)) or "—"})
        else:
            rule("treatment", _("Tariff treatment %(treatment)s cannot be used for goods originating in "
                                "%(origin)s.") % {"treatment": treatment.code, "origin": origin})
    if treatment.proof_of_origin_required and not line.proof_of_origin:
        rule("proof_of_origin", _("Claiming %(treatment)s requires proof of origin: confirm that it is on file.")
             % {"treatment": treatment.code})


def _percent(rate: Decimal) -> str:
    return f"{(rate * 100).normalize():f} %"


def check_line_numbers(lines: list[CleanLine], problems: Problems) -> None:
    seen: set[int] = set()
    for index, line in enumerate(lines):
        if line.line_no in seen:
            problems.add("line_no", _("Line %(n)d appears twice.") % {"n": line.line_no}, line=index, fatal=True)
        seen.add(line.line_no)


@dataclass
class CheckedCAD:
    header: dict[str, Any]
    lines: list[CleanLine]
    problems: Problems
    # The reference data the lines were checked with: pass it as ``ref`` to check them again.
    ref: ReferenceData | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return not self.problems


def parse_lines(raw_lines: list[Mapping[str, Any]], problems: Problems, *, default_currency: str) -> list[CleanLine]:
    if len(raw_lines) > MAX_LINES:
        problems.add("lines", _("A CAD has at most %(n)d lines.") % {"n": MAX_LINES}, fatal=True)
    lines = [parse_line(raw, i, problems, default_currency=default_currency) for i, raw in enumerate(raw_lines)]
    check_line_numbers(lines, problems)
    return lines


def check_cad(
    *,
    header: Mapping[str, Any],
    raw_lines: list[Mapping[str, Any]],
    today: date,
    strict: bool,
    program_account: ProgramAccount | None = None,
    ref: ReferenceData | None = None,
    problems: Problems | None = None,
    require_number: bool = True,
    header_rules: bool = True,
) -> CheckedCAD:
    """Parse and check a whole CAD. ``header`` may be raw (strings) or already clean."""
    problems = problems if problems is not None else Problems()
    clean = clean_header(header, problems)
    lines = parse_lines(raw_lines, problems, default_currency=clean.get("invoice_currency") or HOME_CURRENCY)
    if ref is None:
        ref = ReferenceData.load(
            classifications=[ln.classification for ln in lines],
            currencies=[ln.currency for ln in lines],
            dates=[clean.get("direct_shipment_date")],
        )
    if strict and header_rules:
        check_header(clean, problems, today=today, require_number=require_number)
    if strict:
        if program_account is not None:
            check_program_account(program_account, problems)
        if not lines:
            problems.add("lines", _("A CAD needs at least one line."))
    for index, line in enumerate(lines):
        check_line(line, index, problems, ref, direct_shipment_date=clean.get("direct_shipment_date"),
                   strict=strict)
    return CheckedCAD(header=clean, lines=lines, problems=problems, ref=ref)
