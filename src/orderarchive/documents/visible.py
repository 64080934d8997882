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

from ._base import (
    DEFAULT_LIMITS,
    GENERATED,
    HIDDEN,
    HTML,
    MARKDOWN,
    MAX_FINDING_CHARS,
    MAX_FINDINGS,
    PDF,
    TEXT,
    UNCHECKED,
    CopyReading,
    EmptyDocumentError,
    HiddenText,
    Limits,
    finding,
    normalise_media_type,
    read_text,
    sniff_media_type,
    too_many_bytes,
)

# The values of a copy's findings live in ._base (the readers make them); named here too.
__all__ = [
    "GENERATED",
    "HIDDEN",
    "MAX_FINDINGS",
    "MAX_FINDING_CHARS",
    "UNCHECKED",
    "CopyReading",
    "HiddenText",
    "finding",
    "read_copy",
]


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
    if len(data) > limits.max_bytes:
        raise too_many_bytes(len(data), limits)
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
