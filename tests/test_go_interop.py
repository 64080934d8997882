"""Byte compatibility with Go's reference code: golang.org/x/mod/sumdb/note opens our signed
checkpoints, and sumdb/tlog (TreeHash, StoredHashesForRecordHash, CheckRecord, CheckTree)
accepts our stored hashes, roots, inclusion proofs and consistency proofs.

Uses Debian's golang-go and golang-golang-x-mod-dev (.ci/run installs them)."""

from __future__ import annotations

import base64
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import GOPATH, need_tool, text_request
from orderarchive.archive import Archive
from orderarchive.log.keys import file_stem
from orderarchive.log.note import Signer
from orderarchive.proofs import consistency, prove

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def gocheck(tmp_path_factory: pytest.TempPathFactory) -> Path:
    go = need_tool("go")
    out = tmp_path_factory.mktemp("go")
    env = dict(os.environ, GO111MODULE="off", GOPATH=str(GOPATH), GOCACHE=str(out / "cache"),
               GOFLAGS="")
    subprocess.run([go, "build", "-o", str(out / "gocheck"), str(HERE / "interop/gocheck.go")],
                   env=env, check=True, capture_output=True, timeout=300)
    return out / "gocheck"


def go(gocheck: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(gocheck), *map(str, args)], capture_output=True, text=True,
                          timeout=120, check=False)


def test_sample_archive_with_go(gocheck: Path) -> None:
    repo = HERE.parent
    vkey = repo / "keys" / "sample.orderarchive.example_boston-executive-orders.vkey"
    r = go(gocheck, "archive", vkey, repo / "archive")
    assert r.returncode == 0 and r.stdout.startswith("ok archive"), r.stderr


def test_every_proof_and_release_pair_with_go(gocheck: Path, tmp_path: Path, signer: Signer,
                                              make_archive: Callable[..., Archive]) -> None:
    archive = make_archive(0)
    sizes = [1, 2, 5, 13, 32, 64, 70]
    done = 0
    for size in sizes:
        archive.add([text_request(i) for i in range(done, size)], signer)
        archive.release(signer)
        done = size
    vkey = tmp_path / f"{file_stem(signer.name)}.vkey"
    vkey.write_text(signer.verifier().to_string() + "\n")
    r = go(gocheck, "archive", vkey, archive.path)
    assert r.returncode == 0 and "70 entries, 7 releases" in r.stdout, r.stderr
    for seq in (0, 1, 31, 32, 63, 69):
        proof = tmp_path / f"{seq}.tlog-proof"
        proof.write_bytes(prove(archive, f"eo-{seq}", [signer.verifier()]))
        r = go(gocheck, "proof", vkey, proof)
        assert r.returncode == 0 and f"entry {seq} in tree 70" in r.stdout, r.stderr
    for old in sizes[:-1]:
        for new in [s for s in sizes if s > old]:
            proof = tmp_path / f"{old}-{new}.txt"
            hashes = consistency(archive, old, new).proof
            proof.write_text("".join(f"{_b64(h)}\n" for h in hashes))
            r = go(gocheck, "consistency", vkey, archive.path / "releases" / str(old),
                   archive.path / "releases" / str(new), proof)
            assert r.returncode == 0, (old, new, r.stderr)
    # The checker can fail: Go refuses a proof with one flipped bit.
    bad = bytearray((tmp_path / "31.tlog-proof").read_bytes())
    line = bad.index(b"\n", bad.index(b"index ")) + 1
    bad[line] = ord("A") if bad[line] != ord("A") else ord("B")
    (tmp_path / "bad.tlog-proof").write_bytes(bytes(bad))
    assert go(gocheck, "proof", vkey, tmp_path / "bad.tlog-proof").returncode != 0


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()
