"""Issue 2 end to end: importer sees readiness, grants a delegation; the broker sees the client."""

import pytest
from django.core.management import call_command

from accounts.models import Delegation
from tests.e2e.conftest import login, screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_importer_grants_a_delegation_and_the_broker_sees_the_client(new_page):
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    # Start from an importer with no broker yet: the seeded delegation is revoked.
    Delegation.objects.filter(broker__bn9="871234563").update(status=Delegation.Status.REVOKED)

    broker = new_page()
    login(broker, "broker@example.com")
    assert "Maple Leaf Outfitters" not in broker.locator("main").inner_text()

    importer = new_page()
    login(importer, "importer@example.com")
    main = importer.locator("main")
    assert "Acting for" in importer.locator("body").inner_text()
    assert "Maple Leaf Outfitters" in importer.locator("body").inner_text()
    # The readiness checklist: one card per RM account, the delegation item missing.
    assert "123456782RM0001" in main.inner_text()
    assert "123456782RM0002" in main.inner_text()
    assert "Broker delegation in place" in main.inner_text()
    screenshot(importer, "importer-dashboard")

    importer.goto("/delegations/grant/")
    importer.fill("input[name=broker_bn9]", "871234563")
    importer.check("input[name=coverage][value=business]")
    importer.locator("main form button[type=submit]").click()
    importer.wait_for_url("**/delegations/")
    assert "Northern Customs Brokers" in importer.locator("main").inner_text()
    screenshot(importer, "importer-delegations")

    broker.goto("/")
    clients = broker.locator("main").inner_text()
    assert "Maple Leaf Outfitters" in clients
    assert "123456782RM0001" in clients and "123456782RM0002" in clients
    screenshot(broker, "broker-clients")
    assert Delegation.objects.filter(broker__bn9="871234563", status="active", coverage="business").count() == 1
