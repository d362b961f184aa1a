"""Demo data for RPP security. Idempotent.

RM0001 of the demo importer is enrolled, with a requirement computed from the year of ledger
entries the declarations / billing demos created (or, without them, from an estimate) and an
eWSA that covers only part of it: the demo shows a shortfall. RM0002 is not enrolled.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import ROUND_DOWN, Decimal

from django.db import transaction
from django.utils import timezone

from accounts.models import ProgramAccount

from . import services
from .models import Bond, RppEnrolment, RppStatus, SecurityRequirement

DEMO_BOND_NUMBER = "DEMO-EWSA-0001"
DEMO_ESTIMATE = Decimal("60000.00")


def _enrol(pa: ProgramAccount, actor) -> None:
    enrolment = services.enrolment_for(pa)
    if enrolment.status == RppStatus.ENROLLED:
        return
    if enrolment.status in (RppStatus.NOT_ENROLLED, RppStatus.WITHDRAWN):
        services.enrolment_set_status(actor=actor, program_account=pa, status=RppStatus.REQUESTED,
                                      reason="Demo enrolment")
    services.enrolment_set_status(actor=None, program_account=pa, status=RppStatus.ENROLLED, reason="Demo enrolment")


def seed(ctx, stdout=None) -> None:
    today = timezone.localdate()
    accounts = {pa.number[-6:]: pa for pa in ctx.importer.program_accounts.select_related("business")}
    main, second = accounts.get("RM0001"), accounts.get("RM0002")
    if main is None:
        return
    with transaction.atomic():
        _enrol(main, ctx.importer_user)
        has_history = services.monthly_totals([main.pk], services.window(today)).get(main.pk) is not None
        if not has_history:
            enrolment = RppEnrolment.objects.get(program_account=main)
            if enrolment.monthly_estimate is None:
                enrolment.monthly_estimate = DEMO_ESTIMATE
                enrolment.save(update_fields=["monthly_estimate"])
        requirement = SecurityRequirement.objects.filter(program_account=main, is_current=True).first()
        # Computed once; again only when billing history has appeared since (an estimate was used).
        if requirement is None or (has_history and requirement.basis == SecurityRequirement.Basis.ESTIMATE):
            (requirement,) = services.requirements_compute(
                [main], trigger=SecurityRequirement.Trigger.ENROLMENT, actor=None
            )
        services.forecasts_compute([main], as_of=today)  # "if the review were today"
        if not Bond.objects.filter(bond_number=DEMO_BOND_NUMBER).exists():
            # About 60% of what is required, in whole thousands: a shortfall to cover.
            amount = max(Decimal("1000"), (requirement.bond_amount * Decimal("0.6") / 1000).quantize(
                Decimal("1"), rounding=ROUND_DOWN) * 1000)
            services.bond_record(
                actor=ctx.importer_user, business=ctx.importer, surety_name="Northbridge Surety Co.",
                bond_number=DEMO_BOND_NUMBER, amount=amount, effective_date=today - timedelta(days=300),
                expiry_date=today + timedelta(days=45), allocations=[(main, amount)],
            )
        if second is not None:
            services.enrolment_for(second)  # not enrolled: the row shows the "Request enrolment" button
    services.bond_expiry_notices(today=today)
    services.shortfall_notices([main], today=today)
    if stdout is not None:
        stdout.write(f"  RPP: {main.number} enrolled, bond {DEMO_BOND_NUMBER}; requirement {requirement.bond_amount}")
