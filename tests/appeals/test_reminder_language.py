"""Appeal deadline reminders are emailed in each recipient's language."""

from datetime import date

from django.core import mail

from appeals import services
from appeals.reminders import send_reminders
from tests.appeals.conftest import make_penalty
from tests.i18n.conftest import install_fragment


def test_a_french_reader_gets_the_reminder_in_french(cbsa, account, importer, settings, tmp_path):
    install_fragment(settings, tmp_path)
    importer.bam.preferred_language = "fr"
    importer.bam.save(update_fields=["preferred_language"])
    penalty = make_penalty(cbsa, account, served_on=date(2025, 11, 20))  # filing deadline 2026-02-18
    services.appeal_create(actor=importer.bam, penalty=penalty, grounds="g", today=date(2025, 12, 1))
    assert send_reminders(today=date(2026, 1, 19)) == 1
    (message,) = [m for m in mail.outbox if importer.bam.email in m.to]
    assert message.to == [importer.bam.email]
    assert "2026-02-18" in message.body and "Appel" in message.body and "Filing deadline" not in message.body
    assert "days left" not in message.body and "reminder" not in message.subject
