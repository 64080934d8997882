"""Load test of the witness (issue 17): concurrent add-checkpoint requests over loopback HTTP.

    python -m benchmarks.witness_load                      # 20 clients, 2,000 requests
    python -m benchmarks.witness_load --clients 4 --requests 40   # a smoke run (tests)

The witness runs as its own process (``orderarchive witness serve``, port 0), as in
production; the clients are threads of this process, each with one keep-alive connection.
Every request carries a real checkpoint signed by its log's key and, after the first, a real
RFC 9162 consistency proof from the previous size; all of them are made before the clock
starts, so the numbers are the witness's (parse, verify the note, SQLite check-and-update with
a synced commit, cosign, answer) plus loopback HTTP.

Two phases:

* **own logs** - each client submits its own log's growing checkpoints (no contention on a
  log; contention on the one database);
* **one shared log** - every client submits checkpoints of the same log, resending from the
  size in the witness's 409 answer, as a clerk does (maximal contention on one row).

No lost update means: every 200 answer is in the witness's cosigned history, each log's
history is strictly increasing in size, its last entry is the witness's current state, and
every cosignature returned verifies. The run fails (exit 1) otherwise.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from orderarchive.log import merkle
from orderarchive.log.checkpoint import Checkpoint, sign_checkpoint
from orderarchive.log.cosignature import WitnessPolicy, add_cosignatures, open_cosigned
from orderarchive.log.note import Signer
from orderarchive.log.witness import AddCheckpointRequest, WitnessState

Request = tuple[int, int, bytes]  # (old size, new size, body)


def _log_requests(signer: Signer, sizes: list[int]) -> tuple[list[Request], list[bytes]]:
    """Requests old -> new for a log growing through *sizes*, and each checkpoint note."""
    tree = merkle.MemoryHashStore()
    out: list[Request] = []
    notes: list[bytes] = []
    old = 0
    for size in sizes:
        while tree.size < size:
            tree.append_record(merkle.leaf_hash(b"%s %d" % (signer.name.encode(), tree.size)))
        root = merkle.tree_hash(size, tree.read)
        note = sign_checkpoint(Checkpoint(signer.name, size, root), signer)
        proof = () if old == 0 else tuple(merkle.consistency_proof(old, size, tree.read))
        out.append((old, size, AddCheckpointRequest(old, proof, note).to_bytes()))
        notes.append(note)
        old = size
    return out, notes


def _post(conn: http.client.HTTPConnection, body: bytes) -> tuple[int, bytes]:
    conn.request("POST", "/add-checkpoint", body=body)
    r = conn.getresponse()
    return r.status, r.read()


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--requests", type=int, default=2000, help="per phase, over all clients")
    ap.add_argument("--json", dest="as_json", action="store_true")
    args = ap.parse_args(argv)
    per_client = max(1, args.requests // args.clients)
    work = Path(tempfile.mkdtemp(prefix="witness-load-"))
    env = dict(os.environ, ORDERARCHIVE_ALLOW_UNPROTECTED_KEY="1")
    cli = [sys.executable, "-m", "orderarchive", "--json", "witness"]
    subprocess.run([*cli, "keygen", "load.example/w", "--dir", str(work), "--unencrypted"],
                   check=True, capture_output=True, env=env)
    wkey = (work / "witness.vkey").read_text().strip()
    policy = WitnessPolicy.parse(f"witness {wkey}\n")
    state = WitnessState(work / "witness.sqlite")

    # -- prepare every request before the clock starts ----------------------------------------
    own: list[list[Request]] = []
    own_notes: list[list[bytes]] = []
    signers = [Signer(f"load.example/log{i}", bytes([i + 1]) * 32) for i in range(args.clients)]
    for s in signers:
        state.add_log(s.name, s.verifier())
        reqs, notes = _log_requests(s, [3 * (k + 1) for k in range(per_client)])
        own.append(reqs)
        own_notes.append(notes)
    shared_signer = Signer("load.example/shared", bytes([200]) * 32)
    state.add_log(shared_signer.name, shared_signer.verifier())
    total_shared = per_client * args.clients
    shared_tree = merkle.MemoryHashStore()
    for i in range(total_shared + 1):
        shared_tree.append_record(merkle.leaf_hash(b"shared %d" % i))
    shared_notes = {
        size: sign_checkpoint(
            Checkpoint(shared_signer.name, size, merkle.tree_hash(size, shared_tree.read)),
            shared_signer)
        for size in range(1, total_shared + 1)
    }
    proof_cache: dict[tuple[int, int], tuple[bytes, ...]] = {}

    def shared_body(old: int, new: int) -> bytes:
        key = (old, new)
        if key not in proof_cache:
            proof_cache[key] = () if old in (0, new) else tuple(
                merkle.consistency_proof(old, new, shared_tree.read))
        return AddCheckpointRequest(old, proof_cache[key], shared_notes[new]).to_bytes()

    # -- the witness, its own process ------------------------------------------------------------
    server = subprocess.Popen([*cli, "serve", "--dir", str(work), "--listen", "127.0.0.1:0"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert server.stdout is not None
    lines = []
    while not lines or lines[-1] != b"}\n":  # the one JSON document, then it serves
        line = server.stdout.readline()
        if not line:
            raise SystemExit(f"the witness did not start: {server.stderr.read().decode()}")
        lines.append(line)
    url = json.loads(b"".join(lines))["url"]
    host, port = url.removeprefix("http://").split(":")
    results: dict[str, dict[str, object]] = {}
    failures: list[str] = []
    try:
        # phase 1: own logs
        latencies: list[float] = []
        answers: dict[int, list[tuple[int, int, bytes]]] = {}
        lock = threading.Lock()
        barrier = threading.Barrier(args.clients + 1)

        def own_client(i: int) -> None:
            conn = http.client.HTTPConnection(host, int(port), timeout=60)
            mine: list[tuple[int, int, bytes]] = []
            lat: list[float] = []
            barrier.wait()
            for _old, size, body in own[i]:
                t0 = time.perf_counter()
                status, answer = _post(conn, body)
                lat.append(time.perf_counter() - t0)
                mine.append((size, status, answer))
            conn.close()
            with lock:
                answers[i] = mine
                latencies.extend(lat)

        threads = [threading.Thread(target=own_client, args=(i,)) for i in range(args.clients)]
        for t in threads:
            t.start()
        barrier.wait()
        start = time.perf_counter()
        for t in threads:
            t.join()
        wall = time.perf_counter() - start
        n = sum(len(v) for v in answers.values())
        ok = sum(1 for v in answers.values() for _, st, _ in v if st == 200)
        results["own logs"] = {"requests": n, "ok": ok, "seconds": wall,
                               "per_second": n / wall, "p50_ms": 1000 * _percentile(latencies, 50),
                               "p99_ms": 1000 * _percentile(latencies, 99)}
        for i, s in enumerate(signers):
            for (size, status, answer), note in zip(answers[i], own_notes[i], strict=True):
                if status != 200:
                    failures.append(f"{s.name} size {size}: HTTP {status}")
                    continue
                open_cosigned(add_cosignatures(note, answer), [s.verifier()], policy)
            latest = state.latest(s.name)
            if latest is None or latest[0] != own[i][-1][1]:
                failures.append(f"{s.name}: state {latest}, last cosigned {own[i][-1][1]}")

        # phase 2: one shared log, 409 -> resend from the reported size
        latencies2: list[float] = []
        won: list[int] = []
        sent = [0]
        barrier2 = threading.Barrier(args.clients + 1)

        def shared_client(i: int) -> None:
            conn = http.client.HTTPConnection(host, int(port), timeout=60)
            lat: list[float] = []
            mine: list[int] = []
            count = 0
            old = 0
            barrier2.wait()
            for k in range(per_client):
                target = min(total_shared, k * args.clients + i + 1)
                while count < 4 * per_client:
                    if old >= target:
                        break
                    t0 = time.perf_counter()
                    status, answer = _post(conn, shared_body(old, target))
                    lat.append(time.perf_counter() - t0)
                    count += 1
                    if status == 200:
                        open_cosigned(add_cosignatures(shared_notes[target], answer),
                                      [shared_signer.verifier()], policy)
                        mine.append(target)
                        old = target
                        break
                    if status != 409:
                        with lock:
                            failures.append(f"shared size {target}: HTTP {status}")
                        break
                    old = int(answer)
            conn.close()
            with lock:
                latencies2.extend(lat)
                won.extend(mine)
                sent[0] += count

        threads = [threading.Thread(target=shared_client, args=(i,))
                   for i in range(args.clients)]
        for t in threads:
            t.start()
        barrier2.wait()
        start = time.perf_counter()
        for t in threads:
            t.join()
        wall = time.perf_counter() - start
        results["one shared log"] = {
            "requests": sent[0], "ok": len(won), "seconds": wall, "per_second": sent[0] / wall,
            "p50_ms": 1000 * _percentile(latencies2, 50),
            "p99_ms": 1000 * _percentile(latencies2, 99)}
    finally:
        server.terminate()
        server.wait(timeout=30)

    # -- no lost update ----------------------------------------------------------------------------
    import sqlite3

    db = sqlite3.connect(work / "witness.sqlite")
    for origin in [s.name for s in signers] + [shared_signer.name]:
        sizes = [int(r[0]) for r in db.execute(
            "SELECT size FROM cosigned WHERE origin = ? ORDER BY id", (origin,))]
        if any(b <= a for a, b in itertools.pairwise(sizes)):
            failures.append(f"{origin}: cosigned history is not strictly increasing")
        latest = state.latest(origin)
        if sizes and (latest is None or latest[0] != sizes[-1]):
            failures.append(f"{origin}: state {latest} is not the last cosigned {sizes[-1]}")
        if origin == shared_signer.name and sorted(won) != sizes:
            failures.append("shared log: the 200 answers and the cosigned history differ")
    db.close()
    shutil.rmtree(work, ignore_errors=True)
    load = os.getloadavg()
    doc = {"clients": args.clients, "phases": results, "failures": failures,
           "cpus": os.cpu_count(), "python": platform.python_version(),
           "loadavg_after": [round(x, 2) for x in load]}
    if args.as_json:
        print(json.dumps(doc, indent=2))
    else:
        print(f"witness load test: {args.clients} clients, loopback HTTP, "
              f"{os.cpu_count()} CPUs, load average after {load[0]:.2f}")
        print("| phase | requests | 200 | seconds | requests/s | p50 ms | p99 ms |")
        print("|---|---|---|---|---|---|---|")
        for name, r in results.items():
            print(f"| {name} | {r['requests']} | {r['ok']} | {r['seconds']:.1f} | "
                  f"{r['per_second']:.0f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} |")
        print("no lost update" if not failures else "FAILURES:\n" + "\n".join(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
