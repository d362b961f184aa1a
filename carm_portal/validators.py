"""Range checks for every date and decimal that comes in from outside (forms, API, CSV).

One module, used at every edge, so a value that cannot be stored or computed with never reaches
a service: a date far outside the portal's window (``0001-01-01`` breaks the business-day and
billing-period arithmetic, ``9999-12-31`` overflows it) or a number that is not finite or does
not fit its column (``1e309``, ``NaN``, ``Infinity``) is refused with a field message.

- ``DateWindow`` / ``date_validators(future=...)``: a date between ``INPUT_DATE_MIN`` (2000-01-01
  by default) and today, or today + ``INPUT_DATE_MAX_FUTURE_DAYS`` where the rule allows a future
  date (a delegation's end, a bond's expiry, a draft's release date). Business rules such as "the
  release date cannot be in the future" stay in the services; this is the sanity window.
- ``FiniteDecimal`` / ``parse_decimal``: finite and within ``DecimalField(max_digits, places)``.
- ``parse_date``: an ISO date from text (the CSV import), checked against the window.

Each validator is a plain callable that raises Django's ``ValidationError``, which both Django
forms and DRF serializer fields turn into a field error (DRF: 400 with the field's messages).
"""

from __future__ import annotations

import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.deconstruct import deconstructible
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from .conf import carm

# The largest integer a database id (bigint) holds; a larger one is "not found", never a crash.
MAX_ID = 2**63 - 1


def date_window(*, future: bool) -> tuple[datetime.date, datetime.date]:
    """(earliest, latest) accepted date; ``future``: the rule allows dates after today."""
    today = timezone.localdate()
    latest = today + datetime.timedelta(days=carm("INPUT_DATE_MAX_FUTURE_DAYS")) if future else today
    return carm("INPUT_DATE_MIN"), latest


def check_date(value: datetime.date | None, *, future: bool) -> None:
    """Raise ``ValidationError`` if ``value`` is outside the window (None passes)."""
    if value is None:
        return
    if isinstance(value, datetime.datetime):
        value = value.date()
    earliest, latest = date_window(future=future)
    if value < earliest:
        raise ValidationError(
            _("Enter a date on or after %(date)s.") % {"date": date_format(earliest, "Y-m-d")},
            code="date_too_early",
        )
    if value > latest:
        if future:
            message = _("Enter a date on or before %(date)s.") % {"date": date_format(latest, "Y-m-d")}
        else:
            message = _("The date cannot be in the future.")
        raise ValidationError(message, code="date_too_late")


@deconstructible
class DateWindow:
    """Validator: the date is within the input window (see ``check_date``)."""

    def __init__(self, *, future: bool = False):
        self.future = future

    def __call__(self, value: datetime.date | None) -> None:
        check_date(value, future=self.future)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DateWindow) and other.future == self.future


def date_validators(*, future: bool = False) -> list:
    """``validators=`` for a form or serializer date field."""
    return [DateWindow(future=future)]


def parse_date(value: Any, *, future: bool = True) -> datetime.date | None:
    """An ISO date (YYYY-MM-DD) from text or a date, within the window; None when empty.

    Raises ``ValidationError`` with a message for the field.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, datetime.datetime):
        day = value.date()
    elif isinstance(value, datetime.date):
        day = value
    else:
        text = str(value).strip()
        try:
            if len(text) != 10:
                raise ValueError(text)
            day = datetime.date.fromisoformat(text)
        except ValueError:
            raise ValidationError(_("Enter a date as YYYY-MM-DD."), code="invalid_date") from None
    check_date(day, future=future)
    return day


def check_decimal(value: Decimal | None, *, max_digits: int, places: int) -> None:
    """Raise ``ValidationError`` unless ``value`` is finite and fits ``DecimalField(max_digits, places)``."""
    if value is None:
        return
    if not isinstance(value, Decimal):
        raise ValidationError(_("Enter a number."), code="invalid")
    if not value.is_finite():
        raise ValidationError(_("Enter a finite number."), code="invalid")
    _sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    # Whole digits of the value (a 1e309 has 310 of them) without building the huge integer.
    whole = max(len(digits) + exponent, 0) if any(digits) else 0
    if whole > max_digits - places:
        raise ValidationError(
            _("The number is too large: at most %(n)d digits before the decimal point.")
            % {"n": max_digits - places},
            code="max_whole_digits",
        )


@deconstructible
class FiniteDecimal:
    """Validator: a finite Decimal that fits ``DecimalField(max_digits, places)``."""

    def __init__(self, max_digits: int = 14, places: int = 2):
        self.max_digits = max_digits
        self.places = places

    def __call__(self, value: Decimal | None) -> None:
        check_decimal(value, max_digits=self.max_digits, places=self.places)

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, FiniteDecimal) and other.max_digits == self.max_digits
                and other.places == self.places)


def parse_decimal(value: Any, *, places: int, max_digits: int) -> Decimal | None:
    """A Decimal that fits ``DecimalField(max_digits, places)``; None when empty.

    Text, int or Decimal (never a float: a float has already lost the cents). Refuses NaN,
    Infinity, ``1e309`` and more decimal places than the column keeps, in time independent of
    the exponent. Raises ``ValidationError``.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, float):
        raise ValidationError(_("Give the number as text or a decimal, not a float."), code="invalid")
    if isinstance(value, bool):
        raise ValidationError(_("Not a number."), code="invalid")
    if isinstance(value, Decimal):
        number = value
    else:
        text = str(value).strip().replace(",", "")
        if len(text) > 100:
            raise ValidationError(_("Not a number."), code="invalid")
        try:
            number = Decimal(text)
        except (InvalidOperation, ValueError):
            raise ValidationError(_("Not a number."), code="invalid") from None
    if not number.is_finite():
        raise ValidationError(_("Not a number."), code="invalid")
    check_decimal(number, max_digits=max_digits, places=places)
    exponent = number.as_tuple().exponent
    assert isinstance(exponent, int)
    step = Decimal(1).scaleb(-places)
    if exponent < -places and number != number.quantize(step):
        raise ValidationError(_("At most %(n)d decimal places.") % {"n": places}, code="max_decimal_places")
    return number.quantize(step)


def check_id(value: Any) -> int:
    """An id from a query or a body: an int that a database id can hold; ValidationError otherwise."""
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        raise ValidationError(_("Enter a whole number."), code="invalid") from None
    if not -MAX_ID <= number <= MAX_ID:
        raise ValidationError(_("The number is too large."), code="max_value")
    return number
