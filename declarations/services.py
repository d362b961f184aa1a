"""Write paths for CADs: draft, submit, accept/reject, correct/adjust, review, withdraw.

Every service is atomic, keyword-only with ``actor`` first, checks access through the gate
(``Scope.SUBMIT_CADS`` to file, ``Scope.ADJUST_CADS`` to change an accepted CAD; CBSA-side
actions need a staff user) and answers 404 outside it, records an audit event, and raises
``ApplicationError`` with ``field_errors`` when a rule is broken, leaving nothing stored.

Money: accepting posts the charge to the ledger; every later version posts only the
difference from the current one, so the CAD's ledger entries always sum to its current
duties and taxes (``cad_ledger_total``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import audit
from accounts.access import broker_firm_id_for, program_account_ids_for, require_cbsa_officer
from accounts.models import Business, ProgramAccount, User
from accounts.roles import Scope
from billing.ledger import interest
from billing.ledger import services as ledger
from billing.ledger.models import LedgerEntry
from billing.ledger.texts import Text
from carm_portal import calendar, idempotency, outbox
from carm_portal.conf import carm
from carm_portal.exceptions import ApplicationError
from carm_portal.money import ZERO

from . import deadlines, payment_timing, transaction_numbers
from .calculation import Totals, cad_totals
from .models import CAD, CADLine, CADVersion, ReasonCode
from .validation import (
    HEADER_FIELDS,
    S32_2_FIELDS,
    CheckedCAD,
    CleanLine,
    Problems,
    ReferenceData,
    check_cad,
    check_program_account,
    clean_header,
)

__all__ = [
    "cad_create_draft",
    "cad_update_draft",
    "cad_submit",
    "cad_file",
    "cad_calculate",
    "cad_accept",
    "cad_reject",
    "cad_amend",
    "cad_adjustment_review",
    "cad_withdraw",
    "cad_ledger_total",
]

MAX_REASON_CODES = 3
_NUMBER_ATTEMPTS = 5


# --- Helpers ---------------------------------------------------------------------------------------

def _today(today: date | None) -> date:
    return today or timezone.localdate()


def _gate(actor: User, scope: Scope, program_account_id: int) -> None:
    # The request's memoised id list: no query when the API's serializer already asked the gate.
    if program_account_id not in program_account_ids_for(actor, scope):
        raise Http404


def _require_cbsa(actor: User) -> None:
    """CBSA-side decisions (accept, reject, review) are for CBSA officers only; others get 404."""
    require_cbsa_officer(actor)


def _lock(cad: CAD) -> CAD:
    return CAD.objects.select_for_update().select_related("program_account__business").get(pk=cad.pk)


def _raise(problems: Problems, message: str, *, fatal_only: bool = False) -> None:
    raise ApplicationError(message, field_errors=problems.field_errors(fatal_only=fatal_only))


def _fingerprint(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def _claim_idempotency_key(actor: User, key: str, operation: str, payload: Any):
    """Claim ``key`` for this request, or find the CAD an earlier request with it produced
    (``carm_portal.idempotency``, the one mechanism; the web form's hidden key comes here).

    The key row is written first, inside the caller's transaction: a concurrent request with
    the same key waits on the unique index, then reads the winner's CAD. If our work fails the
    row rolls back with it, so a retry runs again.
    """
    try:
        row, done = idempotency.claim(user=actor, key=key.strip()[:100], endpoint=f"declarations.{operation}",
                                      request_hash=_fingerprint({"operation": operation, "payload": payload}))
    except idempotency.IdempotencyConflict as exc:
        raise ApplicationError(exc.message, field_errors={"idempotency_key": [exc.message]}) from None
    if done is None:
        return row, None
    return row, CAD.objects.get(pk=(done[1] or {})["cad"])


def _remember(row, cad: CAD) -> None:
    if row is not None and row.response_status is None:
        idempotency.remember(row, 200, {"cad": cad.pk})


def broker_for(actor: User, program_account: ProgramAccount) -> Business | None:
    """The broker firm the actor files for, or None when the actor works for the importer (the
    gate's rows say which: no query for an importer's own user)."""
    firm_id = broker_firm_id_for(actor, program_account.pk)
    return None if firm_id is None else Business.objects.get(pk=firm_id)


def filer_bn9(actor: User, program_account: ProgramAccount, broker: Business | None) -> str:
    return broker.bn9 if broker is not None else program_account.business.bn9


def _assign_transaction_number(cad: CAD, bn9: str) -> str:
    """Give a portal-created CAD a fresh number under the filer's account-security prefix; returns
    the prefix, for ``_save_numbered`` to draw another if that number turns out to be taken."""
    prefix = transaction_numbers.account_security_prefix(bn9)
    cad.transaction_number = transaction_numbers.reserve(prefix)[0]
    return prefix


def _check_number_free(number: str, *, exclude_pk: int | None = None) -> None:
    qs = CAD.objects.filter(transaction_number=number)
    if exclude_pk is not None:
        qs = qs.exclude(pk=exclude_pk)
    if qs.exists():
        raise ApplicationError(
            _("Transaction number %(number)s is already used by another CAD.") % {"number": number},
            field_errors={"transaction_number": [_("Already used by another CAD.")]},
        )


def _save_numbered(cad: CAD, *, assigned_prefix: str | None = None) -> None:
    """Save a CAD whose transaction number may be taken: by a concurrent request meanwhile, or (for
    a number we assigned, ``assigned_prefix``) typed in our range by a filer, which is skipped for
    the next one rather than failing (the unique index tells; no SELECT before)."""
    for _attempt in range(_NUMBER_ATTEMPTS):
        try:
            with transaction.atomic():
                cad.save()
            return
        except IntegrityError:
            if assigned_prefix is None:
                raise ApplicationError(
                    _("Transaction number %(number)s is already used by another CAD.")
                    % {"number": cad.transaction_number},
                    field_errors={"transaction_number": [_("Already used by another CAD.")]},
                ) from None
            cad.transaction_number = transaction_numbers.reserve(assigned_prefix)[0]
    raise ApplicationError(_("Could not allocate a transaction number; please try again."))


def header_of(cad: CAD) -> dict[str, Any]:
    return {key: getattr(cad, key) for key in HEADER_FIELDS}


def raw_line(line: CADLine) -> dict[str, Any]:
    """A stored line as service input (what the filer declared, not what was computed)."""
    return {
        "line_no": line.line_no,
        "description": line.description,
        "description_2": line.description_2,
        "classification": line.classification_id,
        "treatment": line.treatment_id,
        "origin_country": line.origin_country,
        "quantity": line.quantity,
        "unit": line.unit,
        "value_foreign": line.value_foreign,
        "currency": line.currency,
        "exchange_rate": line.declared_exchange_rate,
        "duty_rate": line.declared_duty_rate,
        "sima": line.sima,
        "excise_duty": line.excise_duty,
        "excise_tax": line.excise_tax,
        "gst_status": line.declared_gst_status,
        "proof_of_origin": line.proof_of_origin,
    }


_SNAPSHOT_FIELDS = (
    "line_no", "description", "description_2", "classification", "treatment", "origin_country",
    "proof_of_origin", "quantity", "unit", "value_foreign", "currency", "declared_exchange_rate",
    "declared_duty_rate", "exchange_rate", "duty_rate", "vfd", "duty", "sima", "excise_duty", "excise_tax",
    "declared_gst_status", "gst_status", "gst",
)
_SNAPSHOT_FKS = ("classification", "treatment", "gst_status")
# Fields a snapshot taken before they existed lacks: the value they then had.
_SNAPSHOT_DEFAULTS = {"proof_of_origin": False, "declared_gst_status": ""}
_SNAPSHOT_DECIMALS = {
    "quantity", "value_foreign", "declared_exchange_rate", "declared_duty_rate", "exchange_rate", "duty_rate",
    "vfd", "duty", "sima", "excise_duty", "excise_tax", "gst",
}


def line_snapshot(line: CADLine) -> dict[str, Any]:
    """A line as frozen JSON: Decimals as strings, codes as they were."""
    out: dict[str, Any] = {}
    for key in _SNAPSHOT_FIELDS:
        attr = f"{key}_id" if key in _SNAPSHOT_FKS else key
        value = getattr(line, attr)
        out[key] = str(value) if isinstance(value, Decimal) else value
    return out


def lines_from_snapshot(cad: CAD, snapshot: Sequence[Mapping[str, Any]]) -> list[CADLine]:
    lines = []
    for row in snapshot:
        fields = {}
        for key in _SNAPSHOT_FIELDS:
            value = row.get(key, _SNAPSHOT_DEFAULTS.get(key))
            if key in _SNAPSHOT_DECIMALS and value is not None:
                value = Decimal(value)
            fields[f"{key}_id" if key in _SNAPSHOT_FKS else key] = value
        lines.append(CADLine(cad=cad, **fields))
    return lines


def _line_objects(cad: CAD, lines: Sequence[CleanLine]) -> list[CADLine]:
    return [CADLine(cad=cad, **line.model_fields()) for line in lines]


def totals_of(lines: Sequence[CleanLine]) -> Totals:
    return cad_totals(line.amounts for line in lines if line.amounts is not None)


def _replace_lines(cad: CAD, lines: Sequence[CADLine]) -> None:
    CADLine.objects.filter(cad=cad).delete()
    CADLine.objects.bulk_create(lines, batch_size=500)


def _diff(old_lines: Sequence[Mapping[str, Any]], new_lines: Sequence[Mapping[str, Any]],
          old_totals: Totals, new_totals: Totals) -> dict[str, Any]:
    """What changed between two versions, line by line (matched on line number) and in totals."""
    old = {row["line_no"]: row for row in old_lines}
    new = {row["line_no"]: row for row in new_lines}
    changes = []
    for no in sorted(old.keys() | new.keys()):
        if no not in new:
            changes.append({"line_no": no, "removed": True})
        elif no not in old:
            changes.append({"line_no": no, "added": True})
        else:
            changed = {
                k: [old[no].get(k), new[no].get(k)]
                for k in _SNAPSHOT_FIELDS
                if k != "line_no" and _norm(old[no].get(k)) != _norm(new[no].get(k))
            }
            if changed:
                changes.append({"line_no": no, "changes": changed})
    old_t, new_t = old_totals.as_dict(), new_totals.as_dict()
    totals = {k: [str(old_t[k]), str(new_t[k]), str(new_t[k] - old_t[k])] for k in new_t if old_t[k] != new_t[k]}
    return {"lines": changes, "totals": totals}


def _norm(value: Any) -> Any:
    if value is None or value is False or value == "":
        return None  # an older snapshot without the field, and "no" / blank, are the same
    if isinstance(value, str):
        try:
            return Decimal(value).normalize()
        except ArithmeticError:
            return value
    return value


def _s32_2_changed(diff: Mapping[str, Any]) -> bool:
    for change in diff["lines"]:
        if change.get("added") or change.get("removed"):
            return True
        if set(change.get("changes", {})) & set(S32_2_FIELDS):
            return True
    return False


def cad_ledger_total(cad: CAD) -> Decimal:
    """The sum of the CAD's duty-and-tax ledger entries: always its current ``dt_total``."""
    return ledger.source_total(cad, kinds=LedgerEntry.CAD_KINDS)["amount"]


# --- Drafts ------------------------------------------------------------------------------------------

def _check_for_draft(header: Mapping[str, Any], lines: Sequence[Mapping[str, Any]], today: date,
                     program_account: ProgramAccount) -> CheckedCAD:
    problems = Problems()
    check_program_account(program_account, problems)
    if problems:
        _raise(problems, _("CADs can only be filed under an active importer RM account."))
    checked = check_cad(header=header, raw_lines=list(lines), today=today, strict=False)
    if checked.problems.fatal:
        _raise(checked.problems, _("Please correct the errors below."), fatal_only=True)
    return checked


def _apply_header(cad: CAD, header: Mapping[str, Any]) -> None:
    for key, value in header.items():
        setattr(cad, key, value)
    cad.due_date = deadlines.cad_due_date(cad.release_date, cad.cad_type)


@transaction.atomic
def cad_create_draft(
    *,
    actor: User,
    program_account: ProgramAccount,
    lines: Sequence[Mapping[str, Any]] = (),
    idempotency_key: str | None = None,
    today: date | None = None,
    **header: Any,
) -> CAD:
    """A draft CAD. Header fields are those of ``validation.HEADER_FIELDS``; lines are dicts with
    ``validation.LINE_FIELDS`` (rates are fractions: ``duty_rate=Decimal("0.065")``).

    Values that cannot be stored (bad formats, unknown classification or treatment) are refused
    now; business rules are checked on submission. A transaction number is generated if none
    is given.
    """
    today = _today(today)
    _gate(actor, Scope.SUBMIT_CADS, program_account.pk)
    key_row = None
    if idempotency_key:
        key_row, existing = _claim_idempotency_key(
            actor, idempotency_key, "cad_create_draft",
            {"program_account": program_account.pk, "header": header, "lines": list(lines)},
        )
        if existing is not None:
            return existing
    checked = _check_for_draft(header, lines, today, program_account)
    broker = broker_for(actor, program_account)
    cad = CAD(program_account=program_account, filed_by=actor, broker=broker)
    _apply_header(cad, checked.header)
    prefix = None
    if cad.transaction_number:
        _check_number_free(cad.transaction_number)
    else:
        prefix = _assign_transaction_number(cad, filer_bn9(actor, program_account, broker))
    cad.set_totals(totals_of(checked.lines))
    _save_numbered(cad, assigned_prefix=prefix)
    CADLine.objects.bulk_create(_line_objects(cad, checked.lines), batch_size=500)
    audit.record("declarations.cad.created", actor=actor, target=cad, acting_for=program_account.business,
                 changes={"transaction_number": cad.transaction_number, "lines": len(checked.lines),
                          "broker": broker})
    _remember(key_row, cad)
    return cad


@transaction.atomic
def cad_update_draft(
    *,
    actor: User,
    cad: CAD,
    lines: Sequence[Mapping[str, Any]] | None = None,
    today: date | None = None,
    **header: Any,
) -> CAD:
    """Change a draft (or a rejected CAD, which goes back to draft). ``lines`` replaces all lines."""
    today = _today(today)
    _gate(actor, Scope.SUBMIT_CADS, cad.program_account_id)
    cad = _lock(cad)
    if not cad.is_editable:
        raise ApplicationError(_("Only a draft or a rejected CAD can be edited."))
    problems = Problems()
    changed = clean_header(header, problems, partial=True)
    if problems.fatal:
        _raise(problems, _("Please correct the errors below."), fatal_only=True)
    merged = {**header_of(cad), **changed}
    raw = list(lines) if lines is not None else [raw_line(ln) for ln in cad.lines.all()]
    checked = _check_for_draft(merged, raw, today, cad.program_account)
    before = {k: getattr(cad, k) for k in changed}
    _apply_header(cad, {k: checked.header[k] for k in changed})
    prefix = None
    if not cad.transaction_number:
        prefix = _assign_transaction_number(cad, filer_bn9(actor, cad.program_account, cad.broker))
    elif "transaction_number" in changed:
        _check_number_free(cad.transaction_number, exclude_pk=cad.pk)
    cad.set_totals(totals_of(checked.lines))
    cad.status = CAD.Status.DRAFT
    cad.updated_at = timezone.now()
    _save_numbered(cad, assigned_prefix=prefix)
    _replace_lines(cad, _line_objects(cad, checked.lines))
    audit.record("declarations.cad.updated", actor=actor, target=cad, acting_for=cad.program_account.business,
                 changes={**audit.diff(before, {k: getattr(cad, k) for k in changed}),
                          **({"lines": len(checked.lines)} if lines is not None else {})})
    return cad


# --- Submission and CBSA decisions ----------------------------------------------------------------

@transaction.atomic
def cad_submit(
    *,
    actor: User,
    cad: CAD,
    idempotency_key: str | None = None,
    today: date | None = None,
) -> CAD:
    """Check everything and submit. Any broken rule raises with every field message; the draft
    is left as it was. With ``CARM["CAD_AUTO_ACCEPT"]`` the CAD is accepted at once (as CBSA's
    system does for a clean CAD) and its charge posted.
    """
    today = _today(today)
    _gate(actor, Scope.SUBMIT_CADS, cad.program_account_id)
    cad = _lock(cad)
    key_row = None
    if idempotency_key:
        key_row, existing = _claim_idempotency_key(actor, idempotency_key, "cad_submit", {"cad": cad.pk})
        if existing is not None:
            return existing
    if not cad.is_editable:
        raise ApplicationError(_("Only a draft or a rejected CAD can be submitted; this one is %(status)s.")
                               % {"status": cad.get_status_display()})
    checked = check_cad(header=header_of(cad), raw_lines=[raw_line(ln) for ln in cad.lines.all()],
                        today=today, strict=True, program_account=cad.program_account)
    if checked.problems:
        _raise(checked.problems, _("The CAD cannot be submitted: please correct the errors below."))
    now = timezone.now()
    cad.set_totals(totals_of(checked.lines))
    cad.status = CAD.Status.SUBMITTED
    cad.submitted_at = now
    cad.submitted_late = cad.due_date is not None and today > cad.due_date
    payment_timing.decide(cad)
    cad.rejection_reason = ""
    cad.updated_at = now
    cad.save()
    line_objects = _line_objects(cad, checked.lines)
    _replace_lines(cad, line_objects)
    audit.record("declarations.cad.submitted", actor=actor, target=cad, acting_for=cad.program_account.business,
                 changes={"duties_and_taxes": cad.dt_total, "late": cad.submitted_late,
                          "payment_timing": cad.payment_timing})
    if carm("CAD_AUTO_ACCEPT"):
        _accept(cad, line_objects, actor=None, today=today)
    _remember(key_row, cad)
    return cad


@transaction.atomic
def cad_file(
    *,
    actor: User,
    program_account: ProgramAccount,
    lines: Sequence[Mapping[str, Any]],
    idempotency_key: str | None = None,
    today: date | None = None,
    **header: Any,
) -> CAD:
    """Create and submit in one step (API, CSV): an invalid CAD raises and stores nothing.

    The result, the errors and the audit trail are those of ``cad_create_draft`` then
    ``cad_submit`` (and acceptance with ``CARM["CAD_AUTO_ACCEPT"]``), but done in one pass so the
    cost does not grow with the lines: chaining the two services loaded the reference data
    twice, wrote the lines twice and re-read the CAD (about 50 queries). Here the draft's lines
    are checked against the submission rules in memory, with the same reference data, and the
    CAD is inserted once, in its final state, with its lines in one bulk insert.
    """
    today = _today(today)
    lines = list(lines)
    _gate(actor, Scope.SUBMIT_CADS, program_account.pk)
    key_row = None
    if idempotency_key:
        key_row, existing = _claim_idempotency_key(
            actor, idempotency_key, "cad_file",
            {"program_account": program_account.pk, "header": header, "lines": lines},
        )
        if existing is not None:
            return existing
    # The draft, as cad_create_draft would store it (fatal problems refused, a number given)...
    draft = _check_for_draft(header, lines, today, program_account)
    broker = broker_for(actor, program_account)
    cad = CAD(program_account=program_account, filed_by=actor, broker=broker)
    _apply_header(cad, draft.header)
    prefix = None
    if cad.transaction_number:
        _check_number_free(cad.transaction_number)
    else:
        prefix = _assign_transaction_number(cad, filer_bn9(actor, program_account, broker))
    # ...then checked as cad_submit checks a stored draft: its lines as stored, in line order (so
    # "lines.N" keys and the stored values are the same), against every rule.
    stored = sorted(_line_objects(cad, draft.lines), key=lambda ln: ln.line_no)
    checked = check_cad(header=header_of(cad), raw_lines=[raw_line(ln) for ln in stored], today=today,
                        strict=True, program_account=program_account, ref=draft.ref)
    if checked.problems:
        _raise(checked.problems, _("The CAD cannot be submitted: please correct the errors below."))
    now = timezone.now()
    cad.set_totals(totals_of(checked.lines))
    cad.status = CAD.Status.SUBMITTED
    cad.submitted_at = now
    cad.submitted_late = cad.due_date is not None and today > cad.due_date
    payment_timing.decide(cad)
    cad.updated_at = now
    auto_accept = carm("CAD_AUTO_ACCEPT")
    if auto_accept:
        mark_accepted(cad, today=today, now=now)
    _save_numbered(cad, assigned_prefix=prefix)
    line_objects = _line_objects(cad, checked.lines)
    CADLine.objects.bulk_create(line_objects, batch_size=500)
    # The audit trail of the three steps, written in one INSERT at the end.
    events = [
        audit.event("declarations.cad.created", actor=actor, target=cad, acting_for=program_account.business,
                    changes={"transaction_number": cad.transaction_number, "lines": len(draft.lines),
                             "broker": broker}),
        audit.event("declarations.cad.submitted", actor=actor, target=cad, acting_for=program_account.business,
                    changes={"duties_and_taxes": cad.dt_total, "late": cad.submitted_late,
                             "payment_timing": cad.payment_timing}),
    ]
    versions = []
    if auto_accept:
        versions.append(_charge_original(cad, line_objects, actor=None, now=now, events=events))
    audit.record_all(events)
    _remember(key_row, cad)
    # What was stored, for the API's response (``filed_detail``): no need to read it back.
    for version in versions:
        version.filed_by = actor
    cad.filed_lines = sorted(line_objects, key=lambda ln: ln.line_no)
    cad.filed_versions = versions
    return cad


@dataclass(frozen=True)
class Calculation:
    lines: list[CleanLine]
    totals: Totals
    field_errors: dict[str, list[str]]


def cad_calculate(*, header: Mapping[str, Any], lines: Sequence[Mapping[str, Any]],
                  today: date | None = None) -> Calculation:
    """Live totals for a form or an API preview: no writes, no access needed (reference data only)."""
    checked = check_cad(header=header, raw_lines=list(lines), today=_today(today), strict=True,
                        require_number=False)
    return Calculation(lines=checked.lines, totals=totals_of(checked.lines),
                       field_errors=checked.problems.field_errors())


def charge_entry_fields(cad: CAD, *, actor: User | None) -> dict[str, Any] | None:
    """The ledger entry (as ``post_entry`` keyword arguments) that charges a CAD being accepted."""
    totals = cad.totals
    if totals.is_zero:
        return None
    return {
        "program_account": cad.program_account, "kind": LedgerEntry.Kind.CAD_CHARGE,
        "effective_date": cad.release_date, "billing_period": cad.billing_period,
        "breakdown": totals.breakdown(), "source": cad, "idempotency_key": f"cad:{cad.pk}:v1",
        "reference": cad.transaction_number, "description": _charge_description(cad), "created_by": actor,
    }


def _charge_description(cad: CAD) -> Text:
    """The charge's line on the statement and in the transaction history: a pay-at-release CAD
    says so, with its due date (declarations.payment_timing), since it is not deferred to the
    statement's due date."""
    if cad.pays_on_release:
        return Text("cad_charge_on_release", number=cad.transaction_number, date=cad.release_date)
    return Text("cad_charge", number=cad.transaction_number)


def original_version(cad: CAD, lines: Sequence[CADLine], *, actor: User | None, now) -> CADVersion:
    """Version 1 (unsaved) of a CAD being accepted: its lines frozen."""
    version = CADVersion(
        cad=cad, number=1, kind=CADVersion.Kind.ORIGINAL, status=CADVersion.Status.APPROVED,
        filed_by_id=cad.filed_by_id, filed_at=cad.submitted_at or now,
        reviewed_by=actor if actor is not None and actor.is_authenticated else None, reviewed_at=now,
        lines=[line_snapshot(ln) for ln in lines],
    )
    version.set_totals(cad.totals)
    return version


def mark_accepted(cad: CAD, *, today: date, now) -> None:
    """Accepted, charged in the period of its release unless that statement was already issued."""
    cad.status = CAD.Status.ACCEPTED
    cad.accepted_at = now
    cad.current_version = 1
    cad.billing_period = deadlines.billing_period(cad, posted_on=today)
    cad.updated_at = now


def _accept(cad: CAD, lines: Sequence[CADLine], *, actor: User | None, today: date) -> None:
    now = timezone.now()
    mark_accepted(cad, today=today, now=now)
    cad.save()
    _charge_original(cad, lines, actor=actor, now=now)


def _charge_original(cad: CAD, lines: Sequence[CADLine], *, actor: User | None, now,
                     events: list | None = None) -> CADVersion:
    """For a CAD saved as accepted: version 1, its charge on the ledger, the audit event (added to
    ``events`` when the caller writes its events together)."""
    version = original_version(cad, lines, actor=actor, now=now)
    fields = charge_entry_fields(cad, actor=actor)
    if fields is not None:
        version.ledger_entry = ledger.post_entry(**fields)
    version.save()
    event = audit.event("declarations.cad.accepted", actor=actor, target=cad,
                        acting_for=cad.program_account.business,
                        changes={"charged": cad.dt_total, "billing_period": cad.billing_period})
    if events is not None:
        events.append(event)
    else:
        audit.record_all([event])
    return version


@transaction.atomic
def cad_accept(*, actor: User, cad: CAD, today: date | None = None) -> CAD:
    """CBSA accepts a submitted CAD: version 1 is frozen and its charge posted to the ledger."""
    _require_cbsa(actor)
    today = _today(today)
    cad = _lock(cad)
    if cad.status != CAD.Status.SUBMITTED:
        raise ApplicationError(_("Only a submitted CAD can be accepted."))
    _accept(cad, list(cad.lines.all()), actor=actor, today=today)
    return cad


@transaction.atomic
def cad_reject(*, actor: User, cad: CAD, reason: str, today: date | None = None) -> CAD:
    """CBSA rejects a submitted CAD with reasons; the filer may edit and resubmit it."""
    _require_cbsa(actor)
    cad = _lock(cad)
    if cad.status != CAD.Status.SUBMITTED:
        raise ApplicationError(_("Only a submitted CAD can be rejected."))
    if not (reason or "").strip():
        raise ApplicationError(_("Give the reason for rejecting."), field_errors={"reason": [_("Required.")]})
    now = timezone.now()
    cad.status = CAD.Status.REJECTED
    cad.rejected_at = now
    cad.rejection_reason = reason.strip()
    cad.updated_at = now
    cad.save()
    audit.record("declarations.cad.rejected", actor=actor, target=cad, acting_for=cad.program_account.business,
                 changes={"reason": cad.rejection_reason})
    return cad


# --- Versions after acceptance ------------------------------------------------------------------------

def _current_version(cad: CAD) -> CADVersion:
    return CADVersion.objects.get(cad=cad, number=cad.current_version)


def _next_number(cad: CAD) -> int:
    return (CADVersion.objects.filter(cad=cad).aggregate(n=Max("number"))["n"] or 0) + 1


def _has_pending_adjustment(cad: CAD) -> bool:
    return CADVersion.objects.filter(cad=cad, status=CADVersion.Status.PENDING_REVIEW).exists()


def _apply_version(cad: CAD, version: CADVersion, lines: Sequence[CADLine], *, kind: str, actor: User | None,
                   effective_date: date, billing_period: date) -> LedgerEntry | None:
    """Make ``version`` current: post the difference, replace the lines, copy the totals."""
    delta = version.totals - cad.totals
    entry = None
    if not delta.is_zero:
        entry = ledger.post_entry(
            program_account=cad.program_account, kind=kind, effective_date=effective_date,
            billing_period=billing_period, breakdown=delta.breakdown(), source=cad,
            idempotency_key=f"cad:{cad.pk}:v{version.number}", reference=cad.transaction_number,
            description=Text("cad_version", number=cad.transaction_number, version=version.number),
            created_by=actor,
        )
        if entry.amount < 0:  # a credit: the posting service asks for offsetting (after the commit)
            outbox.request_offsets([cad.program_account_id])
    version.ledger_entry = entry
    version.save()
    _replace_lines(cad, lines)
    cad.set_totals(version.totals)
    cad.current_version = version.number
    cad.updated_at = timezone.now()
    cad.save()
    return entry


def _clean_reason_codes(reason_codes: Sequence[str] | None, problems: Problems, *,
                        required: bool = True) -> list[str]:
    """Up to 3 importer reason codes of memo D17-2-1 App. A (the ``ReasonCode`` table), in the
    order given (it matters: CARM bulletin 5417). Codes reserved for CBSA are refused."""
    codes = [str(c).strip().upper() for c in (reason_codes or []) if str(c).strip()]
    if not codes:
        if required:
            problems.add("reason_codes", _("Give at least one reason code."))
        return codes
    if len(codes) > MAX_REASON_CODES:
        problems.add("reason_codes", _("At most %(n)d reason codes.") % {"n": MAX_REASON_CODES})
        return codes
    if len(set(codes)) != len(codes):
        problems.add("reason_codes", _("Give each reason code once."))
    known = {rc.code: rc for rc in ReasonCode.objects.filter(code__in=[c[:20] for c in codes], is_active=True)}
    for code in codes:
        found = known.get(code)
        if found is None:
            problems.add("reason_codes", _("Unknown reason code %(code)s: use an importer code of memo D17-2-1 "
                                           "Appendix A.") % {"code": code[:20]})
        elif found.party != ReasonCode.Party.IMPORTER:
            problems.add("reason_codes", _("Reason code %(code)s is reserved for CBSA.") % {"code": code})
    return codes


def _check_legal_basis(*, cad: CAD, legal_basis: str | None, lowering: bool, key_fields_changed: bool,
                       reason_to_believe_date: date | None, today: date, problems: Problems) -> str:
    """Record the legal basis of a change and enforce its time limit (carm-rules §2).

    - A version that lowers what is owed is a refund: s.74, within 4 years of release.
    - A change of origin, classification or value for duty is a s.32.2 correction: within
      90 days of having reason to believe the declaration was wrong.
    """
    Basis = CADVersion.LegalBasis
    if not legal_basis:
        legal_basis = Basis.S74 if lowering else Basis.S32_2 if key_fields_changed else Basis.OTHER
    if legal_basis not in (Basis.S32_2, Basis.S74, Basis.OTHER):
        problems.add("legal_basis", _("Unknown legal basis."))
        return legal_basis
    if legal_basis == Basis.S74 and not lowering:
        problems.add("legal_basis", _("s. 74 is for refunds, and this version does not lower the amount owed."))
    if key_fields_changed and not lowering and legal_basis != Basis.S32_2:
        problems.add("legal_basis", _("A change of origin, classification or value for duty is a s. 32.2 "
                                      "correction."))
    if legal_basis == Basis.S32_2:
        if reason_to_believe_date is None:
            problems.add("reason_to_believe_date", _("Give the date you had reason to believe the declaration "
                                                     "was wrong (s. 32.2)."))
        elif reason_to_believe_date > today:
            problems.add("reason_to_believe_date", _("This date cannot be in the future."))
        else:
            limit = deadlines.s32_2_deadline(reason_to_believe_date)
            if today > limit:
                problems.add("reason_to_believe_date", _(
                    "Too late for a s. 32.2 correction: it had to be filed within 90 days of having reason to "
                    "believe (by %(limit)s)."
                ) % {"limit": limit})
    if lowering and cad.accounting_date is not None:
        limit = deadlines.s74_deadline(cad.accounting_date)
        if today > limit:
            problems.add("legal_basis", _(
                "Too late for a refund: under s. 74 it must be claimed within 4 years of the accounting date "
                "(accounted %(accounted)s, limit %(limit)s)."
            ) % {"accounted": cad.accounting_date, "limit": limit})
    return legal_basis


@transaction.atomic
def cad_amend(
    *,
    actor: User,
    cad: CAD,
    lines: Sequence[Mapping[str, Any]],
    reason_codes: Sequence[str],
    legal_basis: str | None = None,
    reason_to_believe_date: date | None = None,
    remarks: str = "",
    today: date | None = None,
) -> CADVersion:
    """File a new version of an accepted CAD with its complete new lines.

    On or before the payment due date of the billing period the CAD was charged in, it is a
    *correction*: auto-approved, interest-free, and the difference is posted now. After it, an
    *adjustment*: pending CBSA review (``cad_adjustment_review``); nothing is posted until then.
    ``legal_basis`` (s32_2, s74, other) is inferred when not given; its time limit is enforced.
    """
    today = _today(today)
    _gate(actor, Scope.ADJUST_CADS, cad.program_account_id)
    cad = _lock(cad)
    if cad.status != CAD.Status.ACCEPTED:
        raise ApplicationError(_("Only an accepted CAD can be corrected or adjusted."))
    if _has_pending_adjustment(cad):
        raise ApplicationError(_("An adjustment to this CAD is already waiting for CBSA review."))
    if isinstance(reason_to_believe_date, str):
        reason_to_believe_date = date.fromisoformat(reason_to_believe_date)
    # The header was checked when the CAD was submitted and does not change: check the lines.
    checked = check_cad(header=header_of(cad), raw_lines=list(lines), today=today, strict=True,
                        program_account=cad.program_account, header_rules=False)
    problems = checked.problems
    codes = _clean_reason_codes(reason_codes, problems)
    if problems:
        _raise(problems, _("Please correct the errors below."))
    current = _current_version(cad)
    new_lines = _line_objects(cad, checked.lines)
    new_snapshot = [line_snapshot(ln) for ln in new_lines]
    new_totals = totals_of(checked.lines)
    diff = _diff(current.lines, new_snapshot, current.totals, new_totals)
    if not diff["lines"]:
        raise ApplicationError(_("Nothing changed: the lines are the same as the current version."),
                               field_errors={"lines": [_("No change.")]})
    lowering = new_totals.duties_and_taxes < cad.totals.duties_and_taxes
    basis = _check_legal_basis(cad=cad, legal_basis=legal_basis, lowering=lowering,
                               key_fields_changed=_s32_2_changed(diff),
                               reason_to_believe_date=reason_to_believe_date, today=today, problems=problems)
    if problems:
        _raise(problems, _("This change cannot be filed: please correct the errors below."))
    is_correction = deadlines.is_correction(cad, today)
    version = CADVersion(
        cad=cad, number=_next_number(cad), base_number=cad.current_version,
        kind=CADVersion.Kind.CORRECTION if is_correction else CADVersion.Kind.ADJUSTMENT,
        status=CADVersion.Status.AUTO_APPROVED if is_correction else CADVersion.Status.PENDING_REVIEW,
        reason_codes=codes, remarks=(remarks or "").strip(), legal_basis=basis,
        reason_to_believe_date=reason_to_believe_date, filed_by=actor, lines=new_snapshot, diff=diff,
    )
    version.set_totals(new_totals)
    if is_correction:
        _apply_version(cad, version, new_lines, kind=LedgerEntry.Kind.CAD_CORRECTION, actor=actor,
                       effective_date=today,
                       # Filed before the 25th, a correction shows on the SOA that billed the CAD.
                       billing_period=deadlines.billing_period(cad, posted_on=today))
    else:
        version.save()
    audit.record(
        f"declarations.cad.{version.kind}_filed", actor=actor, target=cad, acting_for=cad.program_account.business,
        changes={"version": version.number, "legal_basis": basis, "reason_codes": codes,
                 "difference": str(new_totals.duties_and_taxes - current.totals.duties_and_taxes)},
    )
    return version


def _interest_on(cad: CAD, version: CADVersion, delta: Totals, *, actor: User, today: date) -> None:
    """Interest on an upward adjustment (s.32.2: the duty and its interest are paid together):
    from the day after the original payment due date to the day the adjustment is approved."""
    if delta.duties_and_taxes <= 0 or cad.billing_period is None:
        return
    accrual = interest.interest_between(delta.duties_and_taxes, payable_on=deadlines.payment_due_date(cad),
                                        paid_on=today)
    if accrual.amount <= ZERO:
        return
    ledger.post_entry(
        program_account=cad.program_account, kind=LedgerEntry.Kind.INTEREST, effective_date=today,
        billing_period=calendar.billing_period_for(today), amount=accrual.amount, source=version,
        idempotency_key=f"cad:{cad.pk}:v{version.number}:interest", reference=cad.transaction_number,
        description=Text("adjustment_interest", days=accrual.days), created_by=actor,
    )


@transaction.atomic
def cad_adjustment_review(*, actor: User, version: CADVersion, approve: bool, reason: str = "",
                          today: date | None = None) -> CADVersion:
    """CBSA approves (posting the difference, and interest on an increase) or rejects an adjustment."""
    _require_cbsa(actor)
    today = _today(today)
    cad = _lock(version.cad)
    version = CADVersion.objects.select_for_update().get(pk=version.pk)
    if version.status != CADVersion.Status.PENDING_REVIEW:
        raise ApplicationError(_("This adjustment was already reviewed."))
    if not approve and not (reason or "").strip():
        raise ApplicationError(_("Give the reason for rejecting."), field_errors={"reason": [_("Required.")]})
    version.reviewed_by = actor
    version.reviewed_at = timezone.now()
    version.review_reason = (reason or "").strip()
    if approve:
        if version.base_number != cad.current_version or cad.status != CAD.Status.ACCEPTED:
            raise ApplicationError(_("The CAD changed since this adjustment was filed; it cannot be approved."))
        delta = version.totals - cad.totals
        version.status = CADVersion.Status.APPROVED
        # An adjustment posts to the SOA of the period it is approved in.
        _apply_version(cad, version, lines_from_snapshot(cad, version.lines), kind=LedgerEntry.Kind.CAD_ADJUSTMENT,
                       actor=actor, effective_date=today, billing_period=calendar.billing_period_for(today))
        _interest_on(cad, version, delta, actor=actor, today=today)
    else:
        version.status = CADVersion.Status.REJECTED
        version.save()
    audit.record(
        "declarations.cad.adjustment_" + ("approved" if approve else "rejected"), actor=actor, target=cad,
        acting_for=cad.program_account.business, changes={"version": version.number, "reason": version.review_reason},
    )
    return version


@transaction.atomic
def cad_withdraw(*, actor: User, cad: CAD, reason: str = "", reason_codes: Sequence[str] = (),
                 today: date | None = None) -> CAD:
    """Withdraw a CAD. An accepted one gets a withdrawal version that reverses its whole current
    charge with one ledger entry; a draft, submitted or rejected one simply stops.
    """
    today = _today(today)
    scope = Scope.ADJUST_CADS if cad.status == CAD.Status.ACCEPTED else Scope.SUBMIT_CADS
    _gate(actor, scope, cad.program_account_id)
    cad = _lock(cad)
    if cad.status == CAD.Status.WITHDRAWN:
        raise ApplicationError(_("This CAD is already withdrawn."))
    if cad.status == CAD.Status.ACCEPTED:
        _gate(actor, Scope.ADJUST_CADS, cad.program_account_id)
        if _has_pending_adjustment(cad):
            raise ApplicationError(_("An adjustment to this CAD is waiting for CBSA review; withdraw it later."))
        problems = Problems()
        codes = _clean_reason_codes(reason_codes, problems, required=False)
        if problems:
            _raise(problems, _("Please correct the errors below."))
        current = _current_version(cad)
        version = CADVersion(
            cad=cad, number=_next_number(cad), base_number=cad.current_version, kind=CADVersion.Kind.WITHDRAWAL,
            status=CADVersion.Status.AUTO_APPROVED, reason_codes=codes,
            remarks=(reason or "").strip(), legal_basis=CADVersion.LegalBasis.NONE, filed_by=actor, lines=[],
            diff=_diff(current.lines, [], current.totals, Totals()),
        )
        version.set_totals(Totals())
        _apply_version(cad, version, [], kind=LedgerEntry.Kind.CAD_WITHDRAWAL, actor=actor, effective_date=today,
                       billing_period=deadlines.billing_period(cad, posted_on=today))
    cad.status = CAD.Status.WITHDRAWN
    cad.withdrawn_at = timezone.now()
    cad.updated_at = cad.withdrawn_at
    cad.save()
    audit.record("declarations.cad.withdrawn", actor=actor, target=cad, acting_for=cad.program_account.business,
                 changes={"reason": (reason or "").strip()})
    return cad


# Re-exported for the CSV import and load tools, which build many CADs at once.
__all__ += [
    "broker_for", "filer_bn9", "totals_of", "header_of", "raw_line", "line_snapshot", "lines_from_snapshot", "charge_entry_fields", "original_version",
    "mark_accepted", "ReferenceData",
]
