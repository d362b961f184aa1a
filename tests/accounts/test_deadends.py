"""No dead ends (issue #12 item 6) in accounts: change a delegation in place; BN format errors first."""

from datetime import timedelta

import pytest
from django.http import Http404
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts import services
from accounts.access import program_accounts_for
from accounts.models import AuditEvent, Delegation
from accounts.roles import Role, Scope
from carm_portal.exceptions import ApplicationError
from tests import factories
from tests.clock import stay_on

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()
_on_today = stay_on(TODAY)

ALL_SCOPES = ["financial", "cad_submit", "adjust", "appeals", "security"]


def reachable(user, scope=Scope.BILLING):
    return set(program_accounts_for(user, scope).values_list("number", flat=True))


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user=user)
    return client


# --- Change a delegation in place -------------------------------------------------------------

def test_importer_extends_a_delegation_to_a_second_rm_without_cutting_the_broker_off(importer, broker):
    first, second = importer.program_accounts.order_by("number")
    delegation = factories.make_delegation(importer, broker, accounts=[first])
    assert reachable(broker.bam) == {first.number}

    services.delegation_update(actor=importer.bam, delegation=delegation, program_accounts=[first, second])

    delegation.refresh_from_db()
    assert delegation.status == Delegation.Status.ACTIVE and delegation.revoked_at is None
    assert reachable(broker.bam) == {first.number, second.number}  # the gate follows at once
    event = AuditEvent.objects.get(action="accounts.delegation.changed")
    assert event.actor == importer.bam and event.acting_for == importer
    assert event.changes == {"program_accounts": [[first.number], [first.number, second.number]]}


def test_importer_narrows_scopes_and_dates_and_the_gate_follows(importer, broker):
    delegation = factories.make_delegation(importer, broker)
    assert reachable(broker.bam, Scope.SUBMIT_CADS)
    services.delegation_update(actor=importer.bam, delegation=delegation,
                               scopes={"financial": True}, valid_to=TODAY + timedelta(days=30))
    assert reachable(broker.bam, Scope.SUBMIT_CADS) == set()
    assert len(reachable(broker.bam, Scope.BILLING)) == 2
    delegation.refresh_from_db()
    assert delegation.scopes == ["financial"] and delegation.valid_to == TODAY + timedelta(days=30)


def test_nothing_changed_records_nothing(importer, broker):
    delegation = factories.make_delegation(importer, broker)
    services.delegation_update(actor=importer.bam, delegation=delegation, scopes=dict.fromkeys(ALL_SCOPES, True))
    assert not AuditEvent.objects.filter(action="accounts.delegation.changed").exists()


def test_broker_may_narrow_but_not_widen(importer, broker):
    first, second = importer.program_accounts.order_by("number")
    delegation = factories.make_delegation(importer, broker, accounts=[first], valid_to=TODAY + timedelta(days=10))
    for widen in ({"program_accounts": [first, second]}, {"coverage": Delegation.Coverage.BUSINESS},
                  {"valid_to": None}, {"valid_to": TODAY + timedelta(days=11)}):
        with pytest.raises(ApplicationError):
            services.delegation_update(actor=broker.bam, delegation=delegation, **widen)
    delegation.refresh_from_db()
    assert [pa.number for pa in delegation.program_accounts.all()] == [first.number]
    assert delegation.valid_to == TODAY + timedelta(days=10)

    services.delegation_update(actor=broker.bam, delegation=delegation, scopes={"financial": True},
                               valid_to=TODAY + timedelta(days=5))
    delegation.refresh_from_db()
    assert delegation.scopes == ["financial"] and delegation.valid_to == TODAY + timedelta(days=5)
    assert AuditEvent.objects.get(action="accounts.delegation.changed").actor == broker.bam


def test_business_delegation_narrowed_to_one_rm_by_the_broker(importer, broker):
    first, _second = importer.program_accounts.order_by("number")
    delegation = factories.make_delegation(importer, broker)
    services.delegation_update(actor=broker.bam, delegation=delegation,
                               coverage=Delegation.Coverage.PROGRAM, program_accounts=[first])
    assert reachable(broker.bam) == {first.number}


def test_a_pam_keeps_the_delegation_within_its_own_rm(importer, broker):
    first, second = importer.program_accounts.order_by("number")
    pam = factories.add_member(importer, role=Role.PAM, program_account=first)
    delegation = factories.make_delegation(importer, broker, accounts=[first])
    with pytest.raises(ApplicationError):
        services.delegation_update(actor=pam, delegation=delegation, program_accounts=[first, second])
    assert reachable(broker.bam) == {first.number}
    services.delegation_update(actor=pam, delegation=delegation, scopes={"appeals": True})
    assert reachable(broker.bam, Scope.APPEALS) == {first.number}


def test_strangers_and_closed_delegations(importer, other_importer, broker):
    delegation = factories.make_delegation(importer, broker)
    with pytest.raises(Http404):
        services.delegation_update(actor=other_importer.bam, delegation=delegation, scopes={"financial": True})
    delegation.status = Delegation.Status.REVOKED
    delegation.save()
    with pytest.raises(ApplicationError):
        services.delegation_update(actor=importer.bam, delegation=delegation, scopes={"financial": True})


def test_dates_out_of_order_are_a_field_error(importer, broker):
    delegation = factories.make_delegation(importer, broker)
    with pytest.raises(ApplicationError) as err:
        services.delegation_update(actor=importer.bam, delegation=delegation, valid_to=TODAY - timedelta(days=1))
    assert "valid_to" in err.value.field_errors


def test_edit_page_extends_in_place(client, importer, broker):
    first, second = importer.program_accounts.order_by("number")
    delegation = factories.make_delegation(importer, broker, accounts=[first])
    client.force_login(importer.bam)
    page = client.get(reverse("delegations"))
    assert reverse("delegation-edit", args=[delegation.pk]) in page.content.decode()
    url = reverse("delegation-edit", args=[delegation.pk])
    assert client.get(url).status_code == 200
    response = client.post(url, {
        "coverage": "program", "program_accounts": [first.pk, second.pk], "scopes": ALL_SCOPES,
        "valid_from": delegation.valid_from.isoformat(), "valid_to": "", "note": "",
    })
    assert response.status_code == 302
    assert reachable(broker.bam) == {first.number, second.number}
    assert Delegation.objects.filter(importer=importer, broker=broker).count() == 1


def test_edit_page_shows_the_broker_s_widening_as_a_form_error(client, importer, broker):
    first, _second = importer.program_accounts.order_by("number")
    delegation = factories.make_delegation(importer, broker, accounts=[first], valid_to=TODAY + timedelta(days=3))
    client.force_login(broker.bam)
    response = client.post(reverse("delegation-edit", args=[delegation.pk]), {
        "coverage": "program", "program_accounts": [first.pk], "scopes": ALL_SCOPES,
        "valid_from": delegation.valid_from.isoformat(), "valid_to": "", "note": "",
    })
    assert response.status_code == 200
    assert "Only the importer can extend a delegation." in response.content.decode()


def test_edit_page_is_404_outside_the_gate(client, importer, other_importer, broker):
    delegation = factories.make_delegation(importer, broker)
    client.force_login(other_importer.bam)
    assert client.get(reverse("delegation-edit", args=[delegation.pk])).status_code == 404


def test_api_change_extends_and_answers_400_on_bad_input(importer, broker):
    first, second = importer.program_accounts.order_by("number")
    delegation = factories.make_delegation(importer, broker, accounts=[first])
    url = reverse("api-delegation-change", args=[delegation.pk])
    response = api(importer.bam).post(url, {"program_account_numbers": [first.number, second.number]},
                                      format="json")
    assert response.status_code == 200, response.content
    assert {pa["number"] for pa in response.json()["program_accounts"]} == {first.number, second.number}
    assert reachable(broker.bam) == {first.number, second.number}

    bad = api(importer.bam).post(url, {"program_account_numbers": ["123"], "valid_to": "soon"}, format="json")
    assert bad.status_code == 400
    assert set(bad.json()) >= {"program_account_numbers", "valid_to"} or "field_errors" in bad.json()

    widen = api(broker.bam).post(url, {"valid_to": None, "coverage": "business"}, format="json")
    assert widen.status_code == 400


# --- BN format before lookup -------------------------------------------------------------------

@pytest.mark.parametrize("bn", ["123", "12345678a", "123456789"])
def test_services_say_format_not_not_found(bn, importer, broker):
    with pytest.raises(ApplicationError) as err:
        services.delegation_grant(actor=importer.bam, importer=importer, broker_bn9=bn)
    assert err.value.field_errors["broker_bn9"] != ["Not found."]
    with pytest.raises(ApplicationError) as err:
        services.delegation_request(actor=broker.bam, broker=broker, importer_bn9=bn)
    assert err.value.field_errors["importer_bn9"] != ["Not found."]
    with pytest.raises(ApplicationError) as err:
        services.membership_request(actor=factories.make_user(), bn9=bn)
    assert err.value.field_errors["bn9"] != ["Not found."]


def test_a_valid_but_unknown_bn_is_still_not_found(importer):
    with pytest.raises(ApplicationError) as err:
        services.delegation_grant(actor=importer.bam, importer=importer, broker_bn9="123456782")
    assert err.value.field_errors["broker_bn9"] == ["Not found."]


@pytest.mark.parametrize("url_name, field, extra", [
    ("delegation-grant", "broker_bn9", {"coverage": "business", "scopes": ALL_SCOPES}),
    ("membership-request", "bn9", {"role": Role.READER}),
])
def test_forms_show_the_format_error_on_the_field(client, importer, url_name, field, extra):
    client.force_login(importer.bam)
    data = {field: "123", "valid_from": TODAY.isoformat(), **extra}
    response = client.post(reverse(url_name), data)
    assert response.status_code == 200
    form = response.context["form"]
    assert form.errors[field] == ["A Business Number has exactly 9 digits."]


def test_request_form_checks_rm_numbers(client, broker):
    client.force_login(broker.bam)
    response = client.post(reverse("delegation-request"), {
        "importer_bn9": "123456782", "coverage": "program", "program_account_numbers": "123, 123456782RM0001",
        "scopes": ALL_SCOPES, "valid_from": TODAY.isoformat(),
    })
    assert response.status_code == 200
    errors = response.context["form"].errors["program_account_numbers"]
    assert len(errors) == 1 and errors[0].startswith("123:")


def test_register_form_checks_the_bn_format(client):
    client.force_login(factories.make_user())
    response = client.post(reverse("business-register"), {
        "kind": "importer", "legal_name": "X", "bn9": "123", "program_account_number": "12", "country": "CA",
    })
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert errors["bn9"] == ["A Business Number has exactly 9 digits."]
    assert "program_account_number" in errors


@pytest.mark.parametrize("body", [
    {"scopes": []}, {"scopes": "financial"}, {"coverage": 5}, {"program_account_numbers": "abc"},
    {"valid_from": "x"}, {"valid_to": "2026-13-40"}, {"note": "n" * 301}, {"coverage": "program", "program_account_numbers": []},
])
def test_api_change_answers_400_on_garbage(importer, broker, body):
    delegation = factories.make_delegation(importer, broker)
    response = api(importer.bam).post(reverse("api-delegation-change", args=[delegation.pk]), body, format="json")
    assert response.status_code == 400, (body, response.content)


def test_api_change_with_nothing_changes_nothing(importer, broker):
    delegation = factories.make_delegation(importer, broker)
    response = api(importer.bam).post(reverse("api-delegation-change", args=[delegation.pk]), {}, format="json")
    assert response.status_code == 200
    assert not AuditEvent.objects.filter(action="accounts.delegation.changed").exists()
