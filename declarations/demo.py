"""Demo data for CADs: the tariff and exchange-rate tables, a year of history for the demo
importer's RM0001 filed by the demo broker (with its ledger entries), and two drafts due soon.

Idempotent: the history is written once (a rerun finds it and adds nothing); the tables are
upserted by ``seed_tariffs``; the drafts due soon are found by their invoice numbers.
"""

from __future__ import annotations

from datetime import timedelta

from django.core.management import call_command
from django.utils import timezone

from accounts.models import ProgramAccount
from carm_portal import calendar
from carm_portal.exceptions import ApplicationError

from . import services
from .load import CadHistoryGenerator
from .models import CAD

HISTORY_MONTHS = 12
CADS_PER_MONTH = 30
DUE_SOON = [
    ("DEMO-DUE-1", [
        {"description": "Men's cotton T-shirts", "classification": "6109100011", "treatment": "UST",
         "origin_country": "US", "proof_of_origin": True, "quantity": "600", "value_foreign": "4200.00"},
        {"description": "Women's cotton T-shirts", "classification": "6109100021", "treatment": "UST",
         "origin_country": "US", "proof_of_origin": True, "quantity": "400", "value_foreign": "3100.00"},
    ]),
    ("DEMO-DUE-2", [
        {"description": "Cotton sweaters", "classification": "6110200010", "treatment": "MFN",
         "origin_country": "CN", "quantity": "120", "value_foreign": "9600.00"},
    ]),
]


def seed(ctx, stdout) -> None:
    call_command("seed_tariffs", stdout=stdout)
    account = ProgramAccount.objects.get(number=f"{ctx.importer.bn9}RM0001")
    today = timezone.localdate()
    has_history = CAD.objects.filter(program_account=account,
                                     release_date__lt=today - timedelta(days=60)).exists()
    if has_history:
        stdout.write("  CAD history already there.")
    else:
        generator = CadHistoryGenerator(seed=2026, today=today, filed_by=ctx.broker_user, broker=ctx.broker,
                                        stdout=stdout)
        stats = generator.generate([account], months=HISTORY_MONTHS, cads_per_month=CADS_PER_MONTH)
        stdout.write(f"  {stats.cads} CADs, {stats.lines} lines, {stats.entries} ledger entries over "
                     f"{HISTORY_MONTHS} months for {account.number}.")
    _due_soon(ctx, account, today, stdout)


def _due_soon(ctx, account: ProgramAccount, today, stdout) -> None:
    """Two drafts released on the last business days: due within the next 5 business days."""
    release = today
    while not calendar.is_business_day(release):
        release -= timedelta(days=1)
    for offset, (invoice, lines) in enumerate(DUE_SOON):
        if CAD.objects.filter(program_account=account, invoice_number=invoice).exists():
            continue
        released = release - timedelta(days=offset)
        try:
            services.cad_create_draft(
                actor=ctx.broker_user, program_account=account, lines=_existing(lines), release_date=released,
                direct_shipment_date=released - timedelta(days=3), office_code="0497", transport_mode="highway",
                vendor_name="Carolina Apparel LLC" if offset == 0 else "Ningbo Outerwear Co.",
                vendor_country="US" if offset == 0 else "CN", invoice_number=invoice, invoice_currency="USD",
            )
        except ApplicationError as exc:  # a reference table an admin changed: skip the sample, keep going
            stdout.write(f"  Skipped draft {invoice}: {exc.message}")


def _existing(lines: list[dict]) -> list[dict]:
    """The sample lines, with a classification the seeded tariff lacks swapped for one it has."""
    from .models import TariffItem

    known = set(TariffItem.objects.filter(classification__in=[ln["classification"] for ln in lines],
                                          is_active=True).values_list("classification", flat=True))
    fallback = TariffItem.objects.filter(is_active=True, rates__treatment_id="MFN").order_by(
        "classification").values_list("classification", flat=True).first()
    out = []
    for ln in lines:
        if ln["classification"] not in known and fallback:
            ln = {**ln, "classification": fallback, "treatment": "MFN"}
        out.append(ln)
    return out
