"""Money in templates: every page and PDF formats amounts through these filters.

They all call ``carm_portal.money.format_money`` in the active language (a page follows the
reader's language, a PDF the language it is rendered in): EN "$1,234.56", FR "1 234,56 $".
"""

from __future__ import annotations

from django import template

from carm_portal.money import format_money

register = template.Library()


def _blank(value) -> bool:
    return value is None or value == ""


@register.filter
def money(value, arg: str = "") -> str:
    """An amount in the page's language; a credit (negative) in brackets: ($1,234.50), (1 234,50 $).

    ``|money:"signed"`` keeps a minus sign instead of brackets (ledger lines, PDFs).
    """
    if _blank(value):
        return ""
    return format_money(value, negative="minus" if arg == "signed" else "brackets")


@register.filter
def money_signed(value) -> str:
    """-$1,234.50 / -1 234,50 $: the minus-sign form (statement lines, PDFs, security pages)."""
    if _blank(value):
        return ""
    return format_money(value)


@register.filter
def money_in(value, currency: str = "CAD") -> str:
    """A value in its own currency: ``{{ line.value_foreign|money_in:line.currency }}`` -> US$1,234.50."""
    if _blank(value):
        return ""
    return format_money(value, currency=(currency or "CAD").upper())


# Older names, kept so that a template written before the single path still renders the same way.
register.filter("money_en", money_signed)
register.filter("cad", money_signed)
