"""The store on a hostile file system: no write follows a link out of the archive, reads are
bounded before they start, and every directory whose entries change is fsynced before the
checkpoint that commits them (issue 11 items 4, 5 and 10)."""

from __future__ import annotations

import os
import struct
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import ORIGIN, text_request
from orderarchive.archive import Archive, decimal_size
from orderarchive.errors import NotFoundError, StorageError
from orderarchive.log import store as store_module
from orderarchive.log.note import Signer
from orderarchive.log.store import MAX_RANGE_BYTES, FileStore

# -- writes never leave the archive ---------------------------------------------------------


def _outside(tmp_path: Path) -> Path:
    outside = tmp_path / "outside"
    outside.mkdir()
    return outside


def _snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize("member", ["objects", "objects/sha256", "log", "log/entries",
                                    "log/offsets", "log/hashes", "checkpoint"])
def test_add_refuses_to_write_through_a_link(
    make_archive: Callable[..., Archive], signer: Signer, tmp_path: Path, member: str
) -> None:
    archive = make_archive(2)
    assert archive.path is not None
    outside = _outside(tmp_path)
    target = archive.path / member
    moved = outside / "moved"
    target.rename(moved)
    target.symlink_to(moved)
    before = _snapshot(outside)
    with pytest.raises(StorageError, match="symbolic link"):
        archive.add([text_request(7)], signer)
    assert _snapshot(outside) == before  # nothing written, created or replaced out there


def test_new_object_directory_through_a_link_is_refused(
    make_archive: Callable[..., Archive], signer: Signer, tmp_path: Path
) -> None:
    """A link planted where the next object's ``objects/sha256/<xx>/`` will be created."""
    archive = make_archive(1)
    assert archive.path is not None
    outside = _outside(tmp_path)
    request = text_request(9)
    (archive.path / "objects/sha256" / request.fields.sha256[:2]).symlink_to(outside)
    with pytest.raises(StorageError, match="symbolic link"):
        archive.add([request], signer)
    assert list(outside.iterdir()) == []


def test_release_refuses_a_linked_release_file(
    make_archive: Callable[..., Archive], signer: Signer, tmp_path: Path
) -> None:
    archive = make_archive(2, release=False)
    assert archive.path is not None
    outside = _outside(tmp_path)
    (archive.path / "releases").symlink_to(outside)
    with pytest.raises(StorageError, match="symbolic link"):
        archive.release(signer)
    assert list(outside.iterdir()) == []


def test_repair_does_not_truncate_through_a_link(
    make_archive: Callable[..., Archive], tmp_path: Path
) -> None:
    archive = make_archive(2)
    assert archive.path is not None
    outside = _outside(tmp_path) / "victim"
    outside.write_bytes(b"x" * 100_000)
    entries = archive.path / "log/entries"
    entries.unlink()
    entries.symlink_to(outside)
    with pytest.raises(StorageError):
        archive.repair()
    assert outside.read_bytes() == b"x" * 100_000


# -- bounded reads ----------------------------------------------------------------------------


def test_reads_refuse_links_fifos_and_oversized_members(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    (tmp_path / "real").write_bytes(b"data")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "dir").mkdir()
    with (tmp_path / "big").open("wb") as f:
        f.truncate(4 << 20)  # sparse
    assert store.read("real") == b"data"
    with pytest.raises(StorageError, match="symbolic link"):
        store.read("link")
    with pytest.raises(StorageError, match="not a regular file"):
        store.read("fifo")  # refused without blocking on the FIFO
    with pytest.raises(StorageError, match="directory"):
        store.read("dir")
    with pytest.raises(StorageError, match="limit"):
        store.read("big")  # above the 1 MiB default for members
    with pytest.raises(StorageError, match="limit"):
        store.read("real", limit=3)
    with pytest.raises(NotFoundError):
        store.read("missing")
    assert store.exists("link") and store.exists("fifo")  # present: reading says why not
    assert sorted(store.list("dir")) == []


@pytest.mark.parametrize(
    ("offset", "length"), [(2**62, 8), (0, 2**62), (-1, 8), (0, MAX_RANGE_BYTES + 1), (3, 8)]
)
def test_range_reads_are_checked_before_reading(tmp_path: Path, offset: int, length: int) -> None:
    (tmp_path / "f").write_bytes(b"0123456789")
    with pytest.raises(StorageError):
        FileStore(tmp_path).read_range("f", offset, length)


def test_a_linked_directory_is_refused_on_read(tmp_path: Path) -> None:
    outside = _outside(tmp_path)
    (outside / "x").write_bytes(b"secret")
    root = tmp_path / "root"
    root.mkdir()
    (root / "objects").symlink_to(outside)
    with pytest.raises(StorageError, match="symbolic link"):
        FileStore(root).read("objects/x")
    with pytest.raises(StorageError, match="symbolic link"):
        FileStore(root).list("objects")


@pytest.mark.parametrize(
    ("text", "value"),
    [("0", 0), ("17", 17), ("18446744073709551615", 2**64 - 1), ("²", None), ("٣", None),
     ("01", None), ("-1", None), ("18446744073709551616", None), ("", None), ("1 ", None)],
)
def test_release_names_are_ascii_decimals(text: str, value: int | None) -> None:
    assert decimal_size(text) == value


def test_a_superscript_release_name_is_a_problem_not_a_crash(
    make_archive: Callable[..., Archive], verifiers: list[object]
) -> None:
    archive = make_archive(2)
    assert archive.path is not None
    (archive.path / "releases" / "²").write_bytes((archive.path / "releases/2").read_bytes())
    assert archive.releases() == [2]
    report = archive.audit(verifiers)  # type: ignore[arg-type]
    messages = [p.message for p in report.problems]
    assert messages == ["unexpected file 'releases/\\xb2' among releases"]


def test_a_huge_entry_span_is_refused_unread(make_archive: Callable[..., Archive]) -> None:
    archive = make_archive(2)
    assert archive.path is not None
    offsets = archive.path / "log/offsets"
    data = bytearray(offsets.read_bytes())
    data[0:8] = (200 * 2**20).to_bytes(8, "big")
    offsets.write_bytes(bytes(data))
    with pytest.raises(StorageError, match="offsets are corrupt"):
        archive.entry(0)


# -- durability: directory entries are fsynced before the checkpoint -------------------------


class _Recorder:
    """Wraps os.open, os.fsync and os.replace to see which directories are fsynced, and
    when relative to the checkpoint's replacement."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.events: list[tuple[str, str]] = []
        self.paths: dict[int, str] = {}
        real_open, real_fsync, real_replace = os.open, os.fsync, os.replace

        def record_open(path: object, flags: int, *args: object, **kwargs: object) -> int:
            fd = real_open(path, flags, *args, **kwargs)  # type: ignore[arg-type]
            self.paths[fd] = os.path.abspath(os.fspath(path))  # type: ignore[arg-type]
            return fd

        def record_fsync(fd: int) -> None:
            self.events.append(("fsync", self.paths.get(fd, "?")))
            real_fsync(fd)

        def record_replace(src: object, dst: object, **kwargs: object) -> None:
            self.events.append(("replace", os.path.abspath(os.fspath(dst))))  # type: ignore[arg-type]
            real_replace(src, dst, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(os, "open", record_open)
        monkeypatch.setattr(os, "fsync", record_fsync)
        monkeypatch.setattr(os, "replace", record_replace)

    def position(self, kind: str, path: Path) -> int:
        wanted = (kind, os.path.abspath(path))
        assert wanted in self.events, (wanted, self.events)
        return self.events.index(wanted)


@pytest.mark.parametrize("count", [1, 12], ids=["one-object", "batch"])
def test_new_directories_are_fsynced_before_the_checkpoint(
    tmp_path: Path, signer: Signer, monkeypatch: pytest.MonkeyPatch, count: int
) -> None:
    archive = Archive.init(tmp_path / "a", ORIGIN)
    root = tmp_path / "a"
    monkeypatch.setattr(store_module, "_syncfs", None)  # no syncfs: every fsync is visible
    recorder = _Recorder(monkeypatch)
    requests = [text_request(i) for i in range(count)]
    archive.add(requests, signer)
    commit = recorder.position("replace", root / "checkpoint")
    # objects/, objects/sha256/ and log/ are new entries of the root and objects/ ...
    assert recorder.position("fsync", root) < commit
    assert recorder.position("fsync", root / "objects") < commit
    # ... and every new objects/sha256/<xx>/ is an entry of objects/sha256/.
    assert recorder.position("fsync", root / "objects" / "sha256") < commit
    for request in requests:
        xx = root / "objects" / "sha256" / request.fields.sha256[:2]
        assert recorder.position("fsync", xx) < commit


def test_second_add_fsyncs_the_parent_of_a_new_object_directory(
    make_archive: Callable[..., Archive], signer: Signer, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = make_archive(1)
    assert archive.path is not None
    request = text_request(5)
    xx = archive.path / "objects" / "sha256" / request.fields.sha256[:2]
    assert not xx.exists()
    recorder = _Recorder(monkeypatch)
    archive.add([request], signer)
    commit = recorder.position("replace", archive.path / "checkpoint")
    assert recorder.position("fsync", archive.path / "objects" / "sha256") < commit
    assert recorder.position("fsync", xx) < commit


def test_streamed_entries_stop_at_a_line_longer_than_an_entry(
    make_archive: Callable[..., Archive],
) -> None:
    """The first and last entries' offsets look sane, the middle one spans a 50 MB run
    without a newline: the streamed reader (used to rebuild the index) stops after one
    entry's length instead of buffering the run."""
    archive = make_archive(3)
    assert archive.path is not None
    entries, offsets = archive.path / "log/entries", archive.path / "log/offsets"
    first = struct.unpack(">Q", offsets.read_bytes()[:8])[0]
    far = 50 * 2**20
    with entries.open("r+b") as f:
        f.truncate(first)
        f.truncate(far + 10)  # sparse: zeros, no newline
    offsets.write_bytes(struct.pack(">QQQ", first, far, far + 10))
    with pytest.raises(StorageError, match="longer than"):
        list(archive.iter_entries(0, 3))


def test_a_batch_checks_each_directory_once_and_still_refuses_a_link(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Issue 15: every object of a batch re-checked every level of its directory (six lstat
    # calls); a batch of thousands shares 256 directories. Checked once per batch, a link
    # planted before the batch is still refused.
    import hashlib

    from orderarchive.log.layout import object_name

    store = FileStore(tmp_path / "s")
    (tmp_path / "s").mkdir()
    blobs = (b"%d" % i for i in range(100_000))
    items = [(object_name(hashlib.sha256(b).hexdigest()), b) for b in blobs
             if hashlib.sha256(b).digest()[0] < 4][:200]  # 200 objects in 4 directories
    calls = []
    real = os.lstat
    monkeypatch.setattr(os, "lstat", lambda p, *a, **k: calls.append(p) or real(p, *a, **k))
    assert all(store.create_many(items))
    directories = {name.rsplit("/", 1)[0] for name, _ in items}
    assert len(calls) <= len(items) + 6 * len(directories) + 6
    monkeypatch.undo()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    victim = next(name for name in (object_name(hashlib.sha256(b"new%d" % i).hexdigest())
                                    for i in range(10_000))
                  if name.rsplit("/", 1)[0] not in directories)
    os.symlink(elsewhere, tmp_path / "s" / victim.rsplit("/", 1)[0], target_is_directory=True)
    with pytest.raises(StorageError, match="symbolic link"):
        store.create_many([*items[:40], (victim, b"new")])
    assert list(elsewhere.iterdir()) == []
