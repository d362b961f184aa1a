"""What a ledger entry says, stored as a code and its values, said in the reader's language.

The one catalogue of ledger descriptions. A posting site passes ``Text(code, **params)`` to
``post_entry`` / ``build_entry``; the entry stores ``description_code`` and ``description_params``
(JSON: amounts and rates as strings, dates ISO) and, for the admin, the CSV and search, the English
sentence in ``description``. Pages render the code again when shown (``render``), so a French reader
reads French with French amounts, and a change of wording here changes every entry ever posted.

Each code maps to a message id (``gettext_noop``: translated when rendered, not when posted) and
how each of its values is shown: ``money`` (carm_portal.money), ``rate`` (a babel percent),
``date`` (the locale's short date), ``int``, ``pieces`` (interest pieces), ``choice:<name>`` (a label
from choices a higher app registers with ``register_choices``, e.g. the payment methods), anything
else as given. An unknown code is a posting bug: ``Text`` refuses it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from babel.dates import format_date
from babel.numbers import format_percent
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from carm_portal.money import format_cad, money_locale

# code -> (message id, {param: how it is shown}); params not listed are shown as given.
CATALOGUE: dict[str, tuple[str, dict[str, str]]] = {
    "cad_charge": (gettext_noop("CAD %(number)s"), {}),
    "cad_charge_on_release": (gettext_noop("CAD %(number)s, due on release %(date)s (no RPP)"), {"date": "date"}),
    "cad_version": (gettext_noop("CAD %(number)s version %(version)d"), {"version": "int"}),
    "interest": (gettext_noop("Interest: %(pieces)s"), {"pieces": "pieces"}),
    "late_payment": (gettext_noop("Late payment: statement %(period)s due %(due)s"), {"period": "date", "due": "date"}),
    "adjustment_interest": (gettext_noop("Interest on adjustment, %(days)d days"), {"days": "int"}),
    "appeal_credit": (gettext_noop("Appeal %(id)s allowed: credit"), {}),
    "appeal_credit_interest": (gettext_noop("Interest on appeal %(id)s credit"), {}),
    "refund": (gettext_noop("Refund to %(payee)s"), {}),
    "rpp_cash_deposit": (gettext_noop("RPP cash security deposit"), {}),
    "amps_penalty": (gettext_noop("AMPS penalty %(code)s, NPA %(n)s"), {}),
    "statement_of_adjustment": (gettext_noop("Statement of adjustment %(n)s"), {}),
    "overpayment": (gettext_noop("Overpayment"), {}),
    "older_cad_credit": (gettext_noop("Adjustment to an older CAD, in your favour"), {}),
    "payment": (gettext_noop("%(method)s %(ref)s"), {"method": "choice:payment_method"}),
}

PIECE = gettext_noop("%(first)s to %(last)s: %(days)s days on %(balance)s at %(rate)s a year")


def _json_value(value):
    """A param as JSON keeps it: Decimals as strings (exact), dates ISO, lists and dicts walked."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    if value is None or isinstance(value, str | int | bool):
        return value
    return str(value)


@dataclass(frozen=True)
class Text:
    """A ledger description as a catalogue code and its values (what an entry stores)."""

    code: str
    params: dict = field(default_factory=dict)

    def __init__(self, code: str, /, **params) -> None:
        if code not in CATALOGUE:
            raise ValueError(f"Unknown ledger text code {code!r}: add it to billing.ledger.texts.CATALOGUE.")
        object.__setattr__(self, "code", code)
        object.__setattr__(self, "params", {k: _json_value(v) for k, v in params.items()})

    def english(self) -> str:
        """The sentence in English (stored in ``description`` for the admin, CSV and search)."""
        with translation.override("en"):
            return render(self.code, self.params)


def interest_pieces(accrual) -> list[dict]:
    """An ``interest.Accrual``'s pieces as params of the ``interest`` text."""
    return [{"first": p.first, "last": p.last, "days": p.days, "balance": p.balance, "rate": p.rate}
            for p in accrual.pieces]


# --- Showing values -------------------------------------------------------------------------------

_choices: dict[str, Callable[[], Mapping[str, str]]] = {}


def register_choices(name: str, choices) -> None:
    """A higher app's choices (a TextChoices class) for ``choice:<name>`` params (AppConfig.ready)."""
    _choices[name] = lambda: {value: str(choices(value).label) for value in choices.values}


def _money(value) -> str:
    try:
        return format_cad(value)
    except (InvalidOperation, ValueError, TypeError):
        return str(value)


def _rate(value) -> str:
    return _formatted_rate(str(value), money_locale())


def _date(value) -> str:
    return _formatted_date(str(value), money_locale())


# Rates and dates repeat across a cycle's thousands of interest lines (the same period, the same
# rate) and Babel's formatting costs ~0.1 ms a call: remembered per (value, locale).
@lru_cache(maxsize=4096)
def _formatted_rate(value: str, locale: str) -> str:
    try:
        return format_percent(Decimal(value), locale=locale, decimal_quantization=False)
    except (InvalidOperation, ValueError):
        return value


@lru_cache(maxsize=4096)
def _formatted_date(value: str, locale: str) -> str:
    try:
        return format_date(date.fromisoformat(value), "short", locale=locale)
    except ValueError:
        return value


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return value


def _pieces(value) -> str:
    if not isinstance(value, list):
        return str(value)
    return "; ".join(_(PIECE) % {
        "first": _date(p.get("first")), "last": _date(p.get("last")), "days": p.get("days"),
        "balance": _money(p.get("balance")), "rate": _rate(p.get("rate"))} for p in value)


def _show(how: str, value):
    if how == "money":
        return _money(value)
    if how == "rate":
        return _rate(value)
    if how == "date":
        return _date(value)
    if how == "int":
        return _int(value)
    if how == "pieces":
        return _pieces(value)
    if how.startswith("choice:"):
        labels = _choices.get(how.removeprefix("choice:"))
        return labels().get(value, value) if labels else value
    return value


def render(code: str, params: Mapping | None) -> str:
    """The text of ``code`` with ``params`` in the active language."""
    message, shown = CATALOGUE[code]
    params = params or {}
    values = {k: _show(shown.get(k, ""), v) for k, v in params.items()}
    return _(message) % values if "%(" in message else _(message)
