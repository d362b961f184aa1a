"""The API's filter backend: django-filter, with numbers in the query string kept within an id's range.

A filter on an id (``?account=``, ``?program_account=``, ``?cad=``) is compared with a bigint
column: a value beyond 2**63 - 1 (``9e24``, ``1e309``) crashed the query (SQLite: OverflowError)
and answered 500. Such a value answers 400 with the parameter's message instead, before any query.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django import forms
from django.utils.translation import gettext as _
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.exceptions import ValidationError

from .validators import MAX_ID

_NUMERIC_FIELDS = (forms.DecimalField, forms.IntegerField, forms.FloatField, forms.ModelChoiceField,
                   forms.ModelMultipleChoiceField)


def out_of_range_parameters(filterset, query_params) -> dict[str, list[str]]:
    """{parameter: [message]} for numeric filter values that no id column can hold."""
    errors: dict[str, list[str]] = {}
    for name, flt in filterset.filters.items():
        field_class = getattr(flt, "field_class", None)
        if not (isinstance(field_class, type) and issubclass(field_class, _NUMERIC_FIELDS)):
            continue
        for raw in query_params.getlist(name):
            for part in str(raw).split(","):
                try:
                    number = Decimal(part.strip()[:100])
                except (InvalidOperation, ValueError):
                    continue  # not a number: the filter's own form reports it
                if not number.is_finite() or abs(number) > MAX_ID:
                    errors[name] = [_("The number is too large.")]
    return errors


class BoundedFilterBackend(DjangoFilterBackend):
    def get_filterset(self, request, queryset, view):
        filterset = super().get_filterset(request, queryset, view)
        if filterset is not None:
            errors = out_of_range_parameters(filterset, request.query_params)
            if errors:
                raise ValidationError(errors)
        return filterset
