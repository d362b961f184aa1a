"""Issue 11 item 1 end to end: the demo's importer without RPP (Prairie Hardware) files a cash CAD
in the browser. The form warns before filing that duties and taxes are due on release and what
RPP would change; a UST line of Chinese origin is refused; the filed CAD shows "due on release"
with the release date. Screenshots in English at 1280 px and in French at 390 px."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.models import ProgramAccount
from declarations import payment_timing
from declarations.models import CAD
from tests.e2e.conftest import login, screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def fill_line(page, index: int, *, description, classification, treatment, origin, quantity, value):
    prefix = f"lines-{index}-"
    page.fill(f"input[name={prefix}description]", description)
    page.fill(f"input[name={prefix}classification]", classification)
    page.select_option(f"select[name={prefix}treatment]", treatment)
    page.fill(f"input[name={prefix}origin_country]", origin)
    page.fill(f"input[name={prefix}quantity]", quantity)
    page.fill(f"input[name={prefix}value_foreign]", value)


def test_importer_without_rpp_files_a_cash_cad(new_page, browser, live_server, settings):
    settings.CARM = {**settings.CARM, "CAD_AUTO_ACCEPT": True}
    settings.AXES_ENABLED = False
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    account = ProgramAccount.objects.get(business__legal_name="Prairie Hardware Ltd.")
    assert account.rpp_status == ProgramAccount.RppStatus.NOT_ENROLLED
    today = timezone.localdate()
    deferred_due = payment_timing.deferred_due_date(today, CAD.Type.REGULAR, today=today)

    page = new_page()
    page.set_default_timeout(30000)  # the machine may be busy: live totals are a round trip each
    login(page, "other@example.com")
    page.goto("/declarations/new/")
    warning = page.locator("[data-payment-warning]")
    assert warning.count() == 1
    text = warning.inner_text()
    assert "not enrolled in RPP" in text and f"due on release ({today.isoformat()})" in text
    assert f"monthly statement due on {deferred_due.isoformat()}" in text
    # Released two days ago: the warning follows the release date typed (live, no reload).
    released = today - timedelta(days=2)
    deferred_due = payment_timing.deferred_due_date(released, CAD.Type.REGULAR, today=today)
    page.fill("input[name=direct_shipment_date]", released.isoformat())
    page.fill("input[name=release_date]", released.isoformat())
    page.locator("[data-payment-warning]", has_text=f"due on release ({released.isoformat()})").wait_for()
    assert f"monthly statement due on {deferred_due.isoformat()}" in page.locator("[data-payment-warning]").inner_text()

    page.fill("input[name=office_code]", "0497")
    page.fill("input[name=vendor_name]", "Guangzhou Tools Co.")
    page.fill("input[name=vendor_country]", "CN")
    page.fill("input[name=invoice_number]", "GTC-0042")
    page.fill("input[name=invoice_currency]", "CAD")
    # UST (CUSMA) on goods of Chinese origin: refused on the line, live.
    fill_line(page, 0, description="Men's cotton T-shirts", classification="6109.10.00.11", treatment="UST",
              origin="CN", quantity="200", value="1500.00")
    page.check("input[name=lines-0-proof_of_origin]")
    page.locator("[data-line='lines-0'] ul.live-errors",
                 has_text="Tariff treatment UST cannot be claimed for goods originating in CN").wait_for()
    screenshot(page, "cash-cad-form-warning-and-ust-refused")
    # Filing it anyway is refused with the field error, and nothing is stored.
    page.click("button[name=action][value=file]")
    page.wait_for_load_state()
    assert "UST" in page.locator("main").inner_text()
    assert not CAD.objects.filter(program_account=account).exists()
    assert page.locator("[data-payment-warning]").count() == 1  # still warned on the redisplayed form

    page.select_option("select[name=lines-0-treatment]", "MFN")
    page.uncheck("input[name=lines-0-proof_of_origin]")
    page.locator("[data-live-status]", has_text="ready to file").wait_for()
    page.click("button[name=action][value=file]")
    page.wait_for_url("**/declarations/*/")
    cad = CAD.objects.get(program_account=account)
    assert cad.status == CAD.Status.ACCEPTED and cad.payment_timing == CAD.PaymentTiming.ON_RELEASE
    assert cad.payment_due_date == cad.release_date == released
    main = page.locator("main").inner_text()
    assert "Pay-at-release CAD" in main and "Due on release (no RPP)" in main
    assert f"due {released.isoformat()}" in page.locator("[data-payment='on_release']").inner_text()
    screenshot(page, "cash-cad-detail")

    page.goto("/declarations/")
    row = page.locator("main table tbody tr", has_text=cad.transaction_number)
    assert "On release" in row.inner_text() and released.isoformat() in row.inner_text()

    # In French, on a 390 px phone: the form's warning and the CAD page still show it.
    context = browser.new_context(base_url=live_server.url, locale="fr-CA", viewport={"width": 390, "height": 844})
    try:
        phone = context.new_page()
        phone.set_default_timeout(30000)
        login(phone, "other@example.com")
        phone.goto("/declarations/new/")
        assert phone.locator("html").get_attribute("lang") == "fr"
        assert phone.locator("[data-payment-warning]").count() == 1
        screenshot(phone, "cash-cad-form-warning-fr-390")
        phone.goto(f"/declarations/{cad.pk}/")
        assert phone.locator("[data-payment='on_release']").count() == 1
        screenshot(phone, "cash-cad-detail-fr-390")
        # Nothing wider than the screen: the page does not scroll sideways.
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    finally:
        context.close()
