"""Interest rates are in force from a day (not only a quarter's first day), so a waiver can be a row.

The 2025 CARM transition waiver (Customs Notice 25-02; carm-rules §4): interest and penalties
were waived in 2025 and accrual resumed on balances overdue at 2026-01-31. The seeded rows of
2025 and of the first quarter of 2026 become 0% (a waiver) and a row from 2026-01-31 carries the
specified rate again. Rows an admin edited (note not "Seeded…") are left alone.
"""

from datetime import date
from decimal import Decimal

from django.db import migrations, models

WAIVED = [date(2025, 1, 1), date(2025, 4, 1), date(2025, 7, 1), date(2025, 10, 1), date(2026, 1, 1)]
RESUMES = date(2026, 1, 31)


def waiver(apps, schema_editor):
    InterestRate = apps.get_model("billing", "InterestRate")
    InterestRate.objects.filter(effective_from__in=WAIVED, note__startswith="Seeded").update(
        annual_rate=Decimal("0"), note="Waived: CARM transition (Customs Notice 25-02)"
    )
    InterestRate.objects.get_or_create(
        effective_from=RESUMES,
        defaults={"annual_rate": Decimal("0.090000"),
                  "note": "Seeded: accrual resumes (Customs Notice 25-02), prescribed + 6 points (illustrative)"},
    )


class Migration(migrations.Migration):
    dependencies = [("billing", "0005_ledger_created_index")]

    operations = [
        migrations.RenameField("interestrate", "quarter_start", "effective_from"),
        migrations.AlterField(
            "interestrate", "effective_from", models.DateField(unique=True, verbose_name="in force from"),
        ),
        migrations.AlterField(
            "interestrate", "annual_rate",
            models.DecimalField(
                decimal_places=6, max_digits=8, verbose_name="annual rate",
                help_text="The specified rate charged on overdue amounts, as a fraction: 0.09 for 9%. 0 is a waiver.",
            ),
        ),
        migrations.AlterModelOptions(
            "interestrate",
            options={"ordering": ["-effective_from"], "verbose_name": "interest rate",
                     "verbose_name_plural": "interest rates"},
        ),
        migrations.RunPython(waiver, migrations.RunPython.noop),
    ]
