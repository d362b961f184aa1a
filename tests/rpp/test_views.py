"""RPP pages: what the importer and its broker see and may do; 404 outside the gate; readiness
items and the dashboard panel."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import ProgramAccount
from accounts.readiness import readiness_for
from accounts.roles import Role
from billing.rpp import services
from billing.rpp.models import Bond, CashDeposit, ReductionRequest
from tests import factories
from tests.clock import stay_on
from tests.rpp.conftest import WORKED_EXAMPLE, binding_from_estimate, post_months

pytestmark = pytest.mark.django_db
TODAY = timezone.localdate()
_on_today = stay_on(TODAY)  # the day does not turn during the run


def login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_importer_page_shows_requirement_chart_shortfall_and_records_a_bond(importer, rm, rm2):
    post_months(rm, WORKED_EXAMPLE, as_of=TODAY)
    services.enrolment_request(actor=importer.bam, program_account=rm)
    web = login(importer.bam)
    page = web.get(reverse("rpp:account", args=[rm.pk])).content.decode()
    assert "$22,875.00" in page and "$45,750.00" in page and "<svg" in page and page.count('class="bar') == 12
    assert "bar bar-highest" in page and "Shortfall" in page
    overview = web.get(reverse("rpp:overview")).content.decode()
    assert rm.number in overview and rm2.number in overview

    form = web.get(reverse("rpp:bond-create")).content.decode()
    assert f"alloc_{rm.pk}" in form and f"alloc_{rm2.pk}" in form
    data = {"kind": "ewsa", "surety_name": "Surety", "bond_number": "W-1", "amount": "25000",
            "effective_date": TODAY.isoformat(), "expiry_date": (TODAY + timedelta(days=365)).isoformat(),
            f"alloc_{rm.pk}": "22875", f"alloc_{rm2.pk}": "2125.01"}
    r = web.post(reverse("rpp:bond-create"), data)
    assert r.status_code == 200 and "exceed" in r.content.decode() and not Bond.objects.exists()
    data[f"alloc_{rm2.pk}"] = "2125"
    r = web.post(reverse("rpp:bond-create"), data)
    assert r.status_code == 302 and r.url == reverse("rpp:account", args=[rm.pk])
    rm.refresh_from_db()
    assert rm.rpp_status == ProgramAccount.RppStatus.ENROLLED  # the requested enrolment completed
    (card,) = [c for c in readiness_for([rm]) if c.program_account == rm]
    assert {i.key: i.ok for i in card.items}["security"] is True

    r = web.post(reverse("rpp:deposit-create"), {"program_account": rm2.pk, "amount": "100", "received_date": TODAY.isoformat()})
    assert r.status_code == 302 and CashDeposit.objects.get().amount == Decimal("100.00")
    # The estimate form is a what-if: it shows the amounts and changes no requirement.
    before = list(rm2.security_requirements.values_list("pk", flat=True))
    r = web.post(reverse("rpp:estimate", args=[rm2.pk]), {"monthly_estimate": "8000"})
    assert r.status_code == 200
    assert "the requirement would be $5,000.00 of bond / eWSA, or $8,000.00 in cash" in r.content.decode()
    assert list(rm2.security_requirements.values_list("pk", flat=True)) == before
    r = web.post(reverse("rpp:enrol", args=[rm2.pk]), {"monthly_estimate": ""})
    assert r.status_code == 302 and "requested" in web.get(r.url).content.decode().lower()
    r = web.post(reverse("rpp:recompute", args=[rm.pk]))
    assert r.status_code == 302
    r = web.post(reverse("rpp:reduction", args=[rm.pk]), {"requested_amount": "20000", "rationale": "One-off"})
    assert r.status_code == 302 and ReductionRequest.objects.get().status == "pending"

    dashboard = web.get(reverse("dashboard")).content.decode()
    assert "RPP security" in dashboard and "posted of" in dashboard


def test_staff_decides_a_reduction_with_a_new_amount(importer, rm):
    post_months(rm, WORKED_EXAMPLE, as_of=TODAY)
    services.requirement_recompute(actor=importer.bam, program_account=rm)
    rr = services.reduction_request(actor=importer.bam, program_account=rm, requested_amount=Decimal("15000"), rationale="r")
    assert login(importer.bam).get(reverse("rpp:staff-reductions")).status_code == 404  # not an officer
    staff = login(factories.make_officer())
    assert rm.number in staff.get(reverse("rpp:staff-reductions")).content.decode()
    r = staff.post(reverse("rpp:staff-reduction-decide", args=[rr.pk]), {"decision": "approve", "approved_amount": "17500"})
    assert r.status_code == 302
    rr.refresh_from_db()
    assert rr.status == "approved" and rr.approved_amount == Decimal("17500.00")
    assert rm.security_requirements.get(is_current=True).bond_amount == Decimal("17500.00")


def test_admin_pages_and_actions(importer, rm):
    services.enrolment_request(actor=importer.bam, program_account=rm, monthly_estimate=Decimal("8000"))
    admin = login(factories.make_user(is_staff=True, is_superuser=True))
    for model in ("rppenrolment", "securityrequirement", "bond", "cashdeposit", "reductionrequest", "notice"):
        assert admin.get(f"/admin/rpp/{model}/").status_code == 200, model
    r = admin.post("/admin/rpp/rppenrolment/", {"action": "enrol", "_selected_action": [rm.rpp_enrolment.pk]})
    assert r.status_code == 302
    rm.refresh_from_db()
    assert rm.rpp_status == "enrolled"
    assert admin.get(f"/admin/rpp/rppenrolment/{rm.rpp_enrolment.pk}/change/").status_code == 200


def test_gate_404_for_another_importer_and_a_broker_without_security_scope(importer, other_importer, broker, rm):
    binding_from_estimate(rm, "8000")
    no_scope = factories.make_business(kind="broker", name="No Security Brokers", accounts=0)
    no_scope.bam = factories.add_member(no_scope, role=Role.BAM)
    factories.make_delegation(importer, no_scope, security=False)
    for user in (other_importer.bam, no_scope.bam):
        web = login(user)
        assert web.get(reverse("rpp:account", args=[rm.pk])).status_code == 404
        for name in ("enrol", "withdraw", "recompute"):
            assert web.post(reverse(f"rpp:{name}", args=[rm.pk])).status_code == 404
        for name in ("estimate", "reduction"):
            assert web.get(reverse(f"rpp:{name}", args=[rm.pk])).status_code == 404
    # The broker without the scope acting for the importer sees no RM account and cannot record a bond.
    web = login(no_scope.bam)
    assert rm.number not in web.get(reverse("rpp:overview")).content.decode()
    assert web.get(reverse("rpp:bond-create")).status_code == 404

    # A broker with the security delegation scope sees and manages its client's RM.
    factories.make_delegation(importer, broker, accounts=[rm], security=True)
    web = login(broker.bam)
    assert web.get(reverse("rpp:account", args=[rm.pk])).status_code == 200
    assert web.post(reverse("rpp:recompute", args=[rm.pk])).status_code == 302
    page = web.get(reverse("rpp:bond-create")).content.decode()
    assert f"alloc_{rm.pk}" in page and "RM0002" not in page


def test_readiness_items_replace_the_placeholders_in_constant_queries(importer, other_importer, rm, rm2, django_assert_num_queries):
    binding_from_estimate(rm, "8000")
    cards = readiness_for([rm, rm2])
    items = {c.program_account.pk: {i.key: i for i in c.items} for c in cards}
    assert items[rm.pk]["security"].ok is False and "short $5,000.00" in items[rm.pk]["security"].detail
    assert items[rm.pk]["security"].next_url == reverse("rpp:account", args=[rm.pk])
    assert items[rm2.pk]["security"].detail == "No requirement yet: it is set at enrolment."
    assert items[rm.pk]["rpp"].ok is False and items[rm.pk]["rpp"].next_url
    services.cash_deposit_record(actor=importer.bam, program_account=rm, amount=Decimal("8000"), received_date=TODAY)
    assert {i.key: i.ok for i in readiness_for([rm])[0].items}["security"] is True

    from accounts.readiness import _CHECKS

    rpp_check, security_check = _CHECKS["rpp"][1], _CHECKS["security"][1]
    many = list(ProgramAccount.objects.select_related("business"))
    with django_assert_num_queries(0):
        rpp_check(many, TODAY)
    with django_assert_num_queries(2):  # positions, forecasts
        security_check(many, TODAY)
    with django_assert_num_queries(2):
        security_check(many[:1], TODAY)
