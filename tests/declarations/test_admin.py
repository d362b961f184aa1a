"""The admin: read-only CADs and ledger, review actions that call the services."""

from datetime import date

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from billing.ledger.models import LedgerEntry
from declarations import services
from declarations.models import CAD, CADVersion
from tests import factories

from .conftest import accepted_cad, file_cad, line

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, db):
    officer = factories.make_user(is_staff=True, is_superuser=True)
    client.force_login(officer)
    client.officer = officer
    return client


def test_pages_render(admin_client, importer, account, tariff, cbsa):
    cad = accepted_cad(importer.bam, account, cbsa)
    for url in (reverse("admin:declarations_cad_changelist"), reverse("admin:declarations_cad_change", args=[cad.pk]),
                reverse("admin:declarations_cadversion_changelist"),
                reverse("admin:declarations_tariffitem_changelist"),
                reverse("admin:declarations_exchangerate_changelist"),
                reverse("admin:declarations_tarifftreatment_changelist"),
                reverse("admin:ledger_ledgerentry_changelist"),
                reverse("admin:ledger_ledgerentry_change", args=[LedgerEntry.objects.get().pk]),
                reverse("admin:declarations_cad_changelist") + f"?q={cad.transaction_number}"):
        assert admin_client.get(url).status_code == 200, url
    # Never deletable, never addable from the admin.
    assert admin_client.get(reverse("admin:ledger_ledgerentry_delete",
                                    args=[LedgerEntry.objects.get().pk])).status_code == 403
    assert admin_client.get(reverse("admin:ledger_ledgerentry_add")).status_code == 403
    assert admin_client.get(reverse("admin:declarations_cad_delete", args=[cad.pk])).status_code == 403


def test_accept_action_posts_the_charge(admin_client, importer, account, tariff):
    cad = file_cad(importer.bam, account)
    response = admin_client.post(reverse("admin:declarations_cad_changelist"),
                                 {"action": "accept_selected", ACTION_CHECKBOX_NAME: [cad.pk]})
    assert response.status_code == 302
    cad.refresh_from_db()
    assert cad.status == CAD.Status.ACCEPTED
    assert LedgerEntry.objects.get().amount == cad.dt_total


def test_reject_action_asks_for_a_reason(admin_client, importer, account, tariff):
    cad = file_cad(importer.bam, account)
    url = reverse("admin:declarations_cad_changelist")
    page = admin_client.post(url, {"action": "reject_selected", ACTION_CHECKBOX_NAME: [cad.pk]})
    assert page.status_code == 200 and b"Reason" in page.content
    done = admin_client.post(url, {"action": "reject_selected", ACTION_CHECKBOX_NAME: [cad.pk], "apply": "1",
                                   "reason": "Wrong office code"})
    assert done.status_code == 302
    cad.refresh_from_db()
    assert cad.status == CAD.Status.REJECTED and cad.rejection_reason == "Wrong office code"


def test_adjustment_review_actions(admin_client, importer, account, tariff, cbsa):
    cad = accepted_cad(importer.bam, account, cbsa)
    version = services.cad_amend(actor=importer.bam, cad=cad, lines=[line(treatment="UST", origin_country="US", proof_of_origin=True)],
                                 reason_codes=["R2-74-1-C11"], today=date(2025, 12, 5))
    url = reverse("admin:declarations_cadversion_changelist")
    admin_client.post(url, {"action": "approve_selected", ACTION_CHECKBOX_NAME: [version.pk]})
    version.refresh_from_db()
    assert version.status == CADVersion.Status.APPROVED
    assert services.cad_ledger_total(cad) == version.dt_total
