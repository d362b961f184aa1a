"""Django templates to PDF with WeasyPrint, stored privately and cached by content.

Every app's documents (statements, CADs, appeal letters) go through here:

- ``render_pdf(template, context)`` → bytes. One ``FontConfiguration`` per process is passed to
  both ``CSS()`` and ``write_pdf()`` (django-weasyprint#54); each stylesheet is parsed once and
  reused (WeasyPrint#618); the URL fetcher only serves files found by Django's static finders
  and refuses everything else, HTTP included (WeasyPrint#707: never fetch from our own app);
  WeasyPrint is imported inside the functions, never at module import, because importing it
  before a prefork worker forks has crashed workers (WeasyPrint#684).
- ``stored_pdf(...)`` → a ``StoredPdf`` under ``settings.PRIVATE_STORAGE_ROOT`` (never under
  MEDIA/STATIC: only a view behind the access gate serves it), named by (document kind, id,
  source version, template hash), with its SHA-256 beside it. It renders again only when that
  file is missing or unreadable, i.e. when the source or the template changed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import mimetypes
import os
import re
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.contrib.staticfiles import finders
from django.template.loader import get_template, render_to_string

__all__ = [
    "DEFAULT_STYLESHEETS",
    "StoredPdf",
    "render_pdf",
    "template_hash",
    "pdf_path",
    "find_pdf",
    "stored_pdf",
    "static_url_fetcher",
]

# Stylesheets every document gets, as static paths (found by the staticfiles finders).
DEFAULT_STYLESHEETS: tuple[str, ...] = ("css/pdf.css",)
BASE_URL = "file:///"
_SAFE = re.compile(r"[^A-Za-z0-9_.-]")

# WeasyPrint logs every layout step at INFO; the workers' logs only need its warnings.
logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)

_lock = threading.Lock()
_font_config = None
_css_cache: dict[tuple[str, float], object] = {}
_hash_cache: dict[tuple, str] = {}


# --- Fetching: static files only ---------------------------------------------------------------

def _static_prefix() -> str:
    prefix = "/" + settings.STATIC_URL.lstrip("/")
    return prefix if prefix.endswith("/") else prefix + "/"


def _allowed_roots() -> list[Path]:
    roots = [Path(p).resolve() for p in getattr(settings, "STATICFILES_DIRS", [])]
    if settings.STATIC_ROOT:
        roots.append(Path(settings.STATIC_ROOT).resolve())
    for finder in finders.get_finders():
        for storage in getattr(finder, "storages", {}).values():
            location = getattr(storage, "location", None)
            if location:
                roots.append(Path(location).resolve())
    return roots


def resolve_static(url: str) -> Path:
    """The local file behind ``url``, if it is one of our static files; ``ValueError`` otherwise.

    Accepts ``file:///static/css/x.css`` (what ``{% static %}`` becomes against our base URL) and
    absolute ``file://`` paths inside a static directory. Anything else (http, https, ftp, a file
    outside the static dirs, ``..`` tricks) is refused.
    """
    parts = urlsplit(url)
    if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
        raise ValueError(f"PDF resources come from our static files only, not {url!r}")
    path = unquote(parts.path)
    prefix = _static_prefix()
    if path.startswith(prefix):
        relative = path[len(prefix):]
        if ".." in Path(relative).parts:
            raise ValueError(f"Refused static path {url!r}")
        found = finders.find(relative)
        if found:
            return Path(found).resolve()
        raise ValueError(f"No static file {relative!r}")
    candidate = Path(path).resolve()
    for root in _allowed_roots():
        if candidate.is_file() and candidate.is_relative_to(root):
            return candidate
    raise ValueError(f"Refused {url!r}: not a static file")


def static_url_fetcher():
    """A WeasyPrint URL fetcher serving ``data:`` URIs and our static files, nothing else."""
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class StaticOnlyFetcher(URLFetcher):
        def __init__(self):
            super().__init__(allowed_protocols={"data"}, allow_redirects=False, fail_on_errors=False)

        def fetch(self, url, headers=None):
            if url.startswith("data:"):
                return super().fetch(url, headers)
            path = resolve_static(url)
            mime_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            return URLFetcherResponse(path.as_uri(), path.read_bytes(), {"Content-Type": mime_type})

    return StaticOnlyFetcher()


# --- Rendering ------------------------------------------------------------------------------------

def _fonts():
    global _font_config
    if _font_config is None:
        from weasyprint.text.fonts import FontConfiguration

        _font_config = FontConfiguration()
    return _font_config


def _stylesheet_path(name: str) -> Path:
    found = finders.find(name)
    if not found:
        raise FileNotFoundError(f"PDF stylesheet {name!r} is not a static file")
    return Path(found)


def _stylesheets(names: Iterable[str]) -> list:
    """Parsed ``CSS`` objects, each parsed once per process (again only if the file changed)."""
    from weasyprint import CSS

    sheets = []
    for name in names:
        path = _stylesheet_path(name)
        key = (str(path), path.stat().st_mtime)
        sheet = _css_cache.get(key)
        if sheet is None:
            sheet = CSS(filename=str(path), font_config=_fonts(), url_fetcher=static_url_fetcher())
            _css_cache[key] = sheet
        sheets.append(sheet)
    return sheets


def render_pdf(template_name: str, context: dict, *, stylesheets: Iterable[str] = DEFAULT_STYLESHEETS,
               request=None) -> bytes:
    """Render a Django template to PDF bytes."""
    from weasyprint import HTML

    html = render_to_string(template_name, context, request=request)
    # WeasyPrint's layout is not thread-safe around the shared font configuration.
    with _lock:
        document = HTML(string=html, base_url=BASE_URL, url_fetcher=static_url_fetcher())
        return document.write_pdf(stylesheets=_stylesheets(stylesheets), font_config=_fonts())


def template_hash(template_names: Iterable[str], stylesheets: Iterable[str] = DEFAULT_STYLESHEETS) -> str:
    """SHA-256 of the templates' sources and the stylesheets: a layout change makes new files."""
    template_names, stylesheets = tuple(template_names), tuple(stylesheets)
    digest = hashlib.sha256()
    mtimes = []
    for name in template_names:
        origin = get_template(name).origin.name
        mtimes.append(os.path.getmtime(origin) if origin and os.path.exists(origin) else 0)
    for name in stylesheets:
        mtimes.append(_stylesheet_path(name).stat().st_mtime)
    key = (template_names, stylesheets, tuple(mtimes))
    cached = _hash_cache.get(key)
    if cached:
        return cached
    for name in template_names:
        digest.update(name.encode() + b"\0" + get_template(name).template.source.encode() + b"\0")
    for name in stylesheets:
        digest.update(name.encode() + b"\0" + _stylesheet_path(name).read_bytes() + b"\0")
    value = digest.hexdigest()
    _hash_cache[key] = value
    return value


# --- Private storage --------------------------------------------------------------------------------

@dataclass(frozen=True)
class StoredPdf:
    path: Path
    sha256: str
    size: int
    rendered: bool = False  # True when this call rendered it (False: served from the cache)
    seconds: float = 0.0

    def read(self) -> bytes:
        return self.path.read_bytes()


def _root() -> Path:
    return Path(settings.PRIVATE_STORAGE_ROOT) / "pdf"


def pdf_path(kind: str, object_id, version: str, tmpl_hash: str) -> Path:
    """Where a document lives: ``<private>/pdf/<kind>/<id>/<version>-<template hash>.pdf``."""
    name = f"{_SAFE.sub('_', str(version))[:64]}-{tmpl_hash[:16]}.pdf"
    return _root() / _SAFE.sub("_", kind) / _SAFE.sub("_", str(object_id)) / name


def _meta_path(path: Path) -> Path:
    return path.with_suffix(".json")


def find_pdf(kind: str, object_id, version: str, tmpl_hash: str) -> StoredPdf | None:
    """The stored file, if it exists and its bytes still match the recorded SHA-256."""
    path = pdf_path(kind, object_id, version, tmpl_hash)
    try:
        meta = json.loads(_meta_path(path).read_text())
        data = path.read_bytes()
    except (OSError, ValueError):
        return None
    if hashlib.sha256(data).hexdigest() != meta.get("sha256"):
        return None
    return StoredPdf(path=path, sha256=meta["sha256"], size=len(data))


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)  # readers see the old file or the new one, never half of one
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def stored_pdf(
    *,
    kind: str,
    object_id,
    version: str,
    template_name: str,
    context: Callable[[], dict],
    extra_templates: Iterable[str] = (),
    stylesheets: Iterable[str] = DEFAULT_STYLESHEETS,
    force: bool = False,
    render: bool = True,
) -> StoredPdf | None:
    """The cached PDF of (kind, id, version, template), rendering it first if it is missing.

    With ``render=False`` a missing file gives None (the web process asks a worker instead).
    ``context`` is a callable so a cache hit builds nothing. Concurrent renders of the same
    document both write the same bytes name atomically; the last rename wins, harmlessly.
    Older versions of the same document are removed after a new one is written.
    """
    stylesheets = tuple(stylesheets)
    tmpl_hash = template_hash((template_name, *extra_templates), stylesheets)
    if not force:
        found = find_pdf(kind, object_id, version, tmpl_hash)
        if found is not None or not render:
            return found
    started = time.perf_counter()
    data = render_pdf(template_name, context(), stylesheets=stylesheets)
    seconds = time.perf_counter() - started
    path = pdf_path(kind, object_id, version, tmpl_hash)
    sha = hashlib.sha256(data).hexdigest()
    _write_atomically(path, data)
    _write_atomically(_meta_path(path), json.dumps({
        "kind": kind, "id": str(object_id), "version": str(version), "template_hash": tmpl_hash,
        "sha256": sha, "size": len(data), "seconds": round(seconds, 3),
    }).encode())
    for old in path.parent.glob("*.pdf"):
        if old != path:
            for stale in (old, _meta_path(old)):
                stale.unlink(missing_ok=True)
    return StoredPdf(path=path, sha256=sha, size=len(data), rendered=True, seconds=seconds)


# --- Serving stored PDFs (every app's views and API) --------------------------------------------------

# Celery limits of every ``<app>.pdf.<what>`` render task (a statement of ~21k lines needs longer).
TASK_LIMITS = {"soft_time_limit": 120, "time_limit": 150}


def render_inline() -> bool:
    """In the eager demo (no broker) there is no pdf worker: render during the request."""
    return bool(getattr(settings, "CELERY_TASK_ALWAYS_EAGER", False))


def reader_language(language: str | None = None) -> str:
    """The language a PDF's amounts are written in: the reader's ("en" or "fr"; default the active one).

    The documents are bilingual by layout; only the amounts (and dates) follow the reader:
    $1,234.56 for an English reader, 1 234,56 $ for a French one. One stored file per language."""
    from django.utils import translation

    code = (language or translation.get_language() or settings.LANGUAGE_CODE).split("-")[0].lower()
    return code if code in {c for c, _name in settings.LANGUAGES} else "en"


def language_kind(kind: str, language: str) -> str:
    """English files keep the place they always had; another language has its own folder
    ("statement-fr"), since ``stored_pdf`` removes the other files of a (kind, id) folder."""
    return kind if language == "en" else f"{kind}-{language}"


def ask_worker_once(task_name: str, object_id: int, key: str, language: str = "en") -> None:
    """Ask the pdf worker once, however often a waiting client asks again: one open outbox item
    per document version and language (sent again by the sweeper if the broker was down or the
    message lost). The task takes (object id[, language])."""
    from carm_portal import outbox

    if language == "en":
        outbox.enqueue(task_name, object_id, key=f"pdf:{key}")
    else:
        outbox.enqueue(task_name, object_id, language, key=f"pdf:{key}:{language}")


def file_response(stored: StoredPdf, filename: str):
    """The stored PDF as a private download (never rendered inline in the portal's origin)."""
    from django.http import FileResponse

    response = FileResponse(open(stored.path, "rb"), content_type="application/pdf",  # noqa: SIM115
                            as_attachment=True, filename=filename)
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    response["ETag"] = f'"{stored.sha256}"'
    return response


def pending_page(request, *, back_url: str = "", back_label: str = ""):
    """202 "being prepared" page that reloads itself until the worker has rendered the PDF."""
    from django.shortcuts import render

    response = render(request, "pdf_pending.html", {"back_url": back_url, "back_label": back_label}, status=202)
    response["Retry-After"] = "3"
    return response
