"""The statement reconciler in Chromium: a broker uploads a list and sees each group; the page in
French at 390 px, and the PDF as PNG, are screenshotted."""

import subprocess

import pytest

from tests import factories
from tests.billing.test_reconcile import build_world, set_nine_percent, the_list
from tests.e2e.conftest import SCREENSHOTS, login, screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def world(importer, other_importer, broker, settings, tmp_path):
    settings.PRIVATE_STORAGE_ROOT = tmp_path / "private"
    set_nine_percent()
    return build_world(importer, other_importer, broker)


def _upload(page, world):
    page.goto(f"/billing/statements/{world['statement'].pk}/")
    page.click(f"a[href$='/billing/statements/{world['statement'].pk}/reconcile/']")  # in any language
    page.wait_for_url(f"**/billing/statements/{world['statement'].pk}/reconcile/")
    page.set_input_files("#id_file", files=[{"name": "list.csv", "mimeType": "text/csv",
                                               "buffer": the_list(world)}])
    page.click("button[name=reconcile]")
    page.wait_for_selector("#group-matched")


def test_broker_uploads_a_list_and_sees_each_group(new_page, world):
    page = new_page()
    login(page, world["broker"].bam.email, factories.PASSWORD)
    _upload(page, world)
    c = world["cads"]
    assert c["ours"].transaction_number in page.locator("#group-matched").inner_text()
    assert "Border Brokers" in page.locator("#group-matched").inner_text()
    differ = page.locator("#group-differ").inner_text()
    assert c["corrected"].transaction_number in differ and "v2" in differ
    unlisted = page.locator("#group-unlisted").inner_text()
    assert c["other_broker"].transaction_number in unlisted and "Other Customs Ltd." in unlisted
    missing = page.locator("#group-not-on-statement").inner_text()
    for key in ("prev_by_us", "withdrawn", "submitted", "second_rm", "foreign"):
        assert c[key].transaction_number in missing
    other = page.locator("#other-lines").inner_text()
    assert "Cheque" in other and "Partial credit" in other
    assert page.locator("#short-pay").count() == 1
    screenshot(page, "reconcile-en-desktop")


def test_reconcile_page_in_french_on_a_phone_and_the_pdf(browser, live_server, settings, world, tmp_path):
    settings.AXES_ENABLED = False
    context = browser.new_context(base_url=live_server.url, locale="fr-CA", viewport={"width": 390, "height": 844})
    context.set_default_timeout(15000)
    try:
        page = context.new_page()
        login(page, world["broker"].bam.email, factories.PASSWORD)
        _upload(page, world)
        assert page.evaluate("document.documentElement.lang").startswith("fr")
        wide = page.evaluate("""[...document.querySelectorAll('main *')].filter(e => e.getBoundingClientRect().right > 392)
            .slice(0, 5).map(e => e.tagName + '.' + e.className + '#' + e.id + ' ' + Math.round(e.getBoundingClientRect().right))""")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, wide
        screenshot(page, "reconcile-fr-390")
        page.set_input_files("#id_file", files=[{"name": "list.csv", "mimeType": "text/csv",
                                                   "buffer": the_list(world)}])
        with page.expect_download() as download:
            page.click("button[name=export][value=pdf]")
        path = tmp_path / "reconciliation.pdf"
        download.value.save_as(path)
        assert path.read_bytes().startswith(b"%PDF")
        SCREENSHOTS.mkdir(exist_ok=True)
        subprocess.run(["pdftoppm", "-png", "-r", "70", "-f", "1", "-l", "1", str(path),
                        str(SCREENSHOTS / "reconcile-pdf")], check=True)
    finally:
        context.close()
