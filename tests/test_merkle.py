"""Tests for orderarchive.log.merkle.

* Conformance: the 196 transparency-dev/merkle probes and the CT reference tree
  (tests/data/vectors, copied from their upstreams: tests/data/README.md), and the project's
  static log of 300 entries with its tiles.
* An oracle written straight from RFC 9162 §2.1 (recursive MTH, PATH, SUBPROOF) against which
  every proof of every tree up to 64 leaves is compared, then verified, then mutated.
* Virtual trees of up to 2**64 - 1 identical leaves, to exercise the 64-bit edge without
  building anything.
* Every public function fed hostile input raises an OrderArchiveError, never a foreign error.
"""

from __future__ import annotations

import ast
import base64
import functools
import hashlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orderarchive.errors import (
    ConsistencyError,
    InclusionError,
    MalformedError,
    NotFoundError,
    OrderArchiveError,
    RootMismatchError,
    StorageError,
)
from orderarchive.log import merkle
from orderarchive.log.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    MAX_TREE_SIZE,
    MemoryHashStore,
    TreeRangeError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_from_inclusion_proof,
    root_of,
    split_stored_hash_index,
    stored_hash_count,
    stored_hash_index,
    stored_hashes_for_record,
    tree_hash,
    verify_consistency,
    verify_inclusion,
)

VECTORS = Path(__file__).resolve().parent / "data" / "vectors"  # see tests/data/README.md
TDEV = VECTORS / "transparency-dev-merkle"
STATIC = VECTORS / "static-log-300"

PROPS = settings(max_examples=300, deadline=None, database=None)

BAD_INCLUSION = (InclusionError, RootMismatchError)
BAD_CONSISTENCY = (ConsistencyError, RootMismatchError)


def need(path: Path) -> Path:
    """Fail (never skip) when a vector the repository carries is missing."""
    if not path.exists():
        pytest.fail(f"test vectors missing: {path} (tests/data is part of the repository)")
    return path


def b64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def flip(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


# -- an oracle from the RFC's own recursive definitions (RFC 9162 §2.1.1, §2.1.3.1, §2.1.4.1) ---

N = 64
LEAVES = [leaf_hash(b"leaf %d" % i) for i in range(N)]
STORE = MemoryHashStore(LEAVES)
ROOTS = [root_of(LEAVES[:n]) for n in range(N + 1)]


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


@functools.cache
def rfc_mth(lo: int, hi: int) -> bytes:
    if hi == lo:
        return hashlib.sha256(b"").digest()
    if hi - lo == 1:
        return LEAVES[lo]
    k = _k(hi - lo)
    return hashlib.sha256(b"\x01" + rfc_mth(lo, lo + k) + rfc_mth(lo + k, hi)).digest()


def rfc_path(m: int, lo: int, hi: int) -> list[bytes]:
    if hi - lo == 1:
        return []
    k = _k(hi - lo)
    if m < k:
        return [*rfc_path(m, lo, lo + k), rfc_mth(lo + k, hi)]
    return [*rfc_path(m - k, lo + k, hi), rfc_mth(lo, lo + k)]


def rfc_subproof(m: int, lo: int, hi: int, b: bool) -> list[bytes]:
    if m == hi - lo:
        return [] if b else [rfc_mth(lo, hi)]
    k = _k(hi - lo)
    if m <= k:
        return [*rfc_subproof(m, lo, lo + k, b), rfc_mth(lo + k, hi)]
    return [*rfc_subproof(m - k, lo + k, hi, False), rfc_mth(lo, lo + k)]


def counting(read: merkle.HashReader) -> tuple[merkle.HashReader, list[list[int]]]:
    calls: list[list[int]] = []

    def wrapped(indexes: Sequence[int]) -> Sequence[bytes]:
        calls.append(list(indexes))
        return read(indexes)

    return wrapped, calls


# -- primitives and the reference tree ---------------------------------------------------------


def test_hash_primitives() -> None:
    assert HASH_SIZE == 32
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    a, b = leaf_hash(b"a"), leaf_hash(b"b")
    assert node_hash(a, b) == hashlib.sha256(b"\x01" + a + b).digest()
    assert node_hash(a, b) != node_hash(b, a)
    assert root_of([]) == EMPTY_ROOT
    assert root_of([a]) == a
    assert tree_hash(0, MemoryHashStore().read) == EMPTY_ROOT


def test_reference_tree() -> None:
    ref = json.loads(need(TDEV / "reference-tree.json").read_text("utf-8"))
    inputs = [bytes.fromhex(h) for h in ref["leaf_inputs_hex"]]
    leaves = [leaf_hash(d) for d in inputs]
    assert [h.hex() for h in leaves] == ref["leaf_hashes_hex"]
    store = MemoryHashStore(leaves)
    assert store.size == 8
    assert len(store.hashes) == stored_hash_count(8) == 15
    for size, want in enumerate(ref["root_hashes_hex_by_size"]):
        assert root_of(leaves[:size]).hex() == want
        assert tree_hash(size, store.read).hex() == want


def test_reference_tree_happy_proofs_match_ours() -> None:
    """The probes' happy-path proofs are on the reference tree; our prover must emit them."""
    ref = json.loads(need(TDEV / "reference-tree.json").read_text("utf-8"))
    store = MemoryHashStore(bytes.fromhex(h) for h in ref["leaf_hashes_hex"])
    for i in range(5):
        v = json.loads((TDEV / f"testdata/inclusion/{i}/happy-path.json").read_text("utf-8"))
        want = [b64(p) for p in v["proof"] or []]
        assert inclusion_proof(v["leafIdx"], v["treeSize"], store.read) == want
        v = json.loads((TDEV / f"testdata/consistency/{i}/happy-path.json").read_text("utf-8"))
        want = [b64(p) for p in v["proof"] or []]
        assert consistency_proof(v["size1"], v["size2"], store.read) == want


# -- transparency-dev/merkle conformance probes -----------------------------------------------


def _probe_params(kind: str) -> list[Any]:
    folder = TDEV / "testdata" / kind
    files = sorted(folder.rglob("*.json")) if folder.is_dir() else []
    if not files:
        # One failing test instead of an empty (and so silently skipped) parameter set.
        return [pytest.param(None, id=f"MISSING:{folder}")]
    return [pytest.param(f, id=f.relative_to(folder).as_posix()) for f in files]


def _probe(path: Path | None) -> dict[str, Any]:
    if path is None:
        pytest.fail(f"transparency-dev vectors missing under {TDEV}")
    probe: dict[str, Any] = json.loads(path.read_text("utf-8"))
    return probe


def test_probe_suite_is_complete() -> None:
    for kind in ("inclusion", "consistency"):
        assert len(list(need(TDEV / "testdata" / kind).rglob("*.json"))) == 98, kind


@pytest.mark.parametrize("path", _probe_params("inclusion"))
def test_inclusion_probe(path: Path | None) -> None:
    v = _probe(path)
    args = (v["leafIdx"], v["treeSize"], b64(v["leafHash"]), [b64(p) for p in v["proof"] or []])
    root = b64(v["root"])
    if v["wantErr"]:
        with pytest.raises(BAD_INCLUSION):
            verify_inclusion(*args, root)
    else:
        verify_inclusion(*args, root)
        assert root_from_inclusion_proof(*args) == root


@pytest.mark.parametrize("path", _probe_params("consistency"))
def test_consistency_probe(path: Path | None) -> None:
    v = _probe(path)
    args = (v["size1"], v["size2"], b64(v["root1"]), b64(v["root2"]))
    proof = [b64(p) for p in v["proof"] or []]
    if v["wantErr"]:
        with pytest.raises(BAD_CONSISTENCY):
            verify_consistency(*args, proof)
    else:
        verify_consistency(*args, proof)


# -- the project's static log (C2SP tlog-tiles, 300 entries) ----------------------------------


def _bundle(data: bytes) -> list[bytes]:
    entries, pos = [], 0
    while pos < len(data):
        length = int.from_bytes(data[pos : pos + 2], "big")
        entries.append(data[pos + 2 : pos + 2 + length])
        pos += 2 + length
    return entries


@pytest.fixture(scope="module")
def static_log() -> tuple[dict[str, Any], list[bytes], MemoryHashStore]:
    expected = json.loads(need(STATIC / "expected.json").read_text("utf-8"))
    entries = _bundle((STATIC / "tile/entries/000").read_bytes())
    entries += _bundle((STATIC / "tile/entries/001.p/44").read_bytes())
    leaves = [leaf_hash(e) for e in entries]
    return expected, leaves, MemoryHashStore(leaves)


def test_static_log_entries_include_the_newline(
    static_log: tuple[dict[str, Any], list[bytes], MemoryHashStore],
) -> None:
    expected, leaves, _ = static_log
    entries = [f"orderarchive test entry {i}\n".encode() for i in range(expected["tree_size"])]
    assert leaves == [leaf_hash(e) for e in entries]


def test_static_log_roots(static_log: tuple[dict[str, Any], list[bytes], MemoryHashStore]) -> None:
    expected, leaves, store = static_log
    assert store.size == expected["tree_size"] == 300
    for size, want in expected["roots_b64_by_size"].items():
        assert tree_hash(int(size), store.read) == b64(want), size
        assert root_of(leaves[: int(size)]) == b64(want), size
    root = tree_hash(300, store.read)
    assert root == b64(expected["root_b64"])
    origin, size, root_line = (STATIC / "checkpoint").read_text("utf-8").splitlines()[:3]
    assert (origin, size, b64(root_line)) == (expected["origin"], "300", root)


def test_static_log_consistency_8_to_300(
    static_log: tuple[dict[str, Any], list[bytes], MemoryHashStore],
) -> None:
    expected, _, store = static_log
    want = [b64(p) for p in expected["consistency_proof_8_to_300_b64"]]
    assert consistency_proof(8, 300, store.read) == want
    roots = expected["roots_b64_by_size"]
    verify_consistency(8, 300, b64(roots["8"]), b64(roots["300"]), want)


def test_static_log_tiles(static_log: tuple[dict[str, Any], list[bytes], MemoryHashStore]) -> None:
    expected, leaves, store = static_log
    assert (STATIC / "tile/0/000").read_bytes() == b"".join(leaves[:256])
    assert (STATIC / "tile/0/001.p/44").read_bytes() == b"".join(leaves[256:300])
    # The level-1 tile's first hash is the level-8 node over records 0..255.
    level8 = store.read([stored_hash_index(8, 0)])[0]
    assert (STATIC / "tile/1/000.p/1").read_bytes() == level8
    assert level8 == b64(expected["roots_b64_by_size"]["256"])
    # Tiles hold the level-0 stored hashes, which are the leaf hashes at their stored positions.
    assert store.read([stored_hash_index(0, i) for i in range(300)]) == leaves


# -- the stored-hash layout -------------------------------------------------------------------


def test_stored_layout_matches_the_append_order() -> None:
    """Positions follow from appending: record r writes (0, r), then (l, r >> l) per trailing 1."""
    leaves = [leaf_hash(b"%d" % i) for i in range(1100)]
    store = MemoryHashStore()
    positions: list[tuple[int, int]] = []
    for r, leaf in enumerate(leaves):
        assert stored_hash_index(0, r) == len(store.hashes) == stored_hash_count(r)
        new = store.append_record(leaf)
        positions.append((0, r))
        level = 1
        while (r >> (level - 1)) & 1:
            positions.append((level, r >> level))
            level += 1
        assert len(new) == level
        assert len(store.hashes) == len(positions) == stored_hash_count(r + 1)
    for index, (level, n) in enumerate(positions):
        assert stored_hash_index(level, n) == index
        assert split_stored_hash_index(index) == (level, n)
        # ... and each stored hash is the MTH of the records it covers.
        assert store.hashes[index] == root_of(leaves[n << level : (n + 1) << level])


def _go_stored_hash_index(level: int, n: int) -> int:
    # Literal reading of tlog's definition: move down to the level-0 ordering, where record m
    # sits at m + m/2 + m/4 + ..., then add back the level.
    for _ in range(level):
        n = 2 * n + 1
    i = 0
    while n > 0:
        i += n
        n >>= 1
    return i + level


@PROPS
@given(st.data())
def test_stored_hash_index_closed_form(data: st.DataObject) -> None:
    level = data.draw(st.integers(0, 63))
    n = data.draw(st.integers(0, (MAX_TREE_SIZE >> level) - 1))
    index = stored_hash_index(level, n)
    assert index == _go_stored_hash_index(level, n)
    assert split_stored_hash_index(index) == (level, n)


@PROPS
@given(st.integers(0, stored_hash_count(MAX_TREE_SIZE) - 1))
def test_split_stored_hash_index_roundtrip(index: int) -> None:
    level, n = split_stored_hash_index(index)
    assert stored_hash_index(level, n) == index


def test_stored_layout_at_64_bits() -> None:
    assert stored_hash_count(MAX_TREE_SIZE) == 2 * MAX_TREE_SIZE - 64
    last = stored_hash_count(MAX_TREE_SIZE) - 1
    assert split_stored_hash_index(last) == (0, MAX_TREE_SIZE - 1)
    assert stored_hash_index(63, 0) == stored_hash_count(1 << 63) - 1
    assert stored_hash_index(63, 0) == _go_stored_hash_index(63, 0)


# -- every proof of every tree up to 64 leaves ------------------------------------------------

INCLUSION_CASES = [(i, n) for n in range(1, N + 1) for i in range(n)]
CONSISTENCY_CASES = [(m, n) for n in range(1, N + 1) for m in range(1, n + 1)]


def test_tree_hash_and_root_of_agree_with_the_rfc() -> None:
    for n in range(N + 1):
        assert tree_hash(n, STORE.read) == ROOTS[n] == rfc_mth(0, n)


def test_every_inclusion_proof_up_to_64() -> None:
    for i, n in INCLUSION_CASES:
        proof = inclusion_proof(i, n, STORE.read)
        assert proof == rfc_path(i, 0, n), (i, n)
        assert root_from_inclusion_proof(i, n, LEAVES[i], proof) == ROOTS[n]
        verify_inclusion(i, n, LEAVES[i], proof, ROOTS[n])


def test_every_consistency_proof_up_to_64() -> None:
    for m, n in CONSISTENCY_CASES:
        proof = consistency_proof(m, n, STORE.read)
        assert proof == rfc_subproof(m, 0, n, True), (m, n)
        verify_consistency(m, n, ROOTS[m], ROOTS[n], proof)


def test_inclusion_proof_fails_for_any_other_index_size_or_leaf() -> None:
    for i, n in INCLUSION_CASES:
        proof = inclusion_proof(i, n, STORE.read)
        for other in range(n):
            if other != i:
                with pytest.raises(BAD_INCLUSION):
                    verify_inclusion(other, n, LEAVES[i], proof, ROOTS[n])
        for size in range(i + 1, N + 1):
            if size != n:
                with pytest.raises(BAD_INCLUSION):
                    verify_inclusion(i, size, LEAVES[i], proof, ROOTS[size])
        with pytest.raises(BAD_INCLUSION):
            verify_inclusion(i, n, LEAVES[i - 1], proof, ROOTS[n])  # another leaf
        if proof:
            with pytest.raises(InclusionError):
                verify_inclusion(i, n, LEAVES[i], proof[:-1], ROOTS[n])
            with pytest.raises(InclusionError):
                verify_inclusion(i, n, LEAVES[i], proof[1:], ROOTS[n])
        with pytest.raises(InclusionError):
            verify_inclusion(i, n, LEAVES[i], [*proof, ROOTS[n]], ROOTS[n])
        with pytest.raises(InclusionError):
            verify_inclusion(i, n, LEAVES[i], [LEAVES[i], *proof], ROOTS[n])


def test_consistency_proof_fails_for_any_other_size_or_length() -> None:
    for m, n in CONSISTENCY_CASES:
        proof = consistency_proof(m, n, STORE.read)
        for size1 in range(1, n + 1):
            if size1 != m:
                with pytest.raises(BAD_CONSISTENCY):
                    verify_consistency(size1, n, ROOTS[size1], ROOTS[n], proof)
        for size2 in range(m, N + 1):
            if size2 != n:
                with pytest.raises(BAD_CONSISTENCY):
                    verify_consistency(m, size2, ROOTS[m], ROOTS[size2], proof)
        with pytest.raises(BAD_CONSISTENCY):
            verify_consistency(m, n, ROOTS[m], ROOTS[n], [*proof, ROOTS[n]])
        with pytest.raises(BAD_CONSISTENCY):
            verify_consistency(m, n, ROOTS[m], ROOTS[n], [ROOTS[m], *proof])
        if proof:
            with pytest.raises(BAD_CONSISTENCY):
                verify_consistency(m, n, ROOTS[m], ROOTS[n], proof[:-1])
            with pytest.raises(BAD_CONSISTENCY):
                verify_consistency(m, n, ROOTS[m], ROOTS[n], proof[1:])
            with pytest.raises(RootMismatchError):
                verify_consistency(m, n, ROOTS[n], ROOTS[m], proof)


def test_every_bit_flip_fails_in_small_trees() -> None:
    for i, n in INCLUSION_CASES:
        if n > 10:
            break
        proof = inclusion_proof(i, n, STORE.read)
        for k in range(len(proof)):
            for bit in range(8 * HASH_SIZE):
                bad = [*proof[:k], flip(proof[k], bit), *proof[k + 1 :]]
                with pytest.raises(RootMismatchError):
                    verify_inclusion(i, n, LEAVES[i], bad, ROOTS[n])
    for m, n in CONSISTENCY_CASES:
        if n > 10:
            break
        proof = consistency_proof(m, n, STORE.read)
        for k in range(len(proof)):
            for bit in range(8 * HASH_SIZE):
                bad = [*proof[:k], flip(proof[k], bit), *proof[k + 1 :]]
                with pytest.raises(RootMismatchError):
                    verify_consistency(m, n, ROOTS[m], ROOTS[n], bad)


@PROPS
@given(st.sampled_from(INCLUSION_CASES), st.data())
def test_inclusion_bit_flip(case: tuple[int, int], data: st.DataObject) -> None:
    i, n = case
    proof = inclusion_proof(i, n, STORE.read)
    bit = data.draw(st.integers(0, 8 * HASH_SIZE - 1))
    target = data.draw(st.integers(-2, len(proof) - 1))  # -2: the leaf, -1: the root
    leaf, root = LEAVES[i], ROOTS[n]
    if target == -2:
        leaf = flip(leaf, bit)
    elif target == -1:
        root = flip(root, bit)
    else:
        proof[target] = flip(proof[target], bit)
    with pytest.raises(RootMismatchError):
        verify_inclusion(i, n, leaf, proof, root)


@PROPS
@given(st.sampled_from(CONSISTENCY_CASES), st.data())
def test_consistency_bit_flip(case: tuple[int, int], data: st.DataObject) -> None:
    m, n = case
    proof = consistency_proof(m, n, STORE.read)
    bit = data.draw(st.integers(0, 8 * HASH_SIZE - 1))
    target = data.draw(st.integers(-2, len(proof) - 1))  # -2: old root, -1: new root
    root1, root2 = ROOTS[m], ROOTS[n]
    if target == -2:
        root1 = flip(root1, bit)
    elif target == -1:
        root2 = flip(root2, bit)
    else:
        proof[target] = flip(proof[target], bit)
    with pytest.raises(RootMismatchError):
        verify_consistency(m, n, root1, root2, proof)


@pytest.fixture(scope="module")
def big_store() -> tuple[list[bytes], MemoryHashStore]:
    leaves = [leaf_hash(b"big %d" % i) for i in range(3000)]
    return leaves, MemoryHashStore(leaves)


@PROPS
@given(st.data())
def test_proofs_in_a_3000_leaf_tree(
    big_store: tuple[list[bytes], MemoryHashStore], data: st.DataObject
) -> None:
    leaves, store = big_store
    n = data.draw(st.integers(1, store.size))
    m = data.draw(st.integers(1, n))
    i = data.draw(st.integers(0, n - 1))
    root_n = tree_hash(n, store.read)
    assert root_n == root_of(leaves[:n])
    verify_inclusion(i, n, leaves[i], inclusion_proof(i, n, store.read), root_n)
    proof = consistency_proof(m, n, store.read)
    verify_consistency(m, n, tree_hash(m, store.read), root_n, proof)


# -- one batched read of O(log n) hashes ------------------------------------------------------


def test_each_operation_reads_once() -> None:
    read, calls = counting(STORE.read)
    for n in range(N + 1):
        calls.clear()
        tree_hash(n, read)
        assert len(calls) == (1 if n else 0)
    for i, n in INCLUSION_CASES:
        calls.clear()
        inclusion_proof(i, n, read)
        assert len(calls) == (1 if n > 1 else 0)
    for m, n in CONSISTENCY_CASES:
        calls.clear()
        consistency_proof(m, n, read)
        assert len(calls) == (1 if m < n else 0)
    hashes: list[bytes] = []
    read, calls = counting(lambda indexes: [hashes[i] for i in indexes])
    for r in range(N):
        calls.clear()
        hashes.extend(stored_hashes_for_record(r, LEAVES[r], read))
        # Only odd records complete a subtree and need stored siblings, in increasing order.
        assert len(calls) == r % 2
        assert all(c == sorted(c) for c in calls)
    assert tuple(hashes) == STORE.hashes


class UniformTree:
    """A virtual tree of *size* identical leaves: node (level, n) hashes to H[level] whatever
    n is, so a tree of 2**64 - 1 leaves can be read without being built."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.levels = [leaf_hash(b"same")]
        for _ in range(64):
            self.levels.append(node_hash(self.levels[-1], self.levels[-1]))
        self.calls: list[list[int]] = []

    def read(self, indexes: Sequence[int]) -> list[bytes]:
        self.calls.append(list(indexes))
        out = []
        for index in indexes:
            level, n = split_stored_hash_index(index)
            # Only complete subtrees of this tree are ever stored, so only those may be read.
            assert (n + 1) << level <= self.size, (level, n)
            out.append(self.levels[level])
        return out

    def root(self, size: int) -> bytes:
        parts = [self.levels[b] for b in reversed(range(size.bit_length())) if size >> b & 1]
        h = parts[-1]
        for left in reversed(parts[:-1]):
            h = hashlib.sha256(b"\x01" + left + h).digest()
        return h


HUGE = [1_000_000, 2**62 + 3, 2**63 - 1, 2**63, 2**63 + 1, MAX_TREE_SIZE - 2**32, MAX_TREE_SIZE]


def test_uniform_tree_model() -> None:
    tree = UniformTree(100)
    for size in range(1, 101):
        assert tree.root(size) == root_of([tree.levels[0]] * size)


@pytest.mark.parametrize("size", HUGE)
def test_huge_trees(size: int) -> None:
    tree = UniformTree(size)
    root = tree_hash(size, tree.read)
    assert root == tree.root(size)
    for index in (0, 1, size // 2, size - 2, size - 1):
        tree.calls.clear()
        proof = inclusion_proof(index, size, tree.read)
        assert len(tree.calls) == 1
        assert len(tree.calls[0]) <= 2 * size.bit_length()
        assert len(proof) <= 64
        verify_inclusion(index, size, tree.levels[0], proof, root)
    for size1 in sorted({1, 2, 3, min(2**31 + 5, size), size // 2 + 1, size - 1, size}):
        tree.calls.clear()
        proof = consistency_proof(size1, size, tree.read)
        assert len(tree.calls) == (1 if size1 < size else 0)
        verify_consistency(size1, size, tree.root(size1), root, proof)


def test_record_completing_a_2_pow_63_subtree() -> None:
    tree = UniformTree(2**63 - 1)
    hashes = stored_hashes_for_record(2**63 - 1, tree.levels[0], tree.read)
    assert hashes == tree.levels[:64]
    assert tree.calls == [sorted(tree.calls[0])]
    assert len(tree.calls[0]) == 63


# -- hostile or mistaken input ----------------------------------------------------------------

H = LEAVES[0]
HUGE_INT = 10**5000  # str() of this raises ValueError: messages must not try it


def _short_read(indexes: Sequence[int]) -> list[bytes]:
    return STORE.read(indexes)[:-1]


def _long_read(indexes: Sequence[int]) -> list[bytes]:
    return [*STORE.read(indexes), H]


def _truncating_read(indexes: Sequence[int]) -> list[bytes]:
    return [h[:31] for h in STORE.read(indexes)]


def _str_read(indexes: Sequence[int]) -> list[Any]:
    return ["x" * 32 for _ in indexes]


BAD_CALLS: list[Any] = [
    # primitives
    pytest.param(lambda: node_hash(H[:31], H), MalformedError, id="node-short-left"),
    pytest.param(lambda: node_hash(H, H + b"\x00"), MalformedError, id="node-long-right"),
    pytest.param(lambda: root_of([H, H[:16]]), MalformedError, id="root_of-short-leaf"),
    pytest.param(
        lambda: root_of([H, "x" * 32]),  # type: ignore[list-item]
        MalformedError,
        id="root_of-str-leaf",
    ),
    # the stored-hash layout
    pytest.param(lambda: stored_hash_index(-1, 0), TreeRangeError, id="index-negative-level"),
    pytest.param(lambda: stored_hash_index(0, -1), TreeRangeError, id="index-negative-n"),
    pytest.param(lambda: stored_hash_index(64, 0), TreeRangeError, id="index-level-64"),
    pytest.param(lambda: stored_hash_index(10**9, 0), TreeRangeError, id="index-level-huge"),
    pytest.param(lambda: stored_hash_index(0, MAX_TREE_SIZE), TreeRangeError, id="index-n-max"),
    pytest.param(lambda: stored_hash_index(63, 1), TreeRangeError, id="index-beyond-uint64"),
    pytest.param(lambda: stored_hash_index(0, HUGE_INT), TreeRangeError, id="index-n-huge"),
    pytest.param(
        lambda: stored_hash_index(0, 1.0),  # type: ignore[arg-type]
        TreeRangeError,
        id="index-float",
    ),
    pytest.param(lambda: stored_hash_index(True, 0), TreeRangeError, id="index-bool"),
    pytest.param(lambda: stored_hash_count(-1), TreeRangeError, id="count-negative"),
    pytest.param(lambda: stored_hash_count(MAX_TREE_SIZE + 1), TreeRangeError, id="count-2^64"),
    pytest.param(lambda: split_stored_hash_index(-1), TreeRangeError, id="split-negative"),
    pytest.param(
        lambda: split_stored_hash_index(stored_hash_count(MAX_TREE_SIZE)),
        TreeRangeError,
        id="split-beyond-uint64",
    ),
    pytest.param(
        lambda: split_stored_hash_index("3"),  # type: ignore[arg-type]
        TreeRangeError,
        id="split-str",
    ),
    pytest.param(
        lambda: stored_hashes_for_record(-1, H, STORE.read), TreeRangeError, id="record-negative"
    ),
    pytest.param(
        lambda: stored_hashes_for_record(MAX_TREE_SIZE, H, STORE.read),
        TreeRangeError,
        id="record-2^64-1",
    ),
    pytest.param(
        lambda: stored_hashes_for_record(4, H[:31], STORE.read), MalformedError, id="record-leaf"
    ),
    pytest.param(lambda: tree_hash(-1, STORE.read), TreeRangeError, id="tree_hash-negative"),
    pytest.param(lambda: tree_hash(2**64, STORE.read), TreeRangeError, id="tree_hash-2^64"),
    pytest.param(lambda: tree_hash(N + 1, STORE.read), NotFoundError, id="tree_hash-unstored"),
    pytest.param(lambda: STORE.read([-1]), TreeRangeError, id="store-read-negative"),
    pytest.param(lambda: STORE.read([len(STORE.hashes)]), TreeRangeError, id="store-read-past"),
    pytest.param(lambda: STORE.read([True]), TreeRangeError, id="store-read-bool"),
    # misbehaving readers
    pytest.param(lambda: tree_hash(7, _short_read), StorageError, id="reader-short"),
    pytest.param(lambda: tree_hash(7, _long_read), StorageError, id="reader-long"),
    pytest.param(lambda: inclusion_proof(3, 7, _truncating_read), StorageError, id="reader-31"),
    pytest.param(lambda: consistency_proof(3, 7, _str_read), StorageError, id="reader-str"),
    pytest.param(
        lambda: stored_hashes_for_record(7, H, _short_read), StorageError, id="reader-record"
    ),
    # proof generation
    pytest.param(lambda: inclusion_proof(3, 3, STORE.read), TreeRangeError, id="prove-index=size"),
    pytest.param(lambda: inclusion_proof(-1, 3, STORE.read), TreeRangeError, id="prove-index<0"),
    pytest.param(lambda: inclusion_proof(0, 0, STORE.read), TreeRangeError, id="prove-empty"),
    pytest.param(lambda: inclusion_proof(0, -1, STORE.read), TreeRangeError, id="prove-size<0"),
    pytest.param(
        lambda: inclusion_proof(0, 2**64, STORE.read), TreeRangeError, id="prove-size-2^64"
    ),
    pytest.param(lambda: inclusion_proof(0, N + 1, STORE.read), NotFoundError, id="prove-unstored"),
    pytest.param(lambda: consistency_proof(0, 3, STORE.read), TreeRangeError, id="cons-from-0"),
    pytest.param(lambda: consistency_proof(0, 0, STORE.read), TreeRangeError, id="cons-0-to-0"),
    pytest.param(lambda: consistency_proof(4, 3, STORE.read), TreeRangeError, id="cons-shrink"),
    pytest.param(lambda: consistency_proof(-1, 3, STORE.read), TreeRangeError, id="cons-negative"),
    pytest.param(
        lambda: consistency_proof(1, HUGE_INT, STORE.read), TreeRangeError, id="cons-huge"
    ),
    pytest.param(
        lambda: consistency_proof(3, N + 1, STORE.read), NotFoundError, id="cons-unstored"
    ),
    # inclusion verification
    pytest.param(
        lambda: verify_inclusion(-1, 3, H, [], ROOTS[3]), InclusionError, id="verify-index<0"
    ),
    pytest.param(
        lambda: verify_inclusion(3, 3, H, [], ROOTS[3]), InclusionError, id="verify-index=size"
    ),
    pytest.param(lambda: verify_inclusion(0, 0, H, [], EMPTY_ROOT), InclusionError, id="verify-0"),
    pytest.param(
        lambda: verify_inclusion(2**64 - 1, 2**64, H, [], H), InclusionError, id="verify-2^64"
    ),
    pytest.param(
        lambda: verify_inclusion(HUGE_INT, HUGE_INT + 1, H, [], H),
        InclusionError,
        id="verify-huge",
    ),
    pytest.param(
        lambda: verify_inclusion(0.0, 1, H, [], H),  # type: ignore[arg-type]
        InclusionError,
        id="verify-float-index",
    ),
    pytest.param(
        lambda: verify_inclusion(0, True, H, [], H), InclusionError, id="verify-bool-size"
    ),
    pytest.param(
        lambda: verify_inclusion(0, 1, H[:31], [], H), InclusionError, id="verify-short-leaf"
    ),
    pytest.param(
        lambda: verify_inclusion(0, 1, "x" * 32, [], H),  # type: ignore[arg-type]
        InclusionError,
        id="verify-str-leaf",
    ),
    pytest.param(
        lambda: verify_inclusion(0, 2, LEAVES[0], [LEAVES[1] + b"\x00"], ROOTS[2]),
        InclusionError,
        id="verify-long-proof-hash",
    ),
    pytest.param(
        lambda: verify_inclusion(0, 2, LEAVES[0], [LEAVES[1][:31]], ROOTS[2]),
        InclusionError,
        id="verify-short-proof-hash",
    ),
    pytest.param(
        lambda: verify_inclusion(0, 2, LEAVES[0], [None], ROOTS[2]),  # type: ignore[list-item]
        InclusionError,
        id="verify-none-proof-hash",
    ),
    pytest.param(
        lambda: verify_inclusion(0, 1, H, [], H[:31]), RootMismatchError, id="verify-short-root"
    ),
    pytest.param(
        lambda: verify_inclusion(0, 1, H, [], H.hex()),  # type: ignore[arg-type]
        InclusionError,
        id="verify-str-root",
    ),
    # consistency verification
    pytest.param(
        lambda: verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, []),
        ConsistencyError,
        id="cverify-0-to-0",
    ),
    pytest.param(
        lambda: verify_consistency(0, 5, EMPTY_ROOT, ROOTS[5], []),
        ConsistencyError,
        id="cverify-from-0",
    ),
    pytest.param(
        lambda: verify_consistency(5, 4, ROOTS[5], ROOTS[4], []),
        ConsistencyError,
        id="cverify-shrink",
    ),
    pytest.param(
        lambda: verify_consistency(-1, 4, ROOTS[1], ROOTS[4], []),
        ConsistencyError,
        id="cverify-negative",
    ),
    pytest.param(
        lambda: verify_consistency(1, 2**64, H, H, [H] * 64),
        ConsistencyError,
        id="cverify-2^64",
    ),
    pytest.param(
        lambda: verify_consistency(1, HUGE_INT, H, H, []), ConsistencyError, id="cverify-huge"
    ),
    pytest.param(
        lambda: verify_consistency(1.0, 2, H, H, []),  # type: ignore[arg-type]
        ConsistencyError,
        id="cverify-float",
    ),
    pytest.param(
        lambda: verify_consistency(3, 3, ROOTS[3], ROOTS[3], [ROOTS[3]]),
        ConsistencyError,
        id="cverify-equal-nonempty",
    ),
    pytest.param(
        lambda: verify_consistency(3, 3, ROOTS[3], ROOTS[4], []),
        RootMismatchError,
        id="cverify-equal-other-roots",
    ),
    pytest.param(
        lambda: verify_consistency(3, 3, ROOTS[3], ROOTS[3].hex(), []),  # type: ignore[arg-type]
        ConsistencyError,
        id="cverify-equal-str-root",
    ),
    pytest.param(
        lambda: verify_consistency(3, 4, ROOTS[3], ROOTS[4], []),
        ConsistencyError,
        id="cverify-empty-proof",
    ),
    pytest.param(
        lambda: verify_consistency(2, 4, ROOTS[2][:31], ROOTS[4], [ROOTS[4]]),
        ConsistencyError,
        id="cverify-short-seed-root",
    ),
    pytest.param(
        lambda: verify_consistency(3, 4, ROOTS[3], ROOTS[4], [H, H, H[:31]]),
        ConsistencyError,
        id="cverify-short-proof-hash",
    ),
    pytest.param(
        lambda: verify_consistency(
            3, 4, ROOTS[3], ROOTS[4][:31], consistency_proof(3, 4, STORE.read)
        ),
        RootMismatchError,
        id="cverify-short-new-root",
    ),
]


@pytest.mark.parametrize(("call", "error"), BAD_CALLS)
def test_bad_input_raises_library_error(
    call: Callable[[], object], error: type[OrderArchiveError]
) -> None:
    with pytest.raises(error) as info:
        call()
    assert isinstance(info.value, OrderArchiveError)
    str(info.value)  # the message itself must not blow up (huge integers, odd types)


def test_reader_errors_pass_through() -> None:
    def broken(indexes: Sequence[int]) -> list[bytes]:
        raise StorageError("disk on fire")

    with pytest.raises(StorageError, match="disk on fire"):
        tree_hash(5, broken)


def test_root_mismatch_carries_both_roots() -> None:
    proof = inclusion_proof(2, 5, STORE.read)
    with pytest.raises(RootMismatchError) as info:
        verify_inclusion(2, 5, LEAVES[2], proof, ROOTS[4])
    assert info.value.expected == ROOTS[4]
    assert info.value.actual == ROOTS[5]


def test_bytes_like_inputs_are_accepted() -> None:
    proof = [bytearray(p) for p in inclusion_proof(2, 5, STORE.read)]
    leaf, root = memoryview(LEAVES[2]), bytearray(ROOTS[5])
    verify_inclusion(2, 5, leaf, proof, root)  # type: ignore[arg-type]


# -- purity -----------------------------------------------------------------------------------


def test_merkle_module_is_pure() -> None:
    """No I/O, no click, no pypdf: the module imports only hashing helpers and the error tree."""
    tree = ast.parse(Path(merkle.__file__).read_text("utf-8"))
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add("." * node.level + (node.module or ""))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            assert node.func.id not in {"open", "exec", "eval", "__import__"}
    assert imported <= {"__future__", "hashlib", "hmac", "collections.abc", "typing", "..errors"}


# -- compact ranges (the derived index's frontier) ---------------------------------------------


@PROPS
@given(st.integers(0, 300), st.data())
def test_compact_range_extends_to_the_tree_root(size: int, data: st.DataObject) -> None:
    leaves = [merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(size)]
    cut = data.draw(st.integers(0, size))
    frontier = merkle.compact_append(0, [], leaves[:cut])
    assert len(frontier) == cut.bit_count()
    assert merkle.compact_root(frontier) == merkle.root_of(leaves[:cut])
    extended = merkle.compact_append(cut, frontier, leaves[cut:])
    assert merkle.compact_root(extended) == merkle.root_of(leaves)


def test_compact_range_refuses_a_frontier_of_the_wrong_shape() -> None:
    with pytest.raises(MalformedError):
        merkle.compact_append(3, [bytes(32)], [])  # size 3 needs two hashes
    with pytest.raises(MalformedError):
        merkle.compact_append(1, [b"short"], [merkle.leaf_hash(b"x")])
    with pytest.raises(MalformedError):
        merkle.compact_append(0, [], [b"not a hash"])
    assert merkle.compact_root([]) == merkle.EMPTY_ROOT
