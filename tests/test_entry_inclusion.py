"""One implementation of "this entry is signed by a trusted key of this log and included in this
signed checkpoint" (issue 13 item 1): ``entry.verify_included``, used by check, prove,
verify-proof, cite, verify-evidence and ``Archive.verified_entry``."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import ORIGIN
from orderarchive.archive import Archive
from orderarchive.errors import InclusionError, SignatureError, VerificationError
from orderarchive.log import merkle
from orderarchive.log.entry import make_entry, verify_included
from orderarchive.log.note import Signer, VerifierKey

SRC = Path(__file__).resolve().parents[1] / "src" / "orderarchive"


def test_an_included_entry_passes_and_names_its_signer(
    make_archive: Callable[..., Archive], verifiers: list[VerifierKey]
) -> None:
    archive = make_archive(5)
    cp = archive.head(verifiers).checkpoint
    assert cp is not None
    for seq in range(cp.size):
        entry = archive.entry(seq)
        path = merkle.inclusion_proof(seq, cp.size, archive.read_hashes)
        assert verify_included(entry, cp, path, verifiers) == verifiers[0]
        assert archive.verified_entry(seq, cp, verifiers).raw == entry.raw


def test_each_failure_is_refused(
    make_archive: Callable[..., Archive], signer: Signer, verifiers: list[VerifierKey]
) -> None:
    archive = make_archive(5)
    cp = archive.head(verifiers).checkpoint
    assert cp is not None
    entry = archive.entry(2)
    path = merkle.inclusion_proof(2, cp.size, archive.read_hashes)
    with pytest.raises(VerificationError):  # a proof for another leaf
        verify_included(archive.entry(3), cp, path, verifiers)
    with pytest.raises(VerificationError):  # a flipped bit in the proof
        verify_included(entry, cp, [bytes([path[0][0] ^ 1]) + path[0][1:], *path[1:]],
                        verifiers)
    with pytest.raises(SignatureError):  # no trusted key
        verify_included(entry, cp, path, [Signer.generate(ORIGIN).verifier()])
    beyond = make_entry(dict(entry.members), seq=cp.size, signer=signer,
                        recorded=entry.recorded)
    with pytest.raises(InclusionError, match="not in the signed tree"):
        verify_included(beyond, cp, path, verifiers)
    # Signed by a trusted key of another log: not one of this log's entries, even if the
    # proof held (the signature is checked, then its log).
    other = Signer(name="other.example/log", seed=bytes(range(32)))
    foreign = make_entry(dict(entry.members), seq=2, signer=other, recorded=entry.recorded)
    with pytest.raises(SignatureError, match="not the log"):
        verify_included(foreign, cp, path, [*verifiers, other.verifier()])


def _code(module: Path) -> str:
    text = module.read_text(encoding="utf-8")
    return "\n".join(line for line in text.splitlines()
                     if not line.lstrip().startswith(("#", '"""', "``")))


def _where(pattern: str) -> set[str]:
    """The modules (relative to the package, "/"-separated) whose code matches *pattern*."""
    return {
        module.relative_to(SRC).as_posix()
        for module in sorted(SRC.rglob("*.py"))
        if re.search(pattern, _code(module)) is not None
    }


def test_no_copy_of_the_check_remains() -> None:
    # Each security check has one implementation (issue 13 item 4); no other module does the
    # work itself. The entry signature: Entry.verify; inclusion of an entry in a signed
    # checkpoint: entry.verify_included (and read_verified_entry / verify_read_entry that
    # read the proof); the checkpoint signature: checkpoint.open_checkpoint; the tlog-proof
    # check: tlogproof.open_proof; consistency: merkle.verify_consistency; every Ed25519
    # verification: signing.ed25519_verify; RFC 9162 leaf/node hashing: merkle.
    assert _where(r"verify_inclusion\(") <= {"log/entry.py", "log/merkle.py"}
    assert _where(r"crypto_sign_open|VerifyKey\(") == {"log/signing.py"}
    assert _where(r"def ed25519_verify|def _ed25519|def _verifies\b") <= {
        "log/signing.py", "log/entry.py"}
    assert _where(r"verify_included\(") == {"log/entry.py", "log/tlogproof.py"}
    assert _where(r"merkle\.inclusion_proof\(") <= {"log/entry.py", "proofs.py"}
    assert _where(r"SignedNote\.parse\([^)]*\)\.verify\(") == {
        "log/checkpoint.py", "log/note.py"}
    assert _where(r"def open_proof\b") == {"log/tlogproof.py"}
    assert _where(r"def (_signers|signers_of)\b") == {"log/checkpoint.py"}
    assert _where(r"def (verify_consistency|_roots_from_consistency_proof)") == {
        "log/merkle.py"}
    assert _where(r'sha256\((b"\\x0[01]"|_LEAF|_NODE)') == {"log/merkle.py"}
    assert _where(r"def _b64\(|def _b64encode\(") <= {"log/note.py"}
