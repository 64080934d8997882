from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import ORIGIN, STORE_KINDS, directory_only, text_request
from orderarchive.archive import (
    CHECKPOINT,
    ENTRIES,
    HASHES,
    OFFSETS,
    Archive,
    ArchiveVerificationError,
)
from orderarchive.errors import (
    ArchiveNotFoundError,
    ConflictError,
    MalformedError,
    NotFoundError,
    SignatureError,
    VerificationError,
)
from orderarchive.log import merkle
from orderarchive.log.checkpoint import open_checkpoint
from orderarchive.log.note import Signer, VerifierKey


@pytest.fixture(params=STORE_KINDS)
def store_kind(request: pytest.FixtureRequest) -> str:
    """Every test here runs on each storage implementation (issue 13 item 2)."""
    return str(request.param)


def test_add_release_verify(
    make_archive: Callable[..., Archive], signer: Signer, verifiers: list[VerifierKey]
) -> None:
    archive = make_archive(5)
    report = archive.verify(verifiers)
    assert report.ok and report.size == 5 and report.releases == (5,)
    assert report.signatures_checked == 5 and report.unreleased == 0
    archive.add([text_request(10)], signer)
    report = archive.verify(verifiers)
    assert report.size == 6 and report.unreleased == 1
    cp, _ = open_checkpoint(archive.release_note(5), verifiers, origin=ORIGIN)
    assert cp.root_hash == archive.tree_hash(5)


def test_log_bytes_are_the_merkle_leaves(make_archive: Callable[..., Archive]) -> None:
    archive = make_archive(7)
    lines = archive.store.read(ENTRIES).split(b"\n")[:-1]
    assert len(lines) == 7
    assert merkle.root_of([merkle.leaf_hash(line) for line in lines]) == archive.tree_hash(7)
    assert archive.store.record_size(HASHES) == merkle.stored_hash_count(7) * 32
    assert archive.store.record_size(OFFSETS) == 7 * 8


def test_release_is_idempotent_and_extends(
    make_archive: Callable[..., Archive], signer: Signer
) -> None:
    archive = make_archive(2)
    again = archive.release(signer)
    assert not again.created and again.size == 2
    archive.add([text_request(3)], signer)
    assert archive.release(signer).size == 3
    assert archive.releases() == [2, 3]


@directory_only
def test_release_refuses_a_fork(make_archive: Callable[..., Archive], signer: Signer) -> None:
    archive = make_archive(2)
    other = make_archive(0)
    other.add([text_request(i, doc=f"o{i}", body=f"Other text {i}.\n") for i in range(2)], signer)
    other.release(signer)
    # The recorded release 2 replaced by a validly signed release of another tree of size 2.
    shutil.copy(other.path / "releases" / "2", archive.path / "releases" / "2")
    archive.add([text_request(3, doc="x"), text_request(4, doc="y")], signer)
    with pytest.raises(VerificationError, match="does not extend"):
        archive.release(signer)


@directory_only
def test_release_chain_detects_deleted_and_unrecorded_releases(
    make_archive: Callable[..., Archive], signer: Signer, verifiers: list[VerifierKey]
) -> None:
    archive = make_archive(2)
    archive.add([text_request(5)], signer)
    archive.release(signer)
    archive.add([text_request(6)], signer)
    archive.release(signer)
    assert archive.head().latest_release == 4
    assert archive.verify(verifiers).releases == (2, 3, 4)
    saved = (archive.path / "releases" / "3").read_bytes()
    (archive.path / "releases" / "3").unlink()
    assert {p.code for p in archive.audit(verifiers).problems} == {"release-missing"}
    (archive.path / "releases" / "3").write_bytes(saved)
    # An interrupted release: the release file exists, the checkpoint does not name it yet.
    archive.add([text_request(7)], signer)
    head = archive.head()
    archive.release(signer)
    (archive.path / "checkpoint").write_bytes(head.note or b"")
    assert {p.code for p in archive.audit(verifiers).problems} == {"release-unrecorded"}
    assert archive.release(signer).size == 5  # re-running completes it
    assert archive.verify(verifiers).releases == (2, 3, 4, 5)


def test_duplicate_document_id_and_content_refused(archive: Archive, signer: Signer) -> None:
    before = archive.store.read(ENTRIES)
    with pytest.raises(ConflictError, match="already in the archive"):
        archive.add([text_request(99, doc="eo-1")], signer)
    with pytest.raises(ConflictError, match="already archived"):
        archive.add([text_request(1, doc="new-id")], signer)
    with pytest.raises(NotFoundError, match="related document"):
        archive.add([text_request(50, relations=(("amends", "nope"),))], signer)
    assert archive.store.read(ENTRIES) == before


def test_wrong_key_cannot_write(archive: Archive) -> None:
    before = archive.store.read(CHECKPOINT)
    with pytest.raises(SignatureError):
        archive.add([text_request(9)], Signer.generate("someone.else/log"))
    with pytest.raises(SignatureError):
        archive.add([text_request(9)], Signer.generate(ORIGIN))  # same name, other key
    assert archive.store.read(CHECKPOINT) == before


def test_untrusted_verifier_fails(archive: Archive) -> None:
    report = archive.audit([Signer.generate(ORIGIN).verifier()])
    assert not report.ok
    assert {p.code for p in report.problems} >= {"checkpoint", "signature", "release"}
    with pytest.raises(ArchiveVerificationError):
        archive.verify([])


@directory_only
def test_uncommitted_tail_is_reported_and_repaired(
    archive: Archive, signer: Signer, verifiers: list[VerifierKey]
) -> None:
    committed = {n: archive.store.read(n) for n in (ENTRIES, OFFSETS, HASHES)}
    # Simulate a crash after the log appends but before the checkpoint swap.
    for name, junk in ((ENTRIES, b'{"partial'), (OFFSETS, b"\0" * 8), (HASHES, b"\1" * 32)):
        with open(archive.path / name, "ab") as f:
            f.write(junk)
    report = archive.audit(verifiers)
    assert not report.ok and {p.code for p in report.problems} == {"uncommitted"}
    assert "orderarchive repair" in report.problems[0].message
    cut = archive.repair()
    assert set(cut) == {ENTRIES, OFFSETS, HASHES}
    assert {n: archive.store.read(n) for n in committed} == committed
    assert archive.verify(verifiers).ok
    archive.add([text_request(7)], signer)  # and appends go on
    assert archive.verify(verifiers).size == 4


@directory_only
def test_append_overwrites_debris(
    archive: Archive, signer: Signer, verifiers: list[VerifierKey]
) -> None:
    with open(archive.path / ENTRIES, "ab") as f:
        f.write(b"garbage from a crash")
    archive.add([text_request(8)], signer)
    assert archive.verify(verifiers).size == 4


def test_init_and_open_errors(tmp_path: Path) -> None:
    with pytest.raises(ArchiveNotFoundError):
        Archive.open(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ArchiveNotFoundError):
        Archive.open(tmp_path / "empty")
    with pytest.raises(MalformedError):
        Archive.init(tmp_path / "x", "https://bad origin")
    Archive.init(tmp_path / "ok", ORIGIN)
    with pytest.raises(ConflictError):
        Archive.init(tmp_path / "ok", ORIGIN)
    (tmp_path / "ok" / "orderarchive.json").write_bytes(b'{"format":"nope"}\n')
    with pytest.raises(MalformedError):
        Archive.open(tmp_path / "ok")


@directory_only
def test_entry_lookup_checks_leaf_hash(archive: Archive) -> None:
    assert archive.entry(1).doc == "eo-1"
    with pytest.raises(NotFoundError):
        archive.entry(3)
    data = bytearray(archive.store.read(ENTRIES))
    data[data.index(b"eo-1")] ^= 1
    (archive.path / ENTRIES).write_bytes(bytes(data))
    with pytest.raises(VerificationError):
        archive.entry(1)
