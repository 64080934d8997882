"""The signed text layer: a document's extracted text with its page and paragraph boundaries.

Executive orders circulate as re-saved PDFs and pasted text, so byte identity alone cannot say
"this is the order". At ingest the text is extracted once, normalised, and stored as its own
content-addressed object whose hash goes into the signed entry; it is never re-extracted at
verify time (extraction output changes between pypdf versions).

Wire format (``text/plain; charset=utf-8``, documented in docs/FORMAT.md): pages joined by
``"\\n\\f\\n"``, paragraphs within a page joined by ``"\\n\\n"``, lines within a paragraph by
``"\\n"``; the whole ends with one ``"\\n"`` unless the layer is empty (zero bytes). Text is NFC;
there is no ``\\r``, no tab, no other control character, no trailing space on a line, no empty
line inside a paragraph and no empty paragraph. A page may hold no paragraphs (a blank page),
written as an empty string between its separators.

Locators use 1-based page numbers (meaningful for PDFs; other media have a single page),
1-based paragraph numbers counted across the whole document, and character offsets (Unicode
code points) into the decoded layer string.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Sequence

import attrs

from ..errors import MalformedError

PAGE_SEPARATOR = "\n\f\n"
PARAGRAPH_SEPARATOR = "\n\n"

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")


def normalise_paragraph(text: str) -> str:
    """Normalise one paragraph: NFC, no control characters, single spaces, trimmed lines.

    Line breaks inside the paragraph are kept (quote checking reports hyphenation across
    line breaks); blank lines are removed because they would end the paragraph.
    """
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    # Neither pattern matches "\n", so substituting in the whole paragraph is substituting in
    # each line. Most paragraphs need neither: skip the substitutions (the space rule rewrote
    # every single space, the bulk of ingest time for HTML) when a scan proves them no-ops.
    if _CONTROL.search(text):
        text = _CONTROL.sub(" ", text)
    if not text.isascii() or "  " in text or "\t" in text:
        text = _SPACES.sub(" ", text)
    return "\n".join(stripped for line in text.split("\n") if (stripped := line.strip()))


_PARAGRAPH_BREAK = re.compile(r"\n[ \t\u00a0]*\n")


def _strip_lines(text: str) -> str:
    return "\n".join(stripped for line in text.split("\n") if (stripped := line.strip()))


def split_paragraphs(text: str) -> list[str]:
    """Split free text into normalised paragraphs at blank lines."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if (
        "  " not in text
        and text.replace("\n", "").isprintable()
        and unicodedata.is_normalized("NFC", text)
    ):
        # Most text needs no rewriting, and three scans of the whole text (in C) show it.
        # Printable excludes every control character (Cc, and U+2028/U+2029) and every space
        # but U+0020 (the tab, Zs): with no run of two spaces either, neither substitution of
        # normalise_paragraph changes anything. Each part lies between two "\n" (a character
        # NFC never composes or reorders), so a whole text in NFC has every part in NFC. What
        # is left of normalise_paragraph is stripping lines — exactly what is done here
        # (tests/test_normalise_fast_paths.py compares both ways on hostile text).
        if " \n" in text or "\n " in text or text[:1] == " " or text[-1:] == " ":
            return [p for p in map(_strip_lines, _PARAGRAPH_BREAK.split(text)) if p]
        # No line starts or ends with a space either (and " " is the only space left), so
        # the blank lines are the runs of two or more "\n" and no line needs stripping.
        return [p for p in (part.strip("\n") for part in text.split("\n\n")) if p]
    return [p for p in map(normalise_paragraph, _PARAGRAPH_BREAK.split(text)) if p]


@attrs.frozen
class Paragraph:
    """One paragraph with its place in the document."""

    page: int
    number: int
    start: int
    text: str

    @property
    def end(self) -> int:
        return self.start + len(self.text)


@attrs.frozen
class TextLayer:
    """Pages of paragraphs, already normalised. Build with :meth:`from_pages`."""

    pages: tuple[tuple[str, ...], ...]

    @classmethod
    def from_pages(cls, pages: Iterable[Sequence[str] | str]) -> TextLayer:
        """Normalise *pages*; each is a list of paragraphs or a free text split at blank lines."""
        built: list[tuple[str, ...]] = []
        for page in pages:
            if isinstance(page, str):
                built.append(tuple(split_paragraphs(page)))
            else:
                paras = [normalise_paragraph(p) for p in page]
                built.append(tuple(p for p in paras if p))
        return cls(pages=tuple(built))

    @classmethod
    def from_text(cls, text: str) -> TextLayer:
        """A single-page layer from free text (articles, plain text, Markdown)."""
        return cls.from_pages([text])

    @property
    def is_empty(self) -> bool:
        return not any(self.pages)

    def text(self) -> str:
        """The decoded layer string that locators' character offsets index into."""
        if self.is_empty:
            return ""
        return PAGE_SEPARATOR.join(PARAGRAPH_SEPARATOR.join(p) for p in self.pages) + "\n"

    def to_bytes(self) -> bytes:
        return self.text().encode("utf-8")

    @classmethod
    def from_bytes(cls, data: bytes) -> TextLayer:
        """Parse a stored layer, refusing anything :meth:`to_bytes` would not have written."""
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise MalformedError(f"text layer is not UTF-8 (byte {e.start})") from e
        if text == "":
            return cls(pages=())
        if not text.endswith("\n"):
            raise MalformedError("text layer does not end with a newline")
        pages = tuple(
            tuple(p for p in page.split(PARAGRAPH_SEPARATOR) if p != "")
            for page in text[:-1].split(PAGE_SEPARATOR)
        )
        layer = cls(pages=pages)
        if layer.to_bytes() != data or cls.from_pages(pages).pages != pages:
            raise MalformedError("text layer is not in normalised form")
        return layer

    def paragraphs(self) -> list[Paragraph]:
        """Every paragraph with its page, 1-based number and start offset in :meth:`text`."""
        result: list[Paragraph] = []
        offset = 0
        number = 0
        for page_no, page in enumerate(self.pages, start=1):
            if page_no > 1:
                offset += len(PAGE_SEPARATOR)
            for i, para in enumerate(page):
                if i:
                    offset += len(PARAGRAPH_SEPARATOR)
                number += 1
                result.append(Paragraph(page=page_no, number=number, start=offset, text=para))
                offset += len(para)
        return result

    def locate(self, offset: int) -> Paragraph | None:
        """The paragraph containing character *offset* of :meth:`text`, if any."""
        for para in self.paragraphs():
            if para.start <= offset < para.end:
                return para
        return None


# -- checking stored layers fast ----------------------------------------------------------------

# A text layer is valid when TextLayer.from_bytes accepts it (docs/FORMAT.md §9). That splits
# the layer and re-normalises every paragraph with regular expressions: ~0.7 ms for a 20 KB
# layer, more than all the other checks of its entry together. verify instead scans the bytes
# for anything normalisation could change, and asks from_bytes, whose answer is final, only
# about layers the scan does not pass. The scan passes a layer that is
#
# * UTF-8 and NFC (unicodedata.is_normalized; paragraphs are separated by LF, which never
#   composes, so the whole is NFC iff every paragraph is);
# * free of C0/C1 controls other than LF and FF, U+2028/9, and every other character that
#   str.strip() removes or the space-collapsing rule rewrites (tab, no-break and Unicode
#   spaces);
# * made of single spaces between non-space characters: no double space and no space next
#   to a LF (so no line starts or ends with one);
# * LF-structured: no three LFs in a row (an empty line or empty paragraph), FF only inside
#   "\n\f\n" page separators, and no page separator next to another LF or FF (an empty page
#   or paragraph); the body neither starts nor ends with a space, LF or FF.
#
# Each such layer splits into non-empty, already normalised paragraphs and joins back to the
# same bytes, which is what from_bytes requires. ASCII characters are single bytes in UTF-8
# and never part of a longer sequence, so byte adjacency is character adjacency.
#
# How the layout is scanned, cheaply: every pass over a 20 KB layer costs ~10-35 µs in this
# interpreter (a substring test such as b"  " in data, bytes.count, a big-integer shift; a
# regular expression with alternatives is slower still), so the space/LF rules are folded
# into one multiplication on a class-per-byte image of the layer, and form feeds, rare and
# only in paged documents, are checked at each FF found by memchr (_plain_pages).
#
# With the codes below (space 3, LF 2, anything else 0; ASCII controls are refused first),
# multiplying the image x (byte k = code of character k) by 15 + 42·2**8 + 10·2**16 gives at
# byte k the weighted sum 15·code(k) + 42·code(k-1) + 10·code(k-2): a window of three
# characters ending at k. Every window that ends in a forbidden pair ("  ": at least 171,
# " \n": 156, "\n ": 129) or is "\n\n\n" (134) reaches 128; every other window stays below
# (at most 126, a space between two other characters), and no sum reaches 256, so no byte
# carries into the next. One AND with 0x80 in every byte finds any forbidden window; a test
# checks the arithmetic against the rules for every short string of the four classes.
_SUSPECT_CHARACTER = re.compile(
    "[\x00-\x09\x0b\x0d-\x1f\x7f-\x9f\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
)
_ASCII = bytes(range(0x80))
_SPACE_CODE, _LF_CODE, _CONTROL_CODE = 3, 2, 0x80
_CONTROL_BYTE = bytes((_CONTROL_CODE,))
_WINDOW = 15 + (42 << 8) + (10 << 16)  # the weights of characters k, k-1 and k-2
_CLASSES = bytes(
    _SPACE_CODE if b == 0x20 else _LF_CODE if b == 0x0A else 0 if b == 0x0C
    else _CONTROL_CODE if b < 0x20 or b == 0x7F else 0
    for b in range(256)
)
_EDGES = (b" ", b"\n", b"\f")
_PAGE_ENDS = (*_EDGES, b"")  # b"": the layer ends at the separator
_FAST_SCAN_LIMIT = 1 << 22  # larger layers go to from_bytes: bounded memory for the scan


def plainly_normalised(data: bytes) -> bool:
    """Whether the stored layer *data* passes the scan described above."""
    # The scans take the whole layer, final LF included, rather than a copy of the body
    # without it (a copy costs ~0.1 ns a byte, 5% of the scan): the body neither starts nor
    # ends with a space, LF or FF (the edge tests come first), so that LF completes no
    # forbidden window or page separator, composes with nothing (NFC) and ends any UTF-8
    # sequence left open (invalid with or without it).
    return (
        1 < len(data) <= _FAST_SCAN_LIMIT + 1
        and data[-1] == 0x0A
        and data[:1] not in _EDGES
        and data[-2:-1] not in _EDGES
        and (data.isascii() or _plain_unicode(data))
        and _plain_layout(data)
        and (b"\f" not in data or _plain_pages(data))
    )


def _plain_unicode(body: bytes) -> bool:
    """UTF-8, NFC, and none of the non-ASCII characters normalisation rewrites."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    others = body.translate(None, _ASCII).decode("utf-8")  # the non-ASCII characters alone
    if _SUSPECT_CHARACTER.search(others) is not None:
        return False
    return all(map(_nfc_inert, set(others))) or unicodedata.is_normalized("NFC", text)


@functools.lru_cache(maxsize=4096)
def _nfc_inert(char: str) -> bool:
    """Whether NFC leaves *char* alone wherever it stands (UAX #15 quick check "Yes" and
    canonical combining class 0, like every ASCII character).

    unicodedata.is_normalized walks every character of the layer (~40 µs for 20 KB); a text
    made only of inert characters passes the quick check, so it is NFC, and a layer holds
    few distinct non-ASCII characters. Quick check "No" characters change alone (NFC maps
    them elsewhere). The "Maybe" characters, the second halves of canonical compositions,
    are all combining marks (category M) or conjoining Hangul vowels and final consonants
    (U+1161-U+11C2): both are excluded, as a test checks against the whole Unicode database.
    """
    return (
        unicodedata.combining(char) == 0
        and not unicodedata.category(char).startswith("M")
        and not 0x1100 <= ord(char) <= 0x11FF
        and unicodedata.is_normalized("NFC", char)
    )


def _plain_layout(body: bytes) -> bool:
    """No ASCII control but LF and FF, no double space, no space next to a LF, no three LFs
    in a row (form feeds: _plain_pages)."""
    classes = body.translate(_CLASSES)
    if _CONTROL_BYTE in classes:
        return False
    windows = int.from_bytes(classes, "little") * _WINDOW
    return not windows & _high_bits(len(body) + 2)


_high_cache = [0]


def _high_bits(length: int) -> int:
    """An integer with bit 7 set in each of its first *length* bytes (at least), kept for the
    next layer; & with a shorter integer costs only the shorter one's length."""
    mask = _high_cache[0]
    if mask.bit_length() < 8 * length:
        size = max(length, min(2 * length, _FAST_SCAN_LIMIT + 2), 1 << 16)
        mask = _high_cache[0] = int.from_bytes(b"\x80" * size, "little")
    return mask


def _plain_pages(body: bytes) -> bool:
    """Every FF in a LF-FF-LF page separator with a character other than space, LF or FF on
    either side: no empty page, no empty paragraph before or after a page break."""
    at = body.find(b"\f")  # memchr; a paged layer has one FF per page
    while at >= 0:
        if (
            at < 2
            or body[at - 1 : at + 2] != b"\n\f\n"
            or body[at - 2 : at - 1] in _EDGES
            or body[at + 2 : at + 3] in _PAGE_ENDS
        ):
            return False
        at = body.find(b"\f", at + 1)
    return True


def text_layer_ok(data: bytes) -> bool:
    """Whether *data* is a valid stored text layer (as ``TextLayer.from_bytes`` decides)."""
    if not data or plainly_normalised(data):
        return True  # the empty layer, or one the scan passes
    try:
        TextLayer.from_bytes(data)
    except MalformedError:
        return False
    return True
