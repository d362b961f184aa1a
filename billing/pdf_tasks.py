"""Statement and CAD PDFs: rendered by Celery tasks on the ``pdf`` queue, stored privately.

Task names are ``billing.pdf.<what>`` so ``CELERY_TASK_ROUTES`` sends them to the pdf workers.
Tasks take ids, re-fetch, exit quietly when the row is gone, and only render what is missing:
the file is keyed by the document's content (statement ``content_hash``, CAD version) and the
template hash, so a rerun or a duplicate delivery finds the file and does nothing.
"""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.utils import translation

from carm_portal import outbox, pdf

from .models import Statement

STATEMENT_TEMPLATE = "pdf/statement.html"
CAD_TEMPLATE = "pdf/cad.html"
BASE_TEMPLATES = ("pdf/base.html",)
PDF_LIMITS = {"soft_time_limit": 120, "time_limit": 150}


# --- Statements ------------------------------------------------------------------------------------

def statement_version(statement: Statement) -> str:
    """The statement's frozen content: its hash from the cycle (or its totals, before hashing)."""
    if statement.content_hash:
        return statement.content_hash
    return f"{statement.closing_balance}-{statement.lines_count}-{statement.created_at:%Y%m%d%H%M%S}"


def pdf_language(language: str | None = None) -> str:
    """The language a PDF's amounts are written in: the reader's ("en" or "fr"; default the active one).

    The documents are bilingual by layout; only the amounts (and dates) follow the reader:
    $1,234.56 for an English reader, 1 234,56 $ for a French one. One stored file per language."""
    code = (language or translation.get_language() or settings.LANGUAGE_CODE).split("-")[0].lower()
    return code if code in {c for c, _name in settings.LANGUAGES} else "en"


def _language_kind(kind: str, language: str) -> str:
    """English files keep the place they always had; another language has its own folder
    ("statement-fr"), since ``pdf.stored_pdf`` removes the other files of a (kind, id) folder."""
    return kind if language == "en" else f"{kind}-{language}"


def statement_pdf(statement: Statement, *, render: bool = True, language: str | None = None) -> pdf.StoredPdf | None:
    """The stored PDF of ``statement`` in ``language`` (default: the reader's); rendered now if
    missing (``render=False``: None instead)."""
    from .selectors import statement_document

    language = pdf_language(language)
    with translation.override(language):
        return pdf.stored_pdf(
            kind=_language_kind("statement", language), object_id=statement.pk,
            version=statement_version(statement),
            template_name=STATEMENT_TEMPLATE, extra_templates=BASE_TEMPLATES,
            context=lambda: statement_document(statement), render=render,
        )


def _render_inline() -> bool:
    """In the eager demo (no broker) there is no pdf worker: render during the request."""
    return bool(getattr(settings, "CELERY_TASK_ALWAYS_EAGER", False))


def _enqueue_once(key: str, task, object_id: int, language: str = "en") -> None:
    """Ask the pdf worker once, however often a waiting client asks again: one open outbox item
    per document version and language (sent again by the sweeper if the broker was down or the message lost)."""
    if language == "en":
        outbox.enqueue(task.name, object_id, key=f"pdf:{key}")
    else:
        outbox.enqueue(task.name, object_id, language, key=f"pdf:{key}:{language}")


def statement_pdf_or_enqueue(statement: Statement) -> pdf.StoredPdf | None:
    """The stored PDF, or None after asking the pdf worker to render it (the caller says 202)."""
    language = pdf_language()
    stored = statement_pdf(statement, render=_render_inline(), language=language)
    if stored is None:
        _enqueue_once(f"statement:{statement.pk}:{statement_version(statement)}", render_statement, statement.pk,
                      language)
    return stored


def cad_pdf_or_enqueue(cad) -> pdf.StoredPdf | None:
    language = pdf_language()
    stored = cad_pdf(cad, render=_render_inline(), language=language)
    if stored is None:
        _enqueue_once(f"cad:{cad.pk}:{cad_version(cad)}", render_cad, cad.pk, language)
    return stored


def statement_filename(statement: Statement) -> str:
    return f"statement-{statement.program_account.number}-{statement.period_end:%Y-%m-%d}.pdf"


@shared_task(name="billing.pdf.render_statement", acks_late=True, **PDF_LIMITS)
def render_statement(statement_id: int, language: str = "en") -> str:
    statement = Statement.objects.select_related("program_account__business").filter(pk=statement_id).first()
    if statement is None:
        return "gone"
    stored = statement_pdf(statement, language=language)
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


# --- CADs --------------------------------------------------------------------------------------------

def cad_version(cad) -> str:
    return f"v{cad.current_version}-{cad.status}-{cad.updated_at:%Y%m%d%H%M%S%f}"


def cad_document(cad) -> dict:
    from django.utils import timezone

    from declarations.selectors import cad_ledger_entries, cad_lines, cad_versions

    return {
        "cad": cad,
        "account": cad.program_account,
        "business": cad.program_account.business,
        "lines": list(cad_lines(cad)),
        "versions": list(cad_versions(cad)),
        "entries": list(cad_ledger_entries(cad)),
        "generated_on": timezone.localdate(),
    }


def cad_pdf(cad, *, render: bool = True, language: str | None = None) -> pdf.StoredPdf | None:
    language = pdf_language(language)
    with translation.override(language):
        return pdf.stored_pdf(
            kind=_language_kind("cad", language), object_id=cad.pk, version=cad_version(cad),
            template_name=CAD_TEMPLATE,
            extra_templates=BASE_TEMPLATES, context=lambda: cad_document(cad), render=render,
        )


@shared_task(name="billing.pdf.render_cad", acks_late=True, **PDF_LIMITS)
def render_cad(cad_id: int, language: str = "en") -> str:
    from declarations.models import CAD

    cad = CAD.objects.select_related("program_account__business", "broker", "filed_by").filter(pk=cad_id).first()
    if cad is None:
        return "gone"
    stored = cad_pdf(cad, language=language)
    return f"{'rendered' if stored.rendered else 'cached'} {stored.sha256}"
