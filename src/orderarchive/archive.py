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
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import attrs

from . import canonical
from .errors import (
    ArchiveNotFoundError,
    CanonicalJSONError,
    ConflictError,
    CorruptArchiveError,
    KeyFileError,
    LostRaceError,
    MalformedError,
    NotFoundError,
    OrderArchiveError,
    Remedy,
    RootMismatchError,
    SignatureError,
    StorageError,
    VerificationError,
)
from .errors import ArchiveVerificationError as ArchiveVerificationError  # noqa: PLC0414 (defined in errors.py)
from .log import entry as entry_rules
from .log import merkle
from .log.checkpoint import Checkpoint
from .log.digest import Digest
from .log.entry import AddRequest as AddRequest  # noqa: PLC0414 (still importable from here)
from .log.entry import Entry, utc_timestamp
from .log.entry import document_fields as document_fields  # noqa: PLC0414
from .log.keyset import KeyHistory, KeySet, RevokedKeyError, SignedKeySet
from .log.layout import ARCHIVE_FORMAT, CONFIG, MAX_CONFIG_BYTES, object_name
from .log.layout import CHECKPOINT as CHECKPOINT  # noqa: PLC0414 (still importable from here)
from .log.layout import ENTRIES as ENTRIES  # noqa: PLC0414
from .log.layout import HASHES as HASHES  # noqa: PLC0414
from .log.layout import OFFSETS as OFFSETS  # noqa: PLC0414
from .log.layout import RELEASE_EXT as RELEASE_EXT  # noqa: PLC0414
from .log.layout import RELEASES as RELEASES  # noqa: PLC0414
from .log.layout import decimal_size as decimal_size  # noqa: PLC0414
from .log.layout import previous_release as previous_release  # noqa: PLC0414
from .log.log import Head as Head  # noqa: PLC0414 (the log's types, importable from here)
from .log.log import Log
from .log.log import Problem as Problem  # noqa: PLC0414
from .log.log import ProgressFn as ProgressFn  # noqa: PLC0414
from .log.log import Release as Release  # noqa: PLC0414
from .log.log import VerifyReport as VerifyReport  # noqa: PLC0414
from .log.note import BatchSigner, Signer, VerifierKey
from .log.store import FileStore, Store, file_lock, write_atomically

_T = TypeVar("_T")

if TYPE_CHECKING:  # text layers are parsed on demand: `check` of an exact copy needs none
    from .index import Index
    from .log.textlayer import TextLayer
    from .status import ListedDocument

CHUNK = 1 << 20
INDEX_BATCH = 1000  # entries (and their text layers, held meanwhile) per index flush



def sha256_hex(data: bytes) -> str:
    """The SHA-256 of *data* as 64 lower-case hex digits (the form entries store)."""
    return Digest.of(data).hex()


@attrs.frozen
class Config:
    """The archive's configuration file (``config.json``): its format and origin."""

    origin: str

    def to_bytes(self) -> bytes:
        """The canonical bytes of the configuration file, newline-terminated."""
        return canonical.dumps({"format": ARCHIVE_FORMAT, "origin": self.origin}) + b"\n"

    @classmethod
    def from_bytes(cls, data: bytes) -> Config:
        """Parse a configuration file; raises :class:`CorruptArchiveError` if malformed."""
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


def _retrying(attempt: Callable[[], _T], retries: int) -> _T:
    """*attempt*, run again after a :class:`LostRaceError` up to *retries* times, with a
    randomised pause growing to a second (two writers that collided do not collide again)."""
    import random
    import time

    for tries in range(retries + 1):
        try:
            return attempt()
        except LostRaceError:
            if tries >= retries:
                raise
            time.sleep(random.uniform(0.01, min(1.0, 0.05 * 2**tries)))  # noqa: S311
    raise AssertionError("unreachable")


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


#: The first line of a key-set scan memo (docs/FORMAT.md, "The writer's key-set scan memo").
KEYSET_MEMO_MAGIC = b"orderarchive-keyset-scan 1\n"


@attrs.frozen
class _KeysetScanMemo:
    """The writer's key-set scan memo (:class:`~orderarchive.log.log.KeysetScanMemo`) of the
    archive on *store* for *origin*: a small file beside its index in the user's cache, named
    by the same hash of the store's location and the origin. A store without a location
    (in memory) remembers nothing. Unreadable, malformed or unwritable: as if absent."""

    store: Store
    origin: str

    def _path(self) -> Path | None:
        from .index import index_path

        location = self.store.location()
        if location is None:
            return None
        index = index_path(location, self.origin)
        return index.with_name("keysets-" + index.name.removeprefix("index-").split(".")[0])

    def recall(self) -> tuple[int, bytes] | None:
        """The remembered ``(size, root)``, or None."""
        from .userfiles import read_bounded

        try:
            path = self._path()
            if path is None:
                return None
            data = read_bounded(path, 256)
        except OrderArchiveError:
            return None
        if not data.startswith(KEYSET_MEMO_MAGIC):
            return None
        fields = data[len(KEYSET_MEMO_MAGIC):].split()
        if len(fields) != 2 or not fields[0].isdigit() or len(fields[1]) != 2 * merkle.HASH_SIZE:
            return None
        try:
            return int(fields[0]), bytes.fromhex(fields[1].decode("ascii"))
        except ValueError:
            return None

    def remember(self, size: int, root: bytes) -> None:
        """Write ``(size, root)`` (replacing the file); a failure is ignored (a later add
        scans again)."""
        from .index import _make_private_dir

        try:
            path = self._path()
            if path is None:
                return
            _make_private_dir(path.parent)
            write_atomically(path, KEYSET_MEMO_MAGIC + f"{size} {root.hex()}\n".encode("ascii"),
                             mode=0o600, durable=False)
        except OrderArchiveError:
            return


@attrs.frozen
class Added:
    """What one :meth:`Archive.add_chunks` committed: entries *start* .. *end* - 1 and the
    root of the tree they end. *committed* is False when Ctrl-C arrived during the last
    write phase (the append completed; the caller should stop rather than do more)."""

    start: int
    end: int
    root: bytes
    committed: bool = True


class _Ids:
    """A set of document ids kept as 16-byte BLAKE2b fingerprints in one open-addressing
    table (about 32 bytes an id, where a set of strings costs over 100): the ids of every
    batch of a long append stay in memory. Two ids share a fingerprint with probability
    about n²/2¹²⁹ (the collision resistance content addressing already relies on)."""

    _EMPTY = bytes(16)

    def __init__(self) -> None:
        self._table = bytearray(16 << 10)
        self._count = 0

    @staticmethod
    def _fingerprint(doc: str) -> bytes:
        fp = hashlib.blake2b(doc.encode(), digest_size=16).digest()
        return fp if fp != _Ids._EMPTY else b"\x01" + fp[1:]

    def _find(self, fp: bytes) -> tuple[int, bool]:
        """The slot holding *fp* (True), or the empty slot where it would go (False)."""
        mask = len(self._table) // 16 - 1
        i = int.from_bytes(fp[:8], "little") & mask
        while True:
            held = self._table[i * 16 : i * 16 + 16]
            if held == fp:
                return i, True
            if held == self._EMPTY:
                return i, False
            i = (i + 1) & mask

    def __contains__(self, doc: str) -> bool:
        return self._find(self._fingerprint(doc))[1]

    def add(self, doc: str) -> None:
        fp = self._fingerprint(doc)
        i, present = self._find(fp)
        if present:
            return
        self._table[i * 16 : i * 16 + 16] = fp
        self._count += 1
        if self._count * 2 > len(self._table) // 16:  # at most half full: short probes
            old, self._table = self._table, bytearray(len(self._table) * 2)
            for k in range(0, len(old), 16):
                held = bytes(old[k : k + 16])
                if held != self._EMPTY:
                    j, _ = self._find(held)
                    self._table[j * 16 : j * 16 + 16] = held


class _NewDocuments:
    """The checks on documents about to be added, batch after batch of one append: ids,
    duplicates and relations, against the index and the batches already checked.

    Only the ids seen are kept (not the documents), so a long append's checks cost memory
    per document of an id, and a duplicate id far apart in one append is still refused."""

    def __init__(self, open_index: Callable[[], Index], committed: int | None = None) -> None:
        self._open_index = open_index
        self._idx: Index | None = None
        self.seen = _Ids()
        #: The committed tree size while this append's own entries are being indexed
        #: (:meth:`stage`): lookups ignore rows at or past it.
        self._committed = committed
        self._staged: tuple[int, list[bytes]] | None = None  # (size, compact range) so far
        self._staging = committed is not None

    def close(self) -> None:
        if self._idx is not None:
            if self._staged is not None:
                self._staged = None
                with contextlib.suppress(OrderArchiveError):
                    self._idx.release(commit=False)
            self._idx.close()
            self._idx = None

    def stage(
        self, entries: Sequence[Entry], verifiers: Sequence[VerifierKey], origin: str
    ) -> None:
        """Index *entries* (this append's, just signed, not yet written or committed) in a
        transaction held open until :meth:`commit`, so that a long append is not read back
        from the log after its commit. Only an index at the committed head and bound to
        *keys* (the fingerprint the writer's index is kept under: its own key, or the key
        *history* of a log with key sets) is updated this way; otherwise, or after any error,
        nothing is staged and the index catches up from the log after the commit, as before.

        Under a single key, the index's key is the one that just signed these entries. Under
        key sets each entry is verified against *history* first, as the catch-up would: the
        writer's own check of its key is not what the index relies on (a writer that skips
        it must not put a revoked key's entries into the index; tests/test_keyset_log.py)."""
        idx = self._idx
        if not self._staging or idx is None or not entries:
            return
        try:
            for entry in entries:
                entry.verify(verifiers, origin)
            if self._staged is None:
                bound = idx.binding()
                if (
                    idx.path == Path(":memory:") or bound.keys != keyset_fingerprint(verifiers)
                    or bound.size != self._committed or bound.root is None
                ):
                    self._staging = False
                    return
                idx.hold()
                self._staged = (bound.size, list(bound.frontier))
            done, frontier = self._staged
            frontier = merkle.compact_append(
                done, frontier, [merkle.leaf_hash(e.raw) for e in entries]
            )
            done += len(entries)
            idx.add(entries, {}, size=done, root=None, paged=_paged, frontier=frontier,
                    text=False)
            self._staged = (done, frontier)
        except Exception:  # derived data: never a reason to stop an append
            self._abandon()

    def commit(self, size: int, root: bytes) -> bool:
        """Commit what :meth:`stage` indexed if it is the whole append: *size* entries whose
        tree has the *root* of the new checkpoint, verified by the caller with the index's
        keys (compared here). Else roll it back."""
        staged, idx = self._staged, self._idx
        if staged is None or idx is None:
            return False
        done, frontier = staged
        if done != size or not hmac.compare_digest(merkle.compact_root(frontier), root):
            self._abandon()
            return False
        try:
            idx.seal(root)
            self._staged = None
            idx.release(commit=True)
        except OrderArchiveError:
            self._abandon()
            return False
        return True

    def _abandon(self) -> None:
        self._staging = False
        if self._staged is not None and self._idx is not None:
            self._staged = None
            with contextlib.suppress(OrderArchiveError):
                self._idx.release(commit=False)

    def check(self, requests: Sequence[AddRequest]) -> None:
        if self._idx is None:  # opened at the first check (brought up to date once)
            self._idx = self._open_index()
        idx, seen = self._idx, self.seen
        for req in requests:
            f = req.fields
            # As signing will (looked up at call time, as make_entry does): dry runs
            # refuse it too.
            entry_rules.refuse_unsafe_text(f.to_dict())
            if f.doc in seen:
                raise ConflictError(f"document id {f.doc!r} appears twice in this batch")
            seen.add(f.doc)
            if idx.by_doc(f.doc) is not None:
                raise ConflictError(
                    f"document id {f.doc!r} is already in the archive",
                    hint="choose another id; record changes as a new document that amends it",
                    remedy=Remedy.DOCUMENT_ID,
                )
            for hit in idx.by_sha256(f.sha256):
                if self._committed is not None and hit.seq >= self._committed:
                    continue  # this append's own document, indexed ahead of its commit
                raise ConflictError(
                    f"this file is already archived as {hit.doc!r} (entry {hit.seq})"
                )
            for rel in f.relations:
                if rel.target not in seen and idx.by_doc(rel.target) is None:
                    raise NotFoundError(
                        f"related document {rel.target!r} is not in the archive"
                    )


def _objects(
    requests: Sequence[AddRequest], first: int, texts: dict[str, TextLayer]
) -> list[tuple[str, bytes]]:
    """The objects *requests* name (each document and its text layer), their text layers
    added to *texts*; a request whose data its fields do not describe is refused."""
    objects: list[tuple[str, bytes]] = []
    for i, req in enumerate(requests, first):
        sha = Digest.of(req.data).hex()
        if not hmac.compare_digest(sha, req.fields.sha256) or len(req.data) != req.fields.size:
            raise MalformedError(f"request {i}: sha256/size do not describe its data")
        objects.append((object_name(sha), req.data))
        if req.text is not None:
            blob = req.text.to_bytes()
            text_sha = sha256_hex(blob)
            objects.append((object_name(text_sha), blob))
            texts[text_sha] = req.text
    return objects


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
        self.log = Log(store, config.origin)
        self.log.keyset_memo = _KeysetScanMemo(store, config.origin)

    @property
    def origin(self) -> str:
        """The log's origin (the first line of every checkpoint it signs)."""
        return self.config.origin

    # -- opening ----------------------------------------------------------------------------

    @classmethod
    def open(cls, path: Path | str) -> Archive:
        """Open the archive in the directory *path*.

        Raises :class:`ArchiveNotFoundError` when there is no archive there and
        :class:`CorruptArchiveError` when its configuration cannot be parsed. Nothing is
        verified yet: see :meth:`verify` and :meth:`head`.
        """
        root = Path(path)
        if not root.is_dir():
            raise ArchiveNotFoundError(
                f"no archive at {root}",
                hint="create one (Archive.init) or open the directory that holds one",
                remedy=Remedy.ARCHIVE,
            )
        store = FileStore(root)
        try:
            data = store.read(CONFIG, MAX_CONFIG_BYTES)
        except NotFoundError as e:
            raise ArchiveNotFoundError(
                f"{root} is not an orderarchive archive (no {CONFIG})",
                hint="create one (Archive.init) or open the directory that holds one",
                remedy=Remedy.ARCHIVE,
            ) from e
        return cls(store, Config.from_bytes(data), root)

    @classmethod
    def init(cls, path: Path | str, origin: str) -> Archive:
        """Create an empty archive for the log *origin* in the directory *path*."""
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
        return self.log.head(verifiers)

    def read_hashes(self, indexes: Sequence[int]) -> list[bytes]:
        """Stored hashes by index (a :data:`merkle.HashReader`), read in one batch."""
        return self.log.read_hashes(indexes)

    def tree_hash(self, size: int) -> bytes:
        """The RFC 9162 Merkle tree hash of the first *size* entries, from the stored hashes."""
        return self.log.tree_hash(size)

    def entry_span(self, seq: int) -> tuple[int, int]:
        """Where entry *seq* lies in the entries record (start, end), from the offsets record."""
        return self.log.entry_span(seq)

    def entry_bytes(self, seq: int, size: int | None = None) -> bytes:
        """The exact stored bytes of entry *seq* (checked against the stored leaf hash)."""
        return self.log.entry_bytes(seq, size)

    def entry(self, seq: int, size: int | None = None) -> Entry:
        """Entry *seq*, parsed from its stored bytes (checked against the stored leaf hash).

        Its signature is not checked: :meth:`verified_entry` also checks the signature and
        the inclusion in a signed checkpoint. *size* bounds the log (default: the latest
        checkpoint's); :class:`NotFoundError` beyond it.
        """
        return self.log.entry(seq, size)

    def iter_entries(self, start: int = 0, end: int | None = None) -> Iterator[Entry]:
        """Entries start..end-1 read sequentially (for rebuilding the index)."""
        return self.log.iter_entries(start, end)

    # -- key sets (docs/FORMAT.md §23; the log's, see :class:`.log.Log`) ---------------------

    def keyset_entries(self, size: int, root: bytes | None = None) -> list[Entry]:
        """The key-set entries among the first *size* entries (:meth:`.log.Log.keyset_entries`)."""
        return self.log.keyset_entries(size, root)

    def recorded_history(self) -> KeyHistory | None:
        """The log's own key-set history, unpinned (:meth:`.log.Log.recorded_history`)."""
        return self.log.recorded_history()

    def key_history(self, pinned: KeySet) -> KeyHistory:
        """Who may sign what, walked from the *pinned* trust file (:meth:`.log.Log.key_history`)."""
        return self.log.key_history(pinned)

    def signers(self, history: KeyHistory, size: int, root: bytes | None = None
                ) -> list[canonical.JSONObject]:
        """Which key signed what (:meth:`.log.Log.signers`; with *root*, from entries that
        hash to it)."""
        return self.log.signers(history, size, root)

    def append_keyset(
        self, signed: SignedKeySet, signer: Signer, *, now: datetime | None = None
    ) -> Entry:
        """Record the signed key set *signed* in the log (:meth:`.log.Log.append_keyset`)."""
        return self.log.append_keyset(signed, signer, recorded=utc_timestamp(now))

    def prepare_release(self, signer: Signer) -> bytes:
        """The release of the current tree for holders to co-sign (k-of-n releases)."""
        return self.log.prepare_release(signer)

    def publish_release(self, note: bytes, signer: Signer) -> Release:
        """Publish a co-signed release carrying the release threshold."""
        return self.log.publish_release(note, signer)

    def read_object(self, sha256: str, size: int | None = None) -> bytes:
        """The object *sha256*, checked against its name; with *size* (what the signed entry
        states), a file of any other size is refused before it is read."""
        data = self.store.read(object_name(sha256), size)
        if size is not None and len(data) != size:
            raise VerificationError(
                f"object sha256:{sha256} is {len(data)} bytes, its entry says {size}"
            )
        actual = Digest.of(data)
        if not hmac.compare_digest(actual.hex(), sha256):
            raise VerificationError(f"object sha256:{sha256} is corrupt (hashes to {actual})")
        return data

    def text_layer(self, entry: Entry) -> TextLayer | None:
        """The signed text layer of *entry* (checked against its digest), or None if it has none."""
        if entry.document is None or entry.document.text is None:
            return None
        from .log.textlayer import TextLayer

        text = entry.document.text
        return TextLayer.from_bytes(self.read_object(text.sha256, text.size))

    def _read_text_layer(self, sha256: str, size: int) -> TextLayer:
        from .log.textlayer import TextLayer

        return TextLayer.from_bytes(self.read_object(sha256, size))

    def releases(self) -> list[int]:
        """The tree sizes of the stored releases, ascending (their signatures unchecked)."""
        return self.log.releases()

    def release_note(self, size: int) -> bytes:
        """The signed checkpoint of the release at tree size *size*, as stored (unchecked)."""
        return self.log.release_note(size)

    # -- index --------------------------------------------------------------------------------

    def index(self, verifiers: Sequence[VerifierKey], *, full_text: bool = True) -> Index:
        """The derived index, brought up to date with the log as signed by *verifiers*.

        The index holds only entries whose signatures verify against *verifiers* and whose
        leaves hash to the root of the latest checkpoint, itself signed by *verifiers*; its
        ``checkpoint`` attribute is that checkpoint. Raises :class:`KeyFileError` without
        keys: nothing unverified is ever indexed. With *full_text* False, the full-text rows
        an ``add`` left for later are not filled (lookups by id and hash need none of them).
        """
        return self._open_index(verifiers, text=full_text)

    def verified_entry(
        self, seq: int, checkpoint: Checkpoint, verifiers: Sequence[VerifierKey]
    ) -> Entry:
        """Entry *seq* re-read from the log, its signature checked against *verifiers* and
        its leaf shown by an inclusion proof to be in the tree of *checkpoint* (verified)."""
        return self.log.verified_entry(seq, checkpoint, verifiers)

    def _open_index(
        self,
        verifiers: Sequence[VerifierKey],
        appended: _Appended | None = None,
        *,
        text: bool = True,
    ) -> Index:
        """The index synced with the verified head; with *text*, its full text filled too
        (``add`` needs only the metadata, so the FTS5 rows wait for the next other use)."""
        from .index import Index, index_path  # sqlite3 is only needed by commands that look up

        if not verifiers:
            raise KeyFileError(
                "no trusted keys: the index is built only from entries verified by trusted keys",
                hint="give the publisher's verifier key",
                remedy=Remedy.TRUSTED_KEYS,
            )
        head = self.head(verifiers)
        location = self.store.location()
        idx: Index
        lock: contextlib.AbstractContextManager[None]
        if location is None:
            # A store that lives only in this process (MemoryStore): its index does too, built
            # from the verified log for this call.
            idx, lock = Index.memory(), contextlib.nullcontext()
        else:
            path = index_path(location, self.origin)
            try:
                idx = Index.open(path)
                lock = file_lock(path.parent, path.name + ".lock")
            except StorageError:
                # No writable cache (a read-only home, a full disk): build the index in memory
                # for this command. Slower for a large archive, never wrong.
                idx, lock = Index.memory(), contextlib.nullcontext()
        try:
            with lock:
                self._sync_index(idx, head, verifiers, appended, text=text)
                if text and idx.text_pending():
                    idx.fill_text(self._read_text_layer, batch=INDEX_BATCH)
        except BaseException:
            idx.close()
            raise
        idx.checkpoint = head.checkpoint
        return idx

    def _sync_index(
        self,
        idx: Index,
        head: Head,
        verifiers: Sequence[VerifierKey],
        appended: _Appended | None = None,
        *,
        text: bool = True,
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
                        appended=appended, text=text,
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
        idx: Index,
        start: int,
        frontier: Sequence[bytes],
        size: int,
        *,
        verifiers: Sequence[VerifierKey],
        appended: _Appended | None,
        text: bool,
    ) -> list[bytes]:
        hashes = list(frontier)
        done = start
        if appended is not None and appended.start == done and appended.end <= size:
            # Entries this process has just signed with the trusted key (the writer's) and
            # their text layers are in memory: index them without reading them back.
            leaves = [merkle.leaf_hash(e.raw) for e in appended.entries]
            hashes = merkle.compact_append(done, hashes, leaves)
            idx.add(appended.entries, appended.texts, size=appended.end, root=None,
                    paged=_paged, frontier=hashes, text=text)
            done = appended.end
        batch: list[Entry] = []
        texts: dict[str, TextLayer] = {}
        refused: set[int] = set()

        def flush() -> None:
            nonlocal hashes, done, batch, texts
            hashes = merkle.compact_append(done, hashes, [merkle.leaf_hash(e.raw) for e in batch])
            done += len(batch)
            # A refused entry keeps its place in the tree; the index holds it as no document.
            shown = [attrs.evolve(e, document=None) if e.seq in refused else e for e in batch]
            idx.add(shown, texts, size=done, root=None, paged=_paged, frontier=hashes,
                    text=text)
            batch, texts = [], {}

        if done < size:
            for entry in self.iter_entries(done, size):
                if entry.seq != done + len(batch):
                    raise VerificationError(
                        f"the entry at position {done + len(batch)} says it is entry {entry.seq}"
                    )
                try:
                    entry.verify(verifiers, self.origin)  # only this log's trusted key's entries
                except RevokedKeyError:
                    refused.add(entry.seq)  # in the tree, never in the index (a stolen key's)
                batch.append(entry)
                # Checked against the signed sha256. An unreadable or altered text layer stops
                # the build: indexing the entry without its text would make quote and search
                # answer as if the passage did not exist, and the index would remember that
                # answer after the object was repaired.
                layer = None if entry.seq in refused or not text else self.text_layer(entry)
                if layer is not None and entry.document and entry.document.text:
                    texts[entry.document.text.sha256] = layer
                if len(batch) >= INDEX_BATCH:
                    flush()
            if batch:
                flush()
        return hashes

    # -- writing ------------------------------------------------------------------------------

    def add(
        self,
        requests: Sequence[AddRequest],
        signer: Signer,
        *,
        now: datetime | None = None,
        retries: int = 0,
    ) -> list[Entry]:
        """:meth:`add_once`, tried again up to *retries* times when another writer committed
        first (:class:`LostRaceError`: nothing of this attempt was committed), each time from
        the new head, so the documents are checked again against what the other added."""
        return _retrying(lambda: self.add_once(requests, signer, now=now), retries)

    def add_once(
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
        three log fsyncs and an index transaction per document. For more documents than fit
        in memory, :meth:`add_chunks`.
        """
        if not requests:
            return []
        entries: list[Entry] = []
        self._add_chunks_once([requests], signer, now=now, on_chunk=entries.extend)
        return entries

    def add_chunks(
        self,
        chunks: Callable[[], Iterable[Sequence[AddRequest]]],
        signer: Signer,
        *,
        now: datetime | None = None,
        retries: int = 0,
    ) -> Added:
        """Append the documents of ``chunks()`` (an iterable of batches, read as they are
        needed) as one append, all or nothing, in memory bounded by two batches rather than
        by the number of documents (:meth:`.log.Log.append_stream`).

        Every batch is checked as :meth:`add` checks its documents (ids, duplicates,
        relations: against the archive and every earlier batch of this append) before any of
        it is written; an error in any batch raises before the commit, and what was written
        past the committed size is removed. After another writer committed first
        (:class:`LostRaceError`), ``chunks()`` is called again, up to *retries* times.
        """
        return _retrying(lambda: self._add_chunks_once(chunks(), signer, now=now), retries)

    def _add_chunks_once(
        self,
        chunks: Iterable[Sequence[AddRequest]],
        signer: Signer,
        *,
        now: datetime | None = None,
        on_chunk: Callable[[Sequence[Entry]], None] | None = None,
    ) -> Added:
        signer = BatchSigner.of(signer)
        recorded = utc_timestamp(now)
        # The first batch's entries and text layers, handed to the index after the commit
        # when the append was that one batch; a longer append is indexed from the store.
        first: tuple[list[Entry], dict[str, TextLayer]] | None = None
        texts: dict[str, TextLayer] = {}
        batches = 0

        # The index of the keys this writer checks against (its key history, with key
        # sets): the one the next add looks up, kept warm.
        indexed_by: Sequence[VerifierKey] = [signer.verifier()]
        staged = False

        def kept(entries: Sequence[Entry]) -> None:
            nonlocal first
            if batches == 1:
                first = (list(entries), texts)
            checker.stage(entries, indexed_by, self.origin)
            if on_chunk is not None:
                on_chunk(entries)

        with self.log.writer(signer) as head:
            self.log.check_writer(head, signer, recorded)
            trust = self.log.trust
            if isinstance(trust, KeyHistory):
                indexed_by = trust
            with self._new_documents(signer.verifier(), committed=head.size) as checker:

                def prepared() -> Iterator[
                    tuple[list[canonical.JSONObject], list[tuple[str, bytes]]]
                ]:
                    nonlocal texts, batches, first
                    done = 0
                    for requests in chunks:
                        batches += 1
                        if batches > 1:
                            first = None
                            texts = {}
                        self._check_new(requests, checker)
                        objects = _objects(requests, done, texts)
                        done += len(requests)
                        yield [req.fields.to_dict() for req in requests], objects

                streamed = self.log.append_stream(
                    head, prepared(), signer, recorded=recorded, on_chunk=kept
                )
                if streamed.end > streamed.start and streamed.committed:
                    # Committed to the index only under the signed checkpoint as the index's
                    # keys verify it (as any index update is): read back, not assumed.
                    with contextlib.suppress(KeyboardInterrupt, OrderArchiveError):
                        signed = self.head(indexed_by).checkpoint
                        if signed is not None:
                            staged = checker.commit(signed.size, signed.root_hash)
        if streamed.end > streamed.start and streamed.committed and not staged:
            # The derived index is rebuilt on next use if this fails.
            with contextlib.suppress(KeyboardInterrupt):
                appended = None
                if first is not None and batches == 1:
                    appended = _Appended(streamed.start, tuple(first[0]), first[1], streamed.root)
                self._index_quietly(indexed_by, appended)
        return Added(streamed.start, streamed.end, streamed.root, streamed.committed)

    def _index_quietly(self, verifiers: Sequence[VerifierKey], appended: _Appended | None) -> None:
        if self.store.location() is None:
            return  # an in-memory index is built when asked for: nothing to keep warm
        with contextlib.suppress(OrderArchiveError):  # derived data: rebuilt on next use
            self._open_index(verifiers, appended, text=False).close()

    def check_new(self, requests: Sequence[AddRequest], verifier: VerifierKey) -> None:
        """Raise what :meth:`add` would raise for *requests* (ids, duplicates, relations),
        looked up in the index of entries verified by *verifier* (the writer's key)."""
        with self._new_documents(verifier) as checker:
            self._check_new(requests, checker)

    def check_new_chunks(
        self, chunks: Iterable[Sequence[AddRequest]], verifier: VerifierKey
    ) -> int:
        """:meth:`check_new` for the batches of one :meth:`add_chunks` (each checked against
        the archive and the batches before it); the number of documents checked."""
        count = 0
        with self._new_documents(verifier) as checker:
            for requests in chunks:
                self._check_new(requests, checker)
                count += len(requests)
        return count

    def _check_new(self, requests: Sequence[AddRequest], checker: _NewDocuments) -> None:
        checker.check(requests)

    @contextlib.contextmanager
    def _new_documents(
        self, verifier: VerifierKey, *, committed: int | None = None
    ) -> Iterator[_NewDocuments]:
        def open_index() -> Index:
            trust = self.log.trust
            if isinstance(trust, KeyHistory):
                return self._open_index(trust, text=False)
            try:
                return self._open_index([verifier], text=False)
            except SignatureError:
                # Entries or a checkpoint by other keys: a log with key sets and several
                # writers. Its own key sets say whose (a writer trusts its own storage).
                history = self.recorded_history()
                if history is None:
                    raise
                return self._open_index(history, text=False)

        checker = _NewDocuments(open_index, committed)
        try:
            yield checker
        finally:
            checker.close()

    def release(self, signer: Signer, *, retries: int = 0) -> Release:
        """Sign the current tree as a release; it must extend the last release. A release
        that lost to another writer is tried again up to *retries* times (see :meth:`add`)."""
        return _retrying(lambda: self.log.release(signer), retries)

    def leftovers(self) -> list[tuple[str, bool, bool]]:
        """The files and directories of a directory archive that the format does not name,
        as ``(name, is_dir, debris)`` (see :meth:`.log.Log.leftovers`)."""
        return self.log.leftovers()

    def remove_debris(self) -> tuple[list[str], list[str]]:
        """Remove the tool's own leftovers; the names removed and the unknown names kept."""
        return self.log.remove_debris()

    def repair(self, *, discard_uncheckpointed: bool = False) -> dict[str, int]:
        """Cut debris left past the committed checkpoint by an interrupted append."""
        return self.log.repair(discard_uncheckpointed=discard_uncheckpointed)

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

        return Auditor(self.log, verifiers, progress, check_objects, workers).run()

    def verify(
        self,
        verifiers: Sequence[VerifierKey],
        *,
        progress: ProgressFn | None = None,
        check_objects: bool = True,
        workers: int | None = None,
    ) -> VerifyReport:
        """Check everything, as :meth:`audit` does, and raise if anything is wrong.

        Returns the clean report; raises :class:`ArchiveVerificationError` (carrying the full
        report) when any problem was found.
        """
        report = self.audit(verifiers, progress=progress, check_objects=check_objects,
                            workers=workers)
        if not report.ok:
            raise ArchiveVerificationError(report)
        return report

    # -- queries ------------------------------------------------------------------------------

    def documents(
        self, verifiers: Sequence[VerifierKey], *, kind: str | None = None
    ) -> tuple[ListedDocument, ...]:
        """Every document (optionally of one *kind*) in log order, with its status.

        Each entry is re-read from the log and its signature checked against *verifiers*; the
        status (in-force, amended, superseded, rescinded, corrected) comes from the relations
        in those verified entries, never from the derived index (see
        :func:`~orderarchive.status.list_documents`).
        """
        from .status import list_documents  # status imports this module for types only

        return list_documents(self, verifiers, kind=kind)


def keyset_fingerprint(verifiers: Sequence[VerifierKey]) -> str:
    """A name for a set of trusted keys (order and repetition do not matter). For a key
    history, also its pinned and newest key sets: a new revocation changes what the index may
    hold even when the log keys stay the same, so the index is rebuilt."""
    keys = sorted({v.to_string() for v in verifiers})
    if isinstance(verifiers, KeyHistory):
        keys += [f"keyset:{verifiers.pinned.digest}", f"keyset:{verifiers.newest.digest}"]
    return hashlib.sha256("\n".join(keys).encode()).hexdigest()


def _paged(entry: Entry) -> bool:
    return entry.document is not None and entry.document.media_type == "application/pdf"


def default_workers() -> int:
    """How many processes ``verify`` uses by default: one per CPU, at most 8."""
    return max(1, min(os.cpu_count() or 1, 8))


