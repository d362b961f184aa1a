"""Staff create compliance actions in the admin: the services post them to the ledger."""

from datetime import date
from decimal import Decimal

import pytest

from appeals.models import Penalty, StatementOfAdjustment
from billing.ledger.models import LedgerEntry
from tests.appeals.conftest import make_cad


@pytest.fixture
def admin_client(client, django_user_model):
    user = django_user_model.objects.create_superuser(email="root@example.com", password="x-pass-123")
    client.force_login(user)
    return client


def test_serving_an_npa_in_the_admin_posts_the_penalty(admin_client, account):
    response = admin_client.post("/admin/appeals/penalty/add/", {
        "program_account": account.pk, "npa_number": "2025-0001-0001", "contravention_code": "C152",
        "description": "", "amount": "500.00", "served_on": "2025-11-20",
    })
    assert response.status_code == 302, response.content.decode()[:2000]
    penalty = Penalty.objects.get()
    assert (penalty.ledger_entry.kind, penalty.ledger_entry.amount) == ("penalty", Decimal("500.00"))


def test_a_bad_npa_is_a_form_error_not_a_crash(admin_client, account):
    response = admin_client.post("/admin/appeals/penalty/add/", {
        "program_account": account.pk, "npa_number": "X", "contravention_code": "C152",
        "amount": "-5.00", "served_on": "2099-01-01",
    })
    assert response.status_code == 200
    assert "must be positive" in response.content.decode() and Penalty.objects.count() == 0


def test_a_reassessment_in_the_admin_posts_the_difference(admin_client, account):
    cad = make_cad(account, dt_total=Decimal("1000.00"))
    response = admin_client.post("/admin/appeals/statementofadjustment/add/", {
        "cad": cad.pk, "number": "SOA-77", "decision_date": "2025-03-14", "new_amount": "1250.00",
        "change": "", "reason": "Re-classified.", "secured": "on",
    })
    assert response.status_code == 302, response.content.decode()[:3000]
    statement = StatementOfAdjustment.objects.get()
    assert (statement.change, statement.new_amount, statement.secured) == (Decimal("250.00"), Decimal("1250.00"), True)
    assert LedgerEntry.objects.get(kind="cad_adjustment").amount == Decimal("250.00")
    assert statement.decision_date == date(2025, 3, 14)
