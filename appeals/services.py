"""Write paths for compliance actions and appeals.

Every service is atomic and keyword-only with ``actor`` first. Filing-side services check the
access gate (``Scope.FILE_APPEALS``; 404 outside); CBSA-side ones need a staff user (404
otherwise). Workflow steps are transition services: they lock the appeal row
(``select_for_update``), check the state it is in, write an ``AppealTransition`` and an audit
event, and run side effects (offsetting, the decision letter) only on commit.

Rules (carm-rules §6):
- s.60: one request groups one or more statements of adjustment of one RM account on one issue.
  It is refused until the duties and interest on the goods under appeal (the grouped SoAs' CADs)
  are *paid or secured*, never because of other amounts on the account: ``appeals.paid_or_secured``
  (paid through offsetting allocations or credit not yet applied; secured by CBSA's record
  ``StatementOfAdjustment.secured`` or, for amounts not yet due, by the RM's posted RPP security).
- s.129.1: one appeal per NPA (a database constraint as well).
- 90 calendar days to file (``appeals.deadlines``); late filing is refused unless a s.60.1
  extension was granted. A request rejected as incomplete may be resubmitted after the
  deadline if it was first submitted in time.
- A decision in the importer's favour posts a credit (kind ``appeal_decision``) and, unless
  ``APPEAL_CREDIT_EARNS_INTEREST`` is off, interest on it computed by ``billing.ledger.interest`` (the
  rate table; from the day after the decision appealed to the day of the decision: an
  ASSUMPTION, the payment dates of the amounts are not tracked). A denial changes nothing in
  the ledger.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import audit
from accounts.access import is_cbsa_officer, program_accounts_for, require_cbsa_officer
from accounts.models import ProgramAccount, User
from accounts.roles import Scope
from billing.ledger import interest as interest_engine
from billing.ledger import services as ledger
from billing.ledger.models import LedgerEntry
from billing.ledger.texts import Text
from carm_portal import calendar, outbox
from carm_portal.conf import carm
from carm_portal.exceptions import ApplicationError
from carm_portal.money import ZERO, format_cad, quantize

from . import deadlines, paid_or_secured, storage
from .models import (
    Appeal,
    AppealDocument,
    AppealTransition,
    ExtensionApplication,
    Penalty,
    StatementOfAdjustment,
)

S = Appeal.Status


# --- Helpers ---------------------------------------------------------------------------------------

def _today(today: date | None) -> date:
    return today or timezone.localdate()


def _gate(actor: User, scope: Scope, program_account_id: int) -> None:
    if not program_accounts_for(actor, scope).filter(pk=program_account_id).exists():
        raise Http404


def _require_cbsa(actor: User) -> None:
    require_cbsa_officer(actor)


def _lock(appeal: Appeal) -> Appeal:
    # of=("self",): PostgreSQL refuses FOR UPDATE on the nullable side of the outer join to the NPA.
    return (Appeal.objects.select_for_update(of=("self",)).select_related("program_account__business", "penalty")
            .get(pk=appeal.pk))


def _required(text: str | None, field: str, message: str) -> str:
    text = (text or "").strip()
    if not text:
        raise ApplicationError(message, field_errors={field: [_("Required.")]})
    return text


def _record(appeal: Appeal, *, from_status: str, actor: User, note: str = "", action: str,
            changes: dict | None = None, assigned_to: User | None = None) -> AppealTransition:
    transition = AppealTransition.objects.create(
        appeal=appeal, from_status=from_status, to_status=appeal.status, actor=actor, note=note,
        assigned_to=assigned_to,
    )
    audit.record(f"appeals.appeal.{action}", actor=actor, target=appeal, acting_for=appeal.program_account.business,
                 changes={"from": from_status, "to": appeal.status, "note": note, **(changes or {})})
    return transition


def _move(appeal: Appeal, *, to: str, allowed_from: Sequence[str], actor: User, note: str = "",
          action: str, changes: dict | None = None, **fields) -> Appeal:
    """Check the state of a locked appeal, move it, save, record the transition."""
    if appeal.status not in allowed_from:
        raise ApplicationError(
            _("This appeal is %(status)s; it cannot be moved to %(to)s.")
            % {"status": appeal.get_status_display().lower(), "to": S(to).label.lower()}
        )
    from_status = appeal.status
    appeal.status = to
    for name, value in fields.items():
        setattr(appeal, name, value)
    appeal.updated_at = timezone.now()
    appeal.save()
    _record(appeal, from_status=from_status, actor=actor, note=note, action=action, changes=changes,
            assigned_to=fields.get("assigned_to") if to == S.ASSIGNED else None)
    return appeal


def _granted_extension(*, penalty: Penalty | None, statements: Sequence[StatementOfAdjustment]):
    qs = ExtensionApplication.objects.filter(status=ExtensionApplication.Status.GRANTED)
    if penalty is not None:
        return qs.filter(penalty=penalty).first()
    return qs.filter(statement__in=[s.pk for s in statements]).first()


def late_message(deadline: date) -> str:
    return _(
        "The 90-day limit to file this appeal ended on %(date)s. It can no longer be filed unless CBSA "
        "grants an extension: apply for one (within one year after the limit)."
    ) % {"date": deadline.isoformat()}


# --- Compliance actions (CBSA side) ------------------------------------------------------------------

@transaction.atomic
def penalty_create(*, actor: User, program_account: ProgramAccount, npa_number: str, contravention_code: str,
                   amount: Decimal, served_on: date, description: str = "", today: date | None = None) -> Penalty:
    """Serve an AMPS notice of penalty assessment: the NPA row and its debit on the ledger."""
    _require_cbsa(actor)
    today = _today(today)
    amount = quantize(amount)
    npa_number = _required(npa_number, "npa_number", _("Give the NPA number.")).upper()
    if amount <= ZERO:
        raise ApplicationError(_("A penalty amount must be positive."), field_errors={"amount": [_("Must be > 0.")]})
    if served_on > today:
        raise ApplicationError(_("The service date cannot be in the future."),
                               field_errors={"served_on": [_("In the future.")]})
    if Penalty.objects.filter(npa_number=npa_number).exists():
        raise ApplicationError(_("NPA %(n)s already exists.") % {"n": npa_number},
                               field_errors={"npa_number": [_("Already used.")]})
    penalty = Penalty.objects.create(
        program_account=program_account, npa_number=npa_number, contravention_code=contravention_code.strip().upper(),
        amount=amount, served_on=served_on, description=description.strip(), created_by=actor,
    )
    penalty.ledger_entry = ledger.post_entry(
        program_account=program_account, kind=LedgerEntry.Kind.PENALTY, effective_date=served_on,
        billing_period=calendar.posting_period(served_on, posted_on=today), amount=amount, source=penalty,
        idempotency_key=f"appeals:npa:{penalty.pk}", reference=npa_number,
        description=Text("amps_penalty", code=penalty.contravention_code, n=npa_number),
        created_by=actor,
    )
    penalty.save(update_fields=["ledger_entry"])
    audit.record("appeals.penalty.served", actor=actor, target=penalty, acting_for=program_account.business,
                 changes={"amount": amount, "served_on": served_on, "contravention": penalty.contravention_code})
    return penalty


def _cad_current_amount(cad) -> Decimal:
    """The CAD's duties and taxes after the statements of adjustment already issued on it."""
    from django.db.models import Sum

    changed = StatementOfAdjustment.objects.filter(cad=cad).aggregate(t=Sum("change"))["t"] or ZERO
    return quantize(cad.dt_total + changed)


@transaction.atomic
def statement_create(*, actor: User, cad, number: str, decision_date: date, reason: str,
                     new_amount: Decimal | None = None, change: Decimal | None = None,
                     today: date | None = None) -> StatementOfAdjustment:
    """Re-assess a CAD (s.59): give the new amount or the change; the difference posts to the ledger."""
    from declarations.models import CAD

    _require_cbsa(actor)
    today = _today(today)
    cad = CAD.objects.select_for_update().select_related("program_account__business").get(pk=cad.pk)
    if cad.status != CAD.Status.ACCEPTED:
        raise ApplicationError(_("Only an accepted CAD can be re-assessed."))
    number = _required(number, "number", _("Give the statement number.")).upper()
    reason = _required(reason, "reason", _("Give the reason for the re-assessment."))
    if decision_date > today:
        raise ApplicationError(_("The decision date cannot be in the future."),
                               field_errors={"decision_date": [_("In the future.")]})
    previous = _cad_current_amount(cad)
    if (new_amount is None) == (change is None):
        raise ApplicationError(_("Give either the new amount or the change, not both."),
                               field_errors={"new_amount": [_("Give one of the two.")]})
    if new_amount is not None:
        new_amount = quantize(new_amount)
        change = quantize(new_amount - previous)
    else:
        change = quantize(change)
        new_amount = quantize(previous + change)
    if new_amount < ZERO:
        raise ApplicationError(_("The re-assessed amount cannot be negative."),
                               field_errors={"new_amount": [_("Below zero.")]})
    if change == ZERO:
        raise ApplicationError(_("The re-assessment changes nothing."), field_errors={"change": [_("Zero.")]})
    if StatementOfAdjustment.objects.filter(number=number).exists():
        raise ApplicationError(_("Statement %(n)s already exists.") % {"n": number},
                               field_errors={"number": [_("Already used.")]})
    statement = StatementOfAdjustment.objects.create(
        program_account=cad.program_account, cad=cad, number=number, decision_date=decision_date,
        previous_amount=previous, new_amount=new_amount, change=change, reason=reason, created_by=actor,
    )
    # Posted like an adjustment: the difference, to the period the decision falls in (or the next open one).
    statement.ledger_entry = ledger.post_entry(
        program_account=cad.program_account, kind=LedgerEntry.Kind.CAD_ADJUSTMENT, effective_date=decision_date,
        billing_period=calendar.posting_period(decision_date, posted_on=today), amount=change, source=statement,
        idempotency_key=f"appeals:soa:{statement.pk}", reference=cad.transaction_number,
        description=Text("statement_of_adjustment", n=number), created_by=actor,
    )
    statement.save(update_fields=["ledger_entry"])
    audit.record("appeals.statement.issued", actor=actor, target=statement, acting_for=cad.program_account.business,
                 changes={"cad": cad.transaction_number, "previous": previous, "new": new_amount, "change": change})
    if change < ZERO:
        _offset_on_commit(cad.program_account_id)
    return statement


@transaction.atomic
def statement_record_secured(*, actor: User, statement: StatementOfAdjustment, secured: bool = True
                             ) -> StatementOfAdjustment:
    """CBSA records that the amounts of a statement are secured (s.60 filing is then allowed)."""
    _require_cbsa(actor)
    statement = StatementOfAdjustment.objects.select_for_update().get(pk=statement.pk)
    statement.secured = secured
    statement.secured_by = actor if secured else None
    statement.save(update_fields=["secured", "secured_by"])
    audit.record("appeals.statement.secured" if secured else "appeals.statement.unsecured", actor=actor,
                 target=statement, acting_for=statement.program_account.business)
    return statement


# --- Filing -------------------------------------------------------------------------------------------

def _check_in_time(appeal: Appeal, today: date) -> None:
    deadline = deadlines.appeal_deadline(appeal.decision_date)
    if today > deadline and appeal.extension_id is None and appeal.submitted_at is None:
        raise ApplicationError(late_message(deadline), field_errors={"decision_date": [late_message(deadline)]})


def _check_paid_or_secured(appeal: Appeal, statements: Sequence[StatementOfAdjustment], today: date) -> None:
    if appeal.kind != Appeal.Kind.REDETERMINATION:
        return
    # Only the duties and interest on the goods under appeal count, never the whole account
    # (``appeals.paid_or_secured``): this cycle's other charges not yet due never block filing.
    position = paid_or_secured.position_for(appeal.program_account, statements, today,
                                            decision_date=appeal.decision_date,
                                            extended=appeal.extension_id is not None)
    if position.ok:
        return
    message = paid_or_secured.refusal_message(position, appeal.program_account)
    raise ApplicationError(message, field_errors={"statements": [message]})


@transaction.atomic
def appeal_create(*, actor: User, penalty: Penalty | None = None,
                  statements: Sequence[StatementOfAdjustment] = (), issue: str = "", grounds: str = "",
                  today: date | None = None) -> Appeal:
    """Start an appeal (a draft): against one NPA, or against one or more SoAs on one issue."""
    today = _today(today)
    if penalty is not None and statements:
        raise ApplicationError(_("An appeal is against one NPA or against statements of adjustment, not both."))
    if penalty is not None:
        _gate(actor, Scope.FILE_APPEALS, penalty.program_account_id)
        penalty = Penalty.objects.select_for_update().select_related("program_account").get(pk=penalty.pk)
        if Appeal.objects.filter(penalty=penalty).exists():
            raise ApplicationError(
                _("An appeal was already filed for NPA %(n)s: one appeal per notice of penalty assessment.")
                % {"n": penalty.npa_number}, field_errors={"penalty": [_("Already appealed.")]},
            )
        appeal = Appeal(
            program_account=penalty.program_account, kind=Appeal.Kind.PENALTY, issue=Appeal.Issue.PENALTY,
            penalty=penalty, decision_date=penalty.served_on, amount_in_dispute=penalty.amount,
        )
        statements = []
    else:
        statements = list(statements)
        if not statements:
            raise ApplicationError(_("Choose at least one statement of adjustment."),
                                   field_errors={"statements": [_("Required.")]})
        accounts = {s.program_account_id for s in statements}
        for account_id in accounts:
            _gate(actor, Scope.FILE_APPEALS, account_id)
        if len(accounts) != 1:
            raise ApplicationError(_("All the statements of one request must be on the same RM account."),
                                   field_errors={"statements": [_("Different RM accounts.")]})
        if issue not in {c for c, _l in Appeal.Issue.choices} or issue == Appeal.Issue.PENALTY:
            raise ApplicationError(_("Choose the issue: origin, tariff classification, value for duty or marking."),
                                   field_errors={"issue": [_("Required.")]})
        busy = (StatementOfAdjustment.objects.filter(pk__in=[s.pk for s in statements])
                .filter(appeals__status__in=[st for st in S.values if st != S.WITHDRAWN]).distinct())
        if busy.exists():
            numbers = ", ".join(busy.values_list("number", flat=True))
            raise ApplicationError(
                _("Statement(s) %(n)s are already in another appeal. All the statements on one issue go in one "
                  "request.") % {"n": numbers}, field_errors={"statements": [_("Already appealed.")]},
            )
        appeal = Appeal(
            program_account=statements[0].program_account, kind=Appeal.Kind.REDETERMINATION, issue=issue,
            decision_date=min(s.decision_date for s in statements),
            amount_in_dispute=quantize(sum((max(s.change, ZERO) for s in statements), ZERO)),
        )
    appeal.grounds = (grounds or "").strip()
    appeal.filed_by = actor
    appeal.extension = _granted_extension(penalty=penalty, statements=statements)
    _check_in_time(appeal, today)
    try:
        with transaction.atomic():
            appeal.save()
    except IntegrityError:
        raise ApplicationError(_("An appeal was already filed for this NPA: one appeal per notice.")) from None
    if statements:
        appeal.statements.set(statements)
    _record(appeal, from_status="", actor=actor, action="created")
    return appeal


@transaction.atomic
def appeal_update(*, actor: User, appeal: Appeal, grounds: str) -> Appeal:
    _gate(actor, Scope.FILE_APPEALS, appeal.program_account_id)
    appeal = _lock(appeal)
    if appeal.status not in (S.DRAFT, S.REJECTED_INCOMPLETE):
        raise ApplicationError(_("Only a draft (or a request rejected as incomplete) can be edited."))
    appeal.grounds = (grounds or "").strip()
    appeal.updated_at = timezone.now()
    appeal.save(update_fields=["grounds", "updated_at"])
    audit.record("appeals.appeal.updated", actor=actor, target=appeal, acting_for=appeal.program_account.business)
    return appeal


@transaction.atomic
def appeal_submit(*, actor: User, appeal: Appeal, grounds: str | None = None, today: date | None = None) -> Appeal:
    """File the appeal with CBSA: in time (or extended), with grounds, and for s.60 paid or secured."""
    today = _today(today)
    _gate(actor, Scope.FILE_APPEALS, appeal.program_account_id)
    appeal = _lock(appeal)
    if appeal.status not in (S.DRAFT, S.REJECTED_INCOMPLETE):
        raise ApplicationError(_("This appeal was already filed."))
    if grounds is not None:
        appeal.grounds = grounds.strip()
    if not appeal.grounds:
        raise ApplicationError(_("Explain the grounds of the appeal before filing it."),
                               field_errors={"grounds": [_("Required.")]})
    if appeal.extension_id is None:
        appeal.extension = _granted_extension(penalty=appeal.penalty, statements=list(appeal.statements.all()))
    _check_in_time(appeal, today)
    _check_paid_or_secured(appeal, list(appeal.statements.select_related("cad")), today)
    return _move(appeal, to=S.SUBMITTED, allowed_from=(S.DRAFT, S.REJECTED_INCOMPLETE), actor=actor,
                 action="submitted", submitted_at=appeal.submitted_at or timezone.now())


@transaction.atomic
def appeal_withdraw(*, actor: User, appeal: Appeal, note: str = "") -> Appeal:
    _gate(actor, Scope.FILE_APPEALS, appeal.program_account_id)
    appeal = _lock(appeal)
    return _move(appeal, to=S.WITHDRAWN, allowed_from=Appeal.OPEN_STATUSES, actor=actor, note=(note or "").strip(),
                 action="withdrawn")


@transaction.atomic
def document_add(*, actor: User, appeal: Appeal, uploaded) -> AppealDocument:
    """Attach a checked PDF/PNG/JPEG. A refused file leaves no row and no file behind."""
    _gate(actor, Scope.FILE_APPEALS, appeal.program_account_id)
    checked = storage.check_upload(uploaded)
    appeal = _lock(appeal)
    if appeal.status not in Appeal.DOCUMENT_STATUSES:
        raise ApplicationError(_("Documents can no longer be added to this appeal."))
    stored_name = storage.write_new(checked.content, checked.extension)
    try:
        with transaction.atomic():
            document = AppealDocument.objects.create(
                appeal=appeal, original_name=checked.name, stored_name=stored_name,
                content_type=checked.content_type, size=len(checked.content), sha256=checked.sha256,
                uploaded_by=actor,
            )
            audit.record("appeals.document.added", actor=actor, target=appeal,
                         acting_for=appeal.program_account.business,
                         changes={"file": checked.name, "size": len(checked.content), "sha256": checked.sha256})
    except BaseException:
        storage.remove(stored_name)
        raise
    # The row and the file are made together: a failure above removes the file. (A caller that
    # wraps this in its own transaction and rolls back later would leave an orphan file, never a row.)
    return document


# --- CBSA review ------------------------------------------------------------------------------------

@transaction.atomic
def appeal_acknowledge(*, actor: User, appeal: Appeal, note: str = "") -> Appeal:
    _require_cbsa(actor)
    return _move(_lock(appeal), to=S.ACKNOWLEDGED, allowed_from=(S.SUBMITTED,), actor=actor, note=note,
                 action="acknowledged")


@transaction.atomic
def appeal_assign(*, actor: User, appeal: Appeal, officer: User, note: str = "") -> Appeal:
    _require_cbsa(actor)
    if not is_cbsa_officer(officer):
        raise ApplicationError(_("Assign the file to a CBSA officer."),
                               field_errors={"officer": [_("Not a CBSA officer.")]})
    return _move(_lock(appeal), to=S.ASSIGNED, allowed_from=(S.ACKNOWLEDGED, S.ASSIGNED, S.INFO_REQUESTED),
                 actor=actor, note=note, action="assigned", changes={"officer": officer.email}, assigned_to=officer)


@transaction.atomic
def appeal_request_info(*, actor: User, appeal: Appeal, note: str, today: date | None = None) -> Appeal:
    """The officer's letter with reasons: the appellant has 30 calendar days for further submissions."""
    _require_cbsa(actor)
    note = _required(note, "note", _("Say what information is needed."))
    today = _today(today)
    return _move(_lock(appeal), to=S.INFO_REQUESTED, allowed_from=(S.ASSIGNED,), actor=actor, note=note,
                 action="info_requested", info_due_date=deadlines.info_due(today))


@transaction.atomic
def appeal_reject_incomplete(*, actor: User, appeal: Appeal, note: str) -> Appeal:
    """Missing the D11-6-7 information: rejected, and the appellant may resubmit."""
    _require_cbsa(actor)
    note = _required(note, "note", _("Say what is missing."))
    return _move(_lock(appeal), to=S.REJECTED_INCOMPLETE, allowed_from=(S.SUBMITTED, S.ACKNOWLEDGED), actor=actor,
                 note=note, action="rejected_incomplete")


def credit_interest(amount: Decimal, *, since: date, until: date) -> Decimal:
    """Interest on an allowed amount, from the day after ``since`` to ``until`` (``billing.ledger.interest``)."""
    if not carm("APPEAL_CREDIT_EARNS_INTEREST"):
        return ZERO
    return interest_engine.interest_between(amount, payable_on=since, paid_on=until).amount


def _offset_on_commit(program_account_id: int) -> None:
    outbox.request_offsets([program_account_id])


@transaction.atomic
def appeal_decide(*, actor: User, appeal: Appeal, outcome: str, reasons: str, amount: Decimal | None = None,
                  today: date | None = None) -> Appeal:
    """Render the decision. In the importer's favour: a credit (and its interest) on the ledger,
    then offsetting; a denial changes nothing in the ledger. The letter PDF is rendered on commit."""
    _require_cbsa(actor)
    today = _today(today)
    reasons = _required(reasons, "reasons", _("Give the reasons for the decision."))
    appeal = _lock(appeal)
    if appeal.status not in (S.ASSIGNED, S.INFO_REQUESTED):
        raise ApplicationError(
            _("This appeal is %(status)s; only an assigned appeal can be decided.")
            % {"status": appeal.get_status_display().lower()}
        )
    if outcome not in Appeal.Outcome.values:
        raise ApplicationError(_("Choose the outcome."), field_errors={"outcome": [_("Required.")]})
    if outcome == Appeal.Outcome.DENIED:
        if amount:
            raise ApplicationError(_("A denied appeal allows no amount."), field_errors={"amount": [_("Leave empty.")]})
        amount = None
    else:
        if amount is None and outcome == Appeal.Outcome.ALLOWED and appeal.amount_in_dispute > ZERO:
            amount = appeal.amount_in_dispute
        if amount is None or quantize(amount) <= ZERO:
            raise ApplicationError(_("Give the amount allowed (the credit to the importer)."),
                                   field_errors={"amount": [_("Must be > 0.")]})
        amount = quantize(amount)
        if appeal.amount_in_dispute > ZERO and amount > appeal.amount_in_dispute:
            raise ApplicationError(
                _("The amount allowed cannot exceed the amount in dispute (%(max)s).")
                % {"max": format_cad(appeal.amount_in_dispute)}, field_errors={"amount": [_("Too high.")]},
            )
        if outcome == Appeal.Outcome.PARTIAL and appeal.amount_in_dispute > ZERO and amount >= appeal.amount_in_dispute:
            raise ApplicationError(_("Allowed in part means less than the whole amount in dispute."),
                                   field_errors={"amount": [_("Use 'allowed' for the whole amount.")]})
    changes = {"outcome": outcome, "amount": amount}
    credit = interest = None
    if amount is not None:
        period = calendar.posting_period(today, posted_on=today)
        reference = appeal.penalty.npa_number if appeal.penalty_id else f"APPEAL-{appeal.pk}"
        credit = ledger.post_entry(
            program_account=appeal.program_account, kind=LedgerEntry.Kind.APPEAL_DECISION, effective_date=today,
            billing_period=period, amount=-amount, source=appeal, idempotency_key=f"appeals:appeal:{appeal.pk}:credit",
            reference=reference, description=Text("appeal_credit", id=appeal.pk), created_by=actor,
        )
        interest_amount = credit_interest(amount, since=appeal.decision_date, until=today)
        if interest_amount > ZERO:
            interest = ledger.post_entry(
                program_account=appeal.program_account, kind=LedgerEntry.Kind.INTEREST, effective_date=today,
                billing_period=period, amount=-interest_amount, source=appeal,
                idempotency_key=f"appeals:appeal:{appeal.pk}:interest", reference=reference,
                description=Text("appeal_credit_interest", id=appeal.pk), created_by=actor,
            )
            changes["interest"] = interest_amount
    appeal = _move(
        appeal, to=S.DECISION_RENDERED, allowed_from=(S.ASSIGNED, S.INFO_REQUESTED), actor=actor,
        note=reasons, action="decided", changes=changes, outcome=outcome, decision_reasons=reasons,
        decision_amount=amount, decided_on=today, decided_by=actor, credit_entry=credit, interest_entry=interest,
    )
    if credit is not None:
        _offset_on_commit(appeal.program_account_id)
    # Recorded with the decision, sent after the commit: a broker that is down delays the letter, never loses it.
    outbox.enqueue("appeals.pdf.render_decision_letter", appeal.pk, key=f"appeals:letter:{appeal.pk}")
    return appeal


@transaction.atomic
def appeal_close(*, actor: User, appeal: Appeal, note: str = "") -> Appeal:
    _require_cbsa(actor)
    return _move(_lock(appeal), to=S.CLOSED, allowed_from=(S.DECISION_RENDERED,), actor=actor, note=note,
                 action="closed")


# --- Extensions (s.60.1 / s.129.1(2)) ------------------------------------------------------------------

@transaction.atomic
def extension_request(*, actor: User, reasons: str, penalty: Penalty | None = None,
                      statement: StatementOfAdjustment | None = None, today: date | None = None
                      ) -> ExtensionApplication:
    today = _today(today)
    if (penalty is None) == (statement is None):
        raise ApplicationError(_("An extension is about one NPA or one statement of adjustment."))
    subject = penalty or statement
    _gate(actor, Scope.FILE_APPEALS, subject.program_account_id)
    reasons = _required(reasons, "reasons", _("Explain why the appeal could not be filed in time."))
    decided = penalty.served_on if penalty else statement.decision_date
    deadline = deadlines.appeal_deadline(decided)
    last = deadlines.extension_last_day(decided)
    if today <= deadline:
        raise ApplicationError(_("No extension is needed: the appeal itself can be filed until %(date)s.")
                               % {"date": deadline.isoformat()})
    if today > last:
        raise ApplicationError(_("The last day to apply for an extension was %(date)s (one year after the 90 days).")
                               % {"date": last.isoformat()})
    existing = ExtensionApplication.objects.filter(
        penalty=penalty, statement=statement,
        status__in=[ExtensionApplication.Status.REQUESTED, ExtensionApplication.Status.GRANTED],
    )
    if existing.exists():
        raise ApplicationError(_("An extension application for this decision is already pending or granted."))
    application = ExtensionApplication.objects.create(
        program_account=subject.program_account, penalty=penalty, statement=statement, reasons=reasons,
        requested_by=actor, requested_on=today,
    )
    audit.record("appeals.extension.requested", actor=actor, target=application,
                 acting_for=subject.program_account.business, changes={"about": str(subject)})
    return application


@transaction.atomic
def extension_decide(*, actor: User, application: ExtensionApplication, grant: bool, note: str = ""
                     ) -> ExtensionApplication:
    _require_cbsa(actor)
    application = ExtensionApplication.objects.select_for_update().select_related("program_account__business").get(
        pk=application.pk)
    if application.status != ExtensionApplication.Status.REQUESTED:
        raise ApplicationError(_("This extension application was already decided."))
    if not grant:
        note = _required(note, "note", _("Give the reasons for refusing."))
    application.status = ExtensionApplication.Status.GRANTED if grant else ExtensionApplication.Status.REFUSED
    application.decided_by = actor
    application.decided_at = timezone.now()
    application.decision_note = (note or "").strip()
    application.save()
    audit.record("appeals.extension." + ("granted" if grant else "refused"), actor=actor, target=application,
                 acting_for=application.program_account.business, changes={"note": application.decision_note})
    return application
