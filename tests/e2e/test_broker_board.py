"""Issue 13 end to end: a broker with many clients searches, filters, sorts, exports and acts for a
client from the board, and switches client with the type-ahead (keyboard only). Screenshots of the
board in French at 390 px and 1366 px."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import Business
from accounts.roles import Role
from declarations.models import CAD
from tests import factories
from tests.e2e.conftest import login, screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _world(n: int = 30):
    today = timezone.localdate()
    firm = factories.make_business(kind=Business.Kind.BROKER, name="Border Brokers", accounts=0)
    bam = factories.add_member(firm, user=factories.make_user("bruno@example.com"), role=Role.BAM)
    filer = factories.make_user()
    for i in range(n):
        client = factories.make_business(name=f"Client {i:03d} Imports", accounts=1)
        factories.make_delegation(client, firm, valid_from=today - timedelta(days=30),
                                  valid_to=today + timedelta(days=10 + 10 * i))
        if i % 7 == 3:  # a few clients with a late CAD
            CAD.objects.create(transaction_number=f"{77777000000000 + i:014d}", filed_by=filer,
                               program_account=client.program_accounts.get(), status=CAD.Status.DRAFT,
                               release_date=today - timedelta(days=20), due_date=today - timedelta(days=10))
    return bam


def test_broker_board_search_filter_sort_export_act_and_switch(new_page):
    bam = _world()
    page = new_page()
    login(page, bam.email, factories.PASSWORD)
    page.click("nav >> text=Clients")
    page.wait_for_url("**/brokers/")
    main = page.locator("main")
    assert "30 RM accounts" in main.inner_text()

    # Search (name), then clear.
    page.fill("#board-q", "Client 017")
    page.click("form.board-search button")
    page.wait_for_url("**q=Client+017**")
    assert page.locator("tbody tr").count() == 1
    assert "Client 017 Imports" in page.locator("tbody").inner_text()

    # Filter: late CADs (3, 10, 17, 24): 4 rows.
    page.goto("/brokers/")
    page.click("a[data-filter=late]")
    page.wait_for_url("**late=1**")
    assert page.locator("tbody tr").count() == 4
    # Sort by delegation expiry, descending (two clicks), within the filter.
    page.click("th[data-col=delegation_expires] a")
    page.click("th[data-col=delegation_expires] a")
    page.wait_for_url("**sort=-delegation_expires**")
    assert page.locator("th[data-col=delegation_expires]").get_attribute("aria-sort") == "descending"
    names = [t.strip() for t in page.locator("tbody th[scope=row]").all_inner_texts()]
    assert names == ["Client 024 Imports", "Client 017 Imports", "Client 010 Imports", "Client 003 Imports"]

    # Export the filtered set.
    with page.expect_download() as download:
        page.click("a.board-export")
    rows = list(csv.reader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8"))))
    assert [r[0] for r in rows[1:]] == names

    # Act for a client from the board.
    page.click("tbody tr:first-child button")
    assert "Acting for Client 024 Imports" in page.locator(".acting-text").inner_text()
    screenshot(page, "broker-board-en-1280")

    # The switcher's type-ahead, keyboard only.
    page.focus("#switch-search")
    page.keyboard.type("Client 005")
    expect(page.locator("#switch-results [role=option]").first).to_have_text(re.compile(r"^Client 005 Imports"))
    assert page.locator("#switch-results [role=option]").all_inner_texts()[0].startswith("Client 005 Imports")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowUp")
    page.keyboard.press("Enter")
    expect(page.locator(".acting-text")).to_contain_text("Client 005 Imports")
    # Recent clients: the two chosen, most recent first.
    page.focus("#switch-search")
    expect(page.locator("#switch-results [role=option]")).to_have_count(2)
    recent = page.locator("#switch-results [role=option]").all_inner_texts()
    assert recent[0].startswith("Client 005") and recent[1].startswith("Client 024")


@pytest.mark.parametrize("width", [390, 1366])
def test_board_in_french_screenshots(new_page, width):
    bam = _world(12)
    page = new_page()
    page.set_viewport_size({"width": width, "height": 900})
    login(page, bam.email, factories.PASSWORD)
    page.evaluate("document.cookie = 'django_language=fr; path=/'")
    page.goto("/brokers/")
    assert page.locator("html").get_attribute("lang") == "fr"
    screenshot(page, f"broker-board-fr-{width}")
    # The board scrolls inside its own wrapper: the wrapper fits the viewport.
    right = page.evaluate("document.querySelector('.board-wrap').getBoundingClientRect().right")
    assert right <= width, right
