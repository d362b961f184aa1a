"""Billing in Chromium: the demo importer opens its statements, a statement, and downloads its PDF."""

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.models import ProgramAccount
from billing.models import Statement
from carm_portal import calendar
from tests.billing.doc_builders import close_statement, post_mixed_period
from tests.e2e.conftest import SCREENSHOTS, login, screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def billing_panel():
    """The dashboard's billing panel: registered by BillingConfig.ready(), here by hand if not yet."""
    from accounts import dashboard
    from billing.panels import PANEL_KEY, register_panels

    registered_here = PANEL_KEY not in dashboard._PANELS
    if registered_here:
        register_panels()
    yield
    if registered_here:
        dashboard._PANELS.pop(PANEL_KEY, None)


@pytest.fixture
def demo_statement(settings, tmp_path):
    settings.PRIVATE_STORAGE_ROOT = tmp_path / "private"
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    account = ProgramAccount.objects.get(number="123456782RM0001")
    statement = Statement.objects.filter(program_account=account).order_by("-period_end").first()
    if statement is None:
        # No billing demo yet: close the last issued period over the demo's CAD history.
        today = timezone.localdate()
        period = calendar.billing_period_for(today)
        while calendar.statement_date(period) > today:
            period = calendar.billing_period_for(calendar.period_start(period) - timezone.timedelta(days=1))
        if not account.ledger_entries.filter(billing_period=period).exists():
            post_mixed_period(account, period, cads=6)
        statement = close_statement(account, period)
    return statement


def test_importer_opens_statements_and_downloads_the_pdf(new_page, demo_statement, billing_panel, tmp_path):
    statement = demo_statement
    page = new_page()
    login(page, "importer@example.com")
    page.goto("/")
    panel = page.locator(".billing-panel")
    assert panel.count() == 1 and "Next due date" in panel.inner_text()
    screenshot(page, "billing-dashboard-panel")

    page.click("nav.main-nav >> text=Billing")
    page.wait_for_url("**/billing/")
    main = page.locator("main")
    assert "Statements of account" in main.inner_text()
    assert statement.program_account.number in main.inner_text()
    assert page.locator("svg.chart title").count() >= 1
    screenshot(page, "billing-statements")

    page.click(f"a[href='/billing/statements/{statement.pk}/']")
    page.wait_for_url(f"**/billing/statements/{statement.pk}/")
    text = page.locator("main").inner_text()
    assert "CAD charges" in text and "Closing balance" in text
    assert f"{statement.closing_balance:,.2f}" in text
    assert statement.due_date.isoformat() in text
    cad_links = page.locator("main a[href^='/declarations/']")
    if statement.lines().filter(source_type__model="cad").exists():
        assert cad_links.count() >= 1  # CAD charges link to the CAD pages
    screenshot(page, "billing-statement-detail")

    with page.expect_download() as info:
        page.click("text=Download PDF")
    download = info.value
    target = tmp_path / download.suggested_filename
    download.save_as(target)
    assert download.suggested_filename.endswith(".pdf")
    assert target.read_bytes().startswith(b"%PDF-")
    SCREENSHOTS.mkdir(exist_ok=True)
    (SCREENSHOTS / "billing-demo-statement.pdf").write_bytes(target.read_bytes())  # to look at as PNG

    response = page.request.get(f"/billing/statements/{statement.pk}/pdf/")
    assert response.status == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.body().startswith(b"%PDF-")

    # Another importer's user gets a 404 for the same URL.
    other = new_page()
    login(other, "other@example.com")
    assert other.request.get(f"/billing/statements/{statement.pk}/pdf/").status == 404
