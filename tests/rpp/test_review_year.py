"""The RPP review year (issue 11, item 6; carm-rules §3).

The binding requirement changes only at enrolment, at the annual review (20 October, over the 12
months to 19 October; increases due 15 January), on a reduction decision and on re-enrolment. The
monthly recompute is a forecast ("if the review were today"), stored apart; the estimate form is a
what-if. Worked cases use worked example 2 (highest month 45,750: bond 22,875, cash 45,750).
"""

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.readiness import readiness_for
from billing.ledger.models import LedgerEntry
from billing.ledger.services import post_entry
from billing.rpp import services
from billing.rpp.models import Notice, RppStatus, SecurityForecast, SecurityRequirement
from tests import factories
from tests.rpp.conftest import AS_OF, WORKED_EXAMPLE, binding_from_estimate, post_months

pytestmark = pytest.mark.django_db
TZ = ZoneInfo("America/Toronto")


def _officer():
    # make_officer arrives with the CBSA-officer work running in parallel; a staff user before it.
    make = getattr(factories, "make_officer", None)
    return make() if make else factories.make_user(is_staff=True)


def _current(rm) -> SecurityRequirement:
    return SecurityRequirement.objects.get(program_account=rm, is_current=True)


def _enrolled_on_estimate(rm):
    """Enrolled on 2025-12-01 on an estimate of 8,000 (no history then): bond 5,000 / cash 8,000."""
    services.enrolment_set_status(actor=None, program_account=rm, status=RppStatus.REQUESTED)
    req = binding_from_estimate(rm, "8000", as_of=date(2025, 12, 1))
    services.enrolment_set_status(actor=None, program_account=rm, status=RppStatus.ENROLLED)
    return req


def test_monthly_recompute_is_a_forecast_and_never_moves_the_requirement(rm, django_assert_max_num_queries):
    binding = _enrolled_on_estimate(rm)
    post_months(rm, WORKED_EXAMPLE, as_of=AS_OF)  # a year of history after enrolment
    assert services.monthly_recompute(as_of=AS_OF) == 1
    assert _current(rm).pk == binding.pk and _current(rm).bond_amount == Decimal("5000.00")
    assert SecurityRequirement.objects.filter(program_account=rm).count() == 1
    forecast = SecurityForecast.objects.get(program_account=rm)
    assert (forecast.bond_amount, forecast.cash_amount, forecast.highest_month) == (
        Decimal("22875.00"), Decimal("45750.00"), Decimal("45750.00"))
    assert (forecast.as_of, forecast.first_period, forecast.last_period) == (
        AS_OF, date(2025, 12, 17), date(2026, 11, 17))
    # A rerun replaces the forecast (one per RM), in a constant number of queries.
    with django_assert_max_num_queries(8):
        services.forecasts_compute([rm], as_of=AS_OF)
    assert SecurityForecast.objects.filter(program_account=rm).count() == 1


def test_the_security_page_shows_if_the_review_were_today(importer, rm, client):
    _enrolled_on_estimate(rm)
    post_months(rm, WORKED_EXAMPLE, as_of=AS_OF)
    with time_machine.travel(datetime(2026, 11, 27, 12, tzinfo=TZ), tick=False):
        client.force_login(importer.bam)
        client.post(reverse("rpp:recompute", args=[rm.pk]))  # the button refreshes the forecast only
        page = client.get(reverse("rpp:account", args=[rm.pk])).content.decode()
    assert _current(rm).bond_amount == Decimal("5000.00")
    assert "If the review were today: $22,875.00 of bond / eWSA (or $45,750.00 cash)." in page
    assert "That is $17,875.00 more than now" in page
    assert "the next annual review on 2027-10-20" in page and "due by 2028-01-15" in page


def test_the_estimate_form_is_a_what_if(importer, rm, client):
    binding = _enrolled_on_estimate(rm)
    client.force_login(importer.bam)
    page = client.post(reverse("rpp:estimate", args=[rm.pk]), {"monthly_estimate": "60000"}).content.decode()
    assert "the requirement would be $30,000.00 of bond / eWSA, or $60,000.00 in cash" in page
    assert "The binding requirement stays $5,000.00 (or $8,000.00 cash)" in page
    api = APIClient()
    api.force_authenticate(importer.bam)
    r = api.post("/api/v1/security/requirements/estimate/", {"program_account": rm.pk, "monthly_estimate": "60000"},
                 format="json")
    assert r.status_code == 200 and r.json()["bond_difference"] == "25000.00"
    assert _current(rm).pk == binding.pk and SecurityRequirement.objects.filter(program_account=rm).count() == 1


def test_a_reduction_decision_keeps_the_inputs_and_caps_the_bond(importer, rm):
    post_months(rm, WORKED_EXAMPLE, as_of=AS_OF)
    (binding,) = services.requirements_compute([rm], trigger=SecurityRequirement.Trigger.ENROLMENT, as_of=AS_OF)
    # A big month after the enrolment computation must not sneak into the reduced requirement.
    post_entry(program_account=rm, kind=LedgerEntry.Kind.CAD_CHARGE, effective_date=date(2026, 12, 1),
               billing_period=date(2026, 12, 17), idempotency_key="big", breakdown={"duty": Decimal("100000")})
    rr = services.reduction_request(actor=importer.bam, program_account=rm, requested_amount=Decimal("15000"),
                                    rationale="One-off peak")
    services.reduction_decide(actor=_officer(), reduction=rr, approve=True,
                              approved_amount=Decimal("17500"))
    reduced = _current(rm)
    assert (reduced.trigger, reduced.basis, reduced.bond_amount, reduced.cash_amount) == (
        "reduction", "reduction", Decimal("17500.00"), Decimal("35000.00"))
    assert (reduced.monthly_totals, reduced.highest_month, reduced.previous_bond_amount, reduced.due_date) == (
        binding.monthly_totals, Decimal("45750.00"), Decimal("22875.00"), binding.due_date)
    # The forecast sees the big month; the binding amount does not.
    services.forecasts_compute([rm], as_of=date(2026, 12, 26))
    assert SecurityForecast.objects.get(program_account=rm).bond_amount == Decimal("50000.00")
    assert _current(rm).bond_amount == Decimal("17500.00")


def test_re_enrolment_gets_a_fresh_amount(importer, rm):
    post_months(rm, WORKED_EXAMPLE, as_of=AS_OF)
    with time_machine.travel(datetime(2026, 11, 27, 12, tzinfo=TZ), tick=False):
        services.enrolment_request(actor=importer.bam, program_account=rm)
        assert _current(rm).bond_amount == Decimal("22875.00")
        rr = services.reduction_request(actor=importer.bam, program_account=rm, requested_amount=Decimal("10000"),
                                        rationale="r")
        services.reduction_decide(actor=_officer(), reduction=rr, approve=True)
        assert _current(rm).bond_amount == Decimal("10000.00")
        services.enrolment_set_status(actor=importer.bam, program_account=rm, status=RppStatus.WITHDRAWN)
        services.enrolment_request(actor=importer.bam, program_account=rm)
    fresh = _current(rm)
    assert (fresh.trigger, fresh.bond_amount, fresh.previous_bond_amount) == (
        "enrolment", Decimal("22875.00"), Decimal("10000.00"))  # the reduction does not carry over


def test_a_review_decrease_notifies_without_a_suspension_threat(importer, rm):
    post_months(rm, WORKED_EXAMPLE, as_of=date(2026, 10, 19))
    services.enrolment_set_status(actor=None, program_account=rm, status=RppStatus.REQUESTED)
    binding_from_estimate(rm, "100000", as_of=date(2025, 10, 1))  # bond 50,000 on the estimate
    services.annual_review(review_date=date(2026, 10, 20))
    assert _current(rm).bond_amount == Decimal("22875.00") and not _current(rm).is_increase
    notice = Notice.objects.get(kind="requirement_changed", program_account=rm)
    assert "lowered the bond / eWSA required" in notice.body and "suspended" not in notice.body
    assert not services.suspends_when_short(_current(rm))


def test_readiness_keeps_the_80_percent_warning_and_shows_the_forecast(importer, rm):
    _enrolled_on_estimate(rm)  # bond 5,000 / cash 8,000
    services.cash_deposit_record(actor=importer.bam, program_account=rm, amount=Decimal("9000"),
                                 received_date=date(2025, 12, 1))  # 8,000 / 9,000 = 88.9% used
    post_months(rm, WORKED_EXAMPLE, as_of=AS_OF)
    services.forecasts_compute([rm], as_of=AS_OF)
    (card,) = [c for c in readiness_for([rm]) if c.program_account == rm]
    item = {i.key: i for i in card.items}["security"]
    assert item.ok is True
    assert "88.9% used (warning at 80%)" in item.detail
    assert "If the review were today: $22,875.00." in item.detail


def test_the_forecast_is_read_only_in_the_admin(importer, rm, client):
    post_months(rm, WORKED_EXAMPLE, as_of=AS_OF)
    services.forecasts_compute([rm], as_of=AS_OF)
    client.force_login(factories.make_user(is_staff=True, is_superuser=True))
    page = client.get("/admin/rpp/securityforecast/")
    assert page.status_code == 200 and rm.number in page.content.decode()
    assert client.get("/admin/rpp/securityforecast/add/").status_code == 403
