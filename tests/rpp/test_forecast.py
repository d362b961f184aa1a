"""The security forecast (billing/rpp/forecast.py): the next annual review, projected, with a what-if.

Worked case, on 1 March 2026: the next review is 20 October 2026 over the 12 periods 2025-11-17 to
2026-10-17. Four of them are closed (2025-11-17 .. 2026-02-17: 12,000.00 each); the other eight are
projected from the same periods of 2025 (10,000.00 each, but 30,000.00 in 2025-07-17). The highest
month is the projected July, 30,000.00: bond 15,000.00, cash 30,000.00. With a run rate of 8,000.00
instead, the highest is an actual month, 12,000.00: bond 6,000.00, cash 12,000.00.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal as D
from zoneinfo import ZoneInfo

import pytest
import time_machine

from billing.ledger.models import LedgerEntry
from billing.ledger.services import post_entry
from billing.rpp import forecast, services
from billing.rpp.models import SecurityRequirement
from carm_portal import calendar
from carm_portal.exceptions import ApplicationError

pytestmark = pytest.mark.django_db
TODAY = date(2026, 3, 1)
WINDOW = [calendar.add_months(date(2025, 11, 17), i) for i in range(12)]


def charge(account, period: date, amount: str) -> None:
    post_entry(program_account=account, kind=LedgerEntry.Kind.CAD_CHARGE, effective_date=period.replace(day=5),
               billing_period=period, breakdown={"duty": D(amount)}, idempotency_key=f"fc-{account.pk}-{period}")


@pytest.fixture
def history(rm):
    for period in WINDOW[:4]:
        charge(rm, period, "12000.00")
    for i in range(8):  # March to October 2025: last year's same periods
        period = date(2025, 3 + i, 17)
        charge(rm, period, "30000.00" if period.month == 7 else "10000.00")
    return rm


def test_the_window_and_the_deadlines(history):
    f = forecast.review_forecast(history, today=TODAY)
    assert [m.period for m in f.months] == WINDOW
    assert f.review_date == date(2026, 10, 20) and f.increase_due == date(2027, 1, 15)
    # 25 business days before 15 January 2027, holidays skipped (the project's calendar).
    assert f.ask_surety_by == calendar.business_days_before(date(2027, 1, 15), 25)
    assert calendar.business_days_between(f.ask_surety_by, date(2027, 1, 15)) == 25
    assert len(f.chart_months) == 24 and f.history[-1].period == date(2025, 10, 17)


def test_last_year_projection_takes_the_highest_month(history):
    f = forecast.review_forecast(history, today=TODAY)
    assert [m.source for m in f.months] == ["actual"] * 4 + ["projected"] * 8
    assert [m.amount for m in f.months[4:]] == [D("10000.00")] * 4 + [D("30000.00")] + [D("10000.00")] * 3
    assert (f.base, f.highest_period, f.bond_amount, f.cash_amount) == (
        D("30000.00"), date(2026, 7, 17), D("15000.00"), D("30000.00"))
    assert f.bond_gap == D("15000.00") and f.exceeds_posted  # nothing posted yet


def test_run_rate_projection(history):
    f = forecast.review_forecast(history, today=TODAY, method=forecast.RUN_RATE, run_rate=D("8000.00"))
    assert (f.base, f.bond_amount, f.cash_amount) == (D("12000.00"), D("6000.00"), D("12000.00"))
    default = forecast.review_forecast(history, today=TODAY, method=forecast.RUN_RATE)
    assert default.run_rate == D("12000.00")  # mean of the last three closed periods


def test_what_if_crosses_the_minimum_and_the_maximum(history):
    low = forecast.review_forecast(
        history, today=TODAY, method=forecast.RUN_RATE, run_rate=D("2000.00"),
        months={p: D("1000.00") for p in WINDOW[:4]},
    )
    assert (low.base, low.bond_amount, low.cash_amount, low.rules) == (
        D("2000.00"), D("5000.00"), D("5000.00"), ["minimum"])
    assert [m.source for m in low.months[:4]] == ["what-if"] * 4
    high = forecast.review_forecast(history, today=TODAY, one_offs=[(date(2026, 6, 17), D("25000000.00"))])
    june = next(m for m in high.months if m.period == date(2026, 6, 17))
    assert (june.amount, june.one_off) == (D("25010000.00"), D("25000000.00"))
    assert (high.bond_amount, high.cash_amount, high.rules) == (D("10000000.00"), D("10000000.00"), ["maximum"])


def test_posted_security_narrows_the_gap_and_nothing_binding_changes(importer, history):
    services.bond_record(actor=importer.bam, business=importer, surety_name="Surety Co", bond_number="FC-1",
                         amount=D("10000.00"), effective_date=date(2026, 1, 1), expiry_date=date(2027, 12, 31),
                         allocations=[(history, D("10000.00"))])
    before = SecurityRequirement.objects.count()
    f = forecast.review_forecast(history, today=TODAY)
    assert (f.bond_posted, f.bond_gap) == (D("10000.00"), D("5000.00"))
    assert SecurityRequirement.objects.count() == before


@pytest.mark.parametrize("kwargs, field", [
    ({"method": "guess"}, "method"),
    ({"run_rate": D("-1")}, "run_rate"),
    ({"run_rate": "abc"}, "run_rate"),
    ({"one_offs": [(date(2027, 1, 17), D("5"))]}, "one_off_period"),
    ({"months": {date(2024, 1, 17): D("5")}}, "months"),
])
def test_bad_what_if_input_is_a_field_error(history, kwargs, field):
    with pytest.raises(ApplicationError) as exc:
        forecast.review_forecast(history, today=TODAY, **kwargs)
    assert field in exc.value.field_errors


# --- API: POST /api/v1/security/requirements/forecast/ ----------------------------------------------

URL = "/api/v1/security/requirements/forecast/"


def _client(user):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(user=user)
    return client


def test_api_forecast_with_a_what_if(importer, history):
    with time_machine.travel(datetime(2026, 3, 1, 12, tzinfo=ZoneInfo("America/Toronto")), tick=False):
        before = SecurityRequirement.objects.count()
        response = _client(importer.bam).post(URL, {
            "program_account": history.pk, "method": "run_rate", "run_rate": "8000.00",
            "one_offs": [{"period": "2026-06-17", "amount": "40000.00"}],
        }, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["bond_amount"], body["cash_amount"], body["highest_period"]) == ("24000.00", "48000.00", "2026-06-17")
    assert body["ask_surety_by"] == calendar.business_days_before(date(2027, 1, 15), 25).isoformat()
    assert SecurityRequirement.objects.count() == before  # a what-if writes nothing


def test_api_forecast_is_gated_and_refuses_bad_input(importer, other_importer, history):
    assert _client(other_importer.bam).post(URL, {"program_account": history.pk}, format="json").status_code == 400
    response = _client(importer.bam).post(URL, {"program_account": history.pk, "method": "guess",
                                                "one_offs": [{"period": "x", "amount": "-1"}]}, format="json")
    assert response.status_code == 400
    assert {"method", "one_offs"} <= set(response.json())


def test_monthly_job_sends_a_forecast_gap_notice_once(importer, history, mailoutbox, django_capture_on_commit_callbacks):
    from billing.rpp.models import Notice

    with django_capture_on_commit_callbacks(execute=True):
        sent = forecast.forecast_gap_notices([history], today=TODAY)
        again = forecast.forecast_gap_notices([history], today=TODAY)
    assert len(sent) == 1 and again == []
    notice = Notice.objects.get(kind=Notice.Kind.FORECAST_GAP)
    assert notice.program_account == history and "15 000" not in notice.subject
    assert "$15,000.00" in notice.subject and notice.body.count(history.number) == 1
    assert len(mailoutbox) == 1 and mailoutbox[0].subject == notice.subject


# --- The page: /security/<pk>/forecast/ ---------------------------------------------------------------

def _page(client, user, pk, query=""):
    client.force_login(user)
    with time_machine.travel(datetime(2026, 3, 1, 12, tzinfo=ZoneInfo("America/Toronto")), tick=False):
        return client.get(f"/security/{pk}/forecast/{query}")


def test_page_shows_the_forecast_and_the_surety_date(client, importer, history):
    response = _page(client, importer.bam, history.pk)
    html = response.content.decode()
    assert response.status_code == 200
    assert "$15,000.00" in html and "$30,000.00" in html
    assert calendar.business_days_before(date(2027, 1, 15), 25).isoformat() in html
    assert html.count('class="bar') == 24


def test_page_what_if_and_field_errors(client, importer, history):
    html = _page(client, importer.bam, history.pk,
                 "?method=run_rate&run_rate=8000&one_off_period=&one_off_amount=").content.decode()
    assert "$6,000.00" in html and "$12,000.00" in html
    bad = _page(client, importer.bam, history.pk, "?method=run_rate&run_rate=-5&one_off_amount=10")
    assert bad.status_code == 200
    text = bad.content.decode()
    assert "errorlist" in text and "Pick the period of the shipment." in text


def test_page_is_404_outside_the_gate(client, other_importer, history):
    assert _page(client, other_importer.bam, history.pk).status_code == 404
