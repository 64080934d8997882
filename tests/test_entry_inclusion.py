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


def test_no_copy_of_the_check_remains() -> None:
    # The entry signature and the inclusion of an entry in a checkpoint are each checked in
    # one place: no other module verifies an inclusion proof or an Ed25519 signature itself.
    for module in sorted(SRC.rglob("*.py")):
        text = module.read_text(encoding="utf-8")
        code = "\n".join(line for line in text.splitlines()
                         if not line.lstrip().startswith(("#", '"""', "``")))
        if module.name not in ("entry.py", "merkle.py"):
            assert re.search(r"verify_inclusion\(", code) is None, module.name
        if module.name not in ("entry.py", "note.py"):
            assert "crypto_sign_open" not in code, module.name
