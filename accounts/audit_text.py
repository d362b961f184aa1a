"""The audit trail as a clerk reads it: one sentence per kind of event, in the reader's language.

An ``AuditEvent`` stores a dotted code (``billing.payment.recorded``), the object's text as it was
(``DEMO-RM0001-202512 78962.71 (Pre-authorized debit)``) and its ``changes`` as JSON (codes and
plain decimals, dicts of RM → amount). Nothing of it is rewritten: it is rendered when shown.

- ``event_sentence(event)``: "Payment recorded", "Appeal submitted", ... (the code when unknown);
- ``change_rows(event)``: (label, text) pairs: field names as words, amounts through the money
  format, status codes as their labels, lists and RM → amount maps as readable lists;
- ``object_text(event)``: the object's stored text with its plain decimals formatted as money.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from carm_portal.money import format_cad

# One sentence per event kind. Several codes are built at run time ("appeals.appeal.{action}").
SENTENCES = {
    "accounts.business.registered": gettext_lazy("Business registered"),
    "accounts.business.updated": gettext_lazy("Business profile changed"),
    "accounts.program_account.added": gettext_lazy("Program account added"),
    "accounts.membership.requested": gettext_lazy("Request to join the business"),
    "accounts.membership.approved": gettext_lazy("Request to join approved"),
    "accounts.membership.rejected": gettext_lazy("Request to join rejected"),
    "accounts.membership.role_changed": gettext_lazy("User role changed"),
    "accounts.membership.removed": gettext_lazy("User access removed"),
    "accounts.delegation.requested": gettext_lazy("Delegation requested by a broker"),
    "accounts.delegation.granted": gettext_lazy("Delegation granted to a broker"),
    "accounts.delegation.approved": gettext_lazy("Delegation request approved"),
    "accounts.delegation.rejected": gettext_lazy("Delegation request rejected"),
    "accounts.delegation.revoked": gettext_lazy("Delegation revoked"),
    "accounts.client_group.saved": gettext_lazy("Client group saved"),
    "declarations.cad.created": gettext_lazy("CAD created"),
    "declarations.cad.updated": gettext_lazy("CAD draft changed"),
    "declarations.cad.submitted": gettext_lazy("CAD submitted"),
    "declarations.cad.accepted": gettext_lazy("CAD accepted and charged"),
    "declarations.cad.rejected": gettext_lazy("CAD rejected"),
    "declarations.cad.withdrawn": gettext_lazy("CAD withdrawn"),
    "declarations.cad.csv_imported": gettext_lazy("CADs imported from a CSV file"),
    "declarations.cad.correction_filed": gettext_lazy("CAD correction filed"),
    "declarations.cad.adjustment_filed": gettext_lazy("CAD adjustment filed"),
    "declarations.cad.adjustment_approved": gettext_lazy("CAD adjustment approved by CBSA"),
    "declarations.cad.adjustment_rejected": gettext_lazy("CAD adjustment rejected by CBSA"),
    "billing.run.started": gettext_lazy("Billing run started"),
    "billing.run.retried": gettext_lazy("Billing run retried"),
    "billing.run.finished": gettext_lazy("Billing run finished"),
    "billing.payment.recorded": gettext_lazy("Payment recorded"),
    "rpp.requirement.computed": gettext_lazy("RPP security requirement computed"),
    "rpp.forecast.computed": gettext_lazy("RPP security forecast computed"),
    "rpp.enrolment.status_changed": gettext_lazy("RPP status changed"),
    "rpp.cash_deposit.recorded": gettext_lazy("Cash security deposit recorded"),
    "rpp.bond.recorded": gettext_lazy("Bond / eWSA recorded"),
    "rpp.bond.allocated": gettext_lazy("Bond / eWSA allocated to RM accounts"),
    "rpp.reduction.requested": gettext_lazy("Security reduction requested"),
    "rpp.reduction.approved": gettext_lazy("Security reduction approved"),
    "rpp.reduction.rejected": gettext_lazy("Security reduction rejected"),
    "offsetting.run.requested": gettext_lazy("Offsetting run requested"),
    "offsetting.manual.applied": gettext_lazy("Credit applied to debts"),
    "offsetting.preference.updated": gettext_lazy("Offsetting preference changed"),
    "offsetting.refund.requested": gettext_lazy("Refund requested"),
    "offsetting.refund.approved": gettext_lazy("Refund approved"),
    "offsetting.refund.paid": gettext_lazy("Refund paid"),
    "offsetting.refund.rejected": gettext_lazy("Refund rejected"),
    "appeals.penalty.served": gettext_lazy("Penalty (NPA) served"),
    "appeals.statement.issued": gettext_lazy("Statement of adjustment issued"),
    "appeals.statement.secured": gettext_lazy("Security recorded for a statement of adjustment"),
    "appeals.document.added": gettext_lazy("Document added to an appeal"),
    "appeals.extension.requested": gettext_lazy("Extension of time requested"),
    "appeals.extension.granted": gettext_lazy("Extension of time granted"),
    "appeals.extension.refused": gettext_lazy("Extension of time refused"),
    "appeals.appeal.created": gettext_lazy("Appeal drafted"),
    "appeals.appeal.updated": gettext_lazy("Appeal draft changed"),
    "appeals.appeal.submitted": gettext_lazy("Appeal submitted"),
    "appeals.appeal.withdrawn": gettext_lazy("Appeal withdrawn"),
    "appeals.appeal.acknowledged": gettext_lazy("Appeal acknowledged by CBSA"),
    "appeals.appeal.assigned": gettext_lazy("Appeal assigned to an officer"),
    "appeals.appeal.info_requested": gettext_lazy("CBSA asked for more information"),
    "appeals.appeal.rejected_incomplete": gettext_lazy("Appeal rejected as incomplete"),
    "appeals.appeal.decided": gettext_lazy("Appeal decided"),
    "appeals.appeal.closed": gettext_lazy("Appeal closed"),
}

# The words for the keys of ``changes``.
LABELS = {
    "amount": gettext_lazy("Amount"), "approved_amount": gettext_lazy("Approved amount"),
    "requested_amount": gettext_lazy("Requested amount"), "allocations": gettext_lazy("Allocations"),
    "method": gettext_lazy("Method"), "reference": gettext_lazy("Reference"), "received_on": gettext_lazy("Received on"),
    "received": gettext_lazy("Received on"), "served_on": gettext_lazy("Served on"),
    "contravention": gettext_lazy("Contravention"), "from": gettext_lazy("From"), "to": gettext_lazy("To"),
    "note": gettext_lazy("Note"), "reason": gettext_lazy("Reason"), "status": gettext_lazy("Status"),
    "done": gettext_lazy("Done"), "failed": gettext_lazy("Failed"), "period_end": gettext_lazy("Period end"),
    "accounts": gettext_lazy("Accounts"), "chunks": gettext_lazy("Chunks"), "rerun": gettext_lazy("Run again"),
    "transaction_number": gettext_lazy("Transaction number"), "lines": gettext_lazy("Lines"),
    "broker": gettext_lazy("Broker"), "charged": gettext_lazy("Charged"), "billing_period": gettext_lazy("Billing period"),
    "duties_and_taxes": gettext_lazy("Duties and taxes"), "late": gettext_lazy("Late"),
    "version": gettext_lazy("Version"), "legal_basis": gettext_lazy("Legal basis"),
    "reason_codes": gettext_lazy("Reason codes"), "difference": gettext_lazy("Difference"),
    "bond": gettext_lazy("Bond / eWSA"), "cash": gettext_lazy("Cash"), "trigger": gettext_lazy("Trigger"),
    "cad": gettext_lazy("CAD"), "previous": gettext_lazy("Before"), "new": gettext_lazy("After"),
    "change": gettext_lazy("Change"), "cads": gettext_lazy("CADs"), "accepted": gettext_lazy("Accepted"),
    "credit": gettext_lazy("Credit"), "debts": gettext_lazy("Debts"), "entry": gettext_lazy("Ledger entry"),
    "program_account": gettext_lazy("Program account"), "bn9": gettext_lazy("Business number"),
    "role": gettext_lazy("Role"), "scopes": gettext_lazy("Scopes"), "coverage": gettext_lazy("Coverage"),
    "clients": gettext_lazy("Clients"), "members": gettext_lazy("Members"), "file": gettext_lazy("File"),
    "size": gettext_lazy("Size"), "about": gettext_lazy("About"), "officer": gettext_lazy("Officer"),
    "offsetting_preference": gettext_lazy("Offsetting preference"), "outcome": gettext_lazy("Outcome"),
}

# Keys whose values are amounts in CAD (also every value of an RM → amount map).
MONEY_KEYS = {
    "amount", "approved_amount", "requested_amount", "charged", "duties_and_taxes", "difference", "bond", "cash",
    "previous", "new", "change", "decision_amount", "interest",
}
# Keys whose values are codes of a choice list (status, method, role, ...).
CODE_KEYS = {"from", "to", "status", "method", "role", "coverage", "trigger", "outcome", "offsetting_preference",
             "scopes", "legal_basis"}
_DECIMAL = re.compile(r"(?<![\w.,])-?\d+\.\d{2}(?![\w.,])")


def _choice_labels() -> dict[str, str]:
    """value -> label of every choice list an audit value can hold (the active language)."""
    from django.apps import apps

    labels: dict[str, str] = {}
    for model in apps.get_models():
        if model._meta.app_label not in {"accounts", "billing", "rpp", "offsetting", "appeals", "declarations"}:
            continue
        for field in model._meta.get_fields():
            for value, label in getattr(field, "choices", None) or ():
                if isinstance(value, str) and not isinstance(label, (list, tuple)):
                    labels.setdefault(value, str(label))
    from accounts.roles import Role

    for value, label in Role.choices:
        labels.setdefault(value, str(label))
    return labels


def _money(value) -> str:
    try:
        return format_cad(Decimal(str(value)))
    except (InvalidOperation, ValueError, TypeError):
        return str(value)


def _text(key: str, value, codes: dict[str, str]) -> str:
    if value in (None, "", [], {}):
        return "—"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, dict):  # e.g. allocations {RM: amount}
        return "; ".join(f"{k}: {_text(key, v, codes)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(_text(key, v, codes) for v in value)
    if key in MONEY_KEYS or key == "allocations":
        return _money(value)
    if key in CODE_KEYS:
        return codes.get(str(value), str(value))
    return str(value)


def event_sentence(event) -> str:
    sentence = SENTENCES.get(event.action)
    return str(sentence) if sentence is not None else event.action


def change_rows(event, codes: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """(label, text) pairs. "…updated"/"…changed" events hold [old, new] pairs: "old → new"."""
    changes = event.changes
    if codes is None:
        codes = _choice_labels()
    if not isinstance(changes, dict):
        return [("", str(changes))]
    is_diff = event.action.endswith(("updated", "changed"))
    rows = []
    for key, value in changes.items():
        label = str(LABELS.get(key, key.replace("_", " ").capitalize()))
        if is_diff and isinstance(value, list) and len(value) == 2:
            old, new = (_text(key, v, codes) for v in value)
            rows.append((label, f"{old} → {new}"))
        else:
            rows.append((label, _text(key, value, codes)))
    return rows


def object_text(event) -> str:
    """The object as stored, its plain decimals ("78962.71") as money in the reader's language."""
    return _DECIMAL.sub(lambda m: format_cad(m.group(0)), event.target_repr or "")


def with_text(events):
    """Set ``.sentence``, ``.change_rows`` and ``.object_text`` on each event; returns the list."""
    events = list(events)
    codes = _choice_labels()
    for event in events:
        event.sentence = event_sentence(event)
        event.change_rows = change_rows(event, codes)
        event.object_text = object_text(event)
    return events
