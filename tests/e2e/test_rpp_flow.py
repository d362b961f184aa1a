"""Issue 5 (RPP security) end to end: the demo importer sees an RPP shortfall, records a new
bond, and the readiness item turns green."""

import importlib
import io
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from accounts import demo
from accounts.management.commands.seed_demo import APP_SEEDERS
from accounts.models import ProgramAccount
from billing.rpp.selectors import positions_for
from tests.e2e.conftest import login, screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _security_item(page, rm_number):
    card = page.locator("article.readiness-card", has=page.locator(f"h3:text-is('{rm_number}')"))
    return card.locator("li.check", has_text="Posted security covers the requirement")


def _seed_demo_through_rpp() -> None:
    """``seed_demo``'s seeders in its order, up to and including ours: the apps seeded after RPP
    cannot change what this test is about (nor break it)."""
    with transaction.atomic():
        ctx = demo.seed("demo-pass")
    for name in APP_SEEDERS[: APP_SEEDERS.index("billing.rpp.demo") + 1]:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.seed(ctx, stdout=io.StringIO())


def test_demo_importer_covers_an_rpp_shortfall_with_a_new_bond(new_page):
    _seed_demo_through_rpp()
    rm = ProgramAccount.objects.get(number="123456782RM0001")
    shortfall = positions_for([rm])[rm.pk].shortfall
    assert shortfall > 0

    page = new_page()
    login(page, "importer@example.com")
    item = _security_item(page, rm.number)
    assert "check-missing" in item.get_attribute("class")

    page.click("nav.main-nav >> text=Security")
    page.wait_for_url("**/security/")
    overview = page.locator("main").inner_text()
    assert rm.number in overview and "123456782RM0002" in overview
    page.click(f"a:has-text('Details'):has(span:text-is(' {rm.number}'))")
    page.wait_for_url(f"**/security/{rm.pk}/")
    main = page.locator("main")
    assert "Shortfall" in main.inner_text()
    assert page.locator("#rpp-shortfall").inner_text() == f"${shortfall:,.2f}"
    assert page.locator("svg.rpp-chart rect").count() == 12
    screenshot(page, "rpp-shortfall")

    page.locator("main .head-actions a", has_text="Record a bond").click()
    page.wait_for_url("**/security/bonds/new/**")
    today = timezone.localdate()
    page.fill("input[name=surety_name]", "Laurentian Surety")
    page.fill("input[name=bond_number]", "E2E-EWSA-0002")
    page.fill("input[name=amount]", str(shortfall))
    page.fill("input[name=effective_date]", today.isoformat())
    page.fill("input[name=expiry_date]", (today + timedelta(days=365)).isoformat())
    page.fill(f"input[name=alloc_{rm.pk}]", str(shortfall))
    screenshot(page, "rpp-bond-form")
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(f"**/security/{rm.pk}/")
    assert "Bond E2E-EWSA-0002 recorded" in page.locator("main").inner_text()
    assert page.locator("#rpp-shortfall").inner_text() == "$0.00"
    assert "E2E-EWSA-0002" in page.locator("main").inner_text()
    screenshot(page, "rpp-covered")

    page.click("nav.main-nav >> text=Dashboard")
    page.wait_for_url(lambda url: url.rstrip("/").endswith(url.split("/")[2]))
    item = _security_item(page, rm.number)
    assert "check-ok" in item.get_attribute("class")
    screenshot(page, "rpp-dashboard-green")


def test_security_forecast_what_if_in_french_on_a_phone(browser, live_server, settings):
    """The forecast page at 390 px in French: the figures, the chart and a what-if that changes them."""
    settings.AXES_ENABLED = False
    _seed_demo_through_rpp()
    rm = ProgramAccount.objects.get(number="123456782RM0001")
    context = browser.new_context(base_url=live_server.url, locale="fr-CA", viewport={"width": 390, "height": 844})
    context.add_cookies([{"name": settings.LANGUAGE_COOKIE_NAME, "value": "fr", "url": live_server.url}])
    page = context.new_page()
    try:
        login(page, "importer@example.com")
        page.goto(f"/security/{rm.pk}/forecast/")
        before = page.locator("#forecast-bond").inner_text()
        assert page.locator("svg.rpp-chart rect").count() == 24
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        screenshot(page, "rpp-forecast-fr-390")
        page.check("input[value=run_rate]")
        page.fill("input[name=run_rate]", "900000")
        page.click("form[method=get] button[type=submit]")
        after = page.locator("#forecast-bond").inner_text()
        assert after != before and "450" in after.replace("\u202f", " ").replace("\xa0", " ")
        screenshot(page, "rpp-forecast-fr-390-what-if")
    finally:
        context.close()
