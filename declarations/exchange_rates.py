"""Bank of Canada exchange rates from the Valet service's export (JSON or CSV), loaded idempotently.

A CAD line's value for duty uses the Bank of Canada rate on the date of direct shipment
(memo D13-2-3; carm-rules §2). The Valet service (https://www.bankofcanada.ca/valet/docs) exports
daily series such as ``FXUSDCAD`` (1 USD in CAD):

- JSON: ``{"seriesDetail": {...}, "observations": [{"d": "2025-01-02", "FXUSDCAD": {"v": "1.4389"}}, ...]}``
  (a missing value is ``{"e": <code>}``);
- CSV: sections ``"SERIES"`` and ``"OBSERVATIONS"``, the latter a ``"date","FXUSDCAD",...`` table.

Only ``FX<currency>CAD`` series are read (the inverse ``FXCAD...`` ones are skipped). Rates are
read as exact decimals, never floats. Loading a file twice changes nothing; a corrected rate in a
newer export replaces the stored one.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from django.db import transaction

from .models import ExchangeRate

SERIES = re.compile(r"^FX([A-Z]{3})CAD$")
MAX_RATE = Decimal("1000000")  # ExchangeRate.rate is DecimalField(12, 6)
RATE_PLACES = Decimal("0.000001")


class RateFileError(ValueError):
    """The file is not a Valet export we can read; the message says where."""


@dataclass(frozen=True)
class LoadResult:
    created: int
    updated: int
    unchanged: int
    currencies: tuple[str, ...]


def _rate(value, where: str) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        rate = Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise RateFileError(f"{where}: not a rate: {value!r}") from exc
    if not rate.is_finite() or rate <= 0 or rate >= MAX_RATE:
        raise RateFileError(f"{where}: not a rate between 0 and {MAX_RATE}: {value!r}")
    if rate != rate.quantize(RATE_PLACES):
        raise RateFileError(f"{where}: more than 6 decimal places: {value!r}")
    return rate


def _day(value, where: str) -> date:
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError as exc:
        raise RateFileError(f"{where}: not a date: {value!r}") from exc


def parse_json(text: str) -> dict[tuple[str, date], Decimal]:
    try:
        data = json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise RateFileError(f"not JSON: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("observations"), list):
        raise RateFileError("no 'observations' list: not a Valet export")
    out = {}
    for i, row in enumerate(data["observations"], start=1):
        if not isinstance(row, dict) or "d" not in row:
            raise RateFileError(f"observation {i}: no date 'd'")
        day = _day(row["d"], f"observation {i}")
        for series, cell in row.items():
            match = SERIES.match(series)
            if match and isinstance(cell, dict):
                rate = _rate(cell.get("v"), f"observation {i} {series}")
                if rate is not None:
                    out[(match.group(1), day)] = rate
    return out


def parse_csv(text: str) -> dict[tuple[str, date], Decimal]:
    rows = list(csv.reader(io.StringIO(text)))
    try:
        start = next(i for i, r in enumerate(rows) if r and r[0].strip().upper() == "OBSERVATIONS")
    except StopIteration as exc:
        raise RateFileError("no OBSERVATIONS section: not a Valet export") from exc
    header = rows[start + 1] if start + 1 < len(rows) else []
    if not header or header[0].strip().lower() != "date":
        raise RateFileError(f"line {start + 2}: the OBSERVATIONS table must start with a 'date' column")
    columns = {j: m.group(1) for j, name in enumerate(header) if (m := SERIES.match(name.strip()))}
    out = {}
    for n, row in enumerate(rows[start + 2:], start=start + 3):
        if not row or not row[0].strip():
            break  # the table ends at the first blank line
        day = _day(row[0], f"line {n}")
        for j, currency in columns.items():
            rate = _rate(row[j] if j < len(row) else None, f"line {n} {header[j]}")
            if rate is not None:
                out[(currency, day)] = rate
    return out


def parse(text: str) -> dict[tuple[str, date], Decimal]:
    """The rates in a Valet export, JSON or CSV (told apart by the first character)."""
    return parse_json(text) if text.lstrip().startswith("{") else parse_csv(text)


@transaction.atomic
def load(rates: dict[tuple[str, date], Decimal]) -> LoadResult:
    """Store the rates: new ones created, changed ones updated, the rest left alone."""
    days = {d for _, d in rates}
    existing = {
        (c, d): r for c, d, r in ExchangeRate.objects.filter(
            currency__in={c for c, _ in rates}, date__in=days).values_list("currency", "date", "rate")
    } if rates else {}
    new = [ExchangeRate(currency=c, date=d, rate=r) for (c, d), r in rates.items() if (c, d) not in existing]
    changed = [(c, d, r) for (c, d), r in rates.items() if (c, d) in existing and existing[(c, d)] != r]
    ExchangeRate.objects.bulk_create(new, batch_size=1000)
    for c, d, r in changed:
        ExchangeRate.objects.filter(currency=c, date=d).update(rate=r)
    return LoadResult(len(new), len(changed), len(rates) - len(new) - len(changed),
                      tuple(sorted({c for c, _ in rates})))
