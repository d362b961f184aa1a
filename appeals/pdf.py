"""The decision letter PDF (WeasyPrint), stored privately and served only through the gate.

Rendered by the shared ``carm_portal.pdf.render_pdf`` (one FontConfiguration, static-only URL
fetcher). If that helper is missing, a local equivalent below does the same: one
FontConfiguration, a url_fetcher that refuses everything but our own static files, WeasyPrint
imported inside the function (prefork workers have crashed importing it at module load).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

from django.conf import settings
from django.contrib.staticfiles import finders
from django.template.loader import render_to_string
from django.utils import timezone, translation

from . import deadlines, storage

TEMPLATE = "appeals/pdf/decision_letter.html"


def _static_only_fetcher(url: str):
    """Serve ``/static/...`` (or ``static:`` URLs) from our static files; refuse anything else."""
    from weasyprint import default_url_fetcher

    parsed = urlparse(url)
    static_prefix = "/" + settings.STATIC_URL.strip("/") + "/"
    if parsed.scheme in ("", "file") and parsed.path.startswith(static_prefix):
        found = finders.find(parsed.path[len(static_prefix):])
        if found:
            return default_url_fetcher(Path(found).as_uri())
    raise ValueError(f"Refused to fetch {url!r}: only our static files may be used in a PDF.")


def letter_context(appeal) -> dict:
    citt = None
    # The CITT hears appeals from s.60 decisions (s.67), whatever the outcome; not AMPS decisions.
    if appeal.kind == appeal.Kind.REDETERMINATION and appeal.decided_on:
        citt = deadlines.citt_deadline(appeal.decided_on)
    return {
        "appeal": appeal,
        "business": appeal.program_account.business,
        "account": appeal.program_account,
        "statements": list(appeal.statements.order_by("decision_date", "number")),
        "citt_deadline": citt,
        "interest_amount": -appeal.interest_entry.amount if appeal.interest_entry_id else None,
        "printed_on": appeal.decided_on or timezone.localdate(),
    }


def render_letter_pdf(appeal) -> bytes:
    with translation.override("en"):
        context = letter_context(appeal)
        try:
            from carm_portal.pdf import render_pdf
        except ImportError:
            return _render_locally(context)
        # The letter carries its own bilingual layout; no shared stylesheet.
        return render_pdf(TEMPLATE, context, stylesheets=())


def _render_locally(context: dict) -> bytes:
    from weasyprint import HTML
    from weasyprint.text.fonts import FontConfiguration

    fonts = FontConfiguration()
    html = render_to_string(TEMPLATE, context)
    return HTML(string=html, base_url="/", url_fetcher=_static_only_fetcher).write_pdf(font_config=fonts)


def store_letter(appeal) -> str:
    """Render and store the letter; returns the stored file name."""
    return storage.write_new(render_letter_pdf(appeal), ".pdf")
