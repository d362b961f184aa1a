"""Statement PDFs: rendered by Celery tasks on the ``pdf`` queue, stored privately.

Task names are ``billing.pdf.<what>`` so ``CELERY_TASK_ROUTES`` sends them to the pdf workers.
Tasks take ids, re-fetch, exit quietly when the row is gone, and only render what is missing:
the file is keyed by the document's content (the statement's ``content_hash``) and the
template hash, so a rerun or a duplicate delivery finds the file and does nothing.
"""

from __future__ import annotations

from celery import shared_task
from django.urls import reverse
from django.utils import translation

from carm_portal import outbox, pdf
from carm_portal.conf import carm
from carm_portal.money import format_money

from .models import SavedReconciliation, Statement

STATEMENT_TEMPLATE = "pdf/statement.html"
RECONCILIATION_TEMPLATE = "pdf/reconciliation.html"
BASE_TEMPLATES = ("pdf/base.html",)


# --- Statements ------------------------------------------------------------------------------------

def summary_only(statement: Statement) -> bool:
    """Too many lines to print (WeasyPrint lays a line out in ~5.5 ms): the PDF is a summary and
    points to the lines' CSV. ``lines_count`` is frozen on the statement: no count query."""
    return statement.lines_count > carm("STATEMENT_PDF_MAX_LINES")


def statement_version(statement: Statement) -> str:
    """The statement's frozen content: its hash from the cycle (or its totals, before hashing),
    and whether the file is the summary (a changed threshold makes the other file)."""
    if statement.content_hash:
        version = statement.content_hash
    else:
        version = f"{statement.closing_balance}-{statement.lines_count}-{statement.created_at:%Y%m%d%H%M%S}"
    return f"{version}-summary" if summary_only(statement) else version


CAD_TOTALS_PER_ROW = 3  # "transaction number (lines) amount" cells per text row of the summary PDF


def cad_total_rows(cad_totals, *, per_row: int = CAD_TOTALS_PER_ROW) -> list[str]:
    """Per-CAD totals as fixed-width text rows (amounts in the active language).

    Thousands of CADs: one preformatted text block lays out ~20x faster than a table row per CAD."""
    cells = [(t.transaction_number, f"({t.lines})" if t.lines > 1 else "", format_money(t.amount))
             for t in cad_totals]
    if not cells:
        return []
    ref_w = max(len(c[0]) for c in cells)
    n_w = max(len(c[1]) for c in cells)
    amount_w = max(len(c[2]) for c in cells)
    text = [f"{ref:<{ref_w}} {n:>{n_w}} {amount:>{amount_w}}" for ref, n, amount in cells]
    return ["   ".join(text[i:i + per_row]) for i in range(0, len(text), per_row)]


def _document(statement: Statement) -> dict:
    from .selectors import statement_document

    if not summary_only(statement):
        return statement_document(statement)
    document = statement_document(statement, with_lines=False)
    document["cad_total_text"] = "\n".join(cad_total_rows(document["cad_totals"]))
    document["csv_path"] = reverse("billing-statement-csv", args=[statement.pk])
    document["api_csv_path"] = reverse("api-statement-lines-csv", args=[statement.pk])
    document["max_lines"] = carm("STATEMENT_PDF_MAX_LINES")
    return document


def statement_pdf(statement: Statement, *, render: bool = True, language: str | None = None) -> pdf.StoredPdf | None:
    """The stored PDF of ``statement`` in ``language`` (default: the reader's); rendered now if
    missing (``render=False``: None instead)."""
    language = pdf.reader_language(language)
    with translation.override(language):
        return pdf.stored_pdf(
            kind=pdf.language_kind("statement", language), object_id=statement.pk,
            version=statement_version(statement),
            template_name=STATEMENT_TEMPLATE, extra_templates=BASE_TEMPLATES,
            context=lambda: _document(statement), render=render,
        )


def statement_pdf_or_enqueue(statement: Statement) -> pdf.StoredPdf | None:
    """The stored PDF in the reader's language, or None after asking the pdf worker to render it
    (the caller says 202)."""
    language = pdf.reader_language()
    stored = statement_pdf(statement, render=pdf.render_inline(), language=language)
    if stored is None:
        pdf.ask_worker_once(render_statement.name, statement.pk,
                            key=f"statement:{statement.pk}:{statement_version(statement)}", language=language)
    return stored


def statement_filename(statement: Statement) -> str:
    return f"statement-{statement.program_account.number}-{statement.period_end:%Y-%m-%d}.pdf"


@shared_task(name="billing.pdf.render_statement", acks_late=True, **pdf.TASK_LIMITS)
def render_statement(statement_id: int, language: str = "en") -> str:
    statement = Statement.objects.select_related("program_account__business").filter(pk=statement_id).first()
    if statement is None:
        return "gone"
    stored = statement_pdf(statement, language=language)
    return f"{'rendered' if stored.rendered else 'cached'} {stored.sha256}"


# --- Saved reconciliations (billing/reconcile.py) ---------------------------------------------------------
# An upload is not kept: the page saves the reconciliation first, and the worker renders that saved one
# (``reconcile.from_saved``). A saved reconciliation never changes, so its id is its version.

def reconciliation_version(saved: SavedReconciliation) -> str:
    return f"{saved.pk}-{saved.created_at:%Y%m%d%H%M%S}"


def reconciliation_pdf(saved: SavedReconciliation, *, render: bool = True,
                       language: str | None = None) -> pdf.StoredPdf | None:
    from . import reconcile

    def document() -> dict:
        result = reconcile.from_saved(saved)
        return {"statement": saved.statement, "result": result, "groups": reconcile.pdf_groups(result)}

    language = pdf.reader_language(language)
    with translation.override(language):
        return pdf.stored_pdf(
            kind=pdf.language_kind("reconciliation", language), object_id=saved.pk,
            version=reconciliation_version(saved), template_name=RECONCILIATION_TEMPLATE,
            extra_templates=BASE_TEMPLATES, context=document, render=render,
        )


def reconciliation_pdf_or_enqueue(saved: SavedReconciliation) -> pdf.StoredPdf | None:
    """The stored PDF in the reader's language, or None after asking the pdf worker (the caller says 202)."""
    language = pdf.reader_language()
    stored = reconciliation_pdf(saved, render=pdf.render_inline(), language=language)
    if stored is None:
        pdf.ask_worker_once(render_reconciliation.name, saved.pk,
                            key=f"reconciliation:{reconciliation_version(saved)}", language=language)
    return stored


def reconciliation_filename(saved: SavedReconciliation) -> str:
    statement = saved.statement
    return f"reconciliation-{statement.program_account.number}-{statement.period_end:%Y-%m-%d}.pdf"


@shared_task(name="billing.pdf.render_reconciliation", acks_late=True, **pdf.TASK_LIMITS)
def render_reconciliation(saved_id: int, language: str = "en") -> str:
    saved = (SavedReconciliation.objects.select_related("statement__program_account__business", "created_by")
             .filter(pk=saved_id).first())
    if saved is None:
        return "gone"
    stored = reconciliation_pdf(saved, language=language)
    return f"{'rendered' if stored.rendered else 'cached'} {stored.sha256}"


def enqueue_statement_pdfs(statement_ids) -> None:
    """Render these statements' PDFs once the current transaction commits (one task each)."""
    ids = [int(i) for i in statement_ids]

    for statement_id in ids:
        outbox.enqueue(render_statement.name, statement_id, key=f"pdf:statement:{statement_id}")


@shared_task(name="billing.pdf.render_period", acks_late=True, soft_time_limit=300, time_limit=330)
def render_period(period_end: str) -> int:
    """Fan out one ``render_statement`` per statement of the period whose PDF is not stored yet.

    Meant to run after a billing run completes (and safe to run again: stored PDFs are skipped).
    """
    from datetime import date

    period = date.fromisoformat(str(period_end))
    queued = 0
    statements = Statement.objects.filter(period_end=period).only("id", "content_hash", "closing_balance",
                                                                 "lines_count", "created_at")
    for statement in statements.iterator(chunk_size=2000):
        if statement_pdf(statement, render=False, language="en") is None:
            render_statement.delay(statement.pk)
            queued += 1
    return queued
