# Descriptions as catalogue codes + values (billing.ledger.texts); db defaults keep raw INSERTs working.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('ledger', '0001_initial'),
    ]

    operations = [
        migrations.AddField(
            model_name='ledgerentry',
            name='description_code',
            field=models.CharField(blank=True, db_default='', default='', max_length=40, verbose_name='description code'),
        ),
        migrations.AddField(
            model_name='ledgerentry',
            name='description_params',
            field=models.JSONField(blank=True, db_default={}, default=dict, verbose_name='description values'),
        ),
    ]
