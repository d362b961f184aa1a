from datetime import date
from decimal import Decimal

import pytest

from billing.ledger.models import LedgerEntry
from billing.ledger.services import post_entry
from billing.rpp import services

WORKED_EXAMPLE = [
    "18200", "22450", "31900", "27300", "19800", "24100", "45750", "38200", "29900", "33400", "41050", "36600",
]
AS_OF = date(2026, 11, 26)


def post_months(program_account, totals, *, as_of=AS_OF, tag="m"):
    """One month's duties and taxes per billing period of the window, as real ledger entries:
    a CAD charge (duty, SIMA, excise, GST and a non-D&T "other" part) plus a correction, with a
    payment and interest that the requirement must ignore."""
    periods = services.window(as_of)
    for i, (period, total) in enumerate(zip(periods, totals, strict=True)):
        total = Decimal(total)
        day = period.replace(day=5)
        post_entry(
            program_account=program_account, kind=LedgerEntry.Kind.CAD_CHARGE, effective_date=day,
            billing_period=period, idempotency_key=f"{tag}-{program_account.pk}-{i}-charge",
            breakdown={"duty": total - Decimal("1600"), "sima": Decimal("300"), "excise_duty": Decimal("100"),
                       "excise_tax": Decimal("50"), "gst": Decimal("1150"), "other": Decimal("75")},
        )
        post_entry(
            program_account=program_account, kind=LedgerEntry.Kind.CAD_CORRECTION, effective_date=day,
            billing_period=period, idempotency_key=f"{tag}-{program_account.pk}-{i}-correction",
            breakdown={"duty": Decimal("-100"), "gst": Decimal("100")},
        )
        post_entry(
            program_account=program_account, kind=LedgerEntry.Kind.PAYMENT, effective_date=day,
            billing_period=period, idempotency_key=f"{tag}-{program_account.pk}-{i}-payment", amount=-total,
        )
        post_entry(
            program_account=program_account, kind=LedgerEntry.Kind.INTEREST, effective_date=day,
            billing_period=period, idempotency_key=f"{tag}-{program_account.pk}-{i}-interest",
            amount=Decimal("99999.00"),
        )
    return periods


@pytest.fixture
def rm(importer):
    return importer.program_accounts.order_by("number").first()


@pytest.fixture
def rm2(importer):
    return importer.program_accounts.order_by("number").last()


def binding_from_estimate(program_account, estimate, *, as_of=None):
    """The binding requirement set at enrolment from a new importer's estimate (the estimate form
    itself is only a what-if)."""
    from billing.rpp.models import SecurityRequirement

    enrolment = services.enrolment_for(program_account)
    enrolment.monthly_estimate = Decimal(estimate)
    enrolment.save(update_fields=["monthly_estimate"])
    (req,) = services.requirements_compute([program_account], trigger=SecurityRequirement.Trigger.ENROLMENT,
                                           as_of=as_of)
    services.sync_with_security([program_account], today=as_of)
    return req
