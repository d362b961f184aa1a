"""The deadline centre in Chromium: in French at 390 px (a phone), the page and the dashboard card."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from declarations import deadlines as cad_deadlines
from declarations.models import CAD
from tests import factories
from tests.e2e.conftest import login, screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def phone_fr(browser, live_server, settings):
    settings.AXES_ENABLED = False
    context = browser.new_context(base_url=live_server.url, locale="fr-CA", viewport={"width": 390, "height": 844},
                                  extra_http_headers={"Accept-Language": "fr-CA,fr;q=0.9"})
    context.set_default_timeout(15000)
    yield context.new_page()
    context.close()


def test_deadline_centre_in_french_on_a_phone(phone_fr, importer, broker):
    today = timezone.localdate()
    rm1, rm2 = importer.program_accounts.order_by("number")
    for i, account in enumerate([rm1, rm2, rm1]):
        release = today - timedelta(days=3 + 4 * i)
        CAD.objects.create(transaction_number=f"{77700000000000 + i:014d}", program_account=account,
                           filed_by=importer.bam, status=CAD.Status.DRAFT, release_date=release,
                           due_date=cad_deadlines.cad_due_date(release, CAD.Type.REGULAR))
    factories.make_delegation(importer, broker, valid_from=today - timedelta(days=30),
                              valid_to=today + timedelta(days=20))
    page = phone_fr
    login(page, importer.bam.email, factories.PASSWORD)
    page.goto("/deadlines/")
    assert page.locator("html").get_attribute("lang").startswith("fr")
    rows = page.locator("main .deadline-row")
    assert rows.count() == 4
    width = page.evaluate("document.documentElement.scrollWidth")
    screenshot(page, "deadlines-fr-390")
    assert width <= 390, f"the page is {width}px wide at 390px"

    page.click("text=Create a calendar address") if page.locator("text=Create a calendar address").count() else \
        page.locator("form[action$='/deadlines/calendar/'] button[value=regenerate]").click()
    feed_url = page.locator("#feed-url").input_value()
    assert "/deadlines/feed/" in feed_url and feed_url.endswith(".ics")
    screenshot(page, "deadlines-fr-390-feed")

    page.goto("/")
    card = page.locator(".deadlines-panel")
    assert card.count() == 1 and card.locator(".deadline-row").count() >= 1
    screenshot(page, "deadlines-card-fr-390")
