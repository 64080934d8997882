"""Publishing the archive as a static site: the log in the C2SP tlog-tiles layout, the signed
releases, the content-addressed objects, lookups by hash and id, and the key files.

What is published is the newest signed *release*, never an unreleased tree: the site's
``checkpoint`` is that release's signed note, byte for byte, so everything a visitor can
check is something the clerk released. The layout (docs/FORMAT.md §25)::

    checkpoint                       the newest release (signed note)          no-cache
    tile/<L>/<N>[.p/<W>]             hash tiles (c2sp.org/tlog-tiles)           immutable
    tile/entries/<N>[.p/<W>]         entry bundles (uint16 length || entry)     immutable
    releases/<size>                  every release, as in the archive           immutable
    objects/sha256/<2>/<62>          documents and text layers                  immutable
    lookup/sha256/<2>/<62>           "<seq>" LF: the entry of a document hash    immutable
    lookup/doc/<doc id>              "<seq>" LF: the entry of a document id      immutable
    lookup/text-sha256/<2>/<62>      "<seq>" LF: the entry of a text layer hash  immutable
    lookup/text/<size>/...           the text index of a release (.textindex)   immutable
    keys/<file>                      verifier key files the clerk named         immutable

A run writes only what the previous publication (the ``checkpoint`` already in OUTDIR) lacks:
new full tiles and bundles, the new widths of partial ones, new releases, objects and
lookups, each to a temporary file renamed into place; then the pages (``pages`` hook); then
the checkpoint, last and atomically, which is the commit point. Partial tiles of a tile that
has since filled are removed after that. An interrupted run leaves the old checkpoint and
files it does not yet name; the next run completes it.

Before anything is written, the tiles are computed from the entries themselves (leaf hashes
of the entry bytes; the old part from the archive's stored hashes, proven by the previous
publication's root) and must fold to the release's signed root: a damaged archive cannot
publish tiles that disagree with its signed checkpoint.
"""

from __future__ import annotations

import contextlib
import hmac
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from .errors import (
    ConflictError,
    MalformedError,
    NotFoundError,
    OrderArchiveError,
    RollbackError,
    StorageError,
    VerificationError,
)
from .log import merkle
from .log.checkpoint import Checkpoint, open_checkpoint
from .log.layout import RELEASES, object_name
from .log.note import VerifierKey
from .log.tiles import (
    TILE_WIDTH,
    Tile,
    entry_bundle,
    entry_bundle_path,
    new_tiles,
    tile_data,
)

if TYPE_CHECKING:
    from .archive import Archive
    from .log.entry import Entry
    from .log.textlayer import TextLayer

__all__ = [
    "CHECKPOINT",
    "IMMUTABLE_PREFIXES",
    "PageWriter",
    "PublishContext",
    "PublishReport",
    "doc_lookup_path",
    "publish",
    "sha256_lookup_path",
    "text_sha256_lookup_path",
    "write_text_index",
]

CHECKPOINT = "checkpoint"
#: Every published path but the checkpoint starts with one of these and never changes.
IMMUTABLE_PREFIXES = ("tile/", "releases/", "objects/", "lookup/", "keys/")
_MAX_NOTE = 1 << 20


def sha256_lookup_path(sha256_hex: str) -> str:
    """``lookup/sha256/<2>/<62>``: where the entry number of a document's hash is published."""
    return f"lookup/sha256/{sha256_hex[:2]}/{sha256_hex[2:]}"


def text_sha256_lookup_path(sha256_hex: str) -> str:
    """``lookup/text-sha256/<2>/<62>``: where the entry number of a text layer's hash is
    published (the first entry with that text keeps it)."""
    return f"lookup/text-sha256/{sha256_hex[:2]}/{sha256_hex[2:]}"


def doc_lookup_path(doc: str) -> str:
    """``lookup/doc/<id>``: where the entry number of a document id is published (ids match
    ``[a-z0-9][a-z0-9._-]*``, so they are safe file names)."""
    return f"lookup/doc/{doc}"


@attrs.frozen
class PublishContext:
    """What the page writer (the site's HTML, issue 18) is given before the checkpoint."""

    archive: Archive
    outdir: Path
    checkpoint: Checkpoint
    note: bytes = attrs.field(repr=False)
    old_size: int
    verifiers: tuple[VerifierKey, ...]
    #: Every entry of the published tree, signature-checked and included (old and new).
    entries: Callable[[], Iterator[Entry]] = attrs.field(repr=False)
    #: Writes one file of the site (relative path, bytes), atomically; returns True if new.
    write: Callable[[str, bytes], bool] = attrs.field(repr=False)


#: The hook that writes the human pages: returns the paths it wrote.
PageWriter = Callable[[PublishContext], Sequence[str]]


@attrs.frozen
class PublishReport:
    outdir: Path
    origin: str
    old_size: int
    size: int
    written: tuple[str, ...]
    removed: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "outdir": str(self.outdir),
            "origin": self.origin,
            "old_size": self.old_size,
            "size": self.size,
            "written": len(self.written),
            "removed": len(self.removed),
            "files": list(self.written),
        }


class _Writer:
    def __init__(self, outdir: Path) -> None:
        self.outdir = outdir
        self.written: list[str] = []

    def path(self, name: str) -> Path:
        parts = name.split("/")
        if not name or any(p in ("", ".", "..") for p in parts) or name.startswith("/"):
            raise MalformedError(f"not a site path: {name!r}")
        return self.outdir.joinpath(*parts)

    def write(self, name: str, data: bytes, *, replace: bool = False) -> bool:
        """Write *name* unless it already holds *data*; immutable names are never overwritten
        with other bytes (a conflict means OUTDIR holds something else)."""
        path = self.path(name)
        try:
            if path.is_symlink():
                raise ConflictError(f"{path} is a symbolic link; refusing to write through it")
            if path.is_file():
                if path.stat().st_size == len(data) and path.read_bytes() == data:
                    return False
                if not replace:
                    raise ConflictError(
                        f"{path} already exists with other bytes; OUTDIR holds another "
                        "publication (publish into an empty directory)"
                    )
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                if replace:
                    os.fsync(f.fileno())
            os.replace(tmp, path)
            if replace:
                fd = os.open(path.parent, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
        except OSError as e:
            raise StorageError(f"cannot write {path}: {e.strerror}") from e
        self.written.append(name)
        return True

    def sync(self) -> None:
        """Make every file written so far durable (one syncfs(2) on Linux, else an fsync of
        each and of their directories): done once, before the checkpoint names them."""
        from .log.store import _sync_filesystem

        paths = [self.path(name) for name in self.written]
        try:
            _sync_filesystem(self.outdir, paths, sorted({p.parent for p in paths}))
        except OSError as e:
            raise StorageError(f"cannot flush {self.outdir}: {e.strerror}") from e

    def remove_dir(self, name: str) -> list[str]:
        """Remove the partial widths in directory *name* (regular files only); the names."""
        directory = self.path(name)
        removed: list[str] = []
        try:
            if directory.is_symlink() or not directory.is_dir():
                return removed
            for child in sorted(directory.iterdir()):
                if child.is_file() and not child.is_symlink():
                    child.unlink()
                    removed.append(f"{name}/{child.name}")
            directory.rmdir()
        except OSError as e:
            raise StorageError(f"cannot remove {directory}: {e.strerror}") from e
        return removed


class _Hashes:
    """Stored hashes: below *base* from the archive (proven by a signed root), the rest
    computed here from entry bytes."""

    def __init__(self, archive: Archive, base: int) -> None:
        self.archive = archive
        self.base = base
        self.extra: list[bytes] = []

    def read(self, indexes: Sequence[int]) -> list[bytes]:
        old = [i for i in indexes if i < self.base]
        got = dict(zip(old, self.archive.read_hashes(old), strict=True)) if old else {}
        return [got[i] if i < self.base else self.extra[i - self.base] for i in indexes]


class ComputedEntries:
    """Entries held in memory from *start* on and a :data:`merkle.HashReader` over their tree:
    an :class:`~orderarchive.log.entry.EntryReader` (used by publish and mirror)."""

    def __init__(self, read: merkle.HashReader, raws: Sequence[bytes], start: int) -> None:
        self._read = read
        self._raws = raws
        self._start = start

    def entry_bytes(self, seq: int, size: int | None = None) -> bytes:
        if not 0 <= seq - self._start < len(self._raws) or (size is not None and seq >= size):
            raise NotFoundError(f"entry {seq} is not among the entries read")
        return bytes(self._raws[seq - self._start])

    def read_hashes(self, indexes: Sequence[int]) -> list[bytes]:
        return list(self._read(indexes))


def published_checkpoint(
    directory: Path, verifiers: Sequence[VerifierKey], origin: str, *, hint: str
) -> Checkpoint | None:
    """The checkpoint of a site or mirror in *directory* (None when it has none yet), read
    bounded and refused unless signed for *origin* by a trusted key (a directory of another
    log: :class:`ConflictError` with *hint*). Used by ``publish`` and ``mirror`` alike."""
    from .userfiles import read_bounded

    path = directory / CHECKPOINT
    try:
        note = read_bounded(path, _MAX_NOTE, what="checkpoint", error=StorageError,
                            missing=NotFoundError)
    except NotFoundError:
        return None
    try:
        return open_checkpoint(note, verifiers, origin=origin)[0]
    except OrderArchiveError as e:
        raise ConflictError(
            f"{path} is not a checkpoint of {origin} signed by a trusted key: {e}", hint=hint
        ) from e


def publish(
    archive: Archive,
    outdir: Path,
    verifiers: Sequence[VerifierKey],
    *,
    key_files: Sequence[tuple[str, bytes]] = (),
    pages: PageWriter | None = None,
) -> PublishReport:
    """Publish the newest release of *archive* into *outdir* (created if missing).

    *verifiers* must sign the releases (the publication is checked as a visitor would
    check it). *key_files* are ``(file name, bytes)`` of verifier keys to publish under
    ``keys/``. *pages* writes the human pages before the checkpoint is replaced.
    """
    from .log.entry import Entry, verify_read_entry

    if not verifiers:
        raise VerificationError("no trusted keys: a publication is checked before it is written")
    releases = archive.releases()
    if not releases:
        raise NotFoundError(
            "the archive has no release to publish",
            hint="run 'orderarchive release' first: only released trees are published",
        )
    note = archive.release_note(releases[-1])
    cp, _ = open_checkpoint(note, verifiers, origin=archive.origin)
    if outdir.exists() and not outdir.is_dir():
        raise MalformedError(f"{outdir} is not a directory", hint="publish into a directory")
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise StorageError(f"cannot create {outdir}: {e.strerror}") from e
    old = published_checkpoint(
        outdir, verifiers, archive.origin,
        hint="publish into an empty directory, or the one this archive was published to",
    )
    old_size = old.size if old else 0
    if old is not None:
        if old.size > cp.size:
            raise RollbackError(
                f"{outdir} already publishes tree size {old.size}, newer than release {cp.size}"
            )
        if not hmac.compare_digest(archive.tree_hash(old.size), old.root_hash):
            raise ConflictError(f"{outdir} publishes a tree this archive does not extend")
    w = _Writer(outdir)
    # Entries from the first bundle that changes: the previous partial bundle is rewritten.
    start = (old_size // TILE_WIDTH) * TILE_WIDTH
    hashes, raws = _computed_tree(archive, cp, start)
    entries = [Entry.from_bytes(raw) for raw in raws]
    # Every published entry is signed by a trusted key and included in the release (the one
    # check of the log layer, over the hashes just computed from the entries).
    computed = ComputedEntries(hashes.read, raws, start)
    for entry in entries[old_size - start :]:
        verify_read_entry(computed, entry, cp, verifiers)
    for tile in new_tiles(old_size, cp.size):
        w.write(tile.path, tile_data(tile, hashes.read))
    for n in range(start // TILE_WIDTH, -(-cp.size // TILE_WIDTH)):
        chunk = raws[n * TILE_WIDTH - start : (n + 1) * TILE_WIDTH - start]
        w.write(entry_bundle_path(n, len(chunk)), entry_bundle(chunk))
    for size in releases:
        w.write(f"{RELEASES}/{size}", archive.release_note(size))
    _documents(w, archive, entries[old_size - start :])
    write_text_index(w, cp.size, archive.iter_entries(0, cp.size), archive.text_layer)
    for name, data in key_files:
        w.write(f"keys/{name}", data)
    if pages is not None:
        def all_entries() -> Iterator[Entry]:
            yield from archive.iter_entries(0, cp.size)

        ctx = PublishContext(archive, outdir, cp, note, old_size, tuple(verifiers), all_entries,
                             w.write)
        w.written.extend(pages(ctx))
    w.sync()
    w.write(CHECKPOINT, note, replace=True)
    removed = [name for d in _filled_partials(old_size, cp.size) for name in w.remove_dir(d)]
    return PublishReport(outdir, archive.origin, old_size, cp.size, tuple(w.written),
                         tuple(removed))


def _computed_tree(archive: Archive, cp: Checkpoint, start: int) -> tuple[_Hashes, list[bytes]]:
    """The stored hashes from entry *start* on, computed from the entries' bytes, and those
    bytes; the tree must fold to *cp*'s signed root."""
    hashes = _Hashes(archive, merkle.stored_hash_count(start))
    raws: list[bytes] = []
    for entry in archive.iter_entries(start, cp.size):
        n = start + len(raws)
        if entry.seq != n:
            raise VerificationError(f"the entry at position {n} says it is entry {entry.seq}")
        hashes.extra.extend(
            merkle.stored_hashes_for_record(n, merkle.leaf_hash(entry.raw), hashes.read)
        )
        raws.append(entry.raw)
    if not hmac.compare_digest(merkle.tree_hash(cp.size, hashes.read), cp.root_hash):
        raise VerificationError(
            f"the archive's entries do not hash to the signed root of release {cp.size}",
            hint="run 'orderarchive verify' to see what is damaged",
        )
    return hashes, raws


def _documents(w: _Writer, archive: Archive, entries: Sequence[Entry]) -> None:
    """The objects (documents and text layers) of *entries* and their lookups."""
    for entry in entries:
        doc = entry.document
        if doc is None:
            continue
        _object(w, archive, doc.sha256, doc.size)
        if doc.text is not None:
            _object(w, archive, doc.text.sha256, doc.text.size)
        w.write(doc_lookup_path(doc.doc), f"{entry.seq}\n".encode())
        path = sha256_lookup_path(doc.sha256)
        if not w.path(path).exists():  # the first entry of a hash keeps it
            w.write(path, f"{entry.seq}\n".encode())
        if doc.text is not None and not w.path(text_sha256_lookup_path(doc.text.sha256)).exists():
            w.write(text_sha256_lookup_path(doc.text.sha256), f"{entry.seq}\n".encode())


def write_text_index(
    w: Any, size: int, entries: Iterable[Entry],
    text_layer: Callable[[Entry], TextLayer | None],
) -> None:
    """The text index of the release of *size* (:mod:`.textindex`) from every document of
    *entries* with a text layer, unless an earlier run wrote it (its ``index`` file is written
    last, so its presence means the shards are all there)."""
    from .textindex import build_text_index, text_index_dir

    meta = f"{text_index_dir(size)}/index"
    if w.path(meta).is_file():
        return

    def texts() -> Iterator[tuple[int, str]]:
        for entry in entries:
            d = entry.document
            if d is not None and d.text is not None:
                # A site published before text lookups existed gets them for its old entries.
                lookup = text_sha256_lookup_path(d.text.sha256)
                if not w.path(lookup).exists():
                    w.write(lookup, f"{entry.seq}\n".encode())
                layer = text_layer(entry)
                if layer is not None:
                    yield entry.seq, layer.text()

    files = build_text_index(size, texts())
    for name, data in files.items():
        if name != meta:
            w.write(name, data)
    w.write(meta, files[meta])


def _object(w: _Writer, archive: Archive, sha: str, size: int) -> None:
    name = object_name(sha)
    with contextlib.suppress(OSError):
        if w.path(name).stat().st_size == size:
            return  # content-addressed: written by an earlier (perhaps interrupted) run
    w.write(name, archive.read_object(sha, size))


def _filled_partials(old_size: int, new_size: int) -> list[str]:
    """The ``.p/`` directories of tiles and bundles that were partial at *old_size* and are
    full at *new_size*: their partial widths are no longer needed (c2sp.org/tlog-tiles lets a
    client use the full tile instead). Widths of a tile still partial are kept, so that a
    client holding an older checkpoint still finds the width it asks for."""
    names: list[str] = []
    level = 0
    while old_size >> (level * 8):
        old_count = old_size >> (level * 8)
        new_count = new_size >> (level * 8)
        n = old_count // TILE_WIDTH
        if old_count % TILE_WIDTH and new_count >= (n + 1) * TILE_WIDTH:
            names.append(Tile(level, n).path + ".p")
            if level == 0:
                names.append(entry_bundle_path(n) + ".p")
        level += 1
    return names
