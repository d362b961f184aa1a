"""CSV downloads: one streaming response, every text cell made safe from spreadsheet formula injection.

A cell whose text starts with = + - @ (or a tab or CR) is run as a formula by spreadsheets; such text is
prefixed with a quote. A plain number ("-500.00") is left as it is, so amounts stay plain decimals that a
spreadsheet or a script reads back exactly. Every CSV the portal serves goes through ``csv_response``.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable

from django.http import StreamingHttpResponse

__all__ = ["safe_cell", "csv_response"]

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"-?\d+(\.\d+)?")


def safe_cell(value) -> str:
    text = "" if value is None else str(value)
    if text[:1] in _FORMULA_STARTS and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


class _Echo:
    def write(self, value):
        return value


def csv_response(rows: Iterable[list], filename: str) -> StreamingHttpResponse:
    """``rows`` (the header first) streamed as ``filename``, every cell through ``safe_cell``."""
    writer = csv.writer(_Echo())
    response = StreamingHttpResponse((writer.writerow([safe_cell(c) for c in row]) for row in rows),
                                     content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response
