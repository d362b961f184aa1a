"""The ledger entry this points to now lives in the ``ledger`` app (same table): state only,
the column and its foreign key stay as they are.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('ledger', '0001_initial'),
        ('offsetting', '0002_allocation_append_only'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='allocation',
                    name='credit',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='allocations_out', to='ledger.ledgerentry', verbose_name='credit entry'),
                ),
                migrations.AlterField(
                    model_name='allocation',
                    name='debt',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='allocations_in', to='ledger.ledgerentry', verbose_name='debt entry'),
                ),
                migrations.AlterField(
                    model_name='refund',
                    name='ledger_entry',
                    field=models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='refund', to='ledger.ledgerentry', verbose_name='refund ledger entry'),
                ),
            ],
            database_operations=[],
        ),
    ]
