"""Issue 3 end to end: the demo broker files a two-line CAD for the demo importer through the web
form (live totals), submits it, files a correction that lowers the duty and sees the credit."""

from decimal import Decimal

import pytest
from django.core.management import call_command

from billing.ledger.models import LedgerEntry
from declarations.models import CAD, CADVersion
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


def ready(page) -> None:
    """Live totals computed. A locator, not wait_for_function: the CSP (script-src 'self') forbids eval."""
    page.locator("[data-live-status]", has_text="ready to file").wait_for()


def test_broker_files_submits_and_corrects_a_cad(new_page, settings):
    settings.CARM = {**settings.CARM, "CAD_AUTO_ACCEPT": True}
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    existing = set(CAD.objects.values_list("pk", flat=True))

    page = new_page()
    page.set_default_timeout(30000)  # the machine may be busy: live totals are a round trip each
    login(page, "broker@example.com")
    page.click("nav.main-nav >> text=Declarations")
    page.wait_for_url("**/declarations/")
    assert "Maple Leaf Outfitters" in page.locator("main").inner_text()
    assert page.locator("main table tbody tr").count() == 25  # a year of history, paginated
    screenshot(page, "cad-list")

    page.click("main >> text=New CAD")
    page.wait_for_url("**/declarations/new/")
    page.fill("input[name=office_code]", "0497")
    page.fill("input[name=vendor_name]", "Guangzhou Cotton Mills")
    page.fill("input[name=vendor_country]", "CN")
    page.fill("input[name=invoice_number]", "GCM-2291")
    page.fill("input[name=invoice_currency]", "USD")
    # Issue 11: UST (CUSMA) on T-shirts of Chinese origin is refused on the line, live.
    fill_line(page, 0, description="Men's cotton T-shirts", classification="6109.10.00.11", treatment="UST",
              origin="CN", quantity="500", value="4000.00")
    page.check("input[name=lines-0-proof_of_origin]")
    refusal = page.locator("[data-line='lines-0'] ul.live-errors",
                           has_text="Tariff treatment UST cannot be claimed for goods originating in CN")
    refusal.wait_for()
    screenshot(page, "cad-form-ust-refused-for-cn-origin")
    page.select_option("select[name=lines-0-treatment]", "MFN")
    page.uncheck("input[name=lines-0-proof_of_origin]")
    page.click("[data-add-line]")
    fill_line(page, 1, description="Women's cotton T-shirts", classification="6109.10.00.21", treatment="MFN",
              origin="CN", quantity="300", value="2500.00")
    # Live totals: both lines computed, ready to file.
    ready(page)
    duty = page.locator("[data-total=duty]").get_attribute("data-value")  # the shown text is money: $1,234.56
    assert Decimal(duty) > 0
    assert page.locator("[data-total=duty]").inner_text().startswith("$")
    assert page.locator("[data-line='lines-1'] [data-amount=duty]").inner_text() != "—"
    screenshot(page, "cad-form-live-totals")

    page.click("button[name=action][value=draft]")
    page.wait_for_url("**/declarations/*/")
    cad = CAD.objects.exclude(pk__in=existing).get()
    assert cad.status == CAD.Status.DRAFT and cad.lines.count() == 2 and str(cad.duty_total) == duty
    assert cad.broker.bn9 == "871234563"

    page.click("main form button:has-text('Submit')")
    page.wait_for_selector("text=was submitted and accepted")
    cad.refresh_from_db()
    assert cad.status == CAD.Status.ACCEPTED
    charged = LedgerEntry.objects.get(kind=LedgerEntry.Kind.CAD_CHARGE, reference=cad.transaction_number).amount
    assert charged == cad.dt_total
    screenshot(page, "cad-detail-accepted")

    page.click("main >> text=File a correction")
    page.wait_for_url(f"**/declarations/{cad.pk}/amend/")
    assert "This will be a correction." in page.locator("main").inner_text()
    page.select_option("select[name=reason_code_1]", "R2-74-1-E.VFD")  # a refund: lower value for duty
    ready(page)
    before = page.locator("[data-total=duty]").get_attribute("data-value")
    page.fill("input[name=lines-0-value_foreign]", "3000.00")
    ready(page)
    assert Decimal(page.locator("[data-total=duty]").get_attribute("data-value")) < Decimal(before)
    screenshot(page, "cad-correction-form")
    page.click("main form button[type=submit]:has-text('File the correction')")
    page.wait_for_selector("text=Correction filed and approved")

    version = CADVersion.objects.get(cad=cad, number=2)
    assert version.kind == CADVersion.Kind.CORRECTION
    credit = version.ledger_entry.amount
    assert credit < 0
    effect = page.locator(f"[data-ledger-effect='{credit}']")
    assert effect.is_visible()
    assert "credit" in page.locator("main").inner_text()
    cad.refresh_from_db()
    assert cad.duty_total < Decimal(duty)
    screenshot(page, "cad-detail-credit")
