"""A list of ids as ONE query parameter: an array on PostgreSQL, JSON text on SQLite.

Thousands of ids sent as one value are planned once and never hit SQLite's bound-parameter limit,
where ``pk IN (%s, %s, …)`` sends a placeholder per id (repeated in every join that uses it).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from django.db import connection
from django.db.models.expressions import RawSQL


def ids_param(ids: Sequence[int]):
    """The value to pass for ``ids_sql()``'s placeholder."""
    ids = [int(i) for i in ids]
    return ids if connection.vendor == "postgresql" else json.dumps(ids)


def ids_sql() -> str:
    """A subquery reading ``ids_param``'s ids back (one placeholder)."""
    if connection.vendor == "postgresql":
        return "SELECT unnest(CAST(%s AS BIGINT[]))"
    return "SELECT CAST(value AS INTEGER) FROM json_each(%s)"


def ids_subquery(ids: Sequence[int]) -> RawSQL:
    """For the ORM: ``.filter(pk__in=ids_subquery(ids))``."""
    return RawSQL(ids_sql(), [ids_param(ids)])  # noqa: S611 - a constant subquery, the ids a parameter
