"""Money in templates: every page and PDF formats amounts through these filters."""

from __future__ import annotations

from decimal import Decimal

from django import template
from django.utils.formats import number_format

from carm_portal.money import format_cad, quantize

register = template.Library()


@register.filter
def money(value, arg: str = "") -> str:
    """$1,234.50 in the page's locale; a credit (negative) in brackets: ($1,234.50).

    ``|money:"signed"`` keeps a minus sign instead of brackets (ledger lines).
    """
    if value is None or value == "":
        return ""
    amount = quantize(value if isinstance(value, Decimal) else Decimal(str(value)))
    digits = number_format(abs(amount), decimal_pos=2, use_l10n=True, force_grouping=True)
    if amount < 0:
        return f"-${digits}" if arg == "signed" else f"(${digits})"
    return f"${digits}"


@register.filter
def money_en(value) -> str:
    """$1,234.50 / -$1,234.50 whatever the language (the bilingual PDFs)."""
    if value is None or value == "":
        return ""
    return format_cad(value)


# The same, under the short name the security pages use.
register.filter("cad", money_en)
