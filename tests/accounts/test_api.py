"""The accounts REST API: the access matrix through HTTP, the delegation flows, token login,
and constant query counts on list endpoints. Real database, real requests, no mocks."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import AuditEvent, Business, Delegation, ProgramAccount
from accounts.roles import Role
from tests import factories
from tests.clock import stay_on

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()
_on_today = stay_on(TODAY)  # the day does not turn during the run
API = "/api/v1"


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user=user)
    return client


def ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def readiness_ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["program_account"]["id"] for row in response.json()["results"]}


def account_ids(business: Business) -> set[int]:
    return set(business.program_accounts.values_list("id", flat=True))


def grant_payload(importer, broker, **extra):
    return {"importer": importer.pk, "broker_bn9": broker.bn9, **extra}


# --- Access matrix --------------------------------------------------------------------------------


def test_importer_never_sees_another_importers_objects(importer, other_importer, broker):
    mine = factories.make_delegation(importer, broker)
    theirs = factories.make_delegation(other_importer, broker)
    other_account = other_importer.program_accounts.get()
    api = client_for(importer.bam)

    assert ids(api.get(f"{API}/businesses/")) == {importer.pk}
    assert ids(api.get(f"{API}/program-accounts/")) == account_ids(importer)
    assert ids(api.get(f"{API}/delegations/")) == {mine.pk}
    assert readiness_ids(api.get(f"{API}/readiness/")) == account_ids(importer)
    # A filter narrows the gated list; naming another business never widens it.
    assert ids(api.get(f"{API}/program-accounts/", {"business": other_importer.pk})) == set()
    assert readiness_ids(api.get(f"{API}/readiness/", {"business": other_importer.pk})) == set()
    assert ids(api.get(f"{API}/delegations/", {"importer": other_importer.pk})) == set()

    for url in (
        f"{API}/businesses/{other_importer.pk}/",
        f"{API}/program-accounts/{other_account.pk}/",
        f"{API}/delegations/{theirs.pk}/",
        f"{API}/readiness/{other_account.pk}/",
    ):
        assert api.get(url).status_code == 404, url

    response = api.patch(f"{API}/businesses/{other_importer.pk}/", {"city": "Hacked"}, format="json")
    assert response.status_code == 404
    for action in ("approve", "reject", "revoke"):
        assert api.post(f"{API}/delegations/{theirs.pk}/{action}/").status_code == 404
    other_importer.refresh_from_db()
    theirs.refresh_from_db()
    assert other_importer.city == ""
    assert theirs.status == Delegation.Status.ACTIVE


def test_me_lists_memberships_and_businesses(importer, other_importer):
    response = client_for(importer.bam).get(f"{API}/me/")
    assert response.status_code == 200
    body = response.json()
    assert body["user"]["email"] == importer.bam.email
    assert [(m["business"]["id"], m["role"], m["status"]) for m in body["memberships"]] == [
        (importer.pk, Role.BAM, "active")
    ]
    assert [b["id"] for b in body["businesses"]] == [importer.pk]
    assert body["delegations_held"] == []


@pytest.mark.parametrize(
    "case", ["none", "expired", "not_started", "revoked", "requested", "rejected", "wrong_scope"]
)
def test_broker_without_a_valid_delegation_sees_no_client_accounts(case, importer, broker):
    yesterday, tomorrow = TODAY - timedelta(days=1), TODAY + timedelta(days=1)
    if case == "expired":
        factories.make_delegation(importer, broker, valid_from=TODAY - timedelta(days=30), valid_to=yesterday)
    elif case == "not_started":
        factories.make_delegation(importer, broker, valid_from=tomorrow)
    elif case in ("revoked", "requested", "rejected"):
        factories.make_delegation(importer, broker, status=case)
    elif case == "wrong_scope":
        # Financial only: the broker may see billing, but not declarations.
        factories.make_delegation(importer, broker, cad_submit=False, adjust=False, appeals=False, security=False)
    api = client_for(broker.bam)
    scoped = {"scope": "declarations"}

    assert ids(api.get(f"{API}/program-accounts/", scoped)) == set()
    assert readiness_ids(api.get(f"{API}/readiness/", scoped)) == set()
    if case == "wrong_scope":
        assert ids(api.get(f"{API}/program-accounts/", {"scope": "billing"})) == account_ids(importer)
        return
    assert ids(api.get(f"{API}/program-accounts/")) == set()
    assert readiness_ids(api.get(f"{API}/readiness/")) == set()
    assert ids(api.get(f"{API}/businesses/")) == {broker.pk}  # only its own firm
    first = importer.program_accounts.first()
    assert api.get(f"{API}/program-accounts/{first.pk}/").status_code == 404
    assert api.get(f"{API}/readiness/{first.pk}/").status_code == 404
    assert api.get(f"{API}/businesses/{importer.pk}/").status_code == 404
    assert client_for(broker.bam).get(f"{API}/me/").json()["delegations_held"] == []


def test_broker_with_a_program_delegation_sees_exactly_the_delegated_accounts(importer, other_importer, broker):
    first, second = importer.program_accounts.all()
    delegation = factories.make_delegation(importer, broker, accounts=[first], financial=False)
    api = client_for(broker.bam)

    assert ids(api.get(f"{API}/program-accounts/")) == {first.pk}
    assert ids(api.get(f"{API}/program-accounts/", {"scope": "declarations"})) == {first.pk}
    assert ids(api.get(f"{API}/program-accounts/", {"scope": "billing"})) == set()
    assert readiness_ids(api.get(f"{API}/readiness/")) == {first.pk}
    assert ids(api.get(f"{API}/businesses/")) == {importer.pk, broker.pk}
    assert api.get(f"{API}/program-accounts/{first.pk}/").json()["business"]["id"] == importer.pk
    assert api.get(f"{API}/program-accounts/{second.pk}/").status_code == 404
    assert api.get(f"{API}/readiness/{second.pk}/").status_code == 404
    assert api.get(f"{API}/businesses/{other_importer.pk}/").status_code == 404
    # The broker sees the delegation it holds, but never manages the client's business.
    assert ids(api.get(f"{API}/delegations/")) == {delegation.pk}
    assert api.patch(f"{API}/businesses/{importer.pk}/", {"city": "X"}, format="json").status_code == 404

    me = api.get(f"{API}/me/").json()
    assert [d["id"] for d in me["delegations_held"]] == [delegation.pk]
    assert me["delegations_held"][0]["scopes"] == ["cad_submit", "adjust", "appeals", "security"]
    assert [pa["id"] for pa in me["delegations_held"][0]["program_accounts"]] == [first.pk]


def test_readiness_rows_carry_score_and_items(importer):
    account = importer.program_accounts.first()
    response = client_for(importer.bam).get(f"{API}/readiness/{account.pk}/")
    assert response.status_code == 200
    row = response.json()
    assert row["program_account"]["number"] == account.number
    assert row["business"]["id"] == importer.pk
    assert 0 <= row["score"] < 100
    items = {item["key"]: item for item in row["items"]}
    assert {"registered", "bam", "delegation", "payment"} <= set(items)
    assert items["registered"]["ok"] is True
    assert items["payment"]["ok"] is False and items["payment"]["next_step"]
    assert set(items["bam"]) >= {"key", "label", "ok", "detail", "next_step"}


def test_bad_query_parameters_answer_400_not_500(importer):
    api = client_for(importer.bam)
    assert api.get(f"{API}/program-accounts/", {"business": "abc"}).status_code == 400
    assert api.get(f"{API}/program-accounts/", {"scope": "everything"}).status_code == 400
    assert api.get(f"{API}/delegations/", {"status": "bogus"}).status_code == 400
    assert api.get(f"{API}/program-accounts/abc/").status_code == 404


# --- Delegation flows ------------------------------------------------------------------------------


def test_importer_grants_a_business_delegation(importer, broker):
    api = client_for(importer.bam)
    response = api.post(
        f"{API}/delegations/grant/",
        grant_payload(importer, broker, scopes=["financial", "cad_submit"], valid_to=str(TODAY + timedelta(days=90))),
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "active"
    assert body["coverage"] == "business"
    assert body["scopes"] == ["financial", "cad_submit"]
    assert body["broker"]["id"] == broker.pk
    assert AuditEvent.objects.filter(action="accounts.delegation.granted", target_id=str(body["id"])).exists()
    broker_api = client_for(broker.bam)
    assert ids(broker_api.get(f"{API}/program-accounts/", {"scope": "submit_cads"})) == account_ids(importer)
    assert ids(broker_api.get(f"{API}/program-accounts/", {"scope": "appeals"})) == set()


def test_importer_grants_a_program_delegation_for_chosen_accounts(importer, broker):
    first, _second = importer.program_accounts.all()
    response = client_for(importer.bam).post(
        f"{API}/delegations/grant/",
        grant_payload(importer, broker, coverage="program", program_accounts=[first.pk]),
        format="json",
    )
    assert response.status_code == 201, response.content
    assert [pa["id"] for pa in response.json()["program_accounts"]] == [first.pk]
    assert ids(client_for(broker.bam).get(f"{API}/program-accounts/")) == {first.pk}


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"broker_bn9": "123456789"}, "broker_bn9"),  # check digit does not match
        ({"broker_bn9": "12345"}, "broker_bn9"),
        ({"broker_bn9": "123456782"}, "broker_bn9"),  # valid, but no such broker
        ({"scopes": []}, "scopes"),
        ({"scopes": ["everything"]}, "scopes"),
        ({"coverage": "program"}, "program_accounts"),
        ({"valid_from": str(TODAY), "valid_to": str(TODAY - timedelta(days=1))}, "valid_to"),
    ],
)
def test_bad_grant_input_is_400_with_a_field_message_and_stores_nothing(payload, field, importer, broker):
    response = client_for(importer.bam).post(
        f"{API}/delegations/grant/", {**grant_payload(importer, broker), **payload}, format="json"
    )
    assert response.status_code == 400, response.content
    assert response.json()[field]
    assert not Delegation.objects.exists()


def test_grant_cannot_reach_another_importer_or_its_accounts(importer, other_importer, broker):
    api = client_for(importer.bam)
    response = api.post(f"{API}/delegations/grant/", grant_payload(other_importer, broker), format="json")
    assert response.status_code == 400
    assert response.json()["importer"]
    response = api.post(
        f"{API}/delegations/grant/",
        grant_payload(importer, broker, coverage="program",
                      program_accounts=[other_importer.program_accounts.get().pk]),
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["program_accounts"]
    # Readers and editors of the importer grant nothing.
    reader = factories.add_member(importer, role=Role.READER)
    response = client_for(reader).post(f"{API}/delegations/grant/", grant_payload(importer, broker), format="json")
    assert response.status_code == 400
    assert not Delegation.objects.exists()


def test_broker_requests_and_importer_approves(importer, broker):
    first, _second = importer.program_accounts.all()
    broker_api, importer_api = client_for(broker.bam), client_for(importer.bam)
    response = broker_api.post(
        f"{API}/delegations/request/",
        {"importer_bn9": importer.bn9, "coverage": "program", "program_account_numbers": [first.number],
         "scopes": ["cad_submit", "adjust"], "note": "Please"},
        format="json",
    )
    assert response.status_code == 201, response.content
    delegation_id = response.json()["id"]
    assert response.json()["status"] == "requested"
    assert response.json()["broker"]["id"] == broker.pk  # the only firm it manages
    assert ids(broker_api.get(f"{API}/program-accounts/")) == set()
    # The broker cannot approve its own request.
    assert broker_api.post(f"{API}/delegations/{delegation_id}/approve/").status_code == 404

    assert ids(importer_api.get(f"{API}/delegations/", {"status": "requested"})) == {delegation_id}
    response = importer_api.post(f"{API}/delegations/{delegation_id}/approve/")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "active"
    assert ids(broker_api.get(f"{API}/program-accounts/")) == {first.pk}
    # A decided request cannot be decided again.
    response = importer_api.post(f"{API}/delegations/{delegation_id}/reject/")
    assert response.status_code == 400
    assert response.json()["detail"]


def test_importer_rejects_a_request(importer, broker):
    response = client_for(broker.bam).post(
        f"{API}/delegations/request/", {"importer_bn9": importer.bn9}, format="json"
    )
    assert response.status_code == 201, response.content
    delegation_id = response.json()["id"]
    response = client_for(importer.bam).post(f"{API}/delegations/{delegation_id}/reject/")
    assert response.status_code == 200
    assert response.json()["status"] == "rejected"
    assert ids(client_for(broker.bam).get(f"{API}/program-accounts/")) == set()


@pytest.mark.parametrize("side", ["importer", "broker"])
def test_either_side_revokes_and_access_ends_at_once(side, importer, broker):
    delegation = factories.make_delegation(importer, broker)
    broker_api = client_for(broker.bam)
    assert ids(broker_api.get(f"{API}/program-accounts/")) == account_ids(importer)
    actor = importer.bam if side == "importer" else broker.bam
    response = client_for(actor).post(f"{API}/delegations/{delegation.pk}/revoke/")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "revoked"
    assert ids(broker_api.get(f"{API}/program-accounts/")) == set()
    assert client_for(actor).post(f"{API}/delegations/{delegation.pk}/revoke/").status_code == 400


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"importer_bn9": "123456789"}, "importer_bn9"),
        ({"importer_bn9": "abc"}, "importer_bn9"),
        ({"coverage": "program", "program_account_numbers": ["123456782XX0001"]}, "program_account_numbers"),
    ],
)
def test_bad_request_input_is_400_with_a_field_message(payload, field, importer, broker):
    body = {"importer_bn9": importer.bn9, **payload}
    response = client_for(broker.bam).post(f"{API}/delegations/request/", body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()[field]
    assert not Delegation.objects.exists()


def test_only_broker_managers_request_delegations(importer, broker):
    editor = factories.add_member(broker, role=Role.EDITOR)
    response = client_for(editor).post(f"{API}/delegations/request/", {"importer_bn9": importer.bn9}, format="json")
    assert response.status_code == 400
    assert response.json()["broker"]
    assert not Delegation.objects.exists()


def test_pam_approves_a_program_delegation_for_its_rm_but_not_a_business_wide_one(importer, broker):
    first, second = importer.program_accounts.all()
    pam = factories.add_member(importer, role=Role.PAM, program_account=first)
    other_broker = factories.make_business(kind=Business.Kind.BROKER, accounts=0)
    other_broker.bam = factories.add_member(other_broker, role=Role.BAM)
    third_broker = factories.make_business(kind=Business.Kind.BROKER, accounts=0)
    third_broker.bam = factories.add_member(third_broker, role=Role.BAM)

    def request(broker_user, **extra):
        response = client_for(broker_user).post(
            f"{API}/delegations/request/", {"importer_bn9": importer.bn9, **extra}, format="json"
        )
        assert response.status_code == 201, response.content
        return response.json()["id"]

    own_rm = request(broker.bam, coverage="program", program_account_numbers=[first.number])
    business_wide = request(other_broker.bam)
    other_rm = request(third_broker.bam, coverage="program", program_account_numbers=[second.number])
    api = client_for(pam)

    assert ids(api.get(f"{API}/delegations/")) == {own_rm, business_wide}
    assert api.get(f"{API}/delegations/{other_rm}/").status_code == 404
    assert api.post(f"{API}/delegations/{other_rm}/approve/").status_code == 404

    response = api.post(f"{API}/delegations/{own_rm}/approve/")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "active"

    assert api.post(f"{API}/delegations/{business_wide}/approve/").status_code == 404
    assert Delegation.objects.get(pk=business_wide).status == Delegation.Status.REQUESTED
    assert Delegation.objects.get(pk=other_rm).status == Delegation.Status.REQUESTED
    # The business's BAM may.
    assert client_for(importer.bam).post(f"{API}/delegations/{business_wide}/approve/").status_code == 200


# --- Businesses --------------------------------------------------------------------------------


def test_bam_updates_its_business(importer):
    response = client_for(importer.bam).patch(
        f"{API}/businesses/{importer.pk}/",
        {"payment_method": "pad", "billing_contact_email": "ap@maple.example", "bn9": "123456782"},
        format="json",
    )
    assert response.status_code == 200, response.content
    importer.refresh_from_db()
    assert (importer.payment_method, importer.billing_contact_email) == ("pad", "ap@maple.example")
    assert importer.bn9 != "123456782"  # not editable here
    assert AuditEvent.objects.filter(action="accounts.business.updated", target_id=str(importer.pk)).exists()


def test_bad_business_update_is_400_and_changes_nothing(importer):
    api = client_for(importer.bam)
    response = api.patch(f"{API}/businesses/{importer.pk}/", {"billing_contact_email": "nope"}, format="json")
    assert response.status_code == 400
    assert response.json()["billing_contact_email"]
    response = api.patch(f"{API}/businesses/{importer.pk}/", {"payment_method": "bitcoin"}, format="json")
    assert response.status_code == 400
    assert response.json()["payment_method"]
    importer.refresh_from_db()
    assert importer.billing_contact_email == "" and importer.payment_method == ""


def test_reader_sees_but_cannot_update_the_business(importer):
    reader = factories.add_member(importer, role=Role.READER)
    api = client_for(reader)
    assert api.get(f"{API}/businesses/{importer.pk}/").status_code == 200
    assert api.patch(f"{API}/businesses/{importer.pk}/", {"city": "X"}, format="json").status_code == 404
    importer.refresh_from_db()
    assert importer.city == ""


# --- Token login -------------------------------------------------------------------------------


def test_token_login_and_token_auth(importer):
    client = APIClient()
    assert client.get(f"{API}/me/").status_code in (401, 403)  # 403: session auth comes first
    response = client.post(
        f"{API}/auth/token/", {"email": importer.bam.email.upper(), "password": factories.PASSWORD}, format="json"
    )
    assert response.status_code == 200, response.content
    token = response.json()["token"]
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    response = client.get(f"{API}/me/")
    assert response.status_code == 200
    assert response.json()["user"]["email"] == importer.bam.email
    # Asking again returns the same token.
    again = APIClient().post(f"{API}/auth/token/", {"email": importer.bam.email, "password": factories.PASSWORD})
    assert again.json()["token"] == token


def test_bad_credentials_are_400_with_messages(importer):
    client = APIClient()
    response = client.post(f"{API}/auth/token/", {"email": importer.bam.email, "password": "wrong"}, format="json")
    assert response.status_code == 400
    assert response.json()["non_field_errors"]
    response = client.post(f"{API}/auth/token/", {"password": "x"}, format="json")
    assert response.status_code == 400
    assert response.json()["email"]
    importer.bam.is_active = False
    importer.bam.save()
    response = client.post(
        f"{API}/auth/token/", {"email": importer.bam.email, "password": factories.PASSWORD}, format="json"
    )
    assert response.status_code == 400


def test_repeated_failures_lock_the_token_login(importer, settings):
    settings.AXES_ENABLED = True
    settings.AXES_FAILURE_LIMIT = 3
    client = APIClient()
    for _ in range(3):
        response = client.post(f"{API}/auth/token/", {"email": importer.bam.email, "password": "wrong"})
        assert response.status_code in (400, 429)
    response = client.post(f"{API}/auth/token/", {"email": importer.bam.email, "password": factories.PASSWORD})
    assert response.status_code == 429
    assert "token" not in response.json()


# --- Query counts ------------------------------------------------------------------------------


def _count(api, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = api.get(url)
    assert response.status_code == 200, response.content
    return len(ctx.captured_queries)


def _add_clients(broker, n):
    for i in range(n):
        client = factories.make_business(accounts=2)
        factories.add_member(client, role=Role.BAM)
        accounts = list(client.program_accounts.all())
        # Alternate coverage so the program-account prefetch is exercised.
        factories.make_delegation(client, broker, accounts=accounts[:1] if i % 2 else None)


LIST_URLS = [
    f"{API}/businesses/",
    f"{API}/program-accounts/",
    f"{API}/program-accounts/?scope=billing",
    f"{API}/delegations/",
    f"{API}/readiness/",
    f"{API}/me/",
]


@pytest.mark.parametrize("url", LIST_URLS)
def test_broker_lists_keep_a_constant_query_count(url, broker, django_assert_num_queries):
    api = client_for(broker.bam)
    _add_clients(broker, 2)
    small = _count(api, url)
    _add_clients(broker, 6)
    with django_assert_num_queries(small):
        api.get(url)


@pytest.mark.parametrize("url", LIST_URLS)
def test_importer_lists_keep_a_constant_query_count(url, importer, django_assert_num_queries):
    api = client_for(importer.bam)

    def grow(n):
        for _ in range(n):
            number = f"{importer.bn9}RM{ProgramAccount.objects.filter(business=importer).count() + 1:04d}"
            account = ProgramAccount.objects.create(business=importer, number=number)
            broker = factories.make_business(kind=Business.Kind.BROKER, accounts=0)
            factories.make_delegation(importer, broker, accounts=[account])

    grow(1)
    small = _count(api, url)
    grow(6)
    assert ProgramAccount.objects.filter(business=importer).count() == 9
    with django_assert_num_queries(small):
        api.get(url)
