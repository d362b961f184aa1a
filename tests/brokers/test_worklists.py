"""Cross-client worklists (issue #13 item 2): exact rows through the gate, the page, the API,
query counts constant in the number of clients."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from brokers import worklists as w
from tests.billing.doc_builders import PERIOD, close_statement, post_cads
from tests.brokers.conftest import TODAY, add_clients

pytestmark = pytest.mark.django_db


def _rows(user, kind):
    return [(r.program_account.number, r.when, r.amount, r.late) for r in w.worklist(user, kind, today=TODAY)]


def test_exact_rows_for_the_firm(world):
    user = world["broker"].bam
    rm1 = world["maple_rm1"].number
    bravo_rm = world["bravo"].program_accounts.get().number
    assert _rows(user, "cads") == [(rm1, date(2025, 11, 20), None, True), (rm1, date(2025, 11, 28), None, False)]
    assert _rows(user, "statements") == [(rm1, date(2025, 12, 1), D("2114.04"), True)]
    assert _rows(user, "shortfalls") == [(bravo_rm, date(2025, 12, 26), D("10000.00"), False)]
    assert _rows(user, "appeals") == [(rm1, date(2026, 2, 18), None, False)]
    assert _rows(user, "delegations") == [(bravo_rm, date(2025, 12, 6), None, False)]
    # never another firm's client (Other Goods has posted CADs and a delegation to Rival Brokers)
    every = {r.business.pk for kind in w.KINDS for r in w.worklist(user, kind, today=TODAY)}
    assert world["other"].pk not in every


def test_no_money_rows_without_the_financial_scope(world):
    bravo = world["bravo"].program_accounts.get()
    post_cads(bravo, PERIOD, 1, start=5)
    close_statement(bravo, PERIOD)
    from billing.summary import money_summary

    assert money_summary([bravo.pk], today=TODAY).accounts[0].amount_due > 0  # Bravo does owe
    assert [r for r in w.worklist(world["broker"].bam, "statements", today=TODAY)
            if r.program_account.pk == bravo.pk] == []


def test_client_group_member_sees_only_its_group(world):
    clerk = world["clerk"]
    for kind in w.KINDS:
        assert {r.business.pk for r in w.worklist(clerk, kind, today=TODAY)} <= {world["maple"].pk}, kind
    assert len(w.worklist(clerk, "cads", today=TODAY)) == 2
    assert w.worklist(clerk, "shortfalls", today=TODAY) == []


def test_page_tabs_links_and_act_for(client, world):
    client.force_login(world["broker"].bam)
    board = client.get(reverse("brokers:board")).content.decode()
    assert reverse("brokers:worklists") in board
    response = client.get(reverse("brokers:worklists"), {"kind": "cads"})
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count("data-rm=") == 2 and html.count("Act for this client") == 2
    cad = world["maple_rm1"].cads.filter(due_date=date(2025, 11, 20)).get()
    assert reverse("cad_detail", args=[cad.pk]) in html
    response = client.get(reverse("brokers:worklists"), {"kind": "shortfalls"})
    assert reverse("rpp:account", args=[world["bravo"].program_accounts.get().pk]) in response.content.decode()
    # an unknown kind falls back to the first list; a bad page number to page 1
    response = client.get(reverse("brokers:worklists"), {"kind": "nope", "page": "x"})
    assert response.status_code == 200 and response.context["kind"] == "cads"
    # acting from a row goes to the object
    url = reverse("cad_detail", args=[cad.pk])
    response = client.post(reverse("brokers:act-for"), {"business": world["maple"].pk, "next": url})
    assert response.status_code == 302 and response["Location"] == url


def test_not_a_broker_gets_404(client, world):
    client.force_login(world["maple"].bam)
    assert client.get(reverse("brokers:worklists")).status_code == 404
    api = APIClient()
    api.force_authenticate(user=world["maple"].bam)
    assert api.get("/api/v1/broker-worklists/cads/").status_code == 404
    assert APIClient().get("/api/v1/broker-worklists/cads/").status_code in (401, 403)


def test_api_rows_pagination_and_bad_input(world):
    add_clients(world["broker"], 4)  # 4 more late CADs (due 2025-11-20)
    api = APIClient()
    api.force_authenticate(user=world["broker"].bam)
    data = api.get("/api/v1/broker-worklists/statements/").json()
    assert data["count"] == 1 and data["next"] is None  # the new clients have no closed statement
    first = data["results"][0]
    assert (first["rm_account"], D(first["amount"]), first["act_by"], first["late"]) == (
        world["maple_rm1"].number, D("2114.04"), "2025-12-01", True)
    seen, url, params = [], "/api/v1/broker-worklists/cads/", {"page_size": 2}
    while url:
        page = api.get(url, params).json()
        assert page["count"] == 6
        seen += [(r["url"]) for r in page["results"]]
        url, params = page["next"], None
    assert len(seen) == len(set(seen)) == 6
    assert api.get("/api/v1/broker-worklists/nope/").status_code == 404
    for params, field in (({"page": "0"}, "page"), ({"page_size": "x"}, "page_size"), ({"page_size": "999"}, "page_size")):
        response = api.get("/api/v1/broker-worklists/cads/", params)
        assert response.status_code == 400 and field in response.json(), params


def _count(client, url, params) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, params)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_query_count_constant_in_clients(world, client):
    client.force_login(world["broker"].bam)
    api = APIClient()
    api.force_authenticate(user=world["broker"].bam)
    add_clients(world["broker"], 3)
    small = {kind: (_count(client, reverse("brokers:worklists"), {"kind": kind}),
                    _count(api, f"/api/v1/broker-worklists/{kind}/", {})) for kind in w.KINDS}
    add_clients(world["broker"], 12, start=3)
    large = {kind: (_count(client, reverse("brokers:worklists"), {"kind": kind}),
                    _count(api, f"/api/v1/broker-worklists/{kind}/", {})) for kind in w.KINDS}
    assert small == large
