"""No dead ends (issue #12 item 6) in Chromium: change a delegation in place, a BN format error,
the split Credits pages. Screenshots in test-results/ (deadends-*.png)."""

import pytest
from django.core.management import call_command

from accounts.models import Delegation
from tests.e2e.conftest import login, screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_importer_changes_a_delegation_and_sees_the_credits_tabs(new_page):
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    delegation = Delegation.objects.filter(broker__bn9="871234563", status=Delegation.Status.ACTIVE).first()
    assert delegation is not None

    page = new_page()
    login(page, "importer@example.com")
    page.goto("/delegations/")
    page.locator(f"a[href='/delegations/{delegation.pk}/edit/']").click()
    page.wait_for_url(f"**/delegations/{delegation.pk}/edit/")
    page.uncheck("input[name=scopes][value=security]")
    screenshot(page, "deadends-delegation-edit")
    page.locator("main form button[type=submit]").click()
    page.wait_for_url("**/delegations/")
    assert "was changed" in page.locator("body").inner_text()
    delegation.refresh_from_db()
    assert delegation.status == Delegation.Status.ACTIVE and not delegation.scope_security

    page.goto("/delegations/grant/")
    page.fill("input[name=broker_bn9]", "123")
    page.locator("main form button[type=submit]").click()
    assert "exactly 9 digits" in page.locator("main").inner_text()
    screenshot(page, "deadends-bn-format")

    for url, name in (("/offsetting/", "overview"), ("/offsetting/debts/", "debts"),
                      ("/offsetting/unused/", "credits"), ("/offsetting/history/", "history"),
                      ("/offsetting/apply/", "apply")):
        response = page.goto(url)
        assert response.status == 200, url
        screenshot(page, f"deadends-credits-{name}")
    page.goto("/offsetting/")
    height = page.evaluate("document.documentElement.scrollHeight")
    assert height < 3000, height  # was 8,578 px as one page
    assert page.locator("input[type=checkbox]").count() == 0
