"""The tlog-witness add-checkpoint protocol against a running server over loopback HTTP:
every response code, persistence before the answer, a race where exactly one request wins,
the cosigned page, and Go's note.Open on every cosignature the witness produced."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from orderarchive.errors import StorageError
from orderarchive.log.cosignature import Cosigner, WitnessPolicy, add_cosignatures, open_cosigned
from orderarchive.log.note import Signer
from orderarchive.log.witness import SIZE_CONTENT_TYPE, AddCheckpointRequest, Witness, WitnessState
from orderarchive.log.witness_http import WitnessServer, make_server, post_add_checkpoint
from witnesslog import ScratchLog

ORIGIN = "example.gov/witnessed"
NOW = 1780000000


@pytest.fixture
def log() -> ScratchLog:
    return ScratchLog(Signer(ORIGIN, bytes([5]) * 32))


@pytest.fixture
def cosigner() -> Cosigner:
    return Cosigner("witness.example/w1", bytes([6]) * 32)


@pytest.fixture
def state(tmp_path: Path, log: ScratchLog) -> WitnessState:
    st = WitnessState(tmp_path / "witness.sqlite")
    st.add_log(ORIGIN, log.signer.verifier())
    return st


@pytest.fixture
def server(state: WitnessState, cosigner: Cosigner) -> Iterator[WitnessServer]:
    srv = make_server(Witness(cosigner, state, clock=lambda: NOW), port=0)
    srv.serve_in_thread()
    yield srv
    srv.shutdown()
    srv.server_close()


def post(server: WitnessServer, body: bytes) -> tuple[int, str, bytes]:
    r = post_add_checkpoint(server.url, body)
    return r.status, r.content_type, r.body


def policy(cosigner: Cosigner) -> WitnessPolicy:
    return WitnessPolicy.parse(f"witness {cosigner.verifier()}\n")


def test_200_returns_a_cosignature_that_verifies(server: WitnessServer, log: ScratchLog,
                                                 cosigner: Cosigner, state: WitnessState) -> None:
    status, _ctype, body = post(server, log.request(0, 5))
    assert status == 200 and body.startswith("— witness.example/w1 ".encode())
    cosigned = add_cosignatures(log.checkpoint(5), body)
    got = open_cosigned(cosigned, [log.signer.verifier()], policy(cosigner), now=NOW)
    assert got.checkpoint.size == 5 and got.cosigned_by[0][1] == NOW
    # persisted before the answer: a fresh connection to the database sees it
    assert WitnessState(state.path).latest(ORIGIN) == (5, log.root(5))
    status, _, body = post(server, log.request(5, 9))
    assert status == 200
    assert WitnessState(state.path).latest(ORIGIN) == (9, log.root(9))
    status, _, _ = post(server, log.request(9, 9))  # same size, same root: cosigned again
    assert status == 200


def test_404_unknown_origin(server: WitnessServer) -> None:
    other = ScratchLog(Signer("example.gov/other", bytes([7]) * 32))
    assert post(server, other.request(0, 3))[0] == 404


def test_403_no_signature_by_a_trusted_key(server: WitnessServer, state: WitnessState) -> None:
    impostor = ScratchLog(Signer(ORIGIN, bytes([8]) * 32))  # right origin, wrong key
    assert post(server, impostor.request(0, 3))[0] == 403
    assert state.latest(ORIGIN) == (0, None)


def test_403_bad_signature_by_the_trusted_key(server: WitnessServer, log: ScratchLog) -> None:
    note = bytearray(log.checkpoint(3))
    note[len(ORIGIN) + 1] = ord("4")  # the size line says 4: the signature no longer matches
    assert post(server, AddCheckpointRequest(0, (), bytes(note)).to_bytes())[0] == 403


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"old 1\n",
        b"new 0\n\nx",
        b"old 01\n\n",
        b"old -1\n\n",
        b"old 0\nAAAA\n\n",
        b"old 0\n\nnot a note",
    ],
    ids=["empty", "no-blank-line", "no-old-line", "leading-zero", "negative", "short-hash",
         "not-a-note"],
)
def test_400_malformed(server: WitnessServer, body: bytes) -> None:
    assert post(server, body)[0] == 400


def test_400_old_larger_than_checkpoint(server: WitnessServer, log: ScratchLog) -> None:
    assert post(server, AddCheckpointRequest(6, (), log.checkpoint(5)).to_bytes())[0] == 400


def test_400_too_many_proof_lines_or_proof_from_zero(server: WitnessServer,
                                                     log: ScratchLog) -> None:
    note = log.checkpoint(5)
    lines = b"".join(b"%s\n" % b64 for b64 in [b"A" * 43 + b"="] * 64)
    assert post(server, b"old 1\n" + lines + b"\n" + note)[0] == 400
    assert post(server, b"old 0\n" + b"A" * 43 + b"=\n\n" + note)[0] == 400


def test_409_stale_old_size_with_the_size_body(server: WitnessServer, log: ScratchLog) -> None:
    assert post(server, log.request(0, 5))[0] == 200
    status, ctype, body = post(server, log.request(3, 8))
    assert (status, ctype, body) == (409, SIZE_CONTENT_TYPE, b"5\n")
    status, ctype, body = post(server, log.request(0, 8))
    assert (status, ctype, body) == (409, SIZE_CONTENT_TYPE, b"5\n")


def test_409_same_size_other_root(server: WitnessServer, log: ScratchLog,
                                  state: WitnessState) -> None:
    assert post(server, log.request(0, 5))[0] == 200
    fork = ScratchLog(log.signer, tag=b"fork ")
    status, ctype, body = post(server, fork.request(5, 5))
    assert (status, ctype, body) == (409, SIZE_CONTENT_TYPE, b"5\n")
    assert state.latest(ORIGIN) == (5, log.root(5))


def test_422_bad_consistency_proof(server: WitnessServer, log: ScratchLog,
                                   state: WitnessState) -> None:
    assert post(server, log.request(0, 5))[0] == 200
    fork = ScratchLog(log.signer, tag=b"fork ")  # validly signed, does not extend size 5
    assert post(server, AddCheckpointRequest(5, fork.proof(5, 9), fork.checkpoint(9))
                .to_bytes())[0] == 422
    proof = list(log.proof(5, 9))
    proof[0] = bytes(32)
    assert post(server, AddCheckpointRequest(5, tuple(proof), log.checkpoint(9))
                .to_bytes())[0] == 422
    assert state.latest(ORIGIN) == (5, log.root(5))


def test_a_race_of_concurrent_requests_has_exactly_one_winner(
    server: WitnessServer, log: ScratchLog, state: WitnessState
) -> None:
    """20 threads send 'old 0' for 20 different sizes at once: one wins, 19 get 409 naming the
    winner's size, and the stored state is the winner's (no rollback)."""
    bodies = [log.request(0, size) for size in range(1, 21)]
    barrier = threading.Barrier(len(bodies))
    results: list[tuple[int, int, bytes]] = []
    lock = threading.Lock()

    def run(size: int, body: bytes) -> None:
        barrier.wait()
        status, _, answer = post(server, body)
        with lock:
            results.append((size, status, answer))

    threads = [threading.Thread(target=run, args=(i + 1, b)) for i, b in enumerate(bodies)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [(size, a) for size, status, a in results if status == 200]
    assert len(winners) == 1, results
    won = winners[0][0]
    assert sorted(s for _, s, _ in results) == [200] + [409] * 19
    assert all(a == f"{won}\n".encode() for _, s, a in results if s == 409)
    assert state.latest(ORIGIN) == (won, log.root(won))
    assert state.count(ORIGIN) == 1


def test_two_witness_processes_on_one_database_cannot_both_win(
    tmp_path: Path, state: WitnessState, log: ScratchLog, cosigner: Cosigner
) -> None:
    """The atomicity is SQLite's, not the server's: two servers on one database file (two
    separate processes' worth of connections), raced."""
    servers = [make_server(Witness(cosigner, WitnessState(state.path)), port=0)
               for _ in range(2)]
    for s in servers:
        s.serve_in_thread()
    try:
        barrier = threading.Barrier(10)
        statuses: list[int] = []

        def run(i: int) -> None:
            barrier.wait()
            statuses.append(post(servers[i % 2], log.request(0, 10 + i))[0])

        threads = [threading.Thread(target=run, args=(i,)) for i in range(10)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        for s in servers:
            s.shutdown()
            s.server_close()
    assert sorted(statuses) == [200] + [409] * 9
    assert state.count(ORIGIN) == 1


def test_the_page_lists_what_was_cosigned(server: WitnessServer, log: ScratchLog,
                                          cosigner: Cosigner) -> None:
    post(server, log.request(0, 3))
    post(server, log.request(3, 7))
    with urllib.request.urlopen(server.url + "/", timeout=10) as r:  # noqa: S310 (loopback)
        page = r.read().decode()
    assert f"witness {cosigner.verifier()}" in page
    assert f"{ORIGIN} 7 " in page and f"{ORIGIN} 3 " in page
    with urllib.request.urlopen(server.url + "/?json", timeout=10) as r:  # noqa: S310
        doc = json.load(r)
    assert [c["size"] for c in doc["cosigned"]] == [7, 3]


def test_go_opens_every_cosignature_the_witness_produced(
    gocosig: Path, tmp_path: Path, server: WitnessServer, log: ScratchLog, cosigner: Cosigner
) -> None:
    files = []
    old = 0
    for size in (1, 2, 3, 8, 13, 64, 65, 100):
        status, _, body = post(server, log.request(old, size))
        assert status == 200
        path = tmp_path / f"{size}.note"
        path.write_bytes(add_cosignatures(log.checkpoint(size), body))
        files.append(path)
        old = size
    (tmp_path / "log.vkey").write_text(f"{log.signer.verifier()}\n")
    (tmp_path / "w.vkey").write_text(f"{cosigner.verifier()}\n")
    r = subprocess.run([str(gocosig), str(tmp_path / "log.vkey"), str(tmp_path / "w.vkey"),
                        *map(str, files)], capture_output=True, text=True, timeout=120,
                       check=False)
    assert r.returncode == 0 and r.stdout.count("ok ") == len(files), r.stderr
    data = bytearray(files[-1].read_bytes())
    data[-10] ^= 0x01  # a bit of the cosignature's base64 (still base64)
    files[-1].write_bytes(bytes(data))
    r = subprocess.run([str(gocosig), str(tmp_path / "log.vkey"), str(tmp_path / "w.vkey"),
                        str(files[-1])], capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode != 0 and "note.Open" in r.stderr


def test_the_load_test_runs_and_loses_no_update(tmp_path: Path) -> None:
    """benchmarks/witness_load.py in a small run (no timing asserted): its own checks of the
    witness's history (every 200 recorded, strictly increasing, state = last) must pass."""
    from conftest import REPO

    r = subprocess.run([sys.executable, "-m", "benchmarks.witness_load", "--clients", "3",
                        "--requests", "15", "--json"], cwd=REPO, capture_output=True,
                       text=True, timeout=300, check=False)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    doc = json.loads(r.stdout)
    assert doc["failures"] == []
    assert doc["phases"]["own logs"]["ok"] == 15


def test_a_failure_before_the_commit_answers_500_and_changes_nothing(
    server: WitnessServer, log: ScratchLog, state: WitnessState, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert post(server, log.request(0, 3))[0] == 200

    def broken(*args: object) -> None:
        raise StorageError("disk full")

    monkeypatch.setattr(Cosigner, "cosign", broken)
    assert post(server, log.request(3, 8))[0] == 500
    assert state.latest(ORIGIN) == (3, log.root(3)) and state.count(ORIGIN) == 1
