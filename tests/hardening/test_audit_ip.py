"""The audit trail records the client IP (proxy-aware, the lockout's helper) for web and API
actions, and the audit page shows it; work outside a request records none."""

from django.urls import reverse
from rest_framework.test import APIClient

from accounts import audit
from accounts.models import AuditEvent

PROXY = "10.0.0.1"


def test_web_action_records_the_client_ip(client, importer, settings):
    settings.CLIENT_IP_PROXY_COUNT = 1
    client.force_login(importer.bam)
    form = client.get(reverse("business-edit")).context["form"]
    data = {name: ("" if value is None else value) for name, value in form.initial.items()
            if name in form.fields}
    data["city"] = "Moncton"
    response = client.post(reverse("business-edit"), data, REMOTE_ADDR=PROXY,
                           HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.44")
    assert response.status_code == 302, getattr(response, "context", None) and response.context["form"].errors
    event = AuditEvent.objects.get(action="accounts.business.updated")
    assert event.ip_address == "203.0.113.44"
    page = client.get(reverse("audit")).content.decode()
    assert "IP address" in page and "203.0.113.44" in page


def test_api_action_records_the_client_ip(importer, settings):
    settings.CLIENT_IP_PROXY_COUNT = 0
    api = APIClient()
    api.force_authenticate(importer.bam)
    response = api.patch(f"/api/v1/businesses/{importer.pk}/", {"city": "Halifax"}, format="json",
                         REMOTE_ADDR="198.51.100.9", HTTP_X_FORWARDED_FOR="6.6.6.6")
    assert response.status_code == 200, response.content
    assert AuditEvent.objects.get(action="accounts.business.updated").ip_address == "198.51.100.9"


def test_outside_a_request_no_ip_and_an_explicit_ip_wins(importer):
    event = audit.record("tests.thing.done", actor=None, acting_for=importer)
    assert event.ip_address is None
    event = audit.record("tests.thing.done", actor=None, acting_for=importer, ip_address="192.0.2.1")
    assert event.ip_address == "192.0.2.1"
