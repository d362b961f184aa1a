"""`Payment.idempotency_key` was never written or read: retries go through carm_portal.idempotency (issue #10)."""


from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('billing', '0008_ledger_and_reference_tables_moved'),
    ]

    operations = [
        migrations.RemoveField(
            model_name='payment',
            name='idempotency_key',
        ),
    ]
