"""The storage interface's contract, held by both implementations (issue 13 item 2):
create-only members, the log's records, one checkpoint replaced only by compare-and-swap."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from conftest import STORE_KINDS, new_archive, text_request
from orderarchive.archive import Archive, object_name
from orderarchive.errors import ArchiveNotFoundError, ConflictError, NotFoundError, StorageError
from orderarchive.log.note import Signer, VerifierKey
from orderarchive.log.store import (
    ENTRIES_RECORD,
    HASHES_RECORD,
    MAX_RANGE_BYTES,
    FileStore,
    MemoryStore,
    Store,
)


@pytest.fixture(params=STORE_KINDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    return FileStore(tmp_path) if request.param == "directory" else MemoryStore()


def test_members_are_create_only(store: Store) -> None:
    assert store.create("objects/sha256/ab/cd", b"one") is True
    assert store.create("objects/sha256/ab/cd", b"one") is False  # same bytes: success
    with pytest.raises(ConflictError):
        store.create("objects/sha256/ab/cd", b"two")  # other bytes: corruption
    assert store.read("objects/sha256/ab/cd") == b"one"
    assert store.create_many([("releases/1", b"a"), ("objects/sha256/ab/cd", b"one")]) == [
        True, False,
    ]
    with pytest.raises(ConflictError):
        store.create_many([("releases/2", b"b"), ("releases/2", b"c")])
    assert store.list("releases") == ["releases/1"]
    assert store.exists("releases/1") and not store.exists("releases/9")
    with pytest.raises(NotFoundError):
        store.read("releases/9")
    with pytest.raises(StorageError):
        store.read("releases/1", limit=0)  # bounded reads
    with pytest.raises(StorageError):
        store.read("../outside")


def test_chunks_start_with_the_size_asked(store: Store) -> None:
    store.create("objects/x", b"0123456789")
    chunks = list(store.read_chunks("objects/x", 4))
    assert chunks[0] == b"0123" and b"".join(chunks) == b"0123456789"
    with pytest.raises(NotFoundError):
        list(store.read_chunks("objects/missing", 4))


def test_records_append_at_their_committed_length(store: Store) -> None:
    assert store.record_size(ENTRIES_RECORD) == 0
    store.append_record(ENTRIES_RECORD, b"first\n", at=0)
    store.append_record(ENTRIES_RECORD, b"debris", at=6)
    store.append_record(ENTRIES_RECORD, b"second\n", at=6)  # debris past `at` is cut
    assert store.record_size(ENTRIES_RECORD) == 13
    assert store.read_ranges(ENTRIES_RECORD, [(6, 7), (0, 5)]) == [b"second\n", b"first"]
    with store.stream_record(ENTRIES_RECORD) as f:
        assert f.read() == b"first\nsecond\n"
    with pytest.raises(StorageError):
        store.append_record(ENTRIES_RECORD, b"x", at=99)  # a gap is never written
    with pytest.raises(StorageError):
        store.read_range(ENTRIES_RECORD, 10, 10)  # past the end
    with pytest.raises(StorageError):
        store.read_range(ENTRIES_RECORD, 0, MAX_RANGE_BYTES + 1)  # a hostile length
    store.truncate_record(ENTRIES_RECORD, 6)
    assert store.read_range(ENTRIES_RECORD, 0, 6) == b"first\n"
    with pytest.raises(NotFoundError):
        store.read_range(HASHES_RECORD, 0, 32)


def test_checkpoint_is_replaced_only_by_compare_and_swap(store: Store) -> None:
    empty = store.read_checkpoint(1024)
    assert empty.data is None
    store.swap_checkpoint(empty, b"cp 1\n")
    first = store.read_checkpoint(1024)
    assert first.data == b"cp 1\n"
    with pytest.raises(ConflictError, match="another writer committed first"):
        store.swap_checkpoint(empty, b"fork\n")  # a stale version: the swap is lost
    store.swap_checkpoint(first, b"cp 2\n")
    with pytest.raises(ConflictError):
        store.swap_checkpoint(first, b"fork\n")
    assert store.read_checkpoint(1024).data == b"cp 2\n"
    with pytest.raises(StorageError):
        store.read_checkpoint(3)  # bounded


@pytest.mark.parametrize("kind", STORE_KINDS)
def test_a_lost_swap_is_a_conflict_never_a_fork(
    kind: str, tmp_path: Path, signer: Signer, verifiers: list[VerifierKey],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two writers that both skip the lock (locking is an optimisation, not the contract):
    the second to swap the checkpoint gets ConflictError, and the archive holds one history."""
    archive = new_archive(kind, tmp_path / "a")
    archive.add([text_request(0)], signer)
    store = archive.store

    @contextlib.contextmanager
    def no_lock() -> Iterator[None]:
        yield

    monkeypatch.setattr(store, "writer", no_lock)
    rival = Archive(store, archive.config)
    swap: Callable[..., None] = store.swap_checkpoint
    raced = []

    def racing_swap(expected: object, new: bytes) -> None:
        if not raced:  # the rival commits between this writer's read and its swap
            raced.append(True)
            rival.add([text_request(2)], signer)
        swap(expected, new)

    monkeypatch.setattr(store, "swap_checkpoint", racing_swap)
    with pytest.raises(ConflictError, match="another writer committed first"):
        archive.add([text_request(1)], signer)
    monkeypatch.setattr(store, "swap_checkpoint", swap)
    report = archive.verify(verifiers)
    assert report.size == 2
    assert [e.doc for e in archive.iter_entries()] == ["eo-0", "eo-2"]


def test_an_in_memory_archive_has_an_in_memory_index(
    signer: Signer, verifiers: list[VerifierKey]
) -> None:
    archive = Archive.init_store(MemoryStore(), "example.gov/orders")
    archive.add([text_request(0)], signer)
    with archive.index(verifiers) as idx:
        row = idx.by_doc("eo-0")
        assert row is not None and row.seq == 0
    with pytest.raises(ConflictError, match="already in the archive"):
        archive.add([text_request(0)], signer)  # the duplicate check needs the index
    assert Archive.from_store(archive.store).origin == "example.gov/orders"
    with pytest.raises(ArchiveNotFoundError):
        Archive.from_store(MemoryStore())


def test_verify_reads_an_in_memory_archive_through_the_interface(
    signer: Signer, verifiers: list[VerifierKey]
) -> None:
    store = MemoryStore()
    archive = Archive.init_store(store, "example.gov/orders")
    entries = archive.add([text_request(i) for i in range(3)], signer)
    assert archive.verify(verifiers, workers=1).ok
    doc = entries[1].document
    assert doc is not None
    # Damage one stored object behind the interface's back (a bad disk, a hostile mirror).
    store._members[object_name(doc.sha256)] = b"altered"
    report = archive.audit(verifiers, workers=1)
    assert {(p.code, p.seq) for p in report.problems} >= {("object-digest", 1)}
