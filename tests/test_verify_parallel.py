"""The fast paths of issue 6: verify in worker processes, batched object writes, batched reads.

Each fast path must decide exactly as the plain one does. ``audit(workers=2)`` forces the
parallel verifier on archives far below the size where it switches on by itself, so the tamper
mutations of test_tamper run through it too.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import ORIGIN, STORE_KINDS, directory_only, text_request
from orderarchive.archive import ENTRIES, Archive
from orderarchive.errors import (
    ConflictError,
    MalformedError,
    NotFoundError,
    OrderArchiveError,
    SignatureError,
    StorageError,
)
from orderarchive.log import audit as _audit
from orderarchive.log import textlayer
from orderarchive.log.entry import Entry, make_entry
from orderarchive.log.note import Signer, VerifierKey
from orderarchive.log.store import BATCH_SYNC_MIN, FileStore
from orderarchive.log.textlayer import TextLayer
from test_tamper import FLIP_ALL, build, restore, snapshot, structural


@pytest.fixture(params=STORE_KINDS)
def store_kind(request: pytest.FixtureRequest) -> str:
    """Every test here runs on each storage implementation (issue 13 item 2)."""
    return str(request.param)


needs_fork = pytest.mark.skipif(not _audit._can_fork(), reason="parallel verify needs fork")


def codes(archive: Archive, keys: list[VerifierKey], workers: int) -> list[str]:
    return [p.code for p in archive.audit(keys, workers=workers).problems]


@needs_fork
def test_parallel_report_equals_sequential(
    make_archive: Callable[..., Archive], signer: Signer, verifiers: list[VerifierKey]
) -> None:
    archive = make_archive(37)
    archive.add([text_request(100 + i) for i in range(5)], signer)
    one = archive.audit(verifiers, workers=1)
    two = archive.audit(verifiers, workers=2)
    assert one.ok and two.ok
    assert one.to_dict() == two.to_dict()
    assert two.signatures_checked == 42 and two.documents == 42 and two.objects_checked > 42


@needs_fork
@pytest.mark.parametrize("workers", [1, 2])
def test_reused_ids_and_dangling_relations(
    make_archive: Callable[..., Archive],
    signer: Signer,
    verifiers: list[VerifierKey],
    monkeypatch: pytest.MonkeyPatch,
    workers: int,
) -> None:
    archive = make_archive(10)
    # The writer refuses both; a forger with the key would not.
    monkeypatch.setattr(Archive, "_check_new", lambda self, *args: None)
    archive.add([text_request(50, doc="eo-3", body="Other text.\n")], signer)
    archive.add([text_request(51, relations=(("amends", "nope"), ("amends", "eo-2")))], signer)
    archive.add([text_request(52, relations=(("amends", "eo-53"),)),
                 text_request(53, body="Later.\n")], signer)
    problems = archive.audit(verifiers, workers=workers).problems
    assert [(p.code, p.seq) for p in problems] == [
        ("duplicate-id", 10), ("relation", 11), ("relation", 12)
    ]
    assert "'eo-3' reused (entry 3)" in problems[0].message
    assert "'nope'" in problems[1].message and "'eo-53'" in problems[2].message


@needs_fork
@pytest.mark.slow
def test_tamper_sweep_through_the_parallel_verifier(
    tmp_path: Path, signer: Signer, verifiers: list[VerifierKey]
) -> None:
    root = tmp_path / "archive"
    build(root, signer)
    saved = snapshot(root)

    def caught() -> bool:
        try:
            return not Archive.open(root).audit(verifiers, workers=2).ok
        except OrderArchiveError:  # an archive that does not open is caught
            return True

    assert not caught()
    missed: list[str] = []
    for name in FLIP_ALL + tuple(n for n in saved if n.startswith("objects/")):
        for offset in range(0, len(saved[name]), 7):
            data = bytearray(saved[name])
            data[offset] ^= 0x01
            (root / name).write_bytes(data)
            if not caught():
                missed.append(f"{name} byte {offset}")
        (root / name).write_bytes(saved[name])
    for label, mutate in structural(root):
        mutate(root)
        if not caught():
            missed.append(label)
        restore(root, saved)
    assert not missed, missed[:20]


@needs_fork
@directory_only
def test_parallel_verify_reports_a_damaged_log(
    make_archive: Callable[..., Archive], verifiers: list[VerifierKey]
) -> None:
    archive = make_archive(20)
    assert archive.path is not None
    log = archive.path / ENTRIES
    raw = log.read_bytes()
    log.write_bytes(raw.replace(b'"Order 13"', b'"Order X3"'))
    assert set(codes(archive, verifiers, 2)) == set(codes(archive, verifiers, 1)) == {
        "signature", "hashes", "root"
    }
    log.write_bytes(raw[: len(raw) // 2])
    assert "truncated" in codes(archive, verifiers, 2)


def test_verify_uses_workers_by_default_only_for_large_archives(
    make_archive: Callable[..., Archive], verifiers: list[VerifierKey],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    archive = make_archive(5)
    calls: list[int] = []
    original = _audit.Auditor._check_parallel

    def spy(self: _audit.Auditor, size: int, ranges: list[tuple[int, int, int]],
            *rest: Any) -> bytes | None:
        calls.append(len(ranges))
        return original(self, size, ranges, *rest)

    monkeypatch.setattr(_audit.Auditor, "_check_parallel", spy)
    assert archive.verify(verifiers).ok
    assert calls == []
    if _audit._can_fork():
        monkeypatch.setattr(_audit, "PARALLEL_MIN_ENTRIES", 2)
        monkeypatch.setattr(_audit, "default_workers", lambda: 2)
        assert archive.verify(verifiers).ok
        assert calls == [5]


# -- text layers -------------------------------------------------------------------------------

_TRICKY = st.sampled_from(
    ["a", "b", " ", "  ", "\n", "\n\n", "\n\n\n", "\f", "\n\f\n", "\t", "\r", "\x00", "\x85",
     "\u00a0", "\u1680", "\u2028", "\u3000", "e\u0301", "\u00e9", "\u0301", "\x1c", "é"]
)


def _accepted(data: bytes) -> bool:
    try:
        TextLayer.from_bytes(data)
    except MalformedError:
        return False
    return True


@settings(max_examples=3000, deadline=None)
@given(st.lists(_TRICKY, max_size=14).map("".join))
def test_text_layer_check_agrees_with_from_bytes(text: str) -> None:
    data = text.encode("utf-8")
    assert textlayer.text_layer_ok(data) == _accepted(data)
    assert textlayer.text_layer_ok(data + b"\n") == _accepted(data + b"\n")


@settings(max_examples=5000, deadline=None)
@given(st.lists(_TRICKY, max_size=16).map("".join))
def test_text_layer_scan_never_passes_an_invalid_layer(text: str) -> None:
    data = text.encode("utf-8")
    for candidate in (data, data + b"\n"):
        if textlayer.plainly_normalised(candidate):
            assert _accepted(candidate)


@settings(max_examples=2000, deadline=None)
@given(st.lists(st.lists(st.text(st.sampled_from("ab é\n“"), max_size=12), max_size=4),
                min_size=1, max_size=4))
def test_text_layer_scan_passes_layers_without_empty_pages(pages: list[list[str]]) -> None:
    layer = TextLayer.from_pages(pages)
    data = layer.to_bytes()
    if data and all(layer.pages):
        assert textlayer.plainly_normalised(data)


def test_signed_message_is_the_entrys(
    make_archive: Callable[..., Archive], signer: Signer, verifiers: list[VerifierKey]
) -> None:
    archive = make_archive(2)
    entries = list(archive.iter_entries())
    # A member elsewhere holding the same text as the signature member: re-encoded instead.
    twin = make_entry({**entries[1].members, "zz": {"a": 1, "sig": entries[1].members["sig"]}},
                      seq=2, signer=signer, recorded=entries[1].recorded)
    fake_twin = Entry.from_bytes(entries[1].raw.replace(b"}", b',"zz":{"a":1,"sig":"'
                                                       + entries[1].members["sig"].encode()
                                                       + b'"}}'))
    # The message cut from the stored bytes is the one encoded afresh (docs/FORMAT.md §4).
    for entry in [*entries, twin, fake_twin]:
        assert entry.signed_message() == entry.encoded_message()
    for entry in entries:
        assert entry.verify(verifiers) == verifiers[0]
    other = Signer.generate(ORIGIN).verifier()
    for keys in ([other], [], [Signer.generate("other.example/log").verifier()]):
        with pytest.raises(SignatureError):
            entries[0].verify(keys)


def test_text_layer_scan_passes_ordinary_layers() -> None:
    layer = TextLayer.from_pages([["Section 1. The City\nshall act.", "“Quoted” — text."], [],
                                  ["Page three."]])
    data = layer.to_bytes()
    assert _accepted(data) and textlayer.text_layer_ok(data)
    plain = TextLayer.from_pages([["One.", "Two\nlines."], ["Three."]]).to_bytes()
    assert textlayer.plainly_normalised(plain)
    assert not textlayer.plainly_normalised(layer.to_bytes())  # an empty page: from_bytes decides


# -- the store ---------------------------------------------------------------------------------


def _objects(n: int, tag: str = "") -> list[tuple[str, bytes]]:
    return [(f"objects/x/{i % 3}/{tag}{i}", f"object {tag}{i}\n".encode()) for i in range(n)]


@pytest.mark.parametrize("n", [3, BATCH_SYNC_MIN + 5])
def test_create_many_is_create_for_each(tmp_path: Path, n: int) -> None:
    store = FileStore(tmp_path)
    items = _objects(n)
    store.create(*items[0])
    created = store.create_many([*items, items[1]])
    assert created == [False] + [True] * (n - 1) + [False]
    assert all(store.read(name) == data for name, data in items)
    assert store.create_many(items) == [False] * n
    leftovers = [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []
    with pytest.raises(ConflictError):
        store.create_many([*_objects(BATCH_SYNC_MIN, "new"), (items[2][0], b"other")])
    with pytest.raises(ConflictError):
        store.create_many([("objects/y", b"a"), ("objects/y", b"b")])


def test_create_many_without_syncfs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import orderarchive.log.store as store_module

    monkeypatch.setattr(store_module, "_syncfs", None)  # the portable path: fsync each
    store = FileStore(tmp_path)
    items = _objects(BATCH_SYNC_MIN * 2)
    assert store.create_many(items) == [True] * len(items)
    assert all(store.read(name) == data for name, data in items)


def test_read_ranges(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    store.create("f", bytes(range(100)))
    assert store.read_ranges("f", [(10, 2), (0, 1), (98, 2)]) == [b"\n\x0b", b"\x00", b"bc"]
    assert store.read_ranges("f", []) == []
    with pytest.raises(StorageError):
        store.read_ranges("f", [(99, 2)])
    with pytest.raises(NotFoundError):
        store.read_ranges("missing", [(0, 1)])


def test_batched_add_is_durable_and_reindexed(
    make_archive: Callable[..., Archive], signer: Signer, verifiers: list[VerifierKey]
) -> None:
    archive = make_archive(0)
    archive.add([text_request(i) for i in range(BATCH_SYNC_MIN * 3)], signer)
    assert archive.verify(verifiers).size == BATCH_SYNC_MIN * 3
    with archive.index(verifiers) as idx:
        assert idx.count() == BATCH_SYNC_MIN * 3
        assert idx.search("item 17")[0].doc == "eo-17"


@directory_only
def test_check_and_help_do_not_import_pypdf(
    make_archive: Callable[..., Archive], verifiers: list[VerifierKey], tmp_path: Path
) -> None:
    archive = make_archive(3)
    keys = tmp_path / "keys"
    keys.mkdir()
    (keys / "k.vkey").write_text(verifiers[0].to_string() + "\n")
    copy = tmp_path / "copy.txt"
    copy.write_bytes(text_request(1).data)
    env = {**os.environ, "PYTHONPROFILEIMPORTTIME": "1"}
    for args in (["--help"], ["--archive", str(archive.path), "check", str(copy),
                              "--trusted-key", str(keys)]):
        r = subprocess.run([sys.executable, "-m", "orderarchive", *args], capture_output=True,
                           text=True, env=env, timeout=60, check=False)
        assert r.returncode == 0, r.stderr
        imported = {line.split("|")[-1].strip() for line in r.stderr.splitlines()}
        assert "pypdf" not in imported and "orderarchive.documents.pdf" not in imported, args
