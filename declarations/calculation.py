"""Duties and taxes of a CAD: pure Decimal functions, no database, no floats.

Per line (carm-rules §2 and worked example 1), each amount rounded half-up to cents:

- VFD (value for duty, CAD)  = value in the invoice currency × exchange rate
- customs duty               = VFD × duty rate (ad valorem, a fraction: 0.065 for 6.5 %)
- excise duty / excise tax   = quantity × the specific rate per unit, when one applies
- GST                        = GST rate × (VFD + duty + SIMA + excise duty + excise tax)

A CAD's totals are the sums of its rounded lines (never a re-rounding of unrounded sums).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
from decimal import Decimal

from carm_portal.conf import carm
from carm_portal.money import ZERO, quantize, to_decimal

# The amounts that make up "duties and taxes" (D&T): what the importer owes for a line.
DT_KINDS = ("duty", "sima", "excise_duty", "excise_tax", "gst")


def default_gst_rate() -> Decimal:
    return carm("GST_RATE")


@dataclass(frozen=True)
class LineAmounts:
    vfd: Decimal
    duty: Decimal
    sima: Decimal
    excise_duty: Decimal
    excise_tax: Decimal
    gst: Decimal

    @property
    def duties_and_taxes(self) -> Decimal:
        return self.duty + self.sima + self.excise_duty + self.excise_tax + self.gst

    def as_dict(self) -> dict[str, Decimal]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class Totals:
    vfd: Decimal = ZERO
    duty: Decimal = ZERO
    sima: Decimal = ZERO
    excise_duty: Decimal = ZERO
    excise_tax: Decimal = ZERO
    gst: Decimal = ZERO

    @property
    def duties_and_taxes(self) -> Decimal:
        return self.duty + self.sima + self.excise_duty + self.excise_tax + self.gst

    def as_dict(self) -> dict[str, Decimal]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["duties_and_taxes"] = self.duties_and_taxes
        return out

    def breakdown(self) -> dict[str, Decimal]:
        """The D&T kinds only (what a ledger entry is broken down into)."""
        return {k: getattr(self, k) for k in DT_KINDS}

    def __sub__(self, other: Totals) -> Totals:
        return Totals(**{f.name: getattr(self, f.name) - getattr(other, f.name) for f in fields(self)})

    def __neg__(self) -> Totals:
        return Totals(**{f.name: -getattr(self, f.name) for f in fields(self)})

    @property
    def is_zero(self) -> bool:
        return all(getattr(self, k) == 0 for k in DT_KINDS)


def value_for_duty(value_foreign: Decimal, exchange_rate: Decimal) -> Decimal:
    return quantize(to_decimal(value_foreign) * to_decimal(exchange_rate))


def specific_amount(quantity: Decimal, rate_per_unit: Decimal | None) -> Decimal:
    """A specific (per unit) duty or tax: quantity × rate, rounded; none when there is no rate."""
    if rate_per_unit is None:
        return ZERO
    return quantize(to_decimal(quantity) * to_decimal(rate_per_unit))


def line_amounts(
    *,
    value_foreign: Decimal,
    exchange_rate: Decimal,
    duty_rate: Decimal,
    sima: Decimal = ZERO,
    excise_duty: Decimal = ZERO,
    excise_tax: Decimal = ZERO,
    gst_rate: Decimal | None = None,
) -> LineAmounts:
    """The amounts of one CAD line, each rounded half-up to cents."""
    gst_rate = default_gst_rate() if gst_rate is None else to_decimal(gst_rate)
    vfd = value_for_duty(value_foreign, exchange_rate)
    duty = quantize(vfd * to_decimal(duty_rate))
    sima = quantize(sima)
    excise_duty = quantize(excise_duty)
    excise_tax = quantize(excise_tax)
    gst = quantize(gst_rate * (vfd + duty + sima + excise_duty + excise_tax))
    return LineAmounts(vfd=vfd, duty=duty, sima=sima, excise_duty=excise_duty, excise_tax=excise_tax, gst=gst)


def cad_totals(lines: Iterable[LineAmounts]) -> Totals:
    """The sum of the rounded lines, kind by kind."""
    sums = dict.fromkeys(("vfd", *DT_KINDS), ZERO)
    for line in lines:
        for key in sums:
            sums[key] += getattr(line, key)
    return Totals(**{k: quantize(v) for k, v in sums.items()})
