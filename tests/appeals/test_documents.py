"""Uploads are checked by content, size-limited, stored privately; a refused file leaves nothing."""

import io
from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from appeals import services, storage
from appeals.models import Appeal, AppealDocument
from carm_portal.exceptions import ApplicationError
from tests.appeals.conftest import make_penalty

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _image(fmt: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(out, format=fmt)
    return out.getvalue()


@pytest.fixture
def appeal(cbsa, account, importer):
    return services.appeal_create(actor=importer.bam, penalty=make_penalty(cbsa, account), grounds="g",
                                  today=date(2025, 12, 1))


def _files():
    root = storage.root()
    return sorted(p.name for p in root.iterdir()) if root.exists() else []


@pytest.mark.parametrize("name, content, content_type", [
    ("invoice.pdf", PDF, "application/pdf"),
    ("photo.PNG", _image("PNG"), "image/png"),
    ("scan.jpeg", _image("JPEG"), "image/jpeg"),
    ("no-extension", PDF, "application/pdf"),
])
def test_pdf_png_and_jpeg_are_accepted_by_content(appeal, importer, name, content, content_type):
    document = services.document_add(actor=importer.bam, appeal=appeal,
                                     uploaded=SimpleUploadedFile(name, content, content_type="text/plain"))
    assert (document.original_name, document.content_type, document.size) == (name, content_type, len(content))
    path = storage.path_of(document.stored_name)
    assert path.read_bytes() == content
    assert path.parent == storage.root() and name not in path.name


@pytest.mark.parametrize("name, content, message", [
    ("invoice.pdf", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 100, "PDF, PNG or JPEG"),
    ("invoice.pdf", b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 100, "PDF, PNG or JPEG"),
    ("photo.png", b"\x89PNG\r\n\x1a\n" + b"not really a png" * 10, "damaged"),
    ("empty.pdf", b"", "empty"),
    ("big.pdf", PDF + b"0" * 2048, "too large"),
])
def test_bad_files_are_refused_and_nothing_is_stored(appeal, importer, settings, name, content, message):
    settings.CARM = {**settings.CARM, "UPLOAD_MAX_BYTES": 1024}
    before = Appeal.objects.filter(pk=appeal.pk).values().get()
    with pytest.raises(ApplicationError, match=message):
        services.document_add(actor=importer.bam, appeal=appeal, uploaded=SimpleUploadedFile(name, content))
    assert AppealDocument.objects.count() == 0
    assert _files() == []
    assert Appeal.objects.filter(pk=appeal.pk).values().get() == before


def test_the_default_limit_is_ten_megabytes(appeal, importer, settings):
    settings.CARM = {k: v for k, v in settings.CARM.items() if k != "UPLOAD_MAX_BYTES"}
    assert storage.max_bytes() == 10 * 1024 * 1024
    with pytest.raises(ApplicationError, match="10 MB"):
        services.document_add(actor=importer.bam, appeal=appeal,
                              uploaded=SimpleUploadedFile("big.pdf", PDF + b"0" * (10 * 1024 * 1024)))
    assert _files() == []


def test_a_refused_upload_through_the_page_shows_the_message(client, appeal, importer):
    client.force_login(importer.bam)
    response = client.post(f"/appeals/{appeal.pk}/documents/",
                           {"file": SimpleUploadedFile("virus.pdf", b"MZ" + b"\x00" * 64)}, follow=True)
    assert "Only PDF, PNG or JPEG" in response.content.decode()
    assert AppealDocument.objects.count() == 0 and _files() == []


def test_a_refused_upload_through_the_api_is_a_400(client, appeal, importer):
    client.force_login(importer.bam)
    response = client.post(f"/api/v1/appeals/{appeal.pk}/documents/",
                           {"file": SimpleUploadedFile("virus.pdf", b"\x7fELF" + b"\x00" * 64)})
    assert response.status_code == 400
    assert "PDF, PNG or JPEG" in response.json()["detail"]
    assert AppealDocument.objects.count() == 0 and _files() == []


def test_no_documents_after_the_decision(appeal, importer, cbsa):
    services.appeal_submit(actor=importer.bam, appeal=appeal, today=date(2025, 12, 1))
    services.appeal_acknowledge(actor=cbsa, appeal=appeal)
    services.appeal_assign(actor=cbsa, appeal=appeal, officer=cbsa)
    services.appeal_decide(actor=cbsa, appeal=appeal, outcome="denied", reasons="r", today=date(2026, 1, 5))
    with pytest.raises(ApplicationError, match="no longer"):
        services.document_add(actor=importer.bam, appeal=appeal, uploaded=SimpleUploadedFile("a.pdf", PDF))
    assert _files() == []
