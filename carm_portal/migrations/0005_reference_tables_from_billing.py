"""The interest-rate and due-date-override tables move from billing to the core, beside the holidays:
the calendar and the interest engine read them and sit below billing. State only (tables keep
their names); billing 0008 drops them from the billing app's state.
"""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('billing', '0007_statement_snapshot_frozen'),
        ('carm_portal', '0004_job_progress'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='DueDateOverride',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('period_end', models.DateField(unique=True, verbose_name='period end')),
                        ('due_date', models.DateField(verbose_name='due date')),
                        ('note', models.CharField(blank=True, max_length=200, verbose_name='note')),
                    ],
                    options={
                        'verbose_name': 'due date override',
                        'verbose_name_plural': 'due date overrides',
                        'db_table': 'billing_duedateoverride',
                        'ordering': ['-period_end'],
                    },
                ),
                migrations.CreateModel(
                    name='InterestRate',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('effective_from', models.DateField(unique=True, verbose_name='in force from')),
                        ('annual_rate', models.DecimalField(decimal_places=6, help_text='The specified rate charged on overdue amounts, as a fraction: 0.09 for 9%. 0 is a waiver.', max_digits=8, verbose_name='annual rate')),
                        ('note', models.CharField(blank=True, max_length=200, verbose_name='note')),
                    ],
                    options={
                        'verbose_name': 'interest rate',
                        'verbose_name_plural': 'interest rates',
                        'db_table': 'billing_interestrate',
                        'ordering': ['-effective_from'],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
