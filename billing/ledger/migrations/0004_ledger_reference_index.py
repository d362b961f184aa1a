"""An index on the ledger's ``reference`` (the CAD transaction number), for the admin's exact search.

At national size the ledger holds tens of millions of rows: on PostgreSQL the index is built
``CONCURRENTLY`` (writes go on while it builds; hence a non-atomic migration), elsewhere as usual.
"""

from django.db import migrations, models

INDEX = models.Index(fields=["reference"], name="ledger_reference")


def create(apps, schema_editor):
    model = apps.get_model("ledger", "LedgerEntry")
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {INDEX.name} ON {model._meta.db_table} (reference)"
        )
    else:
        schema_editor.add_index(model, INDEX)


def drop(apps, schema_editor):
    model = apps.get_model("ledger", "LedgerEntry")
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX.name}")
    else:
        schema_editor.remove_index(model, INDEX)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("ledger", "0003_backfill_description_codes"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.AddIndex(model_name="ledgerentry", index=INDEX)],
            database_operations=[migrations.RunPython(create, drop)],
        ),
    ]
