"""From files on disk to add requests: read each document, fill its entry fields, add them."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

import attrs

from .archive import AddRequest, Archive, document_fields
from .entry import KINDS, RELATION_TYPES, Entry, valid_doc_id
from .errors import DocumentError, MalformedError
from .note import Signer
from .userfiles import read_user_file

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")  # fullmatch: "$" accepts a final newline


@attrs.frozen
class AddOptions:
    """What the clerk states on the command line; it overrides what the file says."""

    doc_id: str | None = None
    kind: str | None = None
    title: str | None = None
    issuer: str | None = None
    issued: str | None = None
    source_url: str | None = None
    media_type: str | None = None
    relations: tuple[tuple[str, str], ...] = ()


def slug(text: str) -> str:
    value = re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-._")
    return value[:96] or "document"


def _check_options(options: AddOptions) -> None:
    if options.doc_id is not None and not valid_doc_id(options.doc_id):
        raise MalformedError(
            f"invalid document id {options.doc_id!r}",
            hint="use lower-case letters, digits, '.', '_' and '-' (at most 128)",
        )
    if options.kind is not None and options.kind not in KINDS:
        raise MalformedError(f"unknown kind {options.kind!r}")
    if options.issued is not None and not _valid_date(options.issued):
        raise MalformedError(f"--issued {options.issued!r} is not a date YYYY-MM-DD")
    for rtype, target in options.relations:
        if rtype not in RELATION_TYPES:
            raise MalformedError(f"unknown relation {rtype!r}")
        if not valid_doc_id(target):
            raise MalformedError(f"invalid document id {target!r} in --{rtype}")


def _valid_date(text: str) -> bool:
    if _DATE.fullmatch(text) is None:
        return False
    try:
        datetime.strptime(text, "%Y-%m-%d")
    except ValueError:
        return False
    return True


def build_requests(
    paths: Sequence[Path],
    options: AddOptions,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> list[AddRequest]:
    """Read every file (in parallel, each bounded in time and memory) into add requests."""
    from .documents import read_documents

    _check_options(options)
    blobs = [read_user_file(p) for p in paths]
    results = read_documents(
        [(blob, path.name) for blob, path in zip(blobs, paths, strict=True)],
        media_type=options.media_type,
    )
    requests: list[AddRequest] = []
    for i, (path, blob, result) in enumerate(zip(paths, blobs, results, strict=True)):
        if isinstance(result, DocumentError):
            raise type(result)(f"{path}: {result}", hint=result.hint) from result
        meta = result.metadata
        media_type = options.media_type or result.media_type
        kind = options.kind or ("executive-order" if media_type == "application/pdf" else "article")
        issued = options.issued or (meta.date if meta.date and _valid_date(meta.date) else None)
        extra: dict[str, str | int] = {"filename": path.name}
        if meta.author:
            extra["author"] = meta.author
        if meta.page_count is not None:
            extra["pages"] = meta.page_count
        requests.append(
            document_fields(
                blob,
                doc=options.doc_id or slug(path.stem),
                kind=kind,
                title=options.title or meta.title or path.stem,
                issuer=options.issuer or meta.author or "",
                issued=issued,
                media_type=media_type,
                source_url=options.source_url or meta.canonical_url,
                text=result.text,
                extractor=result.extractor,
                no_text_reason=result.no_text_reason,
                relations=options.relations,
                meta=extra,
            )
        )
        if progress:
            progress(i + 1, len(paths))
    return requests


def add_files(
    archive: Archive,
    paths: Sequence[Path],
    options: AddOptions,
    signer: Signer,
    *,
    progress: Callable[[int, int], None] | None = None,
    now: datetime | None = None,
) -> list[Entry]:
    """Read and archive *paths* in one append (one lock, one checkpoint)."""
    return archive.add(build_requests(paths, options, progress=progress), signer, now=now)
