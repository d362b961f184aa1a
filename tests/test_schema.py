"""The OpenAPI schema builds without warnings, and the docs work offline (no CDN)."""

from io import StringIO

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from tests import factories


def test_schema_validates_without_warnings():
    out = StringIO()
    # Raises (SchemaGenerationError / CommandError) on any warning or an invalid schema.
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out, stderr=StringIO())
    schema = out.getvalue()
    assert "openapi:" in schema
    for path in ("/api/v1/auth/token/", "/api/v1/me/", "/api/v1/businesses/", "/api/v1/program-accounts/",
                 "/api/v1/delegations/grant/", "/api/v1/delegations/request/", "/api/v1/readiness/"):
        assert path in schema


@pytest.mark.django_db
def test_docs_page_loads_and_uses_no_cdn():
    client = APIClient()
    client.force_authenticate(user=factories.make_user())
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger" in html.lower()
    for host in ("cdn.", "unpkg", "jsdelivr"):
        assert host not in html, host
