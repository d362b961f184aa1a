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
    assert panel.count() == 1 and "Amount due" in panel.inner_text()
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


def test_paying_the_amount_due_takes_the_dashboard_to_zero(new_page, demo_statement, billing_panel):
    """Issue #12: the importer reads what it owes on the dashboard, pays exactly that (one payment
    per RM account, recorded on the Payments page after reading How to pay), and the dashboard's
    amount due goes to zero at once."""
    from accounts.models import Business
    from billing.summary import money_summary

    importer = Business.objects.get(bn9="123456782")
    today = timezone.localdate()
    accounts = list(importer.program_accounts.order_by("number"))
    summary = money_summary([a.pk for a in accounts], today=today)
    if summary.amount_due == 0:  # the demo's history may be paid up on some days: owe one statement
        period = calendar.last_issued_period(today)
        post_mixed_period(accounts[0], calendar.next_period(period), cads=2)
        summary = money_summary([a.pk for a in accounts], today=today)
    owed = {a.program_account_id: a.amount_due for a in summary.accounts if a.amount_due > 0}
    numbers = {a.pk: a.number for a in accounts}

    page = new_page()
    login(page, "importer@example.com")
    page.goto("/")
    shown = page.locator("#panel-amount-due").inner_text()
    assert shown == f"${summary.amount_due:,.2f}"
    page.click(".billing-panel >> text=How to pay")
    page.wait_for_url("**/billing/payments/**")
    assert "Receiver General for Canada" in page.locator("#how-to-pay").inner_text()
    for n, (account_id, amount) in enumerate(owed.items()):
        page.select_option("select[name=program_account]", label=numbers[account_id]) if page.locator(
            f"select[name=program_account] option:text-is('{numbers[account_id]}')").count() else \
            page.select_option("select[name=program_account]", value=str(account_id))
        page.select_option("select[name=method]", value="pad")
        page.fill("input[name=reference]", f"E2E-PAD-{n}")
        page.fill("input[name=amount]", str(amount))
        page.click("form.form >> button[type=submit]")
        page.wait_for_load_state()
        assert "was recorded" in page.locator("main").inner_text()
    page.goto("/")
    assert page.locator("#panel-amount-due").inner_text() == "$0.00"
    assert "Nothing to pay now" in page.locator(".billing-panel").inner_text()
    screenshot(page, "billing-dashboard-paid")
