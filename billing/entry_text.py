"""Ledger entry descriptions in the reader's language, rendered when they are shown.

``LedgerEntry.description`` is text written once by the code that posted the entry (mostly by
Celery jobs and services running in English: "CAD 10077000003190", "Interest: 2026-02-18–2026-03-17
28 d × 4200.00 @ 0.090000", "Appeal 2 allowed: credit", "Overpayment"). The ledger is append-only
and is being moved, so the stored text stays as it is: this module recognises each sentence the
code writes, takes its values out and says it again through gettext, amounts through the money
format. A description it does not recognise (typed by a person, or a new sentence) is shown as
stored. One place: pages, the statement PDF and the CSV-free views all call ``entry_description``.

A stored code (``description_code`` + ``description_params`` JSON on the entry) would replace the
patterns below with a lookup, and would survive a change of wording in the posting code.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation

from babel.numbers import format_percent
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from carm_portal.money import format_cad, money_locale


def _rate(text: str) -> str:
    try:
        return format_percent(Decimal(text), locale=money_locale(), decimal_quantization=False)
    except (InvalidOperation, ValueError):
        return text


def _money(text: str) -> str:
    try:
        return format_cad(text)
    except (InvalidOperation, ValueError):
        return text


_PIECE = re.compile(r"^(?P<first>\d{4}-\d\d-\d\d)–(?P<last>\d{4}-\d\d-\d\d) (?P<days>\d+) d × (?P<balance>-?[\d.]+) "
                    r"@ (?P<rate>[\d.]+)$")


def _interest_pieces(text: str) -> str:
    pieces = []
    for piece in text.split("; "):
        m = _PIECE.match(piece.strip())
        if m is None:
            return text
        pieces.append(_("%(first)s to %(last)s: %(days)s days on %(balance)s at %(rate)s a year") % {
            "first": m["first"], "last": m["last"], "days": m["days"], "balance": _money(m["balance"]),
            "rate": _rate(m["rate"])})
    return "; ".join(pieces)


def _payment_method(label: str) -> str:
    from .models import Payment

    for value, _label in Payment.Method.choices:
        with translation.override("en"):
            english = str(Payment.Method(value).label)
        if english == label:
            return str(Payment.Method(value).label)
    return label


# (pattern on the stored English text, message id, how to turn each captured value into display text).
# The message ids are the posting code's own where it has one (so they are translated already).
Rule = tuple[re.Pattern, str, dict[str, Callable[[str], object]]]
RULES: list[Rule] = [
    (re.compile(r"^CAD (?P<number>\d+) version (?P<version>\d+)$"), gettext_noop("CAD %(number)s version %(version)d"), {"version": int}),
    (re.compile(r"^CAD (?P<number>\d+)$"), gettext_noop("CAD %(number)s"), {}),
    (re.compile(r"^Interest: (?P<pieces>.+)$"), gettext_noop("Interest: %(pieces)s"), {"pieces": _interest_pieces}),
    (re.compile(r"^Late payment: statement (?P<period>\d{4}-\d\d-\d\d) due (?P<due>\d{4}-\d\d-\d\d)$"),
     gettext_noop("Late payment: statement %(period)s due %(due)s"), {}),
    (re.compile(r"^Interest on adjustment, (?P<days>\d+) days$"), gettext_noop("Interest on adjustment, %(days)d days"), {"days": int}),
    (re.compile(r"^Appeal (?P<id>\d+) allowed: credit$"), gettext_noop("Appeal %(id)s allowed: credit"), {}),
    (re.compile(r"^Interest on appeal (?P<id>\d+) credit$"), gettext_noop("Interest on appeal %(id)s credit"), {}),
    (re.compile(r"^Refund to (?P<payee>.+)$"), gettext_noop("Refund to %(payee)s"), {}),
    (re.compile(r"^RPP cash security deposit$"), gettext_noop("RPP cash security deposit"), {}),
    (re.compile(r"^AMPS penalty (?P<code>\S+), NPA (?P<n>\S+)$"), gettext_noop("AMPS penalty %(code)s, NPA %(n)s"), {}),
    (re.compile(r"^Statement of adjustment (?P<n>\S+)$"), gettext_noop("Statement of adjustment %(n)s"), {}),
    (re.compile(r"^Overpayment$"), gettext_noop("Overpayment"), {}),
    (re.compile(r"^Adjustment to an older CAD, in your favour$"),
     gettext_noop("Adjustment to an older CAD, in your favour"), {}),
    (re.compile(r"^(?P<method>Pre-authorized debit|Online banking / EDI 820|Debit card|Credit card|Cheque) "
                r"(?P<ref>.+)$"), gettext_noop("%(method)s %(ref)s"), {"method": _payment_method}),
]


def describe(text: str) -> str:
    """A stored description in the active language (as stored when no rule knows it)."""
    text = (text or "").strip()
    for pattern, message, convert in RULES:
        m = pattern.match(text)
        if m is None:
            continue
        values = {k: convert.get(k, str)(v) for k, v in m.groupdict().items()}
        return _(message) % values if values else _(message)
    return text


def entry_description(entry) -> str:
    """What a ledger line says, in the reader's language: its description, else its kind."""
    if entry.description:
        return describe(entry.description)
    return str(entry.get_kind_display())
