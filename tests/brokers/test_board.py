"""The broker board: rows through the gate, exact figures, search, sort, filters, CSV, query counts."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal as D

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from brokers import board as b
from tests import factories
from tests.brokers.conftest import TODAY, add_clients
from tests.clock import on

pytestmark = pytest.mark.django_db


def _rows(user, **params):
    return b.everything(user, b.BoardQuery.from_params(params), today=TODAY)


def _by_rm(rows):
    return {r.program_account.number: r for r in rows}


def test_rows_exact_figures_and_scopes(world):
    rows = _by_rm(_rows(world["broker"].bam))
    rm1, rm2 = world["maple_rm1"].number, world["maple_rm2"].number
    bravo_rm = world["bravo"].program_accounts.get().number
    assert set(rows) == {rm1, rm2, bravo_rm}  # never another firm's client
    r = rows[rm1]
    assert (r.amount_due, r.overdue, r.due_date) == (D("2114.04"), D("1050.00"), date(2025, 12, 1))
    assert (r.cads_due_soon, r.cads_late) == (1, 1)
    assert r.appeals_open == 1 and r.appeal_deadline == date(2026, 2, 18)
    assert r.delegation_scopes == ["financial", "cad_submit", "adjust", "appeals", "security"]
    assert r.delegation_expires is None and not r.expiring
    assert (rows[rm2].amount_due, rows[rm2].cads_due_soon, rows[rm2].cads_late) == (D("0.00"), 0, 0)
    bravo = rows[bravo_rm]
    assert bravo.money is None and bravo.amount_due is None and bravo.overdue is None  # no financial scope
    assert (bravo.security_required, bravo.security_posted, bravo.security_gap) == (
        D("10000.00"), D("0.00"), D("10000.00"))
    assert bravo.expiring and bravo.delegation_expires == date(2025, 12, 6)
    assert "financial" not in bravo.delegation_scopes


def test_a_page_sorted_by_a_computed_column_still_shows_readiness(world):
    user = world["broker"].bam
    full = {r.program_account.pk: (r.score, r.missing) for r in _rows(user)}
    for sort in ("-due", "gap", "score", "client"):
        page = b.board(user, b.BoardQuery.from_params({"sort": sort}), today=TODAY, offset=0, limit=2)
        assert page.total == 3 and len(page.rows) == 2
        assert {r.program_account.pk: (r.score, r.missing) for r in page.rows}.items() <= full.items(), sort
    assert {score for score, _missing in full.values()} != {100}  # the world has missing items


def test_client_group_member_sees_only_its_group(world):
    rows = _rows(world["clerk"])
    assert {r.business.pk for r in rows} == {world["maple"].pk}


def test_search_by_name_bn_and_rm(world):
    user = world["broker"].bam
    assert {r.business.pk for r in _rows(user, q="bravo")} == {world["bravo"].pk}
    assert {r.business.pk for r in _rows(user, q=world["maple"].bn9)} == {world["maple"].pk}
    assert [r.program_account.number for r in _rows(user, q=world["maple_rm2"].number)] == [world["maple_rm2"].number]
    assert _rows(user, q=world["other"].bn9) == []  # another firm's client is not found
    assert _rows(user, q="Other Goods") == []


def test_filters(world):
    user = world["broker"].bam
    rm1 = world["maple_rm1"].number
    bravo_rm = world["bravo"].program_accounts.get().number
    assert [r.program_account.number for r in _rows(user, overdue="1")] == [rm1]
    assert [r.program_account.number for r in _rows(user, late="1")] == [rm1]
    assert [r.program_account.number for r in _rows(user, shortfall="1")] == [bravo_rm]
    assert [r.program_account.number for r in _rows(user, expiring="1")] == [bravo_rm]
    assert _rows(user, overdue="1", shortfall="1") == []


def test_sort_every_column_empty_last(world):
    user = world["broker"].bam
    rm1, rm2 = world["maple_rm1"].number, world["maple_rm2"].number
    bravo_rm = world["bravo"].program_accounts.get().number
    for column in b.COLUMNS:
        for sign in ("", "-"):
            rows = _rows(user, sort=sign + column.key)
            assert len(rows) == 3, column.key
            values = [column.value(r) for r in rows]
            present = [v for v in values if v is not None]
            assert present == sorted(present, reverse=bool(sign)), column.key
            assert values == present + [None] * (len(values) - len(present)), column.key
    assert [r.program_account.number for r in _rows(user, sort="-due")] == [rm1, rm2, bravo_rm]
    assert [r.program_account.number for r in _rows(user, sort="-gap")][0] == bravo_rm
    assert [r.business.display_name for r in _rows(user, sort="client")] == [
        "Bravo Trading", "Maple Imports Inc.", "Maple Imports Inc."]


def test_page_html_hides_money_without_financial_scope(client, world):
    client.force_login(world["broker"].bam)
    response = client.get(reverse("brokers:board"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "$2,114.04" in html and "$1,050.00" in html and "$10,000.00" in html
    assert html.count("No financial scope") == 1
    assert world["other"].bn9 not in html and "Other Goods" not in html
    response = client.get(reverse("brokers:board"), {"shortfall": "1", "sort": "-gap", "q": "bra"})
    html = response.content.decode()
    assert "Bravo Trading" in html and "Maple" not in html.split("<tbody>")[1]


def test_page_bad_input_falls_back(client, world):
    client.force_login(world["broker"].bam)
    for params in ({"sort": "nope"}, {"page": "abc"}, {"page": "99"}, {"size": "x"}, {"q": "x" * 500}):
        assert client.get(reverse("brokers:board"), params).status_code == 200


def test_not_a_broker_gets_404(client, world):
    client.force_login(world["maple"].bam)
    assert client.get(reverse("brokers:board")).status_code == 404
    assert client.get(reverse("brokers:board-csv")).status_code == 404


def test_csv_is_the_filtered_set(client, world):
    client.force_login(world["broker"].bam)
    response = client.get(reverse("brokers:board-csv"), {"overdue": "1"})
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:3] == ["client", "bn", "rm_account"]
    assert len(rows) == 2
    row = dict(zip(rows[0], rows[1], strict=True))
    assert (row["rm_account"], row["amount_due"], row["overdue"], row["due_date"], row["cads_late"]) == (
        world["maple_rm1"].number, "2114.04", "1050.00", "2025-12-01", "1")
    everything = list(csv.reader(io.StringIO(
        b"".join(client.get(reverse("brokers:board-csv")).streaming_content).decode())))
    bravo = next(dict(zip(everything[0], r, strict=True)) for r in everything[1:] if r[0] == "Bravo Trading")
    assert bravo["amount_due"] == "" and bravo["security_gap"] == "10000.00"


def test_act_for_from_the_board_remembers_recent(client, world):
    client.force_login(world["broker"].bam)
    response = client.post(reverse("brokers:act-for"), {"business": world["bravo"].pk, "next": "/brokers/?q=b"})
    assert response.status_code == 302 and response["Location"] == "/brokers/?q=b"
    data = client.get(reverse("brokers:client-search")).json()
    assert data["results"] == [{"id": world["bravo"].pk, "name": "Bravo Trading", "bn": world["bravo"].bn9}]
    assert client.post(reverse("brokers:act-for"), {"business": world["other"].pk}).status_code == 404
    assert client.post(reverse("brokers:act-for"), {"business": "x"}).status_code == 404
    response = client.post(reverse("brokers:act-for"), {"business": world["maple"].pk, "next": "https://evil.example"})
    assert response["Location"] == reverse("dashboard")


def test_switcher_search(client, world):
    client.force_login(world["broker"].bam)
    url = reverse("brokers:client-search")
    assert [x["name"] for x in client.get(url, {"q": "mapl"}).json()["results"]] == ["Maple Imports Inc."]
    assert [x["id"] for x in client.get(url, {"q": world["bravo"].bn9}).json()["results"]] == [world["bravo"].pk]
    assert client.get(url, {"q": world["maple_rm2"].number}).json()["results"][0]["id"] == world["maple"].pk
    assert client.get(url, {"q": "Other"}).json()["results"] == []


def _count(client, url, params=None) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, params or {})
        if hasattr(response, "streaming_content"):
            b"".join(response.streaming_content)
    assert response.status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize("params", [{}, {"sort": "-due"}, {"overdue": "1"}, {"late": "1", "sort": "gap"}])
def test_query_count_constant_in_clients(client, world, params):
    client.force_login(world["broker"].bam)
    add_clients(world["broker"], 3)
    pages = [_count(client, reverse("brokers:board"), params)]
    csvs = [_count(client, reverse("brokers:board-csv"), params)]
    apis = [_count(client, reverse("api-broker-board"), {"ordering": params.get("sort", "client")})]
    add_clients(world["broker"], 12, start=3)
    pages.append(_count(client, reverse("brokers:board"), params))
    csvs.append(_count(client, reverse("brokers:board-csv"), params))
    apis.append(_count(client, reverse("api-broker-board"), {"ordering": params.get("sort", "client")}))
    assert pages[0] == pages[1] and csvs[0] == csvs[1] and apis[0] == apis[1], (pages, csvs, apis)


def test_pagination(client, world):
    client.force_login(world["broker"].bam)
    add_clients(world["broker"], 12)
    response = client.get(reverse("brokers:board"), {"size": "10"})
    assert len(response.context["rows"]) == 10 and response.context["pages"] == 2
    response = client.get(reverse("brokers:board"), {"size": "10", "page": "2"})
    assert len(response.context["rows"]) == 5
    assert factories  # the factories module is the world's


def test_forecast_gap_column_is_the_security_forecast(world, client):
    """Issue #14 item 3: the board's "forecast gap" per client is billing/rpp/forecast.py's figure,
    shown only with the security scope, and sortable; the CSV carries it."""
    from billing.rpp.forecast import review_forecasts

    user = world["broker"].bam
    rows = _by_rm(_rows(user))
    bravo = world["bravo"].program_accounts.get()
    expected = review_forecasts([bravo], today=TODAY)[bravo.pk].bond_gap
    assert rows[bravo.number].forecast_gap == expected and expected > 0
    ordered = [r.forecast_gap for r in _rows(user, sort="-forecast_gap") if r.forecast_gap is not None]
    assert ordered == sorted(ordered, reverse=True)
    client.force_login(user)
    with on(TODAY):
        body = b"".join(client.get(reverse("brokers:board-csv")).streaming_content).decode()
    header, *lines = list(csv.reader(io.StringIO(body)))
    assert "forecast_gap" in header
    by_rm = {line[header.index("rm_account")]: line for line in lines}
    assert by_rm[bravo.number][header.index("forecast_gap")] == str(expected)
