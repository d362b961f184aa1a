"""Fast inserts for load tools: ids allocated up front, rows sent without per-value ORM work.

``bulk_create`` spends most of its time compiling each value through the ORM (a few
microseconds per value, tens of values per row). For generated national-volume data we know
the types, so values go to the database nearly as they are: PostgreSQL gets ``COPY ... FROM
STDIN`` (CSV), SQLite an ``executemany``. Dates, datetimes and JSON are converted explicitly.

Not for user-facing writes: no ``save()``, no signals, no validation. The caller sets every
primary key (``allocate_ids``) and holds the transaction.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Sequence
from typing import Any

from django.db import connection, models

NULL = "\\N"


def allocate_ids(model: type[models.Model], count: int) -> list[int]:
    """``count`` primary keys for new rows of ``model``.

    PostgreSQL: taken from the table's identity sequence (safe with concurrent writers).
    SQLite: after the current maximum; fine for the single-writer demo database.
    """
    if count <= 0:
        return []
    table = model._meta.db_table
    pk = model._meta.pk.column
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)", [table, pk, count]
            )
            return [row[0] for row in cursor.fetchall()]
        quote = connection.ops.quote_name
        cursor.execute(f"SELECT COALESCE(MAX({quote(pk)}), 0) FROM {quote(table)}")  # noqa: S608
        start = cursor.fetchone()[0] + 1
    return list(range(start, start + count))


def _converter(field: models.Field, copy: bool) -> Callable[[Any], Any] | None:
    """How a Python value becomes a column value; None: as it is."""
    if isinstance(field, models.JSONField):
        return lambda value: None if value is None else json.dumps(value, cls=field.encoder)
    if isinstance(field, models.DateTimeField):
        if copy:
            return lambda value: None if value is None else value.isoformat()
        return lambda value: field.get_db_prep_save(value, connection)
    if isinstance(field, (models.DateField, models.DecimalField, models.CharField, models.TextField,
                          models.IntegerField, models.BooleanField, models.ForeignKey)):
        return None  # psycopg2, COPY's text input and Django's SQLite adapters take these as they are
    return lambda value: field.get_db_prep_save(value, connection)


def insert(model: type[models.Model], objects: Sequence[models.Model]) -> None:
    """INSERT ``objects`` (primary keys already set)."""
    if not objects:
        return
    copy = connection.vendor == "postgresql"
    fields = list(model._meta.concrete_fields)
    pairs = [(f.attname, _converter(f, copy)) for f in fields]
    rows = [
        tuple(getattr(obj, name) if convert is None else convert(getattr(obj, name)) for name, convert in pairs)
        for obj in objects
    ]
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    columns = ", ".join(quote(f.column) for f in fields)
    with connection.cursor() as cursor:
        if copy:
            buffer = io.StringIO()
            writer = csv.writer(buffer, lineterminator="\n")
            for row in rows:
                writer.writerow([NULL if v is None else v for v in row])
            buffer.seek(0)
            cursor.cursor.copy_expert(
                f"COPY {table} ({columns}) FROM STDIN WITH (FORMAT csv, NULL '{NULL}')", buffer
            )
        else:
            placeholders = ", ".join(["%s"] * len(fields))
            cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({placeholders})", rows)  # noqa: S608


__all__ = ["allocate_ids", "insert"]
