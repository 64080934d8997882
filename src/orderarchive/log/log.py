"""The signed log over a :class:`~orderarchive.log.store.Store`: one class for its state and
its writes.

A :class:`Log` reads the latest checkpoint (its signature checked against trusted keys), the
entries and stored hashes (each entry against its stored leaf hash, and with
:meth:`Log.verified_entry` by an inclusion proof against a signed checkpoint), the releases and
the signed chain they form; it appends entries (records, then the checkpoint by
compare-and-swap), signs releases and cuts the debris of an interrupted append. What the
entries describe (documents and their text layers, the derived index) is the recipe layer's
(:class:`orderarchive.archive.Archive`), which keeps one ``Log`` and delegates to it.

The names it reads and writes are keys of the store (:mod:`.layout`), never file paths.
"""

from __future__ import annotations

import contextlib
import hmac
import struct
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Protocol

import attrs

from ..canonical import JSONObject
from ..errors import (
    ConflictError,
    NotFoundError,
    Remedy,
    SignatureError,
    StorageError,
    UntrustedKeyError,
    VerificationError,
)
from . import merkle
from .checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from .entry import (
    MAX_ENTRY_BYTES,
    Entry,
    keyset_fields,
    make_entry,
    read_verified_entry,
    verify_read_entry,
)
from .keyset import (
    ENTRY,
    LOG,
    KeyHistory,
    KeySet,
    SignedKeySet,
    open_release,
    verify_first,
)
from .layout import (
    ENTRIES,
    HASH,
    HASHES,
    OFFSET_SIZE,
    OFFSETS,
    RELEASE_EXT,
    RELEASES,
    debris,
    decimal_size,
    extension_size,
    keyset_positions,
    keysets_extension,
    named,
    plain_files,
    previous_release,
    release_extensions,
)
from .note import MAX_NOTE_BYTES, BatchSigner, SignedNote, Signer, VerifierKey
from .store import (
    FileStore,
    Interrupts,
    MemoryStore,
    Store,
    Versioned,
    deferred_interrupts,
)
from .store import held_interrupts as _held

CHUNK = 1 << 20

#: ``progress(done, total)``, called now and then by long work.
ProgressFn = Callable[[int, int], None]


class KeysetScanMemo(Protocol):
    """Where a writer remembers how far it scanned the entry record for key-set entries and
    found none: ``(size, root)``, the tree of the first *size* entries having root *root*.

    Only the writer's fallback scan (a log whose checkpoints do not name key sets) uses it;
    :meth:`Log.writer_head` trusts it only when the stored tree of *size* entries still has
    that root. Losing it costs one full scan, never a wrong answer (docs/THREATS.md)."""

    def recall(self) -> tuple[int, bytes] | None:
        """The remembered ``(size, root)``, or None (nothing usable remembered)."""
        ...

    def remember(self, size: int, root: bytes) -> None:
        """Remember that the first *size* entries (tree root *root*) hold no key set."""
        ...


@attrs.frozen
class Head:
    """The log's committed state: the latest checkpoint, parsed."""

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

    def to_dict(self) -> JSONObject:
        """The JSON object ``verify --json`` prints for the problem."""
        return {"code": self.code, "message": self.message, "seq": self.seq}


@attrs.frozen
class VerifyReport:
    """What ``verify`` (the audit of :mod:`.audit`) checked and every problem it found."""

    origin: str
    size: int
    root: bytes | None
    releases: tuple[int, ...]
    documents: int
    objects_checked: int
    signatures_checked: int
    problems: tuple[Problem, ...]
    #: Entries refused because the log's key sets revoke their signing key from an earlier
    #: index (a stolen key's writing, docs/THREATS.md issue 16): not valid, not a fault.
    refused: tuple[Problem, ...] = ()
    #: The first entry this audit checked: 0, or the size of an earlier fully verified state
    #: (an incremental ``verify``: entries before it were checked then, not now).
    first_checked: int = 0
    #: How many entries this audit parsed and checked (signature, objects).
    entries_checked: int = 0

    @property
    def ok(self) -> bool:
        """True when no problem was found."""
        return not self.problems

    @property
    def released_size(self) -> int:
        """The tree size of the newest verified release (0 if none)."""
        return self.releases[-1] if self.releases else 0

    @property
    def unreleased(self) -> int:
        """How many entries no release covers yet."""
        return self.size - self.released_size

    def to_dict(self) -> JSONObject:
        """The JSON object ``verify --json`` prints."""
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
            "refused": [p.to_dict() for p in self.refused],
            "first_checked": self.first_checked,
            "entries_checked": self.entries_checked,
        }


@attrs.frozen
class Release:
    """A signed release: its tree size, root and signed note; *created* if this call signed it."""

    size: int
    root: bytes
    note: bytes
    created: bool


@attrs.frozen
class Streamed:
    """What one :meth:`Log.append_stream` wrote: entries *start* .. *end* - 1 and the root
    they give; *committed* as in :class:`Appended`."""

    start: int
    end: int
    root: bytes
    committed: bool = True


@attrs.frozen
class Appended:
    """What one :meth:`Log.append` wrote: entries *start* .. *start* + len(*entries*) - 1 and
    the root they give. *committed* is False when Ctrl-C arrived during the write phase (the
    append completed, and the caller should stop rather than do more work)."""

    start: int
    entries: tuple[Entry, ...]
    root: bytes
    committed: bool = True

    @property
    def end(self) -> int:
        return self.start + len(self.entries)


class _Overlay:
    """Stored hashes during an append: the stored record (committed, and what this append has
    already written past it), the hashes computed but not yet written, and the right edge of
    the tree.

    The right edge is the stored hashes of the tree's compact range (its perfect-subtree
    roots, O(log n)): exactly the siblings the next record's hashes combine with and what the
    root folds, so an append of any length reads no hash back and keeps no more than one
    chunk's hashes (:meth:`take`) plus the edge.
    """

    def __init__(self, store: Store, size: int) -> None:
        self.store = store
        self.size = size
        #: Hashes in the store: committed, then written by this append (:meth:`take`).
        self.base_count = merkle.stored_hash_count(size)
        self.new: list[bytes] = []
        indexes = _edge_indexes(size)
        self.edge: list[tuple[int, bytes]] = list(
            zip(indexes, self._stored(indexes), strict=True)
        )

    def _stored(self, indexes: Sequence[int]) -> list[bytes]:
        return self.store.read_ranges(HASHES, [(i * HASH, HASH) for i in indexes])

    def read(self, indexes: Sequence[int]) -> list[bytes]:
        edge = dict(self.edge)
        stored = iter(self._stored(
            [i for i in indexes if i not in edge and i < self.base_count]
        ))
        out: list[bytes] = []
        for i in indexes:
            if i in edge:
                out.append(edge[i])
            elif i < self.base_count:
                out.append(next(stored))
            else:
                try:
                    out.append(self.new[i - self.base_count])
                except IndexError:
                    raise StorageError(f"stored hash {i} is not available") from None
        return out

    def add(self, leaf: bytes) -> None:
        """Record the leaf hash of the next record (RFC 9162 §2.1.1; tlog's stored hashes)."""
        n = self.size
        first = merkle.stored_hash_count(n)
        hashes = merkle.stored_hashes_for_record(n, leaf, self.read)
        self.new.extend(hashes)
        completed = len(hashes) - 1
        if completed:
            del self.edge[-completed:]  # merged into the new subtree root
        self.edge.append((first + completed, hashes[-1]))
        self.size = n + 1

    def take(self) -> bytes:
        """The hashes computed since the last call, for the caller to write; from now on
        they are read from the store."""
        data = b"".join(self.new)
        self.base_count += len(self.new)
        self.new = []
        return data

    def root(self) -> bytes:
        """The root of the tree so far, from the right edge alone."""
        return merkle.tree_hash(self.size, self.read)


def _edge_indexes(size: int) -> list[int]:
    """The stored-hash indexes of the compact range of a tree of *size* leaves, largest first."""
    out: list[int] = []
    start = 0
    for level in reversed(range(size.bit_length())):
        if size >> level & 1:
            out.append(merkle.stored_hash_index(level, start >> level))
            start += 1 << level
    return out


KEYSET_MARK = b',"type":"keyset"'


def _releasable(head: Head) -> tuple[int, bytes]:
    if head.checkpoint is None:
        raise NotFoundError("the archive is empty; add documents before releasing")
    return head.size, head.checkpoint.root_hash


def _stored(head: Head) -> Versioned:
    if head.stored is None:  # a Head built by hand, not read from this store
        raise ConflictError("the checkpoint was not read from this archive's store")
    return head.stored


class Log:
    """The signed log of *origin* kept in *store*."""

    def __init__(self, store: Store, origin: str) -> None:
        self.store = store
        self.origin = origin
        #: What the current writer checked the log against (:meth:`writer_head`): its own
        #: key, or the log's recorded key history when the log has key sets.
        self.trust: Sequence[VerifierKey] | KeyHistory = ()
        #: The positions of the log's key-set entries, as the writer found them: what the
        #: checkpoints it signs name (:data:`.layout.KEYSETS_EXT`).
        self.keysets: tuple[int, ...] = ()
        #: Where the writer's fallback scan for key sets remembers how far it got (none:
        #: every append of a log without key-set lines scans the whole entry record).
        self.keyset_memo: KeysetScanMemo | None = None

    # -- reading ----------------------------------------------------------------------------

    def head(self, verifiers: Sequence[VerifierKey] | None = None) -> Head:
        """The latest checkpoint. With *verifiers*, its signature must verify by one of them
        (a key named after the log's origin); without, it is parsed only."""
        stored = self.store.read_checkpoint(MAX_NOTE_BYTES)
        note = stored.data
        if note is None:
            return Head(None, None, stored)
        if verifiers is None:
            cp = Checkpoint.parse(SignedNote.parse(note).text)
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
        """The root of the tree of the first *size* entries, from the stored hashes."""
        return merkle.tree_hash(size, self.read_hashes)

    def entry_span(self, seq: int) -> tuple[int, int]:
        """The byte range of entry *seq*'s line in the entry record (from its offsets)."""
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
        """Entry *seq*, parsed (its bytes checked against the stored leaf hash only)."""
        return Entry.from_bytes(self.entry_bytes(seq, size))

    def verified_entry(
        self, seq: int, checkpoint: Checkpoint, verifiers: Sequence[VerifierKey]
    ) -> Entry:
        """Entry *seq* re-read from the log, its signature checked against *verifiers* and
        its leaf shown by an inclusion proof to be in the tree of *checkpoint* (verified)."""
        return read_verified_entry(self, seq, checkpoint, verifiers)[0]

    def iter_entries(self, start: int = 0, end: int | None = None) -> Iterator[Entry]:
        """Entries start..end-1 read sequentially (for rebuilding the index)."""
        for line in self.iter_lines(start, end):
            yield Entry.from_bytes(line)

    # -- releases ---------------------------------------------------------------------------

    def releases(self) -> list[int]:
        """The tree sizes of the release files present (names only: not verified)."""
        sizes: list[int] = []
        for name in self.store.list(RELEASES):
            size = decimal_size(name.rsplit("/", 1)[-1])
            if size is not None:
                sizes.append(size)
        return sorted(sizes)

    def release_note(self, size: int) -> bytes:
        """The signed note of the release of tree size *size*, as stored (not verified)."""
        try:
            return self.store.read(f"{RELEASES}/{size}", MAX_NOTE_BYTES)
        except NotFoundError as e:
            raise NotFoundError(f"no release at tree size {size}") from e

    def release_chain(
        self, verifiers: Sequence[VerifierKey]
    ) -> tuple[Checkpoint | None, list[Checkpoint]]:
        """The latest checkpoint and the chain of releases it names (oldest first), each
        signature checked against *verifiers*.

        The chain is the one the signed latest checkpoint names (``orderarchive.release``) and
        each signed release names before it (``orderarchive.previous-release``): a deleted
        release file is an error, not a shorter history; release file names are never trusted.
        """
        head = self.head(verifiers)
        cp = head.checkpoint
        if cp is None:
            return None, []
        chain: list[Checkpoint] = []
        size = head.latest_release
        while size:
            try:
                note = self.release_note(size)
            except NotFoundError as e:
                raise VerificationError(
                    f"release {size}, named by a signed checkpoint, is missing",
                    hint="run 'orderarchive verify'",
                ) from e
            release, _ = open_release(note, verifiers, origin=self.origin)
            if release.size != size or (chain and release.size >= chain[-1].size):
                raise VerificationError(f"the file of release {size} holds a release of size "
                                        f"{release.size}")
            chain.append(release)
            size = previous_release(release) or 0
        chain.reverse()
        if chain and chain[-1].size > cp.size:
            raise VerificationError(f"release {chain[-1].size} is larger than the log ({cp.size})")
        return cp, chain

    # -- writing ----------------------------------------------------------------------------

    def writer_head(self, signer: Signer) -> Head:
        """The head a writer with *signer* may extend: signed by *signer*, the stored log at
        least as long as it and hashing to its root. Call it holding :meth:`writer`."""
        verifier = signer.verifier()
        if verifier.name != self.origin:
            raise SignatureError(
                f"key {verifier.name!r} cannot sign for origin {self.origin!r}",
                hint="generate a key whose name is the archive's origin",
            )
        self.trust = [verifier]
        head = self.head()
        positions = keyset_positions(head.checkpoint)
        if positions is not None:
            # The checkpoint names its key-set entries: read those, not the log (issue 16).
            history = self._history_at(positions, head.size)
            self._open_head(head, history)
            self.trust = history
        else:
            try:
                self._open_head(head, [verifier])
            except UntrustedKeyError:
                # Signed by another key: after a rotation, the predecessor's log key. The
                # log's own key sets say who that may be (a writer trusts its own storage).
                legacy = self.recorded_history()
                if legacy is None:
                    raise
                self._open_head(head, legacy)
                self.trust = legacy
            else:
                # A log whose key sets were recorded before checkpoints named them: found by
                # the scan once; the next checkpoint names them.
                if head.size and self._has_keysets(head.size, head.checkpoint):
                    legacy = self.recorded_history()
                    if legacy is not None:
                        self.trust = legacy
        trust = self.trust
        self.keysets = (
            tuple(i for i, _ in trust.holders() if i is not None)
            if isinstance(trust, KeyHistory) else ()
        )
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

    @contextlib.contextmanager
    def writer(self, signer: Signer) -> Iterator[Head]:
        """Hold the writers' lock and yield :meth:`writer_head`."""
        with self.store.writer():
            yield self.writer_head(signer)

    def append(
        self,
        head: Head,
        records: Sequence[Mapping[str, Any]],
        signer: Signer,
        *,
        recorded: str,
        objects: Sequence[tuple[str, bytes]] = (),
    ) -> Appended:
        """Sign *records* (an entry's fields each) as entries after *head* and commit them
        with a new signed checkpoint, holding :meth:`writer` (whose head *head* is).

        One chunk of :meth:`append_stream`: every object in *objects* durable before the log
        that names it, then the three log records appended, then the checkpoint replaced by
        compare-and-swap. Ctrl-C before the write phase leaves nothing written; during it, it
        is held back to the commit point.
        """
        entries: list[Entry] = []
        streamed = self.append_stream(
            head, [(records, objects)], signer, recorded=recorded, on_chunk=entries.extend
        )
        return Appended(streamed.start, tuple(entries), streamed.root, streamed.committed)

    def append_stream(
        self,
        head: Head,
        chunks: Iterable[tuple[Sequence[Mapping[str, Any]], Sequence[tuple[str, bytes]]]],
        signer: Signer,
        *,
        recorded: str,
        on_chunk: Callable[[Sequence[Entry]], None] | None = None,
    ) -> Streamed:
        """Sign and write *chunks* (each: records, and the objects they name) as one append
        after *head*, committed by one checkpoint, holding :meth:`writer`; memory holds two
        chunks and the tree's right edge, however many chunks there are.

        The commit protocol (docs/FORMAT.md §1), chunk by chunk: the chunk's objects durable
        (:meth:`Store.create_many`, one barrier), then its entries, offsets and hashes appended
        past the committed size (each fsynced: uncommitted until the checkpoint names them);
        after the last chunk, the checkpoint swapped (the only commit point). The next chunk is
        taken from *chunks* (its documents read and checked) before a chunk is written, so a
        one-chunk append writes nothing until everything is signed, and its write phase (with
        the swap) holds Ctrl-C back to the commit point. In a longer one Ctrl-C stops at the
        end of the chunk being written; whatever this append wrote past the committed size is
        then cut (an S3 store removes its own chunks), as on any error before the swap. A
        process killed meanwhile leaves records past the checkpoint's size, which readers
        ignore and ``repair`` cuts, and objects nothing names. *on_chunk* receives each
        chunk's entries once they are signed, before they are written (an error it raises
        stops the append like any other before the commit).
        """
        signer = BatchSigner.of(signer)
        size = head.size
        entries_at = self.entry_span(size - 1)[1] if size else 0
        committed = (entries_at, size * OFFSET_SIZE, merkle.stored_hash_count(size) * HASH)
        overlay = _Overlay(self.store, size)
        seq, end = size, entries_at
        keysets = list(self.keysets)  # the key-set positions the new checkpoint names
        at = list(committed)
        wrote = swapping = False
        interrupts: Interrupts | None = None
        source = iter(chunks)
        current = next(source, None)
        try:
            while current is not None:
                records, objects = current
                lines: list[bytes] = []
                offsets: list[bytes] = []
                entries: list[Entry] = []
                for fields in records:
                    entry = make_entry(fields, seq=seq, signer=signer, recorded=recorded)
                    overlay.add(merkle.leaf_hash(entry.raw))
                    if entry.keyset is not None:
                        keysets.append(entry.seq)
                    lines.append(entry.raw + b"\n")
                    end += len(entry.raw) + 1
                    offsets.append(struct.pack(">Q", end))
                    entries.append(entry)
                    seq += 1
                current = next(source, None)  # read before writing: errors come first
                last = current is None
                if last and seq == size:
                    break  # nothing to append: no checkpoint either
                data = (b"".join(lines), b"".join(offsets), overlay.take())
                del lines, offsets
                note = self._next_note(head, seq, overlay.root(), keysets, signer) if last else None
                if on_chunk is not None:
                    on_chunk(entries)  # before the write: an error here commits nothing
                # The last chunk's write phase ends at the commit point: Ctrl-C there is held
                # back to it (as before, or committed); before, it stops at the chunk's end.
                step: contextlib.AbstractContextManager[Interrupts | None] = (
                    deferred_interrupts() if last else _held()
                )
                with step as held:
                    wrote = True  # cutting back what was not written is harmless
                    self._write_chunk(objects, data, at)
                    if note is not None:
                        swapping = True
                        self.store.swap_checkpoint(_stored(head), note)
                        interrupts = held
                del data, entries
        except BaseException:
            if wrote and not swapping:
                self._cut_uncommitted(committed)
            raise
        return Streamed(
            size, seq, overlay.root(), committed=not (interrupts and interrupts.interrupted)
        )

    def _write_chunk(self, objects: Sequence[tuple[str, bytes]],
                     data: tuple[bytes, bytes, bytes], at: list[int]) -> None:
        """One chunk of an append: its objects durable, then its entries, offsets and hashes
        appended at *at* (advanced past them), before any checkpoint names them."""
        self.store.create_many(objects)
        for k, (name, chunk) in enumerate(zip((ENTRIES, OFFSETS, HASHES), data, strict=True)):
            if chunk:
                self.store.append_record(name, chunk, at=at[k])
                at[k] += len(chunk)

    def _next_note(self, head: Head, size: int, root: bytes, keysets: Sequence[int],
                   signer: Signer) -> bytes:
        """The signed checkpoint an append after *head* commits with: its releases line, and
        the positions of every key-set entry up to *size*."""
        extensions = (*head.extensions(), *keysets_extension(tuple(keysets)))
        return sign_checkpoint(Checkpoint(self.origin, size, root, extensions), signer)

    def _cut_uncommitted(self, committed: tuple[int, int, int]) -> None:
        """Cut the records back to their *committed* lengths after an append that stopped
        before its swap (the writer's lock held: nothing past them is anyone else's). An S3
        store's writer removes its own chunks itself (:meth:`S3Store.writer`)."""
        if not isinstance(self.store, FileStore | MemoryStore):
            return
        with contextlib.suppress(StorageError):
            for name, keep in zip((ENTRIES, OFFSETS, HASHES), committed, strict=True):
                if self.store.record_size(name) > keep:
                    self.store.truncate_record(name, keep)

    def check_writer(self, head: Head, signer: Signer, recorded: str | None = None) -> None:
        """Refuse to write what no verifier would accept: with key sets, a key revoked, out
        of the entry and log roles of the key set in force, or expired."""
        trust = self.trust
        if isinstance(trust, KeyHistory):
            trust.check_signer(head.size, signer.verifier(), ENTRY, recorded)
            trust.check_signer(head.size, signer.verifier(), LOG)

    def release(self, signer: Signer) -> Release:
        """Sign the current tree as a release; it must extend the last release. Where the
        log's key sets ask for more than the writer's signature (a release threshold), use
        :meth:`prepare_release`, :func:`.keyset.cosign` and :meth:`publish_release`."""
        with self.writer(signer) as head:
            size, root = _releasable(head)
            if head.latest_release == size:
                return Release(size, root, self.release_note(size), created=False)
            return self._publish(head, self._release_note(head, signer), signer)

    def prepare_release(self, signer: Signer) -> bytes:
        """The release of the current tree, signed by the writer's log key only: the note
        each release holder co-signs (k-of-n releases, docs/FORMAT.md §23). Writes nothing."""
        with self.writer(signer) as head:
            size, _ = _releasable(head)
            if head.latest_release == size:
                raise ConflictError(f"the tree of size {size} is already released")
            return self._release_note(head, signer)

    def publish_release(self, note: bytes, signer: Signer) -> Release:
        """Publish a prepared and co-signed release *note*: it must be the release of the
        current tree and carry the release threshold of the key set in force."""
        with self.writer(signer) as head:
            size, root = _releasable(head)
            trust = self.trust
            cp, _ = open_release(
                note, trust if isinstance(trust, KeyHistory) else [signer.verifier()],
                origin=self.origin,
            )
            expected = (*release_extensions(head.latest_release), *keysets_extension(self.keysets))
            if cp != Checkpoint(self.origin, size, root, expected):
                raise VerificationError(
                    f"the prepared release (size {cp.size}) is not the release of the current "
                    f"tree (size {size})",
                    hint="prepare the release again: the log moved on",
                )
            return self._publish(head, note, signer)

    def _release_note(self, head: Head, signer: Signer) -> bytes:
        size, root = _releasable(head)
        last = head.latest_release
        if last is not None:
            trust = self.trust
            old_cp, _ = open_checkpoint(
                self.release_note(last),
                trust if isinstance(trust, KeyHistory) else [signer.verifier()],
                origin=self.origin,
            )
            if last > size or not hmac.compare_digest(self.tree_hash(last), old_cp.root_hash):
                raise VerificationError(
                    f"the current tree does not extend release {last}; refusing to sign a fork"
                )
        extensions = (*release_extensions(last), *keysets_extension(self.keysets))
        return sign_checkpoint(Checkpoint(self.origin, size, root, extensions), signer)

    def _publish(self, head: Head, note: bytes, signer: Signer) -> Release:
        size, root = _releasable(head)
        if isinstance(self.trust, KeyHistory):
            self.trust.check_release(SignedNote.parse(note), size)
        # Release file first, then the latest checkpoint naming it (the commit point).
        # Ed25519 is deterministic, so re-running an interrupted release recreates the
        # same bytes and completes it.
        latest = sign_checkpoint(
            Checkpoint(self.origin, size, root,
                       (f"{RELEASE_EXT}{size}", *keysets_extension(self.keysets))),
            signer,
        )
        with deferred_interrupts():  # Ctrl-C: released, or as before; no temporary file
            self.store.create(f"{RELEASES}/{size}", note)
            self.store.swap_checkpoint(_stored(head), latest)
        return Release(size, root, note, created=True)

    # -- key sets (docs/FORMAT.md §23) ----------------------------------------------------------

    def iter_lines(self, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """The stored bytes of entries start..end-1, read sequentially (not checked)."""
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
                    yield line
                    seq += 1
                if len(buffer) > MAX_ENTRY_BYTES:
                    raise StorageError(f"entry {seq} is longer than {MAX_ENTRY_BYTES} bytes")
                if remaining == 0 and buffer:
                    raise StorageError("entry log does not end with a newline")
        if seq != stop:
            raise StorageError(
                f"entry log holds {seq - start} entries where {stop - start} were expected"
            )

    def keyset_entries(self, size: int, root: bytes | None = None) -> list[Entry]:
        """The key-set entries among the first *size* entries, in log order.

        With *root*, every entry's leaf is hashed and the tree they make must have that root,
        so that no key-set entry (a revocation) can be hidden by a copy that rewrote its
        bytes: the log is read once, without parsing what is not a key-set entry.
        """
        found: list[Entry] = []
        leaves: list[bytes] = []
        for seq, line in enumerate(self.iter_lines(0, size)):
            if root is not None:
                leaves.append(merkle.leaf_hash(line))
            # A key-set entry's top-level type member always reads so (members are sorted
            # and "signer" comes before "type"); other lines holding it are parsed and dropped.
            if KEYSET_MARK in line:
                entry = Entry.from_bytes(line)
                if entry.keyset is not None:
                    if entry.seq != seq:
                        raise VerificationError(
                            f"the entry at position {seq} says it is entry {entry.seq}"
                        )
                    found.append(entry)
        if root is not None and not hmac.compare_digest(merkle.root_of(leaves), root):
            raise VerificationError(
                "the log's entries do not hash to the signed root: key sets cannot be read"
            )
        return found

    def _has_keysets(self, size: int, checkpoint: Checkpoint | None = None) -> bool:
        """Whether the first *size* entries may hold a key-set entry (a cheap scan).

        With a :attr:`keyset_memo` and the *checkpoint* of *size* entries, only the entries
        past the remembered size are scanned, and only when the stored tree of that size still
        has the remembered root (else the scan starts at 0); a scan that finds nothing is
        remembered with *checkpoint*'s size and root."""
        if not size or not self.store.record_size(ENTRIES):
            return False
        start = 0
        memo = self.keyset_memo
        if memo is not None and checkpoint is not None and checkpoint.size == size:
            recalled = memo.recall()
            if recalled is not None:
                known, root = recalled
                if 0 < known <= size and hmac.compare_digest(self.tree_hash(known), root):
                    start = known
        found = start < size and self._scan_for_keysets(start, size)
        if not found and memo is not None and checkpoint is not None and start < size:
            memo.remember(size, checkpoint.root_hash)
        return found

    def _scan_for_keysets(self, start: int, size: int) -> bool:
        """Whether entries start..size-1 hold the key-set mark (their bytes, streamed)."""
        begin = self.entry_span(start - 1)[1] if start else 0
        end = self.entry_span(size - 1)[1]
        with self.store.stream_record(ENTRIES) as f:
            if begin:
                f.seek(begin)
            tail = b""
            done = begin
            while done < end:
                chunk = f.read(min(CHUNK, end - done))
                if not chunk:
                    return False
                done += len(chunk)
                if KEYSET_MARK in tail + chunk:
                    return True
                tail = chunk[-len(KEYSET_MARK):]
        return False

    def recorded_history(self) -> KeyHistory | None:
        """The key sets recorded in this log, walked from the log's own version 1 (None:
        none recorded). Only the writer uses it (it trusts its own storage); verifiers pin
        version 1 with a trust file (:meth:`key_history`)."""
        found = self.keyset_entries(self.head().size)
        if not found or found[0].keyset is None:
            return None
        return KeyHistory.from_log(
            verify_first(found[0].keyset), [(e.seq, e.keyset) for e in found if e.keyset]
        )

    def _open_head(self, head: Head, verifiers: Sequence[VerifierKey]) -> None:
        """Check the signature of *head*, read once, by one of *verifiers* (its log key)."""
        if head.note is not None:
            open_checkpoint(head.note, verifiers, origin=self.origin)

    def keyset_entries_at(self, positions: Sequence[int], size: int) -> list[Entry]:
        """The key-set entries at *positions* (what a checkpoint names), each read by lookup
        (its bytes against the stored leaf hash) and refused unless it is a key-set entry that
        says it sits at that position. Nothing else of the log is read."""
        found: list[Entry] = []
        for seq in positions:
            entry = self.entry(seq, size)
            if entry.keyset is None or entry.seq != seq:
                raise VerificationError(
                    f"the checkpoint names entry {seq} as a key set, but it is not one"
                )
            found.append(entry)
        return found

    def _history_at(self, positions: Sequence[int], size: int) -> KeyHistory:
        """The writer's history from the key sets at *positions*, from the log's own version 1
        (a writer trusts its own storage; a verifier pins version 1: :meth:`key_history`)."""
        found = self.keyset_entries_at(positions, size)
        first = found[0].keyset
        assert first is not None  # keyset_entries_at refuses entries that are not key sets
        return KeyHistory.from_log(
            verify_first(first), [(e.seq, e.keyset) for e in found if e.keyset]
        )

    def key_history(self, pinned: KeySet) -> KeyHistory:
        """Who may sign what in this log, from the *pinned* key set (a trust file) and the
        key sets recorded in the log up to its signed checkpoint: every recorded key set is
        walked from the pinned version (exactly N+1 each, root thresholds of old and new),
        the key-set entries are themselves checked as entries, and the checkpoint must be
        signed by a log key of the key set in force for its last entry."""
        if pinned.origin != self.origin:
            raise SignatureError(
                f"the trust file is for {pinned.origin!r}, not this archive's {self.origin!r}"
            )
        head = self.head()
        if head.checkpoint is None:
            return KeyHistory(pinned)
        positions = keyset_positions(head.checkpoint)
        if positions is None:
            # No key-set line: the log is scanned and every entry hashed to the signed root,
            # so that no key-set entry (a revocation) can hide. A writer that drops the line
            # only makes this slower, never hides anything.
            found = self.keyset_entries(head.size, head.checkpoint.root_hash)
        else:
            # The checkpoint names them: read by lookup; each one's signature and inclusion
            # in the signed root are checked below, once the checkpoint itself is.
            found = self.keyset_entries_at(positions, head.size)
        history = KeyHistory.from_log(pinned, [(e.seq, e.keyset) for e in found if e.keyset])
        # The latest checkpoint by a log key of the key set in force for its last entry (the
        # one that let its writer append): a key rotated out keeps its past releases, not
        # the power to sign the log's head. The walk above is sound before this check: each
        # key set is signed into force by the root keys of the one before, from the pin.
        in_force = history.in_force(head.size - 1)
        self._open_head(head, [k for k in in_force.keys_for(LOG) if k in history])
        for entry in found:
            if positions is None:
                entry.verify(history)
            else:
                verify_read_entry(self, entry, head.checkpoint, history)
        return history

    def signers(self, history: KeyHistory, size: int, root: bytes | None = None
                ) -> list[JSONObject]:
        """Which key signed what among the first *size* entries and the releases up to it:
        per key (in order of first use), its entries (count, first and last index) and the
        releases it co-signed. Reports; the checks are the audit's (run it first). With
        *root* (the verified root of *size*), the lines read must hash to it
        (:class:`VerificationError` otherwise): an incremental verify did not re-read the
        entries before its remembered state, and what it reports must come from verified
        bytes."""
        out: dict[str, dict[str, Any]] = {}
        stack: list[bytes] = []

        def slot(key: VerifierKey) -> dict[str, Any]:
            return out.setdefault(key.to_string(), {
                "key": key.to_string(), "roles": list(history.newest.roles_of(key)),
                "entries": 0, "first": None, "last": None, "releases": [],
            })

        for seq, line in enumerate(self.iter_lines(0, size)):
            if root is not None:
                h, k = merkle.leaf_hash(line), seq
                while k & 1:
                    h = merkle.node_hash(stack.pop(), h)
                    k >>= 1
                stack.append(h)
            entry = Entry.from_bytes(line)
            key = history.find(entry.signer_name, entry.signer_id)
            if key is None:
                continue
            item = slot(key)
            item["entries"] += 1
            item["last"] = seq
            if item["first"] is None:
                item["first"] = seq
        if root is not None and not hmac.compare_digest(merkle.compact_root(stack), root):
            raise VerificationError(
                "the log's entries do not hash to the verified root, so who signed them "
                "cannot be said: changed since they were verified (a full verify finds which)"
            )
        for rsize in self.releases():
            if rsize > size:
                continue
            for key in history.check_release(SignedNote.parse(self.release_note(rsize)), rsize):
                slot(key)["releases"].append(rsize)
        return [dict(item) for item in out.values()]

    def append_keyset(
        self, signed: SignedKeySet, signer: Signer, *, recorded: str
    ) -> Entry:
        """Record key set *signed* as the next entry, signed by the writer *signer*.

        It must be version 1 (signed by its own root threshold) when the log holds none, else
        exactly the next version after the log's newest, signed by the root thresholds of
        both; its revocations may not take effect after its own index; and the writer must
        hold the ``entry`` role in the key set in force at that index.
        """
        if signed.keyset.origin != self.origin:
            raise SignatureError(
                f"key set is for {signed.keyset.origin!r}, not this archive's {self.origin!r}"
            )
        with self.writer(signer) as head:
            self.check_writer(head, signer, recorded)
            history = self.trust if isinstance(self.trust, KeyHistory) else None
            if history is None:
                history = KeyHistory(verify_first(signed))
            # The writer's history (read by lookup in writer_head), walked one step on.
            prospective = history.extended(head.size, signed)
            prospective.check_signer(head.size, signer.verifier(), ENTRY)
            appended = self.append(head, [keyset_fields(signed)], signer, recorded=recorded)
        return appended.entries[0]

        # -- repair -----------------------------------------------------------------------------

    def leftovers(self) -> list[tuple[str, bool, bool]]:
        """The files and directories of a directory store that the format does not name,
        as ``(name, is_dir, debris)``: *debris* is the tool's own (a temporary file, an empty
        object fan-out directory), which :meth:`remove_debris` removes."""
        if not isinstance(self.store, FileStore):
            return []
        out = []
        for name, is_dir, empty in self.store.members(plain_files):
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
                    "repair with discard_uncheckpointed",
                    remedy=Remedy.DISCARD_UNCHECKPOINTED,
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
