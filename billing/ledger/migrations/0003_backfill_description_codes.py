"""Entries posted before descriptions were stored as codes get their code and values.

Until now the posting code wrote English sentences ("CAD 10077000003190", "Interest:
2026-02-18–2026-03-17 28 d × 4200.00 @ 0.090000", "Overpayment") and pages recognised them by
pattern (billing/entry_text.py). The patterns live on here only, once: each recognised sentence
gets its ``description_code`` and ``description_params`` (billing.ledger.texts); ``description``
itself is left as written. A sentence no pattern knows (typed by a person, or written in French by
a job run in French) keeps a blank code and is shown as stored.

PostgreSQL: ``billing_ledgerentry`` refuses every UPDATE (the append-only trigger of billing 0002).
This migration disables that trigger around its own UPDATEs, inside the migration's transaction,
and enables it again (also when the backfill fails: the transaction rolls back both). The amounts
are never touched. SQLite has no trigger; the model's refusal is Python-only and the historical
model used here has the plain manager.
"""

import re

from django.db import connections, migrations

TRIGGER = "billing_ledgerentry_no_update_delete"

_PIECE = re.compile(r"^(?P<first>\d{4}-\d\d-\d\d)–(?P<last>\d{4}-\d\d-\d\d) (?P<days>\d+) d × (?P<balance>-?[\d.]+) "
                    r"@ (?P<rate>[\d.]+)$")

# The English labels the payment posting wrote, by Payment.Method value (billing 0001's choices).
_METHODS = {"Pre-authorized debit": "pad", "Online banking / EDI 820": "online_banking", "Debit card": "debit",
            "Credit card": "credit_card", "Cheque": "cheque"}


def _pieces(text):
    pieces = []
    for piece in text.split("; "):
        m = _PIECE.match(piece.strip())
        if m is None:
            return None
        pieces.append({"first": m["first"], "last": m["last"], "days": int(m["days"]), "balance": m["balance"],
                       "rate": m["rate"]})
    return pieces


# (pattern on the stored English text, code, how to turn each captured value into its param)
RULES = [
    (re.compile(r"^CAD (?P<number>\d+) version (?P<version>\d+)$"), "cad_version", {"version": int}),
    (re.compile(r"^CAD (?P<number>\d+), due on release (?P<date>\d{4}-\d\d-\d\d) \(no RPP\)$"),
     "cad_charge_on_release", {}),
    (re.compile(r"^CAD (?P<number>\d+)$"), "cad_charge", {}),
    (re.compile(r"^Interest: (?P<pieces>.+)$"), "interest", {"pieces": _pieces}),
    (re.compile(r"^Late payment: statement (?P<period>\d{4}-\d\d-\d\d) due (?P<due>\d{4}-\d\d-\d\d)$"),
     "late_payment", {}),
    (re.compile(r"^Interest on adjustment, (?P<days>\d+) days$"), "adjustment_interest", {"days": int}),
    (re.compile(r"^Appeal (?P<id>\d+) allowed: credit$"), "appeal_credit", {}),
    (re.compile(r"^Interest on appeal (?P<id>\d+) credit$"), "appeal_credit_interest", {}),
    (re.compile(r"^Refund to (?P<payee>.+)$"), "refund", {}),
    (re.compile(r"^RPP cash security deposit$"), "rpp_cash_deposit", {}),
    (re.compile(r"^AMPS penalty (?P<code>\S+), NPA (?P<n>\S+)$"), "amps_penalty", {}),
    (re.compile(r"^Statement of adjustment (?P<n>\S+)$"), "statement_of_adjustment", {}),
    (re.compile(r"^Overpayment$"), "overpayment", {}),
    (re.compile(r"^Adjustment to an older CAD, in your favour$"), "older_cad_credit", {}),
    (re.compile(r"^(?P<method>Pre-authorized debit|Online banking / EDI 820|Debit card|Credit card|Cheque) "
                r"(?P<ref>.+)$"), "payment", {"method": _METHODS.get}),
]


def recognise(text):
    """(code, params) for a stored English description, or None."""
    text = (text or "").strip()
    for pattern, code, convert in RULES:
        m = pattern.match(text)
        if m is None:
            continue
        params = {}
        for key, value in m.groupdict().items():
            params[key] = convert.get(key, str)(value)
            if params[key] is None:
                return None
        return code, params
    return None


def backfill(apps, schema_editor):
    LedgerEntry = apps.get_model("ledger", "LedgerEntry")
    connection = schema_editor.connection if schema_editor is not None else connections["default"]
    postgres = connection.vendor == "postgresql"
    rows = LedgerEntry.objects.filter(description_code="").exclude(description="").only("id", "description")
    changed = []
    for entry in rows.iterator(chunk_size=2000):
        found = recognise(entry.description)
        if found is not None:
            entry.description_code, entry.description_params = found
            changed.append(entry)
    if not changed:
        return
    with connection.cursor() as cursor:
        if postgres:
            # ALTER TABLE refuses while deferred foreign-key checks of rows written earlier in this
            # transaction are pending: run them now (they are deferred again after).
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(f"ALTER TABLE billing_ledgerentry DISABLE TRIGGER {TRIGGER}")
        LedgerEntry.objects.bulk_update(changed, ["description_code", "description_params"], batch_size=1000)
        if postgres:
            cursor.execute(f"ALTER TABLE billing_ledgerentry ENABLE TRIGGER {TRIGGER}")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")


class Migration(migrations.Migration):
    dependencies = [
        ("ledger", "0002_ledgerentry_description_code_params"),
        ("billing", "0002_ledger_append_only_trigger"),
    ]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
