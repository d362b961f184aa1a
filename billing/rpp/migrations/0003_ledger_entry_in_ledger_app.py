"""The ledger entry this points to now lives in the ``ledger`` app (same table): state only,
the column and its foreign key stay as they are.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('ledger', '0001_initial'),
        ('rpp', '0002_security_forecast'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='cashdeposit',
                    name='ledger_entry',
                    field=models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='ledger.ledgerentry', verbose_name='ledger entry'),
                ),
            ],
            database_operations=[],
        ),
    ]
