"""Issue 6 end to end: the demo broker files a penalty appeal for the demo importer with a
document; CBSA staff decide it (allowed) on the review queue; the importer sees the decision
letter and the credit."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import ProgramAccount, User
from appeals import deadlines, services
from appeals.models import Appeal
from billing.ledger.models import LedgerEntry
from tests.e2e.conftest import login, screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def test_broker_files_staff_decides_importer_sees_letter_and_credit(new_page, settings, tmp_path):
    settings.PRIVATE_STORAGE_ROOT = tmp_path / "private"
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    admin = User.objects.get(email="admin@example.com")
    account = ProgramAccount.objects.get(number="123456782RM0001")
    today = timezone.localdate()
    penalty = services.penalty_create(
        actor=admin, program_account=account, npa_number="2026-0999-0001", contravention_code="C336",
        description="Late payment", amount=Decimal("300.00"), served_on=today - timedelta(days=5),
    )

    # The broker (delegated for RM0001, appeals scope on) files the appeal from the NPA page.
    broker = new_page()
    login(broker, "broker@example.com")
    broker.goto(f"/appeals/penalties/{penalty.pk}/")
    left = deadlines.days_left_text(deadlines.appeal_deadline(penalty.served_on), today)
    assert left in broker.locator("main").inner_text()
    broker.get_by_role("link", name="Appeal this penalty").click()
    broker.fill("textarea[name=grounds]", "The payment was made on time by PAD; the bank confirmation is attached.")
    broker.get_by_role("button", name="Save the draft").click()
    broker.wait_for_url("**/appeals/*/")
    broker.set_input_files("input[name=file]", files=[
        {"name": "bank-confirmation.pdf", "mimeType": "application/pdf", "buffer": PDF}])
    broker.get_by_role("button", name="Upload").click()
    expect(broker.locator(".messages")).to_contain_text("bank-confirmation.pdf was added")
    screenshot(broker, "appeal-broker-draft")
    broker.get_by_role("button", name="File the appeal with CBSA").click()
    expect(broker.locator(".messages")).to_contain_text("Your appeal was filed with CBSA.")
    main = broker.locator("main").inner_text()
    assert "Your appeal was filed with CBSA." in main and "Submitted" in main
    screenshot(broker, "appeal-broker-filed")
    appeal = Appeal.objects.get(penalty=penalty)
    assert appeal.status == "submitted" and appeal.documents.count() == 1

    # CBSA staff work the review queue.
    staff = new_page()
    login(staff, "admin@example.com")
    staff.goto("/appeals/review/")
    assert "NPA 2026-0999-0001" in staff.locator("main").inner_text()
    staff.get_by_role("link", name=f"#{appeal.pk} · Penalty appeal").click()
    staff.get_by_role("button", name="Acknowledge").click()
    expect(staff.locator(".messages")).to_contain_text("now acknowledged")
    staff.select_option("select[name=officer]", value=str(admin.pk))
    staff.get_by_role("button", name="Assign").click()
    expect(staff.locator(".messages")).to_contain_text("now assigned to an officer")
    staff.select_option("#outcome", value="allowed")
    staff.fill("#amount", "300.00")
    staff.fill("#reasons", "The PAD payment cleared before the due date: the penalty is cancelled.")
    staff.get_by_role("button", name="Render the decision").click()
    expect(staff.locator(".messages")).to_contain_text("now decision rendered")
    screenshot(staff, "appeal-staff-decided")

    appeal.refresh_from_db()
    assert (appeal.status, appeal.outcome, appeal.decision_amount) == ("decision_rendered", "allowed", Decimal("300.00"))
    assert appeal.letter_file  # rendered by the Celery task on commit
    credit = LedgerEntry.objects.get(kind="appeal_decision", source_id=appeal.pk)
    assert credit.amount == Decimal("-300.00")

    # The importer sees the decision, the credit and the letter.
    importer = new_page()
    login(importer, "importer@example.com")
    importer.goto(f"/appeals/{appeal.pk}/")
    main = importer.locator("main").inner_text()
    assert "Decision: Allowed" in main
    assert "Credit to your account: $300.00" in main
    assert "The PAD payment cleared" in main
    letter = importer.request.get(f"/appeals/{appeal.pk}/letter/")
    assert letter.status == 200 and letter.body().startswith(b"%PDF-")
    assert importer.get_by_role("link", name="Decision letter (PDF)").is_visible()
    screenshot(importer, "appeal-importer-decision")
    importer.goto("/appeals/")
    assert "NPA 2026-0999-0001" in importer.locator("main").inner_text()
    screenshot(importer, "appeal-importer-list")
