"""The RPP security API: the gate (404 outside it), each endpoint, constant query counts on lists."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.roles import Role
from billing.rpp import services
from billing.rpp.models import Bond, Notice, ReductionRequest, SecurityRequirement
from tests import factories
from tests.clock import stay_on
from tests.rpp.conftest import WORKED_EXAMPLE, post_months

pytestmark = pytest.mark.django_db

API = "/api/v1/security"
TODAY = timezone.localdate()
_on_today = stay_on(TODAY)  # the day does not turn during the run


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user=user)
    return client


def results(response):
    assert response.status_code == 200, response.content
    return response.json()["results"]


def _seed(importer, rm, rm2, *, tag="a"):
    post_months(rm, WORKED_EXAMPLE, as_of=TODAY, tag=tag)
    services.enrolment_request(actor=importer.bam, program_account=rm)
    services.enrolment_request(actor=importer.bam, program_account=rm2, monthly_estimate=Decimal("8000"))
    bond = services.bond_record(
        actor=importer.bam, business=importer, surety_name="S", bond_number=f"B-{tag}", amount=Decimal("20000"),
        effective_date=TODAY, expiry_date=TODAY + timedelta(days=20), allocations=[(rm, Decimal("15000")), (rm2, Decimal("5000"))],
    )
    services.cash_deposit_record(actor=importer.bam, program_account=rm, amount=Decimal("1000"), received_date=TODAY)
    services.reduction_request(actor=importer.bam, program_account=rm, requested_amount=Decimal("15000"), rationale="r")
    services.bond_expiry_notices(today=TODAY)
    services.shortfall_notices([rm, rm2], today=TODAY)
    return bond


def test_flow_through_the_api(importer, rm, rm2):
    api = client_for(importer.bam)
    post_months(rm, WORKED_EXAMPLE, as_of=TODAY)
    r = api.post(f"{API}/enrolments/", {"program_account": rm.pk}, format="json")
    assert r.status_code == 201, r.content
    assert r.json()["rpp_status"] == "requested" and r.json()["history"][0]["to_status"] == "requested"
    r = api.post(f"{API}/requirements/recompute/", {"program_account": rm.pk}, format="json")
    assert r.status_code == 201, r.content
    req = r.json()  # the binding requirement (set at enrolment), with the refreshed forecast
    assert req["trigger"] == "enrolment" and SecurityRequirement.objects.filter(program_account=rm).count() == 1
    assert req["bond_amount"] == "22875.00" and req["cash_amount"] == "45750.00" and req["highest_month"] == "45750.00"
    assert [m["amount"] for m in req["monthly_totals"]] == [f"{Decimal(t):.2f}" for t in WORKED_EXAMPLE]
    assert req["position"]["shortfall"] == "22875.00" and req["position"]["coverage_status"] == "shortfall"
    assert req["forecast"]["bond_amount"] == "22875.00" and req["forecast"]["as_of"] == str(timezone.localdate())

    r = api.post(f"{API}/bonds/", {
        "bond_kind": "ewsa", "surety_name": "Surety", "bond_number": "API-1", "amount": "30000.00",
        "effective_date": TODAY.isoformat(), "expiry_date": (TODAY + timedelta(days=365)).isoformat(),
        "allocations": [{"program_account": rm.pk, "amount": "20000.00"}, {"program_account": rm2.pk, "amount": "10000.01"}],
    }, format="json")
    assert r.status_code == 400 and not Bond.objects.exists()
    r = api.post(f"{API}/bonds/", {
        "bond_kind": "ewsa", "surety_name": "Surety", "bond_number": "API-1", "amount": "30000.00",
        "effective_date": TODAY.isoformat(), "expiry_date": (TODAY + timedelta(days=365)).isoformat(),
        "allocations": [{"program_account": rm.pk, "amount": "20000.00"}],
    }, format="json")
    assert r.status_code == 201, r.content
    bond_id = r.json()["id"]
    r = api.post(f"{API}/bonds/{bond_id}/allocate/", {"program_account": rm.pk, "amount": "22875.00"}, format="json")
    assert r.status_code == 200 and r.json()["allocations"][0]["amount"] == "22875.00"
    # Covered: the requested enrolment is now enrolled.
    enrolment = results(api.get(f"{API}/enrolments/", {"program_account": rm.pk}))[0]
    assert enrolment["rpp_status"] == "enrolled"
    current = results(api.get(f"{API}/requirements/", {"program_account": rm.pk, "is_current": "true"}))
    assert len(current) == 1 and current[0]["position"]["covered"] is True

    r = api.post(f"{API}/deposits/", {"program_account": rm2.pk, "amount": "8000.00",
                                      "received_date": TODAY.isoformat(), "reference": "W1"}, format="json")
    assert r.status_code == 201 and r.json()["ledger_entry"]
    r = api.post(f"{API}/requirements/estimate/", {"program_account": rm2.pk, "monthly_estimate": "8000"}, format="json")
    # A what-if: the amounts, nothing stored (rm2 has no requirement).
    assert r.status_code == 200 and r.json()["bond_amount"] == "5000.00" and r.json()["cash_amount"] == "8000.00"
    assert r.json()["current_bond_amount"] is None and not SecurityRequirement.objects.filter(program_account=rm2)
    r = api.post(f"{API}/reduction-requests/", {"program_account": rm.pk, "requested_amount": "100",
                                                "rationale": "x"}, format="json")
    assert r.status_code == 400 and "requested_amount" in r.json()
    r = api.post(f"{API}/reduction-requests/", {"program_account": rm.pk, "requested_amount": "15000",
                                                "rationale": "One-off"}, format="json")
    assert r.status_code == 201 and r.json()["review_status"] == "pending"
    r = api.post(f"{API}/enrolments/{enrolment['id']}/withdraw/", {"reason": "Closing"}, format="json")
    assert r.status_code == 200 and r.json()["rpp_status"] == "withdrawn"


def test_notices_endpoint_and_mark_read(importer, rm, rm2):
    _seed(importer, rm, rm2)
    api = client_for(importer.bam)
    rows = results(api.get(f"{API}/notices/"))
    kinds = sorted(r["notice_kind"] for r in rows)
    assert kinds == ["bond_expiry", "shortfall"]
    r = api.post(f"{API}/notices/{rows[0]['id']}/read/")
    assert r.status_code == 200 and r.json()["read_at"]
    assert len(results(api.get(f"{API}/notices/", {"unread": "true"}))) == 1


ENDPOINTS = ["enrolments", "requirements", "bonds", "deposits", "reduction-requests", "notices"]


def test_gate_other_importer_and_broker_without_security_scope_get_404(importer, other_importer, broker, rm, rm2):
    bond = _seed(importer, rm, rm2)
    objects = {
        "enrolments": rm.rpp_enrolment.pk, "requirements": rm.security_requirements.first().pk, "bonds": bond.pk,
        "deposits": rm.cash_deposits.first().pk, "reduction-requests": ReductionRequest.objects.get().pk,
        "notices": Notice.objects.filter(program_account=rm).first().pk,
    }
    no_scope = factories.make_business(kind="broker", name="No Security Brokers", accounts=0)
    no_scope.bam = factories.add_member(no_scope, role=Role.BAM)
    factories.make_delegation(importer, no_scope, security=False)
    for user in (other_importer.bam, no_scope.bam):
        api = client_for(user)
        for name in ENDPOINTS:
            assert results(api.get(f"{API}/{name}/")) == [], (user, name)
            assert api.get(f"{API}/{name}/{objects[name]}/").status_code == 404, (user, name)
        # Writes naming an RM account outside the gate: "not found" (400), nothing created.
        r = api.post(f"{API}/requirements/recompute/", {"program_account": rm.pk}, format="json")
        assert r.status_code == 400 and "program_account" in r.json()
        r = api.post(f"{API}/deposits/", {"program_account": rm.pk, "amount": "1", "received_date": TODAY.isoformat()},
                     format="json")
        assert r.status_code == 400
        assert api.post(f"{API}/bonds/{bond.pk}/allocate/", {"program_account": rm.pk, "amount": "1"},
                        format="json").status_code == 404
        assert api.post(f"{API}/notices/{objects['notices']}/read/").status_code == 404
    assert rm.cash_deposits.count() == 1

    # A broker with the security scope on RM 1 only sees RM 1, and may manage it.
    scoped_user = factories.add_member(broker, role=Role.BAM)
    factories.make_delegation(importer, broker, accounts=[rm], security=True)
    api = client_for(scoped_user)
    assert {r["program_account"] for r in results(api.get(f"{API}/enrolments/"))} == {rm.pk}
    bonds = results(api.get(f"{API}/bonds/"))
    assert [a["program_account"] for a in bonds[0]["allocations"]] == [rm.pk]  # RM 2's share is not shown
    assert api.get(f"{API}/enrolments/{rm2.rpp_enrolment.pk}/").status_code == 404
    assert api.post(f"{API}/requirements/recompute/", {"program_account": rm.pk}, format="json").status_code == 201
    assert api.post(f"{API}/requirements/recompute/", {"program_account": rm2.pk}, format="json").status_code == 400
    # A broker Reader sees but may not manage (POST_SECURITY is a manager's right).
    reader = factories.add_member(broker, role=Role.READER)
    from accounts.models import ClientGroup

    group = ClientGroup.objects.create(broker=broker, name="G")
    group.members.add(reader)
    group.clients.add(importer)
    api = client_for(reader)
    assert {r["program_account"] for r in results(api.get(f"{API}/enrolments/"))} == {rm.pk}
    assert api.post(f"{API}/requirements/recompute/", {"program_account": rm.pk}, format="json").status_code == 400


def _count(api, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert api.get(url).status_code == 200
    return len(ctx)


def test_list_endpoints_use_a_constant_number_of_queries(importer, rm, rm2):
    _seed(importer, rm, rm2, tag="a")
    api = client_for(importer.bam)
    before = {name: _count(api, f"{API}/{name}/") for name in ENDPOINTS}
    # More of everything: a second batch of rows on the same accounts, plus another RM account.
    rm3 = importer.program_accounts.create(number=f"{importer.bn9}RM0003", name="RM 3")
    services.requirement_recompute(actor=importer.bam, program_account=rm)
    services.requirement_recompute(actor=importer.bam, program_account=rm3)
    services.enrolment_request(actor=importer.bam, program_account=rm3, monthly_estimate=Decimal("30000"))
    services.bond_record(actor=importer.bam, business=importer, surety_name="S", bond_number="B-more", amount=Decimal("9000"),
                         effective_date=TODAY, expiry_date=TODAY + timedelta(days=10),
                         allocations=[(rm2, Decimal("4000")), (rm3, Decimal("5000"))])
    services.cash_deposit_record(actor=importer.bam, program_account=rm3, amount=Decimal("10"), received_date=TODAY)
    services.cash_deposit_record(actor=importer.bam, program_account=rm2, amount=Decimal("10"), received_date=TODAY)
    services.reduction_request(actor=importer.bam, program_account=rm3, requested_amount=Decimal("10000"), rationale="r")
    services.bond_expiry_notices(today=TODAY)
    services.shortfall_notices([rm, rm2, rm3], today=TODAY)
    after = {name: _count(api, f"{API}/{name}/") for name in ENDPOINTS}
    assert after == before
    for name in ENDPOINTS:
        assert len(results(api.get(f"{API}/{name}/"))) >= 2, name


def test_schema_lists_the_security_endpoints():
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("spectacular", "--validate", stdout=out, stderr=StringIO())
    schema = out.getvalue()
    for path in ("enrolments/", "enrolments/{id}/withdraw/", "requirements/", "requirements/recompute/",
                 "requirements/estimate/", "bonds/", "bonds/{id}/allocate/", "deposits/", "reduction-requests/",
                 "notices/", "notices/{id}/read/"):
        assert f"/api/v1/security/{path}:" in schema, path
