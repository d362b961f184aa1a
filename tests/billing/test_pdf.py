"""Statement and CAD PDFs: WeasyPrint output read back with poppler, private cache, fetcher, tasks."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest
from django.urls import reverse

from billing import pdf_tasks, selectors
from carm_portal import pdf
from carm_portal.money import format_cad
from tests.billing.doc_builders import PERIOD, close_statement, post_cads, post_mixed_period
from tests.conftest import IN_CI
from tests.declarations.conftest import file_cad, tariff  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def private_storage(settings, tmp_path):
    settings.PRIVATE_STORAGE_ROOT = tmp_path / "private"
    return settings.PRIVATE_STORAGE_ROOT


def poppler(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        if IN_CI:
            pytest.fail(f"{tool} is missing (apt-get install poppler-utils)")
        pytest.skip(f"{tool} is missing (apt-get install poppler-utils)")
    return path


def pdf_text(data: bytes, tmp_path: Path, *, layout: bool = True) -> str:
    source = tmp_path / "doc.pdf"
    source.write_bytes(data)
    args = [poppler("pdftotext"), *(["-layout"] if layout else []), str(source), "-"]
    text = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    return text if layout else " ".join(text.split())


def pdf_pages(data: bytes, tmp_path: Path) -> int:
    source = tmp_path / "pages.pdf"
    source.write_bytes(data)
    info = subprocess.run([poppler("pdfinfo"), str(source)], check=True, capture_output=True, text=True).stdout
    return int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))


@pytest.fixture
def account(importer):
    return importer.program_accounts.order_by("number").first()


@pytest.fixture
def statement(account):
    post_mixed_period(account)
    return close_statement(account)


# --- The statement PDF ------------------------------------------------------------------------------

def test_statement_pdf_text_holds_the_closing_balance_and_due_date(statement, tmp_path):
    stored = pdf_tasks.statement_pdf(statement)
    data = stored.read()
    assert data.startswith(b"%PDF-")
    text = pdf_text(data, tmp_path)
    pages = pdf_pages(data, tmp_path)
    assert statement.reconciles
    assert format_cad(statement.closing_balance) in text
    assert "2025-12-01" in text  # the rules file's example: period ending 2025-11-17 is due 2025-12-01
    assert str(statement.due_date) == "2025-12-01"
    for expected in ("Statement of account", "État de compte", "Maple Imports Inc.", statement.program_account.number,
                     statement.program_account.business.bn9, "2025-10-18", "2025-11-17", "2025-11-25",
                     f"Page 1 of {pages}", f"Page {pages} of {pages}", "CAD charges", "Frais des DDC", "Payments", "Paiements", "Penalties",
                     "Corrections and adjustments", "Credits and offsets"):
        assert expected in text, expected
    for row in selectors.statement_summary(statement):
        assert format_cad(row.amount) in text, row.key


def test_statement_lines_and_groups_equal_the_statement_to_the_cent(statement):
    groups = selectors.statement_line_groups(statement)
    assert [g.key for g in groups] == ["cad_charges", "corrections", "payments", "penalties", "credits"]
    assert sum(g.total for g in groups) == statement.closing_balance - statement.opening_balance
    assert sum(len(g.lines) for g in groups) == statement.lines_count
    charges = next(g for g in groups if g.key == "cad_charges")
    assert all(line.entry.reference for line in charges.lines)


def test_three_page_statement_numbers_its_pages(account, tmp_path):
    post_cads(account, count=70)
    statement = close_statement(account)
    started = time.perf_counter()
    data = pdf_tasks.statement_pdf(statement).read()
    elapsed = time.perf_counter() - started
    pages = pdf_pages(data, tmp_path)
    assert pages == 3
    text = pdf_text(data, tmp_path)
    assert "Page 1 of 3" in text and "Page 3 of 3" in text and "Page 3 de 3" in text
    assert format_cad(statement.closing_balance) in text
    assert elapsed < 20  # a few hundred ms on a laptop; generous for a busy 2-core CI box


# --- Caching -------------------------------------------------------------------------------------------

def test_pdf_is_stored_privately_and_rendered_only_when_missing(statement, private_storage):
    first = pdf_tasks.statement_pdf(statement)
    assert first.rendered
    assert first.path.is_relative_to(private_storage)
    assert str(statement.pk) in str(first.path) and statement.content_hash[:12] in first.path.name
    second = pdf_tasks.statement_pdf(statement)
    assert not second.rendered and second.sha256 == first.sha256 and second.path == first.path
    # No render: the web process gets None for a missing file, the cached one otherwise.
    assert pdf_tasks.statement_pdf(statement, render=False).sha256 == first.sha256
    first.path.write_bytes(b"%PDF-garbage")  # a damaged file no longer matches its SHA-256
    assert pdf_tasks.statement_pdf(statement, render=False) is None
    again = pdf_tasks.statement_pdf(statement)
    assert again.rendered


def test_a_new_version_or_template_makes_a_new_file(statement, settings):
    first = pdf_tasks.statement_pdf(statement)
    statement.content_hash = "f" * 64
    second = pdf_tasks.statement_pdf(statement)
    assert second.rendered and second.path != first.path
    assert not first.path.exists()  # the stale version is removed
    other_hash = pdf.template_hash(["pdf/cad.html"])
    assert other_hash != pdf.template_hash(["pdf/statement.html"])


def test_private_storage_is_not_under_static_or_media(private_storage, statement, settings):
    stored = pdf_tasks.statement_pdf(statement)
    assert not stored.path.is_relative_to(Path(settings.STATIC_ROOT))
    assert not any(stored.path.is_relative_to(Path(d)) for d in settings.STATICFILES_DIRS)


# --- The URL fetcher: our static files only --------------------------------------------------------------

@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8000/static/css/pdf.css",
    "https://example.com/logo.png",
    "ftp://example.com/x",
    "file:///etc/passwd",
    "file:///static/../carm_portal/settings.py",
    "file:///static/css/does-not-exist.css",
    "file://evil.example.com/static/css/pdf.css",
])
def test_fetcher_refuses_anything_but_our_static_files(url):
    with pytest.raises(ValueError):
        pdf.resolve_static(url)


def test_fetcher_serves_static_files_and_data_uris():
    assert pdf.resolve_static("file:///static/css/pdf.css").name == "pdf.css"
    fetcher = pdf.static_url_fetcher()
    assert b"@page" in fetcher("file:///static/css/pdf.css").read()
    assert fetcher("data:text/plain;base64,aGk=").read() == b"hi"
    with pytest.raises(ValueError):
        fetcher("http://127.0.0.1/")


def test_a_template_referencing_a_remote_image_still_renders_without_fetching_it(settings, tmp_path):
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [*settings.TEMPLATES[0]["DIRS"], tmp_path]}]
    (tmp_path / "remote.html").write_text('<p>Hello</p><img src="http://10.255.255.1/x.png">')
    started = time.perf_counter()
    data = pdf.render_pdf("remote.html", {})
    assert data.startswith(b"%PDF-") and time.perf_counter() - started < 10


# --- Tasks -------------------------------------------------------------------------------------------------

def test_render_statement_task_is_named_for_the_pdf_queue(statement):
    from carm_portal.celery import app

    assert pdf_tasks.render_statement.name == "billing.pdf.render_statement"
    route = app.amqp.router.route({}, "billing.pdf.render_statement")
    assert route["queue"].name == "pdf"
    result = pdf_tasks.render_statement.delay(statement.pk).get()
    assert result.startswith("rendered ")
    assert pdf_tasks.render_statement.delay(statement.pk).get().startswith("cached ")
    assert pdf_tasks.render_statement.delay(10**9).get() == "gone"


def test_render_period_queues_only_missing_pdfs(statement):
    assert pdf_tasks.render_period.name == "billing.pdf.render_period"
    assert pdf_tasks.render_period.delay(str(PERIOD)).get() == 1  # eager: rendered at once
    assert pdf_tasks.statement_pdf(statement, render=False) is not None
    assert pdf_tasks.render_period.delay(str(PERIOD)).get() == 0


def test_statement_pdfs_are_enqueued_on_commit(statement, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        pdf_tasks.enqueue_statement_pdfs([statement.pk])
    assert len(callbacks) == 1
    assert pdf_tasks.statement_pdf(statement, render=False) is not None


# --- The CAD PDF ----------------------------------------------------------------------------------------------

def test_cad_pdf_holds_header_lines_totals_and_versions(tariff, importer, account, client, tmp_path):  # noqa: F811
    cad = file_cad(importer.bam, account)  # auto-accepted: version 1 and its charge posted
    client.force_login(importer.bam)
    response = client.get(reverse("cad_pdf", args=[cad.pk]))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    data = b"".join(response.streaming_content)
    text = pdf_text(data, tmp_path, layout=False)  # reading order: the title may wrap
    for expected in (cad.transaction_number, "Commercial Accounting Declaration", "Face cream",
                     format_cad(cad.dt_total), format_cad(cad.vfd_total), "Original", "Page 1 of 1"):
        assert expected in text, expected


def test_cad_pdf_is_404_outside_the_gate(tariff, importer, other_importer, account, client):  # noqa: F811
    cad = file_cad(importer.bam, account)
    client.force_login(other_importer.bam)
    assert client.get(reverse("cad_pdf", args=[cad.pk])).status_code == 404
    assert client.get(reverse("cad_pdf", args=[10**9])).status_code == 404


def test_pdf_render_figures(account, importer, tmp_path, capsys):
    """Not an assertion on speed: prints the render time of a 1-page and a 3-page statement."""
    post_cads(account, count=4)
    one = close_statement(account)
    second = importer.program_accounts.order_by("number").last()
    post_cads(second, count=70)
    three = close_statement(second)
    pdf.render_pdf("pdf/statement.html", selectors.statement_document(one))  # warm fonts and CSS
    figures = {}
    for name, statement in (("1-page", one), ("3-page", three)):
        started = time.perf_counter()
        data = pdf.render_pdf("pdf/statement.html", selectors.statement_document(statement))
        figures[name] = (time.perf_counter() - started, pdf_pages(data, tmp_path))
    with capsys.disabled():
        print("\nPDF render:", ", ".join(f"{k}: {s:.2f} s ({p} pages)" for k, (s, p) in figures.items()))
    assert figures["1-page"][1] == 1 and figures["3-page"][1] == 3


# --- A real pdf worker on Redis ---------------------------------------------------------------------------------

@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_pdf_worker_renders_and_the_gated_view_serves_it(client, importer, settings, private_storage):
    from tests.celery_worker import real_worker

    settings.CELERY_TASK_ALWAYS_EAGER = False  # the web process must not render: it asks the worker
    account = importer.program_accounts.order_by("number").first()
    post_mixed_period(account)
    statement = close_statement(account)
    client.force_login(importer.bam)
    url = reverse("billing-statement-pdf", args=[statement.pk])
    env = {"DJANGO_SETTINGS_MODULE": "tests.billing.pdf_worker_settings", "PRIVATE_STORAGE_ROOT": str(private_storage)}
    with real_worker("pdf", concurrency=1, extra_env=env):
        response = client.get(url)
        assert response.status_code == 202 and response["Retry-After"]
        deadline = time.monotonic() + 60
        while pdf_tasks.statement_pdf(statement, render=False) is None:
            assert time.monotonic() < deadline, "the pdf worker did not render the statement"
            time.sleep(0.3)
        response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert b"".join(response.streaming_content).startswith(b"%PDF-")
