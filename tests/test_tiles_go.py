"""Go's reference code reads the published tiles over HTTP: golang.org/x/mod/sumdb/tlog's
TileHashReader authenticates them, and ProveRecord/CheckRecord and ProveTree/CheckTree accept
every entry of the bundles and every release (Debian's golang-golang-x-mod-dev)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from _httpsite import serve
from conftest import GOPATH, need_tool, text_request
from orderarchive.archive import Archive
from orderarchive.log.keys import file_stem
from orderarchive.log.note import Signer, VerifierKey
from orderarchive.publish import publish

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def gotiles(tmp_path_factory: pytest.TempPathFactory) -> Path:
    go = need_tool("go")
    out = tmp_path_factory.mktemp("gotiles")
    env = dict(os.environ, GO111MODULE="off", GOPATH=str(GOPATH), GOCACHE=str(out / "cache"),
               GOFLAGS="")
    subprocess.run([go, "build", "-o", str(out / "gotiles"), str(HERE / "interop/gotiles.go")],
                   env=env, check=True, capture_output=True, timeout=300)
    return out / "gotiles"


def _run(gotiles: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(gotiles), *map(str, args)], capture_output=True, text=True,
                          timeout=120, check=False)


def test_the_sample_archive_published_and_read_by_go(gotiles: Path, tmp_path: Path) -> None:
    repo = HERE.parent
    vkey = repo / "keys" / "sample.orderarchive.example_boston-executive-orders.vkey"
    from orderarchive.log.keys import load_verifiers

    archive = Archive.open(repo / "archive")
    site = tmp_path / "site"
    publish(archive, site, load_verifiers([vkey]))
    sizes = [str(s) for s in archive.releases()]
    with serve(site) as served:
        r = _run(gotiles, served.url, vkey, *sizes)
    assert r.returncode == 0 and r.stdout.startswith(f"ok tiles: 4 records, {len(sizes)}"), (
        r.stderr)


def test_go_reads_a_grown_site_and_refuses_a_tampered_tile(
        gotiles: Path, tmp_path: Path, signer: Signer, verifiers: list[VerifierKey],
        make_archive: Callable[..., Archive]) -> None:
    archive = make_archive(300)
    site = tmp_path / "site"
    publish(archive, site, verifiers)
    archive.add([text_request(i) for i in range(300, 600)], signer)
    archive.release(signer)
    publish(archive, site, verifiers)
    vkey = tmp_path / f"{file_stem(signer.name)}.vkey"
    vkey.write_text(signer.verifier().to_string() + "\n")
    with serve(site) as served:
        r = _run(gotiles, served.url, vkey, "300")
        assert r.returncode == 0 and "ok tiles: 600 records, 1 releases" in r.stdout, r.stderr
        for victim in ["tile/0/001", "tile/1/000.p/2"]:
            path = site / victim
            good = path.read_bytes()
            bad = bytearray(good)
            bad[40] ^= 1
            path.write_bytes(bytes(bad))
            r = _run(gotiles, served.url, vkey)
            # Refused by TileHashReader's authentication, or (Go's reader leaves a tile
            # unauthenticated when two of the tree's subtrees share a tile: len(stx) counts
            # hashes, not tiles) by CheckRecord against the signed root.
            assert r.returncode != 0, (victim, r.stdout)
            assert "inconsistent tile" in r.stderr or "CheckRecord" in r.stderr, r.stderr
            path.write_bytes(good)
        # A tampered entry bundle: the record no longer hashes to its leaf.
        path = site / "tile/entries/001"
        bad = bytearray(path.read_bytes())
        bad[10] ^= 1
        path.write_bytes(bytes(bad))
        r = _run(gotiles, served.url, vkey)
        assert r.returncode != 0 and "CheckRecord" in r.stderr, r.stderr
