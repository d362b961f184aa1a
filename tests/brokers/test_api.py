"""GET /api/v1/broker-board/: filters, ordering, cursor pagination, bad input, the gate."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from rest_framework.test import APIClient

from tests.brokers.conftest import add_clients

pytestmark = pytest.mark.django_db
URL = "/api/v1/broker-board/"


def _api(user) -> APIClient:
    api = APIClient()
    api.force_authenticate(user=user)
    return api


def test_rows_and_money_fields(world):
    data = _api(world["broker"].bam).get(URL, {"ordering": "-overdue"}).json()
    assert data["count"] == 3 and data["next"] is None and data["previous"] is None
    first = data["results"][0]
    assert first["rm_account"] == world["maple_rm1"].number
    assert (D(first["amount_due"]), D(first["overdue"]), first["due_date"]) == (D("2114.04"), D("1050.00"),
                                                                                 "2025-12-01")
    bravo = next(r for r in data["results"] if r["client"] == "Bravo Trading")
    assert bravo["amount_due"] is None and bravo["overdue"] is None and D(bravo["security_gap"]) == D("10000.00")
    assert bravo["delegation_expiring"] is True


def test_filters_and_search(world):
    api = _api(world["broker"].bam)
    assert [r["client"] for r in api.get(URL, {"shortfall": "true"}).json()["results"]] == ["Bravo Trading"]
    assert [r["rm_account"] for r in api.get(URL, {"late": "true"}).json()["results"]] == [world["maple_rm1"].number]
    assert api.get(URL, {"q": world["other"].bn9}).json()["count"] == 0


def test_cursor_walks_every_row_once_both_ways(world):
    add_clients(world["broker"], 7)
    api = _api(world["broker"].bam)
    for ordering in ("client", "-due", "cads_late", "-delegation_expires"):
        seen, url, params = [], URL, {"ordering": ordering, "page_size": 3}
        pages = []
        while url:
            data = api.get(url, params).json()
            pages.append(data)
            seen += [r["program_account"] for r in data["results"]]
            url, params = data["next"], None
        assert len(seen) == len(set(seen)) == 10, ordering
        full = [r["program_account"] for r in api.get(URL, {"ordering": ordering, "page_size": 50}).json()["results"]]
        assert seen == full, ordering
        back = api.get(pages[-1]["previous"]).json()
        assert [r["program_account"] for r in back["results"]] == [r["program_account"] for r in pages[-2]["results"]]


def test_bad_input_answers_400_with_fields(world):
    api = _api(world["broker"].bam)
    for params, field in (({"ordering": "nope"}, "ordering"), ({"page_size": "0"}, "page_size"),
                          ({"page_size": "x"}, "page_size"), ({"cursor": "garbage"}, "cursor"),
                          ({"overdue": "maybe"}, "overdue"), ({"q": "x" * 500}, "q")):
        response = api.get(URL, params)
        assert response.status_code == 400, params
        assert field in str(response.json()), params
    # A cursor from one ordering is refused in another.
    data = api.get(URL, {"ordering": "client", "page_size": 1}).json()
    response = api.get(data["next"].replace("ordering=client", "ordering=-client"))
    assert response.status_code == 400


def test_gate(world):
    assert _api(world["maple"].bam).get(URL).status_code == 404
    assert APIClient().get(URL).status_code in (401, 403)
    clerk = _api(world["clerk"]).get(URL).json()
    assert {r["client"] for r in clerk["results"]} == {"Maple Imports Inc."}
