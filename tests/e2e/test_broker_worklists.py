"""Issue 13 item 2 end to end, on a phone (390 px): from the board to the worklists, a tab per
list, act for a client from a row and land on its object. Neither page is wider than the screen
(the tables scroll inside their .table-wrap region)."""

from __future__ import annotations

import pytest

from tests import factories
from tests.e2e.conftest import login, screenshot
from tests.e2e.test_broker_board import _world

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
WIDTH = 390


def _page_width(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


def test_act_for_a_client_from_a_worklist_on_a_phone(new_page):
    bam = _world(12)  # delegations end in 10, 20, 30, ... days; clients 3 and 10 have a late CAD
    page = new_page()
    page.set_viewport_size({"width": WIDTH, "height": 900})
    login(page, bam.email, factories.PASSWORD)
    page.goto("/brokers/")
    assert _page_width(page) <= WIDTH
    page.click("a.board-worklists")
    page.wait_for_url("**/brokers/worklists/")
    assert _page_width(page) <= WIDTH
    names = [t.strip() for t in page.locator("tbody th[scope=row]").all_inner_texts()]
    assert names == ["Client 003 Imports", "Client 010 Imports"]  # the late CADs, oldest first

    page.click("a[data-kind=delegations]")
    page.wait_for_url("**kind=delegations**")
    names = [t.strip() for t in page.locator("tbody th[scope=row]").all_inner_texts()]
    assert names == ["Client 000 Imports", "Client 001 Imports", "Client 002 Imports"]
    assert _page_width(page) <= WIDTH
    screenshot(page, f"broker-worklists-en-{WIDTH}")

    page.click("tbody tr:nth-child(2) button")
    page.wait_for_url("**/delegations/")
    assert "Acting for Client 001 Imports" in page.locator(".acting-text").inner_text()
