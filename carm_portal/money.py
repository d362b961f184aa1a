"""The only place money is rounded, and the only place it is formatted for people.

Amounts are Decimal CAD rounded to cents, ROUND_HALF_UP (CBSA rounds half up). Round each
line, then sum the rounded lines. Floats are refused: a float has already lost the cents.
"""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import cache

from babel import Locale
from babel.numbers import format_compact_currency, format_currency
from django.conf import settings
from django.utils import translation

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


# --- Formatting: the one path for pages, PDFs, charts, messages and emails ----------------------------
# CLDR (through Babel) decides the layout of each language: en_CA "$1,234.56", fr_CA "1 234,56 $"
# with a no-break space (U+00A0) between thousands and before the "$". CSV exports and the API keep
# plain decimals ("1234.56"): never format those.

MONEY_LOCALES = {"en": "en_CA", "fr": "fr_CA"}
NEGATIVE_STYLES = ("minus", "brackets")


def money_locale(language: str | None = None) -> str:
    """The CLDR locale of ``language`` (default: the active Django language): "fr-ca" -> "fr_CA"."""
    code = (language or translation.get_language() or settings.LANGUAGE_CODE).replace("_", "-").lower()
    return MONEY_LOCALES.get(code.split("-")[0], MONEY_LOCALES["en"])


@cache
def _cldr(locale: str) -> Locale:
    """Parsed once per process (a quarter of the cost of each call otherwise)."""
    return Locale.parse(locale)


def format_money(amount: Decimal | int | str, *, language: str | None = None, negative: str = "minus",
                 currency: str = "CAD") -> str:
    """An amount in CAD as the reader writes it, rounded to cents half up.

    EN "$1,234.56" / "-$1,234.56", FR "1 234,56 $" / "-1 234,56 $" (no-break spaces);
    ``negative="brackets"`` writes a credit the accountants' way: "($1,234.56)", "(1 234,56 $)".
    Another ``currency`` (a CAD line's foreign value) keeps that currency's own digits and symbol:
    "US$1,234.50", FR "1 234,50 $ US".
    """
    if negative not in NEGATIVE_STYLES:
        raise ValueError(f"negative must be one of {NEGATIVE_STYLES}, not {negative!r}")
    q = quantize(amount) if currency == "CAD" else to_decimal(amount)
    if q == 0:
        q = ZERO  # never "-$0.00"
    return format_currency(
        q, currency or "CAD", locale=_cldr(money_locale(language)), currency_digits=True,
        format_type="accounting" if negative == "brackets" else "standard",
    )


def format_cad(amount: Decimal | int | str, *, language: str | None = None) -> str:
    """The same as ``format_money`` (minus sign for negatives); the name the services use."""
    return format_money(amount, language=language)


def format_money_short(amount: Decimal | int | str, *, language: str | None = None) -> str:
    """Chart axes: EN "$0", "$950", "$12K", "$1.5M"; FR "0 $", "950 $", "12 k $", "1,5 M $"."""
    return format_compact_currency(quantize(amount), "CAD", locale=_cldr(money_locale(language)), fraction_digits=1)
