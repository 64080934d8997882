"""From files on disk to add requests: read each document, fill its entry fields, add them.

What ``add`` signs is kept forever, so every field says where it came from (:data:`GIVEN`,
:data:`FROM_METADATA`, :data:`FROM_NAME`, :data:`FROM_TYPE`) and the CLI prints it. An order's
issued date is never taken from file metadata unless the clerk asks: a PDF's ``/CreationDate``
is usually the day the file was exported, not the day the order was signed.
"""

from __future__ import annotations

import array
import csv
import fnmatch
import io
import os
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar, overload

import attrs

from ..errors import DocumentError, MalformedError, OrderArchiveError, Remedy
from ..log.entry import (
    KINDS,
    RELATION_TYPES,
    AddRequest,
    Entry,
    document_fields,
    valid_doc_id,
)
from ..log.note import Signer
from ..userfiles import check_user_file, read_user_file

_T = TypeVar("_T")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")  # fullmatch: "$" accepts a final newline
_SECRET_KEY_MARK = b"orderarchive-secret-key/"

#: Where a signed field's value came from.
GIVEN = "given"
FROM_METADATA = "file metadata"
FROM_NAME = "file name"
FROM_TYPE = "file type"
ABSENT = "none"

#: Kinds that are acts of the issuer: their issued date is a legal fact, not a file's timestamp.
ORDER_KINDS = frozenset({"executive-order", "ordinance", "memorandum"})

#: The columns a manifest may have (docs/FORMAT.md, "Add manifest"); only ``path`` is required.
MANIFEST_COLUMNS = (
    "path",
    "id",
    "kind",
    "title",
    "issuer",
    "issued",
    "source_url",
    "media_type",
    *(r.replace("-", "_") for r in RELATION_TYPES),
)
#: The largest manifest read (a bound on memory: a manifest names files, it is not one).
MAX_MANIFEST_BYTES = 16 * 1024 * 1024


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
    #: Sign an order's date found in the file's metadata (off: such a date is refused).
    issued_from_file: bool = False


@attrs.frozen
class AddItem:
    """One file to add, the options for it, and how errors name it (a path or manifest row)."""

    path: Path
    options: AddOptions
    label: str


@attrs.frozen
class PlannedAdd:
    """One add request and, for each field shown to the clerk, where its value came from."""

    path: Path
    request: AddRequest
    sources: tuple[tuple[str, str], ...]

    def source(self, field: str) -> str:
        return dict(self.sources)[field]


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
        raise MalformedError(f"the issued date {options.issued!r} is not a date YYYY-MM-DD")
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


def _labelled(error: OrderArchiveError, label: str) -> OrderArchiveError:
    new = type(error)(f"{label}: {error}", hint=error.hint)
    new.__cause__ = error
    return new


def plan_items(
    items: Sequence[AddItem],
    *,
    progress: Callable[[int, int], None] | None = None,
) -> list[PlannedAdd]:
    """Read every file (in parallel, each bounded in time and memory) into planned adds.

    Nothing is written. Any bad file, option or refused guess raises, naming its label.
    """
    from . import read_documents

    for item in items:
        try:
            _check_options(item.options)
        except OrderArchiveError as e:
            raise _labelled(e, item.label) from e
    blobs = []
    for item in items:
        try:
            blob = read_user_file(item.path)
        except OrderArchiveError as e:
            raise (_labelled(e, item.label) if item.label != str(item.path) else e) from e
        if blob.lstrip()[:1] == b"{" and _SECRET_KEY_MARK in blob[:4096]:
            # A bulk add of a clerk's directory must never publish the signing key.
            raise MalformedError(f"{item.label} is a private key file; it is never archived")
        blobs.append(blob)
    # Media-type overrides differ per manifest row: read each group with its own override.
    results: list[Any] = [None] * len(items)
    groups: dict[str | None, list[int]] = {}
    for i, item in enumerate(items):
        groups.setdefault(item.options.media_type, []).append(i)
    for media_type, indices in groups.items():
        read = read_documents(
            [(blobs[i], items[i].path.name) for i in indices], media_type=media_type
        )
        for i, result in zip(indices, read, strict=True):
            results[i] = result
    planned: list[PlannedAdd] = []
    for i, (item, blob, result) in enumerate(zip(items, blobs, results, strict=True)):
        if isinstance(result, DocumentError):
            raise type(result)(f"{item.label}: {result}", hint=result.hint) from result
        planned.append(_plan_one(item, blob, result))
        if progress:
            progress(i + 1, len(items))
    return planned


#: The documents a streaming add reads, checks, signs and writes at a time (and, unless one
#: file is larger, the most bytes of file content in one batch): what bounds its memory.
CHUNK_DOCUMENTS = 256
CHUNK_BYTES = 64 << 20


def item_chunks(
    items: Sequence[AddItem],
    *,
    documents: int = CHUNK_DOCUMENTS,
    max_bytes: int = CHUNK_BYTES,
) -> list[range]:
    """*items* cut into consecutive batches of at most *documents* items and, unless one
    file is larger, at most *max_bytes* of file content (sizes from the file system; a file
    that cannot be examined counts as empty here and fails when it is read)."""
    out: list[range] = []
    start = total = 0
    for i, item in enumerate(items):
        try:
            size = item.path.stat().st_size
        except OSError:
            size = 0
        if i > start and (i - start >= documents or total + size > max_bytes):
            out.append(range(start, i))
            start, total = i, 0
        total += size
    if start < len(items):
        out.append(range(start, len(items)))
    return out


def plan_chunks(
    items: Sequence[AddItem],
    chunks: Sequence[range],
    *,
    progress: Callable[[int, int], None] | None = None,
) -> Iterator[list[PlannedAdd]]:
    """:func:`plan_items` of each batch of *chunks* (:func:`item_chunks`) in turn, read when
    the next is asked for: memory holds one batch's files, not all of them. Every item's
    options are checked before the first file is read."""
    for item in items[:1] if isinstance(items, FileItems) else items:  # one set of options
        try:
            _check_options(item.options)
        except OrderArchiveError as e:
            raise _labelled(e, item.label) from e
    for chunk in chunks:
        offset = chunk.start

        def shifted(done: int, total: int, offset: int = offset) -> None:
            if progress is not None:
                progress(offset + done, len(items))

        yield plan_items(items[chunk.start : chunk.stop], progress=shifted)


def check_items(items: Sequence[AddItem]) -> None:
    """Every item's file opened and examined, none read (:func:`.userfiles.check_user_file`):
    a missing, unreadable, special or oversized file raises, naming its label, before a
    streaming add asks for the passphrase (its batches are read only after)."""
    for item in items:
        try:
            check_user_file(item.path)
        except OrderArchiveError as e:
            raise (_labelled(e, item.label) if item.label != str(item.path) else e) from e


def read_ahead(batches: Iterator[_T]) -> Iterator[_T]:
    """*batches*, each next one taken in a background thread while the caller works on the
    one it was given (a streaming add reads batch k+1 while it signs and writes batch k).

    The thread only reads files and runs the document readers; an error it meets is raised
    here, when its batch is asked for. At most one batch is read ahead.
    """
    from concurrent.futures import ThreadPoolExecutor

    done = object()
    pool = ThreadPoolExecutor(1, thread_name_prefix="orderarchive-read-ahead")
    try:
        future = pool.submit(next, batches, done)
        while (batch := future.result()) is not done:
            future = pool.submit(next, batches, done)
            yield batch  # type: ignore[misc]
    finally:
        # Ctrl-C or an error: the batch being read is not waited for.
        pool.shutdown(wait=False, cancel_futures=True)


def _plan_one(item: AddItem, blob: bytes, result: Any) -> PlannedAdd:
    options, path = item.options, item.path
    meta = result.metadata
    media_type = options.media_type or result.media_type
    sources: dict[str, str] = {}

    def pick(field: str, given: str | None, *guesses: tuple[str | None, str]) -> str | None:
        if given is not None:
            sources[field] = GIVEN
            return given
        for value, where in guesses:
            if value:
                sources[field] = where
                return value
        sources[field] = ABSENT
        return None

    doc = pick("id", options.doc_id, (slug(path.stem), FROM_NAME)) or "document"
    kind = (
        pick(
            "kind",
            options.kind,
            ("executive-order" if media_type == "application/pdf" else "article", FROM_TYPE),
        )
        or "article"
    )
    title = pick("title", options.title, (meta.title, FROM_METADATA), (path.stem, FROM_NAME))
    issuer = pick("issuer", options.issuer, (meta.author, FROM_METADATA)) or ""
    file_date = meta.date if meta.date and _valid_date(meta.date) else None
    issued = pick("issued", options.issued, (file_date, FROM_METADATA))
    if sources["issued"] == FROM_METADATA and kind in ORDER_KINDS and not options.issued_from_file:
        raise MalformedError(
            f"{item.label}: the {kind}'s issued date {issued} would come from the file's "
            "metadata, which is often the day the file was saved, not the day it was issued",
            hint="state the issued date YYYY-MM-DD (in a manifest: an issued cell), or sign the "
            "file's date explicitly (issued_from_file), or give its kind if it is not an order",
            remedy=Remedy.ISSUED_DATE,
        )
    extra: dict[str, str | int] = {"filename": path.name}
    if meta.author:
        extra["author"] = meta.author
    if meta.page_count is not None:
        extra["pages"] = meta.page_count
    request = document_fields(
        blob,
        doc=doc,
        kind=kind,
        title=title or "",
        issuer=issuer,
        issued=issued,
        media_type=media_type,
        source_url=options.source_url or meta.canonical_url,
        text=result.text,
        extractor=result.extractor,
        no_text_reason=result.no_text_reason,
        relations=options.relations,
        meta=extra,
    )
    return PlannedAdd(path, request, tuple(sources.items()))


def build_requests(
    paths: Sequence[Path],
    options: AddOptions,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> list[AddRequest]:
    """Read every file with the same options into add requests."""
    items = [AddItem(p, options, str(p)) for p in paths]
    return [p.request for p in plan_items(items, progress=progress)]


class Appender(Protocol):
    """What :func:`add_files` needs of an archive (:meth:`.archive.Archive.add`): this layer
    reads documents into add requests and never imports the recipe layer above it."""

    def add(
        self, requests: Sequence[AddRequest], signer: Signer, *, now: datetime | None = None
    ) -> list[Entry]: ...


def add_files(
    archive: Appender,
    paths: Sequence[Path],
    options: AddOptions,
    signer: Signer,
    *,
    progress: Callable[[int, int], None] | None = None,
    now: datetime | None = None,
) -> list[Entry]:
    """Read and archive *paths* in one append (one lock, one checkpoint)."""
    return archive.add(build_requests(paths, options, progress=progress), signer, now=now)


# -- bulk: directories and manifests -----------------------------------------------------------


class _Lazy(Sequence[_T]):
    """A read-only list whose items are made from compact storage when read: subclasses
    give ``__len__`` and ``_item(i)`` for 0 <= i < len."""

    def _item(self, i: int) -> _T:
        raise NotImplementedError

    @overload
    def __getitem__(self, i: int) -> _T: ...
    @overload
    def __getitem__(self, i: slice) -> list[_T]: ...
    def __getitem__(self, i: int | slice) -> _T | list[_T]:
        if isinstance(i, slice):
            return [self._item(k) for k in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        return self._item(i)


class Paths(_Lazy[Path]):
    """A list of paths kept as their UTF-8 bytes in one buffer (about 10 bytes a path more
    than its text, where a list of :class:`Path` costs hundreds): a directory of a hundred
    thousand files is listed without its list outgrowing a streaming add's memory bound."""

    def __init__(self) -> None:
        self._data = bytearray()
        self._ends = array.array("Q")

    def append(self, path: Path) -> None:
        self._data += os.fsencode(path)
        self._ends.append(len(self._data))

    def extend(self, paths: Iterable[Path]) -> None:
        for path in paths:
            self.append(path)

    def __len__(self) -> int:
        return len(self._ends)

    def _item(self, i: int) -> Path:
        start = self._ends[i - 1] if i else 0
        return Path(os.fsdecode(bytes(self._data[start : self._ends[i]])))


class FileItems(Sequence[AddItem]):
    """The add items of *paths* with the same *options*, each made when it is read (a
    streaming add holds the list of names, not an item per file)."""

    def __init__(self, paths: Sequence[Path], options: AddOptions) -> None:
        self.paths = paths
        self.options = options

    def __len__(self) -> int:
        return len(self.paths)

    @overload
    def __getitem__(self, i: int) -> AddItem: ...
    @overload
    def __getitem__(self, i: slice) -> list[AddItem]: ...
    def __getitem__(self, i: int | slice) -> AddItem | list[AddItem]:
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        path = self.paths[i]
        return AddItem(path, self.options, str(path))


def _matches(rel: str, patterns: Sequence[str]) -> bool:
    name = rel.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatchcase(rel, p) or fnmatch.fnmatchcase(name, p) for p in patterns)


def expand_paths(
    paths: Sequence[Path],
    *,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    archive: Path | None = None,
) -> Paths:
    """Files named directly, and every file under each directory (recursively).

    Under a directory, hidden files and directories (``.name``) are skipped, a file is taken
    when it matches an *include* pattern (all files when none is given) and no *exclude*
    pattern, matched against its path relative to the directory (``/``-separated) or its name.
    The order is deterministic: directories expand in sorted relative-path order. Symbolic
    links to directories are not followed (a link loop cannot make the walk endless).

    A file inside the *archive* directory is refused: ``add .`` in a clerk's directory must
    not sign the archive's own files into it.
    """
    out = Paths()
    inside = archive.resolve() if archive is not None else None
    if (include or exclude) and not any(p.is_dir() for p in paths):
        raise MalformedError(
            "include and exclude patterns select files in a directory; name one",
            remedy=Remedy.FILE_SELECTION,
        )
    if inside is not None:
        # As refuse_inside_archive, each named file's directory resolved once (a command line
        # of thousands of files in a few directories), a link resolved on its own.
        parents: dict[Path, Path] = {}
        for path in paths:
            if path.name in ("", ".", "..") or path.is_symlink():
                where = path.resolve()
            else:
                real = parents.get(path.parent)
                if real is None:
                    real = parents[path.parent] = path.parent.resolve()
                where = real / path.name
            if inside == where or inside in where.parents:
                raise _inside_archive(str(path), archive)
    for path in paths:
        if not path.is_dir():
            out.append(path)
            continue
        found: list[str] = []

        def walk_error(e: OSError) -> None:
            raise MalformedError(f"cannot read directory {e.filename}: {e.strerror}") from e

        for top, dirs, files in os.walk(path, onerror=walk_error):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            # A file that is not a link resolves to its directory's resolved path and its
            # name: the directory is resolved once, only links one by one.
            real_top = Path(top).resolve() if inside is not None else None
            top_inside = real_top is not None and (inside == real_top or inside in real_top.parents)
            for name in files:
                if name.startswith("."):
                    continue
                full = Path(top) / name
                rel = full.relative_to(path).as_posix()
                if include and not _matches(rel, include):
                    continue
                if _matches(rel, exclude):
                    continue
                if inside is not None and (
                    top_inside or (os.path.islink(full) and inside in full.resolve().parents)
                ):
                    continue
                found.append(rel)
        if not found:
            raise MalformedError(
                f"{path}: no files to add in this directory",
                hint="check the include and exclude patterns" if include or exclude else None,
                remedy=Remedy.FILE_SELECTION if include or exclude else None,
            )
        found.sort()
        out.extend(path / rel for rel in found)
        del found
    return out


def refuse_inside_archive(path: Path, archive: Path | None, label: str) -> None:
    """A file inside the archive directory is never a document to add."""
    if archive is None:
        return
    inside, where = archive.resolve(), path.resolve()
    if inside == where or inside in where.parents:
        raise _inside_archive(label, archive)


def _inside_archive(label: str, archive: Path | None) -> MalformedError:
    return MalformedError(
        f"{label} is inside the archive {archive}", hint="name the documents to add"
    )


def read_manifest(
    path: Path, defaults: AddOptions, *, archive: Path | None = None
) -> ManifestItems:
    """The rows of a CSV manifest (docs/FORMAT.md, "Add manifest") as add items.

    Each row's cells override *defaults*; relation cells list document ids separated by
    spaces or ``;`` and add to the default relations. A row's ``path`` is relative to the
    manifest's directory. Any bad row raises naming its line. Every row is checked here; the
    items keep the manifest's text and each row's place in it, and parse a row again when it
    is read (a streaming add holds no item per row).
    """
    data = read_user_file(path)
    if len(data) > MAX_MANIFEST_BYTES:
        raise MalformedError(f"{path}: a manifest is at most {MAX_MANIFEST_BYTES // 2**20} MiB")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise MalformedError(f"{path}: the manifest is not UTF-8 (byte {e.start})") from e
    del data
    consumed = [0]

    def lines() -> Iterator[str]:
        for line in io.StringIO(text, newline=""):
            consumed[0] += len(line)
            yield line

    # The csv reader takes a line only when the row it is reading needs it: after a row, the
    # lines consumed end where the row ends.
    reader = csv.reader(lines(), strict=True)
    spans: list[tuple[int, int, int]] = []
    header_row: list[str] | None = None
    header_line = 0
    start = 0
    try:
        for row in reader:
            if any(cell.strip() for cell in row):
                if header_row is None:
                    header_row, header_line = row, reader.line_num
                else:
                    spans.append((reader.line_num, start, consumed[0]))
            start = consumed[0]
    except csv.Error as e:
        raise MalformedError(f"{path} line {reader.line_num}: {e}") from e
    if header_row is None:
        raise MalformedError(f"{path}: the manifest is empty", hint="its first line names columns")
    header = [cell.strip().lower().replace("-", "_") for cell in header_row]
    unknown = [h for h in header if h not in MANIFEST_COLUMNS]
    if unknown:
        raise MalformedError(
            f"{path} line {header_line}: unknown column {unknown[0]!r}",
            hint="columns: " + ", ".join(MANIFEST_COLUMNS),
        )
    if "path" not in header or len(set(header)) != len(header):
        raise MalformedError(
            f"{path} line {header_line}: the header must name 'path' and each column once"
        )
    if not spans:
        raise MalformedError(f"{path}: the manifest names no files")
    items = ManifestItems(path, text, header, defaults, archive=archive, spans=spans)
    for _ in items:  # every row checked now, before any file is read
        pass
    return items


class ManifestItems(_Lazy[AddItem]):
    """The add items of a manifest's rows (:func:`read_manifest`): its text and each row's
    line and place in it, each row parsed into an item when it is read."""

    def __init__(self, path: Path, text: str, header: Sequence[str], defaults: AddOptions, *,
                 archive: Path | None, spans: Sequence[tuple[int, int, int]]) -> None:
        self.path, self._text, self._header = path, text, list(header)
        self._defaults, self._archive = defaults, archive
        self._lines = array.array("Q", (line for line, _, _ in spans))
        self._starts = array.array("Q", (a for _, a, _ in spans))
        self._ends = array.array("Q", (b for _, _, b in spans))

    def __len__(self) -> int:
        return len(self._lines)

    def _item(self, i: int) -> AddItem:
        chunk = self._text[self._starts[i] : self._ends[i]]
        row = next(csv.reader(io.StringIO(chunk, newline=""), strict=True))
        return _manifest_item(self.path, self._lines[i], row, self._header,
                              defaults=self._defaults, archive=self._archive)


def _manifest_item(path: Path, line: int, row: Sequence[str], header: Sequence[str], *,
                   defaults: AddOptions, archive: Path | None) -> AddItem:
    where = f"{path} line {line}"
    if len(row) != len(header):
        raise MalformedError(f"{where}: {len(row)} cells, the header has {len(header)}")
    cells = {h: cell.strip() for h, cell in zip(header, row, strict=True)}
    if not cells["path"]:
        raise MalformedError(f"{where}: the path cell is empty")
    relations = list(defaults.relations)
    for rtype in RELATION_TYPES:
        for target in re.split(r"[;\s]+", cells.get(rtype.replace("-", "_"), "")):
            if target:
                relations.append((rtype, target))
    options = attrs.evolve(
        defaults,
        doc_id=cells.get("id") or defaults.doc_id,
        kind=cells.get("kind") or defaults.kind,
        title=cells.get("title") or defaults.title,
        issuer=cells.get("issuer") or defaults.issuer,
        issued=cells.get("issued") or defaults.issued,
        source_url=cells.get("source_url") or defaults.source_url,
        media_type=cells.get("media_type") or defaults.media_type,
        relations=tuple(relations),
    )
    file = Path(cells["path"])
    file = file if file.is_absolute() else path.parent / file
    refuse_inside_archive(file, archive, f"{where} ({cells['path']})")
    return AddItem(file, options, f"{where} ({cells['path']})")
