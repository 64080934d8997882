"""proofs: checking copies, offline tlog-proofs, consistency proofs, minisign export."""

from __future__ import annotations

import base64
import hashlib
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import pytest

from conftest import ORIGIN, STORE_KINDS, directory_only, text_request
from orderarchive.archive import ENTRIES, Archive
from orderarchive.errors import (
    DigestMismatchError,
    InclusionError,
    NotFoundError,
    OrderArchiveError,
    ProofFormatError,
    SignatureError,
    VerificationError,
)
from orderarchive.index import index_path
from orderarchive.log import merkle, minisign
from orderarchive.log.checkpoint import Checkpoint, sign_checkpoint
from orderarchive.log.entry import make_entry
from orderarchive.log.note import Signer, VerifierKey
from orderarchive.log.store import FileStore
from orderarchive.log.tlogproof import TlogProof
from orderarchive.proofs import (
    COPY_STATUSES,
    IndexMismatchError,
    UnreleasedError,
    check_copy,
    consistency,
    export_minisig,
    minisign_public_key,
    prove,
    verify_proof,
)


@pytest.fixture(params=STORE_KINDS)
def store_kind(request: pytest.FixtureRequest) -> str:
    """Every test here runs on each storage implementation (issue 13 item 2)."""
    return str(request.param)


MakeArchive = Callable[..., Archive]


def data(i: int) -> bytes:
    return text_request(i).data


# -- check_copy --------------------------------------------------------------------------------


def test_check_copy_official(make_archive: MakeArchive, signer: Signer,
                             verifiers: list[VerifierKey]) -> None:
    archive = make_archive(3)
    result = check_copy(archive, data(1), verifiers)
    assert result.status == "official" and result.official
    assert result.release == 3
    assert result.entry is not None and result.entry.seq == 1
    assert result.entry_signer == signer.verifier()
    assert result.checkpoint_signers == (signer.verifier(),)
    d = result.to_dict()
    assert (d["doc"], d["title"], d["seq"], d["release"]) == ("eo-1", "Order 1", 1, 3)
    assert d["signer"] == signer.verifier().to_string()


def test_check_copy_unreleased_and_not_official(make_archive: MakeArchive, signer: Signer,
                                                verifiers: list[VerifierKey]) -> None:
    archive = make_archive(3)
    archive.add([text_request(3)], signer)
    unreleased = check_copy(archive, data(3), verifiers)
    assert unreleased.status == "official-unreleased" and not unreleased.official
    assert unreleased.release is None and unreleased.checkpoint is not None
    assert unreleased.checkpoint.size == 4
    other = check_copy(archive, data(1) + b" ", verifiers, compare_text=False)
    assert other.status == "not-official" and other.entry is None
    assert other.to_dict() == {"status": "not-official", "official": False,
                               "sha256": other.sha256.hex(), "size": len(data(1)) + 1}
    assert {unreleased.status, other.status} <= set(COPY_STATUSES)
    # Compared by text, a trailing space is the same text (not the official file).
    same = check_copy(archive, data(1) + b" ", verifiers)
    assert same.status == "same-text" and same.entry is not None and same.entry.doc == "eo-1"
    assert not same.official


def test_check_copy_without_release(make_archive: MakeArchive,
                                    verifiers: list[VerifierKey]) -> None:
    archive = make_archive(2, release=False)
    assert check_copy(archive, data(0), verifiers).status == "official-unreleased"


def test_check_copy_needs_the_right_key(make_archive: MakeArchive) -> None:
    archive = make_archive(3)
    with pytest.raises(SignatureError):
        check_copy(archive, data(1), [Signer.generate(ORIGIN).verifier()])
    with pytest.raises(SignatureError):
        check_copy(archive, data(1), [])


@directory_only
def test_check_copy_does_not_trust_the_index(make_archive: MakeArchive,
                                             verifiers: list[VerifierKey]) -> None:
    archive = make_archive(3)
    assert archive.path is not None
    forged = b"a forged order\n"
    archive.index(verifiers).close()
    conn = sqlite3.connect(index_path(archive.path, archive.origin))
    with conn:  # point the index's row for entry 0 at the forged file's hash
        conn.execute("UPDATE documents SET sha256 = ? WHERE seq = 0",
                     (hashlib.sha256(forged).digest(),))
    conn.close()
    with pytest.raises(IndexMismatchError):
        check_copy(archive, forged, verifiers)


@directory_only
def test_check_copy_refuses_a_damaged_log(make_archive: MakeArchive,
                                          verifiers: list[VerifierKey]) -> None:
    archive = make_archive(3)
    assert archive.path is not None
    archive.index(verifiers).close()
    entries = archive.path / ENTRIES
    raw = entries.read_bytes()
    entries.write_bytes(raw.replace(b'"Order 1"', b'"Order X"'))
    with pytest.raises(VerificationError):
        check_copy(archive, data(1), verifiers)


class CountingStore(FileStore):
    """Counts what is read from the entry log, to show that a lookup does not scan it."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.entry_bytes = 0
        self.streams: list[str] = []

    def read_range(self, name: str, offset: int, length: int) -> bytes:
        if name == ENTRIES:
            self.entry_bytes += length
        return super().read_range(name, offset, length)

    def stream_record(self, name: str) -> Any:
        self.streams.append(name)
        return super().stream_record(name)


@directory_only
def test_check_copy_does_not_scan_the_log(make_archive: MakeArchive, signer: Signer,
                                          verifiers: list[VerifierKey]) -> None:
    archive = make_archive(0)
    for start in range(0, 200, 50):
        archive.add([text_request(i) for i in range(start, start + 50)], signer)
    archive.release(signer)
    assert archive.path is not None
    archive.index(verifiers).close()  # the index is up to date, as after any add
    store = CountingStore(archive.path)
    counted = Archive(store, archive.config, archive.path)
    result = check_copy(counted, data(123), verifiers)
    assert result.official and result.entry is not None and result.entry.seq == 123
    assert store.streams == []
    assert store.entry_bytes == len(result.entry.raw) + 1


# -- prove / verify_proof ----------------------------------------------------------------------


@pytest.fixture
def proved(make_archive: MakeArchive, signer: Signer,
           verifiers: list[VerifierKey]) -> tuple[Archive, bytes]:
    archive = make_archive(5)
    return archive, prove(archive, "eo-2", verifiers)


@directory_only
def test_prove_and_verify_offline(proved: tuple[Archive, bytes], verifiers: list[VerifierKey],
                                  tmp_path: Path) -> None:
    archive, proof = proved
    assert proof.startswith(b"c2sp.org/tlog-proof@v1\nextra ")
    tp = TlogProof.parse(proof)
    assert tp.index == 2 and tp.checkpoint == archive.release_note(5)
    assert tp.extra == archive.entry_bytes(2)
    assert archive.path is not None
    shutil.rmtree(archive.path)  # the proof needs no archive
    result = verify_proof(data(2), proof, verifiers)
    assert result.entry.doc == "eo-2" and result.checkpoint.size == 5
    assert result.to_dict()["release"] == 5
    assert verify_proof(data(2), proof, verifiers, origin=ORIGIN).sha256 == result.sha256


def test_prove_by_hash_and_never_without_keys(proved: tuple[Archive, bytes],
                                              verifiers: list[VerifierKey]) -> None:
    archive, proof = proved
    sha = hashlib.sha256(data(2)).hexdigest()
    assert prove(archive, f"sha256:{sha}", verifiers) == proof
    assert prove(archive, sha.upper(), verifiers) == proof
    with pytest.raises(SignatureError):
        prove(archive, "eo-2", [])


def test_prove_errors(make_archive: MakeArchive, signer: Signer,
                      verifiers: list[VerifierKey]) -> None:
    archive = make_archive(3)
    with pytest.raises(NotFoundError):
        prove(archive, "no-such-doc", verifiers)
    with pytest.raises(NotFoundError):
        prove(archive, "sha256:" + "0" * 64, verifiers)
    archive.add([text_request(3)], signer)
    with pytest.raises(UnreleasedError) as info:
        prove(archive, "eo-3", verifiers)
    assert info.value.hint is not None and "orderarchive release" in info.value.hint
    with pytest.raises(SignatureError):
        prove(archive, "eo-1", [Signer.generate(ORIGIN).verifier()])


def test_verify_proof_wrong_file_and_key(proved: tuple[Archive, bytes],
                                         verifiers: list[VerifierKey]) -> None:
    _, proof = proved
    with pytest.raises(DigestMismatchError) as info:
        verify_proof(data(1), proof, verifiers)
    assert "sha256:" in str(info.value)
    with pytest.raises(SignatureError):
        verify_proof(data(2), proof, [Signer.generate(ORIGIN).verifier()])
    with pytest.raises(SignatureError):
        verify_proof(data(2), proof, verifiers, origin="other.gov/orders")


def test_every_bit_flip_in_a_proof_fails(proved: tuple[Archive, bytes],
                                         verifiers: list[VerifierKey]) -> None:
    _, proof = proved
    tried = 0
    for offset in range(len(proof)):
        for bit in range(8):
            bad = bytearray(proof)
            bad[offset] ^= 1 << bit
            with pytest.raises(OrderArchiveError):
                verify_proof(data(2), bytes(bad), verifiers)
            tried += 1
    assert tried == 8 * len(proof)


def test_every_truncation_of_a_proof_fails(proved: tuple[Archive, bytes],
                                           verifiers: list[VerifierKey]) -> None:
    _, proof = proved
    for end in range(len(proof)):
        with pytest.raises(OrderArchiveError):
            verify_proof(data(2), proof[:end], verifiers)


def _lines(proof: bytes) -> list[bytes]:
    return proof.split(b"\n")


def named_cases(archive: Archive, proof: bytes, signer: Signer) -> dict[str, bytes]:
    """Bad proofs for entry 2 of *archive* (releases 3 and 6), named after the attack."""
    tp = TlogProof.parse(proof)
    other = TlogProof.parse(prove(archive, "eo-3", [signer.verifier()]))
    stranger = Signer.generate(ORIGIN)
    cp = tp.parsed_checkpoint()[0]
    cases = {
        "trailing-garbage": proof + b"garbage\n",
        "trailing-newline": proof + b"\n",
        "leading-garbage": b"x" + proof,
        "crlf-line-endings": proof.replace(b"\n", b"\r\n"),
        "wrong-index": attrs.evolve(tp, index=tp.index + 1).to_bytes(),
        "index-zero": attrs.evolve(tp, index=0).to_bytes(),
        "no-extra": attrs.evolve(tp, extra=None).to_bytes(),
        "extra-from-another-entry": attrs.evolve(tp, extra=other.extra).to_bytes(),
        "proof-from-another-entry": attrs.evolve(tp, proof=other.proof).to_bytes(),
        "proof-hash-dropped": attrs.evolve(tp, proof=tp.proof[:-1]).to_bytes(),
        "proof-hash-added": attrs.evolve(tp, proof=(*tp.proof, bytes(32))).to_bytes(),
        "proof-reordered": attrs.evolve(tp, proof=tp.proof[::-1]).to_bytes(),
        "checkpoint-signed-by-another-key": attrs.evolve(
            tp, checkpoint=sign_checkpoint(cp, stranger)).to_bytes(),
        "checkpoint-of-another-tree": attrs.evolve(
            tp, checkpoint=sign_checkpoint(attrs.evolve(cp, root_hash=bytes(32)), signer)
        ).to_bytes(),
        "checkpoint-missing": b"\n".join(_lines(proof)[: _lines(proof).index(b"") + 1]),
        "not-a-proof": b"hello\n",
        "empty": b"",
        "binary": bytes(range(256)),
    }
    cases["checkpoint-of-an-older-release"] = attrs.evolve(
        tp, checkpoint=archive.release_note(3)).to_bytes()
    for i, line in enumerate(_lines(proof)[:4]):
        cases[f"line-{i}-bit-0"] = proof.replace(line, bytes([line[0] ^ 1]) + line[1:], 1)
    return cases


def test_named_bad_proofs(make_archive: MakeArchive, signer: Signer,
                          verifiers: list[VerifierKey]) -> None:
    archive = make_archive(3)
    archive.add([text_request(i) for i in range(3, 6)], signer)
    archive.release(signer)
    proof = prove(archive, "eo-2", verifiers)
    accepted = []
    for name, bad in named_cases(archive, proof, signer).items():
        try:
            verify_proof(data(2), bad, verifiers)
        except OrderArchiveError:
            continue
        accepted.append(name)
    assert accepted == []


def test_entry_signed_by_another_trusted_log_is_refused(signer: Signer,
                                                        verifiers: list[VerifierKey]) -> None:
    # A one-leaf tree whose entry is signed by another log's (trusted) key.
    other = Signer(name="other.gov/orders", seed=bytes(32))
    entry = make_entry(text_request(0).fields.to_dict(), seq=0, signer=other,
                       recorded="2026-02-05T00:00:00Z")
    cp = Checkpoint(ORIGIN, 1, merkle.leaf_hash(entry.raw))
    proof = TlogProof(0, (), sign_checkpoint(cp, signer), entry.raw).to_bytes()
    with pytest.raises(SignatureError, match="not the log"):
        verify_proof(data(0), proof, [*verifiers, other.verifier()])


def test_inclusion_failure_is_an_inclusion_error(proved: tuple[Archive, bytes],
                                                 verifiers: list[VerifierKey]) -> None:
    _, proof = proved
    tp = TlogProof.parse(proof)
    bad = attrs.evolve(tp, proof=(bytes(32), *tp.proof[1:])).to_bytes()
    with pytest.raises(VerificationError):
        verify_proof(data(2), bad, verifiers)
    wrong = attrs.evolve(tp, index=3).to_bytes()
    with pytest.raises(InclusionError):
        verify_proof(data(2), wrong, verifiers)


def test_proof_with_malformed_entry_is_a_format_error(proved: tuple[Archive, bytes],
                                                      verifiers: list[VerifierKey]) -> None:
    _, proof = proved
    tp = TlogProof.parse(proof)
    with pytest.raises(ProofFormatError):
        verify_proof(data(2), attrs.evolve(tp, extra=b"{}").to_bytes(), verifiers)


# -- consistency -------------------------------------------------------------------------------


def test_consistency_between_every_pair_of_releases(
    make_archive: MakeArchive, signer: Signer, verifiers: list[VerifierKey]
) -> None:
    archive = make_archive(1)
    for n in range(1, 8):
        archive.add([text_request(10 + n)], signer)
        archive.release(signer)
    sizes = archive.releases()
    assert sizes == list(range(1, 9))
    for old in sizes:
        for new in sizes[sizes.index(old):]:
            result = consistency(archive, old, new, verifiers)
            result.verify(verifiers)
            assert (result.old_size, result.new_size) == (old, new)
    latest = consistency(archive, 2)
    assert latest.new_size == 8
    d = latest.to_dict()
    assert d["proof"] == [base64.b64encode(h).decode() for h in latest.proof]
    assert d["old_checkpoint"] == archive.release_note(2).decode()


def test_consistency_errors(make_archive: MakeArchive, signer: Signer,
                            verifiers: list[VerifierKey]) -> None:
    empty = make_archive(0)
    with pytest.raises(UnreleasedError):
        consistency(empty, 1)
    archive = make_archive(3)
    archive.add([text_request(3)], signer)
    archive.release(signer)
    with pytest.raises(NotFoundError):
        consistency(archive, 2)
    with pytest.raises(NotFoundError):
        consistency(archive, 4, 3)
    with pytest.raises(SignatureError):
        consistency(archive, 3, 4, [Signer.generate(ORIGIN).verifier()])
    result = consistency(archive, 3, 4)
    with pytest.raises(VerificationError):
        attrs.evolve(result, new_root=bytes(32)).verify(verifiers)


# -- minisign ----------------------------------------------------------------------------------


def test_export_minisig_verifies(make_archive: MakeArchive, signer: Signer) -> None:
    archive = make_archive(3)
    text, entry = export_minisig(archive, "eo-1", signer)
    assert entry.seq == 1
    pub = minisign_public_key(signer.verifier())
    sig = minisign.verify(text, pub, minisign.Prehash.of(data(1)))
    assert sig.trusted_comment == (
        f"orderarchive doc:eo-1 sha256:{entry.document.sha256 if entry.document else ''} "
        f"seq:1 origin:{ORIGIN}"
    )
    with pytest.raises(SignatureError):
        minisign.verify(text, pub, minisign.Prehash.of(data(2)))


def test_export_minisig_refuses_unreleased_and_foreign_keys(
    make_archive: MakeArchive, signer: Signer
) -> None:
    archive = make_archive(3)
    archive.add([text_request(3)], signer)
    with pytest.raises(UnreleasedError):
        export_minisig(archive, "eo-3", signer)
    with pytest.raises(SignatureError):
        export_minisig(archive, "eo-1", Signer.generate(ORIGIN))
