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
from collections.abc import Sequence

from ..errors import DocumentError
from ._base import (
    DEFAULT_LIMITS,
    HTML,
    MARKDOWN,
    MEDIA_TYPES,
    PDF,
    TEXT,
    TEXT_EXTRACTOR,
    BrokenDocumentError,
    DocumentFileError,
    DocumentMetadata,
    DocumentTimeoutError,
    DocumentTooLargeError,
    EmptyDocumentError,
    EncryptedDocumentError,
    Limits,
    ReadDocument,
    ReaderCrashError,
    UnicodeDocumentError,
    UnsupportedDocumentError,
    decode_utf8_text,
    markdown_title,
    normalise_media_type,
    read_text,
    sniff_media_type,
    too_many_bytes,
)

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
        raise too_many_bytes(len(data), limits)
    if not data:
        raise EmptyDocumentError("empty document (0 bytes)")
    if media_type is None:
        media_type = sniff_media_type(data, filename)
    base, _ = normalise_media_type(media_type)
    if not isolate or base in (TEXT, MARKDOWN):
        return _read(data, media_type, filename, limits)
    from . import _sandbox

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
    so many documents do not each pay for starting an interpreter. Plain text and Markdown
    given as bytes are read in this process, as :func:`read_document` reads them: their
    reader is linear in the input, and a pickle each way cost more than the reading.
    """
    jobs: list[tuple[bytes | str, str | None, str | None, Limits]] = []
    early: dict[int, ReadDocument | DocumentError] = {}
    for i, (source, filename) in enumerate(items):
        if isinstance(source, bytes):
            if len(source) > limits.max_bytes:
                early[i] = too_many_bytes(len(source), limits)
            elif plain := _plain(source, media_type, filename):
                try:
                    early[i] = _read(source, plain, filename, limits)
                except DocumentError as e:
                    early[i] = e
            jobs.append((source, media_type, filename, limits))
        else:
            path = os.fspath(source)
            jobs.append((path, media_type, filename or os.path.basename(path), limits))
    if len(early) == len(jobs):
        return [early[i] for i in range(len(jobs))]  # no worker started for plain text alone
    from . import _sandbox

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


def _plain(data: bytes, media_type: str | None, filename: str | None) -> str | None:
    """The media type :func:`_read` would read *data* as, if plain text or Markdown."""
    if not data:
        return None
    try:
        chosen = media_type or sniff_media_type(data, filename)
        base, _ = normalise_media_type(chosen)
    except DocumentError:
        return None  # the worker raises the same error for this item
    return chosen if base in (TEXT, MARKDOWN) else None


def _read(
    source: bytes | str, media_type: str | None, filename: str | None, limits: Limits
) -> ReadDocument:
    """Read in this process, unbounded in time and memory (the body of a sandbox job)."""
    data = _load(source, limits) if isinstance(source, str) else source
    if len(data) > limits.max_bytes:
        raise too_many_bytes(len(data), limits)
    if not data:
        raise EmptyDocumentError("empty document (0 bytes)")
    base, charset = normalise_media_type(media_type or sniff_media_type(data, filename))
    if base == PDF:
        from .pdf import read_pdf

        return read_pdf(data, limits=limits)
    if base == HTML:
        from .html import read_html

        return read_html(data, charset=charset, limits=limits)
    return read_text(data, markdown=base == MARKDOWN, charset=charset, limits=limits)


def _load(path: str, limits: Limits) -> bytes:
    try:
        with open(path, "rb") as f:
            data = f.read(limits.max_bytes + 1)
    except OSError as e:
        raise DocumentFileError(f"cannot read {path}: {e.strerror or e}") from e
    return data


__all__ = [
    "DEFAULT_LIMITS",
    "HTML",
    "MARKDOWN",
    "MEDIA_TYPES",
    "PDF",
    "TEXT",
    "TEXT_EXTRACTOR",
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
    "decode_utf8_text",
    "markdown_title",
    "normalise_media_type",
    "read_document",
    "read_documents",
    "read_text",
    "sniff_media_type",
]
