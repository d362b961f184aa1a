"""Ledger descriptions stored as catalogue codes + values (billing.ledger.texts), shown in the reader's language."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from django.db import connection
from django.utils import translation

from billing.entry_text import entry_description
from billing.ledger import services as ledger
from billing.ledger.models import LedgerEntry
from billing.ledger.texts import CATALOGUE, PIECE, Text
from tests.i18n.conftest import FRAGMENT, install_fragment
from tests.migration_state import run_migration_function

NBSP = "\u00a0"
ROOT = Path(__file__).resolve().parents[2]

PIECES = [{"first": date(2026, 2, 18), "last": date(2026, 3, 17), "days": 28, "balance": Decimal("4200.00"),
           "rate": Decimal("0.090000")}]

# One sample per code: (params, English, French). A new code without a sample fails the first test.
SAMPLES = {
    "cad_charge": ({"number": "10077000003190"}, "CAD 10077000003190", "DDC 10077000003190"),
    "cad_charge_on_release": ({"number": "10077000003190", "date": date(2026, 3, 4)},
                              "CAD 10077000003190, due on release 2026-03-04 (no RPP)",
                              "DDC 10077000003190, exigible à la mainlevée le 2026-03-04 (sans MAP)"),
    "cad_version": ({"number": "10077000003190", "version": 2}, "CAD 10077000003190 version 2",
                    "DDC 10077000003190, version 2"),
    "interest": ({"pieces": PIECES}, "Interest: 2026-02-18 to 2026-03-17: 28 days on $4,200.00 at 9% a year",
                 f"Intérêts : du 2026-02-18 au 2026-03-17 : 28 jours sur 4{NBSP}200,00{NBSP}$ à 9{NBSP}% par année"),
    "late_payment": ({"period": date(2026, 2, 17), "due": date(2026, 3, 2)},
                     "Late payment: statement 2026-02-17 due 2026-03-02",
                     "Paiement en retard : état du 2026-02-17 exigible le 2026-03-02"),
    "adjustment_interest": ({"days": 31}, "Interest on adjustment, 31 days", None),
    "appeal_credit": ({"id": 2}, "Appeal 2 allowed: credit", "Appel 2 accueilli : crédit"),
    "appeal_credit_interest": ({"id": 2}, "Interest on appeal 2 credit", None),
    "refund": ({"payee": "Maple Imports Ltd."}, "Refund to Maple Imports Ltd.", None),
    "rpp_cash_deposit": ({}, "RPP cash security deposit", None),
    "amps_penalty": ({"code": "C152", "n": "NPA-1"}, "AMPS penalty C152, NPA NPA-1", None),
    "statement_of_adjustment": ({"n": "SOA-7"}, "Statement of adjustment SOA-7", None),
    "overpayment": ({}, "Overpayment", "Trop-payé"),
    "older_cad_credit": ({}, "Adjustment to an older CAD, in your favour",
                         "Rajustement d'une DDC antérieure, en votre faveur"),
    "payment": ({"method": "pad", "ref": "DEMO-RM0001-202602"}, "Pre-authorized debit DEMO-RM0001-202602",
                "Débit préautorisé DEMO-RM0001-202602"),
}


@pytest.fixture
def french(settings, tmp_path):
    """The French catalogue as written in the .po (tests.i18n.conftest)."""
    install_fragment(settings, tmp_path)


@pytest.fixture
def account(importer):
    return importer.program_accounts.order_by("number").first()


class _Entry:
    """What ``entry_description`` reads, without a database row."""

    def __init__(self, text: Text | None = None, description: str = ""):
        self.description_code = text.code if text else ""
        self.description_params = text.params if text else {}
        self.description = description

    def get_kind_display(self):
        return "Other"


def test_every_code_has_a_sample():
    assert set(SAMPLES) == set(CATALOGUE)


@pytest.mark.parametrize("code", sorted(SAMPLES))
def test_every_code_round_trips_in_english_and_french(code, french):
    params, en, fr = SAMPLES[code]
    text = Text(code, **params)
    assert text.english() == en
    entry = _Entry(text, description=en)
    with translation.override("en"):
        assert entry_description(entry) == en
    with translation.override("fr"):
        shown = entry_description(entry)
    if fr is not None:
        assert shown == fr
    message = CATALOGUE[code][0]
    if re.search(r"[A-Za-z]{3}", message.replace("%(", " ").split(")")[0] + message):
        assert shown != en or message == "%(method)s %(ref)s", (code, shown)


def test_every_message_has_a_french_translation():
    with FRAGMENT.open("rb") as f:
        po = {m.id: m.string for m in read_po(f, locale="fr") if m.id and not m.fuzzy}
    for message in [m for m, _shown in CATALOGUE.values()] + [PIECE]:
        assert po.get(message), message
        assert set(re.findall(r"%\(\w+\)\w", po[message])) == set(re.findall(r"%\(\w+\)\w", message)), message


def test_an_unknown_code_is_refused():
    with pytest.raises(ValueError, match="Unknown ledger text code"):
        Text("cad_chrage", number="1")


def _source_files():
    for folder in ("accounts", "appeals", "billing", "brokers", "carm_portal", "declarations", "bench", "scripts"):
        yield from (p for p in (ROOT / folder).rglob("*.py") if "migrations" not in p.parts)


def test_every_posting_site_passes_a_known_code():
    """Codes written in the source are in the catalogue; no poster writes a sentence of its own."""
    used = set()
    for path in _source_files():
        source = path.read_text()
        used |= set(re.findall(r"\bText\(\s*\"(\w+)\"", source))
        for call in re.finditer(r"(?:post_entry|build_entry)\((?:[^()]|\([^()]*\))*\)", source, re.S):
            assert not re.search(r"description=(f?\"|_\()", call.group()), (path, call.group()[:120])
    assert used, "no Text(...) found: the scan is broken"
    assert used <= set(CATALOGUE), used - set(CATALOGUE)
    # the demo's codes, passed through a variable
    assert {"older_cad_credit", "overpayment"} <= set(CATALOGUE)


def test_posting_stores_the_code_the_values_and_the_english_sentence(account, french):
    with translation.override("fr"):  # a poster running in French still stores English text
        entry = ledger.post_entry(
            program_account=account, kind=LedgerEntry.Kind.PAYMENT, amount=Decimal("-1234.56"),
            effective_date=date(2026, 2, 3), idempotency_key="pay-fr",
            description=Text("payment", method="cheque", ref="CHQ-1"))
    entry = LedgerEntry.objects.get(pk=entry.pk)
    assert (entry.description_code, entry.description_params) == ("payment", {"method": "cheque", "ref": "CHQ-1"})
    assert entry.description == "Cheque CHQ-1"
    with translation.override("fr"):
        assert entry_description(entry) == "Chèque CHQ-1"


def test_interest_values_are_stored_exactly(account):
    entry = ledger.post_entry(program_account=account, kind=LedgerEntry.Kind.INTEREST, amount=Decimal("29.00"),
                              effective_date=date(2026, 3, 17), idempotency_key="int-1",
                              description=Text("interest", pieces=PIECES))
    entry = LedgerEntry.objects.get(pk=entry.pk)
    assert entry.description_params == {"pieces": [{"first": "2026-02-18", "last": "2026-03-17", "days": 28,
                                                    "balance": "4200.00", "rate": "0.090000"}]}


def test_text_typed_by_a_person_is_shown_as_stored(french):
    with translation.override("fr"):
        assert entry_description(_Entry(description="Typed by a clerk")) == "Typed by a clerk"
        assert entry_description(_Entry(description="")) == "Other"
        bad = _Entry(Text("cad_version", number="1", version=2), description="CAD 1 version 2")
        bad.description_params = {"number": "1"}  # values that do not fit: the stored text
        assert entry_description(bad) == "CAD 1 version 2"


def test_the_migration_backfills_codes_for_entries_written_as_sentences(account, french):
    stored = {
        "CAD 10077000003190": ("cad_charge", {"number": "10077000003190"}),
        "CAD 10077000003190 version 2": ("cad_version", {"number": "10077000003190", "version": 2}),
        "CAD 10077000003191, due on release 2026-03-04 (no RPP)":
            ("cad_charge_on_release", {"number": "10077000003191", "date": "2026-03-04"}),
        "Interest: 2026-02-18–2026-03-17 28 d × 4200.00 @ 0.090000":
            ("interest", {"pieces": [{"first": "2026-02-18", "last": "2026-03-17", "days": 28, "balance": "4200.00",
                                      "rate": "0.090000"}]}),
        "Late payment: statement 2026-02-17 due 2026-03-02": ("late_payment", {"period": "2026-02-17", "due": "2026-03-02"}),
        "Interest on adjustment, 31 days": ("adjustment_interest", {"days": 31}),
        "Appeal 2 allowed: credit": ("appeal_credit", {"id": "2"}),
        "Interest on appeal 2 credit": ("appeal_credit_interest", {"id": "2"}),
        "Refund to Maple Imports Ltd.": ("refund", {"payee": "Maple Imports Ltd."}),
        "RPP cash security deposit": ("rpp_cash_deposit", {}),
        "AMPS penalty C152, NPA NPA-1": ("amps_penalty", {"code": "C152", "n": "NPA-1"}),
        "Statement of adjustment SOA-7": ("statement_of_adjustment", {"n": "SOA-7"}),
        "Overpayment": ("overpayment", {}),
        "Adjustment to an older CAD, in your favour": ("older_cad_credit", {}),
        "Pre-authorized debit DEMO-RM0001-202602": ("payment", {"method": "pad", "ref": "DEMO-RM0001-202602"}),
        "Typed by a clerk": ("", {}),
        "Interest: something else": ("", {}),
    }
    ids = {}
    for i, text in enumerate(stored):
        entry = ledger.post_entry(program_account=account, kind=LedgerEntry.Kind.OTHER, amount=Decimal("1.00"),
                                  effective_date=date(2026, 2, 3), idempotency_key=f"old-{i}", description=text)
        ids[text] = entry.pk
        assert entry.description_code == ""
    coded = ledger.post_entry(program_account=account, kind=LedgerEntry.Kind.OTHER, amount=Decimal("1.00"),
                              effective_date=date(2026, 2, 3), idempotency_key="new", description=Text("overpayment"))
    run_migration_function("ledger", "0003_backfill_description_codes", "backfill")
    rows = {e.pk: e for e in LedgerEntry.objects.all()}
    for text, (code, params) in stored.items():
        row = rows[ids[text]]
        assert (row.description_code, row.description_params) == (code, params), text
        assert row.description == text and row.amount == Decimal("1.00")  # nothing else changes
        with translation.override("en"):
            assert entry_description(row) == (text if not code else Text(code, **params).english())
    assert rows[coded.pk].description_code == "overpayment"
    with translation.override("fr"):
        assert entry_description(rows[ids["Appeal 2 allowed: credit"]]) == "Appel 2 accueilli : crédit"
    if connection.vendor == "postgresql":  # the trigger is back on after the backfill
        from django.db import DatabaseError, transaction

        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("UPDATE billing_ledgerentry SET description_code = 'x' WHERE id = %s", [coded.pk])


def test_the_ledger_api_gives_code_values_and_the_text_in_the_readers_language(account, importer, french, client):
    ledger.post_entry(program_account=account, kind="cad_charge", amount=Decimal("12.50"), effective_date=date(2026, 3, 2),
                      idempotency_key="api-text", description=Text("cad_charge", number="10077000003190"))
    client.force_login(importer.bam)
    [row] = client.get("/api/v1/ledger-entries/", HTTP_ACCEPT_LANGUAGE="fr").json()["results"]
    assert (row["description_code"], row["description_params"]) == ("cad_charge", {"number": "10077000003190"})
    assert row["description"] == "CAD 10077000003190"  # as stored, for search and systems
    assert row["description_text"] == "DDC 10077000003190"
