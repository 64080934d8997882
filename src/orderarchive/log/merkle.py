"""RFC 9162 Merkle trees: hashing, proofs, and the Go ``tlog`` stored-hash layout.

The tree is Certificate Transparency's (RFC 6962, restated in RFC 9162 §2.1). Leaves hash as
SHA-256(0x00 || d) and interior nodes as SHA-256(0x01 || left || right), so a leaf can never
pass for a node (the second-preimage attack the prefixes exist to stop).

Writer side. Every hash of the tree lives in one append-only array, in the order of Crosby and
Wallach, "Efficient Data Structures for Tamper-Evident Logging" §3.3, as laid out by Go's
``golang.org/x/mod/sumdb/tlog`` ("stored hash index"). Appending record *n* appends its leaf
hash and the hashes of the perfect subtrees it completes; no stored hash ever changes, so the
array can sit in an append-only file. Roots and proofs for any earlier tree size need only
O(log n) stored hashes, and every operation first computes all the indexes it needs and then
asks its :data:`HashReader` for them in one batched call, as ``tlog`` does; the storage layer
decides how to read them (a file, tiles, memory).

Client side. Proofs are verified as in RFC 9162 §2.1.3.2 and §2.1.4.2, in the formulation of
``transparency-dev/merkle`` (``proof/verify.go``): split the audit path at the level where the
paths to the leaf and to the tree's last leaf part ("inner" below, "border" above). Verifiers
compute a root first, compare it with :func:`hmac.compare_digest` last, and raise on failure.

Sizes and indexes are unsigned 64-bit in every wire format this archive speaks (C2SP
tlog-checkpoint and tlog-tiles), so larger values are refused instead of computed with.

No I/O happens here: stored hashes come in through the :data:`HashReader` callback.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable, Sequence
from typing import Final, TypeAlias

from ..errors import (
    ConsistencyError,
    InclusionError,
    MalformedError,
    OrderArchiveError,
    RootMismatchError,
    StorageError,
)
from ..errors import TreeRangeError as TreeRangeError  # noqa: PLC0414 (defined in errors.py)

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "MAX_TREE_SIZE",
    "HashReader",
    "MemoryHashStore",
    "TreeRangeError",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root_from_inclusion_proof",
    "root_of",
    "split_stored_hash_index",
    "stored_hash_count",
    "stored_hash_index",
    "stored_hashes_for_record",
    "tree_hash",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE: Final = 32

#: The largest tree size (and one past the largest leaf index) accepted anywhere: uint64.
MAX_TREE_SIZE: Final = (1 << 64) - 1

# A tree of at most MAX_TREE_SIZE leaves has perfect subtrees of height 0..63.
_MAX_LEVEL: Final = 63

# The last stored hash of the largest tree: 2 * MAX_TREE_SIZE - popcount(MAX_TREE_SIZE) - 1.
_MAX_STORED_INDEX: Final = 2 * MAX_TREE_SIZE - 64 - 1

#: MTH({}) = SHA-256() (RFC 9162 §2.1.1). Go's tlog.TreeHash returns all zeros for the empty
#: tree instead; checkpoints and every RFC verifier use this value.
EMPTY_ROOT: Final = hashlib.sha256(b"").digest()

#: Given stored-hash indexes, returns those hashes in the same order (one batched read).
#: Mirrors ``tlog.HashReader``; the indexes are what :func:`stored_hash_index` computes.
HashReader: TypeAlias = Callable[[Sequence[int]], Sequence[bytes]]


# -- hashing (RFC 9162 §2.1.1) ------------------------------------------------------------------


def leaf_hash(data: bytes) -> bytes:
    """The leaf hash of one entry: SHA-256(0x00 || data)."""
    h = hashlib.sha256(b"\x00")
    h.update(data)
    return h.digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """The hash of an interior node: SHA-256(0x01 || left || right)."""
    # Both children must be exactly HASH_SIZE bytes: with variable lengths (a, bc) and (ab, c)
    # would hash alike, and a proof could move bytes across the boundary unnoticed.
    if len(left) != HASH_SIZE or len(right) != HASH_SIZE:
        raise MalformedError(
            f"node children must be {HASH_SIZE}-byte hashes, got {len(left)} and {len(right)} bytes"
        )
    return hashlib.sha256(b"\x01" + left + right).digest()


def root_of(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH over a list of leaf hashes held in memory (RFC 9162 §2.1.1), in O(n) hashes."""
    # A stack of perfect-subtree roots, merged as they complete: the same subtrees the stored
    # layout keeps. At the end the stack is the binary decomposition of n, largest first, and
    # MTH folds it from the right.
    stack: list[tuple[int, bytes]] = []
    for i, leaf in enumerate(leaf_hashes):
        h = _as_hash(leaf, f"leaf hash {i}", MalformedError)
        level = 0
        while stack and stack[-1][0] == level:
            h = node_hash(stack.pop()[1], h)
            level += 1
        stack.append((level, h))
    return _fold_right([h for _, h in stack]) if stack else EMPTY_ROOT


# -- the stored-hash layout (Go tlog; Crosby & Wallach §3.3) -----------------------------------


def stored_hash_index(level: int, n: int) -> int:
    """Position in the stored-hash array of the *n*-th hash at height *level*.

    Height 0 holds leaf hashes; the node (level, n) covers records
    ``n * 2**level .. (n + 1) * 2**level - 1``.
    """
    _int(level, "level", TreeRangeError, high=_MAX_LEVEL)
    _int(n, "node number", TreeRangeError)
    if (n + 1) << level > MAX_TREE_SIZE:
        raise TreeRangeError(f"node ({level}, {_show(n)}) lies beyond the largest tree size")
    return _index(level, n)


def stored_hash_count(n: int) -> int:
    """The number of stored hashes of a tree of *n* records."""
    _int(n, "tree size", TreeRangeError)
    # Record r adds 1 + (trailing one bits of r) hashes; summed over r < n that is
    # n + (n - popcount(n)) (Legendre's formula). tlog.StoredHashCount counts it in a loop.
    return _count(n)


def split_stored_hash_index(index: int) -> tuple[int, int]:
    """The inverse of :func:`stored_hash_index`: ``(level, n)`` of a stored-hash position."""
    _int(index, "stored-hash index", TreeRangeError, high=_MAX_STORED_INDEX)
    # Find the record r whose append wrote this hash: the last r with
    # stored_hash_count(r) <= index. count(r) = 2r - popcount(r) lies in [2r - 64, 2r], so r is
    # at most ~32 steps above index // 2 (the same bracket tlog.SplitStoredHashIndex walks).
    record = index // 2
    while _count(record + 1) <= index:
        record += 1
    level = index - _count(record)
    return level, record >> level


def stored_hashes_for_record(n: int, leaf: bytes, read: HashReader) -> list[bytes]:
    """The hashes to append to the stored-hash array when adding record *n* with hash *leaf*.

    They are the leaf hash, then one hash per perfect subtree that record *n* completes (one per
    trailing 1 bit of *n*), each combining a stored left sibling with the previous new hash. The
    siblings are read in one call, in increasing index order. Mirrors
    ``tlog.StoredHashesForRecordHash``.
    """
    _int(n, "record number", TreeRangeError, high=MAX_TREE_SIZE - 1)
    h = _as_hash(leaf, "leaf hash", MalformedError)
    completed = (n ^ (n + 1)).bit_length() - 1
    if not completed:
        return [h]
    # At height l the completed node's left child is (l, (n >> l) - 1); n >> l is odd there.
    siblings = _read(
        read, [_index(level, (n >> level) - 1) for level in reversed(range(completed))]
    )
    hashes = [h]
    for left in reversed(siblings):
        h = node_hash(left, h)
        hashes.append(h)
    return hashes


def tree_hash(size: int, read: HashReader) -> bytes:
    """The root of the tree of the first *size* records, from at most 64 stored hashes.

    The tree splits into the perfect subtrees of the binary decomposition of *size*; each is one
    stored hash, and the root folds them from the right (RFC 9162 §2.1.1). One read call.
    """
    _int(size, "tree size", TreeRangeError)
    if size == 0:
        return EMPTY_ROOT
    return _fold_right(_read(read, _subtree_indexes(0, size)))


# -- proofs (RFC 9162 §2.1.3.1, §2.1.4.1) -------------------------------------------------------


def inclusion_proof(index: int, size: int, read: HashReader) -> list[bytes]:
    """The audit path PATH(index, D[size]) of RFC 9162 §2.1.3.1, lowest level first."""
    _int(size, "tree size", TreeRangeError)
    _int(index, "leaf index", TreeRangeError)
    if index >= size:
        raise TreeRangeError(f"leaf index {index} is not in a tree of size {size}")
    # Walk from the root towards the leaf, keeping the subtree not taken at each split
    # (k = the largest power of two below the subtree's size).
    siblings: list[tuple[int, int]] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            siblings.append((lo + k, hi))
            hi = lo + k
        else:
            siblings.append((lo, lo + k))
            lo += k
    siblings.reverse()
    return _subtree_hashes(siblings, read)


def consistency_proof(size1: int, size2: int, read: HashReader) -> list[bytes]:
    """The consistency proof PROOF(size1, D[size2]) of RFC 9162 §2.1.4.1.

    ``size1 == size2`` gives the empty proof. ``size1 == 0`` is refused: every tree extends the
    empty one, so there is nothing to prove (``tlog.ProveTree`` refuses it too).
    """
    _int(size2, "tree size", TreeRangeError)
    _int(size1, "old tree size", TreeRangeError, high=size2)
    if size1 == 0:
        raise TreeRangeError("no consistency proof from the empty tree")
    # SUBPROOF(m, D[lo:hi], b), unrolled: descend towards the old tree's last leaf, keeping the
    # subtree not taken. b stays true until the walk first goes right (lo > 0); if it ended with
    # b false, the old tree's final subtree D[lo:size1] is a node of the new tree and is sent too.
    subtrees: list[tuple[int, int]] = []
    lo, hi = 0, size2
    while hi != size1:
        k = _split(hi - lo)
        if size1 <= lo + k:
            subtrees.append((lo + k, hi))
            hi = lo + k
        else:
            subtrees.append((lo, lo + k))
            lo += k
    if lo != 0:
        subtrees.append((lo, hi))
    subtrees.reverse()
    return _subtree_hashes(subtrees, read)


# -- verification (RFC 9162 §2.1.3.2, §2.1.4.2) -------------------------------------------------


def root_from_inclusion_proof(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """The root that *proof* implies for *leaf* at *index* in a tree of *size* leaves.

    Raises :class:`InclusionError` if the inputs or the proof's shape are wrong; the caller
    compares the result with a trusted root (or use :func:`verify_inclusion`).
    """
    _int(size, "tree size", InclusionError)
    _int(index, "leaf index", InclusionError)
    if index >= size:
        raise InclusionError(f"leaf index {index} is not in a tree of size {size}")
    h = _as_hash(leaf, "leaf hash", InclusionError)
    path = _proof_hashes(proof, InclusionError)
    inner, border = _decompose(index, size)
    if len(path) != inner + border:
        raise InclusionError(
            f"inclusion proof for leaf {index} of a tree of size {size} must have "
            f"{inner + border} hashes, got {len(path)}"
        )
    # Below the split, the leaf index's bits say on which side each sibling sits (RFC 9162
    # §2.1.3.2 step 4b); above it, on the right border, every sibling is a left one.
    h = _chain_inner(h, path[:inner], index)
    return _chain_left(h, path[inner:])


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that *leaf* is at *index* in the tree of *size* leaves with root *root*.

    Raises :class:`InclusionError` for a malformed request or proof and
    :class:`~orderarchive.errors.RootMismatchError` if the proof leads elsewhere.
    """
    calculated = root_from_inclusion_proof(index, size, leaf, proof)
    _match(calculated, root, "inclusion proof", InclusionError)


def verify_consistency(
    size1: int, size2: int, root1: bytes, root2: bytes, proof: Sequence[bytes]
) -> None:
    """Check that the tree of *size2* leaves with *root2* extends the tree *size1*/*root1*.

    Follows transparency-dev/merkle's policy at the edges: ``size1 == 0`` is always an error (a
    proof from the empty tree proves nothing, so asking for one is a mistake), and equal sizes
    need an empty proof and byte-equal roots. Raises :class:`ConsistencyError` for a malformed
    request or proof and :class:`~orderarchive.errors.RootMismatchError` if a root differs.
    """
    _int(size2, "new tree size", ConsistencyError)
    _int(size1, "old tree size", ConsistencyError)
    if size1 > size2:
        raise ConsistencyError(f"old tree size {size1} is larger than new tree size {size2}")
    if size1 == 0:
        raise ConsistencyError("a consistency proof from the empty tree proves nothing")
    path = _proof_hashes(proof, ConsistencyError)
    if size1 == size2:
        if path:
            raise ConsistencyError(f"equal tree sizes need an empty proof, got {len(path)} hashes")
        # Only byte equality is checked here, whatever the roots' length: transparency-dev's
        # probe "sizes-are-equal-one-and-proof-is-empty" expects success for 6-byte roots.
        if not isinstance(root1, (bytes, bytearray, memoryview)):
            raise ConsistencyError(f"old root must be bytes, not {type(root1).__name__}")
        _match(bytes(root1), root2, "roots of equal-size trees", ConsistencyError)
        return
    hash1, hash2 = _roots_from_consistency_proof(size1, size2, root1, path)
    _match(hash1, root1, "consistency proof, old root", ConsistencyError)
    _match(hash2, root2, "consistency proof, new root", ConsistencyError)


def _roots_from_consistency_proof(
    size1: int, size2: int, root1: bytes, path: list[bytes]
) -> tuple[bytes, bytes]:
    # RFC 9162 §2.1.4.2 as transparency-dev restates it: the proof is the inclusion path of leaf
    # size1 - 1 in the new tree, cut below the level `shift` where the old tree's last perfect
    # subtree sits, and prefixed with that subtree's hash unless it is the whole old tree
    # (size1 a power of two, RFC step 2), whose hash the verifier already holds as root1.
    inner, border = _decompose(size1 - 1, size2)
    shift = _trailing_zeros(size1)
    inner -= shift  # size1 < size2 makes shift < inner
    start = 0 if size1 == 1 << shift else 1
    if len(path) != start + inner + border:
        raise ConsistencyError(
            f"consistency proof from size {size1} to size {size2} must have "
            f"{start + inner + border} hashes, got {len(path)}"
        )
    seed = path[0] if start else _as_hash(root1, "old root", ConsistencyError)
    inner_path, border_path = path[start : start + inner], path[start + inner :]
    mask = (size1 - 1) >> shift
    # The old root uses only the left siblings (the right ones were not yet in the old tree);
    # the new root uses all of them.
    hash1 = _chain_left(seed, [p for i, p in enumerate(inner_path) if (mask >> i) & 1])
    hash1 = _chain_left(hash1, border_path)
    hash2 = _chain_inner(seed, inner_path, mask)
    hash2 = _chain_left(hash2, border_path)
    return hash1, hash2


# -- in-memory stored hashes ------------------------------------------------------------------


class MemoryHashStore:
    """A tree's stored hashes in a list, in tlog order: a test double and a scratch tree.

    ``store.read`` is a :data:`HashReader`, so ``tree_hash(store.size, store.read)`` and the
    proof functions work on it as on any file-backed store.
    """

    __slots__ = ("_hashes", "_size")

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        self._hashes: list[bytes] = []
        self._size = 0
        for leaf in leaf_hashes:
            self.append_record(leaf)

    @property
    def size(self) -> int:
        """The number of records."""
        return self._size

    @property
    def hashes(self) -> tuple[bytes, ...]:
        """Every stored hash, in stored-hash index order."""
        return tuple(self._hashes)

    def append_record(self, leaf_hash: bytes) -> list[bytes]:
        """Add the next record by its leaf hash; returns the stored hashes it appended."""
        new = stored_hashes_for_record(self._size, leaf_hash, self.read)
        self._hashes.extend(new)
        self._size += 1
        return new

    def read(self, indexes: Sequence[int]) -> list[bytes]:
        """The stored hashes at *indexes* (a :data:`HashReader`)."""
        count = len(self._hashes)
        out: list[bytes] = []
        for i in indexes:
            # Checked explicitly: a negative index must not wrap around to the list's end.
            _int(i, "stored-hash index", TreeRangeError, high=_MAX_STORED_INDEX)
            if i >= count:
                raise TreeRangeError(f"stored hash {i} is not in this store of {count} hashes")
            out.append(self._hashes[i])
        return out


# -- internals --------------------------------------------------------------------------------


def _show(value: int) -> str:
    # str() of an int over 4300 digits raises ValueError; hostile sizes must not get that far.
    return str(value) if value.bit_length() <= 128 else f"<{value.bit_length()}-bit integer>"


def _int(
    value: object,
    what: str,
    error: type[OrderArchiveError],
    *,
    high: int = MAX_TREE_SIZE,
) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise error(f"{what} must be an integer, not {type(value).__name__}")
    if value < 0:
        raise error(f"{what} {_show(value)} is negative")
    if value > high:
        raise error(f"{what} {_show(value)} is larger than {high}")
    return value


def _as_hash(value: object, what: str, error: type[OrderArchiveError]) -> bytes:
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise error(f"{what} must be bytes, not {type(value).__name__}")
    data = value if type(value) is bytes else bytes(value)
    if len(data) != HASH_SIZE:
        raise error(f"{what} must be {HASH_SIZE} bytes, got {len(data)}")
    return data


def _proof_hashes(proof: Sequence[bytes], error: type[OrderArchiveError]) -> list[bytes]:
    return [_as_hash(p, f"proof hash {i}", error) for i, p in enumerate(proof)]


def _match(calculated: bytes, expected: bytes, what: str, error: type[OrderArchiveError]) -> None:
    if not isinstance(expected, (bytes, bytearray, memoryview)):
        raise error(f"{what}: the root must be bytes, not {type(expected).__name__}")
    expected = bytes(expected)
    if not hmac.compare_digest(calculated, expected):
        raise RootMismatchError(f"{what} does not match", expected=expected, actual=calculated)


def _index(level: int, n: int) -> int:
    # tlog.StoredHashIndex moves (level, n) down to the last leaf under the node,
    # m = ((n + 1) << level) - 1, and returns m + m/2 + m/4 + ... + level. That sum is
    # 2m - popcount(m) (Legendre's formula), and popcount(m) = popcount(n) + level.
    return ((n + 1) << (level + 1)) - 2 - n.bit_count()


def _count(n: int) -> int:
    return 2 * n - n.bit_count()


def _split(n: int) -> int:
    # RFC 9162 §2.1.1: k is the largest power of two smaller than n (n > 1).
    return 1 << ((n - 1).bit_length() - 1)


def _trailing_zeros(n: int) -> int:
    return (n & -n).bit_length() - 1


def _decompose(index: int, size: int) -> tuple[int, int]:
    # transparency-dev's decompInclProof: `inner` is the height at which the paths to leaves
    # `index` and `size - 1` meet; above it the path runs along the right border, where a
    # sibling exists only for each 1 bit of index >> inner.
    inner = (index ^ (size - 1)).bit_length()
    return inner, (index >> inner).bit_count()


def _chain_inner(seed: bytes, path: Sequence[bytes], index: int) -> bytes:
    for i, sibling in enumerate(path):
        seed = node_hash(sibling, seed) if (index >> i) & 1 else node_hash(seed, sibling)
    return seed


def _chain_left(seed: bytes, path: Iterable[bytes]) -> bytes:
    for sibling in path:
        seed = node_hash(sibling, seed)
    return seed


def _fold_right(hashes: Sequence[bytes]) -> bytes:
    # MTH(D[lo:hi]) = HASH(0x01 || MTH(first perfect subtree) || MTH(rest)), so the hashes of
    # the perfect subtrees, left to right, combine from the right.
    h = hashes[-1]
    for left in reversed(hashes[:-1]):
        h = node_hash(left, h)
    return h


def _subtree_indexes(lo: int, hi: int) -> list[int]:
    # The stored hashes making up D[lo:hi]: its largest aligned perfect subtrees, left to right
    # (tlog's subTreeIndex). Every range the proofs ask for starts at a multiple of a power of
    # two at least as large as the range, so each piece is aligned and hence stored.
    indexes: list[int] = []
    while lo < hi:
        level = (hi - lo).bit_length() - 1
        indexes.append(_index(level, lo >> level))
        lo += 1 << level
    return indexes


def _subtree_hashes(ranges: Sequence[tuple[int, int]], read: HashReader) -> list[bytes]:
    # All pieces of all ranges in one read, then each range folded from its pieces.
    groups = [_subtree_indexes(lo, hi) for lo, hi in ranges]
    hashes = _read(read, [i for group in groups for i in group])
    out: list[bytes] = []
    pos = 0
    for group in groups:
        out.append(_fold_right(hashes[pos : pos + len(group)]))
        pos += len(group)
    return out


def _read(read: HashReader, indexes: list[int]) -> list[bytes]:
    if not indexes:
        return []
    hashes = list(read(indexes))
    # A store that answers with the wrong number or shape of hashes is corrupt or buggy; a
    # short answer must not silently shift every later hash into the wrong place.
    if len(hashes) != len(indexes):
        raise StorageError(f"asked the store for {len(indexes)} hashes, got {len(hashes)}")
    return [
        _as_hash(h, f"stored hash {i}", StorageError) for i, h in zip(indexes, hashes, strict=True)
    ]


# -- compact ranges (transparency-dev/merkle compact.Range) -------------------------------------


def compact_append(size: int, frontier: Sequence[bytes], leaves: Iterable[bytes]) -> list[bytes]:
    """The compact range of the tree of *size* leaves extended by *leaves* (their leaf hashes).

    A tree's compact range is the list of its perfect-subtree roots along the binary
    decomposition of its size, largest first: O(log n) hashes from which the root of the tree
    and of every extension can be computed without the tree's other nodes (transparency-dev's
    ``compact.Range``). The derived index keeps it, so that bringing the index up to date needs
    only the new leaves, and nothing the archive stores but the signed checkpoint is trusted.
    """
    if size < 0 or len(frontier) != size.bit_count():
        raise MalformedError(f"a compact range of size {size} has {size.bit_count()} hashes")
    stack = [_as_hash(h, "compact range hash", MalformedError) for h in frontier]
    n = size
    for leaf in leaves:
        h = _as_hash(leaf, f"leaf hash {n}", MalformedError)
        k = n
        while k & 1:
            h = node_hash(stack.pop(), h)
            k >>= 1
        stack.append(h)
        n += 1
    return stack


def compact_root(frontier: Sequence[bytes]) -> bytes:
    """MTH of the tree whose compact range is *frontier* (RFC 9162 §2.1.1)."""
    return _fold_right(frontier) if frontier else EMPTY_ROOT
