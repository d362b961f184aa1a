"""Deadline-centre email notices: each once, in the user's language, preferences respected,
rerun-safe (accounts/notifications.py, task accounts.send_deadline_notices). TODAY is pinned."""

from __future__ import annotations

import itertools
from datetime import date
from decimal import Decimal as D

import pytest
from django.core import mail
from django.urls import reverse

from accounts.models import Delegation, NotificationPreference, SentNotice
from accounts.tasks import send_deadline_notices
from declarations import deadlines as cad_deadlines
from declarations.models import CAD
from tests import factories
from tests.clock import on

pytestmark = pytest.mark.django_db
TODAY = date(2026, 3, 10)
_numbers = itertools.count(1)


@pytest.fixture(autouse=True)
def _pinned(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    with on(TODAY):
        yield


def late_cad(account) -> CAD:
    release = date(2026, 2, 27)  # due Friday 6 March: late on the 10th
    return CAD.objects.create(
        transaction_number=f"{66600000000000 + next(_numbers):014d}", program_account=account,
        filed_by=account.business.bam, status=CAD.Status.DRAFT, release_date=release,
        due_date=cad_deadlines.cad_due_date(release, CAD.Type.REGULAR),
    )


def rm1(business):
    return business.program_accounts.order_by("number").first()


def test_late_cad_notice_sent_once(importer, other_importer):
    cad = late_cad(rm1(importer))
    assert send_deadline_notices(TODAY.isoformat()) == 1
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [importer.bam.email]
    assert cad.transaction_number in message.body and "6 March 2026" in message.body
    assert reverse("cad_detail", args=[cad.pk]) in message.body
    assert SentNotice.objects.filter(user=importer.bam, notice="cad_late", ref=f"cad-{cad.pk}",
                                     on=date(2026, 3, 6)).count() == 1
    # A rerun (the same day or the next) sends nothing more.
    assert send_deadline_notices(TODAY.isoformat()) == 0
    with on("2026-03-11"):
        assert send_deadline_notices() == 0
    assert len(mail.outbox) == 1


def test_notice_in_the_users_language(importer):
    importer.bam.preferred_language = "fr"
    importer.bam.save(update_fields=["preferred_language"])
    late_cad(rm1(importer))
    send_deadline_notices(TODAY.isoformat())
    (message,) = mail.outbox
    assert "6 mars 2026" in message.body and "March" not in message.body
    html = message.alternatives[0][0]
    assert "6 mars 2026" in html


def test_preferences_respected(client, importer):
    late_cad(rm1(importer))
    client.force_login(importer.bam)
    # Every box but "a CAD is late": a form that omits a checkbox turns it off.
    fields = ["statement_issued", "due_soon", "overdue", "delegation_requested", "delegation_approved",
              "delegation_expiring", "appeal_decided"]
    response = client.post(reverse("deadline-preferences"), dict.fromkeys(fields, "on"))
    assert response.status_code == 302
    assert NotificationPreference.objects.get(user=importer.bam).cad_late is False
    assert send_deadline_notices(TODAY.isoformat()) == 0
    assert mail.outbox == []
    assert not SentNotice.objects.exists()


def test_delegation_requested_reaches_the_importer_managers(importer, broker):
    d = factories.make_delegation(importer, broker, status=Delegation.Status.REQUESTED, valid_from=TODAY)
    send_deadline_notices(TODAY.isoformat())
    to = {tuple(m.to) for m in mail.outbox}
    assert (importer.bam.email,) in to and (broker.bam.email,) not in to
    assert SentNotice.objects.filter(user=importer.bam, notice="delegation_requested", ref=f"delegation-{d.pk}").exists()


def test_broker_without_cad_scope_gets_no_cad_notice(importer, broker):
    late_cad(rm1(importer))
    factories.make_delegation(importer, broker, valid_from=date(2026, 1, 1), cad_submit=False, adjust=False)
    send_deadline_notices(TODAY.isoformat())
    assert [m.to for m in mail.outbox] == [[importer.bam.email]]


def test_due_in_three_business_days_and_statement_issued(importer):
    """On Wed 26 Nov 2025 (statement issued the 25th, due Mon 1 Dec = 3 business days later)."""
    from tests.billing.doc_builders import PERIOD, close_statement, post_cads

    account = rm1(importer)
    with on("2025-11-26"):
        post_cads(account, PERIOD, 1)
        statement = close_statement(account, PERIOD)
        assert send_deadline_notices() == 2
    notices = set(SentNotice.objects.values_list("notice", "ref"))
    assert notices == {("statement_issued", f"statement-{statement.pk}"),
                       ("due_soon", f"statement-{account.pk}-2025-12-01")}
    (message,) = mail.outbox
    assert "$1,050.00" in message.body


def test_a_failed_send_records_nothing_and_a_rerun_sends(importer, monkeypatch):
    late_cad(rm1(importer))

    def boom(self, *a, **k):
        raise ConnectionError("SMTP down")

    from django.core.mail import EmailMultiAlternatives

    monkeypatch.setattr(EmailMultiAlternatives, "send", boom)
    assert send_deadline_notices(TODAY.isoformat()) == 0
    assert not SentNotice.objects.exists()
    monkeypatch.undo()
    assert send_deadline_notices(TODAY.isoformat()) == 1
    assert len(mail.outbox) == 1


def test_nothing_to_say_sends_nothing(importer, other_importer):
    assert send_deadline_notices(TODAY.isoformat()) == 0
    assert mail.outbox == [] and not SentNotice.objects.exists()


def test_appeal_decided(importer):
    from appeals import services
    from tests.appeals.conftest import walk_to_assigned

    cbsa = factories.make_officer()
    account = rm1(importer)
    penalty = services.penalty_create(actor=cbsa, program_account=account, npa_number="NPA-N-1",
                                      contravention_code="C152", amount=D("750.00"), served_on=date(2026, 1, 20),
                                      today=date(2026, 1, 20))
    appeal = services.appeal_create(actor=importer.bam, penalty=penalty, grounds="g", today=date(2026, 2, 2))
    appeal = services.appeal_submit(actor=importer.bam, appeal=appeal, today=date(2026, 2, 2))
    appeal = walk_to_assigned(cbsa, appeal)
    services.appeal_decide(actor=cbsa, appeal=appeal, outcome="denied", reasons="r", today=date(2026, 3, 9))
    send_deadline_notices(TODAY.isoformat())
    assert SentNotice.objects.filter(user=importer.bam, notice="appeal_decided", ref=f"appeal-{appeal.pk}",
                                     on=date(2026, 3, 9)).exists()
    assert any("Denied" in m.body for m in mail.outbox)


def test_overdue_notice_once_per_overdue_statement(importer):
    from carm_portal import calendar
    from tests.billing.doc_builders import PERIOD, PREVIOUS, close_statement, post_cads

    account = rm1(importer)
    with on("2025-11-26"):
        post_cads(account, PREVIOUS, 1)
        close_statement(account, PREVIOUS)
        post_cads(account, PERIOD, 1, start=1)
        close_statement(account, PERIOD)
        send_deadline_notices()
        send_deadline_notices()
    overdue = SentNotice.objects.get(notice="overdue")
    assert (overdue.ref, overdue.on) == (f"overdue-{account.pk}-{calendar.payment_due_date(PREVIOUS).isoformat()}",
                                         calendar.payment_due_date(PREVIOUS))
    (message,) = mail.outbox
    assert "$1,050.00" in message.body and "$1,064.04" in message.body


def test_delegation_expiring_reaches_both_sides(importer, broker):
    from datetime import timedelta

    factories.make_delegation(importer, broker, valid_from=date(2026, 1, 1), valid_to=TODAY + timedelta(days=10))
    send_deadline_notices(TODAY.isoformat())
    assert set(SentNotice.objects.filter(notice="delegation_expiring").values_list("user", flat=True)) == {
        importer.bam.pk, broker.bam.pk}
    # 20 days ahead is not yet "about to expire" (14 days).
    SentNotice.objects.all().delete()
    mail.outbox.clear()
    with on(TODAY - timedelta(days=10)):
        send_deadline_notices()
    assert not SentNotice.objects.filter(notice="delegation_expiring").exists()


def test_beat_runs_the_notice_task():
    from carm_portal.celery import app, collect_beat_schedule

    entry = collect_beat_schedule()["accounts-deadline-notices"]
    assert entry["task"] == "accounts.send_deadline_notices"
    app.loader.import_default_modules()
    assert "accounts.send_deadline_notices" in app.tasks
