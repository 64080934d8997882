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

from ..errors import DocumentError
from ..log.textlayer import TextLayer, normalise_paragraph, split_paragraphs
from ._base import (
    DEFAULT_LIMITS,
    HIDDEN,
    MAX_FINDINGS,
    PDF,
    UNCHECKED,
    BrokenDocumentError,
    CopyReading,
    DocumentMetadata,
    DocumentTooLargeError,
    EncryptedDocumentError,
    HiddenText,
    Limits,
    ReadDocument,
    finding,
)

NO_TEXT_REASON = "no extractable text (image-only PDF? it would need OCR)"

_WINDOW = 1024
_MAX_WARNINGS = 20
_PARAGRAPH_GAP = 1.3  # times the median line distance
_SAME_LINE = 0.5  # ems; smaller moves (super- and subscripts) are not line distances
_JUMP_UP = 0.5  # ems


def read_pdf(data: bytes, *, limits: Limits = DEFAULT_LIMITS) -> ReadDocument:
    """Read a PDF in this process (no time or memory bound beyond pypdf's own limits)."""
    return _read_checked(data, limits, None)


def read_pdf_copy(data: bytes, *, limits: Limits = DEFAULT_LIMITS) -> CopyReading:
    """Read a PDF copy under check: its text as :func:`read_pdf` reads it, the text drawn
    invisibly (see :func:`hidden_runs`), and the text as shown (hidden text left out)."""
    found: list[tuple[int, list[str], list[HiddenText]]] = []
    document = _read_checked(data, limits, found)
    if not found:
        return CopyReading(document)
    findings = [f for _, _, page_findings in found for f in page_findings]
    if document.text is None:
        return CopyReading(document, tuple(findings[:MAX_FINDINGS]), len(findings))
    pages = [list(page) for page in document.text.pages]
    for page_no, visible, _ in found:
        pages[page_no - 1] = visible
    return CopyReading(
        document, tuple(findings[:MAX_FINDINGS]), len(findings), TextLayer.from_pages(pages)
    )


def _read_checked(
    data: bytes, limits: Limits, hidden: list[tuple[int, list[str], list[HiddenText]]] | None
) -> ReadDocument:
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
            document = _read(pypdf, data, limits, hidden)
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


def _read(
    pypdf: Any,
    data: bytes,
    limits: Limits,
    hidden: list[tuple[int, list[str], list[HiddenText]]] | None = None,
) -> ReadDocument:
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
    numbered = 0
    layers_off = _layers_off(reader) if hidden is not None else None
    for page_no, page in enumerate(reader.pages, start=1):
        paragraphs = page_paragraphs(page)
        if hidden is not None:
            found = _page_hidden(reader, page, page_no, paragraphs, numbered)
            unchecked = _page_unchecked(page, page_no, layers_off)
            if unchecked:
                visible, findings = (found[1], found[2]) if found else (paragraphs, [])
                found = (page_no, visible, [*findings, *unchecked])
            if found is not None:
                hidden.append(found)
        numbered += len([p for p in paragraphs if p.strip()])
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


# -- hidden text in copies ---------------------------------------------------------------------

#: Effective font sizes below this (in points, after the text and page matrices) are unreadable.
MIN_VISIBLE_FONT_SIZE = 1.0
#: Horizontal scaling (Tz) below this percentage squeezes glyphs to nothing.
MIN_VISIBLE_SCALING = 1.0
#: A glyph origin further than this (points) outside the page box is not on the page.
_BOX_TOLERANCE = 1.0
#: Colour components this close to white are white on the (white) page.
_WHITE = 0.98
#: Constant alpha at or below this is transparent.
_TRANSPARENT = 0.05
_SHOW = frozenset({b"Tj", b"TJ", b"'", b'"'})
#: Nesting of form XObjects followed (a form drawing a form ...).
_MAX_FORM_DEPTH = 8
#: Content-stream operators walked per page, forms included; beyond, the page is unchecked.
MAX_WALKED_OPERATORS = 2_000_000
_Matrix = tuple[float, float, float, float, float, float]
_IDENTITY: _Matrix = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)


def _mul(m: _Matrix, n: _Matrix) -> _Matrix:
    """m × n for PDF's row-vector matrices (PDF 32000-1 §8.3.4)."""
    a, b, c, d, e, f = m
    a2, b2, c2, d2, e2, f2 = n
    return (
        a * a2 + b * c2, a * b2 + b * d2, c * a2 + d * c2, c * b2 + d * d2,
        e * a2 + f * c2 + e2, e * b2 + f * d2 + f2,
    )


def _nums(operands: Sequence[Any]) -> list[float] | None:
    try:
        values = [float(x) for x in operands]
    except (TypeError, ValueError):
        return None
    return values if all(math.isfinite(v) for v in values) else None


def _white(space: str, values: list[float] | None) -> bool:
    """Whether a colour in a device colour space is (nearly) white; unknown spaces are not."""
    if values is None:
        return False
    if space == "/DeviceGray" and len(values) == 1:
        return values[0] >= _WHITE
    if space == "/DeviceRGB" and len(values) == 3:
        return min(values) >= _WHITE
    if space == "/DeviceCMYK" and len(values) == 4:
        return max(values) <= 1 - _WHITE
    return False


@attrs.define
class _GState:
    ctm: _Matrix = _IDENTITY
    fill_space: str = "/DeviceGray"
    stroke_space: str = "/DeviceGray"
    fill: list[float] | None = attrs.Factory(lambda: [0.0])
    stroke: list[float] | None = attrs.Factory(lambda: [0.0])
    mode: int = 0
    size: float = 0.0
    scaling: float = 100.0
    leading: float = 0.0
    rise: float = 0.0
    fill_alpha: float = 1.0
    stroke_alpha: float = 1.0
    char_spacing: float = 0.0
    word_spacing: float = 0.0
    clipped_away: bool = False
    #: The clipping rectangles' intersection in device space (x0, y0, x1, y1), if any.
    clip: tuple[float, float, float, float] | None = None


def _box(page: Any) -> tuple[float, float, float, float] | None:
    """The visible page box: MediaBox ∩ CropBox, as (x0, y0, x1, y1)."""
    try:
        boxes = [page.mediabox, page.cropbox]
        x0 = max(min(float(b.left), float(b.right)) for b in boxes)
        x1 = min(max(float(b.left), float(b.right)) for b in boxes)
        y0 = max(min(float(b.bottom), float(b.top)) for b in boxes)
        y1 = min(max(float(b.bottom), float(b.top)) for b in boxes)
    except Exception:  # a broken box: positions cannot be judged
        return None
    return (x0, y0, x1, y1)


class _Budget:
    """Operators a page's hidden-text walk may visit, form XObjects included."""

    def __init__(self) -> None:
        self.left = MAX_WALKED_OPERATORS


def hidden_runs(  # noqa: PLR0915 (one branch per PDF operator)
    operations: Sequence[tuple[Any, bytes]],
    page: Any,
    *,
    reader: Any = None,
    resources: Any = None,
    state: _GState | None = None,
    depth: int = 0,
    budget: _Budget | None = None,
) -> dict[int, str]:
    """Text-showing operations (by index) drawn so that no reader sees them, and why.

    Follows the graphics and text state through the page's content stream (PDF 32000-1 §8.4,
    §9.3, §9.4): render mode 3 (invisible) or 7 (clip only); a fill (or, for stroke modes,
    stroke) colour that is white on the white page, or an ExtGState alpha near zero; an empty
    clipping rectangle; character, word or ``TJ`` spacing wider than the page; an effective
    font size under
    :data:`MIN_VISIBLE_FONT_SIZE` points or horizontal scaling under
    :data:`MIN_VISIBLE_SCALING` percent; a glyph origin outside the page box (MediaBox ∩
    CropBox). A form XObject (``Do``) that draws any text so is reported as a whole (its
    visible text goes with it: conservative). Limits (docs/THREATS.md): text covered by other
    drawing, clipped away, or on a coloured background is not judged here; a page whose walk
    exceeds :data:`MAX_WALKED_OPERATORS` is reported as unchecked (index -1).
    """
    box = _box(page)
    gs = attrs.evolve(state) if state is not None else _GState()
    if resources is None:
        resources = _get(page, "/Resources")
    budget = budget or _Budget()
    stack: list[_GState] = []
    tm = tlm = _IDENTITY
    found: dict[int, str] = {}
    path_parts = 0
    path_rect: list[float] | None = None
    budget.left -= len(operations)
    if budget.left < 0:
        return {-1: "content too complex to check for hidden text"}
    for n, (operands, op) in enumerate(operations):
        if op == b"Do" and operands and depth < _MAX_FORM_DEPTH and reader is not None:
            form = _form(reader, resources, operands[0])
            if form is not None:
                form_ops, form_resources, matrix = form
                inner = hidden_runs(
                    form_ops, page, reader=reader, resources=form_resources or resources,
                    state=attrs.evolve(gs, ctm=_mul(matrix, gs.ctm)), depth=depth + 1,
                    budget=budget,
                )
                if -1 in inner:
                    return inner
                if inner:
                    found[n] = f"inside form XObject {operands[0]}: " + next(iter(inner.values()))
        if op == b"q":
            stack.append(attrs.evolve(gs))
        elif op == b"Q":
            if stack:
                gs = stack.pop()
        elif op == b"cm":
            m = _nums(operands)
            if m is not None and len(m) == 6:
                gs.ctm = _mul((m[0], m[1], m[2], m[3], m[4], m[5]), gs.ctm)
        elif op == b"BT":
            tm = tlm = _IDENTITY
        elif op == b"Tf" and len(operands) == 2:
            size = _nums(operands[1:])
            if size is not None:
                gs.size = size[0]
        elif op in (b"Tr", b"Tz", b"TL", b"Ts") and len(operands) == 1:
            v = _nums(operands)
            if v is not None:
                if op == b"Tr":
                    gs.mode = int(v[0])
                elif op == b"Tz":
                    gs.scaling = v[0]
                elif op == b"TL":
                    gs.leading = v[0]
                else:
                    gs.rise = v[0]
        elif op in (b"Td", b"TD") and len(operands) == 2:
            v = _nums(operands)
            if v is not None:
                if op == b"TD":
                    gs.leading = -v[1]
                tlm = _mul((1.0, 0.0, 0.0, 1.0, v[0], v[1]), tlm)
                tm = tlm
        elif op == b"Tm" and len(operands) == 6:
            v = _nums(operands)
            if v is not None:
                tm = tlm = (v[0], v[1], v[2], v[3], v[4], v[5])
        elif op in (b"T*", b"'", b'"'):
            tlm = _mul((1.0, 0.0, 0.0, 1.0, 0.0, -gs.leading), tlm)
            tm = tlm
        elif op in (b"g", b"rg", b"k"):
            gs.fill_space = {b"g": "/DeviceGray", b"rg": "/DeviceRGB", b"k": "/DeviceCMYK"}[op]
            gs.fill = _nums(operands)
        elif op in (b"G", b"RG", b"K"):
            gs.stroke_space = {b"G": "/DeviceGray", b"RG": "/DeviceRGB", b"K": "/DeviceCMYK"}[op]
            gs.stroke = _nums(operands)
        elif op in (b"cs", b"CS") and operands:
            space = str(operands[0])
            if op == b"cs":
                gs.fill_space, gs.fill = space, None
            else:
                gs.stroke_space, gs.stroke = space, None
        elif op in (b"sc", b"scn"):
            gs.fill = _nums(operands)
        elif op in (b"SC", b"SCN"):
            gs.stroke = _nums(operands)
        elif op in (b"Tc", b"Tw") and len(operands) == 1:
            v = _nums(operands)
            if v is not None:
                if op == b"Tc":
                    gs.char_spacing = v[0]
                else:
                    gs.word_spacing = v[0]
        elif op == b'"' and len(operands) == 3:
            v = _nums(operands[:2])
            if v is not None:
                gs.word_spacing, gs.char_spacing = v
        elif op == b"gs" and operands:
            _ext_gstate(gs, resources, operands[0])
        elif op == b"re":
            path_rect = _nums(operands) if len(operands) == 4 else None
            path_parts += 1
        elif op in (b"m", b"l", b"c", b"v", b"y", b"h"):
            path_parts += 1
        elif op in (b"W", b"W*"):
            if path_parts == 1 and path_rect is not None:
                corner = _mul((1.0, 0.0, 0.0, 1.0, path_rect[0], path_rect[1]), gs.ctm)
                far = _mul((1.0, 0.0, 0.0, 1.0, path_rect[0] + path_rect[2],
                            path_rect[1] + path_rect[3]), gs.ctm)
                if abs(far[4] - corner[4]) < 1 or abs(far[5] - corner[5]) < 1:
                    gs.clipped_away = True
                gs.clip = _intersect(gs.clip, _device_box(path_rect, gs.ctm))
        elif op in (b"n", b"f", b"F", b"f*", b"S", b"s", b"B", b"B*", b"b", b"b*"):
            path_parts, path_rect = 0, None
        if op in _SHOW:
            reason = _why_hidden(gs, tm, box) or _spread_away(gs, tm, box, operands, op)
            if reason is not None:
                found[n] = reason
    return found


def _device_box(rect: list[float], ctm: _Matrix) -> tuple[float, float, float, float]:
    """The device-space bounding box of the user-space rectangle *rect* (x, y, w, h)."""
    x, y, w, h = rect
    points = [_mul((1.0, 0.0, 0.0, 1.0, px, py), ctm)[4:] for px, py in
              ((x, y), (x + w, y), (x, y + h), (x + w, y + h))]
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    return min(xs), min(ys), max(xs), max(ys)


def _intersect(
    a: tuple[float, float, float, float] | None, b: tuple[float, float, float, float]
) -> tuple[float, float, float, float]:
    if a is None:
        return b
    return max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])


def _ext_gstate(gs: _GState, resources: Any, name: Any) -> None:
    """Apply an ExtGState's constant alpha (/ca fill, /CA stroke; PDF 32000-1 §11.6.4.4)."""
    states = _get(resources, "/ExtGState") if resources is not None else None
    state = _get(states, str(name)) if states is not None else None
    if state is None:
        return
    for key, attr in (("/ca", "fill_alpha"), ("/CA", "stroke_alpha")):
        value = _nums([_get(state, key)]) if _get(state, key) is not None else None
        if value is not None:
            setattr(gs, attr, value[0])


def _spread_away(
    gs: _GState,
    tm: _Matrix,
    box: tuple[float, float, float, float] | None,
    operands: Sequence[Any],
    op: bytes,
) -> str | None:
    """Text pushed off the page by spacing: character or word spacing, or a TJ adjustment,
    larger than the page is wide."""
    if box is None:
        return None
    trm = _mul(tm, gs.ctm)
    scale = math.hypot(trm[0], trm[1]) * abs(gs.scaling) / 100
    width = max(box[2] - box[0], box[3] - box[1])
    if max(abs(gs.char_spacing), abs(gs.word_spacing)) * scale > width:
        return "character or word spacing wider than the page"
    if op == b"TJ" and operands and isinstance(operands[0], list):
        numbers = _nums([x for x in operands[0] if not isinstance(x, (str, bytes))])
        if numbers and max(abs(x) for x in numbers) / 1000 * abs(gs.size) * scale > width:
            return "TJ spacing moves text off the page"
    return None


def _get(obj: Any, key: str) -> Any:
    try:
        value = obj.get(key)
        return value.get_object() if value is not None else None
    except Exception:  # a broken dictionary: nothing to follow
        return None


def _form(reader: Any, resources: Any, name: Any) -> tuple[list[Any], Any, _Matrix] | None:
    """A form XObject's operations, resources and matrix, if *name* is one that holds text."""
    from pypdf.generic import ContentStream

    xobjects = _get(resources, "/XObject") if resources is not None else None
    xobject = _get(xobjects, str(name)) if xobjects is not None else None
    if xobject is None or _get(xobject, "/Subtype") != "/Form":
        return None
    try:
        operations = list(ContentStream(xobject, reader).operations)
    except Exception:  # an unreadable form draws nothing pypdf could extract either
        return None
    if not any(op in _SHOW or op == b"Do" for _, op in operations):
        return None
    m = _nums(_get(xobject, "/Matrix") or [1, 0, 0, 1, 0, 0])
    matrix = (m[0], m[1], m[2], m[3], m[4], m[5]) if m is not None and len(m) == 6 else _IDENTITY
    return operations, _get(xobject, "/Resources"), matrix


def _why_hidden(  # noqa: PLR0911 (one return per way of hiding)
    gs: _GState, tm: _Matrix, box: tuple[float, float, float, float] | None
) -> str | None:
    if gs.mode in (3, 7):
        return f"render mode {gs.mode} (invisible)"
    if gs.clipped_away:
        return "clipped away (empty clipping rectangle)"
    trm = _mul((1.0, 0.0, 0.0, 1.0, 0.0, gs.rise), _mul(tm, gs.ctm))
    size = abs(gs.size) * math.hypot(trm[2], trm[3])
    if size < MIN_VISIBLE_FONT_SIZE:
        return f"font size {size:.2g} pt (near zero)"
    if abs(gs.scaling) * math.hypot(trm[0], trm[1]) < MIN_VISIBLE_SCALING:
        return f"horizontal scaling {gs.scaling:.2g}% (squeezed to nothing)"
    if box is not None:
        x, y = trm[4], trm[5]
        x0, y0, x1, y1 = box
        t = _BOX_TOLERANCE
        if not (x0 - t <= x <= x1 + t and y0 - t <= y <= y1 + t):
            return f"outside the page box at ({x:.0f}, {y:.0f})"
    if gs.clip is not None:
        # A glyph starting up to one em outside may still show in part: only text whose
        # origin lies farther out than that is clipped away (conservative the other way).
        x, y = trm[4], trm[5]
        x0, y0, x1, y1 = gs.clip
        t = max(_BOX_TOLERANCE, size)
        if not (x0 - t <= x <= x1 + t and y0 - t <= y <= y1 + t):
            return f"outside its clipping rectangle at ({x:.0f}, {y:.0f})"
    fills = gs.mode in (0, 2, 4, 6)
    strokes = gs.mode in (1, 2, 5, 6)
    fill_white = _white(gs.fill_space, gs.fill) or gs.fill_alpha <= _TRANSPARENT
    stroke_white = _white(gs.stroke_space, gs.stroke) or gs.stroke_alpha <= _TRANSPARENT
    if (not fills or fill_white) and (not strokes or stroke_white):
        transparent = (fills and gs.fill_alpha <= _TRANSPARENT) or (
            strokes and gs.stroke_alpha <= _TRANSPARENT
        )
        if transparent:
            return "transparent text (ExtGState alpha)"
        return "white text on the white page"
    return None


#: Annotation subtypes that draw nothing over the page text (a link is an area to click).
_HARMLESS_ANNOTATIONS = frozenset({"/Link", "/Popup"})
_ANNOTATION_HIDDEN = 2  # annotation flags (PDF 32000-1 §12.5.3): Hidden
_ANNOTATION_NO_VIEW = 32  # NoView


def _layers_off(reader: Any) -> str | None:
    """Why the document may hide content in optional content groups (PDF 32000-1 §8.11), or
    None: a default configuration that turns any group off."""
    catalog = _get(reader.trailer, "/Root")
    properties = _get(catalog, "/OCProperties") if catalog is not None else None
    if properties is None:
        return None
    default = _get(properties, "/D")
    if default is None:
        return None
    off = _get(default, "/OFF")
    base = _get(default, "/BaseState")
    try:
        any_off = off is not None and len(off) > 0
    except TypeError:  # not an array: read conservatively, as if something were off
        any_off = True
    if any_off or str(base) == "/OFF":
        return "optional content (layers) turned off: what they hide cannot be checked"
    return None


def _page_unchecked(page: Any, page_no: int, layers_off: str | None) -> list[HiddenText]:
    """What a viewer draws on *page* that the text extractor does not read, as findings:
    annotations other than links (PDF 32000-1 §12.5: their appearance can show words or cover
    the text) and, when some optional content is off, the page's marked optional content."""
    findings: list[HiddenText] = []
    annotations = _get(page, "/Annots")
    shown: list[str] = []
    for ref in annotations if annotations is not None else ():
        try:
            annotation = ref.get_object()
            subtype = str(annotation.get("/Subtype"))
            flags = int(annotation.get("/F", 0))
        except Exception:  # a broken annotation: a viewer may still draw something
            subtype, flags = "(unreadable)", 0
        if subtype in _HARMLESS_ANNOTATIONS or flags & (_ANNOTATION_HIDDEN | _ANNOTATION_NO_VIEW):
            continue
        shown.append(subtype.lstrip("/"))
    if shown:
        names = ", ".join(dict.fromkeys(shown))
        findings.append(finding(
            UNCHECKED, "", f"annotations drawn over the page ({names}): what they show or "
            "cover cannot be checked", page_no))
    if layers_off is not None and _uses_optional_content(page):
        findings.append(finding(UNCHECKED, "", layers_off, page_no))
    return findings


def _uses_optional_content(page: Any) -> bool:
    resources = _get(page, "/Resources")
    if resources is not None and _get(resources, "/Properties") is not None:
        return True
    xobjects = _get(resources, "/XObject") if resources is not None else None
    for name in xobjects if xobjects is not None else ():
        xobject = _get(xobjects, name)
        if xobject is not None and _get(xobject, "/OC") is not None:
            return True
    return False


def _page_hidden(
    reader: Any, page: Any, page_no: int, paragraphs: list[str], before: int
) -> tuple[int, list[str], list[HiddenText]] | None:
    """The page's hidden text as findings, and its paragraphs as shown; None if none hidden."""
    from pypdf.generic import ContentStream

    contents = page.get_contents()
    if contents is None:
        return None
    operations = list(ContentStream(contents, reader).operations)
    hidden = hidden_runs(operations, page, reader=reader)
    if not hidden:
        return None
    if -1 in hidden:
        return (page_no, paragraphs, [finding(UNCHECKED, "", hidden[-1], page_no)])
    drawing = {n for n, (_, op) in enumerate(operations) if op in _SHOW or op == b"Do"}
    findings: list[HiddenText] = []
    for reason in dict.fromkeys(hidden.values()):
        keep = {n for n, r in hidden.items() if r == reason}
        text = " ".join(_extract(reader, page, _without_text(operations, drawing - keep)).split())
        if not text:
            continue
        paragraph = _paragraph_of(text, paragraphs, before)
        findings.append(finding(HIDDEN, text, reason, page_no, paragraph))
    visible = _paragraphs_of(reader, page, _without_text(operations, set(hidden)))
    return (page_no, visible, findings) if findings else None


def _without_text(operations: list[tuple[Any, bytes]], drop: set[int]) -> list[tuple[Any, bytes]]:
    """*operations* with the text-showing ones in *drop* removed (their line moves kept)."""
    out: list[tuple[Any, bytes]] = []
    for n, (operands, op) in enumerate(operations):
        if n not in drop:
            out.append((operands, op))
        elif op == b"'":
            out.append(([], b"T*"))
        elif op == b'"' and len(operands) == 3:
            out.extend([([operands[0]], b"Tw"), ([operands[1]], b"Tc"), ([], b"T*")])
    return out


def _detached(reader: Any, page: Any, operations: list[tuple[Any, bytes]]) -> Any:
    from pypdf import PageObject
    from pypdf.generic import ContentStream, NameObject

    copy = PageObject(pdf=reader)
    for key, value in page.items():
        if key != "/Contents":
            copy[NameObject(key)] = value
    stream = ContentStream(None, reader)
    stream.operations = operations
    copy[NameObject("/Contents")] = stream
    return copy


def _extract(reader: Any, page: Any, operations: list[tuple[Any, bytes]]) -> str:
    return str(_detached(reader, page, operations).extract_text())


def _paragraphs_of(reader: Any, page: Any, operations: list[tuple[Any, bytes]]) -> list[str]:
    return page_paragraphs(_detached(reader, page, operations))


def _paragraph_of(text: str, paragraphs: list[str], before: int) -> int | None:
    """The number of the first paragraph on the page holding *text* (else its first word)."""
    words = text.split()
    for needle in (" ".join(words), words[0] if words else ""):
        if not needle:
            continue
        pattern = re.compile(r"(?<!\w)" + re.escape(needle) + r"(?!\w)")
        n = before
        for p in paragraphs:
            if not p.strip():
                continue
            n += 1
            if pattern.search(" ".join(normalise_paragraph(p).split())):
                return n
    return None


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
