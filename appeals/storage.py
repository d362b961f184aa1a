"""Private files for appeals: supporting documents and decision letters.

Everything lives under ``PRIVATE_STORAGE_ROOT/appeals/`` with a random name, never under a
static or media URL; only gated views serve it, always as attachments. Uploads are checked by
content (magic bytes, Pillow's verify for images, no active content in PDFs:
carm_portal/pdf_safety.py), not by the name the browser sent.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import secrets
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.utils.translation import gettext as _

from carm_portal import pdf_safety
from carm_portal.conf import carm
from carm_portal.exceptions import ApplicationError

_SIGNATURES = (
    (b"%PDF-", "application/pdf", ".pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png", ".png"),
    (b"\xff\xd8\xff", "image/jpeg", ".jpg"),
)


def root() -> Path:
    return Path(settings.PRIVATE_STORAGE_ROOT) / "appeals"


def path_of(stored_name: str) -> Path:
    # Stored names are generated here (hex + extension); refuse anything that could climb out.
    if not stored_name or "/" in stored_name or "\\" in stored_name or stored_name.startswith("."):
        raise ValueError("Bad stored name")
    return root() / stored_name


def max_bytes() -> int:
    return carm("UPLOAD_MAX_BYTES")


@dataclass(frozen=True)
class CheckedFile:
    name: str
    content: bytes
    content_type: str
    extension: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


def _refuse(message: str):
    raise ApplicationError(message, field_errors={"file": [message]})


def check_upload(uploaded) -> CheckedFile:
    """Read and check an upload (Django UploadedFile or any object with name/size/read)."""
    if uploaded is None:
        _refuse(_("Choose a file to upload."))
    limit = max_bytes()
    size = getattr(uploaded, "size", None)
    if size is not None and size > limit:
        _refuse(_("The file is too large: the limit is %(mb)s MB.") % {"mb": f"{limit / (1024 * 1024):g}"})
    if hasattr(uploaded, "seek"):
        uploaded.seek(0)
    content = uploaded.read(limit + 1)
    if len(content) > limit:
        _refuse(_("The file is too large: the limit is %(mb)s MB.") % {"mb": f"{limit / (1024 * 1024):g}"})
    if not content:
        _refuse(_("The file is empty."))
    match = next((sig for sig in _SIGNATURES if content.startswith(sig[0])), None)
    if match is None:
        _refuse(_("Only PDF, PNG or JPEG documents are accepted; this file is none of them, whatever its name."))
    _magic, content_type, extension = match
    if content_type == "application/pdf":
        try:
            active = pdf_safety.active_content(content)
        except pdf_safety.UncheckablePdf:
            _refuse(_("This PDF is encrypted or packed in a way that cannot be checked; "
                      "upload an unprotected copy (print it to PDF)."))
        if active is not None:
            _refuse(_("PDFs with JavaScript, launch actions or embedded files are refused; "
                      "upload a plain copy (print it to PDF)."))
    else:
        from PIL import Image

        try:
            with Image.open(io.BytesIO(content)) as image:
                image.verify()
        except Exception:
            _refuse(_("This image is damaged or not a real PNG or JPEG file."))
    name = Path(str(getattr(uploaded, "name", "") or "document")).name[:200] or "document"
    return CheckedFile(name=name, content=content, content_type=content_type, extension=extension)


def write_new(content: bytes, extension: str) -> str:
    """Write bytes under a new random name; returns that name."""
    directory = root()
    directory.mkdir(parents=True, exist_ok=True)
    stored_name = secrets.token_hex(16) + extension
    path = directory / stored_name
    with open(path, "xb") as fh:
        fh.write(content)
    return stored_name


def remove(stored_name: str) -> None:
    with contextlib.suppress(ValueError):
        path_of(stored_name).unlink(missing_ok=True)
