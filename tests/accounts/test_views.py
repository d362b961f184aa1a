"""Browser pages of the accounts app: rendering, the access gate (404 outside it), forms and services."""

import re

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from accounts.acting import SESSION_KEY
from accounts.models import AuditEvent, Business, ClientGroup, Delegation, Membership
from accounts.roles import Role
from tests import factories
from tests.clock import stay_on

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()
_on_today = stay_on(TODAY)  # the day does not turn during the run


def login(client, user):
    client.force_login(user)
    return client


def grant_data(broker_bn9, **extra):
    data = {
        "broker_bn9": broker_bn9, "coverage": "business",
        "scopes": ["financial", "cad_submit", "adjust", "appeals", "security"],
        "valid_from": TODAY.isoformat(), "valid_to": "", "note": "",
    }
    data.update(extra)
    return data


def pending_membership(business, role=Role.READER):
    return Membership.objects.create(user=factories.make_user(), business=business, role=role)


# --- Pages render for the right user ------------------------------------------------------------

@pytest.mark.parametrize("name", [
    "dashboard", "business", "business-edit", "users", "delegations", "delegation-grant", "audit",
    "switch-account", "membership-request", "password_change",
])
def test_importer_bam_pages_render(client, importer, name):
    response = login(client, importer.bam).get(reverse(name))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Acting for <strong>Maple Imports Inc.</strong>" in html
    assert 'action="/i18n/setlang/"' in html and 'action="/logout/"' in html


@pytest.mark.parametrize("name", [
    "dashboard", "delegations", "delegation-request", "client-group-create", "users", "audit", "switch-account",
])
def test_broker_bam_pages_render(client, broker, name):
    assert login(client, broker.bam).get(reverse(name)).status_code == 200


def test_anonymous_user_is_sent_to_login_and_auth_pages_render(client):
    response = client.get(reverse("dashboard"))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))
    for name in ("login", "password_reset", "password_reset_done", "password_reset_complete"):
        assert client.get(reverse(name)).status_code == 200, name
    assert "Email address" in client.get(reverse("login")).content.decode()


def test_login_with_email(client, importer):
    response = client.post(reverse("login"), {"username": importer.bam.email.upper(), "password": factories.PASSWORD})
    assert response.status_code == 302 and response.url == reverse("dashboard")
    assert client.get(reverse("dashboard")).status_code == 200


def test_logout_is_a_post(client, importer):
    login(client, importer.bam)
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session


def test_user_without_business_sees_register_and_join(client):
    response = login(client, factories.make_user()).get(reverse("dashboard"))
    assert response.status_code == 200
    assert reverse("business-register") in response.content.decode()
    for name in ("business-register", "membership-request", "business"):
        assert client.get(reverse(name)).status_code == 200
    for name in ("business-edit", "users", "delegations", "audit", "delegation-grant", "delegation-request"):
        assert client.get(reverse(name)).status_code == 404, name


def test_reader_sees_read_only_pages(client, importer):
    reader = factories.add_member(importer, role=Role.READER)
    pending_membership(importer)
    login(client, reader)
    business = client.get(reverse("business")).content.decode()
    assert "Maple Imports Inc." in business and reverse("business-edit") not in business
    users = client.get(reverse("users")).content.decode()
    assert reader.email in users and "Approve" not in users and "Change role" not in users
    for name in ("business-edit", "audit", "delegation-grant", "client-group-create", "delegation-request"):
        assert client.get(reverse(name)).status_code == 404, name


# --- Dashboard ----------------------------------------------------------------------------------

def test_importer_dashboard_shows_one_card_per_account_with_missing_items(client, importer):
    html = login(client, importer.bam).get(reverse("dashboard")).content.decode()
    for pa in importer.program_accounts.all():
        assert pa.number in html
    assert "No broker delegation in force." in html
    assert "Overall readiness" in html
    assert reverse("delegations") in html  # next-step link


def test_broker_without_delegation_sees_no_clients(client, broker, importer):
    html = login(client, broker.bam).get(reverse("dashboard")).content.decode()
    assert "does not act for any client yet" in html
    assert "Maple Imports" not in html


def test_grant_then_broker_sees_the_client(client, importer, broker):
    response = login(client, importer.bam).post(reverse("delegation-grant"), grant_data(broker.bn9))
    assert response.status_code == 302
    delegation = Delegation.objects.get(importer=importer, broker=broker)
    assert delegation.status == Delegation.Status.ACTIVE and delegation.scopes == [
        "financial", "cad_submit", "adjust", "appeals", "security"]
    assert AuditEvent.objects.filter(action="accounts.delegation.granted", acting_for=importer).exists()

    client.logout()
    response = login(client, broker.bam).get(reverse("dashboard"))
    rows = response.context["client_rows"]
    assert {r.program_account.number for r in rows} == set(importer.program_accounts.values_list("number", flat=True))
    assert "Maple Imports Inc." in response.content.decode()


def test_program_grant_covers_only_the_ticked_accounts(client, importer, broker):
    first, _second = importer.program_accounts.all()
    login(client, importer.bam).post(reverse("delegation-grant"), grant_data(
        broker.bn9, coverage="program", program_accounts=[first.pk], scopes=["financial"]))
    client.logout()
    rows = login(client, broker.bam).get(reverse("dashboard")).context["client_rows"]
    assert [r.program_account.number for r in rows] == [first.number]


def test_broker_clients_sort_and_switch(client, broker):
    ready = factories.make_business(name="Aaa Ready Ltd.", accounts=1, accounts_itself=True,
                                    payment_method="pad", billing_contact_email="ap@example.com")
    factories.add_member(ready, role=Role.BAM)
    factories.add_member(ready, role=Role.BAM)
    ready.program_accounts.update(rpp_status="enrolled")
    late = factories.make_business(name="Zzz Late Ltd.", accounts=1)
    for client_business in (ready, late):
        factories.make_delegation(client_business, broker)
    login(client, broker.bam)
    names = lambda sort: [r.program_account.business.legal_name  # noqa: E731
                          for r in client.get(reverse("dashboard"), {"sort": sort}).context["client_rows"]]
    assert names("score") == ["Zzz Late Ltd.", "Aaa Ready Ltd."]
    assert names("-score") == ["Aaa Ready Ltd.", "Zzz Late Ltd."]
    assert names("-missing") == ["Zzz Late Ltd.", "Aaa Ready Ltd."]
    assert names("client") == ["Aaa Ready Ltd.", "Zzz Late Ltd."]
    assert names("nonsense") == names("score")

    response = client.post(reverse("switch-account"), {"business": late.pk, "next": reverse("business")})
    assert response.status_code == 302 and response.url == reverse("business")
    assert client.session[SESSION_KEY] == late.pk
    assert "Zzz Late Ltd." in client.get(reverse("business")).content.decode()


def _add_clients(broker, n):
    for _ in range(n):
        client_business = factories.make_business(accounts=1)
        factories.add_member(client_business, role=Role.BAM)
        factories.make_delegation(client_business, broker)


def test_broker_dashboard_query_count_is_constant(client, broker, django_assert_max_num_queries):
    login(client, broker.bam)
    _add_clients(broker, 2)
    with django_assert_max_num_queries(40) as small:
        response = client.get(reverse("dashboard"))
    assert len(response.context["client_rows"]) == 2
    _add_clients(broker, 10)
    with django_assert_max_num_queries(len(small)):
        response = client.get(reverse("dashboard"))
    assert len(response.context["client_rows"]) == 12


# --- Importer A never reaches importer B's objects ----------------------------------------------

def test_cannot_switch_to_another_importer(client, importer, other_importer):
    login(client, importer.bam)
    assert client.post(reverse("switch-account"), {"business": other_importer.pk}).status_code == 404
    assert client.post(reverse("switch-account"), {"business": "nope"}).status_code == 404
    assert client.session.get(SESSION_KEY) != other_importer.pk
    assert "Other Goods" not in client.get(reverse("dashboard")).content.decode()


def test_cannot_decide_edit_or_remove_another_importers_membership(client, importer, other_importer):
    pending = pending_membership(other_importer)
    login(client, importer.bam)
    assert client.post(reverse("membership-decide", args=[pending.pk]), {"decision": "approve"}).status_code == 404
    pending.refresh_from_db()
    assert pending.status == Membership.Status.PENDING
    theirs = other_importer.memberships.get(user=other_importer.bam)
    assert client.get(reverse("membership-edit", args=[theirs.pk])).status_code == 404
    assert client.post(reverse("membership-edit", args=[theirs.pk]), {"role": "reader"}).status_code == 404
    assert client.post(reverse("membership-remove", args=[theirs.pk])).status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == Membership.Status.ACTIVE and theirs.role == Role.BAM
    assert client.get(reverse("users"), {"business": other_importer.pk}).status_code == 404
    assert client.get(reverse("audit"), {"business": other_importer.pk}).status_code == 404


def test_cannot_revoke_or_decide_another_importers_delegation(client, importer, other_importer, broker):
    active = factories.make_delegation(other_importer, broker)
    other_broker = factories.make_business(kind=Business.Kind.BROKER, accounts=0)
    requested = factories.make_delegation(other_importer, other_broker, status=Delegation.Status.REQUESTED)
    login(client, importer.bam)
    assert client.get(reverse("delegation-revoke", args=[active.pk])).status_code == 404
    assert client.post(reverse("delegation-revoke", args=[active.pk])).status_code == 404
    assert client.post(reverse("delegation-decide", args=[requested.pk]), {"decision": "approve"}).status_code == 404
    active.refresh_from_db()
    requested.refresh_from_db()
    assert active.status == Delegation.Status.ACTIVE and requested.status == Delegation.Status.REQUESTED
    assert "Border Brokers" not in client.get(reverse("delegations")).content.decode()


def test_broker_cannot_reach_another_brokers_group_or_delegation(client, broker, importer):
    other_broker = factories.make_business(kind=Business.Kind.BROKER, accounts=0)
    group = ClientGroup.objects.create(broker=other_broker, name="Theirs")
    theirs = factories.make_delegation(importer, other_broker)
    login(client, broker.bam)
    assert client.get(reverse("client-group-edit", args=[group.pk])).status_code == 404
    assert client.post(reverse("delegation-revoke", args=[theirs.pk])).status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == Delegation.Status.ACTIVE


def test_broker_employee_cannot_manage_the_clients_users(client, importer, broker):
    factories.make_delegation(importer, broker)
    login(client, broker.bam)
    pending = pending_membership(importer)
    assert client.post(reverse("membership-decide", args=[pending.pk]), {"decision": "approve"}).status_code == 404
    assert client.get(reverse("business-edit")).status_code == 404  # acting for the client, not its BAM
    users = client.get(reverse("users"))
    assert users.context["business"] == broker


# --- Business profile, registration, joining ----------------------------------------------------

def test_bam_edits_the_profile(client, importer):
    login(client, importer.bam)
    data = {"legal_name": "Maple Imports Inc.", "operating_name": "Maple", "street": "1 Main St", "city": "Ottawa",
            "province": "ON", "postal_code": "K1A 0B1", "country": "CA", "is_non_resident": "",
            "accounts_itself": "on", "payment_method": "pad", "billing_contact_email": "ap@maple.example",
            "offsetting_preference": "manual"}
    response = client.post(reverse("business-edit"), data)
    assert response.status_code == 302
    importer.refresh_from_db()
    assert (importer.payment_method, importer.accounts_itself, importer.offsetting_preference) == ("pad", True, "manual")
    event = AuditEvent.objects.get(action="accounts.business.updated")
    assert event.changes["payment_method"] == ["", "pad"]
    assert "ap@maple.example" in client.get(reverse("audit")).content.decode()


def test_profile_errors_show_on_the_form(client, importer):
    login(client, importer.bam)
    response = client.post(reverse("business-edit"), {"legal_name": "", "country": "CA",
                                                      "offsetting_preference": "manual", "billing_contact_email": "x"})
    assert response.status_code == 200
    assert set(response.context["form"].errors) >= {"legal_name", "billing_contact_email"}


def register_data(**extra):
    data = {"kind": "importer", "legal_name": "New Co Ltd.", "bn9": "123456782",
            "program_account_number": "123456782RM0001", "country": "CA"}
    data.update(extra)
    return data


def test_register_a_business(client):
    user = factories.make_user()
    response = login(client, user).post(reverse("business-register"), register_data())
    assert response.status_code == 302
    business = Business.objects.get(bn9="123456782")
    assert business.memberships.get().user == user and business.memberships.get().role == Role.BAM
    assert client.session[SESSION_KEY] == business.pk
    assert "New Co Ltd." in client.get(reverse("dashboard")).content.decode()


@pytest.mark.parametrize("field,data", [
    ("bn9", register_data(bn9="123456789", program_account_number="123456789RM0001")),
    ("program_account_number", register_data(program_account_number="123026635RM0001")),
    ("bn9", register_data(bn9="12345")),
])
def test_bad_numbers_show_a_field_error_and_store_nothing(client, field, data):
    response = login(client, factories.make_user()).post(reverse("business-register"), data)
    assert response.status_code == 200
    assert response.context["form"].errors[field]
    assert 'class="field-errors"' in response.content.decode()
    assert not Business.objects.exists() and not Membership.objects.exists()


def test_register_an_existing_bn_is_a_field_error(client, importer):
    data = register_data(bn9=importer.bn9, program_account_number=f"{importer.bn9}RM0009")
    response = login(client, factories.make_user()).post(reverse("business-register"), data)
    assert "bn9" in response.context["form"].errors


def test_member_of_a_business_cannot_register_another(client, importer):
    response = login(client, importer.bam).get(reverse("business-register"))
    assert response.status_code == 302


def test_join_a_business_then_bam_approves(client, importer):
    employee = factories.make_user()
    login(client, employee)
    response = client.post(reverse("membership-request"), {"bn9": "000000000", "role": "reader"})
    assert response.context["form"].errors["bn9"]
    response = client.post(reverse("membership-request"), {"bn9": importer.bn9, "role": "pam"})
    assert response.context["form"].errors["program_account_number"]
    response = client.post(reverse("membership-request"), {"bn9": importer.bn9, "role": "editor"})
    assert response.status_code == 302
    membership = Membership.objects.get(user=employee)
    assert membership.status == Membership.Status.PENDING

    client.logout()
    login(client, importer.bam)
    assert employee.email in client.get(reverse("users")).content.decode()
    client.post(reverse("membership-decide", args=[membership.pk]), {"decision": "approve"})
    membership.refresh_from_db()
    assert membership.status == Membership.Status.ACTIVE


# --- Users and roles ----------------------------------------------------------------------------

def test_change_role_and_remove(client, importer):
    reader = factories.add_member(importer, role=Role.READER)
    membership = importer.memberships.get(user=reader)
    login(client, importer.bam)
    response = client.post(reverse("membership-edit", args=[membership.pk]), {"role": "pam", "program_account": ""})
    assert response.status_code == 200 and response.context["form"].errors["program_account"]
    account = importer.program_accounts.first()
    response = client.post(reverse("membership-edit", args=[membership.pk]),
                           {"role": "pam", "program_account": account.pk})
    assert response.status_code == 302
    membership.refresh_from_db()
    assert (membership.role, membership.program_account) == (Role.PAM, account)

    assert client.get(reverse("membership-remove", args=[membership.pk])).status_code == 200
    client.post(reverse("membership-remove", args=[membership.pk]))
    membership.refresh_from_db()
    assert membership.status == Membership.Status.REMOVED


def test_pam_manages_only_the_people_of_its_rm(client, importer):
    first, _second = importer.program_accounts.all()
    pam = factories.add_member(importer, role=Role.PAM, program_account=first)
    on_rm = importer.memberships.get(user=factories.add_member(importer, role=Role.EDITOR, program_account=first))
    business_wide = importer.memberships.get(user=factories.add_member(importer, role=Role.READER))
    login(client, pam)
    assert client.get(reverse("users")).status_code == 200
    assert client.get(reverse("membership-edit", args=[business_wide.pk])).status_code == 404
    assert client.post(reverse("membership-remove", args=[business_wide.pk])).status_code == 404
    response = client.post(reverse("membership-edit", args=[on_rm.pk]), {"role": "reader", "program_account": first.pk})
    assert response.status_code == 302
    on_rm.refresh_from_db()
    assert on_rm.role == Role.READER
    assert client.get(reverse("business-edit")).status_code == 404
    form = client.get(reverse("delegation-grant")).context["form"]
    assert [value for value, _label in form.fields["coverage"].choices] == ["program"]
    assert list(form.fields["program_accounts"].queryset) == [first]


def test_the_last_bam_cannot_be_removed(client, importer):
    own = importer.memberships.get(user=importer.bam)
    response = login(client, importer.bam).post(reverse("membership-remove", args=[own.pk]), follow=True)
    own.refresh_from_db()
    assert own.status == Membership.Status.ACTIVE
    assert "at least one Business Account Manager" in response.content.decode()


# --- Delegations --------------------------------------------------------------------------------

def test_broker_requests_and_importer_approves_then_revokes(client, importer, broker):
    first = importer.program_accounts.first()
    login(client, broker.bam)
    response = client.post(reverse("delegation-request"), {
        "importer_bn9": importer.bn9, "coverage": "program", "program_account_numbers": f"{first.number}, ",
        "scopes": ["cad_submit", "adjust"], "valid_from": TODAY.isoformat(),
    })
    assert response.status_code == 302
    delegation = Delegation.objects.get(importer=importer, broker=broker)
    assert delegation.status == Delegation.Status.REQUESTED and list(delegation.program_accounts.all()) == [first]
    assert importer.legal_name in client.get(reverse("delegations")).content.decode()

    client.logout()
    login(client, importer.bam)
    assert "Border Brokers" in client.get(reverse("delegations")).content.decode()
    client.post(reverse("delegation-decide", args=[delegation.pk]), {"decision": "approve"})
    delegation.refresh_from_db()
    assert delegation.status == Delegation.Status.ACTIVE

    assert client.get(reverse("delegation-revoke", args=[delegation.pk])).status_code == 200
    assert client.post(reverse("delegation-revoke", args=[delegation.pk])).status_code == 302
    delegation.refresh_from_db()
    assert delegation.status == Delegation.Status.REVOKED


def test_delegation_form_errors(client, importer, broker):
    login(client, importer.bam)
    response = client.post(reverse("delegation-grant"), grant_data("123026635"))
    assert response.context["form"].errors["broker_bn9"]
    response = client.post(reverse("delegation-grant"), grant_data(broker.bn9, scopes=[]))
    assert response.context["form"].errors["scopes"]
    response = client.post(reverse("delegation-grant"), grant_data(broker.bn9, coverage="program"))
    assert response.context["form"].errors["program_accounts"]
    assert not Delegation.objects.exists()
    client.logout()
    response = login(client, broker.bam).post(reverse("delegation-request"), {
        "importer_bn9": importer.bn9, "coverage": "program", "program_account_numbers": "123026635RM0001",
        "scopes": ["financial"], "valid_from": TODAY.isoformat()})
    assert response.context["form"].errors["program_account_numbers"]
    assert not Delegation.objects.exists()


def test_client_group_gives_an_employee_its_clients(client, importer, other_importer, broker):
    factories.make_delegation(importer, broker)
    factories.make_delegation(other_importer, broker)
    employee = factories.add_member(broker, role=Role.EDITOR)
    login(client, broker.bam)
    response = client.post(reverse("client-group-create"), {
        "name": "Maple team", "clients": [importer.pk], "members": [employee.pk]})
    assert response.status_code == 302
    group = ClientGroup.objects.get(broker=broker)
    assert list(group.clients.all()) == [importer] and list(group.members.all()) == [employee]
    response = client.post(reverse("client-group-edit", args=[group.pk]), {
        "name": "Maple team", "clients": [importer.pk, other_importer.pk], "members": [employee.pk]})
    assert response.status_code == 302 and group.clients.count() == 2
    client.post(reverse("client-group-edit", args=[group.pk]), {
        "name": "Maple team", "clients": [importer.pk], "members": [employee.pk]})

    client.logout()
    rows = login(client, employee).get(reverse("dashboard")).context["client_rows"]
    assert {r.program_account.business for r in rows} == {importer}
    assert client.get(reverse("client-group-create")).status_code == 404


# --- Audit, lockout, password reset, French -------------------------------------------------------

def test_audit_trail_is_paginated_and_for_the_bam_only(client, importer):
    for i in range(30):
        AuditEvent.objects.create(action=f"test.event.{i}", acting_for=importer, target_repr=f"thing {i}")
    login(client, importer.bam)
    first = client.get(reverse("audit"))
    assert first.status_code == 200 and len(first.context["page"].object_list) == 25
    assert len(client.get(reverse("audit"), {"page": 2}).context["page"].object_list) == 5
    pam = factories.add_member(importer, role=Role.PAM, program_account=importer.program_accounts.first())
    client.logout()
    assert login(client, pam).get(reverse("audit")).status_code == 404


def test_lockout_after_too_many_failed_logins(client, importer):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        response = client.post(reverse("login"), {"username": importer.bam.email, "password": "wrong"})
    assert response.status_code == 429
    response = client.post(reverse("login"), {"username": importer.bam.email, "password": factories.PASSWORD})
    assert response.status_code == 429
    assert "Too many failed login attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_password_reset_flow(client, importer, mailoutbox):
    response = client.post(reverse("password_reset"), {"email": importer.bam.email})
    assert response.status_code == 302 and response.url == reverse("password_reset_done")
    assert len(mailoutbox) == 1 and mailoutbox[0].to == [importer.bam.email]
    link = re.search(r"http://testserver(/password/reset/\S+/)", mailoutbox[0].body).group(1)
    response = client.get(link, follow=True)
    assert response.context["validlink"]
    response = client.post(response.redirect_chain[-1][0], {"new_password1": "N3w-secret-pass",
                                                             "new_password2": "N3w-secret-pass"})
    assert response.url == reverse("password_reset_complete")
    importer.bam.refresh_from_db()
    assert importer.bam.check_password("N3w-secret-pass")
    assert "no longer works" in client.get(link, follow=True).content.decode()


def test_french_page(client, importer):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "fr"
    html = login(client, importer.bam).get(reverse("dashboard")).content.decode()
    assert '<html lang="fr">' in html
    assert "Tableau de bord" in html
    assert "Vous agissez au nom de <strong>Maple Imports Inc.</strong>" in html
    # Strings from the accounts app itself (readiness checks, roles) are translated too.
    assert "Au moins un gestionnaire de compte d&#x27;entreprise actif" in html
    assert "Dashboard" not in html and "Overall readiness" not in html


def test_language_switch_sets_the_cookie(client):
    response = client.post("/i18n/setlang/", {"language": "fr", "next": "/login/"})
    assert response.status_code == 302
    assert "Se connecter au Portail GCRA" in client.get(reverse("login")).content.decode()
