"""``manage.py run_billing --period YYYY-MM``: close the statements of a period, with a progress bar.

The period is the statement month's: ``--period 2026-11`` closes the period 2026-10-18 → 2026-11-17.
With no broker configured (CELERY_TASK_ALWAYS_EAGER) the chunks run in this process; with a broker
they go to the workers and this command follows the run's progress until it finishes.
"""

from __future__ import annotations

import time
from datetime import date

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from billing import services
from billing.models import BillingRun
from carm_portal import calendar
from carm_portal.exceptions import ApplicationError


class Command(BaseCommand):
    help = "Run the harmonized billing cycle for a statement month (the period ending on its 17th)."

    def add_arguments(self, parser):
        parser.add_argument("--period", required=True, help="Statement month, YYYY-MM.")
        parser.add_argument("--force", action="store_true", help="Close before the statement day (the 25th).")
        parser.add_argument("--in-process", action="store_true", help="Run the chunks here even with a broker.")
        parser.add_argument("--timeout", type=int, default=3600, help="Seconds to wait for the workers.")

    def _bar(self, run: BillingRun) -> None:
        width = 30
        share = (run.done + run.failed) / run.total if run.total else 1
        filled = int(width * share)
        self.stdout.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {share:6.1%} {run.done:,}/{run.total:,} "
                          f"accounts, {run.failed:,} failed", ending="")
        self.stdout.flush()

    def handle(self, *args, period: str, force: bool, in_process: bool, timeout: int, **options):
        try:
            year, month = (int(p) for p in period.split("-"))
            period_end = date(year, month, calendar.period_end_day())
        except ValueError as exc:
            raise CommandError("--period must be YYYY-MM, e.g. 2026-11.") from exc
        started = time.monotonic()
        try:
            if in_process or settings.CELERY_TASK_ALWAYS_EAGER:
                run = services.run_in_process(period_end, force=force, progress=self._bar)
            else:
                run = services.start_run(period_end, force=force)
                while True:
                    run.refresh_from_db()
                    self._bar(run)
                    if run.status in (BillingRun.Status.COMPLETE, BillingRun.Status.FAILED):
                        break
                    if time.monotonic() - started > timeout:
                        raise CommandError(f"Run {run.pk} still {run.status} after {timeout} s.")
                    time.sleep(0.5)
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        self._bar(run)
        self.stdout.write("")
        elapsed = time.monotonic() - started
        summary = (f"Billing run {run.period_end} #{run.run_number}: {run.get_status_display()}, {run.done:,} "
                   f"statements closed, {run.failed:,} failed, in {elapsed:.1f} s.")
        if run.status == BillingRun.Status.COMPLETE:
            self.stdout.write(self.style.SUCCESS(summary))
        else:
            self.stdout.write(self.style.ERROR(summary))
            for failure in run.failures:
                self.stdout.write(f"  chunk {failure.get('chunk')}: {failure.get('error')}")
