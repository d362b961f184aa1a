"""Payments: gate, ledger posting, duplicate reference, card cap, idempotency."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.http import Http404
from django.utils import timezone

from accounts.models import AuditEvent
from accounts.roles import Role
from billing.ledger import services as ledger
from billing.ledger.models import LedgerEntry
from billing.models import Payment
from billing.payments import payment_record
from carm_portal import calendar
from carm_portal.exceptions import ApplicationError
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def account(importer):
    return importer.program_accounts.order_by("number").first()


def pay(actor, account, reference="PAY-1", amount="100.00", method=Payment.Method.ONLINE_BANKING, **kw):
    return payment_record(actor, account, method, reference, Decimal(amount), kw.pop("received_on",
                          timezone.localdate()), **kw)


def test_a_payment_posts_a_negative_ledger_entry_and_is_audited(importer, account):
    payment = pay(importer.bam, account, amount="1234.56")
    entry = payment.ledger_entry
    assert entry.kind == LedgerEntry.Kind.PAYMENT and entry.amount == Decimal("-1234.56")
    assert entry.billing_period == calendar.posting_period(timezone.localdate(), posted_on=timezone.localdate())
    assert ledger.balance(account) == Decimal("-1234.56")
    assert AuditEvent.objects.filter(action="billing.payment.recorded").count() == 1


def test_a_duplicate_reference_is_refused(importer, account):
    pay(importer.bam, account, reference="REF-9")
    with pytest.raises(ApplicationError) as err:
        pay(importer.bam, account, reference="REF-9", amount="5.00")
    assert "reference" in err.value.field_errors
    assert Payment.objects.count() == 1 and LedgerEntry.objects.count() == 1
    # The same reference on another account of the business is a different payment.
    other = importer.program_accounts.order_by("number").last()
    pay(importer.bam, other, reference="REF-9")


def test_credit_card_payments_are_capped_per_cycle(importer, account):
    today = timezone.localdate()
    pay(importer.bam, account, reference="CC-1", amount="4000.00", method=Payment.Method.CREDIT_CARD)
    with pytest.raises(ApplicationError) as err:
        pay(importer.bam, account, reference="CC-2", amount="1000.00", method=Payment.Method.CREDIT_CARD)
    assert "$4,999.99" in err.value.message and "$999.99" in err.value.message
    pay(importer.bam, account, reference="CC-3", amount="999.99", method=Payment.Method.CREDIT_CARD)
    # Other methods are not capped; another RM has its own cap.
    pay(importer.bam, account, reference="EFT-1", amount="50000.00")
    other = importer.program_accounts.order_by("number").last()
    pay(importer.bam, other, reference="CC-4", amount="4999.99", method=Payment.Method.CREDIT_CARD)
    # The previous cycle's card payments do not count against this cycle.
    previous = calendar.previous_period(calendar.billing_period_for(today))
    assert Payment.objects.filter(received_on__lte=previous).count() == 0


def test_gate_reader_other_importer_and_broker_scopes(importer, other_importer, broker, account):
    reader = factories.add_member(importer, role=Role.READER)
    with pytest.raises(Http404):
        pay(reader, account)
    with pytest.raises(Http404):
        pay(other_importer.bam, account)
    broker_user = broker.bam
    with pytest.raises(Http404):
        pay(broker_user, account)
    delegation = factories.make_delegation(importer, broker, financial=False)
    with pytest.raises(Http404):
        pay(broker_user, account, reference="B-0")
    delegation.scope_financial = True
    delegation.save()
    assert pay(broker_user, account, reference="B-1").recorded_by == broker_user
    staff = factories.make_officer()
    assert pay(staff, account, reference="S-1").amount == Decimal("100.00")


def test_amount_and_date_are_checked(importer, account):
    with pytest.raises(ApplicationError):
        pay(importer.bam, account, amount="0")
    with pytest.raises(ApplicationError):
        pay(importer.bam, account, received_on=timezone.localdate() + timedelta(days=1))


def test_worked_example_interest(db):
    from billing.ledger.interest import interest_between
    from carm_portal.models import InterestRate

    InterestRate.objects.all().delete()
    InterestRate.objects.create(effective_from=date(2025, 10, 1), annual_rate=Decimal("0.09"))
    # carm-rules example 3: 4,200.00 overdue from 2025-12-02, 30 days: 4200 × 0.09 × 30 / 365 = 31.0685 → 31.07.
    assert interest_between(Decimal("4200.00"), payable_on=date(2025, 12, 1), paid_on=date(2025, 12, 31)).amount \
        == Decimal("31.07")
    assert interest_between(Decimal("-5"), payable_on=date(2025, 12, 1), paid_on=date(2025, 12, 31)).amount \
        == Decimal("0.00")


def test_a_late_payment_earns_interest_on_the_next_statement(importer, account, settings):
    """Worked example 3 shape: 19,200 due 2025-12-01, 15,000 paid on time → 4,200 overdue from 12-02."""
    from billing import services
    from billing.models import Statement
    from carm_portal.models import InterestRate

    InterestRate.objects.all().delete()  # no 2025 waiver here: 9% throughout
    InterestRate.objects.create(effective_from=date(2025, 10, 1), annual_rate=Decimal("0.09"))
    ledger.post_entry(program_account=account, kind=LedgerEntry.Kind.CAD_CHARGE, amount=Decimal("19200.00"),
                      effective_date=date(2025, 11, 3), billing_period=date(2025, 11, 17), idempotency_key="c1")
    services.run_in_process(date(2025, 11, 17))
    payment_record(importer.bam, account, Payment.Method.PAD, "ON-TIME", Decimal("15000.00"), date(2025, 12, 1),
                   posted_on=date(2025, 12, 1))
    payment_record(importer.bam, account, Payment.Method.PAD, "LATE", Decimal("4200.00"), date(2025, 12, 10),
                   posted_on=date(2025, 12, 10))
    services.run_in_process(date(2025, 12, 17))
    s = Statement.objects.get(program_account=account, period_end=date(2025, 12, 17))
    # 4,200 overdue from 2025-12-02 until it was paid on 2025-12-10 (s.33.4: that day included): 9 days
    # at 9%: 4200 × 0.09 × 9 / 365 = 9.3205 → 9.32 (not to the period end).
    assert s.interest == Decimal("9.32")
    assert s.opening_balance == Decimal("19200.00") and s.payments == Decimal("19200.00")
    # Not paid in full by the due date: the late-payment penalty (carm-rules §4, $200) once.
    assert s.penalties == Decimal("200.00")
    assert s.closing_balance == Decimal("209.32") and s.reconciles
