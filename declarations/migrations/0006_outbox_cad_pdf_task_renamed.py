"""The CAD PDF task moved from billing to declarations: outbox items still waiting under the old
name are sent under the new one (the sweeper would otherwise retry an unknown task forever)."""

from django.db import migrations

OLD, NEW = "billing.pdf.render_cad", "declarations.pdf.render_cad"


def rename(apps, schema_editor, old=OLD, new=NEW):
    apps.get_model("carm_portal", "OutboxItem").objects.filter(task=old).update(task=new)


def rename_back(apps, schema_editor):
    rename(apps, schema_editor, old=NEW, new=OLD)


class Migration(migrations.Migration):
    dependencies = [
        ("declarations", "0005_ledger_entry_in_ledger_app"),
        ("carm_portal", "0004_job_progress"),
    ]

    operations = [migrations.RunPython(rename, rename_back)]
