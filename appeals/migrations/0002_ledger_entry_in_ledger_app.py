"""The ledger entry this points to now lives in the ``ledger`` app (same table): state only,
the column and its foreign key stay as they are.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('appeals', '0001_initial'),
        ('ledger', '0001_initial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='appeal',
                    name='credit_entry',
                    field=models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='ledger.ledgerentry', verbose_name='credit entry'),
                ),
                migrations.AlterField(
                    model_name='appeal',
                    name='interest_entry',
                    field=models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='ledger.ledgerentry', verbose_name='interest entry'),
                ),
                migrations.AlterField(
                    model_name='penalty',
                    name='ledger_entry',
                    field=models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='ledger.ledgerentry', verbose_name='ledger entry'),
                ),
                migrations.AlterField(
                    model_name='statementofadjustment',
                    name='ledger_entry',
                    field=models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='ledger.ledgerentry', verbose_name='ledger entry'),
                ),
            ],
            database_operations=[],
        ),
    ]
