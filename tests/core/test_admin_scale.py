"""Admin at scale (issue #15 item 6): the changelists of the big tables (ledger, CADs, CAD versions,
statements, daily notices, audit events) ask the same number of queries however many rows, search by
exact indexed values, have no date hierarchy, and count an unfiltered list by PostgreSQL's estimate."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import AuditEvent
from billing.ledger.models import LedgerEntry
from billing.models import DailyNotice, Statement
from carm_portal import admin as carm_admin
from carm_portal import calendar
from declarations.models import CAD, CADVersion
from tests import factories
from tests.declarations.conftest import file_cad, tariff  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db
K = LedgerEntry.Kind
PERIOD = date(2025, 11, 17)

CHANGELISTS = ["ledger_ledgerentry", "declarations_cad", "declarations_cadversion", "billing_statement",
               "billing_dailynotice", "accounts_auditevent", "offsetting_allocation", "billing_payment"]


@pytest.fixture
def admin_client(client, db):
    officer = factories.make_user(is_staff=True, is_superuser=True)
    client.force_login(officer)
    client.officer = officer
    return client


@pytest.fixture
def account(importer):
    return importer.program_accounts.order_by("number").first()


@pytest.fixture
def cad(tariff, importer, account):  # noqa: F811
    return file_cad(importer.bam, account)


def grow(account, cad, start: int, count: int) -> None:
    """``count`` more rows in each big table (plain bulk_create: fixtures for the changelists)."""
    LedgerEntry.objects.bulk_create([
        LedgerEntry(program_account=account, kind=K.CAD_CHARGE, amount=Decimal("10.50"), duty=Decimal("10.00"),
                    gst=Decimal("0.50"), effective_date=PERIOD - timedelta(days=i % 28), billing_period=PERIOD,
                    reference=f"9{i:013d}", idempotency_key=f"scale:{i}")
        for i in range(start, start + count)
    ])
    copies = []
    for i in range(start, start + count):
        copy = CAD.objects.get(pk=cad.pk)
        copy.pk, copy.transaction_number = None, f"8{i:013d}"
        copies.append(copy)
    CAD.objects.bulk_create(copies)
    versions = []
    for c in CAD.objects.filter(transaction_number__in=[c.transaction_number for c in copies]):
        version = cad.versions.order_by("number").first()
        version.pk, version.cad, version.ledger_entry = None, c, None
        versions.append(version)
    CADVersion.objects.bulk_create(versions)
    periods = calendar.periods_ending(PERIOD, 40)
    Statement.objects.bulk_create([
        Statement(program_account=account, period_end=periods[i], period_start=calendar.period_start(periods[i]),
                  due_date=periods[i] + timedelta(days=14), issued_on=periods[i] + timedelta(days=8))
        for i in range(start, start + count)
    ])
    DailyNotice.objects.bulk_create([
        DailyNotice(program_account=account, day=PERIOD - timedelta(days=i)) for i in range(start, start + count)
    ])
    AuditEvent.objects.bulk_create([
        AuditEvent(action="test.scale", actor=account.business.memberships.first().user,
                   acting_for=account.business, target_repr=f"row {i}")
        for i in range(start, start + count)
    ])


def queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return len(ctx.captured_queries)


def test_changelists_ask_the_same_number_of_queries_at_two_sizes(admin_client, account, cad):
    urls = [reverse(f"admin:{name}_changelist") for name in CHANGELISTS]
    urls += [reverse("admin:declarations_cad_changelist") + f"?q={cad.transaction_number}",
             reverse("admin:ledger_ledgerentry_changelist") + f"?q={account.number}",
             reverse("admin:ledger_ledgerentry_changelist") + f"?period={PERIOD}",
             reverse("admin:billing_statement_changelist") + f"?q={account.number}"]
    grow(account, cad, 0, 2)
    for url in urls:
        queries(admin_client, url)  # warm: session, content types
    small = {url: queries(admin_client, url) for url in urls}
    grow(account, cad, 2, 30)
    large = {url: queries(admin_client, url) for url in urls}
    assert small == large


def test_cad_search_is_exact_on_the_transaction_number_or_the_rm_number(admin_client, importer, account, cad):
    grow(account, cad, 0, 3)
    other = factories.make_business(name="Other Imports")
    url = reverse("admin:declarations_cad_changelist")
    found = admin_client.get(url, {"q": cad.transaction_number}).context["cl"]
    assert list(found.result_list) == [cad]
    by_rm = admin_client.get(url, {"q": account.number}).context["cl"]
    assert by_rm.result_count == 4 and {c.program_account_id for c in by_rm.result_list} == {account.pk}
    # Exact, not "contains": a part of a number finds nothing; another RM's number finds its CADs (none).
    assert admin_client.get(url, {"q": cad.transaction_number[:8]}).context["cl"].result_count == 0
    assert admin_client.get(url, {"q": other.program_accounts.first().number}).context["cl"].result_count == 0


def test_ledger_search_and_period_filter(admin_client, account, cad):
    grow(account, cad, 0, 3)
    url = reverse("admin:ledger_ledgerentry_changelist")
    assert [e.reference for e in admin_client.get(url, {"q": "90000000000001"}).context["cl"].result_list] == [
        "90000000000001"]
    assert admin_client.get(url, {"q": account.number}).context["cl"].result_count == \
        LedgerEntry.objects.filter(program_account=account).count()
    in_period = admin_client.get(url, {"period": PERIOD.isoformat()}).context["cl"]
    assert in_period.result_count == LedgerEntry.objects.filter(billing_period=PERIOD).count()
    assert admin_client.get(url, {"period": "2025-02-30"}).context["cl"].result_count == 0  # no 500


def test_every_exact_search_field_of_the_big_tables_is_indexed_in_the_database():
    """What ``BigTableAdmin`` promises: a search term is compared with an indexed column (a field of a
    related model is looked up in its own table first), so no search scans a big table."""
    for model, model_admin in admin.site._registry.items():
        if not isinstance(model_admin, carm_admin.BigTableAdmin):
            continue
        for path in model_admin.exact_search_fields:
            *relations, name = path.split("__")
            target = model
            for relation in relations:
                target = target._meta.get_field(relation).related_model
            column = target._meta.get_field(name).column
            with connection.cursor() as cursor:
                constraints = connection.introspection.get_constraints(cursor, target._meta.db_table)
            leading = {c["columns"][0] for c in constraints.values() if (c["index"] or c["unique"]) and c["columns"]}
            assert column in leading, f"{model.__name__} admin searches {path}: {target._meta.db_table}.{column} has no index"


def test_audit_search_by_email_action_or_bn(admin_client, importer, account, cad):
    grow(account, cad, 0, 3)
    url = reverse("admin:accounts_auditevent_changelist")
    by_action = admin_client.get(url, {"q": "test.scale"}).context["cl"]
    assert by_action.result_count == 3
    email = account.business.memberships.first().user.email
    assert admin_client.get(url, {"q": email}).context["cl"].result_count == \
        AuditEvent.objects.filter(actor__email=email).count()
    assert admin_client.get(url, {"q": importer.bn9}).context["cl"].result_count == \
        AuditEvent.objects.filter(acting_for=importer).count()


def test_big_tables_have_no_date_hierarchy_and_no_full_count():
    for model in (LedgerEntry, CAD, CADVersion, Statement, DailyNotice, AuditEvent):
        model_admin = admin.site._registry[model]
        assert model_admin.date_hierarchy is None, model
        assert model_admin.show_full_result_count is False, model
        assert model_admin.paginator is carm_admin.EstimatedCountPaginator, model


def test_recent_period_filter_offers_twelve_periods_without_a_query(rf, admin_client):
    import time_machine

    with time_machine.travel(date(2026, 6, 10), tick=False), CaptureQueriesContext(connection) as ctx:
        choices = carm_admin.RecentPeriodFilter(rf.get("/"), {}, LedgerEntry, None).lookups(None, None)
    assert len(ctx.captured_queries) == 0
    assert [c[0] for c in choices][:2] == ["2026-06-17", "2026-05-17"] and len(choices) == 12


def test_paginator_counts_exactly_off_postgresql_or_when_filtered(account, cad):
    grow(account, cad, 0, 3)
    paginator = carm_admin.EstimatedCountPaginator(LedgerEntry.objects.all(), 100)
    assert paginator.count == LedgerEntry.objects.count()
    filtered = carm_admin.EstimatedCountPaginator(LedgerEntry.objects.filter(kind=K.CAD_CHARGE), 100)
    assert filtered.count == LedgerEntry.objects.filter(kind=K.CAD_CHARGE).count()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="reltuples is PostgreSQL's")
def test_unfiltered_count_is_postgresqls_estimate(account, cad, monkeypatch):
    grow(account, cad, 0, 30)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE billing_ledgerentry")
    monkeypatch.setattr(carm_admin, "ESTIMATE_COUNT_ABOVE", 0)
    paginator = carm_admin.EstimatedCountPaginator(LedgerEntry.objects.order_by("-id"), 100)
    with CaptureQueriesContext(connection) as ctx:
        count = paginator.count
    assert count == LedgerEntry.objects.count()  # just analyzed: the estimate is exact
    assert not any("COUNT(" in q["sql"].upper() for q in ctx.captured_queries)
    assert "reltuples" in ctx.captured_queries[0]["sql"]
    # Filtered: counted, never estimated.
    filtered = carm_admin.EstimatedCountPaginator(LedgerEntry.objects.filter(kind=K.PAYMENT), 100)
    assert filtered.count == 0
