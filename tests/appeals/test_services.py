"""Compliance actions, filing rules, the workflow and the money a decision moves."""

from datetime import date
from decimal import Decimal

import pytest
from django.apps import apps
from django.db import IntegrityError, transaction
from django.http import Http404

from accounts.models import AuditEvent
from appeals import services, storage
from appeals.models import Appeal, AppealTransition, ExtensionApplication
from appeals.tasks import render_decision_letter
from billing.ledger import services as ledger
from billing.ledger.models import LedgerEntry
from carm_portal.exceptions import ApplicationError
from carm_portal.models import InterestRate
from tests import factories
from tests.appeals.conftest import make_cad, make_penalty, make_statement, walk_to_assigned

D = Decimal


def _pay_everything(account, on):
    owing = ledger.balance(account)
    if owing > 0:
        ledger.post_entry(program_account=account, kind=LedgerEntry.Kind.PAYMENT, effective_date=on, amount=-owing,
                          idempotency_key=f"test:pay:{account.pk}:{on}")


# --- Compliance actions -------------------------------------------------------------------------

def test_a_penalty_posts_a_debit(cbsa, account):
    penalty = make_penalty(cbsa, account, served_on=date(2025, 11, 20), amount="750.00")
    entry = penalty.ledger_entry
    assert (entry.kind, entry.amount, entry.effective_date, entry.billing_period) == (
        "penalty", D("750.00"), date(2025, 11, 20), date(2025, 12, 17))
    assert entry.reference == penalty.npa_number
    assert ledger.balance(account) == D("750.00")
    assert AuditEvent.objects.filter(action="appeals.penalty.served").count() == 1


def test_only_cbsa_serves_penalties(importer, account):
    with pytest.raises(Http404):
        make_penalty(importer.bam, account)


def test_npa_numbers_are_unique(cbsa, account):
    make_penalty(cbsa, account, npa="NPA-1")
    with pytest.raises(ApplicationError):
        make_penalty(cbsa, account, npa="NPA-1")


def test_a_reassessment_posts_the_difference_either_way(cbsa, account):
    cad = make_cad(account, dt_total=D("1000.00"))
    up = services.statement_create(actor=cbsa, cad=cad, number="SOA-UP", decision_date=date(2025, 3, 14),
                                   reason="r", new_amount=D("1400.00"), today=date(2025, 3, 14))
    assert (up.previous_amount, up.new_amount, up.change) == (D("1000.00"), D("1400.00"), D("400.00"))
    assert (up.ledger_entry.kind, up.ledger_entry.amount, up.ledger_entry.billing_period) == (
        "cad_adjustment", D("400.00"), date(2025, 3, 17))
    down = services.statement_create(actor=cbsa, cad=cad, number="SOA-DOWN", decision_date=date(2025, 4, 1),
                                     reason="r", change=D("-250.00"), today=date(2025, 4, 1))
    assert (down.previous_amount, down.new_amount, down.ledger_entry.amount) == (
        D("1400.00"), D("1150.00"), D("-250.00"))
    assert ledger.balance(account) == D("150.00")


# --- Filing rules ---------------------------------------------------------------------------------

def test_s60_is_refused_until_paid_or_secured(cbsa, account, importer):
    statement = make_statement(cbsa, account, decision_date=date(2025, 3, 14), change="400.00")
    appeal = services.appeal_create(actor=importer.bam, statements=[statement], issue="classification",
                                    grounds="The goods are 6109.10.", today=date(2025, 4, 1))
    with pytest.raises(ApplicationError) as exc:
        services.appeal_submit(actor=importer.bam, appeal=appeal, today=date(2025, 4, 1))
    assert "paid or secured" in exc.value.message and "$400.00" in exc.value.message
    appeal.refresh_from_db()
    assert appeal.status == "draft"

    services.statement_record_secured(actor=cbsa, statement=statement)
    services.appeal_submit(actor=importer.bam, appeal=appeal, today=date(2025, 4, 1))
    appeal.refresh_from_db()
    assert appeal.status == "submitted"


def test_s60_filing_allowed_once_the_account_is_paid(cbsa, account, importer):
    statement = make_statement(cbsa, account, decision_date=date(2025, 3, 14), change="400.00")
    appeal = services.appeal_create(actor=importer.bam, statements=[statement], issue="classification",
                                    grounds="g", today=date(2025, 4, 1))
    _pay_everything(account, date(2025, 3, 31))
    services.appeal_submit(actor=importer.bam, appeal=appeal, today=date(2025, 4, 1))
    assert Appeal.objects.get(pk=appeal.pk).status == "submitted"


def test_s60_groups_statements_of_one_account_only(cbsa, importer):
    first, second = importer.program_accounts.order_by("number")
    a = make_statement(cbsa, first)
    b = make_statement(cbsa, second)
    with pytest.raises(ApplicationError, match="same RM account"):
        services.appeal_create(actor=importer.bam, statements=[a, b], issue="origin", today=date(2025, 4, 1))
    services.appeal_create(actor=importer.bam, statements=[a, make_statement(cbsa, first)], issue="origin",
                           today=date(2025, 4, 1))
    with pytest.raises(ApplicationError, match="already in another appeal"):
        services.appeal_create(actor=importer.bam, statements=[a], issue="origin", today=date(2025, 4, 1))


def test_one_appeal_per_npa(cbsa, account, importer):
    penalty = make_penalty(cbsa, account)
    first = services.appeal_create(actor=importer.bam, penalty=penalty, today=date(2025, 12, 1))
    with pytest.raises(ApplicationError, match="one appeal per notice"):
        services.appeal_create(actor=importer.bam, penalty=penalty, today=date(2025, 12, 1))
    # The database refuses a second one too, whatever code path tries.
    with pytest.raises(IntegrityError), transaction.atomic():
        Appeal.objects.create(program_account=account, kind="s129_1", issue="penalty", penalty=penalty,
                              decision_date=penalty.served_on, amount_in_dispute=penalty.amount,
                              filed_by=importer.bam)
    assert Appeal.objects.filter(penalty=penalty).get() == first


def test_late_filing_is_refused_unless_an_extension_was_granted(cbsa, account, importer):
    penalty = make_penalty(cbsa, account, served_on=date(2025, 11, 20))
    with pytest.raises(ApplicationError) as exc:
        services.appeal_create(actor=importer.bam, penalty=penalty, today=date(2026, 2, 19))
    assert "ended on 2026-02-18" in exc.value.message and "extension" in exc.value.message
    # On the last day it is still in time.
    assert services.appeal_create(actor=importer.bam, penalty=penalty, grounds="g", today=date(2026, 2, 18))


def test_filing_deadline_checked_again_at_submission(cbsa, account, importer):
    penalty = make_penalty(cbsa, account, served_on=date(2025, 11, 20))
    appeal = services.appeal_create(actor=importer.bam, penalty=penalty, grounds="g", today=date(2026, 2, 1))
    with pytest.raises(ApplicationError, match="2026-02-18"):
        services.appeal_submit(actor=importer.bam, appeal=appeal, today=date(2026, 2, 19))


def test_extension_workflow(cbsa, account, importer):
    penalty = make_penalty(cbsa, account, served_on=date(2025, 11, 20))
    with pytest.raises(ApplicationError, match="No extension is needed"):
        services.extension_request(actor=importer.bam, penalty=penalty, reasons="r", today=date(2026, 2, 18))
    with pytest.raises(ApplicationError, match="2027-02-18"):
        services.extension_request(actor=importer.bam, penalty=penalty, reasons="r", today=date(2027, 2, 19))
    application = services.extension_request(actor=importer.bam, penalty=penalty, reasons="Hospitalised.",
                                             today=date(2026, 3, 1))
    assert application.status == "requested"
    with pytest.raises(Http404):
        services.extension_decide(actor=importer.bam, application=application, grant=True)
    with pytest.raises(ApplicationError, match="reasons for refusing"):
        services.extension_decide(actor=cbsa, application=application, grant=False)
    services.extension_decide(actor=cbsa, application=application, grant=True, note="Just and equitable.")
    assert ExtensionApplication.objects.get(pk=application.pk).status == "granted"
    appeal = services.appeal_create(actor=importer.bam, penalty=penalty, grounds="g", today=date(2026, 3, 5))
    assert appeal.extension_id == application.pk
    services.appeal_submit(actor=importer.bam, appeal=appeal, today=date(2026, 3, 5))
    assert Appeal.objects.get(pk=appeal.pk).status == "submitted"


def test_grounds_are_required_to_file(cbsa, account, importer):
    appeal = services.appeal_create(actor=importer.bam, penalty=make_penalty(cbsa, account), today=date(2025, 12, 1))
    with pytest.raises(ApplicationError, match="grounds"):
        services.appeal_submit(actor=importer.bam, appeal=appeal, today=date(2025, 12, 1))


# --- Workflow ---------------------------------------------------------------------------------------

def test_transitions_refuse_illegal_moves(cbsa, account, importer):
    appeal = services.appeal_create(actor=importer.bam, penalty=make_penalty(cbsa, account), grounds="g",
                                    today=date(2025, 12, 1))
    for call in (
        lambda: services.appeal_acknowledge(actor=cbsa, appeal=appeal),
        lambda: services.appeal_assign(actor=cbsa, appeal=appeal, officer=cbsa),
        lambda: services.appeal_decide(actor=cbsa, appeal=appeal, outcome="denied", reasons="r"),
        lambda: services.appeal_close(actor=cbsa, appeal=appeal),
        lambda: services.appeal_request_info(actor=cbsa, appeal=appeal, note="n"),
    ):
        with pytest.raises(ApplicationError):
            call()
    services.appeal_submit(actor=importer.bam, appeal=appeal, today=date(2025, 12, 1))
    with pytest.raises(ApplicationError):
        services.appeal_submit(actor=importer.bam, appeal=appeal, today=date(2025, 12, 1))
    with pytest.raises(ApplicationError):
        services.appeal_decide(actor=cbsa, appeal=appeal, outcome="denied", reasons="r")
    # The filer cannot do CBSA's steps (404), and a non-officer cannot be assigned.
    with pytest.raises(Http404):
        services.appeal_acknowledge(actor=importer.bam, appeal=appeal)
    services.appeal_acknowledge(actor=cbsa, appeal=appeal)
    with pytest.raises(ApplicationError, match="CBSA officer"):
        services.appeal_assign(actor=cbsa, appeal=appeal, officer=importer.bam)
    services.appeal_withdraw(actor=importer.bam, appeal=appeal, note="Settled.")
    with pytest.raises(ApplicationError):
        services.appeal_withdraw(actor=importer.bam, appeal=appeal)
    assert Appeal.objects.get(pk=appeal.pk).status == "withdrawn"


def test_every_transition_is_recorded_and_audited(cbsa, account, importer):
    appeal = services.appeal_create(actor=importer.bam, penalty=make_penalty(cbsa, account), grounds="g",
                                    today=date(2025, 12, 1))
    services.appeal_submit(actor=importer.bam, appeal=appeal, today=date(2025, 12, 1))
    services.appeal_acknowledge(actor=cbsa, appeal=appeal)
    services.appeal_reject_incomplete(actor=cbsa, appeal=appeal, note="The invoice is missing.")
    # A request rejected as incomplete can be resubmitted, even after the 90 days.
    services.appeal_submit(actor=importer.bam, appeal=appeal, today=date(2026, 3, 1))
    services.appeal_acknowledge(actor=cbsa, appeal=appeal)
    services.appeal_assign(actor=cbsa, appeal=appeal, officer=cbsa)
    services.appeal_request_info(actor=cbsa, appeal=appeal, note="Send the invoice.", today=date(2026, 3, 2))
    assert Appeal.objects.get(pk=appeal.pk).info_due_date == date(2026, 4, 1)
    services.appeal_decide(actor=cbsa, appeal=appeal, outcome="denied", reasons="No error.", today=date(2026, 4, 10))
    services.appeal_close(actor=cbsa, appeal=appeal)
    steps = list(AppealTransition.objects.filter(appeal=appeal).values_list("from_status", "to_status", "actor"))
    assert steps == [
        ("", "draft", importer.bam.pk), ("draft", "submitted", importer.bam.pk),
        ("submitted", "acknowledged", cbsa.pk), ("acknowledged", "rejected_incomplete", cbsa.pk),
        ("rejected_incomplete", "submitted", importer.bam.pk), ("submitted", "acknowledged", cbsa.pk),
        ("acknowledged", "assigned", cbsa.pk), ("assigned", "info_requested", cbsa.pk),
        ("info_requested", "decision_rendered", cbsa.pk), ("decision_rendered", "closed", cbsa.pk),
    ]
    assert AuditEvent.objects.filter(action__startswith="appeals.appeal.", target_id=str(appeal.pk)).count() == 10


# --- Decisions and the ledger -------------------------------------------------------------------------

def _decidable_penalty_appeal(cbsa, account, importer, *, served_on=date(2025, 11, 20), amount="750.00"):
    penalty = make_penalty(cbsa, account, served_on=served_on, amount=amount)
    appeal = services.appeal_create(actor=importer.bam, penalty=penalty, grounds="g", today=date(2025, 12, 1))
    services.appeal_submit(actor=importer.bam, appeal=appeal, today=date(2025, 12, 1))
    return penalty, walk_to_assigned(cbsa, appeal)


def test_an_allowed_appeal_credits_the_ledger_once_and_offsetting_applies_it(
        cbsa, account, importer, django_capture_on_commit_callbacks):
    penalty, appeal = _decidable_penalty_appeal(cbsa, account, importer)
    before = ledger.balance(account)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.appeal_decide(actor=cbsa, appeal=appeal, outcome="partial", reasons="Mitigating factors.",
                               amount=D("500.00"), today=date(2026, 1, 19))
    # Recorded in the outbox with the decision, sent after the commit: offsetting once, then the letter.
    from carm_portal.models import OutboxItem

    assert len(callbacks) == 2
    assert list(OutboxItem.objects.values_list("task", "args")) == [
        ("billing.offsetting.apply_offsets", [account.pk]), ("appeals.pdf.render_decision_letter", [appeal.pk])]
    appeal.refresh_from_db()
    credit = appeal.credit_entry
    assert (credit.kind, credit.amount, credit.effective_date, credit.billing_period) == (
        "appeal_decision", D("-500.00"), date(2026, 1, 19), date(2026, 2, 17))
    assert appeal.interest_entry is None  # APPEAL_CREDIT_EARNS_INTEREST is off by default
    assert ledger.balance(account) == before - D("500.00")

    # Deciding twice never posts twice.
    with pytest.raises(ApplicationError):
        services.appeal_decide(actor=cbsa, appeal=appeal, outcome="partial", reasons="again", amount=D("500.00"),
                               today=date(2026, 1, 19))
    again = ledger.post_entry(program_account=account, kind="appeal_decision", effective_date=date(2026, 1, 19),
                              amount=D("-500.00"), idempotency_key=f"appeals:appeal:{appeal.pk}:credit")
    assert again.pk == credit.pk
    assert LedgerEntry.objects.filter(kind="appeal_decision").count() == 1

    from billing.offsetting.services import apply_offsets

    made = apply_offsets(program_account_id=account.pk, today=date(2026, 1, 19))
    if apps.is_installed("billing.offsetting") and any(m.__name__ == "Allocation" for m in apps.get_app_config(
            "offsetting").get_models()):
        Allocation = apps.get_model("offsetting", "Allocation")
        assert made == 1
        allocation = Allocation.objects.get(credit=credit)
        assert (allocation.debt_id, allocation.amount) == (penalty.ledger_entry_id, D("500.00"))
    assert ledger.balance(account) == D("250.00")


def test_an_allowed_appeal_carries_interest_when_switched_on(cbsa, account, importer, settings):
    settings.CARM = {**settings.CARM, "APPEAL_CREDIT_EARNS_INTEREST": True}
    InterestRate.objects.all().delete()
    InterestRate.objects.create(effective_from=date(2025, 10, 1), annual_rate=D("0.05"))
    _penalty, appeal = _decidable_penalty_appeal(cbsa, account, importer, amount="500.00")
    services.appeal_decide(actor=cbsa, appeal=appeal, outcome="allowed", reasons="Cancelled.",
                           today=date(2026, 1, 19))
    appeal.refresh_from_db()
    # From the day after the NPA (2025-11-21) to the decision (2026-01-19), both included: 60 days.
    # 500.00 × 5 % × 60 / 365 = 4.1096 → 4.11.
    assert appeal.decision_amount == D("500.00")
    assert (appeal.interest_entry.kind, appeal.interest_entry.amount) == ("interest", D("-4.11"))
    assert ledger.balance(account) == D("-4.11")


def test_a_denied_appeal_changes_nothing_in_the_ledger(cbsa, account, importer):
    _penalty, appeal = _decidable_penalty_appeal(cbsa, account, importer)
    entries = list(LedgerEntry.objects.order_by("pk").values_list("pk", "amount"))
    services.appeal_decide(actor=cbsa, appeal=appeal, outcome="denied", reasons="The contravention stands.",
                           today=date(2026, 1, 19))
    assert list(LedgerEntry.objects.order_by("pk").values_list("pk", "amount")) == entries
    assert Appeal.objects.get(pk=appeal.pk).credit_entry is None


def test_decision_amount_rules(cbsa, account, importer):
    _penalty, appeal = _decidable_penalty_appeal(cbsa, account, importer, amount="750.00")
    for outcome, amount, message in [
        ("partial", None, "amount allowed"), ("partial", D("750.00"), "Allowed in part"),
        ("allowed", D("800.00"), "cannot exceed"), ("denied", D("10.00"), "no amount"),
    ]:
        with pytest.raises(ApplicationError, match=message):
            services.appeal_decide(actor=cbsa, appeal=appeal, outcome=outcome, reasons="r", amount=amount)
    assert LedgerEntry.objects.filter(kind="appeal_decision").count() == 0


def test_the_decision_letter_is_rendered_and_stored_privately(cbsa, account, importer):
    _penalty, appeal = _decidable_penalty_appeal(cbsa, account, importer)
    services.appeal_decide(actor=cbsa, appeal=appeal, outcome="allowed", reasons="Cancelled.",
                           today=date(2026, 1, 19))
    stored = render_decision_letter(appeal.pk)
    appeal.refresh_from_db()
    assert appeal.letter_file == stored
    path = storage.path_of(stored)
    assert path.parent == storage.root() and path.read_bytes().startswith(b"%PDF-")
    assert render_decision_letter(appeal.pk) == stored  # a rerun keeps the letter


def test_filing_needs_the_file_appeals_right(cbsa, account, importer):
    from accounts.roles import Role

    reader = factories.add_member(importer, role=Role.READER)
    penalty = make_penalty(cbsa, account)
    with pytest.raises(Http404):
        services.appeal_create(actor=reader, penalty=penalty, today=date(2025, 12, 1))
    editor = factories.add_member(importer, role=Role.EDITOR)
    assert services.appeal_create(actor=editor, penalty=penalty, today=date(2025, 12, 1))


def test_an_allowed_appeals_credit_is_on_the_next_statement_and_clears_the_oldest_debt_first(
        cbsa, account, importer):
    from billing import services as billing_services
    from billing.models import Statement
    from billing.offsetting.models import Allocation
    from billing.offsetting.services import apply_offsets

    old_charge = ledger.post_entry(
        program_account=account, kind="cad_charge", effective_date=date(2025, 10, 10),
        billing_period=date(2025, 10, 17), breakdown={"duty": D("300.00")}, idempotency_key="old-cad",
    )
    penalty, appeal = _decidable_penalty_appeal(cbsa, account, importer)
    services.appeal_decide(actor=cbsa, appeal=appeal, outcome="partial", reasons="Mitigating factors.",
                           amount=D("500.00"), today=date(2026, 1, 19))
    appeal.refresh_from_db()
    apply_offsets(program_account_id=account.pk, today=date(2026, 1, 19))
    allocations = list(Allocation.objects.filter(credit=appeal.credit_entry).order_by("id")
                       .values_list("debt_id", "amount"))
    assert allocations == [(old_charge.pk, D("300.00")), (penalty.ledger_entry_id, D("200.00"))]

    billing_services.run_in_process(date(2026, 2, 17))
    statement = Statement.objects.get(program_account=account, period_end=date(2026, 2, 17))
    assert appeal.credit_entry in list(statement.lines())
    assert statement.credits == D("500.00")
    assert statement.closing_balance == D("550.00")  # 300 + 750 − 500: offsetting moves no money
    assert statement.reconciles



def test_an_assignment_is_stored_as_the_officer_and_read_in_the_readers_language(cbsa, account, importer, client,
                                                                                  settings):
    """The timeline's "Assigned to …" is not a sentence stored in the assigner's language: the step
    keeps the officer, and the page says it in the reader's (French here); the API gives the email."""
    from django.urls import reverse
    from django.utils import translation

    cbsa.first_name, cbsa.last_name = "Nadia", "Roy"
    cbsa.save()
    appeal = services.appeal_create(actor=importer.bam, penalty=make_penalty(cbsa, account), grounds="g",
                                    today=date(2025, 12, 1))
    services.appeal_submit(actor=importer.bam, appeal=appeal, today=date(2025, 12, 1))
    services.appeal_acknowledge(actor=cbsa, appeal=appeal)
    with translation.override("en"):  # the officer works in English
        services.appeal_assign(actor=cbsa, appeal=appeal, officer=cbsa)
    step = appeal.transitions.get(to_status="assigned")
    assert (step.assigned_to, step.note) == (cbsa, "")
    client.force_login(importer.bam)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "fr"
    page = client.get(reverse("appeals:detail", args=[appeal.pk])).content.decode()
    assert "Attribué à Nadia Roy" in page and "Assigned to" not in page
    api = client.get(f"/api/v1/appeals/{appeal.pk}/").json()
    assert [t["assigned_to"] for t in api["transitions"] if t["to_status"] == "assigned"] == [cbsa.email]
