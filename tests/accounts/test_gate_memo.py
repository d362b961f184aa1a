"""The gate as a per-request id list (issue #15 item 3): ``program_accounts_for`` is a literal
``pk IN (ids)``, the ids asked once per (user, scope, day) per request, never kept past the
request nor past a change to what the gate reads. Real database, real requests, no mocks."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from accounts import access, services
from accounts.models import Delegation, ProgramAccount
from accounts.roles import Role, Scope
from billing.ledger import services as ledger
from billing.ledger.models import LedgerEntry
from tests import factories

pytestmark = pytest.mark.django_db
PERIOD = date(2025, 9, 17)


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user=user)
    return client


def charge(account: ProgramAccount, n: int) -> LedgerEntry:
    return ledger.post_entry(program_account=account, kind=LedgerEntry.Kind.CAD_CHARGE, amount=Decimal("10.00") + n,
                             effective_date=PERIOD.replace(day=10), billing_period=PERIOD,
                             idempotency_key=f"memo-{account.pk}-{n}")


def get(client, url) -> tuple[int, dict]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, response.content
    return len(ctx), response.json()


def other_tenants(n: int, broker) -> None:
    """``n`` other importers, each with two accounts, charges, its own users and a broker delegation."""
    for _ in range(n):
        business = factories.make_business(accounts=2)
        factories.add_member(business, role=Role.BAM)
        factories.make_delegation(business, broker, financial=True)
        for account in business.program_accounts.all():
            for i in range(3):
                charge(account, i)


@pytest.mark.parametrize("url", ["/api/v1/ledger-entries/", "/api/v1/offsets/debts/"])
def test_api_lists_cost_the_same_queries_with_1_or_many_other_tenants(importer, broker, url):
    mine = importer.program_accounts.order_by("number").first()
    charge(mine, 0)
    charge(mine, 1)
    other_tenants(1, broker)
    api = client_for(importer.bam)
    get(api, url)  # first-time work: the user's permissions (cached on the user object)
    small, body = get(api, url)
    other_tenants(25, broker)  # 52 accounts, 156 entries that are not the user's
    big, big_body = get(api, url)
    assert big == small, (url, big, small)
    assert big_body == body and body["count"] == 2
    assert {row["program_account"]["id"] if isinstance(row["program_account"], dict) else row["program_account"]
            for row in body["results"]} == {mine.pk}


def test_the_list_is_a_literal_id_list(importer, other_importer):
    qs = access.program_accounts_for(importer.bam, Scope.BILLING)
    ids = sorted(importer.program_accounts.values_list("pk", flat=True))
    sql = str(qs.query)
    assert "SELECT" not in sql.split("WHERE", 1)[1]  # no subquery left for the planner to guess
    assert sorted(qs.values_list("pk", flat=True)) == ids
    assert access.program_account_ids_for(other_importer.bam, Scope.BILLING) == tuple(
        other_importer.program_accounts.values_list("pk", flat=True))


def test_above_the_parameter_limit_the_gate_is_a_subquery(importer, monkeypatch):
    ids = sorted(importer.program_accounts.values_list("pk", flat=True))
    monkeypatch.setattr(access, "_in_list_limit", lambda: 1)  # two accounts: above a limit of one
    qs = access.program_accounts_for(importer.bam, Scope.ACCOUNT)
    assert "SELECT" in str(qs.query).split("WHERE", 1)[1]
    assert sorted(qs.values_list("pk", flat=True)) == ids


def test_the_in_list_limit_fits_sqlite(db):
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's SQLITE_MAX_VARIABLE_NUMBER")
    import sqlite3

    connection.ensure_connection()
    limit = connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    assert 0 < access._in_list_limit() < limit


def test_the_memo_does_not_leak_across_users(importer, other_importer, broker):
    factories.make_delegation(importer, broker, financial=True, security=False)
    stranger = factories.make_user()
    mine = tuple(importer.program_accounts.order_by("pk").values_list("pk", flat=True))
    with access.gate_memo():
        assert access.program_account_ids_for(importer.bam, Scope.BILLING) == mine
        assert access.program_account_ids_for(other_importer.bam, Scope.BILLING) == tuple(
            other_importer.program_accounts.values_list("pk", flat=True))
        assert access.program_account_ids_for(broker.bam, Scope.BILLING) == mine
        assert access.program_account_ids_for(broker.bam, Scope.SECURITY) == ()  # another scope, no flag
        assert access.program_account_ids_for(stranger, Scope.BILLING) == ()
        assert not access.program_accounts_for(stranger, Scope.BILLING).exists()


def test_the_memo_does_not_outlive_its_request(importer, broker):
    """The same user object (as force_authenticate hands it) in two requests: a delegation
    revoked between them without any signal (a bare UPDATE) is not used by the second."""
    delegation = factories.make_delegation(importer, broker, financial=True)
    charge(importer.program_accounts.first(), 0)
    api = client_for(broker.bam)
    assert get(api, "/api/v1/ledger-entries/")[1]["count"] == 1
    Delegation.objects.filter(pk=delegation.pk).update(status=Delegation.Status.REVOKED)
    assert get(api, "/api/v1/ledger-entries/")[1]["count"] == 0
    assert api.get(f"/api/v1/program-accounts/{importer.program_accounts.first().pk}/").status_code == 404


def test_a_delegation_revoked_mid_request_is_not_kept(importer, broker):
    delegation = factories.make_delegation(importer, broker, financial=True)
    account = importer.program_accounts.first()
    with access.gate_memo():
        assert access.can(broker.bam, Scope.BILLING, account)
        services.delegation_revoke(actor=importer.bam, delegation=delegation)
        assert not access.can(broker.bam, Scope.BILLING, account)
        assert not access.program_accounts_for(broker.bam, Scope.BILLING).exists()


def test_a_membership_or_account_added_mid_request_is_seen(importer, other_importer):
    with access.gate_memo():
        assert access.program_account_ids_for(other_importer.bam, Scope.ACCOUNT) == tuple(
            other_importer.program_accounts.values_list("pk", flat=True))
        factories.add_member(importer, other_importer.bam, role=Role.READER)
        assert set(access.program_account_ids_for(other_importer.bam, Scope.ACCOUNT)) >= set(
            importer.program_accounts.values_list("pk", flat=True))
        new = ProgramAccount.objects.create(business=importer, number=f"{importer.bn9}RM0009", name="RM 9")
        assert access.can(importer.bam, Scope.ACCOUNT, new)


def test_one_query_answers_every_scope_of_a_request(importer, broker):
    """The gate reads the user's ways in once (the grant rows) and decides each scope from them: a
    request asking four scopes costs one query, and each answer is what the gate gives alone."""
    factories.make_delegation(importer, broker, financial=True, cad_submit=False)
    scopes = (Scope.ACCOUNT, Scope.BILLING, Scope.SUBMIT_CADS, Scope.MANAGE_USERS)
    for user in (importer.bam, broker.bam):
        alone = {scope: access.program_account_ids_for(user, scope) for scope in scopes}
        with access.gate_memo(), CaptureQueriesContext(connection) as ctx:
            together = {scope: access.program_account_ids_for(user, scope) for scope in scopes}
        assert len(ctx) == 1 and together == alone
    accounts = tuple(sorted(importer.program_accounts.values_list("pk", flat=True)))
    assert alone[Scope.BILLING] == alone[Scope.ACCOUNT] == accounts  # the broker's: financial shown
    assert alone[Scope.SUBMIT_CADS] == alone[Scope.MANAGE_USERS] == ()  # not shown; never through a broker


def test_the_filer_is_the_importer_or_its_broker(importer, broker):
    factories.make_delegation(importer, broker)
    account = importer.program_accounts.order_by("pk").first()
    assert access.broker_firm_id_for(importer.bam, account.pk) is None
    assert access.broker_firm_id_for(broker.bam, account.pk) == broker.pk
    stranger = factories.make_business(accounts=1)
    assert access.broker_firm_id_for(broker.bam, stranger.program_accounts.get().pk) is None
