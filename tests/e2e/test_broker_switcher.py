"""Issue 13 item 6 end to end: a firm with many clients gets a short switcher (recent clients, the
current one). With JavaScript the type-ahead still reaches every client; without it, "Search all
clients" leads to the board, whose act-for buttons switch. At 390 px nothing overflows."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from brokers import context_processors
from tests import factories
from tests.e2e.conftest import login, screenshot
from tests.e2e.test_broker_board import _world

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def many(monkeypatch):
    monkeypatch.setattr(context_processors, "SWITCHER_FULL_LIST", 3)
    return _world(8)


def test_type_ahead_reaches_every_client_with_a_short_switcher(new_page, many):
    page = new_page()
    page.set_viewport_size({"width": 390, "height": 844})
    login(page, many.email, factories.PASSWORD)
    page.goto("/")
    assert page.locator("#switch-business option[value]:not([value=''])").count() == 0
    expect(page.get_by_role("link", name="Search all clients")).to_be_visible()
    page.focus("#switch-search")
    page.keyboard.type("Client 006")
    expect(page.locator("#switch-results [role=option]").first).to_have_text(re.compile(r"^Client 006 Imports"))
    page.keyboard.press("Enter")
    expect(page.locator(".acting-text")).to_contain_text("Client 006 Imports")
    assert page.locator("#switch-business option").all_inner_texts()[0].startswith("Client 006 Imports")
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, overflow
    screenshot(page, "broker-switcher-many-390")


def test_without_javascript_the_link_leads_to_the_searchable_board(browser, live_server, settings, many):
    settings.AXES_ENABLED = False
    context = browser.new_context(base_url=live_server.url, locale="en-CA", java_script_enabled=False)
    try:
        page = context.new_page()
        login(page, many.email, factories.PASSWORD)
        page.goto("/")
        page.get_by_role("link", name="Search all clients").click()
        page.fill("input[name=q]", "Client 004")
        page.keyboard.press("Enter")
        page.click("tbody tr:first-child button")
        expect(page.locator(".acting-text")).to_contain_text("Client 004 Imports")
    finally:
        context.close()
