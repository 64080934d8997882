"""Review of issue 15's incremental verify: what it must not accept (key sets, old releases)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import text_request
from orderarchive.archive import Archive
from orderarchive.log import merkle
from orderarchive.log.keyset import read_trust
from orderarchive.log.layout import HASHES
from orderarchive.log.note import Signer, VerifierKey
from orderarchive.verified import audit_incrementally, remember_verified
from test_keyset_index import _resign_head, keyset_archive
from test_keyset_log import NOW, ORIGIN, SUCCESSOR, TRUST, WRITER


def test_incremental_verify_under_key_sets_checks_the_key_set_index(tmp_path: Path) -> None:
    """The latest checkpoint names the key sets before the remembered state too: they are
    not re-read, and an incremental verify of a sound archive must not fail on them."""
    a, _ = keyset_archive(tmp_path / "a", documents=3)
    history = a.key_history(read_trust(TRUST, ORIGIN))
    first = audit_incrementally(a, history, workers=1)
    assert first.report.ok, first.report.problems
    assert remember_verified(first) is not None
    a.add([text_request(50)], SUCCESSOR, now=NOW)
    history = a.key_history(read_trust(TRUST, ORIGIN))
    run = audit_incrementally(a, history, workers=1)
    assert run.incremental
    assert run.report.ok, run.report.problems


def test_a_checkpoint_hiding_an_old_key_set_is_not_verified_incrementally(
        tmp_path: Path) -> None:
    """The holder of a rotated-out log key re-signs the head naming only key set 1: the key
    history read by lookup changes, so the remembered state is not used, and the full read
    finds the hidden key set."""
    a, at = keyset_archive(tmp_path / "a", documents=3)
    first = audit_incrementally(a, a.key_history(read_trust(TRUST, ORIGIN)), workers=1)
    assert first.report.ok and remember_verified(first) is not None
    _resign_head(tmp_path / "a", (f"orderarchive.keysets {at[0]}",), WRITER)
    run = audit_incrementally(a, a.key_history(read_trust(TRUST, ORIGIN)), workers=1)
    assert not run.incremental
    assert any(p.code == "keyset-index" for p in run.report.problems), run.report.problems


def test_an_old_release_of_a_forked_tree_is_not_verified_incrementally(
    make_archive: Callable[..., Archive], signer: Signer, verifiers: list[VerifierKey]
) -> None:
    """Someone who can write the archive puts a signed release of another tree (a split view
    of the same log key) in place of an old release, and the stored hashes its tree hash is
    computed from: the incremental verify did not re-check those hashes, so it must not take
    the release's root from them."""
    a = make_archive(3)
    a.add([text_request(i) for i in range(3, 6)], signer)
    a.release(signer)
    fork = make_archive(0)
    fork.add([text_request(i + 100) for i in range(3)], signer)
    fork.release(signer)
    first = audit_incrementally(a, verifiers, workers=1)
    assert first.report.ok and remember_verified(first) is not None
    assert a.path is not None and fork.path is not None
    (a.path / "releases/3").write_bytes((fork.path / "releases/3").read_bytes())
    hashes = bytearray((a.path / HASHES).read_bytes())
    theirs = (fork.path / HASHES).read_bytes()
    for i in (merkle.stored_hash_index(1, 0), merkle.stored_hash_index(0, 2)):
        hashes[i * 32:(i + 1) * 32] = theirs[i * 32:(i + 1) * 32]
    os.chmod(a.path / HASHES, 0o644)
    (a.path / HASHES).write_bytes(bytes(hashes))
    run = audit_incrementally(a, verifiers, workers=1)
    assert not run.report.ok, "a release of a forked tree was accepted"
    assert 3 not in run.report.releases


def test_who_signed_what_is_not_read_from_old_entries_changed_since(tmp_path: Path) -> None:
    """verify's list of which key signed which entries reads every entry; after an
    incremental verify, the entries before the remembered state were not re-read, so an
    old entry whose signer field was rewritten (signature not checked again) must not be
    reported as signed by the key it now names."""
    from orderarchive.cli.verify import _who_signed
    from orderarchive.errors import VerificationError

    a, _ = keyset_archive(tmp_path / "a", documents=3)
    first = audit_incrementally(a, a.key_history(read_trust(TRUST, ORIGIN)), workers=1)
    assert first.report.ok and remember_verified(first) is not None
    assert a.path is not None
    entries = a.path / "log/entries"
    lines = entries.read_bytes().split(b"\n")
    writer = f"{WRITER.name}+{WRITER.verifier().key_hash_hex}".encode()
    successor = f"{SUCCESSOR.name}+{SUCCESSOR.verifier().key_hash_hex}".encode()
    assert writer in lines[1] and len(writer) == len(successor)
    lines[1] = lines[1].replace(writer, successor)
    os.chmod(entries, 0o644)
    entries.write_bytes(b"\n".join(lines))
    history = a.key_history(read_trust(TRUST, ORIGIN))
    run = audit_incrementally(a, history, workers=1)
    assert run.incremental and run.report.ok  # old entries are not re-read (by design)
    with pytest.raises(VerificationError, match="do not hash to the verified root"):
        _who_signed(a, history, run.report)
