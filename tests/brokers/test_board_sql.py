"""The board sorted and filtered in SQL gives the rows, in the order, that computing every row gives.

Issue #13 item 6: the page computes only its own rows; its query count does not grow with clients.
"""

from __future__ import annotations

from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from brokers import board as b
from tests.billing.doc_builders import PERIOD, close_statement, post_cads
from tests.brokers.conftest import TODAY, add_clients

pytestmark = pytest.mark.django_db


@pytest.fixture
def many(world):
    """15 more clients: ties (no statement: nothing due), and statements of different amounts."""
    add_clients(world["broker"], 15)
    for i, account in enumerate(b.client_accounts(world["broker"].bam, today=TODAY)
                                .filter(business__legal_name__startswith="Client ").order_by("pk")[:6]):
        post_cads(account, PERIOD, 1 + i % 3, start=i)
        close_statement(account, PERIOD)
    return world


def _keys(rows):
    return [r.program_account.pk for r in rows]


@pytest.mark.parametrize("sort", sorted(b.SQL_COLUMNS))
def test_sql_order_is_the_computed_order(many, sort):
    user = many["broker"].bam
    for sign in ("", "-"):
        query = b.BoardQuery.from_params({"sort": sign + sort})
        assert query.in_sql
        expected = _keys(b.everything(user, query, today=TODAY))
        assert len(expected) == 18
        pages = [b.board(user, query, today=TODAY, offset=offset, limit=7) for offset in (0, 7, 14)]
        assert [p.total for p in pages] == [18, 18, 18]
        assert sum((_keys(p.rows) for p in pages), []) == expected, sign + sort


@pytest.mark.parametrize("params", [{"overdue": "1"}, {"late": "1"}, {"expiring": "1"},
                                    {"late": "1", "expiring": "1", "sort": "-due"}, {"q": "client 000", "late": "1"},
                                    {"overdue": "1", "sort": "-overdue"}])
def test_sql_filters_are_the_computed_filters(many, params):
    user = many["broker"].bam
    query = b.BoardQuery.from_params(params)
    assert query.in_sql
    expected = _keys(b.everything(user, query, today=TODAY))
    page = b.board(user, query, today=TODAY, offset=0, limit=50)
    assert expected and _keys(page.rows) == expected and page.total == len(expected)


def test_page_rows_are_computed_in_full(many):
    user = many["broker"].bam
    full = {r.program_account.pk: r for r in b.everything(user, b.BoardQuery(), today=TODAY)}
    page = b.board(user, b.BoardQuery.from_params({"sort": "-due"}), today=TODAY, offset=0, limit=5)
    assert [r.amount_due for r in page.rows] == sorted((r.amount_due for r in full.values() if r.amount_due is not None),
                                                       reverse=True)[:5]
    for row in page.rows:
        other = full[row.program_account.pk]
        assert (row.score, row.amount_due, row.overdue, row.due_date, row.security_gap, row.cads_late,
                row.appeal_deadline, row.delegation_expires) == (
            other.score, other.amount_due, other.overdue, other.due_date, other.security_gap, other.cads_late,
            other.appeal_deadline, other.delegation_expires)


def test_a_column_without_sql_form_computes_only_its_figures_for_every_row(many, monkeypatch):
    """Sorted by security gap: money is computed for the page only (positions for every row)."""
    calls = []
    real = b.money_summary
    monkeypatch.setattr(b, "money_summary", lambda ids, **kw: calls.append(len(list(ids))) or real(ids, **kw))
    user = many["broker"].bam
    query = b.BoardQuery.from_params({"sort": "-gap"})
    assert not query.in_sql and query.groups == {"security"}
    page = b.board(user, query, today=TODAY, offset=0, limit=5)
    assert _keys(page.rows) == _keys(b.everything(user, query, today=TODAY))[:5]
    assert calls[0] <= 5


def test_sorting_by_amount_due_computes_only_the_page(many, monkeypatch):
    calls = []
    real = b.money_summary
    monkeypatch.setattr(b, "money_summary", lambda ids, **kw: calls.append(len(list(ids))) or real(ids, **kw))
    user = many["broker"].bam
    b.board(user, b.BoardQuery.from_params({"sort": "-due"}), today=TODAY, offset=0, limit=3)
    page = b.board(user, b.BoardQuery.from_params({"sort": "-due", "overdue": "1"}), today=TODAY, offset=0, limit=3)
    assert calls == [3, 1] and page.total == 1  # 18 clients, one overdue


def _count(client, params) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(reverse("brokers:board"), params)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_query_count_sorted_by_amount_due_constant_in_clients(client, world):
    client.force_login(world["broker"].bam)
    params = {"sort": "-due", "size": "10"}
    add_clients(world["broker"], 3)
    small = _count(client, params)
    add_clients(world["broker"], 30, start=3)
    large = _count(client, params)
    assert small == large
    response = client.get(reverse("brokers:board"), params)
    assert len(response.context["rows"]) == 10 and response.context["total"] == 36
    assert response.context["rows"][0].program_account == world["maple_rm1"]  # 2,114.04: the most due
    assert date(2025, 12, 1) == response.context["rows"][0].due_date


def test_scope_codes_read_as_words_in_the_readers_language():
    from django.utils import translation

    from accounts.templatetags.scope_tags import scope_labels

    assert scope_labels(["financial", "cad_submit", "unknown"]) == (
        "financial (statements, payments, offsets), submit CADs, unknown")
    with translation.override("fr"):
        assert "financial" not in scope_labels(["financial", "cad_submit"])
