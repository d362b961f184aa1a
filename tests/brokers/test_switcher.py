"""The header's account switcher for a firm with many clients: recent clients, the current one, and a
link to the searchable board (issue #13 item 6), in a number of queries that does not grow."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from brokers import context_processors
from tests.brokers.conftest import add_clients

pytestmark = pytest.mark.django_db


def _options(html: str) -> list[str]:
    select = html.split('id="switch-business"')[1].split("</select>")[0]
    return re.findall(r'<option value="(\d+)"', select)


def test_few_clients_list_them_all(client, world):
    client.force_login(world["broker"].bam)
    html = client.get(reverse("brokers:board")).content.decode()
    assert _options(html) == [str(world["bravo"].pk), str(world["maple"].pk)]
    assert "Search all clients" not in html


def test_many_clients_list_the_recent_and_current_and_link_the_board(client, world, monkeypatch):
    monkeypatch.setattr(context_processors, "SWITCHER_FULL_LIST", 2)
    add_clients(world["broker"], 2)
    client.force_login(world["broker"].bam)
    html = client.get(reverse("dashboard")).content.decode()
    assert _options(html) == []  # nothing recent, acting for nobody: the type-ahead or the link
    assert f'href="{reverse("brokers:board")}">Search all clients</a>' in html
    client.post(reverse("brokers:act-for"), {"business": world["bravo"].pk})
    client.post(reverse("brokers:act-for"), {"business": world["maple"].pk})
    html = client.get(reverse("dashboard")).content.decode()
    assert _options(html) == [str(world["maple"].pk), str(world["bravo"].pk)]  # most recent first
    assert "Choose a client…" not in html
    # Another firm's client is never offered, even if it were in the session's recent list.
    session = client.session
    session["brokers_recent_clients"] = [world["other"].pk, world["maple"].pk]
    session.save()
    assert _options(client.get(reverse("dashboard")).content.decode()) == [str(world["maple"].pk)]


def test_in_french(client, world, monkeypatch):
    monkeypatch.setattr(context_processors, "SWITCHER_FULL_LIST", 2)
    client.force_login(world["broker"].bam)
    add_clients(world["broker"], 1)
    html = client.get(reverse("dashboard"), HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "Rechercher parmi tous les clients" in html


def test_query_count_does_not_grow_with_clients(client, world, monkeypatch):
    monkeypatch.setattr(context_processors, "SWITCHER_FULL_LIST", 2)
    client.force_login(world["broker"].bam)
    client.post(reverse("brokers:act-for"), {"business": world["bravo"].pk})
    add_clients(world["broker"], 2)
    counts = []
    for more in (0, 6):
        add_clients(world["broker"], more, start=10)
        with CaptureQueriesContext(connection) as ctx:
            html = client.get(reverse("dashboard")).content.decode()
        counts.append(len(ctx.captured_queries))
        assert _options(html) == [str(world["bravo"].pk)]
    assert counts[0] == counts[1]
