"""Reminders from the board to clients' BAMs: once per client and day, in each BAM's language,
through the gate (another firm's client: 404), sent by the outbox's Celery task."""

from __future__ import annotations

from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import SentNotice
from accounts.roles import Role
from brokers import reminders
from carm_portal.models import OutboxItem
from tests import factories
from tests.brokers.conftest import add_clients
from tests.clock import on

pytestmark = pytest.mark.django_db
URL = "/brokers/reminders/"


@pytest.fixture
def bams(world):
    """Maple's BAM reads French; a second, English BAM; Maple's Reader gets nothing."""
    maple = world["maple"]
    maple.bam.preferred_language = "fr"
    maple.bam.save(update_fields=["preferred_language"])
    second = factories.add_member(maple, user=factories.make_user("second.bam@example.com"), role=Role.BAM)
    factories.add_member(maple, user=factories.make_user("reader@example.com"), role=Role.READER)
    return {**world, "maple_bam_en": second}


def _send(client, capture, *ids, **extra):
    with capture(execute=True):
        return client.post(URL, {"client": [str(i) for i in ids], "next": "/brokers/", **extra})


def _messages(response) -> list[str]:
    """This request's messages (the earlier redirects' were never shown, so they pile up)."""
    return [str(m) for m in response.wsgi_request._messages._queued_messages]


def test_once_per_client_per_day_then_again_the_next_day(client, bams, mailoutbox,
                                                          django_capture_on_commit_callbacks):
    maple, bravo = bams["maple"], bams["bravo"]
    client.force_login(bams["broker"].bam)
    response = _send(client, django_capture_on_commit_callbacks, maple.pk, bravo.pk, maple.pk)
    assert response.status_code == 302 and response["Location"] == "/brokers/"
    assert _messages(response) == ["Reminder sent to 2 client(s), 0 already reminded today."]
    assert sorted(m.to[0] for m in mailoutbox) == sorted([maple.bam.email, "second.bam@example.com", bravo.bam.email])
    assert SentNotice.objects.filter(notice=reminders.NOTICE, on=date(2025, 11, 26)).count() == 3

    again = _send(client, django_capture_on_commit_callbacks, maple.pk, bravo.pk)
    assert _messages(again) == ["Reminder sent to 0 client(s), 2 already reminded today."]
    assert len(mailoutbox) == 3

    # The task itself rerun (a retried outbox item, a concurrent click): nothing again.
    assert reminders.send_reminders(bams["broker"].bam.pk, [maple.pk, bravo.pk], date(2025, 11, 26)) == 0
    assert len(mailoutbox) == 3

    with on("2025-11-27"):
        next_day = _send(client, django_capture_on_commit_callbacks, maple.pk)
    assert _messages(next_day) == ["Reminder sent to 1 client(s), 0 already reminded today."]
    assert len(mailoutbox) == 5


@pytest.fixture
def french(settings, tmp_path):
    from tests.i18n.conftest import install_fragment

    install_fragment(settings, tmp_path)


def test_the_email_says_what_is_missing_and_due_in_the_bams_language(client, bams, mailoutbox, french,
                                                                   django_capture_on_commit_callbacks):
    client.force_login(bams["broker"].bam)
    _send(client, django_capture_on_commit_callbacks, bams["maple"].pk)
    by_to = {m.to[0]: m for m in mailoutbox}
    fr = by_to[bams["maple"].bam.email]
    assert fr.subject == "Portail GCRA : Border Brokers vous fait un rappel pour Maple Imports Inc."
    assert "Montant dû : 2\u00a0114,04\u00a0$." in fr.body
    assert "En souffrance : 1\u00a0050,00\u00a0$, à payer maintenant." in fr.body
    assert "Payable au plus tard le 2025-12-01." in fr.body
    assert "Il manque encore sur la liste de vérification :" in fr.body
    en = by_to["second.bam@example.com"]
    assert en.subject == "CARM Portal: Border Brokers reminds you about Maple Imports Inc."
    assert "Amount due: $2,114.04." in en.body and "Overdue: $1,050.00, to pay now." in en.body
    assert "Still missing on the readiness checklist:" in en.body
    assert bams["maple"].bn9 + "RM0001" in en.body


def test_no_money_without_the_financial_scope(client, bams, mailoutbox, django_capture_on_commit_callbacks):
    client.force_login(bams["broker"].bam)
    _send(client, django_capture_on_commit_callbacks, bams["bravo"].pk)
    (mail,) = mailoutbox
    assert "Amount due" not in mail.body and "Nothing is due" not in mail.body


def test_select_all_on_this_page(client, bams, mailoutbox, django_capture_on_commit_callbacks):
    client.force_login(bams["broker"].bam)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(URL, {"all_on_page": "1", "page_client": [bams["maple"].pk, bams["bravo"].pk]})
    assert _messages(response) == ["Reminder sent to 2 client(s), 0 already reminded today."]
    assert len(mailoutbox) == 3


def test_another_firms_client_is_404_and_nothing_is_sent(client, bams, mailoutbox,
                                                         django_capture_on_commit_callbacks):
    client.force_login(bams["broker"].bam)
    for ids in ([bams["other"].pk], [bams["maple"].pk, bams["other"].pk], ["x"], [bams["broker"].pk]):
        assert _send(client, django_capture_on_commit_callbacks, *ids).status_code == 404
    client.force_login(bams["clerk"])  # its client group holds Maple only
    assert _send(client, django_capture_on_commit_callbacks, bams["bravo"].pk).status_code == 404
    client.force_login(bams["maple"].bam)  # not a broker
    assert _send(client, django_capture_on_commit_callbacks, bams["maple"].pk).status_code == 404
    assert client.get(URL).status_code == 405
    assert mailoutbox == [] and not OutboxItem.objects.exists() and not SentNotice.objects.exists()


def test_nothing_ticked_is_a_message_not_an_error(client, bams):
    client.force_login(bams["broker"].bam)
    response = client.post(URL, {"next": "https://evil.example.com/"})
    assert response.status_code == 302 and response["Location"] == "/brokers/"
    assert _messages(response) == ["Tick at least one client to remind."]


def test_the_board_has_the_checkboxes(client, bams):
    client.force_login(bams["broker"].bam)
    html = client.get("/brokers/").content.decode()
    assert f'form="remind-form" name="client" value="{bams["maple"].pk}"' in html
    assert 'name="all_on_page"' in html and f'name="page_client" value="{bams["bravo"].pk}"' in html
    assert html.count('name="page_client"') == 2  # Maple's two RM accounts: one client


def test_request_queries_do_not_grow_with_clients(client, bams, django_capture_on_commit_callbacks):
    broker = bams["broker"]
    add_clients(broker, 12)
    from accounts.models import Business

    client.force_login(broker.bam)
    ids = list(Business.objects.filter(legal_name__startswith="Client ").values_list("pk", flat=True))

    def count(chosen) -> int:
        with CaptureQueriesContext(connection) as ctx:
            response = client.post(URL, {"client": chosen})  # on-commit work not run: the request only
        assert response.status_code == 302
        return len(ctx)

    assert count(ids[:2]) == count(ids[2:])
