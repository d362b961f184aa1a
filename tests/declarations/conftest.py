"""Reference data and builders for the CAD tests: a small tariff, Bank of Canada-like rates."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from accounts.models import ProgramAccount
from declarations import reference_tables, services
from declarations.models import (
    ExchangeRate,
    GstStatus,
    ReasonCode,
    TariffItem,
    TariffRate,
    TariffTreatment,
)
from declarations.reference_data import TREATMENTS
from tests import factories

# The tests run "on" fixed days through the services' ``today`` argument: deterministic.
RELEASE = date(2025, 11, 3)        # a Monday; billing period 2025-10-18 → 2025-11-17, payment due 2025-12-01
SHIPPED = date(2025, 11, 1)        # a Saturday: the rate is Friday's
FILED_ON = date(2025, 11, 5)

WORKED_EXAMPLE_LINE = {
    "description": "Face cream", "classification": "3304990000", "treatment": "MFN", "origin_country": "CN",
    "quantity": "100", "value_foreign": "10000.00", "currency": "USD",
}


@pytest.fixture(autouse=True)
def _review_by_staff(settings):
    """These tests walk the submit → accept steps one by one; auto-accept is tested on its own."""
    settings.CARM = {**settings.CARM, "CAD_AUTO_ACCEPT": False}


def item(code, description, rates, unit="NMB", **extra) -> TariffItem:
    tariff_item = TariffItem.objects.create(classification=code, description_en=description,
                                            description_fr=description, unit_of_measure=unit, **extra)
    for treatment, rate in rates.items():
        TariffRate.objects.create(tariff_item=tariff_item, treatment_id=treatment, rate=Decimal(rate))
    return tariff_item


@pytest.fixture
def tariff(db):
    # The treatments come with a data migration, but a transactional test's flush empties them.
    for code, name_en, name_fr in TREATMENTS:
        TariffTreatment.objects.get_or_create(code=code, defaults={"name_en": name_en, "name_fr": name_fr})
    # ...and so do the origins by treatment, the GST statuses and the reason codes (migration 0003).
    reference_tables.load(TariffTreatment, GstStatus, ReasonCode)
    item("3304990000", "Beauty preparations", {"MFN": "0.065", "UST": "0", "GPT": "0"}, unit="KGM")
    item("6109100011", "T-shirts of cotton", {"MFN": "0.18", "UST": "0", "MXT": "0", "CPTPT": "0"})
    item("8471300000", "Laptops", {"MFN": "0", "UST": "0"})
    item("2204214100", "Wine", {"MFN": "0", "CEUT": "0"}, unit="LTR", excise_duty_per_unit=Decimal("0.7681"))
    day = date(2021, 10, 1)
    rates = []
    while day <= date(2026, 1, 31):
        if day.weekday() < 5:
            rates.append(ExchangeRate(currency="USD", date=day, rate=Decimal("1.3650")))
            rates.append(ExchangeRate(currency="EUR", date=day, rate=Decimal("1.5100")))
        day += timedelta(days=1)
    ExchangeRate.objects.bulk_create(rates)


@pytest.fixture
def account(importer) -> ProgramAccount:
    return importer.program_accounts.order_by("number").first()


@pytest.fixture
def cbsa(db):
    return factories.make_officer()


def numbers_afresh(prefix: str) -> str:
    """The prefix as if no number had been handed out under it. On PostgreSQL numbers come from a
    sequence, which a transactional test (a real worker, the browser) may have left behind: it is
    dropped inside this test's transaction, so the drop is rolled back with it."""
    from django.db import connection

    from declarations import transaction_numbers

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"DROP SEQUENCE IF EXISTS {transaction_numbers.sequence_name(prefix)}")
    return prefix


def header(**overrides):
    values = {"release_date": RELEASE, "direct_shipment_date": SHIPPED, "office_code": "0497",
              "transport_mode": "highway", "invoice_currency": "USD", "vendor_name": "Acme Corp",
              "invoice_number": "INV-1"}
    values.update(overrides)
    return values


def line(**overrides):
    return {**WORKED_EXAMPLE_LINE, **overrides}


def file_cad(actor, account, lines=None, today=FILED_ON, **header_overrides):
    return services.cad_file(actor=actor, program_account=account, lines=lines or [line()], today=today,
                             **header(**header_overrides))


def accepted_cad(actor, account, cbsa, lines=None, today=FILED_ON, **header_overrides):
    cad = file_cad(actor, account, lines, today=today, **header_overrides)
    return services.cad_accept(actor=cbsa, cad=cad, today=today)
