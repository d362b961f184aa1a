"""The run_billing command, the demo seed, the readiness "overdue" item, the admin pages."""

from __future__ import annotations

import io
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from accounts.readiness import readiness_for
from billing import demo, services
from billing.ledger import services as ledger
from billing.ledger.models import LedgerEntry
from billing.models import BillingRun, Payment, Statement
from billing.overdue import overdue_amounts
from carm_portal import calendar
from carm_portal.models import InterestRate
from tests import factories
from tests.billing.conftest import PREVIOUS, ensure_interest_rates, generate_accounts

pytestmark = pytest.mark.django_db


@pytest.mark.usefixtures("on_billing_today")
def test_run_billing_command_runs_in_process_with_a_progress_bar(billing_settings):
    generate_accounts(10, seed=31)
    out = io.StringIO()
    call_command("run_billing", "--period", f"{PREVIOUS:%Y-%m}", stdout=out)
    text = out.getvalue()
    assert "[##############################] 100.0%" in text and "Complete" in text
    run = BillingRun.objects.get()
    assert run.status == BillingRun.Status.COMPLETE and Statement.objects.count() == run.done > 0


def test_run_billing_refuses_a_period_before_its_statement_day():
    from django.core.management.base import CommandError

    future = calendar.next_period(calendar.billing_period_for(timezone.localdate()))
    with pytest.raises(CommandError, match="issued on"):
        call_command("run_billing", "--period", f"{future:%Y-%m}", stdout=io.StringIO())


def test_seeded_interest_rates_exist():
    # Seeded by migration 0004 (a transactional test's flush may have removed them: seed again).
    ensure_interest_rates()
    # The 2025 transition waiver is a 0% row; accrual resumes from 2026-01-31 (Customs Notice 25-02).
    assert InterestRate.objects.get(effective_from=date(2025, 7, 1)).annual_rate == Decimal("0")
    assert InterestRate.objects.get(effective_from=date(2026, 1, 1)).annual_rate == Decimal("0")
    assert InterestRate.objects.get(effective_from=date(2026, 1, 31)).annual_rate == Decimal("0.09")


@pytest.mark.usefixtures("on_billing_today")  # 4 random CADs a month: on some days none lands in the oldest period
def test_demo_seed_closes_12_periods_pays_them_and_is_idempotent(importer):
    ensure_interest_rates()
    account = importer.program_accounts.order_by("number").first()
    generator_today = timezone.localdate()
    from declarations.load import CadHistoryGenerator

    CadHistoryGenerator(seed=5, today=generator_today).generate([account], months=13, cads_per_month=4)
    ctx = type("Ctx", (), {"importer": importer, "importer_user": importer.bam})()
    demo.seed(ctx, io.StringIO())
    statements = list(Statement.objects.filter(program_account=account).order_by("period_end"))
    assert len(statements) == 12
    for previous, current in zip(statements, statements[1:], strict=False):
        assert current.opening_balance == previous.closing_balance and current.reconciles
    assert Payment.objects.filter(program_account=account).count() >= 10
    assert LedgerEntry.objects.filter(program_account=account, kind=LedgerEntry.Kind.INTEREST).count() == 1
    counts = (Statement.objects.count(), Payment.objects.count(), LedgerEntry.objects.count(), BillingRun.objects.count())
    demo.seed(ctx, io.StringIO())
    assert (Statement.objects.count(), Payment.objects.count(), LedgerEntry.objects.count(),
            BillingRun.objects.count()) == counts
    # Paid on time (except the latest, not due yet): nothing is overdue today.
    assert overdue_amounts([account.pk], timezone.localdate()) == {}


def test_readiness_overdue_item(importer):
    account = importer.program_accounts.order_by("number").first()
    today = timezone.localdate()
    period = date(2025, 11, 17)
    ledger.post_entry(program_account=account, kind=LedgerEntry.Kind.CAD_CHARGE, amount=Decimal("500.00"),
                      effective_date=date(2025, 11, 3), billing_period=period, idempotency_key="ov-1")
    services.run_in_process(period)
    item = next(i for i in readiness_for([account], today=today)[0].items if i.key == "overdue")
    assert not item.ok and "$500.00" in str(item.detail) and "2025-12-01" in str(item.detail)
    from billing.payments import payment_record

    payment_record(importer.bam, account, Payment.Method.PAD, "LATE-1", Decimal("500.00"), today - timedelta(days=1))
    item = next(i for i in readiness_for([account], today=today)[0].items if i.key == "overdue")
    assert item.ok
    # Before the due date nothing is overdue.
    assert overdue_amounts([account.pk], date(2025, 12, 1)) == {}


def test_admin_pages_load_and_statements_are_read_only(client, importer):
    admin = factories.make_user(is_staff=True, is_superuser=True)
    client.force_login(admin)
    account = importer.program_accounts.order_by("number").first()
    ledger.post_entry(program_account=account, kind=LedgerEntry.Kind.CAD_CHARGE, amount=Decimal("10.00"),
                      effective_date=date(2025, 11, 3), billing_period=date(2025, 11, 17), idempotency_key="adm")
    run = services.run_in_process(date(2025, 11, 17))
    statement = Statement.objects.get()
    for name in ("billing_billingrun", "billing_statement", "billing_payment", "carm_portal_interestrate",
                 "carm_portal_duedateoverride", "billing_dailynotice", "ledger_ledgerentry"):
        assert client.get(reverse(f"admin:{name}_changelist")).status_code == 200, name
    assert client.get(reverse("admin:billing_billingrun_change", args=[run.pk])).status_code == 200
    assert client.get(reverse("admin:billing_statement_delete", args=[statement.pk])).status_code == 403
    response = client.post(reverse("admin:billing_billingrun_changelist"),
                           {"action": "retry_failed_chunks", "_selected_action": [run.pk]})
    assert response.status_code == 302
