"""The decision letter's pages (issue #12 item 6): a usual letter is one page; a long one never ends
on a page that holds only the disclaimer, no note is cut between its English and French halves,
and a continuation page says which letter it belongs to. Read back with poppler."""

from __future__ import annotations

from datetime import date

import pytest

from appeals import pdf as appeal_pdf
from appeals import services
from tests.appeals.test_services import _decidable_penalty_appeal
from tests.billing.test_pdf import pdf_pages, pdf_text

pytestmark = pytest.mark.django_db

DISCLAIMER = "Prepared in the CARM Portal"


def _letter(cbsa, account, importer, reasons):
    _penalty, appeal = _decidable_penalty_appeal(cbsa, account, importer)
    services.appeal_decide(actor=cbsa, appeal=appeal, outcome="allowed", reasons=reasons, today=date(2026, 1, 19))
    appeal.refresh_from_db()
    return appeal, appeal_pdf.render_letter_pdf(appeal)


def _page_text(data, tmp_path, page):
    import subprocess

    from tests.billing.test_pdf import poppler

    source = tmp_path / "letter.pdf"
    source.write_bytes(data)
    return subprocess.run([poppler("pdftotext"), "-f", str(page), "-l", str(page), str(source), "-"],
                          check=True, capture_output=True, text=True).stdout


def test_a_usual_letter_is_one_page(cbsa, account, importer, tmp_path):
    _appeal, data = _letter(cbsa, account, importer, "Cancelled. " * 40)
    assert pdf_pages(data, tmp_path) == 1
    text = pdf_text(data, tmp_path, layout=False)
    assert DISCLAIMER in text and "Une décision du ministre" in text


@pytest.mark.parametrize("words", [120, 260, 420])
def test_a_long_letter_never_ends_on_the_disclaimer_alone(cbsa, account, importer, tmp_path, words):
    appeal, data = _letter(cbsa, account, importer, "Mitigating " * words)
    pages = pdf_pages(data, tmp_path)
    last = _page_text(data, tmp_path, pages)
    assert DISCLAIMER in last
    # The last page carries some of the reasons with the closing notes, and both halves of each note.
    assert "Mitigating" in last or pages == 1
    assert ("A Minister's decision" in last) == ("Une décision du ministre" in last)
    if pages > 1:
        assert f"Appeal / Appel nº {appeal.pk}" in _page_text(data, tmp_path, 2)  # the running header
