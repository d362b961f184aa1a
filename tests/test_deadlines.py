"""The deadline centre (issue #12 item 2): providers with worked dates, the gate, the page and its
query count, the ICS feed. The clock is pinned: TODAY is Tuesday 10 March 2026."""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from decimal import Decimal as D

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.deadlines import deadlines_for, visible_accounts
from accounts.models import CalendarFeed, Delegation
from billing.rpp.models import Bond, BondAllocation
from carm_portal import calendar
from declarations import deadlines as cad_deadlines
from declarations.models import CAD
from tests import factories
from tests.clock import on

pytestmark = pytest.mark.django_db
TODAY = date(2026, 3, 10)
_numbers = itertools.count(1)


@pytest.fixture(autouse=True)
def _pinned():
    with on(TODAY):
        yield


def rms(business):
    return list(business.program_accounts.order_by("number"))


def make_cad(account, *, release: date, status=CAD.Status.DRAFT) -> CAD:
    return CAD.objects.create(
        transaction_number=f"{55500000000000 + next(_numbers):014d}", program_account=account,
        filed_by=account.business.bam, status=status, release_date=release,
        due_date=cad_deadlines.cad_due_date(release, CAD.Type.REGULAR),
    )


def make_bond(business, account, *, expiry: date, amount="25000.00") -> Bond:
    bond = Bond.objects.create(business=business, surety_name="Surety Co", bond_number=f"B-{next(_numbers)}",
                               amount=D(amount), effective_date=date(2025, 6, 1), expiry_date=expiry)
    BondAllocation.objects.create(bond=bond, program_account=account, amount=D(amount))
    return bond


def rows_of(user, kind=None):
    return [(r.kind, r.date, r.account_number) for r in deadlines_for(user, today=TODAY, kinds_wanted=[kind] if kind else None)]


# --- Providers, worked dates -------------------------------------------------------------------

def test_cads_to_account_and_late_cads(importer):
    rm1, rm2 = rms(importer)
    # Released Thursday 5 March: 5 business days -> Thursday 12 March.
    due = make_cad(rm1, release=date(2026, 3, 5))
    assert due.due_date == date(2026, 3, 12)
    # Released Friday 27 February -> due Friday 6 March: late on the 10th.
    late = make_cad(rm2, release=date(2026, 2, 27))
    assert late.due_date == date(2026, 3, 6)
    make_cad(rm1, release=date(2026, 3, 5), status=CAD.Status.SUBMITTED)  # accounted for: no row
    rows = deadlines_for(importer.bam, today=TODAY)
    assert [(r.kind, r.date, r.account_number, r.late) for r in rows] == [
        ("cad_late", date(2026, 3, 6), rm2.number, True),
        ("cad_due", date(2026, 3, 12), rm1.number, False),
    ]
    assert rows[1].url == reverse("cad_detail", args=[due.pk])


def test_bond_expiry_in_the_window_only(importer):
    rm1, _rm2 = rms(importer)
    make_bond(importer, rm1, expiry=date(2026, 4, 30))
    make_bond(importer, rm1, expiry=date(2027, 4, 30))  # beyond the 120-day window
    assert rows_of(importer.bam, "bond_expiry") == [("bond_expiry", date(2026, 4, 30), rm1.number)]


def test_delegation_expiry_seen_by_importer_and_broker(importer, broker, other_importer):
    factories.make_delegation(importer, broker, valid_from=date(2026, 1, 1), valid_to=date(2026, 3, 31))
    factories.make_delegation(other_importer, broker, valid_from=date(2026, 1, 1), valid_to=date(2027, 3, 31))
    assert [(k, d) for k, d, _n in rows_of(importer.bam, "delegation_expiry")] == [
        ("delegation_expiry", date(2026, 3, 31))]
    assert [(k, d) for k, d, _n in rows_of(broker.bam, "delegation_expiry")] == [
        ("delegation_expiry", date(2026, 3, 31))]
    assert rows_of(other_importer.bam, "delegation_expiry") == []


def test_appeal_filing_deadline(importer):
    from appeals import services
    from appeals.deadlines import appeal_deadline

    cbsa = factories.make_officer()
    rm1, _rm2 = rms(importer)
    penalty = services.penalty_create(actor=cbsa, program_account=rm1, npa_number="NPA-DL-1", contravention_code="C152",
                                      amount=D("750.00"), served_on=date(2026, 1, 20), today=date(2026, 1, 20))
    appeal = services.appeal_create(actor=importer.bam, penalty=penalty, grounds="g", today=TODAY)
    # 90 days after 20 January 2026: Monday 20 April 2026.
    assert appeal_deadline(date(2026, 1, 20)) == date(2026, 4, 20)
    rows = [r for r in deadlines_for(importer.bam, today=TODAY) if r.kind.startswith("appeal")]
    assert [(r.kind, r.date) for r in rows] == [("appeal", date(2026, 4, 20))]
    assert rows[0].url == reverse("appeals:detail", args=[appeal.pk])
    # The extension's last day (20 April 2027) is outside the default window, inside a long one.
    long = deadlines_for(importer.bam, today=TODAY, days=420, kinds_wanted=["appeal_extension"])
    assert [(r.kind, r.date) for r in long] == [("appeal_extension", date(2027, 4, 20))]


def test_statement_due_and_overdue_from_the_money_summary(importer):
    from tests.billing.doc_builders import PERIOD, PREVIOUS, close_statement, post_cads

    rm1, _rm2 = rms(importer)
    with on("2025-11-26"):
        post_cads(rm1, PREVIOUS, 1)
        close_statement(rm1, PREVIOUS)
        post_cads(rm1, PERIOD, 1, start=1)
        statement = close_statement(rm1, PERIOD)
        rows = deadlines_for(importer.bam, today=date(2025, 11, 26), kinds_wanted=["statement_due", "statement_overdue"])
    assert [(r.kind, r.date, r.amount) for r in rows] == [
        ("statement_overdue", calendar.payment_due_date(PREVIOUS), D("1050.00")),
        ("statement_due", date(2025, 12, 1), D("1064.04")),
    ]
    assert rows[1].url == reverse("billing-statement-detail", args=[statement.pk])


def test_rpp_review_day_for_enrolled_accounts(importer):
    from accounts.models import ProgramAccount

    rm1, _rm2 = rms(importer)
    ProgramAccount.objects.filter(pk=rm1.pk).update(rpp_status=ProgramAccount.RppStatus.ENROLLED)
    assert rows_of(importer.bam, "rpp_review") == []  # 20 October is outside 120 days
    rows = deadlines_for(importer.bam, today=TODAY, days=240, kinds_wanted=["rpp_review"])
    assert [(r.kind, r.date, r.account_number) for r in rows] == [("rpp_review", date(2026, 10, 20), rm1.number)]


# --- The gate ----------------------------------------------------------------------------------

def test_broker_sees_only_delegated_accounts_with_the_right_scope(importer, broker, other_importer):
    rm1, rm2 = rms(importer)
    (other_rm,) = rms(other_importer)
    make_cad(rm1, release=date(2026, 3, 5))
    make_cad(rm2, release=date(2026, 3, 5))
    make_cad(other_rm, release=date(2026, 3, 5))
    make_bond(importer, rm1, expiry=date(2026, 4, 30))
    # RM0001 only, CADs but no security flag.
    factories.make_delegation(importer, broker, accounts=[rm1], valid_from=date(2026, 1, 1), security=False)
    rows = rows_of(broker.bam)
    assert rows == [("cad_due", date(2026, 3, 12), rm1.number)]
    # Another importer never sees them; the importer sees all its own.
    assert [n for _k, _d, n in rows_of(other_importer.bam)] == [other_rm.number]
    assert {n for _k, _d, n in rows_of(importer.bam)} == {rm1.number, rm2.number}


def test_revoked_delegation_shows_nothing(importer, broker):
    rm1, _rm2 = rms(importer)
    make_cad(rm1, release=date(2026, 3, 5))
    factories.make_delegation(importer, broker, valid_from=date(2026, 1, 1), status=Delegation.Status.REVOKED)
    assert rows_of(broker.bam) == []
    assert list(visible_accounts(broker.bam)) == []


# --- The page ----------------------------------------------------------------------------------

def test_page_filters_by_account_and_kind(client, importer):
    rm1, rm2 = rms(importer)
    make_cad(rm1, release=date(2026, 3, 5))
    make_cad(rm2, release=date(2026, 2, 27))
    client.force_login(importer.bam)
    page = client.get(reverse("deadlines"))
    assert page.status_code == 200
    assert [r[0].kind for r in page.context["rows"]] == ["cad_late", "cad_due"]
    page = client.get(reverse("deadlines"), {"account": rm1.pk})
    assert [r[0].account_number for r in page.context["rows"]] == [rm1.number]
    page = client.get(reverse("deadlines"), {"kind": "cad_late"})
    assert [r[0].kind for r in page.context["rows"]] == ["cad_late"]


@pytest.mark.parametrize("params", [{"account": "abc"}, {"account": "999999"}, {"kind": "nope"}])
def test_page_bad_filters_are_field_errors(client, importer, other_importer, params):
    client.force_login(importer.bam)
    page = client.get(reverse("deadlines"), params)
    assert page.status_code == 200
    assert page.context["form"].errors and page.context["rows"] == []


def test_page_never_lists_another_importers_account(client, importer, other_importer):
    (other_rm,) = rms(other_importer)
    make_cad(other_rm, release=date(2026, 3, 5))
    client.force_login(importer.bam)
    page = client.get(reverse("deadlines"), {"account": other_rm.pk})
    assert page.context["form"].errors and other_rm.number not in page.content.decode()


def test_page_query_count_is_constant_in_rows(client, importer):
    rm1, rm2 = rms(importer)
    client.force_login(importer.bam)

    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(reverse("deadlines")).status_code == 200
        return len(ctx.captured_queries)

    make_cad(rm1, release=date(2026, 3, 5))
    make_bond(importer, rm1, expiry=date(2026, 4, 30))
    few = count()
    for i in range(8):
        make_cad(rm1 if i % 2 else rm2, release=date(2026, 3, 5) - timedelta(days=i))
        make_bond(importer, rm2, expiry=date(2026, 4, 30) + timedelta(days=i))
    assert len(client.get(reverse("deadlines")).context["rows"]) == 18
    assert count() == few


def test_dashboard_card(client, importer):
    rm1, _rm2 = rms(importer)
    make_cad(rm1, release=date(2026, 3, 5))
    client.force_login(importer.bam)
    html = client.get(reverse("dashboard")).content.decode()
    assert "deadlines-panel" in html and "Account for CAD" in html


# --- The ICS feed ------------------------------------------------------------------------------

def test_ics_feed_valid_and_revocable(client, importer):
    rm1, _rm2 = rms(importer)
    make_cad(rm1, release=date(2026, 3, 5))
    make_bond(importer, rm1, expiry=date(2026, 4, 30))
    client.force_login(importer.bam)
    client.post(reverse("deadline-feed-token"), {"action": "regenerate"})
    token = CalendarFeed.objects.get(user=importer.bam, revoked_at__isnull=True).token
    url = reverse("deadline-feed", args=[token])
    client.logout()  # calendar applications do not log in
    response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"].startswith("text/calendar")
    body = response.content.decode()
    lines = body.split("\r\n")
    assert lines[0] == "BEGIN:VCALENDAR" and lines[-2] == "END:VCALENDAR" and lines[-1] == ""
    assert "\n" not in body.replace("\r\n", "")
    assert all(len(line.encode()) <= 75 for line in lines)
    assert "VERSION:2.0" in lines and body.count("BEGIN:VEVENT") == body.count("END:VEVENT") == 2
    assert "DTSTART;VALUE=DATE:20260312" in lines and "DTEND;VALUE=DATE:20260313" in lines
    assert "DTSTART;VALUE=DATE:20260430" in lines
    assert f"URL:http://testserver{reverse('cad_detail', args=[CAD.objects.get().pk])}" in lines
    assert sum(line.startswith("UID:") for line in lines) == 2 and sum(line.startswith("DTSTAMP:") for line in lines) == 2

    # Regenerate: the old address answers 404, the new one works; revoke: 404.
    client.force_login(importer.bam)
    client.post(reverse("deadline-feed-token"), {"action": "regenerate"})
    new = CalendarFeed.objects.get(user=importer.bam, revoked_at__isnull=True).token
    assert client.get(url).status_code == 404
    assert client.get(reverse("deadline-feed", args=[new])).status_code == 200
    client.post(reverse("deadline-feed-token"), {"action": "revoke"})
    assert client.get(reverse("deadline-feed", args=[new])).status_code == 404
    assert client.get(reverse("deadline-feed", args=["not-a-token"])).status_code == 404


def test_ics_escaping_and_folding():
    from django.utils import timezone

    from accounts.deadline_views import _escape, _fold, ics_calendar
    from accounts.deadlines import Row

    assert _escape("a,b;c\\d\ne") == "a\\,b\\;c\\\\d\\ne"
    folded = _fold("SUMMARY:" + "é" * 100)
    parts = folded.split("\r\n")
    assert all(len(p.encode()) <= 75 for p in parts) and all(p.startswith(" ") for p in parts[1:])
    assert "".join(p[1:] if i else p for i, p in enumerate(parts)) == "SUMMARY:" + "é" * 100
    row = Row(kind="cad_due", date=date(2026, 3, 12), title="Déclaration, en retard; oui", url="/x/",
              program_account_id=1, account_number="123", ref="cad-1")
    text = ics_calendar([row], name="N", now=timezone.now(), host="portal.test")
    assert "SUMMARY:Déclaration\\, en retard\\; oui (123)" in text


def test_rpp_shortfall_due_date(importer, broker):
    from tests.rpp.conftest import binding_from_estimate

    rm1, _rm2 = rms(importer)
    req = binding_from_estimate(rm1, "20000", as_of=TODAY)
    rows = deadlines_for(importer.bam, today=TODAY, kinds_wanted=["rpp_shortfall"])
    assert [(r.kind, r.date, r.amount, r.account_number) for r in rows] == [
        ("rpp_shortfall", req.due_date, req.bond_amount, rm1.number)]
    # A new importer's estimate: the $10,000 minimum, to be posted within 30 days (9 April).
    assert (req.due_date, req.bond_amount) == (date(2026, 4, 9), D("10000.00"))
    # Covered by a bond: no row. A broker without the security flag never sees it.
    factories.make_delegation(importer, broker, valid_from=date(2026, 1, 1), security=False)
    assert deadlines_for(broker.bam, today=TODAY, kinds_wanted=["rpp_shortfall"]) == []
    make_bond(importer, rm1, expiry=date(2027, 1, 31), amount=str(req.bond_amount))
    assert deadlines_for(importer.bam, today=TODAY, kinds_wanted=["rpp_shortfall"]) == []
