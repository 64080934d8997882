"""Reading documents as clerks and lawyers do: metadata and a text layer from PDF, HTML or text.

Recipe layer: :func:`read_document` reads one document, :func:`read_documents` reads many in
parallel, and :func:`sniff_media_type` says what a file is. The readers themselves live in
:mod:`orderarchive.documents.pdf` (the only module that imports pypdf) and
:mod:`orderarchive.documents.html`.

Every PDF and HTML document is untrusted input: by default it is read in a worker process of
:mod:`orderarchive.documents._sandbox`, bounded in wall-clock time and address space (PDF parsers
meet decompression bombs and pathological content streams; see pypdf's "security" docs). Plain
text and Markdown are read in this process: decoding and splitting them is linear.

What is an error and what is a document without text:

* An **error** (a :class:`~orderarchive.errors.DocumentError`) means the bytes cannot be read
  as the document they claim to be: empty, encrypted with a password, truncated or corrupt,
  not UTF-8 (text) or not in its declared charset (HTML), binary junk, over a :class:`Limits`
  bound, or a reader process that died.
* A **document without text** (:attr:`ReadDocument.text` is ``None`` and
  :attr:`ReadDocument.no_text_reason` says why) is one that reads correctly but holds no text:
  an image-only (scanned) PDF, an HTML page with no body or only scripts, a text file of
  whitespace. Its bytes can still be archived; it cannot be quoted.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from typing import Any

import attrs

from ..errors import DocumentError
from ..log.textlayer import TextLayer

PDF = "application/pdf"
HTML = "text/html"
MARKDOWN = "text/markdown"
TEXT = "text/plain"
MEDIA_TYPES = (PDF, HTML, MARKDOWN, TEXT)

TEXT_EXTRACTOR = "orderarchive-text/1"

_ALIASES = {
    "application/x-pdf": PDF,
    "application/xhtml+xml": HTML,
    "text/x-markdown": MARKDOWN,
}
_EXTENSIONS = {
    ".pdf": PDF,
    ".html": HTML,
    ".htm": HTML,
    ".xhtml": HTML,
    ".md": MARKDOWN,
    ".markdown": MARKDOWN,
    ".txt": TEXT,
    ".text": TEXT,
}
# Formats people mistake for documents; named so the error says what the file is.
_BINARY_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"PK\x03\x04", "a ZIP archive (a Word .docx or OpenDocument file?)"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an OLE file (a Word .doc?)"),
    (b"\x1f\x8b", "a gzip file"),
    (b"{\\rtf", "an RTF file"),
)
# Starts of HTML as the WHATWG MIME sniffing standard (section 7.1) recognises them; only the
# unambiguous ones win over a file extension.
_HTML_STRONG = (b"<!doctype html", b"<html")
_HTML_WEAK = (b"<head", b"<body", b"<title", b"<meta", b"<!--", b"<script", b"<div", b"<p>")
_SNIFF_BYTES = 8192
_NOT_CONTROL = b"\t\n\x0c\r\x1b" + bytes(range(0x20, 0x100))
_PDF_HEADER_WINDOW = 1024  # Acrobat accepts junk before %PDF- within the first 1024 bytes


# -- errors ------------------------------------------------------------------------------------


class EmptyDocumentError(DocumentError):
    """A document of zero bytes."""


class UnsupportedDocumentError(DocumentError):
    """A media type orderarchive does not read (images, office files, binary junk)."""


class UnicodeDocumentError(DocumentError):
    """Text that is not UTF-8, or HTML that is not in its declared charset."""


class EncryptedDocumentError(DocumentError):
    """A PDF that needs a password (or a decryption library that is not installed)."""


class BrokenDocumentError(DocumentError):
    """A truncated or corrupt document that its reader cannot make sense of."""


class DocumentTooLargeError(DocumentError):
    """A document over one of the :class:`Limits` (bytes, pages, text, memory, decompression)."""


class DocumentTimeoutError(DocumentError):
    """A document whose reading took longer than :attr:`Limits.timeout_seconds`."""


class ReaderCrashError(DocumentError):
    """The reader process died (a signal, the kernel's OOM killer) or failed unexpectedly."""


class DocumentFileError(DocumentError):
    """A document file that cannot be opened or read."""


# -- values ------------------------------------------------------------------------------------


def _positive(_: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if value <= 0:
        raise ValueError(f"Limits.{attribute.name} must be positive, not {value!r}")


@attrs.frozen
class Limits:
    """Bounds on reading one document. The defaults fit any real executive order or article."""

    max_bytes: int = attrs.field(default=256 * 2**20, validator=_positive)
    max_pages: int = attrs.field(default=5000, validator=_positive)
    timeout_seconds: float = attrs.field(default=60.0, validator=_positive)
    memory_bytes: int = attrs.field(default=2**30, validator=_positive)
    max_text_chars: int = attrs.field(default=50_000_000, validator=_positive)


DEFAULT_LIMITS = Limits()


@attrs.frozen
class DocumentMetadata:
    """What a document says about itself. ``date`` is ISO ``yyyy-mm-dd`` as written in it."""

    title: str | None = None
    author: str | None = None
    date: str | None = None
    canonical_url: str | None = None
    page_count: int | None = None
    description: str | None = None


@attrs.frozen
class ReadDocument:
    """A document as read: its metadata and text layer, or why it has no text.

    ``extractor`` names the code that produced the text layer (``pypdf/7.1.1``,
    ``orderarchive-html/1``, ``orderarchive-text/1``): the layer is extracted once, at ingest,
    and stored with it. ``warnings`` lists what the reader had to repair to read the document
    (for PDFs, pypdf's messages such as a rebuilt cross-reference table), for display only.
    """

    media_type: str
    metadata: DocumentMetadata
    text: TextLayer | None
    extractor: str
    no_text_reason: str | None = None
    warnings: tuple[str, ...] = ()

    def __attrs_post_init__(self) -> None:
        if (self.text is None) == (self.no_text_reason is None):
            raise ValueError("a ReadDocument has either a text layer or a no_text_reason")


# -- sniffing ----------------------------------------------------------------------------------


def normalise_media_type(media_type: str) -> tuple[str, str | None]:
    """``("text/html", "windows-1252")`` from ``"Text/HTML; charset=windows-1252"``.

    Raises :class:`UnsupportedDocumentError` for a type orderarchive does not read.
    """
    base, _, params = media_type.partition(";")
    base = base.strip().lower()
    base = _ALIASES.get(base, base)
    if base not in MEDIA_TYPES:
        raise UnsupportedDocumentError(
            f"unsupported media type {base!r}",
            hint="orderarchive reads " + ", ".join(MEDIA_TYPES),
        )
    match = re.search(r"charset\s*=\s*[\"']?([A-Za-z0-9._:-]+)", params, re.IGNORECASE)
    return base, (match.group(1) if match else None)


def sniff_media_type(data: bytes, filename: str | None = None) -> str:
    """The media type of *data*: magic bytes first, then *filename*'s extension.

    Returns one of :data:`MEDIA_TYPES`. Raises :class:`UnsupportedDocumentError` for images,
    office files and other binary data.
    """
    head = data[:_SNIFF_BYTES]
    if b"%PDF-" in head[:_PDF_HEADER_WINDOW]:
        return PDF
    for magic, what in _BINARY_MAGIC:
        if head.startswith(magic):
            raise UnsupportedDocumentError(f"unsupported document: this is {what}")
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        start = head[2:].decode("utf-16-le" if head[0] == 0xFF else "utf-16-be", "replace")
        lead = start.lstrip().lower().encode("ascii", "replace")
    else:
        if _looks_binary(head):
            raise UnsupportedDocumentError(
                "unsupported document: binary data that is not a PDF",
                hint="orderarchive reads PDF, HTML, Markdown and UTF-8 text",
            )
        lead = head.removeprefix(b"\xef\xbb\xbf").lstrip().lower()
    if lead.startswith(_HTML_STRONG):
        return HTML
    extension = os.path.splitext(filename or "")[1].lower()
    if extension in _EXTENSIONS:
        return _EXTENSIONS[extension]
    if lead.startswith(_HTML_WEAK):
        return HTML
    return TEXT


def _looks_binary(sample: bytes) -> bool:
    if b"\x00" in sample:
        return True
    # Control characters other than tab, newline, form feed, carriage return and escape are
    # rare in text in any ASCII-compatible encoding.
    controls = len(sample.translate(None, _NOT_CONTROL))
    return controls * 20 > len(sample)


# -- reading -----------------------------------------------------------------------------------


def read_document(
    data: bytes,
    *,
    media_type: str | None = None,
    filename: str | None = None,
    limits: Limits = DEFAULT_LIMITS,
    isolate: bool = True,
) -> ReadDocument:
    """Read one document's metadata and text layer.

    *media_type* (which may carry a ``charset`` parameter, honoured for HTML) overrides
    sniffing; *filename* helps it. PDF and HTML are read in a bounded worker process unless
    ``isolate=False``, which reads in this process without time or memory bounds: only for
    trusted input such as PDFs this program generated.

    Raises a :class:`~orderarchive.errors.DocumentError` subclass (see the module docstring).
    """
    if len(data) > limits.max_bytes:
        raise _too_many_bytes(len(data), limits)
    if not data:
        raise EmptyDocumentError("empty document (0 bytes)")
    if media_type is None:
        media_type = sniff_media_type(data, filename)
    base, _ = normalise_media_type(media_type)
    if not isolate or base in (TEXT, MARKDOWN):
        return _read(data, media_type, filename, limits)
    from . import _sandbox  # _sandbox imports this module

    return _sandbox.shared_pool().run(
        _read,
        (data, media_type, filename, limits),
        timeout=limits.timeout_seconds,
        memory_bytes=limits.memory_bytes,
    )


def read_documents(
    items: Sequence[tuple[bytes | str | os.PathLike[str], str | None]],
    *,
    media_type: str | None = None,
    workers: int | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> list[ReadDocument | DocumentError]:
    """Read many documents in parallel, each bounded as :func:`read_document` bounds one.

    Each item is ``(data, filename)`` or ``(path, None)``: bytes are the document, a ``str`` or
    path-like names a file that the worker reads (the filename then defaults to its name).
    *media_type*, if given, applies to every item. Returns, in order, a :class:`ReadDocument`
    or the :class:`~orderarchive.errors.DocumentError` that reading that item raised. Uses
    *workers* processes (default: one per CPU) from a pool kept for the life of the program,
    so many documents do not each pay for starting an interpreter.
    """
    from . import _sandbox  # _sandbox imports this module

    jobs: list[tuple[bytes | str, str | None, str | None, Limits]] = []
    early: dict[int, DocumentError] = {}
    for i, (source, filename) in enumerate(items):
        if isinstance(source, bytes):
            if len(source) > limits.max_bytes:
                early[i] = _too_many_bytes(len(source), limits)
            jobs.append((source, media_type, filename, limits))
        else:
            path = os.fspath(source)
            jobs.append((path, media_type, filename or os.path.basename(path), limits))
    results = iter(
        _sandbox.shared_pool().map(
            _read,
            [job for i, job in enumerate(jobs) if i not in early],
            workers=workers,
            timeout=limits.timeout_seconds,
            memory_bytes=limits.memory_bytes,
        )
    )
    return [early[i] if i in early else next(results) for i in range(len(jobs))]


def _too_many_bytes(size: int, limits: Limits) -> DocumentTooLargeError:
    return DocumentTooLargeError(
        f"document of {size} bytes is over the limit of {limits.max_bytes} bytes"
    )


def _read(
    source: bytes | str, media_type: str | None, filename: str | None, limits: Limits
) -> ReadDocument:
    """Read in this process, unbounded in time and memory (the body of a sandbox job)."""
    data = _load(source, limits) if isinstance(source, str) else source
    if len(data) > limits.max_bytes:
        raise _too_many_bytes(len(data), limits)
    if not data:
        raise EmptyDocumentError("empty document (0 bytes)")
    base, charset = normalise_media_type(media_type or sniff_media_type(data, filename))
    if base == PDF:
        from .pdf import read_pdf  # pdf imports this module

        return read_pdf(data, limits=limits)
    if base == HTML:
        from .html import read_html  # html imports this module

        return read_html(data, charset=charset, limits=limits)
    return read_text(data, markdown=base == MARKDOWN, charset=charset, limits=limits)


def _load(path: str, limits: Limits) -> bytes:
    try:
        with open(path, "rb") as f:
            data = f.read(limits.max_bytes + 1)
    except OSError as e:
        raise DocumentFileError(f"cannot read {path}: {e.strerror or e}") from e
    return data


# -- plain text and Markdown -------------------------------------------------------------------

# The opening of an ATX level-1 heading. The rest of the line is cut by hand in
# _atx_heading_text: the single pattern "#[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*" that did both
# backtracks quadratically over a run of spaces ("# a" + 100 KB of spaces + "b": minutes).
_ATX_H1_OPEN = re.compile(r"[ ]{0,3}#[ \t]+")
_FENCE = re.compile(r"[ ]{0,3}(```|~~~)")


def decode_utf8_text(data: bytes) -> str:
    """*data* as UTF-8 text, a leading byte-order mark dropped; :class:`UnicodeDocumentError`
    (naming the first bad byte) otherwise: orderarchive does not guess legacy encodings."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise UnicodeDocumentError(
            f"text is not UTF-8 (invalid byte 0x{data[e.start]:02x} at offset {e.start})",
            hint="convert it first, e.g. iconv -f windows-1252 -t UTF-8",
        ) from e


def read_text(
    data: bytes,
    *,
    markdown: bool = False,
    charset: str | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> ReadDocument:
    """Read UTF-8 plain text or Markdown (a leading byte-order mark is dropped).

    The text layer is the text as written, split into paragraphs at blank lines: Markdown
    markup (``#``, ``*emphasis*``, links) is kept, because the layer is the source a reader
    quotes from and stripping markers would also strip real asterisks. A Markdown document's
    title is its first ``# `` heading outside code fences. Text that is not UTF-8 raises
    :class:`UnicodeDocumentError`; orderarchive does not guess legacy encodings.
    """
    media_type = MARKDOWN if markdown else TEXT
    if not data:
        raise EmptyDocumentError("empty document (0 bytes)")
    if charset is not None and charset.lower().replace("_", "-") not in ("utf-8", "utf8"):
        raise UnicodeDocumentError(
            f"text declared as {charset}: only UTF-8 text is read",
            hint="convert it first, e.g. iconv -f <charset> -t UTF-8",
        )
    text = decode_utf8_text(data)
    if len(text) > limits.max_text_chars:
        raise DocumentTooLargeError(
            f"text of {len(text)} characters is over the limit of {limits.max_text_chars}"
        )
    title = markdown_title(text) if markdown else None
    metadata = DocumentMetadata(title=title)
    layer = TextLayer.from_text(text)
    if layer.is_empty:
        return ReadDocument(
            media_type, metadata, None, TEXT_EXTRACTOR, no_text_reason="no text (only whitespace)"
        )
    return ReadDocument(media_type, metadata, layer, TEXT_EXTRACTOR)


def markdown_title(text: str) -> str | None:
    """The text of the first ATX level-1 heading (``# Title``) outside fenced code."""
    fenced = False
    for line in text.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
            continue
        heading = None if fenced else _atx_heading_text(line)
        if heading and heading.strip():
            return " ".join(heading.split())
    return None


def _atx_heading_text(line: str) -> str | None:
    """The text of *line* if it is an ATX level-1 heading, without its optional closing
    sequence of ``#`` (CommonMark §4.2); ``None`` otherwise. Linear in the line's length."""
    opening = _ATX_H1_OPEN.match(line)
    if opening is None:
        return None
    if "\n" in line:  # the heading is one line ("." never crosses a line feed)
        return None
    rest = line[opening.end() :].rstrip(" \t")
    before_closing = rest.rstrip("#")
    if before_closing != rest and before_closing[-1:] in (" ", "\t"):
        return before_closing.rstrip(" \t")  # "# Title ##": the closing sequence is dropped
    return rest


__all__ = [
    "DEFAULT_LIMITS",
    "HTML",
    "MARKDOWN",
    "MEDIA_TYPES",
    "PDF",
    "TEXT",
    "BrokenDocumentError",
    "DocumentFileError",
    "DocumentMetadata",
    "DocumentTimeoutError",
    "DocumentTooLargeError",
    "EmptyDocumentError",
    "EncryptedDocumentError",
    "Limits",
    "ReadDocument",
    "ReaderCrashError",
    "UnicodeDocumentError",
    "UnsupportedDocumentError",
    "read_document",
    "read_documents",
    "read_text",
    "sniff_media_type",
]
