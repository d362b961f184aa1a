"""The ledger entry this points to now lives in the ``ledger`` app (same table): state only,
the column and its foreign key stay as they are.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('declarations', '0004_delete_idempotencykey'),
        ('ledger', '0001_initial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='cadversion',
                    name='ledger_entry',
                    field=models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='cad_version', to='ledger.ledgerentry', verbose_name='ledger entry'),
                ),
            ],
            database_operations=[],
        ),
    ]
