import pytest
from django.core.exceptions import ValidationError
from django.http import Http404

from accounts import services
from accounts.models import AuditEvent, Business, Membership
from accounts.roles import Role
from carm_portal.exceptions import ApplicationError
from tests import factories

pytestmark = pytest.mark.django_db


def test_register_business_makes_the_user_its_bam_and_audits(db):
    user = factories.make_user()
    business = services.business_register(actor=user, legal_name="Acme", bn9="123 456 782",
                                          program_account_number="123456782RM0001")
    assert business.bn9 == "123456782"
    assert Membership.objects.get(user=user, business=business).role == Role.BAM
    assert AuditEvent.objects.filter(action="accounts.business.registered", actor=user).exists()


@pytest.mark.parametrize("bn9, rm", [("123456789", "123456789RM0001"), ("123456782", "123456782RT0001"),
                                     ("123456782", "123026635RM0001")])
def test_register_rejects_bad_numbers_and_stores_nothing(bn9, rm):
    user = factories.make_user()
    with pytest.raises(ApplicationError) as err:
        services.business_register(actor=user, legal_name="Acme", bn9=bn9, program_account_number=rm)
    assert err.value.field_errors
    assert not Business.objects.exists()


def test_a_pam_cannot_edit_the_business_or_promote_itself(importer):
    first = importer.program_accounts.first()
    pam = factories.add_member(importer, role=Role.PAM, program_account=first)
    with pytest.raises(Http404):
        services.business_update(actor=pam, business=importer, legal_name="Hijacked")
    membership = Membership.objects.get(user=pam)
    with pytest.raises(Http404):
        services.membership_change_role(actor=pam, membership=membership, role=Role.BAM)
    importer.refresh_from_db()
    assert importer.legal_name == "Maple Imports Inc."


def test_pam_approves_a_request_for_its_own_rm_only(importer):
    first, second = importer.program_accounts.all()
    pam = factories.add_member(importer, role=Role.PAM, program_account=first)
    own = services.membership_request(actor=factories.make_user(), bn9=importer.bn9, role=Role.EDITOR,
                                      program_account_number=first.number)
    other = services.membership_request(actor=factories.make_user(), bn9=importer.bn9, role=Role.EDITOR,
                                        program_account_number=second.number)
    assert services.membership_decide(actor=pam, membership=own, approve=True).status == "active"
    with pytest.raises(Http404):
        services.membership_decide(actor=pam, membership=other, approve=True)


def test_the_last_bam_cannot_be_removed(importer):
    membership = Membership.objects.get(user=importer.bam)
    with pytest.raises(ApplicationError):
        services.membership_remove(actor=importer.bam, membership=membership)


def test_delegation_request_approve_revoke_cycle_is_audited(importer, broker):
    delegation = services.delegation_request(actor=broker.bam, broker=broker, importer_bn9=importer.bn9,
                                             scopes={"cad_submit": True})
    assert delegation.scopes == ["cad_submit"]
    with pytest.raises(Http404):
        services.delegation_decide(actor=broker.bam, delegation=delegation, approve=True)
    services.delegation_decide(actor=importer.bam, delegation=delegation, approve=True)
    services.delegation_revoke(actor=importer.bam, delegation=delegation)
    actions = list(AuditEvent.objects.filter(target_id=str(delegation.pk)).values_list("action", flat=True))
    assert sorted(actions) == ["accounts.delegation.approved", "accounts.delegation.requested",
                               "accounts.delegation.revoked"]


def test_audit_events_are_append_only(importer):
    event = AuditEvent.objects.create(action="x.y", actor=importer.bam)
    with pytest.raises(ValidationError):
        event.save()
    with pytest.raises(ValidationError):
        event.delete()
