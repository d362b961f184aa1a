"""The CAD as a PDF: rendered by a Celery task on the ``pdf`` queue, stored privately (carm_portal.pdf).

Keyed by the CAD's version and status, so an amendment or a withdrawal renders a new file and a
rerun or a duplicate delivery finds the stored one and does nothing.
"""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone, translation

from carm_portal import pdf

from .models import CAD
from .selectors import cad_ledger_entries, cad_lines, cad_versions

TEMPLATE = "pdf/cad.html"
BASE_TEMPLATES = ("pdf/base.html",)


def cad_version(cad: CAD) -> str:
    return f"v{cad.current_version}-{cad.status}-{cad.updated_at:%Y%m%d%H%M%S%f}"


def cad_document(cad: CAD) -> dict:
    return {
        "cad": cad,
        "account": cad.program_account,
        "business": cad.program_account.business,
        "lines": list(cad_lines(cad)),
        "versions": list(cad_versions(cad)),
        "entries": list(cad_ledger_entries(cad)),
        "generated_on": timezone.localdate(),
    }


def cad_pdf(cad: CAD, *, render: bool = True, language: str | None = None) -> pdf.StoredPdf | None:
    """The stored PDF of ``cad`` in ``language`` (default: the reader's; bilingual by layout, the
    amounts follow the reader); rendered now if missing (``render=False``: None instead)."""
    language = pdf.reader_language(language)
    with translation.override(language):
        return pdf.stored_pdf(
            kind=pdf.language_kind("cad", language), object_id=cad.pk, version=cad_version(cad),
            template_name=TEMPLATE, extra_templates=BASE_TEMPLATES, context=lambda: cad_document(cad),
            render=render,
        )


def cad_pdf_or_enqueue(cad: CAD) -> pdf.StoredPdf | None:
    """The stored PDF in the reader's language, or None after asking the pdf worker to render it
    (the caller says 202)."""
    language = pdf.reader_language()
    stored = cad_pdf(cad, render=pdf.render_inline(), language=language)
    if stored is None:
        pdf.ask_worker_once(render_cad.name, cad.pk, key=f"cad:{cad.pk}:{cad_version(cad)}", language=language)
    return stored


def filename(cad: CAD) -> str:
    return f"cad-{cad.transaction_number}-v{cad.current_version}.pdf"


@shared_task(name="declarations.pdf.render_cad", acks_late=True, **pdf.TASK_LIMITS)
def render_cad(cad_id: int, language: str = "en") -> str:
    cad = CAD.objects.select_related("program_account__business", "broker", "filed_by").filter(pk=cad_id).first()
    if cad is None:
        return "gone"
    stored = cad_pdf(cad, language=language)
    return f"{'rendered' if stored.rendered else 'cached'} {stored.sha256}"
