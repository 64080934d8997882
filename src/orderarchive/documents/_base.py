"""What the document readers share: media types, limits, errors, the read-document values,
sniffing, plain text and Markdown, and the values of a copy's findings (hidden text).

Private to :mod:`orderarchive.documents`: the package ``__init__`` (the dispatcher, which
re-exports the public names), the readers (:mod:`.pdf`, :mod:`.html`), :mod:`.visible` and
:mod:`._sandbox` import this module, and none of them imports the package ``__init__``, so
there is no import cycle inside the package (tests/test_architecture.py).
"""

from __future__ import annotations

import os
import re
from typing import Any

import attrs

from ..errors import BrokenDocumentError as BrokenDocumentError  # noqa: PLC0414 (defined in errors.py)
from ..errors import DocumentFileError as DocumentFileError  # noqa: PLC0414 (defined in errors.py)
from ..errors import DocumentTimeoutError as DocumentTimeoutError  # noqa: PLC0414 (defined in errors.py)
from ..errors import DocumentTooLargeError as DocumentTooLargeError  # noqa: PLC0414 (defined in errors.py)
from ..errors import EmptyDocumentError as EmptyDocumentError  # noqa: PLC0414 (defined in errors.py)
from ..errors import EncryptedDocumentError as EncryptedDocumentError  # noqa: PLC0414 (defined in errors.py)
from ..errors import ReaderCrashError as ReaderCrashError  # noqa: PLC0414 (defined in errors.py)
from ..errors import UnicodeDocumentError as UnicodeDocumentError  # noqa: PLC0414 (defined in errors.py)
from ..errors import UnsupportedDocumentError as UnsupportedDocumentError  # noqa: PLC0414 (defined in errors.py)
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



def too_many_bytes(size: int, limits: Limits) -> DocumentTooLargeError:
    """The error for a document of *size* bytes over *limits*."""
    return DocumentTooLargeError(
        f"document of {size} bytes is over the limit of {limits.max_bytes} bytes"
    )


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


# -- a copy's findings (see visible.py) ----------------------------------------

#: Kinds of findings, as shown by ``check``.
HIDDEN = "hidden"  # in the text, not shown (display:none, 3 Tr, white on white, ...)
GENERATED = "generated"  # shown, not in the text (CSS ::before/::after content)
UNCHECKED = "unchecked"  # can change what is shown and cannot be checked offline (scripts)

#: Findings kept per copy (the count of all of them is always given).
MAX_FINDINGS = 200
#: Characters of a finding's text kept for display.
MAX_FINDING_CHARS = 200


@attrs.frozen
class HiddenText:
    """Text in a copy that is read but not shown, or shown but not read, and why.

    ``page`` and ``paragraph`` locate it in the copy (differences are located in the official
    text): for HTML the paragraph of the text as shown, for PDF the page and the paragraph of
    the extracted text that holds it.
    """

    kind: str  # HIDDEN | GENERATED | UNCHECKED
    text: str
    reason: str  # e.g. "display:none", "render mode 3 (invisible)"
    page: int | None = None
    paragraph: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)

    def describe(self, of: str = "the copy") -> str:
        """One line for the user; *of* names the document the finding is in."""
        where = []
        if self.page is not None:
            where.append(f"page {self.page}")
        if self.paragraph is not None:
            where.append(f"paragraph {self.paragraph}")
        place = f"{', '.join(where)} of {of}" if where else of
        if self.kind == GENERATED:
            return (f"{place}: generated text \u201c{self.text}\u201d shown, not in the text "
                    f"({self.reason})")
        if self.kind == UNCHECKED:
            return f"{place}: {self.reason}" + (f": \u201c{self.text}\u201d" if self.text else "")
        return f"{place}: hidden text \u201c{self.text}\u201d ({self.reason})"


def finding(
    kind: str, text: str, reason: str, page: int | None = None, paragraph: int | None = None
) -> HiddenText:
    """A :class:`HiddenText` with its text collapsed and cut for display."""
    shown = " ".join(text.split())
    if len(shown) > MAX_FINDING_CHARS:
        shown = shown[: MAX_FINDING_CHARS - 1] + "\u2026"
    return HiddenText(kind, shown, reason, page, paragraph)


@attrs.frozen
class CopyReading:
    """A copy as read for checking: the document, its findings, and its text as shown.

    :attr:`visible` is the text layer with hidden text left out and generated text put in;
    it is ``None`` when there is nothing hidden (the shown text is :attr:`document`'s text).
    """

    document: ReadDocument
    hidden: tuple[HiddenText, ...] = ()
    hidden_count: int = 0
    visible: TextLayer | None = None
