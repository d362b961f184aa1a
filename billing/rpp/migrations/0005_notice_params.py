# RPP notices keep the sender's values (billing.rpp.notice_text renders kind + params in the reader's language).

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('rpp', '0004_notice_forecast_gap'),
    ]

    operations = [
        migrations.AddField(
            model_name='notice',
            name='params',
            field=models.JSONField(blank=True, db_default={}, default=dict, verbose_name='values'),
        ),
    ]
