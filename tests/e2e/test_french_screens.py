"""What a French reader sees, in Chromium: the dashboard, a statement and an appeal, plus a
statement PDF as an image (pdftoppm). Screenshots go to test-results/ (look at them)."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from django.core.management import call_command

from tests.clock import on
from tests.conftest import IN_CI
from tests.e2e.conftest import SCREENSHOTS, login, screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

DAY = "2026-03-18"
NBSP = "\u00a0"


@pytest.fixture
def demo(settings, tmp_path, french_catalogue):
    settings.PRIVATE_STORAGE_ROOT = tmp_path / "private"
    with on(DAY):
        call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
        yield


@pytest.fixture
def french_catalogue(settings, tmp_path):
    from tests.i18n.conftest import install_fragment

    install_fragment(settings, tmp_path)


def _french_page(new_page, email):
    page = new_page()
    login(page, email)
    page.context.add_cookies([{"name": "django_language", "value": "fr", "url": page.url}])
    return page


def _text(page) -> str:
    return page.inner_text("main") if page.query_selector("main") else page.inner_text("body")


def test_french_dashboard_statement_and_appeal_show_french_money(new_page, demo):
    from appeals.models import Appeal
    from billing.models import Statement

    page = _french_page(new_page, "importer@example.com")
    statement = Statement.objects.filter(program_account__business__legal_name__startswith="Maple",
                                         closing_balance__gt=0).order_by("-period_end").first()
    appeal = Appeal.objects.filter(program_account__business__legal_name__startswith="Maple").order_by("pk").first()
    pages = [("fr-dashboard", "/"), ("fr-statement", f"/billing/statements/{statement.pk}/")]
    if appeal is not None:
        pages.append(("fr-appeal", f"/appeals/{appeal.pk}/"))
    for name, path in pages:
        response = page.goto(path, wait_until="load")
        assert response is not None and response.status == 200, (path, response and response.status)
        assert page.evaluate("document.documentElement.lang").startswith("fr"), path
        screenshot(page, name)
        text = _text(page)
        assert not re.search(r"\$-?\d", text), (path, re.search(r".{40}\$-?\d.{10}", text))
        assert not re.search(r"\d,\d{3}\.\d\d", text), path
        assert re.search(rf"\d,\d\d{NBSP}\$", text), path  # at least one French amount on each page


def test_french_statement_pdf_as_an_image(new_page, demo, tmp_path):
    pdftoppm = shutil.which("pdftoppm")
    if pdftoppm is None:
        if IN_CI:
            pytest.fail("pdftoppm is missing (apt-get install poppler-utils)")
        pytest.skip("pdftoppm is missing (apt-get install poppler-utils)")
    from billing import pdf_tasks
    from billing.models import Statement

    statement = Statement.objects.filter(program_account__business__legal_name__startswith="Maple",
                                         closing_balance__gt=0).order_by("-period_end").first()
    stored = pdf_tasks.statement_pdf(statement, language="fr")
    SCREENSHOTS.mkdir(exist_ok=True)
    subprocess.run([pdftoppm, "-png", "-r", "80", "-f", "1", "-l", "1", "-singlefile", str(stored.path),
                    str(SCREENSHOTS / "fr-statement-pdf")], check=True)
    assert (SCREENSHOTS / "fr-statement-pdf.png").stat().st_size > 10_000
