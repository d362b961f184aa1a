"""Does an uploaded PDF carry active content? (JavaScript, launch actions, embedded files.)

A conservative byte-level check, no PDF library: it looks for the *names* that introduce active
content — ``/JS``, ``/JavaScript`` (document and OpenAction/AA scripts), ``/Launch``,
``/EmbeddedFile(s)``, ``/RichMedia`` — after decoding ``#xx`` escapes in names (``/J#61vaScript``),
in the file itself and inside compressed object streams (``/Type /ObjStm``), where a PDF 1.5+
may hide its dictionaries. Encrypted PDFs, and object streams it cannot decode, cannot be checked
and are refused as well. A plain ``/OpenAction`` (open at page 1) is fine; a JavaScript one names
``/JS``. Scanned documents, invoices and letters have none of these.
"""

from __future__ import annotations

import re
import zlib

# A name token: "/" then regular characters (PDF 32000-1, 7.2.2 and 7.3.5).
_NAME = re.compile(rb"/[^\x00\t\n\x0c\r ()<>\[\]{}/%]*")
_HEX = re.compile(rb"#([0-9A-Fa-f]{2})")
_FORBIDDEN = {
    b"/JS": "JavaScript",
    b"/JavaScript": "JavaScript",
    b"/Launch": "a launch action",
    b"/EmbeddedFile": "an embedded file",
    b"/EmbeddedFiles": "an embedded file",
    b"/RichMedia": "rich media",
}
# "N G obj << ... >> stream" — the dictionary before each stream.
_STREAM = re.compile(rb"\bobj\b(.{0,4096}?)\bstream\r?\n", re.DOTALL)
MAX_INFLATED = 32 * 1024 * 1024


class UncheckablePdf(Exception):
    """The file cannot be checked (encrypted, or an object stream we cannot decode)."""


def _names(data: bytes) -> set[bytes]:
    return {_HEX.sub(lambda m: bytes([int(m.group(1), 16)]), raw) for raw in _NAME.findall(data)}


def _object_streams(content: bytes):
    budget = MAX_INFLATED
    for match in _STREAM.finditer(content):
        dictionary = match.group(1)
        names = _names(dictionary)
        if b"/ObjStm" not in names:
            continue
        start = match.end()
        end = content.find(b"endstream", start)
        raw = content[start:end if end != -1 else len(content)]
        filters = names & {b"/FlateDecode", b"/Fl", b"/ASCIIHexDecode", b"/AHx", b"/ASCII85Decode",
                           b"/A85", b"/LZWDecode", b"/LZW", b"/RunLengthDecode", b"/RL", b"/Crypt"}
        if not filters:
            yield raw
            continue
        if filters - {b"/FlateDecode", b"/Fl"}:
            raise UncheckablePdf
        inflater = zlib.decompressobj()
        try:
            data = inflater.decompress(raw, budget + 1)
        except zlib.error:
            raise UncheckablePdf from None
        budget -= len(data)
        if budget < 0:
            raise UncheckablePdf
        yield data


def active_content(content: bytes) -> str | None:
    """What active content ``content`` (a PDF) carries, as a short phrase, or None.

    Raises ``UncheckablePdf`` when the file cannot be checked."""
    names = _names(content)
    if b"/Encrypt" in names:
        raise UncheckablePdf
    for data in _object_streams(content):
        names |= _names(data)
    for name, what in _FORBIDDEN.items():
        if name in names:
            return what
    return None
