"""The one money format (carm_portal.money.format_money) and what is rendered through it."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from django.template import Context, Template
from django.urls import reverse
from django.utils import translation

from billing import charts
from billing.entry_text import entry_description
from billing.ledger.models import LedgerEntry
from carm_portal.money import format_cad, format_money, format_money_short, money_locale

NBSP = "\u00a0"


@pytest.mark.parametrize(("amount", "en", "fr"), [
    (Decimal("1234.56"), "$1,234.56", f"1{NBSP}234,56{NBSP}$"),
    (Decimal("-1234.56"), "-$1,234.56", f"-1{NBSP}234,56{NBSP}$"),
    (Decimal("0"), "$0.00", f"0,00{NBSP}$"),
    (Decimal("-0.001"), "$0.00", f"0,00{NBSP}$"),  # never "-$0.00"
    (Decimal("0.005"), "$0.01", f"0,01{NBSP}$"),  # half up, like every rounding of the portal
    (Decimal("2.675"), "$2.68", f"2,68{NBSP}$"),  # a float would say 2.67
    (Decimal("999999999999.99"), "$999,999,999,999.99", f"999{NBSP}999{NBSP}999{NBSP}999,99{NBSP}$"),
    ("19360.4", "$19,360.40", f"19{NBSP}360,40{NBSP}$"),
    (7, "$7.00", f"7,00{NBSP}$"),
])
def test_format_money_in_english_and_french(amount, en, fr):
    assert format_money(amount, language="en") == en
    assert format_money(amount, language="fr") == fr


def test_brackets_for_credits_and_the_active_language():
    assert format_money(Decimal("-650"), negative="brackets", language="en") == "($650.00)"
    assert format_money(Decimal("-650"), negative="brackets", language="fr") == f"(650,00{NBSP}$)"
    with translation.override("fr"):
        assert format_cad(Decimal("1000")) == f"1{NBSP}000,00{NBSP}$"
        assert money_locale() == "fr_CA"
    with translation.override("en"):
        assert format_cad(Decimal("1000")) == "$1,000.00"
    assert money_locale("fr-ca") == "fr_CA" and money_locale("de") == "en_CA"


def test_floats_and_nonsense_are_refused():
    with pytest.raises(TypeError):
        format_money(1.1)
    with pytest.raises(ValueError):
        format_money("twelve")
    with pytest.raises(ValueError):
        format_money(1, negative="red")


def test_foreign_currency_keeps_its_own_digits_and_symbol():
    assert format_money("1234.5", currency="USD", language="en") == "US$1,234.50"
    assert format_money("1234.5", currency="USD", language="fr") == f"1{NBSP}234,50{NBSP}${NBSP}US"


def test_template_filters_follow_the_language():
    template = Template('{% load money_tags %}{{ a|money }}|{{ b|money }}|{{ b|money:"signed" }}|{{ a|cad }}|'
                        '{{ a|money_en }}|{{ none|money }}|{{ f|money_in:"USD" }}')
    context = Context({"a": Decimal("1234.5"), "b": Decimal("-12.5"), "none": None, "f": Decimal("10")})
    with translation.override("en"):
        assert template.render(context) == "$1,234.50|($12.50)|-$12.50|$1,234.50|$1,234.50||US$10.00"
    with translation.override("fr"):
        assert template.render(context) == (
            f"1{NBSP}234,50{NBSP}$|(12,50{NBSP}$)|-12,50{NBSP}$|1{NBSP}234,50{NBSP}$|1{NBSP}234,50{NBSP}$||10,00{NBSP}${NBSP}US")


def test_chart_axis_and_months_come_from_the_locale():
    from datetime import date

    with translation.override("fr"):
        assert format_money_short(Decimal("12000")) == f"12{NBSP}k{NBSP}$"
        assert [charts.month_label(date(2026, m, 1)) for m in (6, 7)] == ["juin", "juill."]  # not "Jui"/"Jui"
        svg = str(charts.bar_chart([(date(2026, 7, 17), Decimal("1234.56"))], title="t"))
        assert f"1{NBSP}234,56{NBSP}$" in svg and "juill." in svg and "$1" not in svg
    with translation.override("en"):
        assert format_money_short(Decimal("1500000")) == "$1.5M"
        assert charts.month_label(date(2026, 7, 1)) == "Jul"


@pytest.mark.parametrize(("stored", "en", "fr"), [
    ("Appeal 2 allowed: credit", "Appeal 2 allowed: credit", "Appel 2 accueilli : crédit"),
    ("Overpayment", "Overpayment", "Trop-payé"),
    ("CAD 10077000003190", "CAD 10077000003190", "DDC 10077000003190"),
    ("Late payment: statement 2026-02-17 due 2026-03-02", "Late payment: statement 2026-02-17 due 2026-03-02",
     "Paiement en retard : état du 2026-02-17 exigible le 2026-03-02"),
    ("Interest: 2026-02-18–2026-03-17 28 d × 4200.00 @ 0.090000",
     "Interest: 2026-02-18 to 2026-03-17: 28 days on $4,200.00 at 9% a year",
     f"Intérêts : du 2026-02-18 au 2026-03-17 : 28 jours sur 4{NBSP}200,00{NBSP}$ à 9{NBSP}% par année"),
    ("Pre-authorized debit DEMO-RM0001-202602", "Pre-authorized debit DEMO-RM0001-202602",
     "Débit préautorisé DEMO-RM0001-202602"),
    ("Typed by a clerk", "Typed by a clerk", "Typed by a clerk"),
])
def test_ledger_descriptions_are_said_again_in_the_readers_language(stored, en, fr, french_catalogue):
    """Sentences stored before codes, once ledger migration 0003 gave them their code and values."""
    import importlib

    recognise = importlib.import_module("billing.ledger.migrations.0003_backfill_description_codes").recognise
    code, params = recognise(stored) or ("", {})
    entry = LedgerEntry(kind="other", description=stored, description_code=code, description_params=params)
    with translation.override("en"):
        assert entry_description(entry) == en
    with translation.override("fr"):
        assert entry_description(entry) == fr


def test_csv_exports_keep_plain_decimals(client, importer):
    """Spreadsheets read "1234.56": the CSV exports stay plain whatever the reader's language."""
    from tests.billing.doc_builders import close_statement, post_mixed_period

    account = importer.program_accounts.order_by("number").first()
    post_mixed_period(account)
    statement = close_statement(account)
    client.force_login(importer.bam)
    client.cookies["django_language"] = "fr"
    for url in (reverse("billing-statement-csv", args=[statement.pk]), reverse("billing-transactions-csv")):
        response = client.get(url)
        assert response.status_code == 200
        body = b"".join(response.streaming_content if response.streaming else [response.content]).decode()
        rows = list(csv.reader(io.StringIO(body)))
        header = [h.lower() for h in rows[0]]
        column = next(i for i, h in enumerate(header) if "amount" in h or "montant" in h)
        amounts = [r[column] for r in rows[1:] if len(r) > column and r[column]]
        assert amounts, url
        for text in amounts:
            assert "$" not in text and NBSP not in text and "," not in text, (url, text)
            assert Decimal(text).as_tuple().exponent == -2, (url, text)  # plain, two places


def test_limits_in_help_texts_come_from_the_settings_in_the_readers_money(client, importer, settings, french_catalogue):
    settings.CARM = {**settings.CARM, "CREDIT_CARD_CYCLE_CAP": Decimal("2500.00")}
    client.force_login(importer.bam)
    client.cookies["django_language"] = "fr"
    html = client.get(reverse("billing-payments")).content.decode()
    assert f"plafonnés à 2{NBSP}500,00{NBSP}$" in html and "4,999.99" not in html and "4 999,99" not in html
    client.cookies["django_language"] = "en"
    html = client.get(reverse("billing-payments")).content.decode()
    assert "capped at $2,500.00 per billing cycle" in html
