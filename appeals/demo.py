"""Demo data for appeals: an AMPS penalty on Maple Leaf's RM0001, served about 40 days ago,
with a penalty appeal already filed. Idempotent: found again by its NPA number."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from accounts.models import ProgramAccount

from . import services
from .models import Appeal, Penalty

DEMO_NPA = "2026-0417-0193"


def seed(ctx, stdout=None) -> None:
    today = timezone.localdate()
    account = ProgramAccount.objects.get(number=f"{ctx.importer.bn9}RM0001")
    with transaction.atomic():
        penalty = Penalty.objects.filter(npa_number=DEMO_NPA).first()
        if penalty is None:
            penalty = services.penalty_create(
                actor=ctx.admin, program_account=account, npa_number=DEMO_NPA, contravention_code="C152",
                description="Inaccurate tariff classification declared (s.32.2 correction not made in time)",
                amount=Decimal("750.00"), served_on=today - timedelta(days=40), today=today,
            )
        appeal = Appeal.objects.filter(penalty=penalty).first()
        if appeal is None:
            appeal = services.appeal_create(
                actor=ctx.importer_user, penalty=penalty,
                grounds="The goods were classified under 6109.10 on the supplier's advice, and the s.32.2 "
                        "correction was filed as soon as the error was known. We ask that the penalty be "
                        "cancelled or reduced.",
                today=today,
            )
        if appeal.status == Appeal.Status.DRAFT:
            services.appeal_submit(actor=ctx.importer_user, appeal=appeal, today=today)
    if stdout is not None:
        stdout.write(f"  appeals: NPA {DEMO_NPA} on {account.number} with appeal #{appeal.pk} ({appeal.status})")
