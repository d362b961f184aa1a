"""Phone and keyboard in Chromium: the nav's Menu button at 390 px, the Payments table at 1366 px,
and screenshots of the main pages (FR at 390 px, EN at 1366 px) in test-results/ to look at."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from tests.e2e.conftest import login, screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PHONE, WIDE = {"width": 390, "height": 844}, {"width": 1366, "height": 900}
LOOKED_AT = ["/", "/billing/", "/billing/payments/", "/security/", "/users/", "/delegations/"]


@pytest.fixture
def demo(settings, tmp_path):
    settings.PRIVATE_STORAGE_ROOT = tmp_path / "private"
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115


def test_the_menu_button_opens_and_closes_the_nav_by_keyboard(new_page, demo):
    page = new_page()
    login(page, "importer@example.com")
    page.set_viewport_size(PHONE)
    page.goto("/billing/")
    button = page.locator(".nav-toggle")
    users = page.locator("#main-nav-list a[href='/users/']")
    assert button.is_visible() and button.get_attribute("aria-expanded") == "false"
    assert not users.is_visible()

    button.focus()
    page.keyboard.press("Enter")
    assert button.get_attribute("aria-expanded") == "true"
    assert users.is_visible()
    assert page.locator("#main-nav-list a[aria-current='page']").inner_text() == "Billing"
    page.keyboard.press("Tab")  # focus moves into the opened list
    assert page.evaluate("document.activeElement.closest('#main-nav-list') !== null")
    page.keyboard.press("Escape")
    assert button.get_attribute("aria-expanded") == "false"
    assert not users.is_visible()
    assert page.evaluate("document.activeElement.classList.contains('nav-toggle')")

    page.keyboard.press(" ")  # Space toggles a button too
    assert button.get_attribute("aria-expanded") == "true"
    users.click()
    page.wait_for_url("**/users/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390

    page.set_viewport_size(WIDE)  # wide screens: no button, every link in one row
    assert not page.locator(".nav-toggle").is_visible()
    assert page.locator("#main-nav-list a[href='/delegations/']").is_visible()


def test_without_script_the_nav_links_wrap_on_a_phone(browser, live_server, demo, settings):
    settings.AXES_ENABLED = False
    context = browser.new_context(base_url=live_server.url, viewport=PHONE, java_script_enabled=False)
    try:
        page = context.new_page()
        login(page, "importer@example.com")
        page.goto("/delegations/")
        assert not page.locator(".nav-toggle").is_visible()
        assert page.locator("#main-nav-list a[href='/delegations/']").is_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
    finally:
        context.close()


def test_payments_show_the_amount_column_at_1366(new_page, demo):
    page = new_page()
    login(page, "importer@example.com")
    page.set_viewport_size(WIDE)
    page.goto("/billing/payments/")
    payments = page.locator("main section[aria-labelledby=payments-list-title]")
    assert payments.locator("table").count() == 1  # the demo records a payment every month
    wrap = payments.locator(".table-wrap").first.bounding_box()
    amount = payments.locator("table thead th", has_text="Amount").bounding_box()
    assert amount["x"] + amount["width"] <= wrap["x"] + wrap["width"] + 1
    assert payments.locator(".table-wrap").first.evaluate("e => e.scrollWidth <= e.clientWidth")


@pytest.mark.parametrize("email", ["importer@example.com", "admin@example.com"])
def test_screenshots_fr_phone_and_en_wide(new_page, demo, email):
    page = new_page()
    login(page, email)
    who = email.split("@")[0]
    paths = LOOKED_AT if who == "importer" else ["/", "/billing/ops/", "/appeals/review/", "/admin/"]
    for language, size in (("en", WIDE), ("fr", PHONE)):
        page.goto("/")
        if page.evaluate("document.documentElement.lang") != language:
            with page.expect_navigation():
                page.click(".lang-switch button")
        page.set_viewport_size(size)
        for path in paths:
            page.goto(path)
            name = path.strip("/").replace("/", "-") or "dashboard"
            screenshot(page, f"phone-{who}-{language}-{size['width']}-{name}")
            if size is PHONE:
                assert page.evaluate("document.documentElement.scrollWidth") <= 390, path


@pytest.mark.parametrize("path", ["/billing/payments/", "/billing/", "/billing/transactions/"])
def test_billing_tables_become_cards_on_a_phone(new_page, demo, path):
    page = new_page()
    login(page, "importer@example.com")
    page.set_viewport_size(PHONE)
    page.goto(path)
    table = page.locator("main table.table-cards")
    assert table.count() == 1 and "cards-ready" in table.get_attribute("class")
    amount = table.locator("tbody tr").first.locator("td.num")
    assert amount.get_attribute("data-label") in ("Amount", "Closing balance")
    box = amount.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    assert page.locator("main .table-wrap").first.evaluate("e => e.scrollWidth <= e.clientWidth")
    assert table.locator("tbody tr").first.get_attribute("role") == "row"
    screenshot(page, "phone-cards" + path.rstrip("/").replace("/", "-"))
