"""The only place money is rounded.

Amounts are Decimal CAD rounded to cents, ROUND_HALF_UP (CBSA rounds half up). Round each
line, then sum the rounded lines. Floats are refused: a float has already lost the cents.
"""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
MAX_DIGITS = 14  # DecimalField(max_digits=14, decimal_places=2): up to 999,999,999,999.99
RATE_MAX_DIGITS = 12
RATE_DECIMAL_PLACES = 6


def to_decimal(value: Decimal | int | str) -> Decimal:
    """Turn an int, a str or a Decimal into a Decimal; a float is a bug and raises."""
    if isinstance(value, float):
        raise TypeError("Money must never be a float; pass a Decimal or a string.")
    if isinstance(value, Decimal):
        return value
    try:
        return Decimal(str(value).strip().replace(",", ""))
    except InvalidOperation as exc:
        raise ValueError(f"Not an amount: {value!r}") from exc


def quantize(value: Decimal | int | str) -> Decimal:
    """Round to cents, half up."""
    return to_decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def percent_of(amount: Decimal, rate: Decimal) -> Decimal:
    """amount × rate, rounded to cents (rate is a fraction: 0.065 for 6.5%)."""
    return quantize(to_decimal(amount) * to_decimal(rate))


def total(amounts) -> Decimal:
    """Sum already-rounded amounts; the result is exact to the cent."""
    return quantize(sum((to_decimal(a) for a in amounts), ZERO))


def format_cad(amount: Decimal) -> str:
    """1234.5 -> '$1,234.50'; negatives as '-$1,234.50'."""
    q = quantize(amount)
    sign = "-" if q < 0 else ""
    return f"{sign}${abs(q):,.2f}"
