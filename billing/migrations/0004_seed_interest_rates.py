"""Seed plausible specified interest rates (CBSA prescribed rate + 6 points) by quarter.

ASSUMPTION: illustrative values close to the rates CBSA published (prescribed 2–5% in 2023–2026);
admins edit them in the admin. Existing rows are left alone.
"""

from datetime import date
from decimal import Decimal

from django.db import migrations

RATES = {
    (2024, 1): "0.110000", (2024, 4): "0.110000", (2024, 7): "0.110000", (2024, 10): "0.100000",
    (2025, 1): "0.100000", (2025, 4): "0.090000", (2025, 7): "0.090000", (2025, 10): "0.090000",
    (2026, 1): "0.090000", (2026, 4): "0.090000", (2026, 7): "0.090000", (2026, 10): "0.090000",
}


def seed(apps, schema_editor):
    InterestRate = apps.get_model("billing", "InterestRate")
    for (year, month), rate in RATES.items():
        InterestRate.objects.get_or_create(
            quarter_start=date(year, month, 1),
            defaults={"annual_rate": Decimal(rate), "note": "Seeded: prescribed + 6 points (illustrative)"},
        )


class Migration(migrations.Migration):
    dependencies = [("billing", "0003_billing_cycle")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
