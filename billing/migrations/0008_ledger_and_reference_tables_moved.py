"""The ledger moved to the ``ledger`` app, the interest-rate and due-date tables to ``carm_portal``.

State only: every table keeps its name and rows. Runs after every app that points at a ledger
entry has moved its foreign keys (their ``*_ledger_entry_in_ledger_app`` migrations), so the
billing app's copy can leave the state. The content types follow the models, so admin history,
permissions and audit events that name them stay attached.
"""

import django.db.models.deletion
from django.db import migrations, models

MOVED = {"ledgerentry": "ledger", "interestrate": "carm_portal", "duedateoverride": "carm_portal"}


def move_content_types(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model, app_label in MOVED.items():
        if not ContentType.objects.filter(app_label=app_label, model=model).exists():
            ContentType.objects.filter(app_label="billing", model=model).update(app_label=app_label)


def restore_content_types(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model, app_label in MOVED.items():
        if not ContentType.objects.filter(app_label="billing", model=model).exists():
            ContentType.objects.filter(app_label=app_label, model=model).update(app_label="billing")


class Migration(migrations.Migration):

    dependencies = [
        ("billing", "0007_statement_snapshot_frozen"),
        ("carm_portal", "0005_reference_tables_from_billing"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("ledger", "0001_initial"),
        ("appeals", "0002_ledger_entry_in_ledger_app"),
        ("declarations", "0005_ledger_entry_in_ledger_app"),
        ("offsetting", "0003_ledger_entry_in_ledger_app"),
        ("rpp", "0003_ledger_entry_in_ledger_app"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="payment",
                    name="ledger_entry",
                    field=models.OneToOneField(
                        on_delete=django.db.models.deletion.PROTECT, related_name="payment",
                        to="ledger.ledgerentry", verbose_name="ledger entry",
                    ),
                ),
                migrations.DeleteModel(name="LedgerEntry"),
                migrations.DeleteModel(name="InterestRate"),
                migrations.DeleteModel(name="DueDateOverride"),
            ],
            database_operations=[],
        ),
        migrations.RunPython(move_content_types, restore_content_types),
    ]
