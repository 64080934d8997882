"""The recipe layer: open an archive, add documents, release, verify.

Layout (all names relative to the archive directory; details in docs/FORMAT.md)::

    orderarchive.json          config: format and origin (canonical JSON + LF)
    log/entries                the entry log: one canonical-JSON entry per line
    log/offsets                8-byte big-endian end offset of each entry line
    log/hashes                 stored Merkle hashes, Go sumdb tlog layout, 32 bytes each
    checkpoint                 latest signed checkpoint (the commit point; compare-and-swap)
    releases/<size>            every released checkpoint (create-only)
    objects/sha256/<2>/<62>    content-addressed documents and text layers (create-only)
    index.sqlite               derived lookup/search index (rebuildable, never trusted)
    lock                       the writers' flock

An append writes objects, then appends to the three log files (each fsynced), then replaces
``checkpoint`` by compare-and-swap. Whatever is past the checkpoint's size is debris from an
interrupted append: readers ignore it, ``verify`` reports it, ``repair`` cuts it, and the next
append overwrites it. Nothing the checkpoint covers is ever rewritten.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import struct
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import attrs

from . import canonical, merkle
from .checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from .entry import DocumentFields, Entry, make_entry, utc_timestamp
from .errors import (
    ArchiveNotFoundError,
    CanonicalJSONError,
    ConflictError,
    CorruptArchiveError,
    EntryFormatError,
    MalformedError,
    NotFoundError,
    OrderArchiveError,
    SignatureError,
    StorageError,
    VerificationError,
)
from .note import Signer, VerifierKey
from .store import FileStore, Store
from .textlayer import TextLayer

ARCHIVE_FORMAT = "orderarchive-archive/v1"
CONFIG = "orderarchive.json"
ENTRIES = "log/entries"
OFFSETS = "log/offsets"
HASHES = "log/hashes"
CHECKPOINT = "checkpoint"
RELEASES = "releases"
INDEX = "index.sqlite"
INDEX_LOCK = "index.lock"
OFFSET_SIZE = 8
# Checkpoint extension lines (C2SP tlog-checkpoint allows extension lines after the root):
# the latest checkpoint names the newest release, and each release names the one before it,
# so a deleted or withheld release file is detected (docs/FORMAT.md §7).
RELEASE_EXT = "orderarchive.release "
PREVIOUS_RELEASE_EXT = "orderarchive.previous-release "
HASH = merkle.HASH_SIZE
CHUNK = 1 << 20

ProgressFn = Callable[[int, int], None]


def object_name(sha256_hex: str) -> str:
    return f"objects/sha256/{sha256_hex[:2]}/{sha256_hex[2:]}"


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@attrs.frozen
class Config:
    origin: str

    def to_bytes(self) -> bytes:
        return canonical.dumps({"format": ARCHIVE_FORMAT, "origin": self.origin}) + b"\n"

    @classmethod
    def from_bytes(cls, data: bytes) -> Config:
        try:
            if not data.endswith(b"\n"):
                raise MalformedError("does not end with a newline")
            doc = canonical.loads(data[:-1])
        except (CanonicalJSONError, MalformedError) as e:
            raise CorruptArchiveError(f"{CONFIG} is malformed: {e}") from e
        if not isinstance(doc, dict) or doc.get("format") != ARCHIVE_FORMAT:
            raise CorruptArchiveError(f"{CONFIG} is not an {ARCHIVE_FORMAT} config")
        origin = doc.get("origin")
        if not isinstance(origin, str) or not valid_origin(origin):
            raise CorruptArchiveError(f"{CONFIG} names no valid origin")
        return cls(origin=origin)


def valid_origin(origin: str) -> bool:
    """A scheme-less, URL-like log name usable as a C2SP checkpoint origin and key name."""
    return (
        0 < len(origin) <= 255
        and origin.isprintable()
        and origin.isascii()
        and " " not in origin
        and "+" not in origin
        and "://" not in origin
    )


@attrs.frozen
class AddRequest:
    """One document to add: its bytes, what the clerk states, and its text layer if read."""

    data: bytes
    fields: DocumentFields
    text: TextLayer | None = None


def _extension(cp: Checkpoint | None, prefix: str) -> int | None:
    """The size named by a ``<prefix> <size>`` checkpoint extension line, if present."""
    if cp is None:
        return None
    values = [line[len(prefix) :] for line in cp.extensions if line.startswith(prefix)]
    if not values:
        return None
    if len(values) > 1 or not values[0].isdigit() or str(int(values[0])) != values[0]:
        raise CorruptArchiveError(f"checkpoint extension {prefix.strip()!r} is malformed")
    return int(values[0])


def release_extensions(previous: int | None) -> tuple[str, ...]:
    return () if previous is None else (f"{PREVIOUS_RELEASE_EXT}{previous}",)


def previous_release(cp: Checkpoint) -> int | None:
    """The release before the one *cp* is (from its signed extension line)."""
    return _extension(cp, PREVIOUS_RELEASE_EXT)


@attrs.frozen
class Head:
    """The archive's committed state: the latest checkpoint, parsed."""

    checkpoint: Checkpoint | None
    note: bytes | None

    @property
    def size(self) -> int:
        return self.checkpoint.size if self.checkpoint else 0

    @property
    def latest_release(self) -> int | None:
        """The newest release, as recorded (and signed) in the latest checkpoint."""
        return _extension(self.checkpoint, RELEASE_EXT)

    def extensions(self) -> tuple[str, ...]:
        latest = self.latest_release
        return () if latest is None else (f"{RELEASE_EXT}{latest}",)


@attrs.frozen
class Problem:
    """One thing ``verify`` found wrong."""

    code: str
    message: str
    seq: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "seq": self.seq}


@attrs.frozen
class VerifyReport:
    origin: str
    size: int
    root: bytes | None
    releases: tuple[int, ...]
    documents: int
    objects_checked: int
    signatures_checked: int
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def released_size(self) -> int:
        return self.releases[-1] if self.releases else 0

    @property
    def unreleased(self) -> int:
        return self.size - self.released_size

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "origin": self.origin,
            "size": self.size,
            "root": self.root.hex() if self.root else None,
            "releases": list(self.releases),
            "released_size": self.released_size,
            "unreleased": self.unreleased,
            "documents": self.documents,
            "objects_checked": self.objects_checked,
            "signatures_checked": self.signatures_checked,
            "problems": [p.to_dict() for p in self.problems],
        }


class ArchiveVerificationError(VerificationError):
    """``verify`` found problems; the full report is attached."""

    def __init__(self, report: VerifyReport) -> None:
        first = report.problems[0].message
        more = len(report.problems) - 1
        super().__init__(first + (f" (and {more} more problems)" if more else ""))
        self.report = report


@attrs.frozen
class Release:
    size: int
    root: bytes
    note: bytes
    created: bool


class _Overlay:
    """Stored hashes: the committed file plus hashes computed in this append, not yet written."""

    def __init__(self, store: Store, base_count: int) -> None:
        self.store = store
        self.base_count = base_count
        self.new: list[bytes] = []

    def read(self, indexes: Sequence[int]) -> list[bytes]:
        out: list[bytes] = []
        for i in indexes:
            if i < self.base_count:
                out.append(self.store.read_range(HASHES, i * HASH, HASH))
            else:
                try:
                    out.append(self.new[i - self.base_count])
                except IndexError:
                    raise StorageError(f"stored hash {i} is not available") from None
        return out


class Archive:
    """An archive on a :class:`Store`. Open with :meth:`open` or create with :meth:`init`."""

    def __init__(self, store: Store, config: Config, path: Path | None = None) -> None:
        self.store = store
        self.config = config
        self.path = path

    @property
    def origin(self) -> str:
        return self.config.origin

    # -- opening ----------------------------------------------------------------------------

    @classmethod
    def open(cls, path: Path | str) -> Archive:
        root = Path(path)
        if not root.is_dir():
            raise ArchiveNotFoundError(
                f"no archive at {root}",
                hint="create one with 'orderarchive init' or pass --archive",
            )
        store = FileStore(root)
        try:
            data = store.read(CONFIG)
        except NotFoundError as e:
            raise ArchiveNotFoundError(
                f"{root} is not an orderarchive archive (no {CONFIG})",
                hint="create one with 'orderarchive init' or pass --archive",
            ) from e
        return cls(store, Config.from_bytes(data), root)

    @classmethod
    def init(cls, path: Path | str, origin: str) -> Archive:
        if not valid_origin(origin):
            raise MalformedError(
                f"invalid origin {origin!r}",
                hint="use a scheme-less name such as boston.gov/executive-orders",
            )
        root = Path(path)
        if root.exists() and any(root.iterdir()):
            raise ConflictError(f"{root} exists and is not empty")
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StorageError(f"cannot create {root}: {e.strerror}") from e
        store = FileStore(root)
        config = Config(origin=origin)
        store.create(CONFIG, config.to_bytes())
        return cls(store, config, root)

    # -- reading ----------------------------------------------------------------------------

    def head(self, verifiers: Sequence[VerifierKey] | None = None) -> Head:
        """The latest checkpoint. With *verifiers*, its signature must verify by one of them."""
        try:
            note = self.store.read(CHECKPOINT)
        except NotFoundError:
            return Head(None, None)
        if verifiers is None:
            cp = _parse_unverified_checkpoint(note)
        else:
            cp, _ = open_checkpoint(note, verifiers, origin=self.origin)
        if cp.origin != self.origin:
            raise VerificationError(
                f"checkpoint origin {cp.origin!r} differs from the archive's {self.origin!r}"
            )
        return Head(cp, note)

    def read_hashes(self, indexes: Sequence[int]) -> list[bytes]:
        return [self.store.read_range(HASHES, i * HASH, HASH) for i in indexes]

    def tree_hash(self, size: int) -> bytes:
        return merkle.tree_hash(size, self.read_hashes)

    def entry_span(self, seq: int) -> tuple[int, int]:
        end = struct.unpack(">Q", self.store.read_range(OFFSETS, seq * OFFSET_SIZE, OFFSET_SIZE))[0]
        start = 0
        if seq:
            start = struct.unpack(
                ">Q", self.store.read_range(OFFSETS, (seq - 1) * OFFSET_SIZE, OFFSET_SIZE)
            )[0]
        if end <= start:
            raise StorageError(f"offsets of entry {seq} are corrupt")
        return start, end

    def entry_bytes(self, seq: int, size: int | None = None) -> bytes:
        """The exact stored bytes of entry *seq* (checked against the stored leaf hash)."""
        limit = self.head().size if size is None else size
        if not 0 <= seq < limit:
            raise NotFoundError(f"entry {seq} is not in the log (size {limit})")
        start, end = self.entry_span(seq)
        line = self.store.read_range(ENTRIES, start, end - start)
        if not line.endswith(b"\n"):
            raise StorageError(f"entry {seq} is not a complete line")
        raw = line[:-1]
        stored = self.read_hashes([merkle.stored_hash_index(0, seq)])[0]
        if not hmac.compare_digest(stored, merkle.leaf_hash(raw)):
            raise VerificationError(f"entry {seq} does not match its stored leaf hash")
        return raw

    def entry(self, seq: int, size: int | None = None) -> Entry:
        return Entry.from_bytes(self.entry_bytes(seq, size))

    def iter_entries(self, start: int = 0, end: int | None = None) -> Iterator[Entry]:
        """Entries start..end-1 read sequentially (for rebuilding the index)."""
        stop = self.head().size if end is None else end
        if start >= stop:
            return
        begin = self.entry_span(start)[0]
        finish = self.entry_span(stop - 1)[1]
        with self.store.open_stream(ENTRIES) as f:
            f.seek(begin)
            remaining = finish - begin
            seq = start
            buffer = b""
            while remaining > 0 or buffer:
                if remaining > 0:
                    chunk = f.read(min(CHUNK, remaining))
                    if not chunk:
                        raise StorageError("entry log ended early")
                    remaining -= len(chunk)
                    buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    yield Entry.from_bytes(line)
                    seq += 1
                if remaining == 0 and buffer:
                    raise StorageError("entry log does not end with a newline")
        if seq != stop:
            raise StorageError(
                f"entry log holds {seq - start} entries where {stop - start} were expected"
            )

    def read_object(self, sha256: str) -> bytes:
        data = self.store.read(object_name(sha256))
        actual = sha256_hex(data)
        if not hmac.compare_digest(actual, sha256):
            raise VerificationError(
                f"object sha256:{sha256} is corrupt (hashes to sha256:{actual})"
            )
        return data

    def text_layer(self, entry: Entry) -> TextLayer | None:
        if entry.document is None or entry.document.text is None:
            return None
        return TextLayer.from_bytes(self.read_object(entry.document.text.sha256))

    def releases(self) -> list[int]:
        sizes: list[int] = []
        for name in self.store.list(RELEASES):
            leaf = name.rsplit("/", 1)[-1]
            if leaf.isdigit() and str(int(leaf)) == leaf:
                sizes.append(int(leaf))
        return sorted(sizes)

    def release_note(self, size: int) -> bytes:
        try:
            return self.store.read(f"{RELEASES}/{size}")
        except NotFoundError as e:
            raise NotFoundError(f"no release at tree size {size}") from e

    # -- index --------------------------------------------------------------------------------

    def index(self) -> Any:
        """The derived index, brought up to date with the committed log."""
        from .index import Index  # sqlite3 is only needed by commands that look things up

        if self.path is None:
            raise StorageError("this archive has no local index")
        idx = Index.open(self.path / INDEX)
        try:
            with self.store.lock(name=INDEX_LOCK):
                self._sync_index(idx)
        except BaseException:
            idx.close()
            raise
        return idx

    def _sync_index(self, idx: Any) -> None:
        head = self.head()
        size = head.size
        indexed, root = idx.state()
        if indexed > size or (
            indexed and (root is None or not hmac.compare_digest(root, self.tree_hash(indexed)))
        ):
            idx.reset()
            indexed = 0
        if indexed == size:
            return
        batch: list[Entry] = []
        texts: dict[str, TextLayer] = {}
        done = indexed
        for entry in self.iter_entries(indexed, size):
            batch.append(entry)
            layer = self._try_text(entry)
            if layer is not None and entry.document and entry.document.text:
                texts[entry.document.text.sha256] = layer
            if len(batch) >= 5000:
                done += len(batch)
                idx.add(batch, texts, size=done, root=self.tree_hash(done), paged=_paged)
                batch, texts = [], {}
        if batch:
            done += len(batch)
            idx.add(batch, texts, size=done, root=self.tree_hash(done), paged=_paged)

    def _try_text(self, entry: Entry) -> TextLayer | None:
        try:
            return self.text_layer(entry)
        except OrderArchiveError:
            return None  # the index is never trusted; verify reports the broken object

    # -- writing ------------------------------------------------------------------------------

    def _writer_head(self, signer: Signer) -> Head:
        verifier = signer.verifier()
        if verifier.name != self.origin:
            raise SignatureError(
                f"key {verifier.name!r} cannot sign for origin {self.origin!r}",
                hint="generate a key whose name is the archive's origin",
            )
        head = self.head([verifier])
        size = head.size
        if head.checkpoint is not None:
            count = merkle.stored_hash_count(size)
            if (
                self.store.size(HASHES) < count * HASH
                or self.store.size(OFFSETS) < size * OFFSET_SIZE
            ):
                raise StorageError(
                    "the log is shorter than its checkpoint",
                    hint="the archive was truncated; restore it from a copy",
                )
            if not hmac.compare_digest(self.tree_hash(size), head.checkpoint.root_hash):
                raise VerificationError("stored tree hashes do not match the signed checkpoint")
        return head

    def add(
        self,
        requests: Sequence[AddRequest],
        signer: Signer,
        *,
        now: datetime | None = None,
    ) -> list[Entry]:
        """Append documents as signed entries and commit a new signed checkpoint."""
        if not requests:
            return []
        with self.store.lock():
            head = self._writer_head(signer)
            size = head.size
            self._check_new(requests)
            recorded = utc_timestamp(now)
            entries_at = self.entry_span(size - 1)[1] if size else 0
            hashes_at = merkle.stored_hash_count(size)
            overlay = _Overlay(self.store, hashes_at)
            lines: list[bytes] = []
            offsets: list[bytes] = []
            entries: list[Entry] = []
            end = entries_at
            for i, req in enumerate(requests):
                sha = sha256_hex(req.data)
                if sha != req.fields.sha256 or len(req.data) != req.fields.size:
                    raise MalformedError(f"request {i}: sha256/size do not describe its data")
                self.store.create(object_name(sha), req.data)
                if req.text is not None:
                    self.store.create(
                        object_name(sha256_hex(req.text.to_bytes())), req.text.to_bytes()
                    )
                entry = make_entry(
                    req.fields.to_dict(), seq=size + i, signer=signer, recorded=recorded
                )
                leaf = merkle.leaf_hash(entry.raw)
                overlay.new.extend(merkle.stored_hashes_for_record(size + i, leaf, overlay.read))
                lines.append(entry.raw + b"\n")
                end += len(entry.raw) + 1
                offsets.append(struct.pack(">Q", end))
                entries.append(entry)
            new_size = size + len(entries)
            root = merkle.tree_hash(new_size, overlay.read)
            self.store.append(ENTRIES, b"".join(lines), at=entries_at)
            self.store.append(OFFSETS, b"".join(offsets), at=size * OFFSET_SIZE)
            self.store.append(HASHES, b"".join(overlay.new), at=hashes_at * HASH)
            note = sign_checkpoint(
                Checkpoint(self.origin, new_size, root, head.extensions()), signer
            )
            self.store.swap(CHECKPOINT, head.note, note)
        self._index_quietly()
        return entries

    def _index_quietly(self) -> None:
        if self.path is None:
            return
        with contextlib.suppress(OrderArchiveError):  # derived data: rebuilt on next use
            self.index().close()

    def _check_new(self, requests: Sequence[AddRequest]) -> None:
        seen: set[str] = set()
        idx = self.index() if self.path is not None else None
        try:
            for req in requests:
                f = req.fields
                if f.doc in seen:
                    raise ConflictError(f"document id {f.doc!r} appears twice in this batch")
                seen.add(f.doc)
                if idx is None:
                    continue
                if idx.by_doc(f.doc) is not None:
                    raise ConflictError(
                        f"document id {f.doc!r} is already in the archive",
                        hint="choose another --id; record changes as a new document with --amends",
                    )
                for hit in idx.by_sha256(f.sha256):
                    raise ConflictError(
                        f"this file is already archived as {hit.doc!r} (entry {hit.seq})"
                    )
                for rel in f.relations:
                    if rel.target not in seen and idx.by_doc(rel.target) is None:
                        raise NotFoundError(
                            f"related document {rel.target!r} is not in the archive"
                        )
        finally:
            if idx is not None:
                idx.close()

    def release(self, signer: Signer) -> Release:
        """Sign the current tree as a release; it must extend the last release."""
        with self.store.lock():
            head = self._writer_head(signer)
            if head.checkpoint is None:
                raise NotFoundError("the archive is empty; add documents before releasing")
            size = head.size
            root = head.checkpoint.root_hash
            last = head.latest_release
            if last == size:
                return Release(size, root, self.release_note(size), created=False)
            if last is not None:
                old_cp, _ = open_checkpoint(
                    self.release_note(last), [signer.verifier()], origin=self.origin
                )
                if last > size or not hmac.compare_digest(self.tree_hash(last), old_cp.root_hash):
                    raise VerificationError(
                        f"the current tree does not extend release {last}; refusing to sign a fork"
                    )
            cp = Checkpoint(self.origin, size, root, release_extensions(last))
            note = sign_checkpoint(cp, signer)
            # Release file first, then the latest checkpoint naming it (the commit point).
            # Ed25519 is deterministic, so re-running an interrupted release recreates the
            # same bytes and completes it.
            self.store.create(f"{RELEASES}/{size}", note)
            latest = sign_checkpoint(
                Checkpoint(self.origin, size, root, (f"{RELEASE_EXT}{size}",)), signer
            )
            self.store.swap(CHECKPOINT, head.note, latest)
            return Release(size, root, note, created=True)

    def repair(self, *, discard_uncheckpointed: bool = False) -> dict[str, int]:
        """Cut debris left past the committed checkpoint by an interrupted append.

        With no checkpoint at all, entries in the log are either debris of an interrupted
        first append or a committed log whose checkpoint was deleted; only the user can tell,
        so that case needs *discard_uncheckpointed*.
        """
        with self.store.lock():
            head = self.head()
            if head.checkpoint is None and self.store.size(ENTRIES) and not discard_uncheckpointed:
                raise StorageError(
                    "the log holds entries but there is no checkpoint; refusing to discard them",
                    hint="restore 'checkpoint' from a copy; if the first add was interrupted, "
                    "run 'orderarchive repair --discard-uncheckpointed'",
                )
            size = head.size
            keep_entries = self.entry_span(size - 1)[1] if size else 0
            cut: dict[str, int] = {}
            for name, keep in (
                (ENTRIES, keep_entries),
                (OFFSETS, size * OFFSET_SIZE),
                (HASHES, merkle.stored_hash_count(size) * HASH),
            ):
                have = self.store.size(name)
                if have < keep:
                    raise StorageError(
                        f"{name} is shorter than the committed checkpoint; repair cannot help",
                        hint="restore the archive from a copy",
                    )
                if have > keep:
                    self.store.truncate(name, keep)
                    cut[name] = have - keep
            return cut

    # -- verification -------------------------------------------------------------------------

    def audit(
        self,
        verifiers: Sequence[VerifierKey],
        *,
        progress: ProgressFn | None = None,
        check_objects: bool = True,
    ) -> VerifyReport:
        """Check everything and report every problem found (never stops at the first)."""
        return _Auditor(self, verifiers, progress, check_objects).run()

    def verify(self, verifiers: Sequence[VerifierKey], **kwargs: Any) -> VerifyReport:
        report = self.audit(verifiers, **kwargs)
        if not report.ok:
            raise ArchiveVerificationError(report)
        return report


def _paged(entry: Entry) -> bool:
    return entry.document is not None and entry.document.media_type == "application/pdf"


def _parse_unverified_checkpoint(note: bytes) -> Checkpoint:
    from .note import SignedNote

    return Checkpoint.parse(SignedNote.parse(note).text)


class _Auditor:
    def __init__(
        self,
        archive: Archive,
        verifiers: Sequence[VerifierKey],
        progress: ProgressFn | None,
        check_objects: bool,
    ) -> None:
        self.a = archive
        self.verifiers = list(verifiers)
        self.progress = progress
        self.check_objects = check_objects
        self.problems: list[Problem] = []
        self.documents = 0
        self.objects = 0
        self.signatures = 0

    def problem(self, code: str, message: str, seq: int | None = None) -> None:
        if len(self.problems) < 1000:
            self.problems.append(Problem(code, message, seq))
        elif len(self.problems) == 1000:
            self.problems.append(Problem("too-many", "more than 1000 problems; stopped listing"))

    def run(self) -> VerifyReport:
        a = self.a
        size = 0
        root: bytes | None = None
        if not self.verifiers:
            self.problem("no-trusted-keys", "no trusted keys were given; nothing can be verified")
        try:
            head = a.head(self.verifiers)
            if head.checkpoint is not None:
                size, root = head.size, head.checkpoint.root_hash
        except OrderArchiveError as e:
            self.problem("checkpoint", f"latest checkpoint: {e}")
            try:  # go on with the unverified size so that the rest is still checked
                head = a.head()
                size = head.size
                root = head.checkpoint.root_hash if head.checkpoint else None
            except OrderArchiveError:
                head = Head(None, None)
                size, root = self._count_entries(), None
        if head.checkpoint is None and a.store.size(ENTRIES):
            self.problem(
                "checkpoint-missing",
                "the log holds entries but there is no checkpoint (deleted, or the first add "
                "was interrupted)",
            )
        leaf_root = self._check_log(size, root)
        if root is not None and leaf_root is not None and not hmac.compare_digest(root, leaf_root):
            self.problem("root", "the log's Merkle root differs from the signed checkpoint")
        try:
            latest_release = head.latest_release
        except OrderArchiveError as e:
            self.problem("checkpoint", f"latest checkpoint: {e}")
            latest_release = None
        releases = self._check_releases(size, latest_release)
        return VerifyReport(
            origin=a.origin,
            size=size,
            root=root,
            releases=tuple(releases),
            documents=self.documents,
            objects_checked=self.objects,
            signatures_checked=self.signatures,
            problems=tuple(self.problems),
        )

    def _count_entries(self) -> int:
        return self.a.store.size(OFFSETS) // OFFSET_SIZE

    def _check_log(self, size: int, root: bytes | None) -> bytes | None:
        """Stream the log, offsets and stored hashes once; O(log n) memory."""
        a = self.a
        store = a.store
        hash_count = merkle.stored_hash_count(size)
        for name, want, unit in (
            (OFFSETS, size * OFFSET_SIZE, "entries"),
            (HASHES, hash_count * HASH, "stored hashes"),
        ):
            have = store.size(name)
            if have > want:
                extra = (have - want) // (OFFSET_SIZE if name == OFFSETS else HASH)
                self.problem(
                    "uncommitted",
                    f"{name} holds {extra} {unit} past the signed checkpoint (an interrupted "
                    "append?); run 'orderarchive repair' to remove them",
                )
            elif have < want:
                self.problem("truncated", f"{name} is shorter than the signed checkpoint requires")
        try:
            entries_size = store.size(ENTRIES)
            offsets = store.read_range(OFFSETS, 0, min(store.size(OFFSETS), size * OFFSET_SIZE))
            with store.open_stream(ENTRIES) as ef, _maybe_stream(store, HASHES) as hf:
                return self._walk(size, ef, hf, offsets, entries_size)
        except NotFoundError as e:
            if size:
                self.problem("missing", str(e))
            return merkle.EMPTY_ROOT if size == 0 else None
        except StorageError as e:
            self.problem("storage", str(e))
            return None

    def _walk(self, size: int, ef: Any, hf: Any, offsets: bytes, entries_size: int) -> bytes | None:
        stack: list[tuple[int, bytes]] = []  # compact range: (height, hash) — RFC 9162 §2.1.1
        pending = b""
        pos = 0
        hash_ok = hf is not None
        seen_docs: dict[str, int] = {}
        next_seq = 0
        seq = 0
        last_end = 0
        while seq < size:
            newline = pending.find(b"\n")
            if newline < 0:
                chunk = ef.read(CHUNK)
                if not chunk:
                    self.problem("truncated", f"the entry log ends after {seq} of {size} entries")
                    return None
                pending += chunk
                continue
            line, pending = pending[:newline], pending[newline + 1 :]
            pos += len(line) + 1
            if (seq + 1) * OFFSET_SIZE <= len(offsets):
                (end,) = struct.unpack_from(">Q", offsets, seq * OFFSET_SIZE)
                if end != pos or end <= last_end:
                    self.problem(
                        "offsets", f"offset of entry {seq} is {end}, the entry ends at {pos}", seq
                    )
                last_end = end
            leaf = merkle.leaf_hash(line)
            next_seq = self._check_entry(seq, line, next_seq, seen_docs)
            # Expected stored hashes for record `seq` (Go tlog StoredHashesForRecordHash):
            # the leaf, then one node per completed subtree.
            expected = [leaf]
            h = leaf
            height = 0
            while stack and stack[-1][0] == height:
                _, left = stack.pop()
                h = merkle.node_hash(left, h)
                height += 1
                expected.append(h)
            stack.append((height, h))
            if hash_ok:
                got = hf.read(HASH * len(expected))
                for k, want in enumerate(expected):
                    have = got[k * HASH : (k + 1) * HASH]
                    if not hmac.compare_digest(have, want):
                        level = "leaf hash" if k == 0 else f"level-{k} hash"
                        self.problem("hashes", f"stored {level} for entry {seq} is wrong", seq)
                        break
            seq += 1
            if self.progress and (seq % 4096 == 0 or seq == size):
                self.progress(seq, size)
        trailing = entries_size - pos
        if trailing > 0:
            self.problem(
                "uncommitted",
                f"{ENTRIES} holds {trailing} bytes past the signed checkpoint; "
                "run 'orderarchive repair' to remove them",
            )
        if not stack:
            return merkle.EMPTY_ROOT
        h = stack[-1][1]
        for _, left in reversed(stack[:-1]):
            h = merkle.node_hash(left, h)
        return h

    def _check_entry(self, seq: int, line: bytes, next_seq: int, seen: dict[str, int]) -> int:
        try:
            entry = Entry.from_bytes(line)
        except (EntryFormatError, MalformedError) as e:
            self.problem("entry", f"entry {seq}: {e}", seq)
            return next_seq + 1
        if entry.seq != seq:
            self.problem("sequence", f"entry at position {seq} says it is entry {entry.seq}", seq)
        try:
            entry.verify(self.verifiers)
            self.signatures += 1
        except SignatureError as e:
            self.problem("signature", str(e), seq)
        doc = entry.document
        if doc is not None:
            self.documents += 1
            if doc.doc in seen:
                self.problem(
                    "duplicate-id",
                    f"entry {seq}: document id {doc.doc!r} reused (entry {seen[doc.doc]})",
                    seq,
                )
            else:
                seen[doc.doc] = seq
            for rel in doc.relations:
                if rel.target not in seen:
                    self.problem(
                        "relation",
                        f"entry {seq}: relation to unknown earlier document {rel.target!r}",
                        seq,
                    )
            if self.check_objects:
                self._check_object(seq, doc.sha256, doc.size, "document")
                if doc.text is not None:
                    self._check_object(seq, doc.text.sha256, doc.text.size, "text layer", text=True)
        return next_seq + 1

    def _check_object(
        self, seq: int, sha: str, size: int, what: str, *, text: bool = False
    ) -> None:
        name = object_name(sha)
        h = hashlib.sha256()
        total = 0
        data = bytearray() if text else None
        try:
            with self.a.store.open_stream(name) as f:
                while chunk := f.read(CHUNK):
                    h.update(chunk)
                    total += len(chunk)
                    if data is not None:
                        data += chunk
        except NotFoundError:
            self.problem("object-missing", f"entry {seq}: {what} sha256:{sha} is missing", seq)
            return
        except StorageError as e:
            self.problem("object", f"entry {seq}: {e}", seq)
            return
        self.objects += 1
        if not hmac.compare_digest(h.hexdigest(), sha):
            self.problem("object-digest", f"entry {seq}: {what} does not hash to sha256:{sha}", seq)
        elif total != size:
            self.problem(
                "object-size", f"entry {seq}: {what} is {total} bytes, entry says {size}", seq
            )
        elif data is not None:
            try:
                TextLayer.from_bytes(bytes(data))
            except MalformedError as e:
                self.problem("text-layer", f"entry {seq}: {e}", seq)

    def _check_releases(self, size: int, latest: int | None) -> list[int]:
        a = self.a
        good: list[int] = []
        previous: dict[int, int | None] = {}
        names = a.store.list(RELEASES)
        for name in names:
            leaf = name.rsplit("/", 1)[-1]
            if not (leaf.isdigit() and str(int(leaf)) == leaf):
                self.problem("release", f"unexpected file {name} among releases")
                continue
            rsize = int(leaf)
            try:
                cp, _ = open_checkpoint(a.store.read(name), self.verifiers, origin=a.origin)
            except OrderArchiveError as e:
                self.problem("release", f"release {rsize}: {e}")
                continue
            if cp.size != rsize:
                self.problem(
                    "release", f"release file {rsize} holds a checkpoint of size {cp.size}"
                )
                continue
            if rsize > size:
                self.problem(
                    "release", f"release {rsize} is beyond the log (size {size}): rollback?"
                )
                continue
            try:
                actual = a.tree_hash(rsize)
            except OrderArchiveError as e:
                self.problem("release", f"release {rsize}: cannot compute the tree: {e}")
                continue
            if not hmac.compare_digest(actual, cp.root_hash):
                self.problem(
                    "release", f"release {rsize}: its root is not the log's tree at that size"
                )
                continue
            try:
                previous[rsize] = previous_release(cp)
            except OrderArchiveError as e:
                self.problem("release", f"release {rsize}: {e}")
                continue
            good.append(rsize)
        self._check_release_chain(names, previous, latest)
        return sorted(good)

    def _check_release_chain(
        self, names: list[str], previous: dict[int, int | None], latest: int | None
    ) -> None:
        """Every release must be on the signed chain latest → previous → … (none deleted)."""
        present = {int(n.rsplit("/", 1)[-1]) for n in names if n.rsplit("/", 1)[-1].isdigit()}
        chained: set[int] = set()
        unreachable_below = 0  # releases under a broken link cannot be placed on the chain
        current = latest
        while current is not None and current not in chained:
            chained.add(current)
            if current not in present:
                self.problem(
                    "release-missing", f"release {current} is recorded but its file is missing"
                )
                unreachable_below = current
                break
            if current not in previous:
                unreachable_below = current
                break  # already reported as invalid
            nxt = previous[current]
            if nxt is not None and nxt >= current:
                self.problem("release", f"release {current} names a later release {nxt}")
                break
            current = nxt
        for extra in sorted(present - chained):
            if extra < unreachable_below:
                continue
            self.problem(
                "release-unrecorded",
                f"release {extra} is not on the signed release chain (an interrupted release? "
                "run 'orderarchive release' again)",
            )


class _NullCtx:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _maybe_stream(store: Store, name: str) -> Any:
    if store.exists(name):
        return store.open_stream(name)
    return _NullCtx()


def default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


def document_fields(
    data: bytes,
    *,
    doc: str,
    kind: str,
    title: str,
    issuer: str,
    issued: str | None,
    media_type: str,
    source_url: str | None = None,
    text: TextLayer | None = None,
    extractor: str | None = None,
    no_text_reason: str | None = None,
    relations: Sequence[tuple[str, str]] = (),
    meta: Mapping[str, str | int] | None = None,
) -> AddRequest:
    """Build an :class:`AddRequest` from a document's bytes and what the clerk states."""
    from .entry import Relation, TextRef

    text_ref = None
    if text is not None and not text.is_empty:
        blob = text.to_bytes()
        text_ref = TextRef(sha256_hex(blob), len(blob), extractor or "unknown")
    elif text is not None:
        text = None
        no_text_reason = no_text_reason or "no text could be extracted"
    fields = DocumentFields(
        doc=doc,
        kind=kind,
        title=title,
        issuer=issuer,
        issued=issued,
        media_type=media_type,
        size=len(data),
        sha256=sha256_hex(data),
        source_url=source_url,
        text=text_ref,
        no_text_reason=no_text_reason,
        relations=tuple(Relation(t, target) for t, target in relations),
        meta=dict(meta or {}),
    )
    return AddRequest(data=data, fields=fields, text=text)
