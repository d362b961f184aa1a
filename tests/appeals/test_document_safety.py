"""PDFs with active content are refused at upload; every document is served as an attachment."""

import zlib
from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from appeals import services
from appeals.models import AppealDocument
from carm_portal import pdf_safety
from carm_portal.exceptions import ApplicationError
from tests.appeals.conftest import make_penalty

PLAIN = b"%PDF-1.4\n1 0 obj<< /Type /Catalog /Pages 2 0 R /OpenAction [3 0 R /Fit] >>endobj\ntrailer<<>>\n%%EOF\n"


def _pdf(body: bytes) -> bytes:
    return b"%PDF-1.7\n" + body + b"\ntrailer<< /Root 1 0 R >>\n%%EOF\n"


def _objstm(inner: bytes, filters=b"/FlateDecode") -> bytes:
    data = zlib.compress(inner) if filters == b"/FlateDecode" else inner
    return _pdf(b"5 0 obj\n<< /Type /ObjStm /N 1 /First 4 /Filter " + filters
                + b" /Length %d >>\nstream\n" % len(data) + data + b"\nendstream\nendobj")


ACTIVE = {
    "open action js": _pdf(b"1 0 obj<< /Type /Catalog /OpenAction << /S /JavaScript /JS (app.alert(1)) >> >>endobj"),
    "names javascript": _pdf(b"1 0 obj<< /Type /Catalog /Names << /JavaScript 4 0 R >> >>endobj"),
    "hex-escaped name": _pdf(b"1 0 obj<< /OpenAction << /S /J#61vaScript /J#53 (x) >> >>endobj"),
    "launch": _pdf(b"1 0 obj<< /OpenAction << /S /Launch /F (calc.exe) >> >>endobj"),
    "embedded files": _pdf(b"1 0 obj<< /Names << /EmbeddedFiles 6 0 R >> >>endobj"),
    "embedded file stream": _pdf(b"6 0 obj<< /Type /EmbeddedFile /Length 2 >>\nstream\nMZ\nendstream\nendobj"),
    "page additional action": _pdf(b"3 0 obj<< /Type /Page /AA << /O << /S /JavaScript /JS 9 0 R >> >> >>endobj"),
    "js in a compressed object stream": _objstm(b"7 0 << /S /JavaScript /JS (app.alert(1)) >>"),
    "rich media": _pdf(b"8 0 obj<< /Subtype /RichMedia >>endobj"),
}


@pytest.mark.parametrize("name", sorted(ACTIVE))
def test_active_content_is_found(name):
    assert pdf_safety.active_content(ACTIVE[name]) is not None


@pytest.mark.parametrize("content", [
    PLAIN,
    _objstm(b"7 0 << /Type /Annot /Subtype /Link /Dest [3 0 R /Fit] >>"),  # a harmless object stream
    _pdf(b"1 0 obj<< /Title (Invoice) /JSON 1 /Launcher 2 /EmbeddedFilesX 3 >>endobj"),  # other names
])
def test_plain_pdfs_pass(content):
    assert pdf_safety.active_content(content) is None


def test_the_portals_own_weasyprint_pdfs_pass():
    weasyprint = pytest.importorskip("weasyprint")
    pdf = weasyprint.HTML(string="<h1>Statement</h1><p>Montant dû : 12,00 $</p><a href='https://cbsa.gc.ca'>x</a>").write_pdf()
    assert pdf_safety.active_content(pdf) is None


@pytest.mark.parametrize("content", [
    _pdf(b"1 0 obj<< /Type /Catalog >>endobj\ntrailer<< /Encrypt 9 0 R >>"),
    _objstm(b"garbage", filters=b"/LZWDecode"),
    _objstm(b"not zlib", filters=b"/FlateDecode").replace(zlib.compress(b"not zlib"), b"\x00\x01not zlib"),
])
def test_pdfs_that_cannot_be_checked_are_refused(content):
    with pytest.raises(pdf_safety.UncheckablePdf):
        pdf_safety.active_content(content)


@pytest.fixture
def appeal(cbsa, account, importer):
    return services.appeal_create(actor=importer.bam, penalty=make_penalty(cbsa, account), grounds="g",
                                  today=date(2025, 12, 1))


def test_upload_of_a_pdf_with_javascript_is_refused_with_a_field_error(appeal, importer):
    with pytest.raises(ApplicationError) as caught:
        services.document_add(actor=importer.bam, appeal=appeal,
                              uploaded=SimpleUploadedFile("letter.pdf", ACTIVE["open action js"]))
    assert "JavaScript" in caught.value.field_errors["file"][0]
    assert AppealDocument.objects.count() == 0


def test_api_upload_of_an_embedded_file_pdf_is_a_400_on_the_file_field(client, appeal, importer):
    client.force_login(importer.bam)
    response = client.post(f"/api/v1/appeals/{appeal.pk}/documents/",
                           {"file": SimpleUploadedFile("a.pdf", ACTIVE["embedded files"])})
    assert response.status_code == 400
    assert "embedded files" in str(response.json())
    assert AppealDocument.objects.count() == 0


def test_page_upload_of_a_launch_pdf_shows_the_message(client, appeal, importer):
    client.force_login(importer.bam)
    response = client.post(f"/appeals/{appeal.pk}/documents/",
                           {"file": SimpleUploadedFile("a.pdf", ACTIVE["launch"])}, follow=True)
    assert "launch actions" in response.content.decode()
    assert AppealDocument.objects.count() == 0


@pytest.mark.parametrize(("name", "content"), [("scan.pdf", PLAIN)])
def test_documents_are_served_as_attachments_with_nosniff(client, appeal, importer, name, content):
    document = services.document_add(actor=importer.bam, appeal=appeal, uploaded=SimpleUploadedFile(name, content))
    client.force_login(importer.bam)
    response = client.get(f"/appeals/documents/{document.pk}/")
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content) == content
