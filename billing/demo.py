"""Demo billing history: the last 12 statements of the demo importer, most paid on time, one late.

Runs after ``declarations.demo`` (a year of CADs). Period by period, oldest first: close the
period (the same cycle the workers run, in process), then pay the statement: on its due date,
except one paid 12 days late so the next statement carries interest and the late-payment penalty. Idempotent: a period with a
complete run is not run again; a payment reference already recorded is skipped.
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from billing import services
from billing.models import BillingRun, Payment, Statement
from billing.payments import payment_record
from carm_portal import calendar

PERIODS = 12
LATE_INDEX = 8  # the 9th of the 12 statements (a recent one, after the 2025 interest waiver) is paid late
LATE_DAYS = 12


def _periods(today):
    return calendar.periods_ending(calendar.last_issued_period(today), PERIODS)


def seed(ctx, stdout) -> None:
    today = timezone.localdate()
    accounts = list(ctx.importer.program_accounts.order_by("number"))
    closed = paid = 0
    for index, period in enumerate(_periods(today)):
        if not BillingRun.objects.filter(period_end=period, status=BillingRun.Status.COMPLETE).exists():
            services.run_in_process(period)
            closed += 1
        for account in accounts:
            statement = Statement.objects.filter(program_account=account, period_end=period).first()
            if statement is None or statement.closing_balance <= 0:
                continue
            late = index == LATE_INDEX
            received = statement.due_date + timedelta(days=LATE_DAYS if late else 0)
            if received > today:
                continue  # not due yet: the latest statement stays open
            reference = f"DEMO-{account.number[-6:]}-{period:%Y%m}"
            if Payment.objects.filter(program_account=account, reference=reference).exists():
                continue
            payment_record(
                ctx.importer_user, account, Payment.Method.ONLINE_BANKING if index % 3 else Payment.Method.PAD,
                reference, statement.closing_balance, received, posted_on=received,
            )
            paid += 1
    stdout.write(f"  Billing: {closed} period(s) closed, {paid} payment(s) recorded "
                 f"(one {LATE_DAYS} days late, so a statement shows interest).")
