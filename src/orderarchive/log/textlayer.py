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


def split_paragraphs(text: str) -> list[str]:
    """Split free text into normalised paragraphs at blank lines."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    parts = re.split(r"\n[ \t\u00a0]*\n", text)
    return [p for p in (normalise_paragraph(part) for part in parts) if p]


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
