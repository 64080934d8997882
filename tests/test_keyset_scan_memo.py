"""The writer's key-set scan (issue 15, finding 1): a log whose checkpoints name no key sets
(every single-key archive) is scanned for key-set entries by each ``add``; the writer remembers
in the user's cache how far it scanned, so that the next ``add`` reads only the entries past
that, and only while the stored tree of that size still has the remembered root."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import ORIGIN, text_request
from orderarchive.archive import Archive
from orderarchive.log.keyset import KeyHistory
from orderarchive.log.layout import ENTRIES, keyset_positions
from orderarchive.log.store import FileStore
from test_keyset_index import _resign_head
from test_keyset_log import NOW, S1, WRITER


class _Streamed:
    """Counts the bytes read from streams of the entry record."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.bytes = 0
        stream_record = FileStore.stream_record
        counter = self

        class _Reader:
            def __init__(self, f: Any) -> None:
                self.f = f

            def read(self, n: int = -1) -> bytes:
                data: bytes = self.f.read(n)
                counter.bytes += len(data)
                return data

            def __getattr__(self, name: str) -> Any:
                return getattr(self.f, name)

        @contextlib.contextmanager
        def counted_stream(store: FileStore, name: str) -> Iterator[Any]:
            with stream_record(store, name) as f:
                yield _Reader(f) if name == ENTRIES else f

        monkeypatch.setattr(FileStore, "stream_record", counted_stream)


def _grown(root: Path, documents: int = 60) -> Archive:
    a = Archive.init(root, ORIGIN)
    a.add([text_request(i) for i in range(documents)], WRITER, now=NOW)
    return a


def _memo_files(cache: Path) -> list[Path]:
    return sorted(cache.glob("keysets-*"))


def test_add_scans_only_the_new_entries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The second add after a large one reads none of the earlier entries (without the memo
    it streams the whole record: this fails)."""
    a = _grown(tmp_path / "a")
    a.add([text_request(100)], WRITER, now=NOW)  # scans once, remembers
    record = (tmp_path / "a" / ENTRIES).stat().st_size
    counted = _Streamed(monkeypatch)
    a.add([text_request(101)], WRITER, now=NOW)
    assert counted.bytes < record // 20, (counted.bytes, record)
    assert keyset_positions(a.head().checkpoint) is None


def test_a_memo_of_another_tree_is_not_trusted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A memo whose root is not the stored tree's of its size (a re-initialised archive, a
    forged file) is ignored: the writer scans from entry 0 again."""
    import os

    a = _grown(tmp_path / "a")
    a.add([text_request(100)], WRITER, now=NOW)
    cache = Path(os.environ["ORDERARCHIVE_CACHE"])
    (memo,) = _memo_files(cache)
    size = a.head().size
    memo.write_bytes(b"orderarchive-keyset-scan 1\n%d %s\n" % (size, (b"00" * 32)))
    record = (tmp_path / "a" / ENTRIES).stat().st_size
    counted = _Streamed(monkeypatch)
    a.add([text_request(101)], WRITER, now=NOW)
    assert counted.bytes >= record
    assert memo.read_bytes() != b"orderarchive-keyset-scan 1\n%d %s\n" % (size, (b"00" * 32))


@pytest.mark.parametrize("content", [b"", b"garbage", b"orderarchive-keyset-scan 1\n99999999 zz\n"])
def test_a_malformed_memo_means_a_full_scan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: bytes
) -> None:
    import os

    a = _grown(tmp_path / "a")
    a.add([text_request(100)], WRITER, now=NOW)
    (memo,) = _memo_files(Path(os.environ["ORDERARCHIVE_CACHE"]))
    memo.write_bytes(content)
    record = (tmp_path / "a" / ENTRIES).stat().st_size
    counted = _Streamed(monkeypatch)
    a.add([text_request(101)], WRITER, now=NOW)
    assert counted.bytes >= record


def test_a_key_set_past_the_memo_is_found(tmp_path: Path) -> None:
    """A key set recorded after the remembered size by a writer whose checkpoints did not
    name it (the previous version) is found by the scan of the new entries."""
    a = _grown(tmp_path / "a")
    a.add([text_request(100)], WRITER, now=NOW)
    at = a.append_keyset(S1, WRITER, now=NOW).seq
    _resign_head(tmp_path / "a", (), WRITER)  # as the previous version wrote it: no key-set line
    assert keyset_positions(a.head().checkpoint) is None
    a.add([text_request(101)], WRITER, now=NOW)
    assert isinstance(a.log.trust, KeyHistory)
    assert keyset_positions(a.head().checkpoint) == (at,)
