"""s.60 "paid or secured" (issue 11, item 5): only the duties and interest on the goods under appeal.

Worked cases on the 2025 calendar (carm-rules §4 and §6):
- CAD A released 2025-02-03: period 2025-02-17, due 2025-03-03; charged $1,000.00 and paid.
- SoA +$400.00 on CAD A dated 2025-03-14: period 2025-03-17, due 2025-03-31 (10 weekdays after
  Monday 17 March); s.60 deadline 2025-03-14 + 90 days = **2025-06-12**.
- CAD B released 2025-03-20, $12,400.00: period 2025-04-17, due 2025-05-01: this cycle's charge,
  not yet due on 2025-04-01.
- SoA +$400.00 dated 2025-03-20 (period 2025-04-17): not yet due on 2025-04-01; deadline 2025-06-18.
"""

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine

from accounts.models import ProgramAccount
from appeals import paid_or_secured, services
from billing.ledger import services as ledger
from billing.ledger.models import LedgerEntry
from billing.offsetting.models import Allocation
from billing.rpp import services as rpp_services
from carm_portal.exceptions import ApplicationError
from tests.appeals.conftest import make_cad, make_penalty, make_statement

D = Decimal
TODAY = date(2025, 4, 1)


def _charge(cad, amount, *, release):
    return ledger.post_entry(
        program_account=cad.program_account, kind=LedgerEntry.Kind.CAD_CHARGE, effective_date=release,
        amount=D(amount), idempotency_key=f"test:charge:{cad.pk}", reference=cad.transaction_number,
        posted_on=release,
    )


def _pay(account, amount, on, key):
    return ledger.post_entry(program_account=account, kind=LedgerEntry.Kind.PAYMENT, effective_date=on,
                             amount=-D(amount), idempotency_key=f"test:pay:{key}", posted_on=on)


def _allocate(credit, debt, amount, on):
    return Allocation.objects.create(credit=credit, debt=debt, amount=D(amount), applied_on=on)


def _cad_a_paid_with_soa(cbsa, account, *, decision=date(2025, 3, 14)):
    """CAD A ($1,000, paid and allocated) and a +$400 SoA on it."""
    cad = make_cad(account, release=date(2025, 2, 3))
    charge = _charge(cad, "1000.00", release=date(2025, 2, 3))
    payment = _pay(account, "1000.00", date(2025, 2, 28), "cad-a")
    _allocate(payment, charge, "1000.00", date(2025, 3, 3))
    statement = make_statement(cbsa, account, decision_date=decision, change="400.00", cad=cad)
    return cad, statement


def _this_cycle_charge(account):
    cad_b = make_cad(account, release=date(2025, 3, 20), dt_total=D("12400.00"))
    return _charge(cad_b, "12400.00", release=date(2025, 3, 20))


def _draft(importer, statement):
    return services.appeal_create(actor=importer.bam, statements=[statement], issue="classification",
                                  grounds="Heading 61.09.", today=TODAY)


def _enrol(account):
    ProgramAccount.objects.filter(pk=account.pk).update(rpp_status=ProgramAccount.RppStatus.ENROLLED)
    account.rpp_status = ProgramAccount.RppStatus.ENROLLED


# --- The rule --------------------------------------------------------------------------------------

def test_this_cycles_charges_not_yet_due_do_not_block_filing(cbsa, account, importer):
    """The issue's case: the account owes $12,400 of this cycle (not due), the SoA is paid."""
    _cad, statement = _cad_a_paid_with_soa(cbsa, account)
    _this_cycle_charge(account)
    _pay(account, "400.00", TODAY, "soa")  # not yet allocated by offsetting
    assert ledger.balance(account, as_of=TODAY) == D("12400.00")  # the old rule refused on this
    position = paid_or_secured.position_for(account, [statement], TODAY)
    assert (position.unpaid, position.credit_applied, position.to_pay, position.ok) == (
        D("400.00"), D("400.00"), D("0.00"), True)
    appeal = _draft(importer, statement)
    services.appeal_submit(actor=importer.bam, appeal=appeal, today=TODAY)
    appeal.refresh_from_db()
    assert appeal.status == "submitted"


def test_unpaid_soa_is_refused_with_what_to_pay_and_by_when(cbsa, account, importer):
    cad, statement = _cad_a_paid_with_soa(cbsa, account)
    _this_cycle_charge(account)
    position = paid_or_secured.position_for(account, [statement], TODAY)
    assert (position.to_pay, position.overdue, position.deadline) == (D("400.00"), D("400.00"), date(2025, 6, 12))
    assert position.transactions == [cad.transaction_number]
    appeal = _draft(importer, statement)
    with pytest.raises(ApplicationError) as exc:
        services.appeal_submit(actor=importer.bam, appeal=appeal, today=TODAY)
    message = exc.value.message
    assert "paid or secured" in message and "$400.00" in message and "2025-06-12" in message
    assert cad.transaction_number in message and "12,400" not in message
    assert exc.value.field_errors["statements"] == [message]


def test_a_partly_allocated_payment_leaves_the_rest_to_pay(cbsa, account, importer):
    _cad, statement = _cad_a_paid_with_soa(cbsa, account)
    payment = _pay(account, "250.00", date(2025, 3, 28), "part")
    _allocate(payment, statement.ledger_entry, "250.00", date(2025, 3, 31))
    position = paid_or_secured.position_for(account, [statement], TODAY)
    assert (position.unpaid, position.credit_applied, position.to_pay) == (D("150.00"), D("0.00"), D("150.00"))
    _pay(account, "150.00", TODAY, "rest")
    assert paid_or_secured.position_for(account, [statement], TODAY).ok


def test_unapplied_credit_pays_older_due_debts_first(cbsa, account, importer):
    """An NPA due 2025-03-31 is cleared first by offsetting: the $400 paid does not reach the SoA."""
    _cad, statement = _cad_a_paid_with_soa(cbsa, account)
    make_penalty(cbsa, account, served_on=date(2025, 2, 20), amount="750.00")  # period 03-17, overdue on 04-01
    _pay(account, "400.00", TODAY, "soa")
    position = paid_or_secured.position_for(account, [statement], TODAY)
    assert (position.credit_applied, position.to_pay) == (D("0.00"), D("400.00"))
    _pay(account, "750.00", TODAY, "npa")
    assert paid_or_secured.position_for(account, [statement], TODAY).ok


def test_interest_on_the_goods_counts(cbsa, account, importer):
    cad, statement = _cad_a_paid_with_soa(cbsa, account)
    ledger.post_entry(program_account=account, kind=LedgerEntry.Kind.INTEREST, effective_date=date(2025, 3, 14),
                      amount=D("12.34"), idempotency_key="test:interest", reference=cad.transaction_number,
                      posted_on=date(2025, 3, 14))
    assert paid_or_secured.position_for(account, [statement], TODAY).to_pay == D("412.34")


def test_a_downward_soa_owes_nothing(cbsa, account, importer):
    cad = make_cad(account, release=date(2025, 2, 3))
    statement = make_statement(cbsa, account, decision_date=date(2025, 3, 14), change="-150.00", cad=cad)
    _this_cycle_charge(account)
    assert paid_or_secured.position_for(account, [statement], TODAY).ok


def test_cbsa_recorded_security_covers_the_cad(cbsa, account, importer):
    _cad, statement = _cad_a_paid_with_soa(cbsa, account)
    services.statement_record_secured(actor=cbsa, statement=statement)
    statement.refresh_from_db()
    position = paid_or_secured.position_for(account, [statement], TODAY)
    assert (position.ok, position.secured_by_cbsa) == (True, D("400.00"))


# --- RPP security ----------------------------------------------------------------------------------

def test_rpp_security_covers_amounts_not_yet_due(cbsa, account, importer):
    _cad, statement = _cad_a_paid_with_soa(cbsa, account, decision=date(2025, 3, 20))
    position = paid_or_secured.position_for(account, [statement], TODAY)
    # Not enrolled: even an amount not yet due must be paid (or secured) to file.
    assert (position.to_pay, position.overdue, position.deadline) == (D("400.00"), D("0.00"), date(2025, 6, 18))
    _enrol(account)
    rpp_services.cash_deposit_record(actor=importer.bam, program_account=account, amount=D("5000.00"),
                                     received_date=date(2025, 1, 10))
    position = paid_or_secured.position_for(account, [statement], TODAY)
    assert (position.ok, position.rpp_secured) == (True, D("400.00"))
    appeal = _draft(importer, statement)
    services.appeal_submit(actor=importer.bam, appeal=appeal, today=TODAY)


def test_rpp_security_never_covers_an_overdue_amount_or_a_suspended_account(cbsa, account, importer, settings):
    _cad, overdue = _cad_a_paid_with_soa(cbsa, account)  # due 2025-03-31
    _enrol(account)
    rpp_services.cash_deposit_record(actor=importer.bam, program_account=account, amount=D("5000.00"),
                                     received_date=date(2025, 1, 10))
    assert paid_or_secured.position_for(account, [overdue], TODAY).to_pay == D("400.00")

    _cad2, not_due = _cad_a_paid_with_soa(cbsa, account, decision=date(2025, 3, 20))
    assert paid_or_secured.position_for(account, [not_due], TODAY).ok
    settings.CARM = {**settings.CARM, "APPEAL_RPP_SECURITY_COVERS": False}
    assert paid_or_secured.position_for(account, [not_due], TODAY).to_pay == D("400.00")
    settings.CARM = {**settings.CARM, "APPEAL_RPP_SECURITY_COVERS": True}
    ProgramAccount.objects.filter(pk=account.pk).update(rpp_status=ProgramAccount.RppStatus.SUSPENDED)
    account.rpp_status = ProgramAccount.RppStatus.SUSPENDED
    assert paid_or_secured.position_for(account, [not_due], TODAY).to_pay == D("400.00")


# --- Web and API ---------------------------------------------------------------------------------

@pytest.fixture
def on_april_1():
    with time_machine.travel(datetime(2025, 4, 1, 12, tzinfo=ZoneInfo("America/Toronto")), tick=False):
        yield


def test_the_appeal_page_says_what_to_pay_and_by_when(client, cbsa, account, importer, on_april_1):
    _cad, statement = _cad_a_paid_with_soa(cbsa, account)
    _this_cycle_charge(account)
    appeal = _draft(importer, statement)
    client.force_login(importer.bam)
    page = client.get(f"/appeals/{appeal.pk}/").content.decode()
    assert "To file this request, pay $400.00 by 2025-06-12" in page
    refused = client.post(f"/appeals/{appeal.pk}/submit/", {"grounds": "Heading 61.09."}, follow=True)
    assert "paid or secured" in refused.content.decode()
    _pay(account, "400.00", TODAY, "web")
    page = client.get(f"/appeals/{appeal.pk}/").content.decode()
    assert "are paid or secured: this request can be filed" in page
    client.post(f"/appeals/{appeal.pk}/submit/", {"grounds": "Heading 61.09."})
    appeal.refresh_from_db()
    assert appeal.status == "submitted"


def test_the_api_gives_what_to_pay_and_refuses_until_paid(client, cbsa, account, importer, on_april_1):
    _cad, statement = _cad_a_paid_with_soa(cbsa, account)
    _this_cycle_charge(account)
    appeal = _draft(importer, statement)
    client.force_login(importer.bam)
    body = client.get(f"/api/v1/appeals/{appeal.pk}/").json()["paid_or_secured"]
    assert (body["ok"], body["to_pay"], body["overdue"], body["pay_by"]) == (False, "400.00", "400.00", "2025-06-12")
    refused = client.post(f"/api/v1/appeals/{appeal.pk}/submit/", {}, content_type="application/json")
    assert refused.status_code == 400 and "$400.00" in refused.json()["detail"]
    _pay(account, "400.00", TODAY, "api")
    assert client.get(f"/api/v1/appeals/{appeal.pk}/").json()["paid_or_secured"]["ok"] is True
    filed = client.post(f"/api/v1/appeals/{appeal.pk}/submit/", {}, content_type="application/json")
    assert filed.status_code == 200 and filed.json()["status"] == "submitted"
    assert filed.json()["paid_or_secured"] is None


def test_after_an_extension_the_message_has_no_past_deadline(cbsa, account, importer):
    _cad, statement = _cad_a_paid_with_soa(cbsa, account)  # 90 days ended 2025-06-12
    late = date(2025, 7, 2)
    application = services.extension_request(actor=importer.bam, reasons="Hospitalised.", statement=statement,
                                             today=late)
    services.extension_decide(actor=cbsa, application=application, grant=True)
    appeal = services.appeal_create(actor=importer.bam, statements=[statement], issue="classification",
                                    grounds="g", today=late)
    position = paid_or_secured.for_appeal(appeal, late)
    assert (position.to_pay, position.deadline) == (D("400.00"), None)
    with pytest.raises(ApplicationError) as exc:
        services.appeal_submit(actor=importer.bam, appeal=appeal, today=late)
    assert "$400.00" in exc.value.message and " by " not in exc.value.message
