"""The ledger moves out of the billing app into its own app, below every app that posts to it.

State only: the table (``billing_ledgerentry``), its indexes, constraints and append-only trigger
(billing 0002) stay as they are; ``billing`` 0008 drops the model from the billing app's state.
"""

import django.db.models.deletion
import django.utils.timezone
from decimal import Decimal
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('billing', '0007_statement_snapshot_frozen'),
        ('accounts', '0003_audit_event_append_only'),
        ('contenttypes', '0002_remove_content_type_name'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='LedgerEntry',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('kind', models.CharField(choices=[('cad_charge', 'CAD charge'), ('cad_correction', 'CAD correction'), ('cad_adjustment', 'CAD adjustment'), ('cad_withdrawal', 'CAD withdrawal'), ('payment', 'Payment'), ('interest', 'Interest'), ('penalty', 'Penalty'), ('refund', 'Refund'), ('offset', 'Offset'), ('security_deposit', 'Security deposit'), ('cbsa_invoice', 'CBSA invoice'), ('appeal_decision', 'Appeal decision'), ('other', 'Other')], max_length=30, verbose_name='kind')),
                        ('amount', models.DecimalField(decimal_places=2, max_digits=14, verbose_name='amount')),
                        ('duty', models.DecimalField(decimal_places=2, default=Decimal('0.00'), max_digits=14, verbose_name='customs duty')),
                        ('sima', models.DecimalField(decimal_places=2, default=Decimal('0.00'), max_digits=14, verbose_name='SIMA duty')),
                        ('excise_duty', models.DecimalField(decimal_places=2, default=Decimal('0.00'), max_digits=14, verbose_name='excise duty')),
                        ('excise_tax', models.DecimalField(decimal_places=2, default=Decimal('0.00'), max_digits=14, verbose_name='excise tax')),
                        ('gst', models.DecimalField(decimal_places=2, default=Decimal('0.00'), max_digits=14, verbose_name='GST')),
                        ('other', models.DecimalField(decimal_places=2, default=Decimal('0.00'), help_text='Payments, interest, penalties and anything that is not a duty or tax.', max_digits=14, verbose_name='other')),
                        ('effective_date', models.DateField(verbose_name='effective date')),
                        ('billing_period', models.DateField(help_text="The period's last day: the 17th of the statement month.", verbose_name='billing period')),
                        ('source_id', models.PositiveBigIntegerField(blank=True, null=True, verbose_name='source id')),
                        ('reference', models.CharField(blank=True, help_text='E.g. the CAD transaction number.', max_length=40, verbose_name='reference')),
                        ('description', models.CharField(blank=True, max_length=200, verbose_name='description')),
                        ('idempotency_key', models.CharField(max_length=120, unique=True, verbose_name='idempotency key')),
                        ('created_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='created')),
                        ('created_by', models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='created by')),
                        ('program_account', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='ledger_entries', to='accounts.programaccount', verbose_name='program account')),
                        ('source_type', models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='contenttypes.contenttype', verbose_name='source type')),
                    ],
                    options={
                        'verbose_name': 'ledger entry',
                        'verbose_name_plural': 'ledger entries',
                        'db_table': 'billing_ledgerentry',
                        'ordering': ['effective_date', 'id'],
                        'indexes': [models.Index(fields=['program_account', 'billing_period'], name='ledger_account_period'), models.Index(fields=['program_account', 'effective_date'], name='ledger_account_effective'), models.Index(fields=['source_type', 'source_id'], name='ledger_source'), models.Index(fields=['created_at'], name='ledger_created')],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
