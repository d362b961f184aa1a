"""On PostgreSQL, the database itself refuses to change or delete a ledger entry.

The model already refuses in Python; this also stops raw SQL, a shell, or a future bug. It only
applies on PostgreSQL (SQLite is the zero-setup demo). TRUNCATE, used by test flushes, is not
affected. The amount = sum-of-breakdown and period-ends-on-the-17th checks are added the same way
(on SQLite decimals are stored as floats, where an equality check of sums is unreliable).
"""

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION billing_ledgerentry_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'billing_ledgerentry is append-only: % refused; post a new entry instead', TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER billing_ledgerentry_no_update_delete
    BEFORE UPDATE OR DELETE ON billing_ledgerentry
    FOR EACH ROW EXECUTE FUNCTION billing_ledgerentry_append_only();

ALTER TABLE billing_ledgerentry
    ADD CONSTRAINT ledger_amount_is_sum_of_breakdown
        CHECK (amount = duty + sima + excise_duty + excise_tax + gst + other),
    ADD CONSTRAINT ledger_period_ends_on_17th
        CHECK (EXTRACT(DAY FROM billing_period) = 17);
"""

BACKWARD = """
ALTER TABLE billing_ledgerentry
    DROP CONSTRAINT IF EXISTS ledger_amount_is_sum_of_breakdown,
    DROP CONSTRAINT IF EXISTS ledger_period_ends_on_17th;
DROP TRIGGER IF EXISTS billing_ledgerentry_no_update_delete ON billing_ledgerentry;
DROP FUNCTION IF EXISTS billing_ledgerentry_append_only();
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD, params=None)


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial")]

    operations = [migrations.RunPython(forward, backward)]
