"""``manage.py generate_load --importers N --months M --seed S``: national-volume test data, fast.

Creates N importers (valid BN9s, one RM account each) and M months of realistic CADs with lines,
versions and ledger entries, in bulk batches, with a progress bar. See ``declarations.load``.
"""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError

from declarations.load import CadHistoryGenerator


class Command(BaseCommand):
    help = "Create N importers with M months of realistic CADs, lines, versions and ledger entries (bulk)."

    def add_arguments(self, parser):
        parser.add_argument("--importers", type=int, default=10)
        parser.add_argument("--months", type=int, default=12)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--cads-per-month", type=float, default=20.0,
                            help="Median CADs per importer per month (heavy-tailed around it).")
        parser.add_argument("--batch", type=int, default=2000, help="CADs per bulk batch.")

    def handle(self, *args, importers: int, months: int, seed: int, cads_per_month: float, batch: int, **options):
        if importers < 1 or months < 1:
            raise CommandError("--importers and --months must be at least 1.")
        started = time.monotonic()
        generator = CadHistoryGenerator(seed=seed, stdout=self.stdout)
        accounts = generator.create_importers(importers)
        self.stdout.write(f"{len(accounts)} importers created; generating {months} months of CADs.")

        def progress(done: int, total: int) -> None:
            width = 30
            share = done / total if total else 1
            filled = int(width * share)
            rate = done / max(time.monotonic() - started, 1e-6)
            self.stdout.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {share:6.1%} {done:,}/{total:,} CADs "
                              f"({rate:,.0f}/s)", ending="")
            self.stdout.flush()

        stats = generator.generate(accounts, months=months, cads_per_month=cads_per_month, batch=batch,
                                   progress=progress)
        elapsed = time.monotonic() - started
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS(
            f"Created {stats.cads:,} CADs, {stats.lines:,} lines, {stats.entries:,} ledger entries in "
            f"{elapsed:.1f} s ({stats.cads / elapsed if elapsed else 0:,.0f} CADs/s)."
        ))
