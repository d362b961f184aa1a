"""The broker board's "Reconcile" action (issue #14): per client row with the financial scope, act for
the client and land on its RM's newest statement's reconcile page; none without the scope; no extra
query per row (tests/brokers/test_board.py's query-count test covers the page)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from billing.models import Statement
from tests.brokers.conftest import PERIOD

pytestmark = pytest.mark.django_db


def test_reconcile_action_per_row_with_the_financial_scope(client, world):
    client.force_login(world["broker"].bam)
    html = client.get(reverse("brokers:board")).content.decode()
    for rm in (world["maple_rm1"], world["maple_rm2"]):
        target = reverse("billing-account-reconcile-latest", args=[rm.pk])
        assert f'name="next" value="{target}"' in html  # act for the client, then reconcile
    bravo_rm = world["bravo"].program_accounts.get()  # delegation without the financial scope
    assert reverse("billing-account-reconcile-latest", args=[bravo_rm.pk]) not in html
    assert html.count('class="board-reconcile"') == 2


def test_the_action_acts_for_the_client_then_opens_the_latest_statement(client, world):
    broker, rm1, rm2 = world["broker"], world["maple_rm1"], world["maple_rm2"]
    client.force_login(broker.bam)
    target = reverse("billing-account-reconcile-latest", args=[rm1.pk])
    response = client.post(reverse("brokers:act-for"), {"business": world["maple"].pk, "next": target})
    assert response.status_code == 302 and response["Location"] == target
    latest = Statement.objects.get(program_account=rm1, period_end=PERIOD)  # not the previous period's
    response = client.get(target)
    assert response.status_code == 302
    assert response["Location"] == reverse("billing-statement-reconcile", args=[latest.pk])
    assert client.get(response["Location"]).status_code == 200
    # Acting for Maple now: the row links straight to it.
    html = client.get(reverse("brokers:board")).content.decode()
    assert f'class="button button-small button-secondary board-reconcile" href="{target}"' in html
    # An RM without a statement yet: the statements page, saying so.
    response = client.get(reverse("billing-account-reconcile-latest", args=[rm2.pk]), follow=True)
    assert response.redirect_chain[-1][0] == reverse("billing-statements")
    assert "This RM account has no statement yet." in response.content.decode()


def test_the_action_is_404_outside_the_gate(client, world):
    client.force_login(world["broker"].bam)
    client.post(reverse("brokers:act-for"), {"business": world["bravo"].pk})
    bravo_rm = world["bravo"].program_accounts.get()
    assert client.get(reverse("billing-account-reconcile-latest", args=[bravo_rm.pk])).status_code == 404
    other_rm = world["other"].program_accounts.get()  # another firm's client
    assert client.get(reverse("billing-account-reconcile-latest", args=[other_rm.pk])).status_code == 404
    assert client.get(reverse("billing-account-reconcile-latest", args=[world["maple_rm1"].pk])).status_code == 404
