"""Reminders 30/7/1 days before deadlines (idempotent), readiness item, dashboard panel, demo."""

from datetime import date, timedelta

from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from accounts.readiness import readiness_for
from appeals import deadlines, services
from appeals.demo import DEMO_NPA
from appeals.models import Appeal, AppealNotice, Penalty
from appeals.reminders import send_reminders
from appeals.schedule import BEAT_SCHEDULE
from billing.ledger.models import LedgerEntry
from tests.appeals.conftest import make_penalty


def test_reminders_are_sent_once_per_threshold(cbsa, account, importer):
    penalty = make_penalty(cbsa, account, served_on=date(2025, 11, 20))  # filing deadline 2026-02-18
    appeal = services.appeal_create(actor=importer.bam, penalty=penalty, grounds="g", today=date(2025, 12, 1))
    assert send_reminders(today=date(2026, 1, 18)) == 0  # 31 days left
    assert send_reminders(today=date(2026, 1, 19)) == 1  # 30 days left
    assert send_reminders(today=date(2026, 1, 19)) == 0  # a rerun sends nothing
    assert send_reminders(today=date(2026, 1, 25)) == 0  # still inside the 30-day threshold
    assert send_reminders(today=date(2026, 2, 11)) == 1  # 7 days
    assert send_reminders(today=date(2026, 2, 17)) == 1  # 1 day
    assert send_reminders(today=date(2026, 2, 17)) == 0
    notices = list(AppealNotice.objects.filter(appeal=appeal).order_by("threshold").values_list("threshold", "deadline"))
    assert notices == [(1, date(2026, 2, 18)), (7, date(2026, 2, 18)), (30, date(2026, 2, 18))]
    assert len(mail.outbox) == 3
    assert importer.bam.email in mail.outbox[0].to
    assert "2026-02-18" in mail.outbox[0].body and "30 days left" in mail.outbox[0].body


def test_no_reminders_for_filed_or_closed_appeals(cbsa, account, importer):
    penalty = make_penalty(cbsa, account, served_on=date(2025, 11, 20))
    appeal = services.appeal_create(actor=importer.bam, penalty=penalty, grounds="g", today=date(2025, 12, 1))
    services.appeal_submit(actor=importer.bam, appeal=appeal, today=date(2025, 12, 1))
    assert send_reminders(today=date(2026, 2, 17)) == 0


def test_the_beat_schedule_is_a_plain_daily_entry():
    entry = BEAT_SCHEDULE["appeals-deadline-reminders"]
    assert entry["task"] == "appeals.tasks.send_deadline_reminders"


def test_readiness_item_is_informational(cbsa, account, importer):
    today = timezone.localdate()
    penalty = make_penalty(cbsa, account, served_on=today - timedelta(days=67), today=today)
    services.appeal_create(actor=importer.bam, penalty=penalty, grounds="g", today=today)
    card = readiness_for([account], today=today)[0]
    item = next(i for i in card.items if i.key == "appeals")
    assert item.counts is False
    assert item.label == "Open appeals and their deadlines"
    left = deadlines.days_left_text(deadlines.appeal_deadline(penalty.served_on), today)
    assert "1 open appeal" in item.detail and left in item.detail


def test_dashboard_panel(client, cbsa, account, importer):
    today = timezone.localdate()
    penalty = make_penalty(cbsa, account, served_on=today - timedelta(days=67), today=today)
    services.appeal_create(actor=importer.bam, penalty=penalty, grounds="g", today=today)
    client.force_login(importer.bam)
    page = client.get("/").content.decode()
    left = deadlines.days_left_text(deadlines.appeal_deadline(penalty.served_on), today)
    assert "Open appeals and their deadlines" in page and penalty.npa_number in page and left in page


def test_demo_seed_is_idempotent(db):
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    penalty = Penalty.objects.get(npa_number=DEMO_NPA)
    assert penalty.program_account.number == "123456782RM0001"
    assert penalty.served_on == timezone.localdate() - timedelta(days=40)
    assert Appeal.objects.filter(penalty=penalty).get().status == "submitted"
    assert LedgerEntry.objects.filter(kind="penalty", reference=DEMO_NPA).count() == 1
