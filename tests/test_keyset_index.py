"""The key-set index (issue 16, the part left open): checkpoints name the key-set entries'
log positions, so that ``add`` and a verifier read those entries by lookup, not by scanning
the log; the full ``verify`` checks the index against what it reads (docs/THREATS.md)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import ORIGIN, text_request
from orderarchive.archive import Archive
from orderarchive.errors import OrderArchiveError
from orderarchive.log.checkpoint import Checkpoint, sign_checkpoint
from orderarchive.log.keyset import read_trust
from orderarchive.log.layout import ENTRIES, keyset_positions
from orderarchive.log.note import SignedNote, Signer
from orderarchive.log.store import FileStore
from test_keyset_log import NOW, S1, SUCCESSOR, TRUST, WRITER, v2


class _Counting:
    """Counts what is read of the entry record: lookups (one entry each) and streams."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.lookups = 0
        self.streams = 0
        read_range = FileStore.read_range
        stream_record = FileStore.stream_record

        def counted_range(store: FileStore, name: str, offset: int, length: int) -> bytes:
            if name == ENTRIES:
                self.lookups += 1
            return read_range(store, name, offset, length)

        @contextlib.contextmanager
        def counted_stream(store: FileStore, name: str) -> Iterator[Any]:
            if name == ENTRIES:
                self.streams += 1
            with stream_record(store, name) as f:
                yield f

        monkeypatch.setattr(FileStore, "read_range", counted_range)
        monkeypatch.setattr(FileStore, "stream_record", counted_stream)


def keyset_archive(root: Path, documents: int = 40) -> tuple[Archive, list[int]]:
    a = Archive.init(root, ORIGIN)
    at = [a.append_keyset(S1, WRITER, now=NOW).seq]
    a.add([text_request(i) for i in range(documents)], WRITER, now=NOW)
    at.append(a.append_keyset(v2(a.head().size), WRITER, now=NOW).seq)
    a.add([text_request(documents)], SUCCESSOR, now=NOW)
    return a, at


def test_checkpoints_name_the_key_set_positions(tmp_path: Path) -> None:
    a, at = keyset_archive(tmp_path / "a", documents=3)
    assert keyset_positions(a.head().checkpoint) == tuple(at)
    plain = Archive.init(tmp_path / "plain", ORIGIN)
    plain.add([text_request(0)], WRITER, now=NOW)
    assert keyset_positions(plain.head().checkpoint) is None  # single-key: no line at all
    assert b"keysets" not in (tmp_path / "plain/checkpoint").read_bytes()


def test_add_with_key_sets_reads_the_key_sets_not_the_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`add` finds the key history by lookup: it reads the two key-set entries (and the last
    entry's span), never the whole entry record. A scan streams the record: this fails."""
    a, at = keyset_archive(tmp_path / "a")
    size = a.head().size
    assert size > 40
    counted = _Counting(monkeypatch)
    a.add([text_request(99)], SUCCESSOR, now=NOW)
    assert counted.streams == 0
    assert counted.lookups <= len(at) + 2, counted.lookups
    assert keyset_positions(a.head().checkpoint) == tuple(at)


def test_a_verifier_reads_the_key_sets_by_lookup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, at = keyset_archive(tmp_path / "a")
    counted = _Counting(monkeypatch)
    history = a.key_history(read_trust(TRUST, ORIGIN))
    assert [i for i, _ in history.holders()] == at
    assert counted.streams == 0
    assert counted.lookups == len(at)


def _resign_head(root: Path, extensions: tuple[str, ...], signer: Signer = SUCCESSOR) -> None:
    """What only a holder of the log key can do: sign a checkpoint of the same tree that
    names other key-set positions."""
    path = root / "checkpoint"
    note = SignedNote.parse(path.read_bytes())
    cp = Checkpoint.parse(note.text)
    forged = Checkpoint(cp.origin, cp.size, cp.root_hash, extensions)
    path.write_bytes(sign_checkpoint(forged, signer))


def test_a_checkpoint_that_hides_a_key_set_fails_verify(tmp_path: Path) -> None:
    """The holder of a log key rotated out by version 2 (not revoked) signs a checkpoint of the
    same tree naming only version 1, hiding the rotation: the lookup cannot see it (the
    threat the index adds, docs/THREATS.md), the full verify, which reads every entry, does."""
    a, at = keyset_archive(tmp_path / "a", documents=3)
    _resign_head(tmp_path / "a", (f"orderarchive.keysets {at[0]}",), WRITER)
    history = a.key_history(read_trust(TRUST, ORIGIN))  # the lookup sees version 1 only
    assert history.newest.version == 1
    report = a.audit(history, workers=1, check_objects=False)
    assert not report.ok
    assert any(p.code == "keyset-index" for p in report.problems), report.problems


@pytest.mark.parametrize("line", [
    "orderarchive.keysets 1",           # not a key-set entry
    "orderarchive.keysets 9999",        # beyond the tree
    "orderarchive.keysets 0 0",         # repeated
    "orderarchive.keysets 0 x",         # not a decimal
    "orderarchive.keysets ",            # empty
])
def test_a_wrong_key_set_index_is_refused(tmp_path: Path, line: str) -> None:
    a, _ = keyset_archive(tmp_path / "a", documents=3)
    _resign_head(tmp_path / "a", (line,))
    with pytest.raises(OrderArchiveError):
        a.key_history(read_trust(TRUST, ORIGIN))
    with pytest.raises(OrderArchiveError):
        a.add([text_request(99)], SUCCESSOR, now=NOW)


def test_a_log_from_before_the_index_is_scanned_once_then_named(tmp_path: Path) -> None:
    """Key sets recorded by the previous version (checkpoints without the line): the writer
    and the verifier scan, as before; the next checkpoint names them."""
    a, at = keyset_archive(tmp_path / "a", documents=3)
    _resign_head(tmp_path / "a", ())
    assert [i for i, _ in a.key_history(read_trust(TRUST, ORIGIN)).holders()] == at
    a.add([text_request(99)], SUCCESSOR, now=NOW)
    assert keyset_positions(a.head().checkpoint) == tuple(at)
    assert a.audit(a.key_history(read_trust(TRUST, ORIGIN)), workers=1).ok


def test_a_remembered_checkpoint_catches_a_hidden_key_set(tmp_path: Path) -> None:
    """The hiding checkpoint extends the remembered tree (same entries), so the consistency
    proof passes; the remembered checkpoint's key-set list must be a prefix of the new one's."""
    from orderarchive.errors import VerificationError
    from orderarchive.history import check_extends

    a, at = keyset_archive(tmp_path / "a", documents=3)
    history = a.key_history(read_trust(TRUST, ORIGIN))
    remembered = (tmp_path / "a/checkpoint").read_bytes()
    assert check_extends(remembered, a, history).new.size == a.head().size
    _resign_head(tmp_path / "a", (f"orderarchive.keysets {at[0]}",), WRITER)
    with pytest.raises(VerificationError, match="a key set is left out"):
        check_extends(remembered, a, history)
