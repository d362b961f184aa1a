"""Write paths for businesses, memberships, delegations and client groups.

Each service checks the actor's right through the access gate, changes state inside one
transaction and records an audit event. Views and API endpoints only parse input and call these.
"""

from __future__ import annotations

from datetime import date

from django.db import IntegrityError, transaction
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from carm_portal.exceptions import ApplicationError

from . import audit
from .access import can_manage_account, managed_businesses
from .models import Business, ClientGroup, Delegation, Membership, ProgramAccount, User
from .roles import DELEGATION_FLAGS, Right, Role
from .validators import normalize_bn, validate_bn9


def checked_bn9(value: str, field: str) -> str:
    """The compact BN9, or an ApplicationError on ``field`` when it is not a BN9 at all.

    Checked before any lookup, so "12" reads "has exactly 9 digits", never "not found"."""
    from django.core.exceptions import ValidationError

    try:
        validate_bn9(value)
    except ValidationError as exc:
        raise ApplicationError(exc.messages[0], field_errors={field: exc.messages}) from exc
    return normalize_bn(value)


def _full_clean(obj) -> None:
    from django.core.exceptions import ValidationError

    try:
        obj.full_clean()
    except ValidationError as exc:
        raise ApplicationError(_("Please correct the errors below."), field_errors=exc.message_dict) from exc


# --- Businesses ------------------------------------------------------------------------------

@transaction.atomic
def business_register(
    *,
    actor: User,
    legal_name: str,
    bn9: str,
    program_account_number: str,
    kind: str = Business.Kind.IMPORTER,
    operating_name: str = "",
    broker_licence_number: str = "",
    is_non_resident: bool = False,
    street: str = "",
    city: str = "",
    province: str = "",
    postal_code: str = "",
    country: str = "CA",
) -> Business:
    """The first BAM registers the BN9 and one RM account; they become its BAM."""
    bn9 = normalize_bn(bn9)
    if Business.objects.filter(bn9=bn9).exists():
        raise ApplicationError(
            _("This Business Number is already registered. Ask its Business Account Manager for access."),
            field_errors={"bn9": [_("Already registered.")]},
        )
    business = Business(
        kind=kind, legal_name=legal_name, operating_name=operating_name, bn9=bn9,
        broker_licence_number=broker_licence_number, is_non_resident=is_non_resident,
        street=street, city=city, province=province, postal_code=postal_code, country=country,
    )
    _full_clean(business)
    business.save()
    account = ProgramAccount(business=business, number=normalize_bn(program_account_number))
    _full_clean(account)
    account.save()
    Membership.objects.create(
        user=actor, business=business, role=Role.BAM, status=Membership.Status.ACTIVE,
        decided_by=actor, decided_at=timezone.now(),
    )
    audit.record("accounts.business.registered", actor=actor, target=business, acting_for=business,
                 changes={"bn9": bn9, "program_account": account.number})
    return business


def _require_manager(actor: User, business: Business, right: Right) -> None:
    """Business-level management is for business-wide managers (BAM); a PAM is bound to one RM."""
    if not managed_businesses(actor, right).filter(
        pk=business.pk, memberships__user=actor, memberships__status=Membership.Status.ACTIVE,
        memberships__program_account__isnull=True,
    ).exists():
        # Same answer as "no such business": do not confirm it exists.
        raise Http404


def _require_membership_manager(actor: User, membership: Membership) -> None:
    """The business's BAM, or the PAM of the RM account the membership is bound to."""
    if membership.program_account_id and can_manage_account(actor, Right.MANAGE_USERS, membership.program_account):
        return
    _require_manager(actor, membership.business, Right.MANAGE_USERS)


@transaction.atomic
def business_update(*, actor: User, business: Business, **fields) -> Business:
    _require_manager(actor, business, Right.MANAGE_USERS)
    allowed = {
        "legal_name", "operating_name", "street", "city", "province", "postal_code", "country",
        "is_non_resident", "accounts_itself", "payment_method", "billing_contact_email",
        "offsetting_preference", "broker_licence_number",
    }
    unknown = set(fields) - allowed
    if unknown:
        raise ApplicationError(_("These fields cannot be changed here: %s") % ", ".join(sorted(unknown)))
    before = {k: getattr(business, k) for k in fields}
    for key, value in fields.items():
        setattr(business, key, value)
    _full_clean(business)
    business.save()
    audit.record("accounts.business.updated", actor=actor, target=business, acting_for=business,
                 changes=audit.diff(before, fields))
    return business


@transaction.atomic
def program_account_add(*, actor: User, business: Business, number: str, name: str = "",
                        activity: str = ProgramAccount.Activity.IMPORTER) -> ProgramAccount:
    _require_manager(actor, business, Right.MANAGE_USERS)
    account = ProgramAccount(business=business, number=normalize_bn(number), name=name, activity=activity)
    _full_clean(account)
    account.save()
    audit.record("accounts.program_account.added", actor=actor, target=account, acting_for=business)
    return account


# --- Memberships -----------------------------------------------------------------------------

@transaction.atomic
def membership_request(*, actor: User, bn9: str, role: str = Role.READER,
                       program_account_number: str = "") -> Membership:
    """An employee asks to join the employer's business by its BN9; a BAM approves."""
    try:
        business = Business.objects.get(bn9=checked_bn9(bn9, "bn9"))
    except Business.DoesNotExist:
        raise ApplicationError(
            _("No business is registered with this Business Number."), field_errors={"bn9": [_("Not found.")]}
        ) from None
    account = None
    if program_account_number:
        account = business.program_accounts.filter(number=normalize_bn(program_account_number)).first()
        if account is None:
            raise ApplicationError(_("That program account is not part of this business."),
                                   field_errors={"program_account_number": [_("Not found.")]})
    if role == Role.PAM and account is None:
        raise ApplicationError(_("A Program Account Manager needs a program account."),
                               field_errors={"program_account_number": [_("Required for a PAM.")]})
    if role == Role.BAM:
        account = None
    try:
        with transaction.atomic():
            membership = Membership.objects.create(user=actor, business=business, program_account=account, role=role)
    except IntegrityError:
        raise ApplicationError(_("You already have access to, or a pending request for, this business.")) from None
    audit.record("accounts.membership.requested", actor=actor, target=membership, acting_for=business,
                 changes={"role": role})
    return membership


def _lock_membership(membership: Membership) -> Membership:
    return Membership.objects.select_for_update().select_related("business", "user").get(pk=membership.pk)


@transaction.atomic
def membership_decide(*, actor: User, membership: Membership, approve: bool) -> Membership:
    membership = _lock_membership(membership)
    _require_membership_manager(actor, membership)
    if membership.status != Membership.Status.PENDING:
        raise ApplicationError(_("This request was already decided."))
    membership.status = Membership.Status.ACTIVE if approve else Membership.Status.REJECTED
    membership.decided_by = actor
    membership.decided_at = timezone.now()
    membership.save(update_fields=["status", "decided_by", "decided_at"])
    audit.record("accounts.membership." + ("approved" if approve else "rejected"), actor=actor,
                 target=membership, acting_for=membership.business)
    return membership


@transaction.atomic
def membership_change_role(*, actor: User, membership: Membership, role: str,
                           program_account: ProgramAccount | None = None) -> Membership:
    membership = _lock_membership(membership)
    _require_membership_manager(actor, membership)
    if role == Role.BAM:
        program_account = None
    if role == Role.BAM or program_account != membership.program_account:
        # Only a BAM may grant business-wide rights or move someone to another RM account.
        _require_manager(actor, membership.business, Right.MANAGE_USERS)
    if role == Role.PAM and program_account is None:
        raise ApplicationError(_("A Program Account Manager needs a program account."),
                               field_errors={"program_account": [_("Required for a PAM.")]})
    if program_account is not None and program_account.business_id != membership.business_id:
        raise ApplicationError(_("That program account is not part of this business."),
                               field_errors={"program_account": [_("Not part of this business.")]})
    before = {"role": membership.role, "program_account": membership.program_account}
    if membership.role == Role.BAM and role != Role.BAM:
        _ensure_another_bam(membership)
    membership.role = role
    membership.program_account = program_account
    membership.save(update_fields=["role", "program_account"])
    audit.record("accounts.membership.role_changed", actor=actor, target=membership,
                 acting_for=membership.business,
                 changes=audit.diff(before, {"role": role, "program_account": program_account}))
    return membership


def _ensure_another_bam(membership: Membership) -> None:
    others = Membership.objects.filter(
        business=membership.business, role=Role.BAM, status=Membership.Status.ACTIVE
    ).exclude(pk=membership.pk)
    if not others.exists():
        raise ApplicationError(_("A business must keep at least one Business Account Manager."))


@transaction.atomic
def membership_remove(*, actor: User, membership: Membership) -> Membership:
    membership = _lock_membership(membership)
    _require_membership_manager(actor, membership)
    if membership.role == Role.BAM and membership.status == Membership.Status.ACTIVE:
        _ensure_another_bam(membership)
    membership.status = Membership.Status.REMOVED
    membership.save(update_fields=["status"])
    audit.record("accounts.membership.removed", actor=actor, target=membership, acting_for=membership.business)
    return membership


# --- Delegations -----------------------------------------------------------------------------

def _scope_fields(scopes: dict[str, bool] | None) -> dict[str, bool]:
    scopes = scopes if scopes is not None else dict.fromkeys(DELEGATION_FLAGS, True)
    unknown = set(scopes) - set(DELEGATION_FLAGS)
    if unknown:
        raise ApplicationError(_("Unknown scope: %s") % ", ".join(sorted(unknown)))
    fields = {f"scope_{flag}": bool(scopes.get(flag, False)) for flag in DELEGATION_FLAGS}
    if not any(fields.values()):
        raise ApplicationError(_("Choose at least one scope."), field_errors={"scopes": [_("Choose at least one.")]})
    return fields


def _validate_delegation_terms(importer: Business, broker: Business, coverage: str,
                               program_accounts: list[ProgramAccount], valid_from: date,
                               valid_to: date | None) -> None:
    errors: dict[str, list[str]] = {}
    if not broker.is_broker:
        errors["broker"] = [_("Only a licensed customs broker can act for an importer.")]
    if importer.kind != Business.Kind.IMPORTER:
        errors["importer"] = [_("Delegations are granted by importers.")]
    if coverage == Delegation.Coverage.PROGRAM:
        if not program_accounts:
            errors["program_accounts"] = [_("Choose at least one RM account.")]
        elif any(pa.business_id != importer.pk for pa in program_accounts):
            errors["program_accounts"] = [_("Every RM account must belong to the importer.")]
    if valid_to is not None and valid_to < valid_from:
        errors["valid_to"] = [_("The end date is before the start date.")]
    if errors:
        raise ApplicationError(_("Please correct the errors below."), field_errors=errors)


def _create_delegation(**fields) -> Delegation:
    accounts = fields.pop("program_accounts")
    try:
        with transaction.atomic():
            delegation = Delegation.objects.create(**fields)
    except IntegrityError:
        raise ApplicationError(
            _("There is already an active or pending delegation between this importer and this broker."),
            field_errors={"broker": [_("Already delegated or requested.")]},
        ) from None
    if fields["coverage"] == Delegation.Coverage.PROGRAM:
        delegation.program_accounts.set(accounts)
    return delegation


def can_decide_delegation(actor: User, delegation: Delegation) -> bool:
    """The importer's BAM; or a PAM, for a program delegation limited to its own RM accounts."""
    if managed_businesses(actor, Right.GRANT_DELEGATIONS).filter(
        pk=delegation.importer_id, memberships__user=actor, memberships__role=Role.BAM,
        memberships__status=Membership.Status.ACTIVE,
    ).exists():
        return True
    if delegation.coverage != Delegation.Coverage.PROGRAM:
        return False
    accounts = list(delegation.program_accounts.all())
    return bool(accounts) and all(can_manage_account(actor, Right.GRANT_DELEGATIONS, pa) for pa in accounts)


@transaction.atomic
def delegation_request(*, actor: User, broker: Business, importer_bn9: str,
                       coverage: str = Delegation.Coverage.BUSINESS,
                       program_account_numbers: list[str] | None = None,
                       scopes: dict[str, bool] | None = None, valid_from: date | None = None,
                       valid_to: date | None = None, note: str = "") -> Delegation:
    """A broker firm asks an importer for a delegation; the importer's BAM or PAM decides."""
    _require_manager(actor, broker, Right.GRANT_DELEGATIONS)
    try:
        importer = Business.objects.get(bn9=checked_bn9(importer_bn9, "importer_bn9"),
                                        kind=Business.Kind.IMPORTER)
    except Business.DoesNotExist:
        raise ApplicationError(_("No importer is registered with this Business Number."),
                               field_errors={"importer_bn9": [_("Not found.")]}) from None
    numbers = [normalize_bn(n) for n in (program_account_numbers or [])]
    accounts = list(importer.program_accounts.filter(number__in=numbers))
    if len(accounts) != len(set(numbers)):
        raise ApplicationError(_("Some RM accounts are not the importer's."),
                               field_errors={"program_account_numbers": [_("Not found for this importer.")]})
    valid_from = valid_from or timezone.localdate()
    _validate_delegation_terms(importer, broker, coverage, accounts, valid_from, valid_to)
    delegation = _create_delegation(
        importer=importer, broker=broker, coverage=coverage, program_accounts=accounts,
        valid_from=valid_from, valid_to=valid_to, note=note, requested_by=actor,
        status=Delegation.Status.REQUESTED, **_scope_fields(scopes),
    )
    audit.record("accounts.delegation.requested", actor=actor, target=delegation, acting_for=importer,
                 changes={"scopes": delegation.scopes, "coverage": coverage})
    return delegation


@transaction.atomic
def delegation_grant(*, actor: User, importer: Business, broker_bn9: str,
                     coverage: str = Delegation.Coverage.BUSINESS,
                     program_accounts: list[ProgramAccount] | None = None,
                     scopes: dict[str, bool] | None = None, valid_from: date | None = None,
                     valid_to: date | None = None, note: str = "") -> Delegation:
    """The importer's BAM (or a PAM, for its own RM) grants a delegation directly."""
    try:
        broker = Business.objects.get(bn9=checked_bn9(broker_bn9, "broker_bn9"), kind=Business.Kind.BROKER)
    except Business.DoesNotExist:
        raise ApplicationError(_("No customs broker is registered with this Business Number."),
                               field_errors={"broker_bn9": [_("Not found.")]}) from None
    accounts = list(program_accounts or [])
    valid_from = valid_from or timezone.localdate()
    _validate_delegation_terms(importer, broker, coverage, accounts, valid_from, valid_to)
    delegation = _create_delegation(
        importer=importer, broker=broker, coverage=coverage, program_accounts=accounts,
        valid_from=valid_from, valid_to=valid_to, note=note, requested_by=actor,
        status=Delegation.Status.ACTIVE, decided_by=actor, decided_at=timezone.now(),
        **_scope_fields(scopes),
    )
    if not can_decide_delegation(actor, delegation):
        raise Http404  # rolls back: the actor may not grant for this importer
    audit.record("accounts.delegation.granted", actor=actor, target=delegation, acting_for=importer,
                 changes={"scopes": delegation.scopes, "coverage": coverage,
                          "valid_from": valid_from, "valid_to": valid_to})
    return delegation


def _lock_delegation(delegation: Delegation) -> Delegation:
    return Delegation.objects.select_for_update().select_related("importer", "broker").get(pk=delegation.pk)


@transaction.atomic
def delegation_decide(*, actor: User, delegation: Delegation, approve: bool) -> Delegation:
    delegation = _lock_delegation(delegation)
    if not can_decide_delegation(actor, delegation):
        raise Http404
    if delegation.status != Delegation.Status.REQUESTED:
        raise ApplicationError(_("This request was already decided."))
    delegation.status = Delegation.Status.ACTIVE if approve else Delegation.Status.REJECTED
    delegation.decided_by = actor
    delegation.decided_at = timezone.now()
    delegation.save(update_fields=["status", "decided_by", "decided_at"])
    audit.record("accounts.delegation." + ("approved" if approve else "rejected"), actor=actor,
                 target=delegation, acting_for=delegation.importer)
    return delegation


@transaction.atomic
def delegation_revoke(*, actor: User, delegation: Delegation) -> Delegation:
    """Revocation takes effect immediately. The importer's BAM/PAM or the broker's BAM may revoke."""
    delegation = _lock_delegation(delegation)
    broker_side = managed_businesses(actor, Right.GRANT_DELEGATIONS).filter(pk=delegation.broker_id).exists()
    if not (can_decide_delegation(actor, delegation) or broker_side):
        raise Http404
    if delegation.status not in (Delegation.Status.ACTIVE, Delegation.Status.REQUESTED):
        raise ApplicationError(_("This delegation is no longer active."))
    delegation.status = Delegation.Status.REVOKED
    delegation.revoked_by = actor
    delegation.revoked_at = timezone.now()
    delegation.save(update_fields=["status", "revoked_by", "revoked_at"])
    audit.record("accounts.delegation.revoked", actor=actor, target=delegation, acting_for=delegation.importer)
    return delegation


_UNCHANGED = object()


def _delegation_terms(delegation: Delegation) -> dict:
    return {
        "coverage": delegation.coverage,
        "program_accounts": sorted(pa.number for pa in delegation.program_accounts.all())
        if delegation.coverage == Delegation.Coverage.PROGRAM else [],
        "scopes": delegation.scopes,
        "valid_from": delegation.valid_from,
        "valid_to": delegation.valid_to,
        "note": delegation.note,
    }


def _is_narrowing(before: dict, after: dict) -> bool:
    """True when ``after`` lets the broker do nothing that ``before`` did not."""
    if before["coverage"] == Delegation.Coverage.PROGRAM:
        if after["coverage"] != Delegation.Coverage.PROGRAM:
            return False
        if not set(after["program_accounts"]) <= set(before["program_accounts"]):
            return False
    if not set(after["scopes"]) <= set(before["scopes"]):
        return False
    if after["valid_from"] < before["valid_from"]:
        return False
    ended_before = before["valid_to"] is not None
    return not ended_before or (after["valid_to"] is not None and after["valid_to"] <= before["valid_to"])


def can_change_delegation_on_broker_side(actor: User, delegation: Delegation) -> bool:
    return managed_businesses(actor, Right.GRANT_DELEGATIONS).filter(pk=delegation.broker_id).exists()


@transaction.atomic
def delegation_update(*, actor: User, delegation: Delegation, coverage: str | None = None,
                      program_accounts: list[ProgramAccount] | None = None,
                      scopes: dict[str, bool] | None = None, valid_from: date | None = None,
                      valid_to=_UNCHANGED, note: str | None = None) -> Delegation:
    """Change an open delegation's RM accounts, scopes or dates in place: no revoke, no gap.

    The importer's side (its BAM; a PAM for a program delegation over its own RM accounts, and
    it stays so) may widen or narrow. The broker firm's manager may only narrow (fewer RM
    accounts or scopes, a later start, an earlier end): widening needs the importer's consent.
    The access gate reads these rows, so the change applies to the next request. Arguments
    left as None (``valid_to``: left out) keep their current value.
    """
    delegation = _lock_delegation(delegation)
    importer_side = can_decide_delegation(actor, delegation)
    broker_side = can_change_delegation_on_broker_side(actor, delegation)
    if not (importer_side or broker_side):
        raise Http404
    if delegation.status not in (Delegation.Status.ACTIVE, Delegation.Status.REQUESTED):
        raise ApplicationError(_("This delegation is no longer active."))
    before = _delegation_terms(delegation)
    coverage = coverage or delegation.coverage
    if program_accounts is None:
        accounts = list(delegation.program_accounts.all())
    else:
        accounts = list(program_accounts)
    if coverage == Delegation.Coverage.BUSINESS:
        accounts = []
    valid_from = valid_from or delegation.valid_from
    valid_to = delegation.valid_to if valid_to is _UNCHANGED else valid_to
    _validate_delegation_terms(delegation.importer, delegation.broker, coverage, accounts, valid_from, valid_to)
    scope_fields = _scope_fields(scopes) if scopes is not None else {}
    after = {
        "coverage": coverage,
        "program_accounts": sorted(pa.number for pa in accounts),
        "scopes": [f for f in DELEGATION_FLAGS if scope_fields.get(f"scope_{f}", getattr(delegation, f"scope_{f}"))],
        "valid_from": valid_from,
        "valid_to": valid_to,
        "note": delegation.note if note is None else note,
    }
    changes = {key: [before[key], after[key]] for key in before if before[key] != after[key]}
    if not changes:
        return delegation
    if not importer_side and not _is_narrowing(before, after):
        raise ApplicationError(
            _("A broker may only narrow a delegation (fewer RM accounts or scopes, shorter dates). "
              "Ask the importer's Business Account Manager to extend it."),
            field_errors={"__all__": [_("Only the importer can extend a delegation.")]},
        )
    delegation.coverage = coverage
    delegation.valid_from = valid_from
    delegation.valid_to = valid_to
    delegation.note = after["note"]
    for field, value in scope_fields.items():
        setattr(delegation, field, value)
    delegation.save(update_fields=["coverage", "valid_from", "valid_to", "note", *scope_fields])
    delegation.program_accounts.set(accounts)
    if importer_side and not broker_side and not can_decide_delegation(actor, delegation):
        # A PAM keeps a delegation within its own RM accounts (the exception rolls back).
        raise ApplicationError(
            _("You may only cover the RM accounts you manage."),
            field_errors={"program_accounts": [_("Only your own RM accounts.")]},
        )
    audit.record("accounts.delegation.changed", actor=actor, target=delegation, acting_for=delegation.importer,
                 changes=changes)
    return delegation


# --- Broker client groups ----------------------------------------------------------------------

@transaction.atomic
def client_group_save(*, actor: User, broker: Business, name: str, client_ids: list[int],
                      member_ids: list[int], group: ClientGroup | None = None) -> ClientGroup:
    """The broker's BAM puts clients into a group and assigns its own employees to it."""
    _require_manager(actor, broker, Right.MANAGE_USERS)
    clients = Business.objects.filter(
        id__in=client_ids, delegations_granted__broker=broker,
        delegations_granted__status=Delegation.Status.ACTIVE,
    ).distinct()
    members = User.objects.filter(
        id__in=member_ids, memberships__business=broker, memberships__status=Membership.Status.ACTIVE
    ).distinct()
    if len(set(client_ids)) != clients.count():
        raise ApplicationError(_("Only clients that delegated to your firm can be grouped."),
                               field_errors={"clients": [_("Not a client of this firm.")]})
    if len(set(member_ids)) != members.count():
        raise ApplicationError(_("Only your firm's employees can be assigned."),
                               field_errors={"members": [_("Not an employee of this firm.")]})
    if group is None:
        group = ClientGroup(broker=broker)
    elif group.broker_id != broker.pk:
        raise Http404
    group.name = name
    _full_clean(group)
    group.save()
    group.clients.set(clients)
    group.members.set(members)
    audit.record("accounts.client_group.saved", actor=actor, target=group, acting_for=broker,
                 changes={"clients": [c.pk for c in clients], "members": [m.email for m in members]})
    return group
