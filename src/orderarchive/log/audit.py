"""``orderarchive verify``: every check of the whole archive, on every core, in bounded memory.

The work splits in two, because the tree is cheap and the entries are not:

* **The tree** — the main process streams ``log/entries``, ``log/offsets`` and ``log/hashes``
  once, recomputing every leaf and stored hash and the root over a compact range (RFC 9162
  §2.1.1; Go ``tlog``'s stored-hash order) and checking every offset against the line it ends.
  One SHA-256 per stored hash: a few microseconds an entry.
* **The entries** — worker processes each take a range of entries, found through
  ``log/offsets``, and do what costs: parse each entry (canonical JSON, fields), check its
  position, its Ed25519 signature (~50 µs), and re-hash its objects. Each returns its problems,
  counts, and 8 bytes per entry: a keyed hash of the entry's document id, for the checks that
  span entries (a reused id, a relation to a document not recorded earlier), which the main
  process does last.

A range found through a corrupt offset cannot hide an entry from the workers: the main
process checks every offset against the line boundaries it reads itself and reports any that
differ, so verification fails either way. Small archives, stores that are not local files and
platforms without ``fork`` are checked in one process by the same code.

Memory: O(log n) for the tree, bounded read buffers (1 MiB; a line longer than any valid entry
stops the walk), and 8 bytes per document for the id checks: about 8 MB at a million entries,
whatever the size of the documents.
"""

from __future__ import annotations

import bisect
import hashlib
import hmac
import os
import secrets
import sys
from array import array
from collections.abc import Callable, Iterator, Sequence
from typing import Any, BinaryIO

from ..errors import (
    EntryFormatError,
    MalformedError,
    NotFoundError,
    OrderArchiveError,
    SignatureError,
    StorageError,
    VerificationError,
)
from . import merkle
from .checkpoint import Checkpoint
from .entry import MAX_ENTRY_BYTES, Entry
from .keyset import KeyHistory, RevokedKeyError, open_release
from .layout import (
    ENTRIES,
    HASH,
    HASHES,
    OFFSET_SIZE,
    OFFSETS,
    RELEASES,
    decimal_size,
    keyset_positions,
    object_name,
    previous_release,
)
from .log import Head, Log, Problem, ProgressFn, VerifyReport
from .note import VerifierKey
from .store import Store
from .textlayer import TextLayer, text_layer_ok

MAX_PROBLEMS = 1000
REFUSED = "revoked-key"  # an entry signed after its key's revocation (listed apart)
CHUNK = 1 << 20  # bytes per read of a log record
#: Below this many entries, starting worker processes costs more than it saves.
PARALLEL_MIN_ENTRIES = 2048
#: Ranges per worker: more, smaller ranges even out the load and make progress visible. The
#: last range to finish keeps one core busy while the other idles, so ranges are kept short
#: (~60 ms of work each at 10,000 entries); each costs well under a millisecond to hand out.
RANGES_PER_WORKER = 16
#: At most this many entries a range: at a million entries, the last range to finish (one core
#: busy, the other idle) is ~0.4 s of work rather than ~1.8 s.
MAX_RANGE = 4096
_MAX_LINE = MAX_ENTRY_BYTES + 1  # a longer line is not an entry; stop rather than buffer it


def default_workers() -> int:
    """The CPUs this process may run on (taskset, cgroup cpusets), at most 8."""
    affinity = getattr(os, "sched_getaffinity", None)
    cpus = len(affinity(0)) if affinity else (os.cpu_count() or 1)
    return max(1, min(cpus, 8))


def _can_fork() -> bool:
    # fork, not spawn: a spawned child re-imports the main module, and `python -m orderarchive`
    # runs the CLI at import. macOS's system libraries are not fork-safe.
    return hasattr(os, "fork") and sys.platform.startswith("linux")


class Baseline:
    """An earlier state of this log that the caller fully verified (incremental ``verify``).

    The audit then checks only what the log added since: the signed checkpoint, that it is
    consistent with :attr:`root` (RFC 9162 §2.1.4), and entries :attr:`size` onwards (their
    signatures, objects, text layers, offsets and stored hashes, and their leaves tied to the
    signed root through the remembered tree's compact range). :attr:`ids` are the keyed hashes
    (under :attr:`id_key`) of every document id of the first :attr:`size` entries, sorted, so a
    new entry reusing an old id or relating to an old document is still checked.

    The caller must have authenticated all of it: the audit trusts the baseline as it trusts
    the keys.
    """

    __slots__ = ("id_key", "ids", "root", "size")

    def __init__(self, size: int, root: bytes, id_key: bytes, ids: array[int]) -> None:
        self.size = size
        self.root = root
        self.id_key = id_key
        self.ids = ids


def _sorted_contains(values: array[int], value: int) -> bool:
    i = bisect.bisect_left(values, value)
    return i < len(values) and values[i] == value


# -- the entries -------------------------------------------------------------------------------


class _RangeResult:
    """What checking entries ``start .. start + checked - 1`` found (pickled back to the parent).

    ``ids[i]`` is the keyed hash of entry ``start + i``'s document id (0: no document).
    """

    __slots__ = (
        "checked",
        "documents",
        "ids",
        "keysets",
        "objects",
        "problems",
        "relation_seqs",
        "relation_targets",
        "signatures",
        "start",
    )

    def __init__(self, start: int) -> None:
        self.start = start
        self.checked = 0
        self.problems: list[Problem] = []
        self.documents = 0
        self.objects = 0
        self.signatures = 0
        self.ids = array("Q")
        self.keysets = array("Q")  # positions of key-set entries (the checkpoints name them)
        self.relation_seqs = array("Q")
        self.relation_targets = array("Q")

    def __getstate__(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        for name, value in zip(self.__slots__, state, strict=True):
            setattr(self, name, value)


def _id_hash(key: bytes, doc: str) -> int:
    # Keyed with a secret chosen per verification, so nobody can choose document ids that
    # collide; 0 is reserved for "no document".
    value = int.from_bytes(hashlib.blake2b(doc.encode("utf-8"), digest_size=8, key=key).digest())
    return value or 1


class _EntryChecker:
    """The checks of one entry on its own: format, position, signature, objects."""

    def __init__(
        self,
        store: Store,
        origin: str,
        verifiers: Sequence[VerifierKey],
        check_objects: bool,
        key: bytes,
    ) -> None:
        self.store = store
        self.origin = origin  # entries must be signed by this log's own key
        # A KeyHistory is kept whole: its per-index answers are what entry.verify asks.
        self.verifiers = verifiers if isinstance(verifiers, KeyHistory) else list(verifiers)
        self.check_objects = check_objects
        self.key = key
        self.result = _RangeResult(0)

    def start(self, seq: int) -> _RangeResult:
        self.result = _RangeResult(seq)
        return self.result

    def problem(self, code: str, message: str, seq: int | None = None) -> None:
        problems = self.result.problems
        if len(problems) <= MAX_PROBLEMS:
            problems.append(Problem(code, message, seq))

    def check(self, seq: int, line: bytes) -> None:
        r = self.result
        r.checked += 1
        try:
            entry = Entry.from_bytes(line)
        except (EntryFormatError, MalformedError) as e:
            self.problem("entry", f"entry {seq}: {e}", seq)
            r.ids.append(0)
            return
        if entry.seq != seq:
            self.problem("sequence", f"entry at position {seq} says it is entry {entry.seq}", seq)
        try:
            entry.verify(self.verifiers, self.origin)
            r.signatures += 1
        except RevokedKeyError as e:
            # Signed by a key the log's key sets revoke from an earlier index: refused and
            # listed, not a fault of the archive (the key set records the theft).
            self.problem(REFUSED, str(e), seq)
        except SignatureError as e:
            self.problem("signature", str(e), seq)
        if entry.keyset is not None:
            r.keysets.append(seq)
        doc = entry.document
        if doc is None:
            r.ids.append(0)
            return
        r.documents += 1
        r.ids.append(_id_hash(self.key, doc.doc))
        for rel in doc.relations:
            r.relation_seqs.append(seq)
            r.relation_targets.append(_id_hash(self.key, rel.target))
        if self.check_objects:
            text = doc.text
            # A plain-text document is its own text layer: one object, read and hashed once
            # for both checks (the same bytes a second read would give).
            shared = text is not None and text.sha256 == doc.sha256
            read = self._check_object(seq, doc.sha256, doc.size, "document", keep=shared)
            if text is not None:
                self._check_object(seq, text.sha256, text.size, "text layer", text=True,
                                   read=read if shared else None)

    def _read_object(self, name: str, h: Any, size: int, pieces: list[bytes] | None) -> int:
        """Hash object *name* into *h* (keeping its bytes in *pieces*); its size.

        The first read asks for the size the entry states plus one byte: an object of that
        size arrives in one piece (no buffer to grow and copy), and a small read after a short
        one shows the end of the file (os.read allocates what it is asked for: a 1 MiB
        request costs more than reading a typical object). A longer file is read on to its
        end, in bounded chunks, and only its first *size* bytes are kept: a hostile archive's
        oversized object costs hashing time, not memory (its size is wrong, so the bytes kept
        are never used).
        """
        total = 0
        for chunk in self.store.read_chunks(name, size + 1):
            h.update(chunk)
            total += len(chunk)
            if pieces is not None and total <= size:
                pieces.append(chunk)
        return total

    def _check_object(
        self,
        seq: int,
        sha: str,
        size: int,
        what: str,
        *,
        keep: bool = False,
        text: bool = False,
        read: tuple[str, int, bytes] | None = None,
    ) -> tuple[str, int, bytes] | None:
        """Check object *sha* against the entry, and as a text layer if *text*.

        With *keep*, returns what was read (hex digest, size, bytes; None if it could not be
        read), which a second check of the same object takes as *read* instead of reading.
        The bytes are held only for a text layer (bounded by its size, as before).
        """
        if read is None:
            h = hashlib.sha256()
            pieces: list[bytes] | None = [] if keep or text else None
            try:
                total = self._read_object(object_name(sha), h, size, pieces)
            except NotFoundError:
                self.problem(
                    "object-missing", f"entry {seq}: {what} sha256:{sha} is missing", seq
                )
                return None
            except StorageError as e:
                self.problem("object", f"entry {seq}: {e}", seq)
                return None
            data = b"" if not pieces else pieces[0] if len(pieces) == 1 else b"".join(pieces)
            read = (h.hexdigest(), total, data)
        digest, total, data = read
        self.result.objects += 1
        if not hmac.compare_digest(digest, sha):
            self.problem("object-digest", f"entry {seq}: {what} does not hash to sha256:{sha}", seq)
        elif total != size:
            self.problem(
                "object-size", f"entry {seq}: {what} is {total} bytes, entry says {size}", seq
            )
        elif text and not text_layer_ok(data):
            try:
                TextLayer.from_bytes(data)
            except MalformedError as e:
                self.problem("text-layer", f"entry {seq}: {e}", seq)
        return read if keep else None


def _lines(f: BinaryIO, limit: int) -> Iterator[bytes]:
    """Up to *limit* LF-terminated lines from *f* (without the LF); stops early at the end of
    the file or at a line longer than any entry may be."""
    pending = b""
    while limit > 0:
        chunk = f.read(CHUNK)
        if not chunk:
            return
        *lines, pending = (pending + chunk).split(b"\n")
        yield from lines[:limit]
        limit -= len(lines)
        if len(pending) > _MAX_LINE:
            return


# Worker processes are forked with the checker's arguments (store, keys, ...) in memory:
# nothing but the range to check and the results crosses the pipe.
_worker: _EntryChecker | None = None


def _init_worker(checker: _EntryChecker) -> None:
    global _worker  # noqa: PLW0603 (one checker per worker process)
    _worker = checker


def _check_range(start: int, count: int, offset: int) -> _RangeResult:
    checker = _worker
    assert checker is not None, "worker not initialised"
    result = checker.start(start)
    try:
        with checker.store.stream_record(ENTRIES) as f:
            f.seek(offset)
            for seq, line in enumerate(_lines(f, count), start=start):
                checker.check(seq, line)
    except OrderArchiveError as e:
        checker.problem("storage", f"entries {start}..{start + count - 1}: {e}")
    except OSError as e:
        checker.problem("storage", f"entries {start}..{start + count - 1}: {e.strerror}")
    return result


# -- the auditor -------------------------------------------------------------------------------


class Auditor:
    """One audit of a :class:`.log.Log` (``verify``, :meth:`Archive.audit`): every problem
    found, in log order, in a report."""

    def __init__(
        self,
        log: Log,
        verifiers: Sequence[VerifierKey],
        progress: ProgressFn | None,
        check_objects: bool,
        workers: int | None = None,
        *,
        baseline: Baseline | None = None,
        id_key: bytes | None = None,
    ) -> None:
        self.a = log
        # A KeyHistory is kept whole: its per-index answers are what entry.verify asks.
        self.verifiers = verifiers if isinstance(verifiers, KeyHistory) else list(verifiers)
        self.progress = progress
        self.check_objects = check_objects
        self.workers = workers
        self.problems: list[Problem] = []
        self.entry_problems: list[Problem] = []
        #: The key-set entries' positions the full read found (what checkpoints must name).
        self.keysets: list[int] = []
        self.documents = 0
        self.objects = 0
        self.signatures = 0
        self.baseline = baseline
        # With *id_key* (the caller's secret, as remembered with a baseline) the run also
        # yields :attr:`doc_ids` for the next incremental run; else a key chosen for this run.
        self.key = baseline.id_key if baseline is not None else id_key or secrets.token_bytes(16)
        self.keep_ids = baseline is not None or id_key is not None
        #: Sorted keyed hashes of every document id in the log (with *id_key* or a baseline,
        #: after a run that found no problem in the entries).
        self.doc_ids: array[int] | None = None
        #: The first entry this run checked (the baseline's size, else 0).
        self.start = 0
        self.checked = 0

    def problem(self, code: str, message: str, seq: int | None = None) -> None:
        self._add(self.problems, Problem(code, message, seq))

    def entry_problem(self, code: str, message: str, seq: int | None = None) -> None:
        self._add(self.entry_problems, Problem(code, message, seq))

    @staticmethod
    def _add(problems: list[Problem], problem: Problem) -> None:
        if len(problems) <= MAX_PROBLEMS:
            problems.append(problem)

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
        if head.checkpoint is None and a.store.record_size(ENTRIES):
            self.problem(
                "checkpoint-missing",
                "the log holds entries but there is no checkpoint (deleted, or the first add "
                "was interrupted)",
            )
        frontier: list[bytes] | None = []
        if self.baseline is not None:
            frontier = self._check_baseline(size, root)
        leaf_root = self._check_log(size, frontier) if frontier is not None else None
        if self.start:
            # Entries before the baseline were not read: their key-set positions are the
            # ones the latest checkpoint names (each one a key-set entry included in the
            # signed root, checked by Log.key_history; hiding one changes the key history's
            # newest set or breaks its chain, and with it the trust the state is kept under).
            try:
                named = keyset_positions(head.checkpoint) or ()
            except OrderArchiveError:
                named = ()  # reported by _check_keyset_index
            self.keysets.extend(i for i in named if i < self.start)
        if root is not None and leaf_root is not None and not hmac.compare_digest(root, leaf_root):
            self.problem("root", "the log's Merkle root differs from the signed checkpoint")
        self._check_keyset_index(head.checkpoint, "latest checkpoint", size)
        try:
            latest_release = head.latest_release
        except OrderArchiveError as e:
            self.problem("checkpoint", f"latest checkpoint: {e}")
            latest_release = None
        releases = self._check_releases(size, latest_release)
        self._check_members()
        refused = [p for p in self.problems if p.code == REFUSED]
        problems = [p for p in self.problems if p.code != REFUSED]
        if len(problems) > MAX_PROBLEMS:
            problems = [
                *problems[:MAX_PROBLEMS],
                Problem("too-many", f"more than {MAX_PROBLEMS} problems; stopped listing"),
            ]
        return VerifyReport(
            origin=a.origin,
            size=size,
            root=root,
            releases=tuple(releases),
            documents=self.documents,
            objects_checked=self.objects,
            signatures_checked=self.signatures,
            problems=tuple(problems),
            refused=tuple(refused),
            first_checked=self.start,
            entries_checked=self.checked,
        )

    def _count_entries(self) -> int:
        return self.a.store.record_size(OFFSETS) // OFFSET_SIZE

    # -- the log --------------------------------------------------------------------------------

    def _check_baseline(self, size: int, root: bytes | None) -> list[bytes] | None:
        """Tie the signed checkpoint to the baseline: the compact range of the baseline's tree
        to extend with the new entries, or None (a problem reported) if it cannot be."""
        b = self.baseline
        assert b is not None
        if root is None:
            return None  # no verified checkpoint: reported; nothing can be tied to it
        if size < b.size:
            self.problem(
                "rollback", f"the log's signed checkpoint is of size {size}, smaller than the "
                f"state verified before (size {b.size}): rolled back, truncated or a stale copy",
            )
            return None
        try:
            proof = ([] if b.size in (0, size)
                     else merkle.consistency_proof(b.size, size, self.a.read_hashes))
            if b.size == size:
                if not hmac.compare_digest(b.root, root):
                    raise VerificationError("the roots differ at the same size")
            elif b.size:
                merkle.verify_consistency(b.size, size, b.root, root, proof)
        except OrderArchiveError as e:
            self.problem(
                "fork", f"the log's signed checkpoint (size {size}) is not consistent with the "
                f"state verified before (size {b.size}): the log was rewritten, or its stored "
                f"hashes are damaged ({e})",
            )
            return None
        # The compact range comes from the stored hashes, which are not trusted: it must
        # reproduce the verified root. The walk extends it with the new entries' leaves, and
        # their root must then be the signed one.
        indexes = []
        lo = 0
        while lo < b.size:
            level = (b.size - lo).bit_length() - 1
            indexes.append(merkle.stored_hash_index(level, lo >> level))
            lo += 1 << level
        try:
            frontier = list(self.a.read_hashes(indexes)) if indexes else []
        except OrderArchiveError as e:
            self.problem("hashes", f"the stored hashes of the verified state: {e}")
            return None
        if (len(frontier) != len(indexes)
                or not hmac.compare_digest(merkle.compact_root(frontier), b.root)):
            self.problem(
                "hashes", f"the stored hashes of entries 0..{b.size - 1} do not reproduce the "
                "root verified before: damaged since; run verify --full",
            )
            return None
        self.start = b.size
        return frontier

    def _check_log(self, size: int, frontier: list[bytes]) -> bytes | None:
        """Check entries ``self.start ..`` and the tree; the root the stored log yields
        (None: unknown)."""
        start = self.start
        store = self.a.store
        hash_count = merkle.stored_hash_count(size)
        for name, want, unit in (
            (OFFSETS, size * OFFSET_SIZE, "entries"),
            (HASHES, hash_count * HASH, "stored hashes"),
        ):
            have = store.record_size(name)
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
            pos = self._entry_start(start)
            ranges = self._ranges(start, size, pos)
            if ranges:
                return self._check_parallel(size, ranges, pos, frontier)
            checker = _EntryChecker(
                store, self.a.origin, self.verifiers, self.check_objects, self.key
            )
            result = checker.start(start)
            leaf_root = self._walk(size, checker.check, pos, frontier)
            self._merge(size, [result])
            return leaf_root
        except NotFoundError as e:
            if size:
                self.problem("missing", str(e))
            return merkle.EMPTY_ROOT if size == 0 else None
        except StorageError as e:
            self.problem("storage", str(e))
            return None
        finally:
            self.problems.extend(self.entry_problems)

    def _entry_start(self, start: int) -> int:
        """The byte offset of entry *start* in the entry record, as the offsets say (not
        trusted: lines read from a wrong offset do not hash to the signed root)."""
        if start == 0:
            return 0
        return int.from_bytes(
            self.a.store.read_range(OFFSETS, (start - 1) * OFFSET_SIZE, OFFSET_SIZE), "big"
        )

    def _ranges(self, first: int, size: int, pos: int) -> list[tuple[int, int, int]]:
        """``(first entry, count, byte offset)`` per worker job for entries *first* ..
        *size* - 1 (entry *first* at byte *pos*); [] to check in this process."""
        count_all = size - first
        workers = self.workers or default_workers()
        if workers < 2 or not _can_fork():
            return []
        if self.workers is None and count_all < PARALLEL_MIN_ENTRIES:
            return []
        store = self.a.store
        if count_all <= 0 or store.record_size(OFFSETS) < size * OFFSET_SIZE:
            return []  # no complete offsets to find the ranges by: one sequential pass
        count = max(workers * RANGES_PER_WORKER, -(-count_all // MAX_RANGE))
        step = -(-count_all // count)
        starts = list(range(first, size, step))
        ends = store.read_ranges(
            OFFSETS, [((s - 1) * OFFSET_SIZE, OFFSET_SIZE) for s in starts[1:]]
        )
        offsets = [pos, *(int.from_bytes(e, "big") for e in ends)]
        return [(s, min(step, size - s), o) for s, o in zip(starts, offsets, strict=True)]

    def _check_parallel(
        self, size: int, ranges: list[tuple[int, int, int]], pos: int, frontier: list[bytes]
    ) -> bytes | None:
        import multiprocessing

        checker = _EntryChecker(
            self.a.store, self.a.origin, self.verifiers, self.check_objects, self.key
        )
        done = [0]

        def finished(result: _RangeResult) -> None:  # in the pool's result thread
            done[0] += result.checked

        workers = min(self.workers or default_workers(), len(ranges))
        context = multiprocessing.get_context("fork")
        with context.Pool(workers, initializer=_init_worker, initargs=(checker,)) as pool:
            pending = [
                pool.apply_async(_check_range, job, callback=finished) for job in ranges
            ]
            progress = self.progress
            leaf_root = self._walk(
                size, None, pos, frontier, (lambda: done[0]) if progress else None
            )
            results = []
            for job in pending:
                results.append(job.get())
                if progress:
                    progress(min(done[0], size), size)
        self._merge(size, results)
        return leaf_root

    def _walk(
        self,
        size: int,
        on_line: Callable[[int, bytes], None] | None,
        pos: int,
        frontier: list[bytes],
        checked: Callable[[], int] | None = None,
    ) -> bytes | None:
        """Stream the entries, offsets and stored hashes once from entry ``self.start`` (at
        byte *pos*; *frontier* the compact range of the entries before it): offsets against
        line ends, stored hashes against the recomputed tree. Returns the root. *on_line*
        checks each entry here (the sequential mode); *checked* counts the workers' progress."""
        store = self.a.store
        entries_size = store.record_size(ENTRIES)
        leaf_hash, node_hash = merkle.leaf_hash, merkle.node_hash
        compare = hmac.compare_digest
        # The compact range of the entries so far (RFC 9162 §2.1.1).
        stack: list[bytes] = list(frontier)
        progress = self.progress
        seq = first = self.start
        last_end = pos
        with (
            store.stream_record(ENTRIES) as ef,
            store.stream_record(OFFSETS) as of,
            _maybe_stream(store, HASHES) as hf,
        ):
            if first:
                ef.seek(pos)
                of.seek(first * OFFSET_SIZE)
                if hf is not None:
                    hf.seek(merkle.stored_hash_count(first) * HASH)
            ends = _offsets(of, size - first)
            pending = b""
            while seq < size:
                chunk = ef.read(CHUNK)
                if not chunk:
                    self.entry_problem(
                        "truncated", f"the entry log ends after {seq} of {size} entries"
                    )
                    return None
                *lines, pending = (pending + chunk).split(b"\n")
                if len(pending) > _MAX_LINE:
                    self.entry_problem(
                        "entry", f"entry {seq + len(lines)} is longer than {MAX_ENTRY_BYTES} "
                        "bytes: not an entry log", seq + len(lines)
                    )
                    return None
                for line in lines[: size - seq]:
                    pos += len(line) + 1
                    end = next(ends, None)
                    if end is not None:
                        if end != pos or end <= last_end:
                            self.entry_problem(
                                "offsets", f"offset of entry {seq} is {end}, the entry ends at "
                                f"{pos}", seq,
                            )
                        last_end = end
                    if on_line is not None:
                        on_line(seq, line)
                    # The stored hashes record `seq` appends (Go tlog StoredHashesForRecordHash):
                    # its leaf, then one node per subtree it completes.
                    h = leaf_hash(line)
                    expected = [h]
                    k = seq
                    while k & 1:  # merkle.compact_append, keeping each node it completes
                        h = node_hash(stack.pop(), h)
                        expected.append(h)
                        k >>= 1
                    stack.append(h)
                    if hf is not None:
                        got = hf.read(HASH * len(expected))
                        if not compare(got, b"".join(expected)):
                            self._wrong_hash(seq, got, expected)
                    seq += 1
                    if progress and (seq % 4096 == 0 or seq == size):
                        progress(seq if checked is None else min(first + checked(), size), size)
        trailing = entries_size - pos
        if trailing > 0:
            self.entry_problem(
                "uncommitted",
                f"{ENTRIES} holds {trailing} bytes past the signed checkpoint; "
                "run 'orderarchive repair' to remove them",
            )
        return merkle.compact_root(stack)

    def _wrong_hash(self, seq: int, got: bytes, expected: list[bytes]) -> None:
        for k, want in enumerate(expected):
            if not hmac.compare_digest(got[k * HASH : (k + 1) * HASH], want):
                level = "leaf hash" if k == 0 else f"level-{k} hash"
                self.entry_problem("hashes", f"stored {level} for entry {seq} is wrong", seq)
                return

    # -- across entries -------------------------------------------------------------------------

    def _merge(self, size: int, results: list[_RangeResult]) -> None:
        """Fold the ranges' results in, then check what spans entries (ids, relations)."""
        checked = 0
        for r in results:
            self.documents += r.documents
            self.objects += r.objects
            self.signatures += r.signatures
            checked += r.checked
            self.entry_problems.extend(r.problems)
            self.keysets.extend(r.keysets)
        self.checked = checked
        want = size - self.start
        if checked < want and not self.entry_problems:
            # The walk reports why (a short log); this only guards against a silent gap.
            self.entry_problem("storage", f"only {checked} of {want} entries could be checked")
        self.entry_problems.extend(self._id_problems(results))
        if self.keep_ids and not self.entry_problems:
            self.doc_ids = self._sorted_ids(results)
        # One list in log order: each entry's problems together, as a reader expects them.
        self.entry_problems.sort(key=lambda p: size if p.seq is None else p.seq)

    def _id_problems(self, results: list[_RangeResult]) -> list[Problem]:
        problems: list[Problem] = []
        # Reused ids: bucket the hashes by their top bits so that no set of all of them is ever
        # built (a million Python ints would be 60 MB); collisions are resolved by re-reading.
        buckets = [array("Q") for _ in range(16)]
        for r in results:
            for h in r.ids:
                if h:
                    buckets[h >> 60].append(h)
        repeated: set[int] = set()
        for bucket in buckets:
            if len(set(bucket)) != len(bucket):
                seen: set[int] = set()
                for h in bucket:
                    if h in seen:
                        repeated.add(h)
                    seen.add(h)
        del buckets
        old = self.baseline.ids if self.baseline is not None else None
        if old is not None:
            # A new entry may not reuse an id of the verified state's documents either.
            repeated.update(h for r in results for h in r.ids if h and _sorted_contains(old, h))
        targets = {t for r in results for t in r.relation_targets}
        if old is not None:  # documents of the verified state are recorded before any new one
            targets = {t for t in targets if not _sorted_contains(old, t)}
        first: dict[int, int] = {}
        holders: dict[int, list[int]] = {}
        if repeated or targets:
            for r in results:
                for i, h in enumerate(r.ids):
                    if h in targets and h not in first:
                        first[h] = r.start + i
                    if h in repeated:
                        holders.setdefault(h, []).append(r.start + i)
        for h, seqs in holders.items():
            earliest: dict[str, int] = {}
            for seq in seqs:
                if len(problems) > MAX_PROBLEMS:
                    break
                doc = self._doc_of(seq)
                if doc is None:
                    continue
                if old is not None and doc not in earliest and _sorted_contains(old, h):
                    # Its first holder is before the verified state: matched by keyed hash
                    # (as relations are), not re-read; verify --full names the entry.
                    problems.append(Problem(
                        "duplicate-id",
                        f"entry {seq}: document id {doc!r} reused (an entry before "
                        f"{self.start} holds it; verify --full names it)",
                        seq,
                    ))
                    earliest[doc] = seq
                elif doc in earliest:
                    problems.append(Problem(
                        "duplicate-id",
                        f"entry {seq}: document id {doc!r} reused (entry {earliest[doc]})",
                        seq,
                    ))
                else:
                    earliest[doc] = seq
        # A relation is to a document recorded at or before it. Targets are matched by keyed
        # hash only: a false match needs a 64-bit collision under a key chosen for this run.
        for r in results:
            for seq, target in zip(r.relation_seqs, r.relation_targets, strict=True):
                if first.get(target, seq + 1) <= seq or len(problems) > MAX_PROBLEMS:
                    continue
                if old is not None and _sorted_contains(old, target):
                    continue
                for name in self._relation_targets(seq, target):
                    problems.append(Problem(
                        "relation",
                        f"entry {seq}: relation to unknown earlier document {name!r}",
                        seq,
                    ))
        return problems

    def _sorted_ids(self, results: list[_RangeResult]) -> array[int]:
        """Every document id's keyed hash, sorted (those of the baseline's and the new)."""
        buckets = [array("Q") for _ in range(16)]
        for r in results:
            for h in r.ids:
                if h:
                    buckets[h >> 60].append(h)
        new = array("Q")
        for bucket in buckets:  # sorted bucket by bucket: no list of every id at once
            new.extend(sorted(bucket))
        del buckets
        if self.baseline is None:
            return new
        # The few new ids go between slices of the old: O(new · log n) searches and one copy
        # of the old array in C, and no Python int per old id.
        old = self.baseline.ids
        merged = array("Q")
        at = 0
        for h in new:
            cut = bisect.bisect_left(old, h, at)
            merged.extend(old[at:cut])
            merged.append(h)
            at = cut
        merged.extend(old[at:])
        return merged

    def _entry(self, seq: int) -> Entry | None:
        try:
            start, end = self.a.entry_span(seq)
            return Entry.from_bytes(self.a.store.read_range(ENTRIES, start, end - start)[:-1])
        except OrderArchiveError:
            return None

    def _doc_of(self, seq: int) -> str | None:
        entry = self._entry(seq)
        return entry.doc if entry is not None else None

    def _relation_targets(self, seq: int, target: int) -> list[str]:
        entry = self._entry(seq)
        if entry is None or entry.document is None:
            return []
        names = [r.target for r in entry.document.relations]
        return [n for n in dict.fromkeys(names) if _id_hash(self.key, n) == target]

    # -- the archive's members ------------------------------------------------------------------

    def _check_members(self) -> None:
        """Report every file or directory the format does not name (docs/FORMAT.md §1): a
        leftover of an interrupted writer, or anything else a copy would carry along."""
        try:
            members = self.a.leftovers()  # [] for a store that holds only what it was given
        except OrderArchiveError as e:
            self.problem("storage", str(e))
            return
        for name, is_dir, mine in members:
            if not is_dir and name.startswith(f"{RELEASES}/") and name.count("/") == 1:
                continue  # reported by _check_releases
            what = "directory" if is_dir else "file"
            if mine:
                why = "a leftover of an interrupted write; 'orderarchive repair' removes it"
            else:
                why = "not part of the archive format; remove it by hand if it is not needed"
            self.problem("unknown-file", f"unexpected {what} {name!a} ({why})")

    # -- releases -------------------------------------------------------------------------------

    def _check_releases(self, size: int, latest: int | None) -> list[int]:
        a = self.a
        good: list[int] = []
        previous: dict[int, int | None] = {}
        names = a.store.list(RELEASES)
        for name in names:
            parsed = decimal_size(name.rsplit("/", 1)[-1])
            if parsed is None:
                self.problem("release", f"unexpected file {name!a} among releases")
                continue
            rsize = parsed
            try:
                cp, _ = open_release(a.store.read(name), self.verifiers, origin=a.origin)
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
                matches = self._release_matches(rsize, cp.root_hash)
            except OrderArchiveError as e:
                self.problem("release", f"release {rsize}: cannot compute the tree: {e}")
                continue
            if not matches:
                self.problem(
                    "release", f"release {rsize}: its root is not the log's tree at that size"
                )
                continue
            self._check_keyset_index(cp, f"release {rsize}", rsize)
            try:
                previous[rsize] = previous_release(cp)
            except OrderArchiveError as e:
                self.problem("release", f"release {rsize}: {e}")
                continue
            good.append(rsize)
        self._check_release_chain(names, previous, latest)
        return sorted(good)

    def _release_matches(self, rsize: int, root: bytes) -> bool:
        """Whether *root* is the log's tree at *rsize*. The stored hashes are checked only
        from :attr:`start` on (and the baseline's compact range): an older release is tied
        to the baseline's verified root by a consistency proof, not read from hashes that
        nobody checked since."""
        b = self.baseline
        if b is None or rsize >= self.start or self.start == 0:
            return hmac.compare_digest(self.a.tree_hash(rsize), root)
        if rsize == 0:
            return hmac.compare_digest(merkle.EMPTY_ROOT, root)
        proof = merkle.consistency_proof(rsize, b.size, self.a.read_hashes)
        try:
            merkle.verify_consistency(rsize, b.size, root, b.root, proof)
        except VerificationError:
            return False
        return True

    def _check_keyset_index(self, cp: Checkpoint | None, what: str, size: int) -> None:
        """A signed checkpoint that names key-set positions must name exactly the key-set
        entries below its size that the full read found: the index lets writers and
        verifiers look key sets up, so one left out (a hidden revocation) is a finding. A
        checkpoint that names none is from before the index (or an empty log): its readers
        scan, which hides nothing."""
        try:
            named = keyset_positions(cp)
        except OrderArchiveError as e:
            self.problem("keyset-index", f"{what}: {e}")
            return
        actual = sorted(i for i in self.keysets if i < size)
        if named is not None and list(named) != actual:
            self.problem(
                "keyset-index",
                f"{what} names key-set entries at {list(named)}, but the log holds them at "
                f"{actual}",
            )

    def _check_release_chain(
        self, names: list[str], previous: dict[int, int | None], latest: int | None
    ) -> None:
        """Every release must be on the signed chain latest → previous → … (none deleted)."""
        sizes = (decimal_size(n.rsplit("/", 1)[-1]) for n in names)
        present = {n for n in sizes if n is not None}
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


def _offsets(f: BinaryIO | None, size: int) -> Iterator[int]:
    """The end offsets of entries 0 .. size-1 as stored (fewer if the file is short)."""
    if f is None:
        return
    remaining = size
    while remaining > 0:
        block = f.read(min(remaining, 8192) * OFFSET_SIZE)
        usable = len(block) - len(block) % OFFSET_SIZE
        if not usable:
            return
        values = array("Q")
        values.frombytes(block[:usable])
        if sys.byteorder == "little":
            values.byteswap()  # stored big-endian (docs/FORMAT.md §5)
        yield from values
        remaining -= len(values)
        if usable < len(block):
            return


class _NullCtx:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _maybe_stream(store: Store, name: str) -> Any:
    if store.exists(name):
        return store.stream_record(name)
    return _NullCtx()
