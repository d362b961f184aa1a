"""Issued statements are frozen: a snapshot of what they showed, and no UPDATE/DELETE (PostgreSQL).

Statements issued before this migration get the business's current details as their snapshot
(the best record there is), before the append-only trigger is installed.
"""

import pgtrigger.compiler
import pgtrigger.migrations
from django.db import migrations, models


SNAPSHOT_FIELDS = ("legal_name", "operating_name", "bn9", "street", "city", "province", "postal_code", "country")


def backfill(apps, schema_editor):
    Statement = apps.get_model("billing", "Statement")
    for statement in Statement.objects.select_related("program_account__business").iterator():
        business = statement.program_account.business
        snapshot = {f: getattr(business, f) for f in SNAPSHOT_FIELDS}
        snapshot["account_number"] = statement.program_account.number
        Statement.objects.filter(pk=statement.pk).update(snapshot=snapshot)


class Migration(migrations.Migration):

    dependencies = [
        ('billing', '0006_interest_rate_effective_from'),
    ]

    operations = [
        migrations.AddField(
            model_name='statement',
            name='snapshot',
            field=models.JSONField(blank=True, default=dict, verbose_name='as issued'),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
        pgtrigger.migrations.AddTrigger(
            model_name='statement',
            trigger=pgtrigger.compiler.Trigger(name='statement_append_only', sql=pgtrigger.compiler.UpsertTriggerSql(func="RAISE EXCEPTION 'pgtrigger: Cannot update or delete rows from % table', TG_TABLE_NAME;", hash='9256b762fb4d5dae1f8e9795331747a60a9d688d', operation='UPDATE OR DELETE', pgid='pgtrigger_statement_append_only_7bdc8', table='billing_statement', when='BEFORE')),
        ),
    ]
