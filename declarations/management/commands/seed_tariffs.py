"""Seed the tariff treatments, ~30 tariff items with rates, and daily exchange rates.

Idempotent: items and rates are upserted; exchange rates already stored are left alone (an
admin may have corrected them), missing business days are added.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from carm_portal import calendar
from declarations import reference_tables
from declarations.models import (
    ExchangeRate,
    GstStatus,
    ReasonCode,
    TariffItem,
    TariffRate,
    TariffTreatment,
)
from declarations.reference_data import (
    CURRENCIES,
    GST_STATUS_BY_ITEM,
    PREFERENTIAL,
    TARIFF_ITEMS,
    TREATMENTS,
    rate_on,
)


class Command(BaseCommand):
    help = "Seed tariff treatments, demo tariff items with rates, and Bank of Canada-like exchange rates."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=400, help="Exchange rates for this many days back.")
        parser.add_argument("--until", type=date.fromisoformat, default=None,
                            help="Last day of exchange rates (YYYY-MM-DD; default: today).")

    @transaction.atomic
    def handle(self, *args, days: int = 400, until: date | None = None, **options):
        for order, (code, name_en, name_fr) in enumerate(TREATMENTS, start=1):
            TariffTreatment.objects.update_or_create(
                code=code, defaults={"name_en": name_en, "name_fr": name_fr, "sort_order": order * 10}
            )
        # Origins by treatment, GST statuses, reason codes (with their sources).
        reference_tables.load(TariffTreatment, GstStatus, ReasonCode)
        rates = 0
        for code, en, fr, unit, mfn, gpt_excluded, excise_duty, excise_tax in TARIFF_ITEMS:
            item, _created = TariffItem.objects.update_or_create(
                classification=code,
                defaults={
                    "description_en": en, "description_fr": fr, "unit_of_measure": unit,
                    "excise_duty_per_unit": Decimal(excise_duty) if excise_duty else None,
                    "excise_tax_per_unit": Decimal(excise_tax) if excise_tax else None,
                    "gst_status_id": GST_STATUS_BY_ITEM.get(code),
                    "is_active": True,
                },
            )
            by_treatment = {"MFN": Decimal(mfn) / 100}
            by_treatment.update(dict.fromkeys(PREFERENTIAL, Decimal("0")))
            if not gpt_excluded:
                by_treatment["GPT"] = Decimal("0")
            for treatment, rate in by_treatment.items():
                TariffRate.objects.update_or_create(tariff_item=item, treatment_id=treatment,
                                                    defaults={"rate": rate})
                rates += 1
        until = until or timezone.localdate()
        fx = [
            ExchangeRate(currency=currency, date=day, rate=rate_on(currency, day))
            for n in range(days, -1, -1)
            if calendar.is_business_day(day := until - timedelta(days=n))
            for currency, *_rest in CURRENCIES
        ]
        before = ExchangeRate.objects.count()
        ExchangeRate.objects.bulk_create(fx, batch_size=1000, ignore_conflicts=True)
        added = ExchangeRate.objects.count() - before
        self.stdout.write(self.style.SUCCESS(
            f"{len(TREATMENTS)} treatments, {len(TARIFF_ITEMS)} tariff items, {rates} rates, "
            f"{added} new exchange rates ({len(CURRENCIES)} currencies, {days} days)."
        ))
        # Say where the rates come from: a demo must not pass for the Bank of Canada's figures.
        self.stdout.write(
            "  Exchange rates: SYNTHETIC demo values (a formula, not the Bank of Canada's). Load real ones with "
            "`manage.py load_exchange_rates FILE` (a Bank of Canada Valet export, JSON or CSV)."
        )
