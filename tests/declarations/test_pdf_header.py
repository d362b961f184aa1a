"""The PDF letterhead (issue #12 item 6): the document title wraps inside its block, right of the
brand, never squeezed to one word a line or past the right margin."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.billing.test_pdf import pdf_text
from tests.declarations.conftest import file_cad, tariff  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def private_storage(settings, tmp_path):
    settings.PRIVATE_STORAGE_ROOT = tmp_path / "private"


def test_cad_pdf_title_is_one_line_beside_the_brand(tariff, importer, client, tmp_path):  # noqa: F811
    account = importer.program_accounts.order_by("number").first()
    cad = file_cad(importer.bam, account)
    client.force_login(importer.bam)
    data = b"".join(client.get(reverse("cad_pdf", args=[cad.pk])).streaming_content)
    head = pdf_text(data, tmp_path).splitlines()[:6]
    title = next(line for line in head if "Commercial" in line)
    assert "Commercial Accounting Declaration" in title and "CARM Portal" in title, head
    assert any("Déclaration en détail des marchandises commerciales" in line for line in head), head
