"""What a reader of a copy sees: hidden and generated text in HTML and PDF copies.

A copy's extracted text is not always what its reader sees. An HTML copy can hide "not" in
``<span style="display:none">`` (the extractor reads it, the browser does not show it) or add a
word with CSS ``::after { content: ... }`` (the browser shows it, the extractor never reads it);
a PDF can draw words in the invisible render mode (``3 Tr``), in white on the white page,
outside the page box, or at a near-zero size. Comparing the extracted text alone would then
answer SAME TEXT for a copy that reads differently, so ``check`` reads copies with
:func:`read_copy`, which also finds such text (:class:`HiddenText`) and gives the text as
shown (:attr:`CopyReading.visible`). A copy with any finding is never SAME TEXT.

Ingest (``add``) is unchanged: the signed text layer is what the extractor reads, and the
rules for hidden text apply to copies under check. The rules, their limits and the tests that
hold them are in docs/THREATS.md, "Copies: what SAME TEXT means".
"""

from __future__ import annotations

from typing import Any

import attrs

from ..log.textlayer import TextLayer
from . import (
    DEFAULT_LIMITS,
    HTML,
    MARKDOWN,
    PDF,
    TEXT,
    EmptyDocumentError,
    Limits,
    ReadDocument,
    normalise_media_type,
    read_text,
    sniff_media_type,
)

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


def read_copy(
    data: bytes,
    *,
    filename: str | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> CopyReading:
    """Read a copy under check, bounded like :func:`~.documents.read_document` (PDF and HTML
    in a worker process). Raises a :class:`~.errors.DocumentError` as reading does."""
    if not data:
        raise EmptyDocumentError("empty document (0 bytes)")
    from . import _too_many_bytes

    if len(data) > limits.max_bytes:
        raise _too_many_bytes(len(data), limits)
    media_type = sniff_media_type(data, filename)
    base, _ = normalise_media_type(media_type)
    if base in (TEXT, MARKDOWN):
        return _read_copy(data, media_type, limits)
    from . import _sandbox

    return _sandbox.shared_pool().run(
        _read_copy,
        (data, media_type, limits),
        timeout=limits.timeout_seconds,
        memory_bytes=limits.memory_bytes,
    )


def _read_copy(data: bytes, media_type: str, limits: Limits) -> CopyReading:
    """The body of a sandbox job: read *data* and find its hidden text (unbounded here)."""
    base, charset = normalise_media_type(media_type)
    if base == PDF:
        from .pdf import read_pdf_copy

        return read_pdf_copy(data, limits=limits)
    if base == HTML:
        from .html import read_html_copy

        return read_html_copy(data, charset=charset, limits=limits)
    return CopyReading(read_text(data, markdown=base == MARKDOWN, charset=charset, limits=limits))
