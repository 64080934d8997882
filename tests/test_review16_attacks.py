"""Review 16: adversarial checks of this stop's speed changes to ``add`` (issue 16).

Each test attacks one fast path and compares it with the rule it replaces, or checks that a
hostile archive tree is refused without writing outside it or leaving temporaries."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import resource
import sys
import time
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import orderarchive.log.store as store_module
from conftest import ORIGIN, text_request
from orderarchive import canonical
from orderarchive.archive import Archive
from orderarchive.errors import CanonicalJSONError, ConflictError, LostRaceError, StorageError
from orderarchive.index import Index, index_path
from orderarchive.log.entry import AddRequest
from orderarchive.log.layout import object_name
from orderarchive.log.log import Log
from orderarchive.log.note import Signer, VerifierKey
from orderarchive.log.store import BATCH_SYNC_MIN, FileStore
from orderarchive.log.textlayer import normalise_paragraph, split_paragraphs

# -- 1. create_many through directory descriptors ----------------------------------------------


def _items(n: int, tag: str = "") -> list[tuple[str, bytes]]:
    blobs = (f"{tag}{i}".encode() for i in range(n))
    return [(object_name(hashlib.sha256(b).hexdigest()), b) for b in blobs]


def _temporaries(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.endswith(".tmp")]


@pytest.mark.parametrize("level", [1, 2, 3])
@pytest.mark.parametrize("what", ["link", "file"])
def test_a_batch_refuses_a_link_or_file_at_any_level(
    tmp_path: Path, level: int, what: str
) -> None:
    root = tmp_path / "s"
    root.mkdir()
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "sha256" / "aa").mkdir(parents=True)
    items = _items(BATCH_SYNC_MIN * 4)
    target = Path(items[0][0]).parts[:level]
    (root / Path(*target[:-1])).mkdir(parents=True, exist_ok=True)
    planted = root / Path(*target)
    if what == "link":
        os.symlink(elsewhere, planted, target_is_directory=True)
    else:
        planted.write_bytes(b"not a directory")
    with pytest.raises(StorageError):
        FileStore(root).create_many(items)
    assert [p for p in elsewhere.rglob("*") if p.is_file()] == []
    assert _temporaries(root) == []


def test_a_directory_swapped_for_a_link_mid_batch_is_never_written_through(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "s"
    root.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    items = _items(BATCH_SYNC_MIN * 4)
    real = store_module._write_in
    calls: list[str] = []

    def swapping(directory: int, name: str, data: bytes) -> None:
        calls.append(name)
        if len(calls) == 2:
            (root / "objects").rename(tmp_path / "moved")
            os.symlink(elsewhere, root / "objects", target_is_directory=True)
        real(directory, name, data)

    monkeypatch.setattr(store_module, "_write_in", swapping)
    with contextlib.suppress(StorageError):
        FileStore(root).create_many(items)
    assert list(elsewhere.rglob("*")) == []
    assert _temporaries(tmp_path) == []


def test_an_existing_object_with_other_content_is_a_conflict_and_kept(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    items = _items(BATCH_SYNC_MIN * 3)
    name, _ = items[5]
    store.create(name, b"other bytes")
    with pytest.raises(ConflictError):
        store.create_many(items)
    assert store.read(name) == b"other bytes"
    assert _temporaries(tmp_path) == []


def test_a_temporary_name_taken_by_someone_else_is_neither_used_nor_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = FileStore(tmp_path)
    items = _items(BATCH_SYNC_MIN * 3)
    monkeypatch.setattr(time, "monotonic_ns", lambda: 1000)
    name = items[4][0]
    directory, leaf = name.rsplit("/", 1)
    (tmp_path / directory).mkdir(parents=True)
    theirs = tmp_path / directory / f".{leaf}.{os.getpid()}.{1004}.tmp"
    theirs.write_bytes(b"another writer's temporary")
    with contextlib.suppress(StorageError):
        store.create_many(items)
    assert theirs.read_bytes() == b"another writer's temporary"
    assert [p for p in _temporaries(tmp_path) if p != theirs] == []
    for n, data in items:  # whatever was created holds exactly its bytes
        if (tmp_path / n).exists():
            assert store.read(n) == data


def test_an_interrupted_batch_removes_its_temporaries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = store_module._write_in
    calls: list[str] = []

    def interrupted(directory: int, name: str, data: bytes) -> None:
        calls.append(name)
        if len(calls) == 5:
            raise KeyboardInterrupt
        real(directory, name, data)

    monkeypatch.setattr(store_module, "_write_in", interrupted)
    with pytest.raises(KeyboardInterrupt):
        FileStore(tmp_path).create_many(_items(BATCH_SYNC_MIN * 3))
    assert _temporaries(tmp_path) == []


def test_without_syncfs_each_object_is_fsynced_before_its_name_and_the_names_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/FORMAT.md §1: an object's bytes are durable before its final name exists, and
    the names (with every new directory's entry up to the root) before create_many returns."""
    monkeypatch.setattr(store_module, "_syncfs", None)
    events: list[tuple[str, object]] = []
    real_fsync, real_link = os.fsync, os.link

    def fsync(fd: int) -> None:
        st = os.fstat(fd)
        events.append(("fsync", (st.st_dev, st.st_ino)))
        real_fsync(fd)

    def link(src: object, dst: object, **kw: object) -> None:
        st = os.stat(src, dir_fd=kw.get("src_dir_fd"), follow_symlinks=False)  # type: ignore[arg-type]
        events.append(("link", (st.st_dev, st.st_ino)))
        real_link(src, dst, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "link", link)
    root = tmp_path / "s"
    root.mkdir()
    items = _items(BATCH_SYNC_MIN * 3)
    assert all(FileStore(root).create_many(items))
    monkeypatch.undo()
    links = [i for i, (kind, _) in enumerate(events) if kind == "link"]
    assert len(links) == len(items)
    for i in links:
        assert ("fsync", events[i][1]) in events[:i]
    synced = {ino for kind, ino in events[links[-1]:] if kind == "fsync"}
    directories = {Path(n).parent for n, _ in items} | {Path("objects"), Path("objects/sha256")}
    for d in directories:
        st = os.stat(root / d)
        assert (st.st_dev, st.st_ino) in synced, d
    st = os.stat(root)
    assert (st.st_dev, st.st_ino) in synced


def test_with_syncfs_every_file_system_under_the_archive_is_flushed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """objects/ (or objects/sha256/) mounted from another disk is a real directory, not a
    link: syncfs of the archive's root alone would leave the objects' bytes in the page
    cache while the log names them. Both flushes must reach every file system written."""
    root = tmp_path / "s"
    (root / "objects" / "sha256").mkdir(parents=True)
    mounted = os.stat(root / "objects" / "sha256").st_ino
    real_device = store_module._device
    monkeypatch.setattr(store_module, "_device", lambda fd: (
        -1 if os.fstat(fd).st_ino == mounted else real_device(fd)))
    flushed: list[tuple[int, int]] = []  # (inode of the directory flushed, objects linked)
    linked: list[object] = []
    real_link = os.link
    monkeypatch.setattr(os, "link", lambda *a, **k: linked.append(a) or real_link(*a, **k))
    monkeypatch.setattr(store_module, "_syncfs",
                        lambda fd: flushed.append((os.fstat(fd).st_ino, len(linked))) or 0)
    items = _items(BATCH_SYNC_MIN * 3)
    assert all(FileStore(root).create_many(items))
    top = os.stat(root).st_ino
    assert set(flushed) == {(top, 0), (mounted, 0), (top, len(items)), (mounted, len(items))}


def test_a_batch_over_every_directory_fits_a_small_descriptor_limit(tmp_path: Path) -> None:
    """macOS's default soft limit is 256 descriptors: a batch of objects in all 256
    objects/sha256/<2>/ directories must not need one open descriptor per directory."""
    items = _items(3000)
    assert len({n.rsplit("/", 1)[0] for n, _ in items}) == 256
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    in_use = len(os.listdir("/proc/self/fd")) if sys.platform.startswith("linux") else 20
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, in_use + 128), hard))
    try:
        created = FileStore(tmp_path).create_many(items)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert all(created)
    assert _temporaries(tmp_path) == []


# -- 3. text normalisation fast paths ----------------------------------------------------------


def _by_the_rule(text: str) -> list[str]:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return [p for p in map(normalise_paragraph, re.split(r"\n[ \t\u00a0]*\n", text)) if p]


_HOSTILE = (
    [chr(c) for c in range(0x00, 0x21)] + [chr(c) for c in range(0x7F, 0xA1)]
    + list("\u1680\u180e\ufeff\u0085\u2028\u2029\u200b\u200c\u200d\u2060\u00ad\u061c")
    + [chr(c) for c in range(0x2000, 0x200B)] + list("\u202f\u205f\u3000\u00a0")
    + list("\u0301\u0308\u0327\u0338\u0344\u0345\u0f73\u1100\u1161\u11a8\uac00\u212b\u2126")
    + list("e\u00e9A\u0041a\u00c5\u1e0a\u0307\u0323\u0958\u2adc\uf900\U0001d15e")
    + ["\n", "\r", "\r\n", "\n\n", " \n", "\n ", "  ", "\n\t\n", "\n\u00a0\n"]
)


@settings(max_examples=1500, deadline=None)
@given(st.lists(st.sampled_from(_HOSTILE) | st.characters(), max_size=40).map("".join))
@example("")
@example("\n\n\n\n")
@example("\r\n\r\r\n")
@example("\u0301a\n\n\u0301b")
@example("a \n\n b")
@example("\u1100\n\u1161")
@example("\u1100\u1161\n\n\u11a8")
def test_split_paragraphs_is_the_rule_for_hostile_text(text: str) -> None:
    assert split_paragraphs(text) == _by_the_rule(text)


def _suspects() -> list[str]:
    """Every assigned character the fast paths must not get wrong: spaces, separators,
    controls and format characters, combining marks, and whatever NFC changes or composes."""
    out = []
    for c in map(chr, range(0x110000)):
        kind = unicodedata.category(c)
        if kind in ("Cn", "Co", "Cs"):
            continue
        if (c.isspace() or kind[0] in "ZCM" or unicodedata.normalize("NFC", c) != c
                or unicodedata.combining(c) or 0x1100 <= ord(c) <= 0x11FF):
            out.append(c)
    return out


def test_split_paragraphs_is_the_rule_for_each_suspect_character_in_every_position() -> None:
    for c in _suspects():
        for text in (c, f"a{c}b", f"a\n{c}\nb", f"a\n\n{c}b", f"{c}\n\na", f"a {c}",
                     f"a\n{c}", f"\u1100\n{c}", f"e{c}\n\n{c}"):
            assert split_paragraphs(text) == _by_the_rule(text), repr(text)


# -- 4. canonical.dumps fast check -------------------------------------------------------------


class _Str(str):
    pass


class _Int(int):
    pass


_REFUSED = [
    2**53, -(2**53), 10**400, 1.0, float("nan"), "\ud800", {"\udc00": 1}, {"k": "\ud800"},
    {1: "a"}, {"é": 1}, [("a", ("\ud800",))], (1, (2, (3, [2**60]))), {"a": [{"b": {1.5}}]},
    b"bytes", {"k": object()},
]


@pytest.mark.parametrize("value", _REFUSED, ids=repr)
def test_dumps_refuses_what_the_full_check_refuses(value: object) -> None:
    with pytest.raises(CanonicalJSONError):
        canonical._check(value)
    with pytest.raises(CanonicalJSONError):
        canonical.dumps(value)


@pytest.mark.parametrize("value", [_Str("x"), {"k": _Str("\ud800")}, {_Str("k"): 1}, _Int(5),
                                   [True, False, _Int(2**60)], {"a": (_Str("y"),)}], ids=repr)
def test_subclasses_are_decided_by_the_full_check(value: object) -> None:
    assert not canonical._valid(value)
    try:
        canonical._check(value)
    except CanonicalJSONError:
        with pytest.raises(CanonicalJSONError):
            canonical.dumps(value)


# -- 2. the index staged during a streaming add ------------------------------------------------


def _chunks(requests: list[AddRequest], size: int) -> Callable[[], Iterator[list[AddRequest]]]:
    return lambda: iter([requests[i : i + size] for i in range(0, len(requests), size)])


def _raw_binding(archive: Archive) -> tuple[int, bytes | None]:
    """The index as the add left it, before any later use brings it up to date."""
    location = archive.store.location()
    assert location is not None
    raw = Index.open(index_path(location, ORIGIN))
    try:
        bound = raw.binding()
        docs = sorted(d.doc for d in map(raw.by_seq, range(bound.size)) if d is not None)
    finally:
        raw.close()
    assert len(docs) == bound.size
    return bound.size, bound.root


def _rows(archive: Archive, verifiers: list[VerifierKey]) -> list[tuple[object, ...]]:
    with archive.index(verifiers, full_text=False) as idx:
        return [(d.seq, d.doc, d.sha256) for d in map(idx.by_seq, range(idx.state()[0]))
                if d is not None]


def _consistent(archive: Archive, verifiers: list[VerifierKey], tmp_path: Path,
                monkeypatch: pytest.MonkeyPatch) -> None:
    """The index the add left is bound to the root of the signed tree at its size, and once
    brought up to date it equals an index rebuilt from the log in another cache."""
    size, root = _raw_binding(archive)
    assert root == archive.tree_hash(size)
    assert size <= archive.head(verifiers).checkpoint.size
    rows = _rows(archive, verifiers)
    monkeypatch.setenv("ORDERARCHIVE_CACHE", str(tmp_path / "rebuilt"))
    assert _rows(Archive.open(archive.store.root), verifiers) == rows
    assert archive.verify(verifiers).size == len(rows)


@pytest.fixture
def three(tmp_path: Path, signer: Signer) -> Archive:
    archive = Archive.init(tmp_path / "archive", ORIGIN)
    archive.add([text_request(i) for i in range(3)], signer)
    return archive


def test_a_write_failing_in_a_middle_batch_leaves_the_index_as_it_was(
    three: Archive, signer: Signer, verifiers: list[VerifierKey], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = Log._write_chunk
    calls: list[int] = []

    def failing(self: Log, *args: object) -> None:
        calls.append(1)
        if len(calls) == 2:
            raise StorageError("disk full (test)")
        real(self, *args)  # type: ignore[arg-type]

    with monkeypatch.context() as m:
        m.setattr(Log, "_write_chunk", failing)
        with pytest.raises(StorageError):
            three.add_chunks(_chunks([text_request(i) for i in range(3, 350)], 100), signer)
    assert _raw_binding(three) == (3, three.head(verifiers).checkpoint.root_hash)
    _consistent(three, verifiers, tmp_path, monkeypatch)


@pytest.mark.parametrize("when", ["before the swap", "after the swap"])
def test_ctrl_c_at_the_swap_leaves_an_index_of_the_signed_tree(  # noqa: PLR0917
    three: Archive, signer: Signer, verifiers: list[VerifierKey], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, when: str,
) -> None:
    real, write = FileStore.swap_checkpoint, Log._write_chunk
    calls: list[int] = []

    def interrupted(self: FileStore, expected: object, new: bytes) -> None:
        real(self, expected, new)  # type: ignore[arg-type]
        raise KeyboardInterrupt

    def writing(self: Log, *args: object) -> None:  # Ctrl-C as a middle chunk ends
        write(self, *args)  # type: ignore[arg-type]
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt

    with monkeypatch.context() as m:
        if when == "after the swap":
            m.setattr(FileStore, "swap_checkpoint", interrupted)
        else:
            m.setattr(Log, "_write_chunk", writing)
        with pytest.raises(KeyboardInterrupt):
            three.add_chunks(_chunks([text_request(i) for i in range(3, 350)], 100), signer)
    assert _raw_binding(three)[0] == 3  # rolled back: the read-back never happened
    _consistent(three, verifiers, tmp_path, monkeypatch)
    assert three.head(verifiers).checkpoint.size == (350 if when == "after the swap" else 3)


def test_a_lost_race_retried_indexes_only_the_committed_attempt(
    three: Archive, signer: Signer, verifiers: list[VerifierKey], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = FileStore.swap_checkpoint
    calls: list[int] = []

    def losing(self: FileStore, expected: object, new: bytes) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise LostRaceError("another writer committed first (test)")
        real(self, expected, new)  # type: ignore[arg-type]

    with monkeypatch.context() as m:
        m.setattr(FileStore, "swap_checkpoint", losing)
        added = three.add_chunks(_chunks([text_request(i) for i in range(3, 350)], 100),
                                 signer, retries=1)
    assert (added.start, added.end, len(calls)) == (3, 350, 2)
    assert _raw_binding(three) == (350, three.head(verifiers).checkpoint.root_hash)
    _consistent(three, verifiers, tmp_path, monkeypatch)


def test_a_checkpoint_of_another_tree_read_back_is_not_what_the_index_is_bound_to(
    three: Archive, signer: Signer, verifiers: list[VerifierKey], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The read-back checkpoint is validly signed, of the same size, but of another tree (a
    fork by the same key): the staged rows must not be committed under it."""
    fork = Archive.init(tmp_path / "fork", ORIGIN)
    fork.add([text_request(i) for i in range(3)], signer)
    fork.add([text_request(i) for i in range(1003, 1350)], signer)
    forked = fork.head(verifiers)
    commits: list[bool] = []
    real_release = Index.release
    with monkeypatch.context() as m:
        m.setattr(Index, "release", lambda self, *, commit: commits.append(commit)
                  or real_release(self, commit=commit))
        real_append = Log.append_stream

        def appended(self: Log, *args: object, **kw: object) -> object:
            streamed = real_append(self, *args, **kw)  # type: ignore[arg-type]
            m.setattr(three, "head", lambda verifiers=None: forked)  # read back: the fork
            return streamed

        m.setattr(Log, "append_stream", appended)
        three.add_chunks(_chunks([text_request(i) for i in range(3, 350)], 100), signer)
    assert True not in commits
    _consistent(three, verifiers, tmp_path, monkeypatch)
    assert _raw_binding(three)[1] != forked.checkpoint.root_hash
