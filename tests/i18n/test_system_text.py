"""System text shown in the reader's language: audit trail, RPP notices, the statement PDF."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import translation

from accounts import audit
from accounts.audit_text import change_rows, event_sentence, object_text
from accounts.models import AuditEvent
from carm_portal import pdf
from carm_portal.money import format_money
from tests.billing.test_pdf import pdf_text
from tests.clock import on

pytestmark = pytest.mark.django_db
NBSP, NNBSP = "\u00a0", "\u202f"


def _event(importer, action, changes, target_repr=""):
    return AuditEvent.objects.create(actor=importer.bam, acting_for=importer, action=action, changes=changes,
                                     target_repr=target_repr)


def test_audit_event_reads_as_a_sentence_with_money_and_labels(importer, french_catalogue):
    event = _event(importer, "rpp.bond.recorded", {"amount": "79000.00", "allocations": {"123456782RM0001": "79000.00"}},
                   "DEMO-EWSA-0001 (Northbridge Surety Co., 79000.00)")
    with translation.override("en"):
        assert event_sentence(event) == "Bond / eWSA recorded"
        assert change_rows(event) == [("Amount", "$79,000.00"), ("Allocations", "123456782RM0001: $79,000.00")]
        assert object_text(event) == "DEMO-EWSA-0001 (Northbridge Surety Co., $79,000.00)"
    with translation.override("fr"):
        assert event_sentence(event) == "Cautionnement / EGEE enregistré"
        rows = dict(change_rows(event))
        assert rows["Répartition"] == f"123456782RM0001 : 79{NBSP}000,00{NBSP}$".replace(" : ", ": ")
        assert f"79{NBSP}000,00{NBSP}$" in object_text(event)


def test_audit_status_codes_become_labels_and_unknown_codes_stay(importer, french_catalogue):
    event = _event(importer, "appeals.appeal.submitted", {"from": "draft", "to": "submitted", "note": ""})
    with translation.override("fr"):
        assert event_sentence(event) == "Appel déposé"
        rows = change_rows(event)
        assert all("draft" not in text and "submitted" not in text for _label, text in rows), rows
    unknown = _event(importer, "someapp.thing.done", {"flag": True})
    with translation.override("en"):
        assert event_sentence(unknown) == "someapp.thing.done"
        assert change_rows(unknown) == [("Flag", "yes")]


def test_audit_page_in_french_has_no_codes_dicts_or_english_amounts(client, importer, french_catalogue):
    audit.record("billing.payment.recorded", actor=importer.bam, acting_for=importer,
                 changes={"method": "pad", "reference": "R-1", "amount": "78962.71", "received_on": "2025-12-31"})
    client.force_login(importer.bam)
    client.cookies["django_language"] = "fr"
    html = client.get(reverse("audit")).content.decode()
    assert "Paiement enregistré" in html and f"78{NBSP}962,71{NBSP}$" in html
    assert "Débit préautorisé" in html
    assert ">billing.payment.recorded<" not in html and "{'" not in html and "78962.71" not in html


def _requirement(account, day):
    from billing.rpp.models import SecurityRequirement

    return SecurityRequirement.objects.create(
        program_account=account, basis=SecurityRequirement.Basis.choices[0][0],
        trigger=SecurityRequirement.Trigger.choices[0][0], as_of=day, first_period=day - timedelta(days=365),
        last_period=day, highest_month=Decimal("120356.87"), base_amount=Decimal("120356.87"),
        bond_share=Decimal("0.5000"), minimum=Decimal("25000.00"), maximum=Decimal("10000000.00"),
        bond_amount=Decimal("120356.87"), cash_amount=Decimal("240713.74"), due_date=day + timedelta(days=30),
    )


@on("2026-03-18")
def test_rpp_shortfall_notice_is_rendered_in_the_readers_language(importer, french_catalogue):
    from billing.rpp.models import Notice
    from billing.rpp.notice_text import with_text

    account = importer.program_accounts.order_by("number").first()
    req = _requirement(account, date(2026, 3, 18))
    notice = Notice.objects.create(
        business=importer, program_account=account, kind=Notice.Kind.SHORTFALL,
        key=f"shortfall:{req.pk}:48356.87", subject="RPP security shortfall of $48,356.87 on X", body="English body",
    )
    with translation.override("fr"):
        [shown] = with_text([notice])
        assert f"48{NBSP}356,87{NBSP}$" in shown.text.subject and "RPP security" not in shown.text.subject
        assert f"48{NBSP}356,87{NBSP}$" in shown.text.body and f"96{NBSP}713,74{NBSP}$" in shown.text.body
        assert "post a bond" not in shown.text.body and "$4" not in shown.text.body
    with translation.override("en"):
        [shown] = with_text([notice])
        assert "$48,356.87" in shown.text.subject and "$96,713.74" in shown.text.body
    gone = Notice.objects.create(business=importer, kind=Notice.Kind.SHORTFALL, key="shortfall:999999:1.00",
                                 subject="stored subject", body="stored body")
    [shown] = with_text([gone])
    assert (shown.text.subject, shown.text.body) == ("stored subject", "stored body")


# --- The statement PDF in French ------------------------------------------------------------------------

def test_statement_pdf_in_french_writes_french_amounts(importer, settings, tmp_path):
    from billing import pdf_tasks
    from tests.billing.doc_builders import close_statement, post_mixed_period

    settings.PRIVATE_STORAGE_ROOT = tmp_path / "private"
    account = importer.program_accounts.order_by("number").first()
    post_mixed_period(account)
    statement = close_statement(account)
    fr_file = pdf_tasks.statement_pdf(statement, language="fr")
    en_file = pdf_tasks.statement_pdf(statement, language="en")
    assert fr_file.path != en_file.path and fr_file.path.exists()  # one stored file per language, both kept
    fr = pdf_text(fr_file.read(), tmp_path).replace(NBSP, " ").replace(NNBSP, " ")
    en = pdf_text(en_file.read(), tmp_path)
    closing_fr = format_money(statement.closing_balance, language="fr").replace(NBSP, " ")
    assert closing_fr in fr, closing_fr
    assert format_money(statement.closing_balance, language="en") in en
    assert not re.search(r"\$-?\d", fr), re.search(r".{30}\$-?\d.{10}", fr)
    assert not re.search(r"\d,\d{3}\.\d\d", fr)
    assert "État de compte" in fr and "Statement of account" in fr  # still bilingual by layout
    with translation.override("fr"):
        assert pdf.reader_language() == "fr"


def _queries(client, url) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_audit_page_queries_do_not_grow_with_its_events(client, importer, french_catalogue):
    client.force_login(importer.bam)
    client.cookies["django_language"] = "fr"
    for i in range(3):
        _event(importer, "rpp.bond.recorded", {"amount": f"{i}00.00", "allocations": {"RM": "1.00"}}, f"B-{i} (S, 1.00)")
    few = _queries(client, reverse("audit"))
    for i in range(20):
        _event(importer, "billing.payment.recorded", {"method": "pad", "amount": f"{i}.00"}, f"P-{i} 1.00 (PAD)")
    assert _queries(client, reverse("audit")) == few
