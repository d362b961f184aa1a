"""The Credits page, its forms, the staff refund queue and the dashboard panel, through the
real URLs with a logged-in client. Outside the gate: 404."""

from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.models import Business
from accounts.roles import Role
from billing.ledger.models import LedgerEntry
from billing.offsetting import services
from billing.offsetting.models import Allocation, Refund
from tests import factories

from .conftest import DUE, OCT, SEP, post

pytestmark = pytest.mark.django_db

K = LedgerEntry.Kind
PAGE = reverse("offsetting:credits")


@pytest.fixture
def bam_client(client, importer):
    client.force_login(importer.bam)
    return client


def test_page_shows_credit_what_it_paid_and_open_debts(bam_client, importer, rm):
    # The Credits section is split: overview (preference first), debts, credits, history, apply.
    paid = post(rm, K.CAD_CHARGE, "100.00", SEP, reference="11111111111111")
    post(rm, K.PAYMENT, "-300.00", SEP, reference="PAY-1")
    post(rm, K.CAD_CHARGE, "40.00", OCT, reference="22222222222222")
    services.apply_offsets(program_account_id=rm.pk, today=DUE[SEP])
    response = bam_client.get(PAGE)
    assert response.status_code == 200
    html = response.content.decode()
    for text in ("$200.00", "Request the refund", "Save the preference", 'aria-current="page"',
                 "1 open debt", "1 unused credit"):
        assert text in html, text
    assert html.index("Save the preference") < html.index("Available credit of")  # preference on top
    assert 'type="checkbox"' not in html
    debts = bam_client.get(reverse("offsetting:debts")).content.decode()
    assert "22222222222222" in debts and "2025-10-31" in debts and paid.reference not in debts
    credits = bam_client.get(reverse("offsetting:credit-list")).content.decode()
    assert "PAY-1" in credits and "$200.00" in credits
    history = bam_client.get(reverse("offsetting:history")).content.decode()
    assert paid.reference in history and "PAY-1" in history
    apply = bam_client.get(reverse("offsetting:apply")).content.decode()
    assert "Apply the credit" in apply and 'type="checkbox"' in apply


def _queries(client, url) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_split_pages_paginate_with_constant_queries(bam_client, importer, rm, rm2, no_auto_offset):
    """Each tab's query count does not grow with the rows (1 vs 30 of each, 25 per page)."""
    urls = [PAGE, reverse("offsetting:debts"), reverse("offsetting:credit-list"), reverse("offsetting:history")]

    def seed(start, n):
        for i in range(start, start + n):
            account = rm if i % 2 else rm2
            post(account, K.CAD_CHARGE, "10.00", SEP, reference=f"D{i:04d}")  # paid below
            post(account, K.PAYMENT, "-10.00", SEP, reference=f"P{i:04d}")
            post(account, K.CAD_CHARGE, "10.00", OCT, reference=f"O{i:04d}")  # open (due later)
            post(account, K.PAYMENT, "-4.00", OCT, reference=f"C{i:04d}")  # open (in effect later)
        for account in (rm, rm2):
            services.apply_offsets(program_account_id=account.pk, today=DUE[SEP])

    seed(0, 1)
    for url in urls:  # warm the per-process caches (content types, reference tables)
        bam_client.get(url)
    small = [_queries(bam_client, url) for url in urls]
    seed(1, 29)
    large = [_queries(bam_client, url) for url in urls]
    assert large == small, (small, large)
    assert max(large) <= 40, large  # the overview includes the money summary (billing/summary.py)
    # Paginated: 25 rows on page 1, the rest on page 2.
    page1 = bam_client.get(reverse("offsetting:credit-list"))
    assert len(page1.context["page"].object_list) == 25
    page2 = bam_client.get(reverse("offsetting:credit-list") + "?page=2").context["page"]
    assert page2.number == 2 and page2.paginator.count > 25
    assert bam_client.get(reverse("offsetting:history") + "?page=999").status_code == 200  # last page


def test_manual_apply_form(bam_client, importer, rm):
    debt = post(rm, K.CAD_CHARGE, "100.00", OCT)
    small = post(rm, K.PAYMENT, "-50.00", SEP)
    response = bam_client.post(reverse("offsetting:apply"), {"credit": small.pk, "debts": [debt.pk]})
    assert response.status_code == 400
    assert "partial payments are not allowed" in response.content.decode()
    big = post(rm, K.PAYMENT, "-150.00", SEP)
    response = bam_client.post(reverse("offsetting:apply"), {"credit": big.pk, "debts": [debt.pk]})
    assert response.status_code == 302
    assert Allocation.objects.get().amount == Decimal("100.00")


def test_refund_preference_and_run_forms(bam_client, importer, rm):
    post(rm, K.PAYMENT, "-1500.00", SEP)
    response = bam_client.post(reverse("offsetting:refund-request"), {"program_account": rm.pk, "amount": "2000"})
    assert response.status_code == 400 and "At most" in response.content.decode()
    response = bam_client.post(reverse("offsetting:refund-request"), {"program_account": rm.pk, "amount": ""})
    assert response.status_code == 302
    assert Refund.objects.get().amount == Decimal("1500.00")
    response = bam_client.post(reverse("offsetting:preference"), {"offsetting_preference": "manual"})
    assert response.status_code == 302
    importer.refresh_from_db()
    assert importer.offsetting_preference == Business.OffsettingPreference.MANUAL
    assert bam_client.post(reverse("offsetting:run"), {"program_account": rm.pk}).status_code == 302


def test_gate_404s(client, importer, other_importer, broker, rm):
    theirs = other_importer.program_accounts.get()
    client.force_login(other_importer.bam)
    assert client.get(PAGE).status_code == 200  # its own, empty page
    assert client.post(reverse("offsetting:run"), {"program_account": rm.pk}).status_code == 404
    assert client.post(reverse("offsetting:refund-request"), {"program_account": rm.pk}).status_code == 400
    credit = post(rm, K.PAYMENT, "-10.00", SEP)
    debt = post(theirs, K.CAD_CHARGE, "10.00", SEP)
    response = client.post(reverse("offsetting:apply"), {"credit": credit.pk, "debts": [debt.pk]})
    assert response.status_code == 400 and not Allocation.objects.exists()  # not a choice it has
    # A reader sees the page but has no forms; cannot post.
    reader = factories.add_member(importer, role=Role.READER)
    client.force_login(reader)
    response = client.get(PAGE)
    assert response.status_code == 200 and "Apply the credit" not in response.content.decode()
    assert client.post(reverse("offsetting:run"), {"program_account": rm.pk}).status_code == 404
    assert client.post(reverse("offsetting:preference"), {"offsetting_preference": "manual"}).status_code == 404
    # A broker without the financial scope for its only client: 404 on the page.
    factories.make_delegation(importer, broker, financial=False)
    client.force_login(broker.bam)
    assert client.get(PAGE).status_code == 404
    # Staff pages are for staff.
    assert client.get(reverse("offsetting:staff-refunds")).status_code == 404


def test_staff_refund_queue(client, importer, rm):
    post(rm, K.PAYMENT, "-1500.00", SEP)
    refund = services.refund_request(actor=importer.bam, program_account=rm)
    staff = factories.make_officer()
    client.force_login(staff)
    page = client.get(reverse("offsetting:staff-refunds"))
    assert page.status_code == 200 and importer.legal_name in page.content.decode()
    decide = lambda action: client.post(reverse("offsetting:staff-refund-decide", args=[refund.pk, action]))  # noqa: E731
    assert decide("pay").status_code == 302  # not approved yet: an error message, nothing paid
    refund.refresh_from_db()
    assert refund.status == "requested"
    decide("approve")
    decide("pay")
    refund.refresh_from_db()
    assert refund.status == "paid" and refund.ledger_entry.amount == Decimal("1500.00")
    assert decide("nonsense").status_code == 404


def test_dashboard_panel(bam_client, importer, rm):
    post(rm, K.PAYMENT, "-75.00", SEP)
    response = bam_client.get(reverse("dashboard"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Credits waiting to be offset" in html and "$75.00" in html


def test_refund_admin_actions(client, importer, rm):
    post(rm, K.PAYMENT, "-1500.00", SEP)
    refund = services.refund_request(actor=importer.bam, program_account=rm)
    root = factories.make_user(is_staff=True, is_superuser=True)
    client.force_login(root)
    assert client.get(reverse("admin:offsetting_refund_change", args=[refund.pk])).status_code == 200
    changelist = reverse("admin:offsetting_refund_changelist")
    for action in ("approve_refunds", "pay_refunds"):
        response = client.post(changelist, {"action": action, "_selected_action": [refund.pk]})
        assert response.status_code == 302
    refund.refresh_from_db()
    assert refund.status == Refund.Status.PAID and refund.approved_by == root
    response = client.post(changelist, {"action": "reject_refunds", "_selected_action": [refund.pk]}, follow=True)
    assert "Only an open refund can be rejected" in response.content.decode()
    allocation = Allocation.objects.get()
    assert client.get(reverse("admin:offsetting_allocation_change", args=[allocation.pk])).status_code == 200
