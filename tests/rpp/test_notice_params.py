"""RPP notices store the sender's values (``Notice.params``): shown again in the reader's language,
exactly as sent; each email recipient reads it in their own language."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import translation

from billing.rpp import services
from billing.rpp.models import Notice, RppStatus
from billing.rpp.notice_text import with_text
from tests.i18n.conftest import install_fragment
from tests.rpp.conftest import binding_from_estimate

pytestmark = pytest.mark.django_db

NBSP = "\u00a0"


@pytest.fixture
def french(settings, tmp_path):
    install_fragment(settings, tmp_path)


def _short(rm):
    today = date(2026, 11, 30)
    services.enrolment_set_status(actor=None, program_account=rm, status=RppStatus.REQUESTED)
    services.enrolment_set_status(actor=None, program_account=rm, status=RppStatus.ENROLLED)
    return binding_from_estimate(rm, "20000", as_of=today), today


def test_a_shortfall_notice_stores_its_values_and_is_shown_from_them(importer, rm, french):
    req, today = _short(rm)
    (notice,) = services.shortfall_notices([rm], today=today)
    notice = Notice.objects.get(pk=notice.pk)
    assert notice.params == {"rm": rm.number, "shortfall": "10000.00", "cash": "20000.00",
                             "due": req.due_date.isoformat(), "required": "10000.00", "suspends": False}
    # Exact as sent: the page shows the stored cash equivalent, not one recomputed from the requirement.
    Notice.objects.filter(pk=notice.pk).update(params={**notice.params, "cash": "20000.01"})
    with translation.override("fr"):
        [shown] = with_text(Notice.objects.filter(pk=notice.pk).select_related("bond", "program_account"))
    assert f"10{NBSP}000,00{NBSP}$" in shown.text.subject
    assert f"20{NBSP}000,01{NBSP}$" in shown.text.body and "post a bond" not in shown.text.body
    with translation.override("en"):
        [shown] = with_text(Notice.objects.filter(pk=notice.pk))
    assert shown.text.subject == f"RPP security shortfall of $10,000.00 on {rm.number}"
    assert "a cash deposit of $20,000.01" in shown.text.body


def test_each_recipient_gets_the_email_in_their_language(importer, rm, french, django_capture_on_commit_callbacks):
    bam = importer.bam
    bam.preferred_language = "fr"
    bam.save(update_fields=["preferred_language"])
    importer.billing_contact_email = "ap@example.com"  # no user: the site's language (English)
    importer.save(update_fields=["billing_contact_email"])
    _req, today = _short(rm)
    with django_capture_on_commit_callbacks(execute=True):
        (notice,) = services.shortfall_notices([rm], today=today)
    by_recipient = {tuple(m.to): m for m in mail.outbox}
    french_mail, english_mail = by_recipient[(bam.email,)], by_recipient[("ap@example.com",)]
    assert french_mail.subject == f"Insuffisance de garantie MAP de 10{NBSP}000,00{NBSP}$ pour {rm.number}"
    assert f"20{NBSP}000,00{NBSP}$" in french_mail.body and "$" + "20,000.00" not in french_mail.body
    assert english_mail.subject == f"RPP security shortfall of $10,000.00 on {rm.number}"
    assert "$20,000.00" in english_mail.body
    assert set(notice.emailed_to.split(", ")) == {"ap@example.com", bam.email} and len(mail.outbox) == 2


def test_bond_expiry_days_are_those_sent(importer, rm, french):
    today = date(2026, 5, 1)
    bond = services.bond_record(
        actor=importer.bam, business=importer, surety_name="Surety Co", bond_number="EXP-9", amount=Decimal("1234.56"),
        effective_date=today - timedelta(days=300), expiry_date=today + timedelta(days=25),
        allocations=[(rm, Decimal("1234.56"))],
    )
    (notice,) = services.bond_expiry_notices(today=today)
    assert Notice.objects.get(pk=notice.pk).params == {
        "number": "EXP-9", "days": 25, "kind": bond.kind, "surety": "Surety Co", "amount": "1234.56",
        "date": bond.expiry_date.isoformat()}
    with translation.override("fr"):
        [shown] = with_text([Notice.objects.select_related("bond").get(pk=notice.pk)])
    assert "25" in shown.text.subject and f"1{NBSP}234,56{NBSP}$" in shown.text.body


def test_a_notice_without_params_is_rebuilt_or_shown_as_stored(importer):
    old = Notice.objects.create(business=importer, kind=Notice.Kind.FORECAST_GAP, key="forecast-gap:old",
                                subject="stored subject", body="stored body")
    [shown] = with_text([old])
    assert (shown.text.subject, shown.text.body) == ("stored subject", "stored body")
    bad = Notice.objects.create(business=importer, kind=Notice.Kind.FORECAST_GAP, key="forecast-gap:bad",
                                subject="s", body="b", params={"rm": "X"})  # values that do not fit
    [shown] = with_text([bad])
    assert (shown.text.subject, shown.text.body) == ("s", "b")


def test_the_api_gives_the_notice_in_the_readers_language_and_as_sent(importer, rm, french, client):
    """GET /api/v1/security/notices/ with Accept-Language: fr: subject and body in French from the
    stored values, the email as sent beside them, the values themselves; one query for all notices'
    requirement rows."""
    _req, today = _short(rm)
    services.shortfall_notices([rm], today=today)
    client.force_login(importer.bam)
    [row] = client.get("/api/v1/security/notices/", HTTP_ACCEPT_LANGUAGE="fr").json()["results"]
    assert f"10{NBSP}000,00{NBSP}$" in row["subject"]
    assert row["sent_subject"] == f"RPP security shortfall of $10,000.00 on {rm.number}"
    assert row["params"]["shortfall"] == "10000.00"
