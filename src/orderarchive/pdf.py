"""Reading PDFs with pypdf: page count, document information, and a text layer by page.

The only module that imports pypdf, and only inside functions, so importing orderarchive
does not load it. pypdf is a pure-Python parser of untrusted files; its documentation warns
that a broken file can raise any exception, so every exception at this boundary becomes a
:class:`~orderarchive.errors.DocumentError` (``raise ... from e``). Run :func:`read_pdf` on
untrusted files through :func:`orderarchive.documents.read_document`, which bounds its time
and memory in a worker process.

Decisions, as a clerk would take them:

* A file without ``%PDF-`` in its first 1024 bytes, or without ``%%EOF`` in its last 1024
  (Acrobat's rules; the second is how a truncated download shows), is broken.
* Damage that pypdf repairs while reading (cross-reference offsets that point to the wrong
  place, a wrong ``startxref``) is repaired, as every viewer does, and pypdf's messages are
  kept in :attr:`ReadDocument.warnings`. Refusing such files would keep the archive from
  holding the bytes an office actually published.
* A PDF encrypted with an owner password only (it opens without a prompt) is read; one that
  needs a user password raises :class:`EncryptedDocumentError`.
* A PDF whose pages hold no text (a scan) is read, with ``text=None`` and a reason.

Paragraphs: pypdf's ``extract_text()`` gives one line per text line and no blank lines, so
paragraph breaks come from the geometry of each line's first glyph run, reported by pypdf's
``visitor_text`` callback: a break where the distance to the next line is over 1.3 times the
page's median line distance (space between paragraphs), where the text jumps up the page (a
new column or block), or before a line indented by more than an em against the lines around
it (a first-line indent). Line breaks inside a paragraph are kept.
"""

from __future__ import annotations

import contextlib
import datetime
import io
import itertools
import logging
import math
import re
import statistics
import warnings
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

import attrs

from .documents import (
    DEFAULT_LIMITS,
    PDF,
    BrokenDocumentError,
    DocumentMetadata,
    DocumentTooLargeError,
    EncryptedDocumentError,
    Limits,
    ReadDocument,
)
from .errors import DocumentError
from .textlayer import TextLayer, split_paragraphs

NO_TEXT_REASON = "no extractable text (image-only PDF? it would need OCR)"

_WINDOW = 1024
_MAX_WARNINGS = 20
_PARAGRAPH_GAP = 1.3  # times the median line distance
_SAME_LINE = 0.5  # ems; smaller moves (super- and subscripts) are not line distances
_JUMP_UP = 0.5  # ems


def read_pdf(data: bytes, *, limits: Limits = DEFAULT_LIMITS) -> ReadDocument:
    """Read a PDF in this process (no time or memory bound beyond pypdf's own limits)."""
    if b"%PDF-" not in data[:_WINDOW]:
        raise BrokenDocumentError("not a PDF: no %PDF- header in its first 1024 bytes")
    if b"%%EOF" not in data[-_WINDOW:]:
        raise BrokenDocumentError(
            "truncated PDF: no %%EOF marker in its last 1024 bytes",
            hint="download the file again; an interrupted download looks like this",
        )
    # Imported here so that importing orderarchive never loads pypdf.
    import pypdf
    from pypdf.errors import DependencyError, FileNotDecryptedError, LimitReachedError

    with _pypdf_messages() as messages:
        try:
            document = _read(pypdf, data, limits)
        except DocumentError:
            raise
        except (MemoryError, LimitReachedError) as e:
            raise DocumentTooLargeError(f"PDF is too large to read: {_one_line(e)}") from e
        except DependencyError as e:
            raise EncryptedDocumentError(
                f"PDF is encrypted in a way that needs an optional library: {_one_line(e)}",
                hint="pip install cryptography",
            ) from e
        except FileNotDecryptedError as e:
            raise _encrypted() from e
        except RecursionError as e:
            raise BrokenDocumentError("broken PDF: objects nested too deeply") from e
        except Exception as e:  # pypdf: "broken files can raise anything"
            raise BrokenDocumentError(f"broken PDF: {_one_line(e)}") from e
    return attrs.evolve(document, warnings=_summarise(messages))


def _read(pypdf: Any, data: bytes, limits: Limits) -> ReadDocument:
    reader = pypdf.PdfReader(io.BytesIO(data), strict=False)  # tries the empty password
    if reader.is_encrypted and reader.decrypt("") == pypdf.PasswordType.NOT_DECRYPTED:
        raise _encrypted()
    page_count = len(reader.pages)
    if page_count > limits.max_pages:
        raise DocumentTooLargeError(
            f"PDF has {page_count} pages, over the limit of {limits.max_pages}"
        )
    metadata = _metadata(reader, page_count)
    extractor = f"pypdf/{pypdf.__version__}"
    pages: list[list[str]] = []
    chars = 0
    for page in reader.pages:
        paragraphs = page_paragraphs(page)
        chars += sum(len(p) for p in paragraphs)
        if chars > limits.max_text_chars:
            raise DocumentTooLargeError(
                f"PDF text is over the limit of {limits.max_text_chars} characters"
            )
        pages.append(paragraphs)
    layer = TextLayer.from_pages(pages)
    if layer.is_empty:
        return ReadDocument(PDF, metadata, None, extractor, no_text_reason=NO_TEXT_REASON)
    return ReadDocument(PDF, metadata, layer, extractor)


def _encrypted() -> EncryptedDocumentError:
    return EncryptedDocumentError(
        "PDF is encrypted and needs a password to open",
        hint="ask the issuer for an unencrypted copy, or decrypt it with "
        "`qpdf --decrypt --password=PASSWORD in.pdf out.pdf`",
    )


# -- metadata ----------------------------------------------------------------------------------

_PDF_DATE = re.compile(r"\s*(?:D:)?(\d{4})(\d{2})(\d{2})")


def _metadata(reader: Any, page_count: int) -> DocumentMetadata:
    """The document information dictionary; a field that does not parse is left out."""
    try:
        info = reader.metadata
    except Exception:  # a broken /Info does not make the document unreadable
        info = None
    if info is None:
        return DocumentMetadata(page_count=page_count)
    date = _pdf_date(_field(info, "/CreationDate")) or _pdf_date(_field(info, "/ModDate"))
    return DocumentMetadata(
        title=_field(info, "/Title"),
        author=_field(info, "/Author"),
        date=date,
        page_count=page_count,
        description=_field(info, "/Subject"),
    )


def _field(info: Any, key: str) -> str | None:
    try:
        value = info.get(key)
        if value is not None and hasattr(value, "get_object"):
            value = value.get_object()
        text = " ".join(str(value).split()) if isinstance(value, str) else ""
    except Exception:  # see _metadata
        return None
    return text or None


def _pdf_date(value: str | None) -> str | None:
    """``2026-02-05`` from ``D:20260205120000-05'00'`` (PDF 32000-1 §7.9.4), as written.

    The date is the one in the producer's time zone, not converted to UTC: it is the date
    the issuer's own machine recorded. A date without month and day is not a known date.
    """
    match = _PDF_DATE.match(value or "")
    if not match:
        return None
    year, month, day = (int(g) for g in match.groups())
    try:
        return datetime.date(year, month, day).isoformat()
    except ValueError:
        return None


# -- text --------------------------------------------------------------------------------------


class LineStart(NamedTuple):
    """Where a line's first glyph run starts, in user space, and which way is up."""

    x: float
    y: float
    up_x: float
    up_y: float
    em: float

    def advance_to(self, other: LineStart) -> float:
        """How far down the page *other* starts from this line, in user-space units."""
        return (self.x - other.x) * self.up_x + (self.y - other.y) * self.up_y

    def indent(self) -> float:
        """Position along the writing direction (up rotated a quarter turn clockwise)."""
        return self.x * self.up_y - self.y * self.up_x


def page_paragraphs(page: Any) -> list[str]:
    """A pypdf page's text as paragraphs, each keeping its line breaks."""
    parts: list[str] = []
    starts: dict[int, LineStart] = {}  # line number -> where its first visible text starts
    line = 0

    # Called for every piece of text pypdf emits (thousands per page): kept lean, and the
    # geometry is computed at once because pypdf updates its matrices in place.
    def visit(text: str, cm: list[float], tm: list[float], _font: Any, size: float) -> None:
        nonlocal line
        if not text:
            return
        parts.append(text)
        if line in starts or text.isspace():
            line += text.count("\n")
            return
        lead = len(text) - len(text.lstrip())
        line += text.count("\n", 0, lead)
        start = _line_start(cm, tm, size)
        if start is not None:
            starts[line] = start
        line += text.count("\n", lead)

    extracted = page.extract_text(visitor_text=visit)
    if "".join(parts) != extracted:  # a pypdf change in what it reports: fall back
        return split_paragraphs(extracted)
    return paragraphs_from_lines(
        [(text, starts.get(i)) for i, text in enumerate(extracted.split("\n"))]
    )


def _line_start(cm: list[float], tm: list[float], size: float) -> LineStart | None:
    if len(cm) < 6 or len(tm) < 6:
        return None
    a, b, c, d, e, f = cm[:6]
    tc, td, te, tf = tm[2:6]
    up_x, up_y = tc * a + td * c, tc * b + td * d
    scale = math.hypot(up_x, up_y) or 1.0
    return LineStart(
        te * a + tf * c + e, te * b + tf * d + f, up_x / scale, up_y / scale, abs(size) * scale
    )


def paragraphs_from_lines(lines: Sequence[tuple[str, LineStart | None]]) -> list[str]:
    """Group lines into paragraphs by vertical gaps and first-line indents.

    A line without a known start continues the paragraph; a blank line ends it.
    """
    placed = [(i, start) for i, (text, start) in enumerate(lines) if start and text.strip()]
    advances = [prev.advance_to(cur) for (_, prev), (_, cur) in itertools.pairwise(placed)]
    line_distances = [
        advance
        for advance, ((_, prev), (_, cur)) in zip(advances, itertools.pairwise(placed), strict=True)
        if advance > _SAME_LINE * max(prev.em, cur.em)
    ]
    gap = _PARAGRAPH_GAP * statistics.median(line_distances) if line_distances else math.inf
    breaks: set[int] = set()
    for n in range(1, len(placed)):
        prev, (i, cur) = placed[n - 1][1], placed[n]
        em = max(prev.em, cur.em, 1e-6)
        advance = advances[n - 1]
        if advance < -_JUMP_UP * em or advance > gap:
            breaks.add(i)
        elif n + 1 < len(placed):
            indent = cur.indent()
            if indent - prev.indent() > em and indent - placed[n + 1][1].indent() > em:
                breaks.add(i)
    paragraphs: list[list[str]] = [[]]
    for i, (text, _) in enumerate(lines):
        if i in breaks or not text.strip():
            paragraphs.append([])
        if text.strip():
            paragraphs[-1].append(text)
    return ["\n".join(p) for p in paragraphs if p]


# -- pypdf's messages --------------------------------------------------------------------------


class _Collect(logging.Handler):
    def __init__(self, into: list[str]) -> None:
        super().__init__(logging.WARNING)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        if len(self.into) < 1000:
            self.into.append(record.getMessage())


@contextlib.contextmanager
def _pypdf_messages() -> Iterator[list[str]]:
    """Collect pypdf's log messages and warnings instead of letting them reach the user.

    pypdf reports repairs through the ``pypdf`` logger and deprecations through
    :mod:`warnings`; under ``filterwarnings = error`` the latter would become exceptions.
    """
    messages: list[str] = []
    logger = logging.getLogger("pypdf")
    handler = _Collect(messages)
    # Not setLevel: it clears every logger's level cache, a cost paid per document.
    propagate = logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                yield messages
            finally:
                messages.extend(str(w.message) for w in caught)
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


def _summarise(messages: list[str]) -> tuple[str, ...]:
    unique = list(dict.fromkeys("pypdf: " + _one_line(m) for m in messages))
    if len(unique) > _MAX_WARNINGS:
        extra = len(unique) - _MAX_WARNINGS
        unique = [*unique[:_MAX_WARNINGS], f"pypdf: ... and {extra} more messages"]
    return tuple(unique)


def _one_line(error: object, limit: int = 200) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."
