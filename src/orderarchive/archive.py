"""The recipe layer: open an archive, add documents, release, verify.

Layout (all names relative to the archive directory; details in docs/FORMAT.md)::

    orderarchive.json          config: format and origin (canonical JSON + LF)
    log/entries                the entry log: one canonical-JSON entry per line
    log/offsets                8-byte big-endian end offset of each entry line
    log/hashes                 stored Merkle hashes, Go sumdb tlog layout, 32 bytes each
    checkpoint                 latest signed checkpoint (the commit point; compare-and-swap)
    releases/<size>            every released checkpoint (create-only)
    objects/sha256/<2>/<62>    content-addressed documents and text layers (create-only)
    lock                       the writers' flock

The derived lookup/search index is not part of the archive: it is built from verified entries
in the user's cache directory (see :mod:`.index` and :meth:`Archive.index`). An
``index.sqlite`` found in an archive directory is ignored.

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
from typing import TYPE_CHECKING, Any

import attrs

from . import canonical
from .errors import (
    ArchiveNotFoundError,
    CanonicalJSONError,
    ConflictError,
    CorruptArchiveError,
    KeyFileError,
    MalformedError,
    NotFoundError,
    OrderArchiveError,
    RootMismatchError,
    SignatureError,
    StorageError,
    VerificationError,
)
from .log import merkle
from .log.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from .log.entry import (
    MAX_ENTRY_BYTES,
    DocumentFields,
    Entry,
    make_entry,
    utc_timestamp,
    verify_included,
)
from .log.layout import (
    ARCHIVE_FORMAT,
    CONFIG,
    ENTRIES,
    HASH,
    HASHES,
    MAX_CONFIG_BYTES,
    OFFSET_SIZE,
    OFFSETS,
    RELEASE_EXT,
    RELEASES,
    debris,
    decimal_size,
    extension_size,
    named,
    object_name,
    release_extensions,
)
from .log.layout import CHECKPOINT as CHECKPOINT  # noqa: PLC0414 (still importable from here)
from .log.layout import previous_release as previous_release  # noqa: PLC0414
from .log.note import MAX_NOTE_BYTES, Signer, VerifierKey
from .log.store import FileStore, Store, Versioned, deferred_interrupts, file_lock

if TYPE_CHECKING:  # text layers are parsed on demand: `check` of an exact copy needs none
    from .log.textlayer import TextLayer

CHUNK = 1 << 20
INDEX_BATCH = 5000  # entries per index transaction

ProgressFn = Callable[[int, int], None]


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


@attrs.frozen
class Head:
    """The archive's committed state: the latest checkpoint, parsed."""

    checkpoint: Checkpoint | None
    note: bytes | None
    #: The checkpoint as read from the store, with the version a compare-and-swap names.
    stored: Versioned | None = attrs.field(default=None, eq=False, repr=False)

    @property
    def size(self) -> int:
        return self.checkpoint.size if self.checkpoint else 0

    @property
    def latest_release(self) -> int | None:
        """The newest release, as recorded (and signed) in the latest checkpoint."""
        return extension_size(self.checkpoint, RELEASE_EXT)

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
        stored = iter(
            self.store.read_ranges(
                HASHES, [(i * HASH, HASH) for i in indexes if i < self.base_count]
            )
        )
        out: list[bytes] = []
        for i in indexes:
            if i < self.base_count:
                out.append(next(stored))
            else:
                try:
                    out.append(self.new[i - self.base_count])
                except IndexError:
                    raise StorageError(f"stored hash {i} is not available") from None
        return out


@attrs.frozen
class _Appended:
    """What one append wrote, handed to the index so that it need not re-read it."""

    start: int
    entries: tuple[Entry, ...]
    texts: Mapping[str, TextLayer]
    root: bytes

    @property
    def end(self) -> int:
        return self.start + len(self.entries)


@attrs.frozen
class _BatchSigner(Signer):
    """A :class:`Signer` that derives its Ed25519 key and verifier key once per append.

    ``Signer.sign`` re-derives the key pair from the seed for every signature (a scalar
    multiplication, as long as the signature itself), and ``make_entry`` asks for the
    verifier key once per entry; for an append of many documents that doubled the cost of
    signing. The signatures are the same bytes (Ed25519 is deterministic).
    """

    _key: Any = attrs.field(init=False, repr=False, eq=False)
    _verifier: VerifierKey = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        import nacl.signing

        key = nacl.signing.SigningKey(self.seed)
        object.__setattr__(self, "_key", key)
        verifier = VerifierKey.from_public_key(self.name, bytes(key.verify_key))
        object.__setattr__(self, "_verifier", verifier)

    @classmethod
    def of(cls, signer: Signer) -> Signer:
        if type(signer) is not Signer:  # a caller's own subclass keeps its behaviour
            return signer
        return cls(signer.name, signer.seed)

    def verifier(self) -> VerifierKey:
        return self._verifier

    def sign(self, msg: bytes) -> bytes:
        return bytes(self._key.sign(msg).signature)


class _Rebuild(Exception):
    """Internal: the index does not extend to the signed tree; rebuild it from the start."""


class Archive:
    """An archive on a :class:`Store`.

    Open a directory with :meth:`open` or create one with :meth:`init`; any other store
    (:class:`~orderarchive.log.store.MemoryStore`, ...) with :meth:`from_store` and
    :meth:`init_store`. *path* only names the directory the user gave, for messages; the
    archive reaches its data through *store* alone.
    """

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
            data = store.read(CONFIG, MAX_CONFIG_BYTES)
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

    @classmethod
    def from_store(cls, store: Store) -> Archive:
        """The archive kept in *store* (its config read and checked)."""
        try:
            data = store.read(CONFIG, MAX_CONFIG_BYTES)
        except NotFoundError as e:
            raise ArchiveNotFoundError(
                f"the store holds no orderarchive archive (no {CONFIG})"
            ) from e
        return cls(store, Config.from_bytes(data))

    @classmethod
    def init_store(cls, store: Store, origin: str) -> Archive:
        """A new, empty archive for *origin* in the empty *store*."""
        if not valid_origin(origin):
            raise MalformedError(f"invalid origin {origin!r}")
        config = Config(origin=origin)
        store.create(CONFIG, config.to_bytes())
        return cls(store, config)

    # -- reading ----------------------------------------------------------------------------

    def head(self, verifiers: Sequence[VerifierKey] | None = None) -> Head:
        """The latest checkpoint. With *verifiers*, its signature must verify by one of them."""
        stored = self.store.read_checkpoint(MAX_NOTE_BYTES)
        note = stored.data
        if note is None:
            return Head(None, None, stored)
        if verifiers is None:
            cp = _parse_unverified_checkpoint(note)
        else:
            cp, _ = open_checkpoint(note, verifiers, origin=self.origin)
        if cp.origin != self.origin:
            raise VerificationError(
                f"checkpoint origin {cp.origin!r} differs from the archive's {self.origin!r}"
            )
        return Head(cp, note, stored)

    def read_hashes(self, indexes: Sequence[int]) -> list[bytes]:
        """Stored hashes by index (a :data:`merkle.HashReader`), read in one batch."""
        return self.store.read_ranges(HASHES, [(i * HASH, HASH) for i in indexes])

    def tree_hash(self, size: int) -> bytes:
        return merkle.tree_hash(size, self.read_hashes)

    def entry_span(self, seq: int) -> tuple[int, int]:
        if seq:
            start, end = struct.unpack(
                ">QQ", self.store.read_range(OFFSETS, (seq - 1) * OFFSET_SIZE, 2 * OFFSET_SIZE)
            )
        else:
            start = 0
            (end,) = struct.unpack(">Q", self.store.read_range(OFFSETS, 0, OFFSET_SIZE))
        if end <= start:
            raise StorageError(f"offsets of entry {seq} are corrupt")
        if end - start > MAX_ENTRY_BYTES + 1:
            # Refused before reading: a hostile offset (2**62, or a 200 MB line) is not an
            # allocation or a parse.
            raise StorageError(
                f"entry {seq} would be {end - start} bytes, more than an entry's "
                f"{MAX_ENTRY_BYTES} (its offsets are corrupt)"
            )
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
        with self.store.stream_record(ENTRIES) as f:
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
                if len(buffer) > MAX_ENTRY_BYTES:
                    raise StorageError(f"entry {seq} is longer than {MAX_ENTRY_BYTES} bytes")
                if remaining == 0 and buffer:
                    raise StorageError("entry log does not end with a newline")
        if seq != stop:
            raise StorageError(
                f"entry log holds {seq - start} entries where {stop - start} were expected"
            )

    def read_object(self, sha256: str, size: int | None = None) -> bytes:
        """The object *sha256*, checked against its name; with *size* (what the signed entry
        states), a file of any other size is refused before it is read."""
        data = self.store.read(object_name(sha256), size)
        if size is not None and len(data) != size:
            raise VerificationError(
                f"object sha256:{sha256} is {len(data)} bytes, its entry says {size}"
            )
        actual = sha256_hex(data)
        if not hmac.compare_digest(actual, sha256):
            raise VerificationError(
                f"object sha256:{sha256} is corrupt (hashes to sha256:{actual})"
            )
        return data

    def text_layer(self, entry: Entry) -> TextLayer | None:
        if entry.document is None or entry.document.text is None:
            return None
        from .log.textlayer import TextLayer

        text = entry.document.text
        return TextLayer.from_bytes(self.read_object(text.sha256, text.size))

    def releases(self) -> list[int]:
        sizes: list[int] = []
        for name in self.store.list(RELEASES):
            size = decimal_size(name.rsplit("/", 1)[-1])
            if size is not None:
                sizes.append(size)
        return sorted(sizes)

    def release_note(self, size: int) -> bytes:
        try:
            return self.store.read(f"{RELEASES}/{size}", MAX_NOTE_BYTES)
        except NotFoundError as e:
            raise NotFoundError(f"no release at tree size {size}") from e

    # -- index --------------------------------------------------------------------------------

    def index(self, verifiers: Sequence[VerifierKey]) -> Any:
        """The derived index, brought up to date with the log as signed by *verifiers*.

        The index holds only entries whose signatures verify against *verifiers* and whose
        leaves hash to the root of the latest checkpoint, itself signed by *verifiers*; its
        ``checkpoint`` attribute is that checkpoint. Raises :class:`KeyFileError` without
        keys: nothing unverified is ever indexed.
        """
        return self._open_index(verifiers)

    def verified_entry(
        self, seq: int, checkpoint: Checkpoint, verifiers: Sequence[VerifierKey]
    ) -> Entry:
        """Entry *seq* re-read from the log, its signature checked against *verifiers* and
        its leaf shown by an inclusion proof to be in the tree of *checkpoint* (verified)."""
        if not 0 <= seq < checkpoint.size:
            raise NotFoundError(f"entry {seq} is not in the signed tree (size {checkpoint.size})")
        raw = self.entry_bytes(seq, checkpoint.size)
        entry = Entry.from_bytes(raw)
        if entry.seq != seq:
            raise VerificationError(f"the entry at position {seq} says it is entry {entry.seq}")
        path = merkle.inclusion_proof(seq, checkpoint.size, self.read_hashes)
        verify_included(entry, checkpoint, path, verifiers)
        return entry

    def _open_index(
        self, verifiers: Sequence[VerifierKey], appended: _Appended | None = None
    ) -> Any:
        from .index import Index, index_path  # sqlite3 is only needed by commands that look up

        if not verifiers:
            raise KeyFileError(
                "no trusted keys: the index is built only from entries verified by trusted keys",
                hint="pass --trusted-key FILE with the publisher's verifier key",
            )
        head = self.head(verifiers)
        location = self.store.location()
        idx: Any
        lock: contextlib.AbstractContextManager[None]
        if location is None:
            # A store that lives only in this process (MemoryStore): its index does too, built
            # from the verified log for this call.
            idx, lock = Index.memory(), contextlib.nullcontext()
        else:
            path = index_path(Path(location), self.origin)
            try:
                idx = Index.open(path)
                lock = file_lock(path.parent, path.name + ".lock")
            except StorageError:
                # No writable cache (a read-only home, a full disk): build the index in memory
                # for this command. Slower for a large archive, never wrong.
                idx, lock = Index.memory(), contextlib.nullcontext()
        try:
            with lock:
                self._sync_index(idx, head, verifiers, appended)
        except BaseException:
            idx.close()
            raise
        idx.checkpoint = head.checkpoint
        return idx

    def _sync_index(
        self,
        idx: Any,
        head: Head,
        verifiers: Sequence[VerifierKey],
        appended: _Appended | None = None,
    ) -> None:
        """Bring *idx* to the verified *head*: extend it from its compact range with the new
        entries, each signature verified, and compare the new root with the signed one.

        A mirror rolled back or forked relative to the index (its tree no longer extends
        what the index holds) rebuilds the index from the start; a log that does not hash to
        its own signed checkpoint raises :class:`RootMismatchError` and leaves the index as
        it was.
        """
        size = head.size
        root = head.checkpoint.root_hash if head.checkpoint else merkle.EMPTY_ROOT
        keys = keyset_fingerprint(verifiers)
        bound = idx.binding()
        if (
            bound.origin == self.origin
            and bound.keys == keys
            and bound.size == size
            and bound.root is not None
            and hmac.compare_digest(bound.root, root)
        ):
            return  # the common case: one signature checked (the head), nothing else read
        for attempt in range(2):
            try:
                with idx.transaction("update"):  # all or nothing: a failed update leaves no trace
                    bound = idx.binding()
                    if attempt or bound.origin != self.origin or bound.keys != keys or (
                        bound.size > size
                    ):
                        idx.reset(origin=self.origin, keys=keys)
                        bound = idx.binding()
                    frontier = self._index_entries(
                        idx, bound.size, bound.frontier, size, verifiers=verifiers,
                        appended=appended,
                    )
                    actual = merkle.compact_root(frontier)
                    if hmac.compare_digest(actual, root):
                        idx.seal(root)
                        return
                    if bound.size == 0:
                        raise RootMismatchError(
                            f"the log's {size} entries do not hash to the root of the signed "
                            "checkpoint",
                            expected=root,
                            actual=actual,
                        )
                    raise _Rebuild
            except _Rebuild:
                continue  # the mirror was rolled back or forked since it was indexed

    def _index_entries(
        self,
        idx: Any,
        start: int,
        frontier: Sequence[bytes],
        size: int,
        *,
        verifiers: Sequence[VerifierKey],
        appended: _Appended | None,
    ) -> list[bytes]:
        hashes = list(frontier)
        done = start
        if appended is not None and appended.start == done and appended.end <= size:
            # Entries this process has just signed with the trusted key (the writer's) and
            # their text layers are in memory: index them without reading them back.
            leaves = [merkle.leaf_hash(e.raw) for e in appended.entries]
            hashes = merkle.compact_append(done, hashes, leaves)
            idx.add(appended.entries, appended.texts, size=appended.end, root=None,
                    paged=_paged, frontier=hashes)
            done = appended.end
        batch: list[Entry] = []
        texts: dict[str, TextLayer] = {}

        def flush() -> None:
            nonlocal hashes, done, batch, texts
            hashes = merkle.compact_append(done, hashes, [merkle.leaf_hash(e.raw) for e in batch])
            done += len(batch)
            idx.add(batch, texts, size=done, root=None, paged=_paged, frontier=hashes)
            batch, texts = [], {}

        if done < size:
            for entry in self.iter_entries(done, size):
                if entry.seq != done + len(batch):
                    raise VerificationError(
                        f"the entry at position {done + len(batch)} says it is entry {entry.seq}"
                    )
                entry.verify(verifiers)  # only entries signed by a trusted key are indexed
                batch.append(entry)
                # Checked against the signed sha256. An unreadable or altered text layer stops
                # the build: indexing the entry without its text would make quote and search
                # answer as if the passage did not exist, and the index would remember that
                # answer after the object was repaired.
                layer = self.text_layer(entry)
                if layer is not None and entry.document and entry.document.text:
                    texts[entry.document.text.sha256] = layer
                if len(batch) >= INDEX_BATCH:
                    flush()
            if batch:
                flush()
        return hashes

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
                self.store.record_size(HASHES) < count * HASH
                or self.store.record_size(OFFSETS) < size * OFFSET_SIZE
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
        """Append documents as signed entries and commit a new signed checkpoint.

        One call is one append however many documents it holds: every object is written,
        then made durable with one barrier (:meth:`Store.create_many`) before the log names
        it, then the three log files are appended and the checkpoint swapped, each fsynced.
        Adding documents in one call rather than one call each saves a checkpoint signature,
        three log fsyncs and an index transaction per document.
        """
        if not requests:
            return []
        signer = _BatchSigner.of(signer)
        with self.store.writer():
            head = self._writer_head(signer)
            size = head.size
            self._check_new(requests, signer.verifier())
            recorded = utc_timestamp(now)
            entries_at = self.entry_span(size - 1)[1] if size else 0
            hashes_at = merkle.stored_hash_count(size)
            overlay = _Overlay(self.store, hashes_at)
            objects: list[tuple[str, bytes]] = []
            texts: dict[str, TextLayer] = {}
            lines: list[bytes] = []
            offsets: list[bytes] = []
            entries: list[Entry] = []
            end = entries_at
            for i, req in enumerate(requests):
                sha = sha256_hex(req.data)
                if sha != req.fields.sha256 or len(req.data) != req.fields.size:
                    raise MalformedError(f"request {i}: sha256/size do not describe its data")
                objects.append((object_name(sha), req.data))
                if req.text is not None:
                    blob = req.text.to_bytes()
                    text_sha = sha256_hex(blob)
                    objects.append((object_name(text_sha), blob))
                    texts[text_sha] = req.text
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
            note = sign_checkpoint(
                Checkpoint(self.origin, new_size, root, head.extensions()), signer
            )
            # Ctrl-C before this point leaves nothing written; from here to the commit point
            # it is held back, so the archive is either as before or committed, never debris.
            with deferred_interrupts() as interrupts:
                # Commit protocol step 1 (docs/FORMAT.md §1): every object durable before
                # the log that names it.
                self.store.create_many(objects)
                self.store.append_record(ENTRIES, b"".join(lines), at=entries_at)
                self.store.append_record(OFFSETS, b"".join(offsets), at=size * OFFSET_SIZE)
                self.store.append_record(HASHES, b"".join(overlay.new), at=hashes_at * HASH)
                self.store.swap_checkpoint(_stored(head), note)
        if not interrupts.interrupted:  # committed; the derived index is rebuilt on next use
            with contextlib.suppress(KeyboardInterrupt):
                self._index_quietly(
                    [signer.verifier()], _Appended(size, tuple(entries), texts, root)
                )
        return entries

    def _index_quietly(self, verifiers: Sequence[VerifierKey], appended: _Appended) -> None:
        if self.store.location() is None:
            return  # an in-memory index is built when asked for: nothing to keep warm
        with contextlib.suppress(OrderArchiveError):  # derived data: rebuilt on next use
            self._open_index(verifiers, appended).close()

    def check_new(self, requests: Sequence[AddRequest], verifier: VerifierKey) -> None:
        """Raise what :meth:`add` would raise for *requests* (ids, duplicates, relations),
        looked up in the index of entries verified by *verifier* (the writer's key)."""
        self._check_new(requests, verifier)

    def _check_new(self, requests: Sequence[AddRequest], verifier: VerifierKey) -> None:
        from .log.entry import refuse_unsafe_text  # looked up at call time, as make_entry does

        seen: set[str] = set()
        idx = self.index([verifier])
        try:
            for req in requests:
                f = req.fields
                refuse_unsafe_text(f.to_dict())  # as signing will: dry runs refuse it too
                if f.doc in seen:
                    raise ConflictError(f"document id {f.doc!r} appears twice in this batch")
                seen.add(f.doc)
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
            idx.close()

    def release(self, signer: Signer) -> Release:
        """Sign the current tree as a release; it must extend the last release."""
        with self.store.writer():
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
            latest = sign_checkpoint(
                Checkpoint(self.origin, size, root, (f"{RELEASE_EXT}{size}",)), signer
            )
            with deferred_interrupts():  # Ctrl-C: released, or as before; no temporary file
                self.store.create(f"{RELEASES}/{size}", note)
                self.store.swap_checkpoint(_stored(head), latest)
            return Release(size, root, note, created=True)

    def leftovers(self) -> list[tuple[str, bool, bool]]:
        """The files and directories of a directory archive that the format does not name,
        as ``(name, is_dir, debris)``: *debris* is the tool's own (a temporary file, an empty
        object fan-out directory), which :meth:`remove_debris` removes."""
        if not isinstance(self.store, FileStore):
            return []
        out = []
        for name, is_dir, empty in self.store.members():
            mine = debris(name, is_dir=is_dir, empty=empty)
            if mine or not named(name, is_dir=is_dir):
                out.append((name, is_dir, mine))
        return out

    def remove_debris(self) -> tuple[list[str], list[str]]:
        """Remove the tool's own leftovers (see :meth:`leftovers`), holding the writers' lock;
        returns the names removed and the unknown names kept (reported, never deleted)."""
        removed: list[str] = []
        kept: list[str] = []
        if not isinstance(self.store, FileStore):
            return removed, kept
        with self.store.writer():
            # Deepest first: a fan-out directory emptied by removing a temporary file goes too.
            for name, is_dir, mine in sorted(self.leftovers(), key=lambda m: -m[0].count("/")):
                if not mine:
                    kept.append(name)
                elif self.store.remove_debris(name, is_dir=is_dir):
                    removed.append(name)
            for name, is_dir, mine in self.leftovers():
                if mine and is_dir and self.store.remove_debris(name, is_dir=True):
                    removed.append(name)
        return sorted(removed), sorted(kept)

    def repair(self, *, discard_uncheckpointed: bool = False) -> dict[str, int]:
        """Cut debris left past the committed checkpoint by an interrupted append.

        With no checkpoint at all, entries in the log are either debris of an interrupted
        first append or a committed log whose checkpoint was deleted; only the user can tell,
        so that case needs *discard_uncheckpointed*.
        """
        with self.store.writer():
            head = self.head()
            logged = self.store.record_size(ENTRIES)
            if head.checkpoint is None and logged and not discard_uncheckpointed:
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
                have = self.store.record_size(name)
                if have < keep:
                    raise StorageError(
                        f"{name} is shorter than the committed checkpoint; repair cannot help",
                        hint="restore the archive from a copy",
                    )
                if have > keep:
                    self.store.truncate_record(name, keep)
                    cut[name] = have - keep
            return cut

    # -- verification -------------------------------------------------------------------------

    def audit(
        self,
        verifiers: Sequence[VerifierKey],
        *,
        progress: ProgressFn | None = None,
        check_objects: bool = True,
        workers: int | None = None,
    ) -> VerifyReport:
        """Check everything and report every problem found (never stops at the first).

        Entries are checked in *workers* processes (default: one per CPU for archives of
        more than a few thousand entries; 1 checks in this process).
        """
        from .log.audit import Auditor  # multiprocessing is only needed by verify

        return Auditor(self, verifiers, progress, check_objects, workers).run()

    def verify(self, verifiers: Sequence[VerifierKey], **kwargs: Any) -> VerifyReport:
        report = self.audit(verifiers, **kwargs)
        if not report.ok:
            raise ArchiveVerificationError(report)
        return report


def _stored(head: Head) -> Versioned:
    if head.stored is None:  # a Head built by hand, not read from this store
        raise ConflictError("the checkpoint was not read from this archive's store")
    return head.stored


def keyset_fingerprint(verifiers: Sequence[VerifierKey]) -> str:
    """A name for a set of trusted keys (order and repetition do not matter)."""
    keys = sorted({v.to_string() for v in verifiers})
    return hashlib.sha256("\n".join(keys).encode()).hexdigest()


def _paged(entry: Entry) -> bool:
    return entry.document is not None and entry.document.media_type == "application/pdf"


def _parse_unverified_checkpoint(note: bytes) -> Checkpoint:
    from .log.note import SignedNote

    return Checkpoint.parse(SignedNote.parse(note).text)


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
    from .log.entry import Relation, TextRef

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
