"""Issue 13 item 4 end to end: a broker's BAM uploads a CSV of BNs / RM numbers from the board,
sees each row's outcome before anything is sent, submits, and sees the results; then ticks
"Select all on this page" and sends a reminder to the clients' BAMs. French at 390 px too."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from accounts.models import Business, Delegation
from accounts.roles import Role
from tests import factories
from tests.e2e.conftest import login, screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _world():
    today = timezone.localdate()
    firm = factories.make_business(kind=Business.Kind.BROKER, name="Border Brokers", accounts=0)
    bam = factories.add_member(firm, user=factories.make_user("bulk.bam@example.com"), role=Role.BAM)
    delegated = factories.make_business(name="Already Imports", accounts=1)
    factories.add_member(delegated, role=Role.BAM)
    factories.make_delegation(delegated, firm, valid_from=today - timedelta(days=30))
    fresh = [factories.make_business(name=f"Fresh {i} Imports", accounts=1) for i in range(2)]
    return bam, delegated, fresh


def _csv(tmp_path, delegated, fresh):
    path = tmp_path / "clients.csv"
    path.write_text("bn,scopes,valid_to\n"
                    f"{fresh[0].bn9},,\n"
                    f"{fresh[1].bn9}RM0001,financial,\n"
                    f"{delegated.bn9},,\n"
                    "123,,\n"
                    f"{fresh[0].bn9},,\n", encoding="utf-8")
    return path


def test_bulk_request_from_a_csv_then_remind_the_clients(new_page, tmp_path, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    bam, delegated, fresh = _world()
    page = new_page()
    login(page, bam.email, factories.PASSWORD)
    page.goto("/brokers/")
    page.click("a.board-bulk")
    page.wait_for_url("**/brokers/delegations/bulk/")
    page.set_input_files("input[name=file]", str(_csv(tmp_path, delegated, fresh)))
    page.click("form.bulk-form button[type=submit]")
    outcomes = {page.locator("tbody tr").nth(i).get_attribute("data-row"):
                page.locator("tbody tr").nth(i).get_attribute("data-outcome") for i in range(5)}
    assert outcomes == {"2": "request", "3": "request", "4": "already", "5": "bad_format", "6": "duplicate"}
    assert "2 requests will be sent" in page.locator("main").inner_text()
    assert not Delegation.objects.filter(importer__in=fresh).exists()  # the preview wrote nothing
    screenshot(page, "broker-bulk-preview-en")

    page.click("text=Submit 2 requests")
    page.wait_for_selector(".bulk-done")
    assert "2 requests sent." in page.locator("main").inner_text()
    assert page.locator("tbody tr[data-outcome=request]").count() == 2
    assert Delegation.objects.filter(importer__in=fresh, status=Delegation.Status.REQUESTED).count() == 2

    # Reminders: "Select all on this page" ticks every client's box, then Send reminder.
    page.goto("/brokers/")
    page.check("#remind-all")
    assert all(box.is_checked() for box in page.locator("input.remind-pick").all())
    page.click("#remind-form button[type=submit]")
    page.wait_for_url("**/brokers/")
    assert "Reminder sent to 1 client(s), 0 already reminded today." in page.locator("main, body").first.inner_text()
    assert len(mail.outbox) == 1
    page.check("#remind-all")
    page.click("#remind-form button[type=submit]")
    page.wait_for_url("**/brokers/")
    assert "Reminder sent to 0 client(s), 1 already reminded today." in page.locator("body").inner_text()
    assert len(mail.outbox) == 1


def test_bulk_page_in_french_at_390(new_page, tmp_path, settings):
    from tests.i18n.conftest import install_fragment

    install_fragment(settings, tmp_path)  # the .po as written (the committed .mo may be older)
    bam, delegated, fresh = _world()
    page = new_page()
    page.set_viewport_size({"width": 390, "height": 900})
    login(page, bam.email, factories.PASSWORD)
    page.evaluate("document.cookie = 'django_language=fr; path=/'")
    page.goto("/brokers/delegations/bulk/")
    assert page.locator("html").get_attribute("lang") == "fr"
    assert "Demander des délégations en lot" in page.locator("h1").inner_text()
    page.set_input_files("input[name=file]", str(_csv(tmp_path, delegated, fresh)))
    page.click("form.bulk-form button[type=submit]")
    page.wait_for_selector("tbody tr[data-outcome=duplicate]")
    assert "Ligne en double" in page.locator("main").inner_text()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, width
    screenshot(page, "broker-bulk-preview-fr-390")
