"""tlog-proof files: layout, round trips over the static-log-300 vector, malformed inputs."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orderarchive.errors import OrderArchiveError, ProofFormatError
from orderarchive.log.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from orderarchive.log.note import Signer, VerifierKey
from orderarchive.log.tlogproof import HEADER, MAX_PROOF_BYTES, MAX_PROOF_HASHES, TlogProof

VECTORS = Path(__file__).resolve().parent / "data" / "vectors"  # see tests/data/README.md
STATIC = VECTORS / "static-log-300"


def _read(path: Path) -> bytes:
    # The published vectors are the conformance suite: their absence is a failure, not a skip.
    if not path.is_file():
        raise FileNotFoundError(f"vector {path} missing; tests/data is part of the repository")
    return path.read_bytes()


CHECKPOINT = _read(STATIC / "checkpoint")
VKEY = VerifierKey.parse(_read(STATIC / "vkey").decode().strip())
EXPECTED: dict[str, Any] = json.loads(_read(STATIC / "expected.json"))
ORIGIN = EXPECTED["origin"]
SIZE = EXPECTED["tree_size"]


# A test-local RFC 6962 §2.1 tree, independent of the library's Merkle module, so that the
# proofs written here are real ones for the vector log.
def _leaf(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def _mth(leaves: list[bytes]) -> bytes:
    if len(leaves) == 1:
        return leaves[0]
    k = _split(len(leaves))
    return _node(_mth(leaves[:k]), _mth(leaves[k:]))


def _path(m: int, leaves: list[bytes]) -> list[bytes]:
    """RFC 6962 §2.1.1 PATH(m, D[n]): leaf's sibling first, root's child last."""
    if len(leaves) == 1:
        return []
    k = _split(len(leaves))
    if m < k:
        return [*_path(m, leaves[:k]), _mth(leaves[k:])]
    return [*_path(m - k, leaves[k:]), _mth(leaves[:k])]


def _root_from_path(index: int, size: int, leaf: bytes, proof: tuple[bytes, ...]) -> bytes:
    """RFC 9162 §2.1.3.2 inclusion verification."""
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if fn & 1 or fn == sn:
            r = _node(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = _node(r, p)
        fn, sn = fn >> 1, sn >> 1
    assert sn == 0
    return r


LEAVES = [_leaf(f"orderarchive test entry {i}\n".encode()) for i in range(SIZE)]


def test_local_tree_matches_the_vector() -> None:
    assert base64.b64encode(_mth(LEAVES)).decode() == EXPECTED["root_b64"]


def _proof(index: int, extra: bytes | None = None) -> TlogProof:
    return TlogProof(index, tuple(_path(index, LEAVES)), CHECKPOINT, extra)


def test_exact_layout() -> None:
    proof = _proof(7, extra=b"hello")
    hashes = "".join(base64.b64encode(h).decode() + "\n" for h in proof.proof)
    expected = f"{HEADER}\nextra aGVsbG8=\nindex 7\n{hashes}\n".encode() + CHECKPOINT
    assert proof.to_bytes() == expected
    assert TlogProof.parse(expected) == proof


@pytest.mark.parametrize("index", [0, 1, 7, 8, 255, 256, 298, 299])
def test_real_proofs_round_trip_and_verify(index: int) -> None:
    data = _proof(index).to_bytes()
    parsed = TlogProof.parse(data)
    assert parsed.to_bytes() == data
    assert parsed.extra is None
    cp, _ = open_checkpoint(parsed.checkpoint, [VKEY], origin=ORIGIN)
    assert _root_from_path(parsed.index, cp.size, LEAVES[index], parsed.proof) == cp.root_hash
    assert parsed.parsed_checkpoint()[0] == cp


def test_single_leaf_tree_has_an_empty_proof() -> None:
    # No hash lines: the index line is followed directly by the empty line.
    signer = Signer(ORIGIN, bytes.fromhex(EXPECTED["ed25519_seed_hex"]))
    cp = sign_checkpoint(Checkpoint(ORIGIN, 1, LEAVES[0]), signer)
    proof = TlogProof(0, (), cp)
    assert proof.to_bytes() == f"{HEADER}\nindex 0\n\n".encode() + cp
    assert TlogProof.parse(proof.to_bytes()) == proof


GOOD = _proof(5, extra=b"\x00\x01").to_bytes()
HEAD, _, REST = GOOD.partition(b"\n\n")
H0 = base64.b64encode(_path(5, LEAVES)[0])


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"", id="empty"),
        pytest.param(GOOD.replace(b"@v1", b"@v2", 1), id="wrong-version"),
        pytest.param(b"x" + GOOD, id="garbage-before-header"),
        pytest.param(GOOD.replace(HEADER.encode() + b"\n", b"", 1), id="no-header"),
        pytest.param(GOOD.replace(b"index 5\n", b""), id="no-index"),
        pytest.param(GOOD.replace(b"index 5", b"index 05"), id="index-leading-zero"),
        pytest.param(GOOD.replace(b"index 5", b"index -5"), id="index-negative"),
        pytest.param(GOOD.replace(b"index 5", b"index +5"), id="index-plus"),
        pytest.param(GOOD.replace(b"index 5", b"index  5"), id="index-two-spaces"),
        pytest.param(GOOD.replace(b"index 5", b"index 5 "), id="index-trailing-space"),
        pytest.param(GOOD.replace(b"index 5", b"index\t5"), id="index-tab"),
        pytest.param(GOOD.replace(b"index 5", b"Index 5"), id="index-capitalised"),
        pytest.param(GOOD.replace(b"index 5", b"index \xd9\xa5"), id="index-arabic-digit"),
        pytest.param(GOOD.replace(b"index 5", b"index 300"), id="index-not-below-size"),
        pytest.param(GOOD.replace(b"index 5", b"index " + str(2**64).encode()), id="index-huge"),
        pytest.param(GOOD.replace(b"extra AAE=\nindex 5", b"index 5\nextra AAE="), id="extra-late"),
        pytest.param(GOOD.replace(b"extra AAE=\n", b"extra AAE=\nextra AAE=\n"), id="extra-twice"),
        pytest.param(GOOD.replace(b"extra AAE=", b"extra AAF="), id="extra-non-canonical"),
        pytest.param(GOOD.replace(b"extra AAE=", b"extra AAE"), id="extra-unpadded"),
        pytest.param(GOOD.replace(b"extra AAE=", b"extra "), id="extra-empty"),
        pytest.param(GOOD.replace(b"extra AAE=", b"extra"), id="extra-no-space"),
        pytest.param(GOOD.replace(H0, H0[:-4] + b"AA=="), id="hash-31-bytes"),
        pytest.param(GOOD.replace(H0, H0 + b"AAAA"), id="hash-35-bytes"),
        pytest.param(GOOD.replace(H0, H0[:5] + b"*" + H0[6:]), id="hash-bad-base64"),
        pytest.param(GOOD.replace(H0, H0[:-1]), id="hash-unpadded"),
        pytest.param(GOOD.replace(H0 + b"\n", H0 + b"\n\n"), id="blank-line-inside-proof"),
        pytest.param(HEAD + b"\n", id="missing-checkpoint"),
        pytest.param(HEAD, id="missing-blank-line"),
        pytest.param(GOOD + b"\n", id="trailing-newline"),
        pytest.param(GOOD + b"trailing garbage", id="trailing-garbage"),
        pytest.param(GOOD + b"\x00", id="trailing-nul"),
        pytest.param(GOOD.replace(b"\n", b"\r\n"), id="crlf"),
        pytest.param(GOOD.replace(b"index 5\n", b"index 5\r\n"), id="cr-in-header"),
        pytest.param(GOOD.replace(b"example.com/", b"ex\xffample.com/"), id="checkpoint-not-utf8"),
        pytest.param(GOOD.replace(b"\n300\n", b"\n0300\n"), id="checkpoint-body-malformed"),
        pytest.param(HEAD + b"\n\n" + REST.replace(b"\n\n", b"\n"), id="checkpoint-unsigned"),
        pytest.param(GOOD.replace(b"tlog-proof", b"tlog-pr\xc3\xb6of"), id="non-ascii-header"),
    ],
)
def test_malformed_proof_rejected(data: bytes) -> None:
    with pytest.raises(ProofFormatError):
        TlogProof.parse(data)


def test_too_many_hashes() -> None:
    hashes = tuple(bytes([i]) * 32 for i in range(MAX_PROOF_HASHES + 1))
    lines = "".join(base64.b64encode(h).decode() + "\n" for h in hashes)
    data = f"{HEADER}\nindex 0\n{lines}\n".encode() + CHECKPOINT
    with pytest.raises(ProofFormatError):
        TlogProof.parse(data)
    with pytest.raises(ProofFormatError):
        TlogProof(0, hashes, CHECKPOINT)
    # 64 hashes is the most a 2**64-leaf tree needs: still well-formed.
    assert len(TlogProof(0, hashes[:-1], CHECKPOINT).proof) == MAX_PROOF_HASHES


def test_oversized_input() -> None:
    data = _proof(5, extra=b"x" * MAX_PROOF_BYTES).to_bytes()
    with pytest.raises(ProofFormatError):
        TlogProof.parse(data)


@pytest.mark.parametrize(
    ("index", "proof", "checkpoint", "extra"),
    [
        pytest.param(-1, (), CHECKPOINT, None, id="negative-index"),
        pytest.param(300, (), CHECKPOINT, None, id="index-not-below-size"),
        pytest.param(0, (b"x" * 31,), CHECKPOINT, None, id="short-hash"),
        pytest.param(0, (), CHECKPOINT, b"", id="empty-extra"),
        pytest.param(0, (), b"not a note", None, id="not-a-checkpoint"),
    ],
)
def test_constructor_refuses_unwritable_proofs(
    index: int, proof: tuple[bytes, ...], checkpoint: bytes, extra: bytes | None
) -> None:
    with pytest.raises(ProofFormatError):
        TlogProof(index, proof, checkpoint, extra)


@settings(max_examples=100, deadline=None)
@given(
    index=st.integers(0, SIZE - 1),
    proof=st.lists(st.binary(min_size=32, max_size=32), max_size=MAX_PROOF_HASHES),
    extra=st.none() | st.binary(min_size=1, max_size=100),
)
def test_round_trip(index: int, proof: list[bytes], extra: bytes | None) -> None:
    p = TlogProof(index, proof, CHECKPOINT, extra)
    assert TlogProof.parse(p.to_bytes()) == p


@settings(max_examples=300, deadline=None)
@given(index=st.integers(0, len(GOOD) - 1), value=st.integers(0, 255))
def test_any_byte_change_is_format_error_or_still_canonical(index: int, value: int) -> None:
    data = GOOD[:index] + bytes([value]) + GOOD[index + 1 :]
    try:
        parsed = TlogProof.parse(data)
    except ProofFormatError:
        return
    assert parsed.to_bytes() == data  # one proof, one byte encoding


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=400) | st.text(max_size=400).map(str.encode))
def test_arbitrary_input_raises_only_proof_format_errors(data: bytes) -> None:
    for candidate in (data, HEADER.encode() + b"\n" + data):
        try:
            TlogProof.parse(candidate)
        except ProofFormatError:
            pass
        except OrderArchiveError as e:  # pragma: no cover - the assertion explains
            raise AssertionError(f"{type(e).__name__} instead of ProofFormatError") from e
