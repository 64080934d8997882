"""The signed log as a layer of its own (issue 13 items 2, 3 and 5): ``orderarchive.log.Log``
over any store, the audit without the archive, and nothing above the store naming its files."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import attrs
import pytest

from conftest import ORIGIN
from orderarchive.errors import ConflictError, NotFoundError, SignatureError
from orderarchive.log import Log
from orderarchive.log.audit import Auditor
from orderarchive.log.entry import Entry, document_fields
from orderarchive.log.layout import CONFIG, ENTRIES
from orderarchive.log.note import BatchSigner, Signer, VerifierKey
from orderarchive.log.signing import ed25519_verify
from orderarchive.log.store import MemoryStore

SRC = Path(__file__).resolve().parents[1] / "src" / "orderarchive"


def _fields(i: int) -> dict[str, object]:
    data = f"notice {i}\n".encode()
    return document_fields(data, doc=f"d-{i}", kind="other", title=f"t{i}", issuer="i",
                           issued=None, media_type="text/plain").fields.to_dict()


def _log(signer: Signer, n: int) -> Log:
    log = Log(MemoryStore(), ORIGIN)
    if n:
        with log.writer(signer) as head:
            log.append(head, [_fields(i) for i in range(n)], signer,
                       recorded="2026-01-01T00:00:00Z")
    return log


def test_a_log_on_a_memory_store_appends_releases_and_verifies(
    signer: Signer, verifiers: list[VerifierKey]
) -> None:
    log = _log(signer, 5)
    head = log.head(verifiers)
    assert head.size == 5 and head.checkpoint is not None
    assert log.tree_hash(5) == head.checkpoint.root_hash
    for seq in range(5):
        entry = log.verified_entry(seq, head.checkpoint, verifiers)
        assert isinstance(entry, Entry) and entry.seq == seq and entry.doc == f"d-{seq}"
    with pytest.raises(NotFoundError):
        log.verified_entry(5, head.checkpoint, verifiers)
    first = log.release(signer)
    assert first.created and first.size == 5 and log.release(signer).created is False
    with log.writer(signer) as head:
        log.append(head, [_fields(5)], signer, recorded="2026-01-02T00:00:00Z")
    log.release(signer)
    cp, chain = log.release_chain(verifiers)
    assert cp is not None and [c.size for c in chain] == [5, 6] and log.releases() == [5, 6]
    report = Auditor(log, verifiers, None, check_objects=False).run()
    assert report.ok and report.size == 6 and report.releases == (5, 6)


def test_the_log_refuses_a_writer_of_another_log(signer: Signer) -> None:
    log = _log(signer, 1)
    with pytest.raises(SignatureError, match="cannot sign"), log.writer(
        Signer.generate("other.example/log")
    ):
        pass


def test_a_lost_checkpoint_swap_is_a_conflict_not_a_fork(
    signer: Signer, verifiers: list[VerifierKey]
) -> None:
    log = _log(signer, 1)
    with log.writer(signer) as head:
        log.append(head, [_fields(1)], signer, recorded="2026-01-01T00:00:00Z")
        with pytest.raises(ConflictError):  # the same head again: the swap names a stale one
            log.append(head, [_fields(2)], signer, recorded="2026-01-01T00:00:00Z")
    assert log.head(verifiers).size == 2


def test_repair_cuts_what_an_interrupted_append_left(
    signer: Signer, verifiers: list[VerifierKey]
) -> None:
    log = _log(signer, 2)
    log.store.append_record(ENTRIES, b'{"debris":1}\n', at=log.store.record_size(ENTRIES))
    assert log.repair() == {ENTRIES: len(b'{"debris":1}\n')}
    assert Auditor(log, verifiers, None, check_objects=False).run().ok


def test_batch_signer_gives_the_same_signatures_without_mutating_a_frozen_instance(
    signer: Signer,
) -> None:
    batch = BatchSigner.of(signer)
    assert isinstance(batch, BatchSigner) and (batch.name, batch.seed) == (signer.name, signer.seed)
    message = b"orderarchive test message\n"
    assert batch.sign(message) == signer.sign(message)
    assert batch.verifier() == signer.verifier()
    assert ed25519_verify(signer.public_key, message, batch.sign(message))
    assert not ed25519_verify(signer.public_key, message + b"x", batch.sign(message))
    assert not ed25519_verify(signer.public_key[:31], message, batch.sign(message))
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        batch._key = None  # type: ignore[misc, assignment]
    source = (SRC / "log" / "note.py").read_text() + (SRC / "archive.py").read_text()
    assert "object.__setattr__" not in source


def test_the_audit_and_the_log_load_without_the_recipe_layer() -> None:
    code = ("import sys, orderarchive.log.audit, orderarchive.log.log, orderarchive.log.tlogproof\n"
            "print(' '.join(sorted(m for m in sys.modules if m.startswith('orderarchive'))))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True).stdout.split()
    assert "orderarchive.log.audit" in loaded
    for recipe in ("orderarchive.archive", "orderarchive.proofs", "orderarchive.index",
                   "orderarchive.citations", "orderarchive.documents"):
        assert recipe not in loaded, recipe


def test_nothing_above_the_store_names_a_file_of_it() -> None:
    # The recipe layer reaches the archive through the Store interface only: no member name
    # joined to a directory, no index beside the archive (issue 11: the index lives in the
    # user's cache), no special case of the directory store.
    for name in ("archive.py", "index.py", "status.py", "proofs.py", "releaselog.py"):
        code = (SRC / name).read_text()
        assert re.search(r"(root|path|directory)\s*/\s*(CONFIG|ENTRIES|OFFSETS|HASHES|"
                         r"CHECKPOINT|RELEASES|\"(log|objects|releases|checkpoint|index))",
                         code) is None, name
        assert "isinstance(self.store, FileStore)" not in code, name
        assert ".members()" not in code and "store.root" not in code, name
    assert CONFIG == "orderarchive.json"
