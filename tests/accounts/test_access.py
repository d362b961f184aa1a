"""The access-gate matrix: who sees which program accounts, for which scope, on which day."""

from datetime import timedelta

import pytest
from django.http import Http404
from django.utils import timezone

from accounts import access
from accounts.models import Delegation, Membership
from accounts.roles import ROLE_RIGHTS, Right, Role, Scope
from tests import factories
from tests.clock import stay_on

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()
_on_today = stay_on(TODAY)  # the day does not turn during the run


def numbers(user, scope, on=None):
    return set(access.program_accounts_for(user, scope, on=on).values_list("number", flat=True))


def all_numbers(business):
    return set(business.program_accounts.values_list("number", flat=True))


def test_importer_bam_sees_all_own_accounts_and_nothing_else(importer, other_importer):
    for scope in Scope:
        assert numbers(importer.bam, scope) == all_numbers(importer)
    assert not numbers(importer.bam, Scope.ACCOUNT) & all_numbers(other_importer)
    with pytest.raises(Http404):
        access.get_program_account_or_404(importer.bam, Scope.ACCOUNT, other_importer.program_accounts.get().pk)


def test_pam_is_limited_to_its_own_rm(importer):
    first, second = importer.program_accounts.all()
    pam = factories.add_member(importer, role=Role.PAM, program_account=first)
    assert numbers(pam, Scope.SUBMIT_CADS) == {first.number}
    assert second.number not in numbers(pam, Scope.ACCOUNT)


def test_reader_may_view_but_not_act(importer):
    reader = factories.add_member(importer, role=Role.READER)
    assert numbers(reader, Scope.DECLARATIONS) == all_numbers(importer)
    for scope in (Scope.SUBMIT_CADS, Scope.PAYMENTS, Scope.MANAGE_SECURITY, Scope.FILE_APPEALS,
                  Scope.MANAGE_USERS, Scope.GRANT_DELEGATIONS):
        assert numbers(reader, scope) == set(), scope


def test_pending_rejected_and_removed_memberships_give_nothing(importer):
    for status in (Membership.Status.PENDING, Membership.Status.REJECTED, Membership.Status.REMOVED):
        user = factories.make_user()
        Membership.objects.create(user=user, business=importer, role=Role.BAM, status=status)
        assert numbers(user, Scope.ACCOUNT) == set(), status


def test_inactive_user_sees_nothing(importer):
    importer.bam.is_active = False
    importer.bam.save()
    assert numbers(importer.bam, Scope.ACCOUNT) == set()


@pytest.mark.parametrize(
    "case",
    ["none", "expired", "not_started", "revoked", "requested", "rejected", "wrong_scope", "other_broker"],
)
def test_broker_without_a_valid_delegation_sees_nothing(case, importer, broker):
    yesterday, tomorrow = TODAY - timedelta(days=1), TODAY + timedelta(days=1)
    if case == "expired":
        factories.make_delegation(importer, broker, valid_from=TODAY - timedelta(days=30), valid_to=yesterday)
    elif case == "not_started":
        factories.make_delegation(importer, broker, valid_from=tomorrow)
    elif case in ("revoked", "requested", "rejected"):
        factories.make_delegation(importer, broker, status=case)
    elif case == "wrong_scope":
        factories.make_delegation(importer, broker, cad_submit=False, adjust=False)
    elif case == "other_broker":
        other = factories.make_business(kind="broker", accounts=0)
        factories.make_delegation(importer, other)
    scope = Scope.DECLARATIONS
    assert numbers(broker.bam, scope) == set()
    assert not access.businesses_for(broker.bam, scope).exists()
    with pytest.raises(Http404):
        access.get_program_account_or_404(broker.bam, scope, importer.program_accounts.first().pk)


def test_broker_with_a_program_delegation_sees_exactly_its_accounts_and_scopes(importer, other_importer, broker):
    first, second = importer.program_accounts.all()
    factories.make_delegation(importer, broker, accounts=[first], financial=False, appeals=False)
    assert numbers(broker.bam, Scope.DECLARATIONS) == {first.number}
    assert numbers(broker.bam, Scope.SUBMIT_CADS) == {first.number}
    assert numbers(broker.bam, Scope.SECURITY) == {first.number}
    assert numbers(broker.bam, Scope.BILLING) == set()
    assert numbers(broker.bam, Scope.APPEALS) == set()
    # A broker never manages the client's users or delegations.
    assert numbers(broker.bam, Scope.MANAGE_USERS) == set()
    assert numbers(broker.bam, Scope.GRANT_DELEGATIONS) == set()
    assert list(access.businesses_for(broker.bam)) == [importer]


def test_business_delegation_covers_every_rm_and_ends_on_its_last_day(importer, broker):
    last_day = TODAY + timedelta(days=3)
    factories.make_delegation(importer, broker, valid_to=last_day)
    assert numbers(broker.bam, Scope.BILLING) == all_numbers(importer)
    assert numbers(broker.bam, Scope.BILLING, on=last_day) == all_numbers(importer)
    assert numbers(broker.bam, Scope.BILLING, on=last_day + timedelta(days=1)) == set()


def test_revocation_is_immediate(importer, broker):
    delegation = factories.make_delegation(importer, broker)
    assert numbers(broker.bam, Scope.ACCOUNT)
    delegation.status = Delegation.Status.REVOKED
    delegation.save()
    assert numbers(broker.bam, Scope.ACCOUNT) == set()


def test_broker_employee_role_limits_what_the_delegation_allows(importer, broker):
    factories.make_delegation(importer, broker)
    reader = factories.add_member(broker, role=Role.READER)
    group = broker.client_groups.create(name="Ontario")
    group.clients.add(importer)
    group.members.add(reader)
    assert numbers(reader, Scope.DECLARATIONS) == all_numbers(importer)
    assert numbers(reader, Scope.SUBMIT_CADS) == set()


def test_broker_employee_outside_the_client_group_sees_nothing(importer, broker):
    factories.make_delegation(importer, broker)
    editor = factories.add_member(broker, role=Role.EDITOR)
    assert numbers(editor, Scope.DECLARATIONS) == set()
    group = broker.client_groups.create(name="Quebec")
    group.members.add(editor)
    assert numbers(editor, Scope.DECLARATIONS) == set()
    group.clients.add(importer)
    assert numbers(editor, Scope.SUBMIT_CADS) == all_numbers(importer)


def test_role_rights_table():
    assert ROLE_RIGHTS[Role.BAM] == frozenset(Right)
    assert ROLE_RIGHTS[Role.PAM] == frozenset(Right)
    assert ROLE_RIGHTS[Role.EDITOR] == {Right.VIEW, Right.SUBMIT_CADS, Right.PAY, Right.FILE_APPEALS}
    assert ROLE_RIGHTS[Role.READER] == {Right.VIEW}


def test_gate_is_a_constant_number_of_queries(importer, broker, django_assert_num_queries):
    factories.make_delegation(importer, broker)
    for _ in range(5):
        factories.make_delegation(factories.make_business(accounts=3), broker)
    # One query for the ids (a literal IN list the planner estimates exactly), one for the rows.
    with django_assert_num_queries(2):
        assert len(list(access.program_accounts_for(broker.bam, Scope.ACCOUNT))) == 17
    # Within a request the ids are asked once: later uses cost only their own query, or none.
    theirs = importer.program_accounts.first()
    with access.gate_memo():
        with django_assert_num_queries(1):
            access.program_account_ids_for(broker.bam, Scope.ACCOUNT)
        with django_assert_num_queries(1):
            assert len(list(access.program_accounts_for(broker.bam, Scope.ACCOUNT))) == 17
        with django_assert_num_queries(0):
            assert access.can(broker.bam, Scope.ACCOUNT, theirs)
