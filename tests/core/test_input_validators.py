"""The shared input checks (carm_portal.validators) at every edge: API fields, forms, filters."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from rest_framework.test import APIClient

from billing.forms import PaymentForm
from billing.models import Payment
from carm_portal import validators


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user=user)
    return client


# --- The module ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("12.3", Decimal("12.30")), ("1,234.5", Decimal("1234.50")), ("999999999999.99", Decimal("999999999999.99")),
    ("", None), ("  ", None),
])
def test_parse_decimal_accepts(text, expected):
    assert validators.parse_decimal(text, places=2, max_digits=14) == expected


@pytest.mark.parametrize(("value", "message"), [
    ("1e309", "too large"), ("1e999999999", "too large"), ("1000000000000", "too large"),
    ("NaN", "Not a number"), ("-Infinity", "Not a number"), ("abc", "Not a number"),
    ("12.345", "decimal places"), ("1" * 500, "Not a number"), (1.5, "not a float"),
    (Decimal("Infinity"), "Not a number"),
])
def test_parse_decimal_refuses(value, message):
    with pytest.raises(ValidationError) as exc:
        validators.parse_decimal(value, places=2, max_digits=14)
    assert message in exc.value.messages[0]


def test_the_date_window():
    today = timezone.localdate()
    validators.check_date(date(2000, 1, 1), future=False)
    validators.check_date(today, future=False)
    validators.check_date(today + timedelta(days=3660), future=True)
    for day, future in [(date(1, 1, 1), True), (date(1999, 12, 31), False), (date(9999, 12, 31), True),
                        (today + timedelta(days=3661), True), (today + timedelta(days=1), False)]:
        with pytest.raises(ValidationError):
            validators.check_date(day, future=future)
    with pytest.raises(ValidationError, match="YYYY-MM-DD"):
        validators.parse_date("2025-02-30")
    assert validators.parse_date("2025-02-28") == date(2025, 2, 28)


def test_the_window_is_a_setting(settings):
    settings.CARM = {**settings.CARM, "INPUT_DATE_MIN": "1990-01-01"}
    validators.check_date(date(1995, 1, 1), future=False)


# --- At the edges -------------------------------------------------------------------------------------

@pytest.mark.django_db
@pytest.mark.parametrize(("field", "value"), [
    ("received_on", "0001-01-01"), ("received_on", "9999-12-31"), ("received_on", "1999-12-31"),
    ("amount", "1e309"), ("amount", "NaN"), ("amount", "Infinity"), ("program_account", 2**70),
])
def test_payment_api_answers_400_with_the_field(importer, field, value):
    account = importer.program_accounts.order_by("number").first()
    body = {"program_account": account.pk, "method": "online_banking", "reference": "EFT-1", "amount": "250.00",
            "received_on": str(timezone.localdate()), field: value}
    response = client_for(importer.bam).post("/api/v1/payments/", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not Payment.objects.exists()


@pytest.mark.django_db
def test_payment_form_refuses_a_date_outside_the_window(importer):
    form = PaymentForm(data={"method": "online_banking", "reference": "X", "amount": "10.00",
                             "received_on": "0001-01-01"}, accounts=importer.program_accounts.all())
    assert not form.is_valid()
    assert "received_on" in form.errors


@pytest.mark.django_db
@pytest.mark.parametrize("url", [
    "/api/v1/payments/?account=9.049120783736202e%2B24",
    "/api/v1/daily-notices/?account=-1e30",
    "/api/v1/statements/?account=99999999999999999999999",
    "/api/v1/program-accounts/?business=99999999999999999999999",
])
def test_a_filter_number_no_id_can_hold_answers_400(importer, url):
    response = client_for(importer.bam).get(url)
    assert response.status_code == 400, response.content
    assert "too large" in str(response.json())
