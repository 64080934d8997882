"""The archive in an S3-compatible bucket (issue 19): every command on moto, the probe refusing
a server that ignores preconditions (rclone), and on a real Ceph RGW two concurrent writer
processes and a writer killed with kill -9 (tests/s3servers.py starts the servers)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from conftest import ORIGIN, ok, one_line_error, text_request
from orderarchive.archive import Archive
from orderarchive.errors import ConflictError, LostRaceError, StorageError
from orderarchive.log.entry import AddRequest
from orderarchive.log.note import Signer, VerifierKey
from orderarchive.log.s3store import LEASE_PREFIX, PROBE_PREFIX, S3Store
from orderarchive.log.store import ENTRIES_RECORD
from s3servers import free_port

MakeBucket = Callable[[str], tuple[str, str]]
S3_WRITER = Path(__file__).with_name("_s3writer.py")


def _objects(store: S3Store) -> list[str]:
    return [name for name, _ in store._list_keys("")]


class Clerk:
    def __init__(self, root: Path, url: str, endpoint: str) -> None:
        self.root, self.url, self.endpoint = root, url, endpoint
        self.keys = root / "keys"
        for i in range(2):
            (root / f"order-{i}.txt").write_text(
                f"Executive Order {i}\n\nSection 1. The City shall do thing {i} at once.\n",
                encoding="utf-8",
            )

    def run(self, *args: str, url: str | None = None) -> Result:
        base = ["--archive", url or self.url, "--s3-endpoint", self.endpoint,
                "--keys", str(self.keys)]
        return CliRunner().invoke(cli(), [*base, *args])


def cli() -> object:
    from orderarchive.cli import cli as command

    return command


def test_every_command_on_a_bucket(s3_bucket_url: MakeBucket, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    url, endpoint = s3_bucket_url("moto")
    clerk = Clerk(tmp_path, url, endpoint)
    monkeypatch.chdir(tmp_path)
    key = ("--key", str(tmp_path / "clerk.key"))
    ok(clerk.run("key", "generate", ORIGIN, "--unencrypted", "--secret-key", key[1]))
    assert f"created archive {url}" in ok(clerk.run("init", "--origin", ORIGIN))
    assert "already holds an archive" in one_line_error(
        clerk.run("init", "--origin", ORIGIN), 2)
    out = ok(clerk.run("add", *key, "order-0.txt", "order-1.txt", "--issuer", "City of Example",
                       "--issued", "2026-02-05"))
    assert "added order-0 as entry 0" in out
    assert "released: tree size 2" in ok(clerk.run("release", *key))
    assert "verified example.gov/orders: 2 entries" in ok(clerk.run("verify"))
    assert "OFFICIAL" in ok(clerk.run("check", "order-0.txt"))
    (tmp_path / "forged.txt").write_text("Executive Order 0\n\nSection 1. Nothing.\n")
    assert clerk.run("check", "forged.txt").exit_code == 1
    ok(clerk.run("prove", "order-1", "-o", str(tmp_path / "order-1.proof")))
    r = CliRunner().invoke(cli(), ["verify-proof", str(tmp_path / "order-1.txt"),
                                   str(tmp_path / "order-1.proof"), "--trusted-key",
                                   str(clerk.keys)])
    assert r.exit_code == 0, r.output
    assert "EXACT" in ok(clerk.run("quote", "The City shall do thing 1 at once."))
    assert "orderarchive:example.gov/orders/order-0@sha256:" in ok(clerk.run("cite", "order-0"))
    assert "nothing to repair" in ok(clerk.run("repair"))
    # Everything was written with the Cache-Control the published site needs.
    store = S3Store.open(url, endpoint=endpoint)
    client = store._client
    head = client.head_object(Bucket=store.bucket, Key=store.prefix + "checkpoint")
    assert head["CacheControl"] == "no-cache"
    release = client.head_object(Bucket=store.bucket, Key=store.prefix + "releases/2")
    assert "immutable" in release["CacheControl"]
    assert not [n for n in _objects(store) if n.startswith(PROBE_PREFIX)]  # probes removed


def test_bad_s3_input_is_one_line(s3_bucket_url: MakeBucket, tmp_path: Path) -> None:
    url, endpoint = s3_bucket_url("moto")
    clerk = Clerk(tmp_path, url, endpoint)
    assert "no bucket" in one_line_error(clerk.run("verify", url="s3://no-such-bucket-x/a"), 3)
    assert "invalid S3 bucket" in one_line_error(clerk.run("verify", url="s3://UPPER/a"), 2)
    assert "no orderarchive archive" in one_line_error(clerk.run("verify"), 3)
    port = free_port()  # nothing listens there
    r = CliRunner().invoke(cli(), ["--archive", url, "--s3-endpoint",
                                   f"http://127.0.0.1:{port}", "verify"])
    assert "S3 get_object of orderarchive.json failed" in one_line_error(r, 3)


def test_the_probe_refuses_a_server_that_ignores_preconditions(
    s3_bucket_url: MakeBucket, tmp_path: Path
) -> None:
    """rclone serve s3 overwrites an existing object despite If-None-Match: * — a writer there
    could fork the log, so init (and every write) is refused, naming the server; nothing of the
    archive is written."""
    url, endpoint = s3_bucket_url("rclone")
    clerk = Clerk(tmp_path, url, endpoint)
    line = one_line_error(clerk.run("init", "--origin", ORIGIN), 3)
    assert "refusing to write" in line and "ignores If-None-Match" in line
    assert endpoint in line and "AmazonS3" in line  # the server, named
    assert _objects(S3Store.open(url, endpoint=endpoint)) == []


def test_the_probe_passes_on_moto_and_readers_need_none(s3_bucket_url: MakeBucket) -> None:
    url, endpoint = s3_bucket_url("moto")
    store = S3Store.open(url, endpoint=endpoint)
    store.read_checkpoint(1024)
    store.record_size(ENTRIES_RECORD)
    assert not store._probed  # reading probes nothing
    store.probe()
    assert store._probed and _objects(store) == []


def test_an_interrupted_writer_leaves_debris_that_repair_removes(
    s3_bucket_url: MakeBucket, signer: Signer, verifiers: list[VerifierKey]
) -> None:
    """Another writer's chunk past the committed length (a writer killed before its swap):
    a new writer refuses it (it cannot tell a running writer from a dead one), verify reports
    it, repair removes it, and nothing committed is lost."""
    url, endpoint = s3_bucket_url("moto")
    archive = Archive.init_store(S3Store.open(url, endpoint=endpoint), ORIGIN)
    archive.add([text_request(0)], signer)
    dead = S3Store.open(url, endpoint=endpoint)  # another process's writer id
    size = dead.record_size(ENTRIES_RECORD)
    dead.append_record(ENTRIES_RECORD, b'{"v":1,"half', at=size)
    assert isinstance(archive.store, S3Store)
    archive.store.commit_wait = 0.2
    with pytest.raises(ConflictError, match="another writer that has not committed") as info:
        archive.add([text_request(1)], signer, retries=3)  # debris: not a race to retry
    assert not isinstance(info.value, LostRaceError)
    report = archive.audit(verifiers, workers=1)
    assert {p.code for p in report.problems} == {"uncommitted"}
    assert archive.repair() == {ENTRIES_RECORD: 12}
    archive.add([text_request(1)], signer)
    assert archive.verify(verifiers, workers=1).size == 2


def test_a_lost_swap_removes_its_own_chunks(
    s3_bucket_url: MakeBucket, signer: Signer, verifiers: list[VerifierKey],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A writer whose checkpoint swap is refused (another writer released meanwhile) removes
    the chunks it wrote — no checkpoint can name them — and its retry commits."""
    url, endpoint = s3_bucket_url("moto")
    archive = Archive.init_store(S3Store.open(url, endpoint=endpoint), ORIGIN)
    archive.add([text_request(0)], signer)
    rival = Archive.from_store(S3Store.open(url, endpoint=endpoint))
    store = archive.store
    assert isinstance(store, S3Store)
    swap = store.swap_checkpoint
    raced: list[bool] = []

    def racing_swap(expected: object, new: bytes) -> None:
        if not raced:
            raced.append(True)
            rival.release(signer)
        swap(expected, new)  # type: ignore[arg-type]

    monkeypatch.setattr(store, "swap_checkpoint", racing_swap)
    with pytest.raises(LostRaceError, match="another writer committed first"):
        archive.add([text_request(1)], signer)
    assert store.record_size(ENTRIES_RECORD) == rival.entry_span(0)[1]  # its chunk removed
    archive.add([text_request(1)], signer, retries=3)
    report = archive.verify(verifiers, workers=1)
    assert report.size == 2 and report.ok


# -- on a real Ceph RGW ------------------------------------------------------------------------


def test_rgw_smoke_every_command(s3_bucket_url: MakeBucket, tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    url, endpoint = s3_bucket_url("rgw")
    clerk = Clerk(tmp_path, url, endpoint)
    monkeypatch.chdir(tmp_path)
    key = ("--key", str(tmp_path / "clerk.key"))
    ok(clerk.run("key", "generate", ORIGIN, "--unencrypted", "--secret-key", key[1]))
    ok(clerk.run("init", "--origin", ORIGIN))
    ok(clerk.run("add", *key, "order-0.txt", "order-1.txt"))
    ok(clerk.run("release", *key))
    assert "2 entries" in ok(clerk.run("verify"))
    assert "OFFICIAL" in ok(clerk.run("check", "order-1.txt"))
    ok(clerk.run("prove", "order-0", "-o", str(tmp_path / "p.proof")))
    assert "EXACT" in ok(clerk.run("quote", "The City shall do thing 0 at once."))
    ok(clerk.run("cite", "order-1"))


def _writer(url: str, endpoint: str, prefix: str, count: int, batch: int = 1,
            ) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(S3_WRITER), url, endpoint, prefix, str(count), str(batch)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ),
    )


#: Documents each writer adds, and per append (ORDERARCHIVE_S3_STRESS=N multiplies the count).
STRESS = int(os.environ.get("ORDERARCHIVE_S3_STRESS", "1"))
WRITER_DOCS, WRITER_BATCH = 100 * STRESS, 4 // STRESS or 1


def test_rgw_two_writers_never_fork(
    s3_bucket_url: MakeBucket, signer: Signer, verifiers: list[VerifierKey]
) -> None:
    """Two processes add 100 documents each (four per append; ORDERARCHIVE_S3_STRESS=3: 300
    each, one per append) to one bucket at once: each
    append is committed by exactly one writer (the other's attempt is refused and retried from
    the new head), nothing is lost, the log is one history."""
    url, endpoint = s3_bucket_url("rgw")
    Archive.init_store(S3Store.open(url, endpoint=endpoint), ORIGIN)
    count = WRITER_DOCS
    writers = [_writer(url, endpoint, prefix, count, WRITER_BATCH) for prefix in ("a", "b")]
    outputs = [w.communicate(timeout=600) for w in writers]
    for w, (_, err) in zip(writers, outputs, strict=True):
        # the writer's own error, without its "lost" lines (each a retried attempt)
        assert w.returncode == 0, (
            w.returncode, "\n".join(ln for ln in err.splitlines() if ln != "lost")[-2000:])
    printed = [line for out, _ in outputs for line in out.split()]
    lost = sum(err.count("lost") for _, err in outputs)
    archive = Archive.from_store(S3Store.open(url, endpoint=endpoint))
    report = archive.verify(verifiers)
    assert report.ok and report.size == 2 * count, report.problems
    docs = [e.doc for e in archive.iter_entries()]
    assert sorted(docs) == sorted(printed) and len(set(docs)) == 2 * count
    # Each writer's documents are in its own order: no append was applied twice or lost.
    for prefix in ("a", "b"):
        mine = [d for d in docs if d.startswith(prefix + "-")]
        assert mine == [f"{prefix}-{i}" for i in range(count)]
    # One checkpoint per committed append: the two writers' appends interleave, never merge.
    appends = 1 + sum(1 for i in range(1, len(docs)) if docs[i][0] != docs[i - 1][0])
    assert appends <= 2 * count // WRITER_BATCH
    print(f"two writers: {2 * count} documents, {lost} attempts lost and retried")


KILLS = 12 * STRESS


def test_rgw_kill_9_loses_nothing_committed(
    s3_bucket_url: MakeBucket, signer: Signer, verifiers: list[VerifierKey]
) -> None:
    """A writer killed with SIGKILL at random moments of its adds (KILLS times): the bucket
    verifies, or 'repair' makes it verify, and every document the writer reported committed
    is there."""
    url, endpoint = s3_bucket_url("rgw")
    archive = Archive.init_store(S3Store.open(url, endpoint=endpoint), ORIGIN)
    archive.add([text_request(0, doc="seed")], signer)
    rng = random.Random(19)
    committed: list[str] = []
    repaired = 0
    for kill in range(KILLS):
        w = _writer(url, endpoint, f"k{kill}", 400, 2)
        assert w.stderr is not None
        assert w.stderr.readline().strip() == "ready"  # opened and probed: adding from now on
        time.sleep(rng.uniform(0.0, 0.6))
        w.send_signal(signal.SIGKILL)
        out, _ = w.communicate(timeout=30)
        committed += out.split()
        fresh = Archive.from_store(S3Store.open(url, endpoint=endpoint))
        report = fresh.audit(verifiers, workers=1, check_objects=False)
        if not report.ok:
            assert {p.code for p in report.problems} <= {"uncommitted"}, report.problems
            fresh.repair()
            repaired += 1
        assert set(committed) <= {e.doc for e in fresh.iter_entries()}
    final = Archive.from_store(S3Store.open(url, endpoint=endpoint)).audit(verifiers)
    assert final.ok, final.problems
    print(f"{KILLS} kills: {len(committed)} committed documents kept, {repaired} repairs")


def test_storage_errors_are_one_line(s3_bucket_url: MakeBucket) -> None:
    url, endpoint = s3_bucket_url("moto")
    store = S3Store.open(url, endpoint=endpoint)
    with pytest.raises(StorageError, match=r"^[^\n]*$"):
        store.read_range(ENTRIES_RECORD, 0, 1 << 40)


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("log/entries.d/00000000000000000099", "not contiguous"),  # a gap
        ("log/entries.d/00000000000000000003", "not contiguous"),  # an overlap
        ("log/entries.d/junk", "unexpected object"),
    ],
)
def test_a_damaged_bucket_is_refused_not_read_short(
    s3_bucket_url: MakeBucket, key: str, message: str
) -> None:
    url, endpoint = s3_bucket_url("moto")
    store = S3Store.open(url, endpoint=endpoint)
    store.append_record(ENTRIES_RECORD, b"first\n", at=0)
    store._client.put_object(Bucket=store.bucket, Key=store.prefix + key, Body=b"planted\n")
    with pytest.raises(StorageError, match=message):
        store.record_size(ENTRIES_RECORD)
    with pytest.raises(StorageError, match=message), store.stream_record(ENTRIES_RECORD):
        pass


def test_a_writer_waits_while_a_long_add_renews_its_lease(
    s3_bucket_url: MakeBucket, signer: Signer, verifiers: list[VerifierKey],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A long batched add holds uncommitted chunks far longer than commit_wait: a second
    writer (another thread, another writer id) that finds them keeps waiting while the first
    renews its lease, then retries from the new head and commits; no lease is left behind."""
    import threading

    url, endpoint = s3_bucket_url("moto")
    first = Archive.init_store(S3Store.open(url, endpoint=endpoint), ORIGIN)
    first.add([text_request(0)], signer)
    second = Archive.from_store(S3Store.open(url, endpoint=endpoint))
    stores = [first.store, second.store]
    assert isinstance(stores[0], S3Store) and isinstance(stores[1], S3Store)
    for store in stores:
        store.commit_wait = 1.5
    waits: list[float] = []
    wait = stores[1]._another_writer

    def noted(name: str, *owner: str | None) -> None:
        waits.append(time.monotonic())
        wait(name, *owner)

    monkeypatch.setattr(stores[1], "_another_writer", noted)

    def batches() -> Iterator[list[AddRequest]]:
        yield [text_request(1)]
        yield [text_request(2)]
        # The slow first writer: its chunks are written, and it holds them until the second
        # writer has waited three times commit_wait (it no longer gave up after one).
        while not second_done.is_set() and (
                not waits or time.monotonic() - waits[0] < 3 * stores[0].commit_wait):
            assert time.monotonic() - started < 120, "the second writer never waited"
            time.sleep(0.05)
        yield [text_request(3)]

    started = time.monotonic()
    second_done = threading.Event()
    done: list[object] = []
    thread = threading.Thread(target=lambda: done.append(first.add_chunks(batches, signer)))
    thread.start()
    try:
        while not stores[0]._mine:  # the first writer holds uncommitted chunks
            assert thread.is_alive() and time.monotonic() - started < 120
            time.sleep(0.01)
        added = second.add([text_request(4)], signer, retries=3)
    finally:
        second_done.set()
        thread.join(120)
    assert done and added[0].seq == 4 and len(waits) >= 1
    assert first.verify(verifiers, workers=1).size == 5
    assert not [n for n in _objects(stores[0]) if n.startswith(LEASE_PREFIX)]


def test_a_lease_no_longer_renewed_is_an_interrupted_writer(
    s3_bucket_url: MakeBucket, signer: Signer
) -> None:
    """A writer killed with its lease in the bucket: the lease stops changing, so the waiting
    writer gives up after commit_wait as before (ConflictError, for repair)."""
    url, endpoint = s3_bucket_url("moto")
    archive = Archive.init_store(S3Store.open(url, endpoint=endpoint), ORIGIN)
    archive.add([text_request(0)], signer)
    dead = S3Store.open(url, endpoint=endpoint)
    dead._renew_lease()  # its lease, then its chunk; then it was killed
    dead.append_record(ENTRIES_RECORD, b'{"v":1,"half', at=dead.record_size(ENTRIES_RECORD))
    assert isinstance(archive.store, S3Store)
    archive.store.commit_wait = 0.2
    with pytest.raises(ConflictError, match="nor renewed its lease"):
        archive.add([text_request(1)], signer, retries=3)
    assert [n for n in _objects(dead) if n.startswith(LEASE_PREFIX)]
    assert archive.repair() == {ENTRIES_RECORD: 12}  # its chunk and its lease removed
    assert not [n for n in _objects(dead) if n.startswith(LEASE_PREFIX)]
