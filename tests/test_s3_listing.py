"""Listing the log's chunks on S3 (issue 15, finding 3): each append adds one chunk per record,
so a command that listed every chunk made O(history) LIST requests. A store lists only the
chunks past the ones it knows are committed (in this process, or remembered in the user's
cache), starting after them; a stale memory is noticed and the whole record listed again."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conftest import ORIGIN, text_request
from orderarchive.archive import Archive
from orderarchive.log.note import Signer, VerifierKey
from orderarchive.log.s3store import S3Store
from orderarchive.log.store import ENTRIES_RECORD

MakeBucket = Callable[[str], tuple[str, str]]
APPENDS = 10


class _Listed:
    """Counts the keys LIST requests return (and the requests)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.keys = 0
        self.requests = 0
        self.most = 0  # the most keys one listing returned
        call = S3Store._call

        def counted(store: S3Store, op: str, name: str, **kwargs: Any) -> Any:
            result = call(store, op, name, **kwargs)
            if op == "list_objects_v2" and name.startswith("log/"):
                self.requests += 1
                self.keys += len(result.get("Contents", ()))
                self.most = max(self.most, len(result.get("Contents", ())))
            return result

        monkeypatch.setattr(S3Store, "_call", counted)


def _grown(url: str, endpoint: str, signer: Signer, memo: Path) -> Archive:
    archive = Archive.init_store(S3Store.open(url, endpoint=endpoint, memo_dir=memo), ORIGIN)
    for i in range(APPENDS):
        archive.add([text_request(i)], signer)  # one chunk per record each
    return archive


def test_a_new_process_lists_only_the_new_chunks(
    s3_bucket_url: MakeBucket, tmp_path: Path, signer: Signer, verifiers: list[VerifierKey],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, endpoint = s3_bucket_url("moto")
    memo = tmp_path / "cache"
    _grown(url, endpoint, signer, memo)
    # Another command (a new store: nothing in memory) adds one document and reads entries.
    listed = _Listed(monkeypatch)
    again = Archive.from_store(S3Store.open(url, endpoint=endpoint, memo_dir=memo))
    again.add([text_request(APPENDS)], signer)
    assert again.verified_entry(3, again.head(verifiers).checkpoint, verifiers).doc == "eo-3"
    # Without the memory every listing returns all 10+ chunks of a record.
    assert listed.most <= 3 and listed.keys <= 30, (listed.most, listed.keys)
    assert again.store.record_size(ENTRIES_RECORD) == sum(
        n for _, n in S3Store.open(url, endpoint=endpoint)._list_chunks(ENTRIES_RECORD))


def test_in_one_process_a_listing_starts_after_the_known_chunks(
    s3_bucket_url: MakeBucket, tmp_path: Path, signer: Signer, monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, endpoint = s3_bucket_url("moto")
    archive = Archive.init_store(S3Store.open(url, endpoint=endpoint), ORIGIN)
    for i in range(APPENDS):
        archive.add([text_request(i)], signer)
    listed = _Listed(monkeypatch)
    archive.add([text_request(APPENDS)], signer)
    assert listed.most <= 3 and listed.keys <= 30, (listed.most, listed.keys)


def test_a_stale_or_forged_memo_means_a_full_listing(
    s3_bucket_url: MakeBucket, tmp_path: Path, signer: Signer, verifiers: list[VerifierKey],
) -> None:
    url, endpoint = s3_bucket_url("moto")
    memo = tmp_path / "cache"
    archive = _grown(url, endpoint, signer, memo)
    files = sorted(memo.glob("s3chunks-*"))
    assert len(files) == 3
    fresh = S3Store.open(url, endpoint=endpoint)
    truth = {r: fresh._list_chunks(r) for r in ("log/entries", "log/offsets", "log/hashes")}
    kept = {path: path.read_text() for path in files}
    for damage in ("garbage", "shifted", "other-etag", "truncated"):
        for path, text in kept.items():
            lines = text.splitlines()
            if damage == "garbage":
                path.write_text("nonsense\n")
            elif damage == "shifted":  # claims a chunk boundary the bucket does not have
                offset, size = lines[-2].split()
                path.write_text("\n".join([*lines[:-2], f"{offset} {int(size) + 1}", lines[-1]])
                                + "\n")
            elif damage == "other-etag":
                path.write_text("\n".join([*lines[:-1], 'etag "0000"']) + "\n")
            else:
                path.write_text(text[: len(text) // 2])
        store = S3Store.open(url, endpoint=endpoint, memo_dir=memo)
        for record, chunks in truth.items():
            assert store._list_chunks(record) == chunks, damage
    again = Archive.from_store(S3Store.open(url, endpoint=endpoint, memo_dir=memo))
    assert again.audit(verifiers, workers=1).ok
    assert again.head().size == archive.head().size
