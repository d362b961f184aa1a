"""Ledger entry descriptions in the reader's language, rendered when they are shown.

An entry stores what it says as a catalogue code and its values (``description_code``,
``description_params``; the catalogue is ``billing.ledger.texts``), so a page says it again in the
reader's language, amounts through the money format. An entry without a code (text a person typed)
is shown as stored. Entries posted before codes existed were given theirs by ledger migration 0003.
One place: pages, the statement PDF and the CSV-free views all call ``entry_description``.
"""

from __future__ import annotations

from billing.ledger.texts import CATALOGUE, render


def entry_description(entry) -> str:
    """What a ledger line says, in the reader's language: its code's text, its stored text, else its kind."""
    code = getattr(entry, "description_code", "")
    if code in CATALOGUE:
        try:
            return render(code, entry.description_params)
        except (KeyError, TypeError, ValueError):  # values that do not fit the message: as stored
            pass
    if entry.description:
        return entry.description
    return str(entry.get_kind_display())
