"""``manage.py generate_load --importers N --months M --seed S``: national-volume test data, fast.

Creates N importers (valid BN9s, one RM account each) and M months of realistic CADs with lines,
versions and ledger entries, in bulk batches, with a progress bar. See ``declarations.load``.

``--broker``: also one customs broker firm ("Load Brokers", BN 100000009, BAM
``broker-load@carm-portal.local``) holding an active, business-wide delegation from every importer
created, i.e. one firm with N clients (the broker board's benchmark, ``bench/broker_board.py``).
Run again, it adds the new importers to the same firm.
"""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError

from declarations.load import CadHistoryGenerator

LOAD_BROKER_BN = "100000009"
LOAD_BROKER_EMAIL = "broker-load@carm-portal.local"


def make_load_broker(accounts, *, password: str | None = None):
    """The load broker firm and its BAM (created once), with a delegation from every importer of
    ``accounts`` that has none yet (bulk). Returns (firm, bam)."""
    from datetime import timedelta

    from django.utils import timezone

    from accounts.models import Business, Delegation, Membership, User
    from accounts.roles import Role

    firm, _created = Business.objects.get_or_create(
        bn9=LOAD_BROKER_BN,
        defaults={"kind": Business.Kind.BROKER, "legal_name": "Load Brokers Inc.", "broker_licence_number": "LOAD1"},
    )
    bam = User.objects.filter(email=LOAD_BROKER_EMAIL).first()
    if bam is None:
        bam = User.objects.create_user(email=LOAD_BROKER_EMAIL, password=password)
    Membership.objects.get_or_create(user=bam, business=firm, status=Membership.Status.ACTIVE,
                                     defaults={"role": Role.BAM, "decided_at": timezone.now()})
    importer_ids = {pa.business_id for pa in accounts}
    have = set(Delegation.objects.filter(broker=firm, importer_id__in=importer_ids,
                                         status__in=[Delegation.Status.ACTIVE, Delegation.Status.REQUESTED])
               .values_list("importer_id", flat=True))
    today = timezone.localdate()
    Delegation.objects.bulk_create([
        # Every 10th client's delegation ends within the month (the board's "expiring" filter).
        Delegation(importer_id=pk, broker=firm, status=Delegation.Status.ACTIVE, coverage=Delegation.Coverage.BUSINESS,
                   valid_from=today - timedelta(days=365),
                   valid_to=today + timedelta(days=20) if n % 10 == 0 else None, decided_at=timezone.now())
        for n, pk in enumerate(sorted(importer_ids - have))
    ], batch_size=1000)
    return firm, bam


class Command(BaseCommand):
    help = "Create N importers with M months of realistic CADs, lines, versions and ledger entries (bulk)."

    def add_arguments(self, parser):
        parser.add_argument("--importers", type=int, default=10)
        parser.add_argument("--months", type=int, default=12)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--cads-per-month", type=float, default=20.0,
                            help="Median CADs per importer per month (heavy-tailed around it).")
        parser.add_argument("--batch", type=int, default=2000, help="CADs per bulk batch.")
        parser.add_argument("--broker", action="store_true",
                            help="Also one broker firm acting for every importer created (N clients).")

    def handle(self, *args, importers: int, months: int, seed: int, cads_per_month: float, batch: int,
               broker: bool = False, **options):
        if importers < 1 or months < 1:
            raise CommandError("--importers and --months must be at least 1.")
        started = time.monotonic()
        generator = CadHistoryGenerator(seed=seed, stdout=self.stdout)
        accounts = generator.create_importers(importers)
        self.stdout.write(f"{len(accounts)} importers created; generating {months} months of CADs.")
        if broker:
            firm, bam = make_load_broker(accounts)
            self.stdout.write(f"Broker firm {firm.legal_name} (BN {firm.bn9}, BAM {bam.email}) acts for "
                              f"{firm.delegations_held.filter(status='active').count():,} clients.")

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
