"""A streaming add (issue 15 item 1): memory bounded by a batch, not by the number of
documents, and still all or nothing — the checkpoint swap the only commit point; a kill or a
Ctrl-C midway leaves the archive verifying at its old size; a duplicate far apart refused."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from conftest import ORIGIN, ok, one_line_error, text_request
from orderarchive.archive import Archive
from orderarchive.cli import cli
from orderarchive.errors import ConflictError, MalformedError
from orderarchive.index import Index, index_path
from orderarchive.log import merkle
from orderarchive.log.entry import AddRequest
from orderarchive.log.layout import ENTRIES, HASHES, OFFSETS, debris, named
from orderarchive.log.log import _Overlay
from orderarchive.log.note import Signer, VerifierKey
from orderarchive.log.store import FileStore, MemoryStore

KEY = ("--key", "clerk.key")
NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
RECORDS = (ENTRIES, OFFSETS, HASHES)


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


@pytest.fixture
def clerk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    ok(run("init", "--origin", ORIGIN))
    ok(run("key", "generate", ORIGIN, "--unencrypted", "--secret-key", "clerk.key"))
    return tmp_path


def notices(directory: Path, count: int, tag: str = "n") -> Path:
    """*count* small plain-text notices in *directory* (in subdirectories of 1,000)."""
    for i in range(count):
        sub = directory / f"{i // 1000:03d}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"{tag}-{i:06d}.txt").write_text(
            f"Notice {tag} {i}\n\nThe council noted item {i} of batch {tag}.\n", "utf-8"
        )
    return directory


def chunks_of(requests: Sequence[AddRequest], size: int) -> list[list[AddRequest]]:
    return [list(requests[i : i + size]) for i in range(0, len(requests), size)]


def log_files(archive: Path) -> dict[str, bytes]:
    """The committed state: the checkpoint and the three records, byte for byte."""
    return {name: (archive / name).read_bytes()
            for name in ("checkpoint", "log/entries", "log/offsets", "log/hashes")}


def stray(archive: Path) -> list[str]:
    return [
        name
        for name, is_dir, empty in FileStore(archive).members()
        if not named(name, is_dir=is_dir) or debris(name, is_dir=is_dir, empty=empty)
    ]


# -- the log: one append in chunks -------------------------------------------------------------


@pytest.mark.parametrize("start", [0, 1, 5, 64, 255])
def test_an_append_in_chunks_gives_the_tree_of_one_append(
    start: int, signer: Signer, verifiers: list[VerifierKey]
) -> None:
    """Chunks of random sizes after a log of *start* entries: the same stored hashes (the
    whole hash record) and root as one append of the same entries."""
    rng = random.Random(start)
    requests = [text_request(i) for i in range(start, start + 300)]
    one, chunked = Archive.init_store(MemoryStore(), ORIGIN), Archive.init_store(
        MemoryStore(), ORIGIN)
    for archive in (one, chunked):
        if start:
            archive.add([text_request(i + 1000) for i in range(start)], signer, now=NOW)
    one.add(requests, signer, now=NOW)
    cuts = sorted(rng.sample(range(1, 300), 9))
    pieces = [requests[a:b] for a, b in zip([0, *cuts], [*cuts, 300], strict=True)]
    added = chunked.add_chunks(lambda: iter(pieces), signer, now=NOW)
    assert (added.start, added.end) == (start, start + 300)
    assert chunked.verify(verifiers).size == start + 300
    leaves = [merkle.leaf_hash(chunked.entry_bytes(i)) for i in range(start + 300)]
    assert added.root == merkle.root_of(leaves) == chunked.head().checkpoint.root_hash  # type: ignore[union-attr]
    size = merkle.stored_hash_count(start + 300) * 32
    assert chunked.store.read_range(HASHES, 0, size) == one.store.read_range(HASHES, 0, size)


def test_the_overlay_keeps_the_right_edge_only(signer: Signer) -> None:
    """After each chunk is taken, the overlay holds O(log n) hashes, and it never reads a
    hash back from the store while appending."""
    store = MemoryStore()
    overlay = _Overlay(store, 0)
    reads: list[int] = []
    original = store.read_ranges
    store.read_ranges = lambda name, ranges: (  # type: ignore[method-assign]
        reads.extend(r[0] for r in ranges) or original(name, ranges))
    written = b""
    for n in range(5000):
        overlay.add(merkle.leaf_hash(b"%d" % n))
        if n % 97 == 0:
            written += overlay.take()
            store.append_record(HASHES, written[store.record_size(HASHES):],
                                at=store.record_size(HASHES))
        assert len(overlay.new) <= 2 * 97 + 14 and len(overlay.edge) <= 13
    assert reads == []
    assert overlay.root() == merkle.root_of([merkle.leaf_hash(b"%d" % n) for n in range(5000)])


# -- all or nothing ----------------------------------------------------------------------------


def test_a_duplicate_id_in_different_batches_is_refused_with_nothing_committed(
    tmp_path: Path, signer: Signer, verifiers: list[VerifierKey]
) -> None:
    """Document 5 and document 590 of one append share an id: refused before the commit,
    although the batches before it were written; the records are cut back, the archive
    verifies at its old size, and the same documents without the duplicate go in next."""
    archive = Archive.init(tmp_path / "archive", ORIGIN)
    archive.add([text_request(i) for i in range(3)], signer)
    before = log_files(tmp_path / "archive")
    requests = [text_request(i) for i in range(3, 600)]
    requests[590 - 3] = text_request(9999, doc="eo-5")
    with pytest.raises(ConflictError, match="'eo-5' appears twice in this batch"):
        archive.add_chunks(lambda: iter(chunks_of(requests, 100)), signer)
    assert log_files(tmp_path / "archive") == before
    assert archive.verify(verifiers).size == 3
    assert stray(tmp_path / "archive") == []
    requests[590 - 3] = text_request(590)
    added = archive.add_chunks(lambda: iter(chunks_of(requests, 100)), signer)
    assert (added.start, added.end) == (3, 600)
    assert archive.verify(verifiers).size == 600
    assert archive.index(verifiers).by_doc("eo-590") is not None


def test_a_bad_file_in_the_last_batch_fails_the_whole_add(clerk: Path) -> None:
    """A directory of 700 notices, the last one not UTF-8: the same one-line error as a
    single file, exit 2, and nothing committed (the batches before it were written, then cut)."""
    docs = notices(clerk / "docs", 700)
    bad = sorted(docs.rglob("*.txt"))[-1]
    bad.write_bytes(b"\xff\xfe not text")
    ok(run("add", *KEY, str(notices(clerk / "first", 2, "f"))))
    before = log_files(clerk / "archive")
    line = one_line_error(run("add", *KEY, str(docs)), 2)
    assert str(bad) in line
    assert log_files(clerk / "archive") == before
    assert stray(clerk / "archive") == []
    assert json.loads(ok(run("--json", "verify")))["size"] == 2


def test_a_duplicate_id_far_apart_in_a_manifest_is_refused(clerk: Path) -> None:
    docs = notices(clerk / "docs", 600)
    files = sorted(docs.rglob("*.txt"))
    rows = ["path,id"] + [f"{p},doc-{i}" for i, p in enumerate(files)]
    rows[591] = f"{files[590]},doc-4"
    (clerk / "m.csv").write_text("\n".join(rows) + "\n", "utf-8")
    line = one_line_error(run("add", *KEY, "--manifest", "m.csv"))
    assert "'doc-4' appears twice in this batch" in line
    assert not (clerk / "archive" / "checkpoint").exists()
    assert (clerk / "archive" / "log" / "entries").read_bytes() == b""


def test_a_batched_add_prints_every_document_after_the_commit(clerk: Path) -> None:
    """More documents than one batch: the same report as one batch, text and JSON (the JSON
    written as it goes is the document emit_json would print), entries numbered in order."""
    docs = notices(clerk / "docs", 600)
    dry = json.loads(ok(run("--json", "add", *KEY, "--dry-run", str(docs))))
    assert len(dry["documents"]) == 600 and dry["dry_run"] is True
    assert not (clerk / "archive" / "checkpoint").exists()
    doc = json.loads(ok(run("--json", "add", *KEY, str(docs))))
    assert [a["seq"] for a in doc["added"]] == list(range(600))
    assert doc["added"][599]["file"] == str(sorted(docs.rglob("*.txt"))[-1])
    assert doc["added"][0]["sources"]["id"] == "file name"
    more = notices(clerk / "more", 300, "m")
    out = ok(run("add", *KEY, str(more)))
    assert "added m-000299 as entry 899: " in out
    assert out.strip().splitlines()[-1].startswith("300 document(s) added")


# -- real processes: memory, kill -9, Ctrl-C ---------------------------------------------------


def add_process(clerk: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "orderarchive", "add", *KEY, *args],
        cwd=clerk, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )


def peak_rss_of_add(clerk: Path, archive: Path, docs: Path) -> float:
    """The peak RSS (MiB) of one `orderarchive add` of *docs*, in a fresh process whose only
    child is that add (RUSAGE_CHILDREN)."""
    code = (
        "import resource, subprocess, sys\n"
        "r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL)\n"
        "assert r.returncode == 0, r.returncode\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, sys.executable, "-m", "orderarchive", "--archive",
         str(archive), "add", *KEY, str(docs)],
        cwd=clerk, capture_output=True, text=True, check=False,
    )
    assert out.returncode == 0, out.stderr
    return int(out.stdout) / 1024


def test_peak_memory_of_add_does_not_grow_with_the_number_of_documents(clerk: Path) -> None:
    """The peak RSS of adding 1,000 and 5,000 small notices differs by less than 20 MiB: a
    per-document cost of 5 KiB would exceed it (the unbatched add cost ~10 KiB for each of
    these, ~27 KiB for a 4 KB document)."""
    small = peak_rss_of_add(clerk, clerk / "archive", notices(clerk / "small", 1000, "s"))
    ok(run("init", "other", "--origin", ORIGIN))
    large = peak_rss_of_add(clerk, clerk / "other", notices(clerk / "large", 5000, "l"))
    print(f"peak RSS: 1,000 documents {small:.1f} MiB, 5,000 {large:.1f} MiB")
    assert large - small < 20, (small, large)


def wait_for_uncommitted_records(clerk: Path, proc: subprocess.Popen[str], at: int) -> int:
    """Wait until the add has written a batch past the committed entries (*at* bytes) and
    return the record's size then (the add is midway: batches are written as they go)."""
    entries = clerk / "archive" / "log" / "entries"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        size = entries.stat().st_size
        if size > at:
            return size
        assert proc.poll() is None, proc.communicate()[1]
        time.sleep(0.002)
    raise AssertionError("the add wrote nothing past the committed size")


@pytest.mark.parametrize("how", ["kill", "ctrl-c"])
def test_an_add_stopped_midway_leaves_the_archive_as_before(clerk: Path, how: str) -> None:
    """A real add of 1,500 notices (6 batches), stopped once its first batch is written
    past the committed size: kill -9 leaves records that `verify` reports as uncommitted and
    `repair` cuts; Ctrl-C exits 130 having cut them itself. Either way the committed files
    are as before, the only leftovers are objects nothing names, the archive verifies at its
    old size, and the next add of the same documents succeeds."""
    ok(run("add", *KEY, str(notices(clerk / "first", 3, "f"))))
    archive = clerk / "archive"
    before = log_files(archive)
    docs = notices(clerk / "docs", 1500)
    proc = add_process(clerk, str(docs))
    wait_for_uncommitted_records(clerk, proc, len(before["log/entries"]))
    proc.send_signal(signal.SIGKILL if how == "kill" else signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    if how == "kill":
        assert proc.returncode == -signal.SIGKILL
        # Killed midway: a batch's entries written past the committed size, no commit.
        assert (archive / "log/entries").stat().st_size > len(before["log/entries"])
        report = json.loads(run("--json", "verify").stdout)
        assert report["size"] == 3
        codes = {p["code"] for p in report["problems"]}  # and a temporary file, if killed there
        assert "uncommitted" in codes and codes <= {"uncommitted", "unknown-file"}, codes
        ok(run("repair"))
    else:
        assert proc.returncode == 130, err
        assert err.strip().splitlines()[-1] == "error: interrupted", err
    assert log_files(archive) == before
    assert stray(archive) == []
    assert json.loads(ok(run("--json", "verify")))["size"] == 3
    doc = json.loads(ok(run("--json", "add", *KEY, str(docs))))
    assert len(doc["added"]) == 1500
    assert json.loads(ok(run("--json", "verify")))["size"] == 1503


def test_an_add_past_uncommitted_records_overwrites_them(clerk: Path) -> None:
    """After kill -9 midway, the next add (no repair) writes over the dead add's records."""
    ok(run("add", *KEY, str(notices(clerk / "first", 3, "f"))))
    proc = add_process(clerk, str(notices(clerk / "docs", 1500)))
    wait_for_uncommitted_records(clerk, proc, (clerk / "archive/log/entries").stat().st_size)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    ok(run("add", *KEY, str(notices(clerk / "other", 600, "o"))))
    assert json.loads(ok(run("--json", "verify")))["size"] == 603


def test_a_batched_add_on_s3_writes_a_chunk_per_batch_and_removes_them_on_failure(
    s3_bucket_url: Callable[[str], tuple[str, str]], signer: Signer,
    verifiers: list[VerifierKey],
) -> None:
    """On a bucket each batch's records are chunks past the head; a failed add (a duplicate
    in its third batch) removes every chunk it wrote, and a batched add commits once."""
    from orderarchive.log.s3store import S3Store

    url, endpoint = s3_bucket_url("moto")
    archive = Archive.init_store(S3Store.open(url, endpoint=endpoint), ORIGIN)
    archive.add([text_request(0)], signer)
    store = archive.store
    assert isinstance(store, S3Store)
    committed = {name: store._list_chunks(name) for name in RECORDS}
    requests = [text_request(i) for i in range(1, 16)]
    bad = [*requests[:12], text_request(99, doc="eo-3"), *requests[13:]]
    with pytest.raises(ConflictError, match="'eo-3' appears twice"):
        archive.add_chunks(lambda: iter(chunks_of(bad, 5)), signer)
    assert {name: store._list_chunks(name) for name in RECORDS} == committed
    added = archive.add_chunks(lambda: iter(chunks_of(requests, 5)), signer, retries=2)
    assert (added.start, added.end) == (1, 16)
    assert [len(store._list_chunks(name)) for name in RECORDS] == [4, 4, 4]
    assert archive.verify(verifiers, workers=1).size == 16


def test_a_manifests_rows_are_parsed_again_when_read(tmp_path: Path) -> None:
    """read_manifest keeps the text and each row's place, not an item per row: every row is
    checked at once (a bad row far down names its line), and a row read later (CRLF, blank
    lines, a quoted title over two lines) is the row as written."""
    from orderarchive.documents.ingest import AddOptions, ManifestItems, read_manifest

    rows = ["path,id,title,amends"] + [f"d{i}.txt,doc-{i},Title {i}," for i in range(3000)]
    rows[1500] = 'd1499.txt,doc-1499,"A title\r\nover two lines",doc-3 doc-4'
    rows.insert(2000, "")
    (tmp_path / "m.csv").write_bytes("\r\n".join(rows).encode() + b"\r\n")
    items = read_manifest(tmp_path / "m.csv", AddOptions(kind="article"))
    assert isinstance(items, ManifestItems) and len(items) == 3000
    item = items[1499]
    assert item.path == tmp_path / "d1499.txt" and item.options.doc_id == "doc-1499"
    assert item.options.title == "A title\r\nover two lines"
    assert item.options.relations == (("amends", "doc-3"), ("amends", "doc-4"))
    assert item.label == f"{tmp_path / 'm.csv'} line 1502 (d1499.txt)"  # its last line
    assert items[1999].label.startswith(f"{tmp_path / 'm.csv'} line 2003 ")
    assert items[-1].options.doc_id == "doc-2999" and items[-1].options.kind == "article"
    rows[2900] = "d.txt,doc-x"
    (tmp_path / "m.csv").write_bytes("\r\n".join(rows).encode() + b"\r\n")
    with pytest.raises(MalformedError, match=r"m.csv line 2902: 2 cells, the header has 4"):
        read_manifest(tmp_path / "m.csv", AddOptions())


@pytest.mark.parametrize("bad", ["missing", "fifo", "manifest-row"])
def test_a_bad_file_name_is_refused_before_the_passphrase_prompt(
    clerk: Path, monkeypatch: pytest.MonkeyPatch, bad: str
) -> None:
    """More files than one batch, one of them (the 200th) missing or a FIFO, or a manifest
    row naming a missing file, with an encrypted key on a terminal: exit 2 with the one-line
    error naming it, and the passphrase is never asked for (nothing committed)."""
    monkeypatch.setattr("orderarchive.cli._common._interactive", lambda: True)
    ok(run("key", "generate", ORIGIN, "--secret-key", "locked.key", "--keys-dir", "other",
           "--passphrase-file", str(_passphrase_file(clerk))))
    files = [str(p) for p in sorted(notices(clerk / "docs", 300).rglob("*.txt"))]
    name = str(clerk / "typo.txt")
    if bad == "fifo":
        os.mkfifo(name)
    files.insert(200, name)
    args: list[str] = files
    if bad == "manifest-row":
        (clerk / "m.csv").write_text("path\n" + "\n".join(files) + "\n", "utf-8")
        args = ["--manifest", "m.csv"]
    ok(run("add", *KEY, str(notices(clerk / "first", 2, "f"))))
    before = log_files(clerk / "archive")
    r = CliRunner().invoke(cli, ["add", "--key", "locked.key", *args],
                           input="a long passphrase\n")
    line = one_line_error(r, 2)
    assert "typo.txt" in line
    assert "assphrase" not in r.output + r.stderr
    assert log_files(clerk / "archive") == before


def _passphrase_file(clerk: Path) -> Path:
    path = clerk / "pass"
    path.write_text("a long passphrase\n", "utf-8")
    return path

# -- the index of a streaming add ----------------------------------------------------------------


def _index_rows(archive: Archive, verifiers: list[VerifierKey]) -> list[tuple[object, ...]]:
    idx = archive.index(verifiers, full_text=False)
    try:
        return [(d.seq, d.doc, d.sha256, d.title) for d in map(idx.by_seq, range(idx.state()[0]))
                if d is not None]
    finally:
        idx.close()


def test_a_batched_add_indexes_its_entries_without_reading_them_back(
    tmp_path: Path, signer: Signer, verifiers: list[VerifierKey],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each batch's entries go into the index as they are signed (each signature checked
    with the index's keys, as a catch-up would), in one index transaction committed after the
    checkpoint, and only if their tree has the root of the checkpoint as those keys verify
    it: no entry is read back from the log after the commit (it was: 2,000 entries re-read,
    parsed and verified for 2,000 documents), and the index equals one rebuilt from the log."""
    from orderarchive.log.log import Log

    archive = Archive.init(tmp_path / "archive", ORIGIN)
    archive.add([text_request(i) for i in range(3)], signer)
    requests = [text_request(i) for i in range(3, 350)]
    reads: list[tuple[int, int]] = []
    real = Log.iter_entries
    monkeypatch.setattr(Log, "iter_entries", lambda self, start=0, end=None: reads.append(
        (start, end)) or real(self, start, end))
    added = archive.add_chunks(lambda: iter(chunks_of(requests, 100)), signer)
    assert (added.start, added.end) == (3, 350)
    assert reads == []  # the staged index was committed: nothing read back
    monkeypatch.undo()
    staged = _index_rows(archive, verifiers)
    assert len(staged) == 350
    rebuilt_cache = tmp_path / "rebuilt-cache"
    monkeypatch.setenv("ORDERARCHIVE_CACHE", str(rebuilt_cache))
    assert _index_rows(Archive.open(tmp_path / "archive"), verifiers) == staged
    assert archive.verify(verifiers).size == 350


def test_a_failed_batched_add_leaves_the_index_as_it_was(
    tmp_path: Path, signer: Signer, verifiers: list[VerifierKey],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The third batch fails after two were written and staged: nothing committed to the log,
    the index rolled back with it (same rows, bound to the old tree), and the next add of the
    same documents indexes them."""
    archive = Archive.init(tmp_path / "archive", ORIGIN)
    archive.add([text_request(i) for i in range(3)], signer)
    before = _index_rows(archive, verifiers)
    requests = [text_request(i) for i in range(3, 350)]
    requests[260] = text_request(9999, doc="eo-5")
    with pytest.raises(ConflictError):
        archive.add_chunks(lambda: iter(chunks_of(requests, 100)), signer)
    location = archive.store.location()
    assert location is not None
    raw = Index.open(index_path(location, ORIGIN))  # as left, before any sync repairs it
    bound = raw.binding()
    raw.close()
    assert bound.size == 3 and bound.root == archive.head(verifiers).checkpoint.root_hash
    idx = archive.index(verifiers, full_text=False)
    assert idx.state()[0] == 3 and idx.by_doc("eo-4") is None
    idx.close()
    assert _index_rows(archive, verifiers) == before
    requests[260] = text_request(263)
    archive.add_chunks(lambda: iter(chunks_of(requests, 100)), signer)
    assert len(_index_rows(archive, verifiers)) == 350


def test_the_same_bytes_under_two_ids_in_different_batches_are_still_added(
    tmp_path: Path, signer: Signer, verifiers: list[VerifierKey]
) -> None:
    """An append's own staged rows are not "already archived": a file added twice under two
    ids in one call is accepted in different batches exactly as in one batch."""
    archive = Archive.init(tmp_path / "archive", ORIGIN)
    requests = [text_request(i) for i in range(250)]
    requests[200] = text_request(5, doc="eo-copy-of-5")
    archive.add_chunks(lambda: iter(chunks_of(requests, 100)), signer)
    one_batch = Archive.init(tmp_path / "one", ORIGIN)
    one_batch.add(requests, signer)
    assert archive.verify(verifiers).size == one_batch.verify(verifiers).size == 250
    assert archive.index(verifiers).by_doc("eo-copy-of-5") is not None
