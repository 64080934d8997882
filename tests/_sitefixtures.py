"""Published sites and the files dropped on their verify page, shared by the JS unit tests
(test_site_js.py), the nginx test and the Chromium tests.

Each case is named after what it is (official, altered copy, unknown file, tampered tile,
tampered checkpoint, ...) and carries the verdict the verify page must give.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

from conftest import REPO, text_request
from orderarchive.archive import Archive
from orderarchive.log import merkle
from orderarchive.log.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from orderarchive.log.entry import make_entry
from orderarchive.log.keys import load_verifiers
from orderarchive.log.note import Signer, VerifierKey
from orderarchive.log.tiles import (
    TILE_WIDTH,
    Tile,
    entry_bundle,
    entry_bundle_path,
    tile_data,
    tiles_for_size,
)
from orderarchive.publish import publish, sha256_lookup_path
from orderarchive.site import publish_pages

SAMPLE_ORDER = "boston-eo-2026-02-05-specimen"


def _flip(path: Path, at: int) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 0x01
    path.write_bytes(bytes(data))


def _copy(site: Path, dest: Path) -> Path:
    shutil.copytree(site, dest)
    return dest


def sample_site(tmp: Path) -> tuple[Path, dict[str, Path], dict[str, dict[str, Any]]]:
    """The sample archive published, the files a user might drop, and the expected verdicts
    (with, for tampered sites, the directory of the tampered copy)."""
    archive = Archive.open(REPO / "archive")
    keys = load_verifiers([REPO / "keys"])
    site = tmp / "site"
    publish(archive, site, keys, pages=publish_pages)
    order = archive.entry(0).document
    assert order is not None and order.doc == SAMPLE_ORDER
    files: dict[str, Path] = {}
    drops = tmp / "drops"
    drops.mkdir()
    official = drops / f"{SAMPLE_ORDER}.pdf"
    official.write_bytes(archive.read_object(order.sha256))
    files["official"] = official
    article = archive.entry(1).document
    assert article is not None
    files["official-article"] = drops / f"{article.doc}.txt"
    files["official-article"].write_bytes(archive.read_object(article.sha256))
    altered = drops / "altered-copy.pdf"
    data = bytearray(official.read_bytes())
    data[len(data) // 2] ^= 0x20
    altered.write_bytes(bytes(data))
    files["altered-copy"] = altered
    unknown = drops / "unknown.txt"
    unknown.write_bytes(b"A memo that was never archived.\n")
    files["unknown-file"] = unknown

    tampered_tile = _copy(site, tmp / "tampered-tile")
    tile = tampered_tile / Tile(0, 0, 4).path
    _flip(tile, 32 * 1 + 5)  # the leaf hash of entry 1: a sibling on entry 0's path
    tampered_cp = _copy(site, tmp / "tampered-checkpoint")
    note = (tampered_cp / "checkpoint").read_bytes()
    lines = note.split(b"\n")
    lines[1] = b"3"  # a smaller tree, still signed by the same line: the signature fails
    (tampered_cp / "checkpoint").write_bytes(b"\n".join(lines))
    forged_cp = _copy(site, tmp / "forged-checkpoint")
    cp, _ = open_checkpoint(note, keys)
    mallory = Signer(name=archive.origin, seed=b"m" * 32)
    (forged_cp / "checkpoint").write_bytes(sign_checkpoint(cp, mallory))
    tampered_entry = _copy(site, tmp / "tampered-entry")
    bundle = tampered_entry / "tile/entries/000.p/4"
    raw = bundle.read_bytes()
    bundle.write_bytes(raw.replace(b"City of Boston", b"City of Bostom", 1))
    wrong_lookup = _copy(site, tmp / "wrong-lookup")
    (wrong_lookup / sha256_lookup_path(order.sha256)).write_bytes(b"1\n")
    no_release = _copy(site, tmp / "no-release")
    (no_release / "releases/4").unlink()
    missing_tile = _copy(site, tmp / "missing-tile")
    (missing_tile / Tile(0, 0, 4).path).unlink()
    bad_lookup = _copy(site, tmp / "bad-lookup")
    (bad_lookup / sha256_lookup_path(order.sha256)).write_bytes(b"0x1\n")
    other_release = _copy(site, tmp / "other-release")
    (other_release / "releases/4").write_bytes((site / "releases/3").read_bytes())
    other_key = Signer(name=archive.origin, seed=b"o" * 32).verifier().to_string()

    expect: dict[str, dict[str, Any]] = {
        "official": {"verdict": "official", "doc": SAMPLE_ORDER, "release": 4, "maxFetches": 8},
        "official-article": {"verdict": "official", "doc": article.doc, "release": 4},
        "altered-copy": {"verdict": "unknown", "next": "orderarchive check --archive"},
        "unknown-file": {"verdict": "unknown", "next": "orderarchive check --archive"},
        "tampered-tile": {"file": "official", "dir": str(tampered_tile),
                          "verdict": "not-official", "reason": "tile"},
        "tampered-checkpoint": {"file": "official", "dir": str(tampered_cp),
                                "verdict": "not-official", "reason": "does not verify"},
        "forged-checkpoint": {"file": "official", "dir": str(forged_cp),
                              "verdict": "not-official", "reason": "not signed by a trusted key"},
        "tampered-entry": {"file": "official", "dir": str(tampered_entry),
                           "verdict": "not-official", "reason": "entry|signature"},
        "wrong-lookup": {"file": "official", "dir": str(wrong_lookup),
                         "verdict": "not-official", "reason": "another file"},
        "release-missing": {"file": "official", "dir": str(no_release),
                            "verdict": "unreleased", "next": "not yet official"},
        "missing-tile": {"file": "official", "dir": str(missing_tile),
                         "verdict": "cannot-check", "reason": "is missing from the site"},
        "malformed-lookup": {"file": "official", "dir": str(bad_lookup),
                             "verdict": "not-official", "reason": "lookup"},
        "release-is-another-note": {"file": "official", "dir": str(other_release),
                                    "verdict": "unreleased"},
        "pinned-other-key": {"file": "official", "keys": [other_key],
                             "verdict": "not-official", "reason": "not signed by a trusted key"},
    }
    return site, files, expect


def large_site(
    tmp: Path, signer: Signer, verifiers: list[VerifierKey], n: int = 300
) -> tuple[Path, dict[str, Path], dict[str, dict[str, Any]]]:
    """An archive of *n* entries (full and partial tiles, a level-1 tile), published."""
    archive = Archive.init(tmp / "archive", signer.name)
    requests = [text_request(i) for i in range(n)]
    archive.add(requests, signer)
    archive.release(signer)
    site = tmp / "site"
    publish(archive, site, verifiers, pages=publish_pages)
    drops = tmp / "drops"
    drops.mkdir()
    files: dict[str, Path] = {}
    expect: dict[str, dict[str, Any]] = {}
    for seq in (0, 1, 2, 127, 254, 255, 256, 257, 298, n - 1):
        path = drops / f"eo-{seq}.txt"
        path.write_bytes(requests[seq].data)
        files[f"entry-{seq}"] = path
        expect[f"entry-{seq}"] = {"verdict": "official", "doc": f"eo-{seq}", "release": n,
                                  "maxFetches": 8}
    return site, files, expect


def checkpoint_of(site: Path, verifiers: list[VerifierKey]) -> Checkpoint:
    cp, _ = open_checkpoint((site / "checkpoint").read_bytes(), verifiers)
    return cp


def huge_site(
    tmp: Path, signer: Signer, size: int = 100_000, target: int = 77_777
) -> tuple[Path, dict[str, Path], dict[str, dict[str, Any]]]:
    """The static log of a tree of *size* records built directly (filler records around one
    real signed document entry at *target*), with every hash tile, the target's entry bundle,
    its lookup, and the checkpoint as a release: what the verify page reads, and no more."""
    data = b"the official text of order %d\n" % target
    sha = hashlib.sha256(data).hexdigest()
    fields = {"type": "document", "doc": f"eo-{target}", "kind": "executive-order",
              "title": "Order", "issuer": "City", "media_type": "text/plain",
              "size": len(data), "sha256": sha}
    raws = [b"filler %d" % i for i in range(size)]
    raws[target] = make_entry(fields, seq=target, signer=signer,
                              recorded="2026-01-01T00:00:00Z").raw
    store = merkle.MemoryHashStore(merkle.leaf_hash(r) for r in raws)
    note = sign_checkpoint(Checkpoint(signer.name, size, merkle.tree_hash(size, store.read)),
                           signer)
    site = tmp / "site"
    files = {"checkpoint": note, f"releases/{size}": note,
             sha256_lookup_path(sha): b"%d\n" % target,
             "trust.json": json.dumps({"origin": signer.name,
                                       "verifiers": [signer.verifier().to_string()]}).encode()}
    n = target // TILE_WIDTH
    files[entry_bundle_path(n)] = entry_bundle(raws[n * TILE_WIDTH:(n + 1) * TILE_WIDTH])
    for tile in tiles_for_size(size):
        files[tile.path] = tile_data(tile, store.read)
    for name, body in files.items():
        path = site.joinpath(*name.split("/"))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
    drop = tmp / "order.txt"
    drop.write_bytes(data)
    # lookup, checkpoint, release, bundle and four hash tiles (one per level and the right
    # edge): 8 requests for 100,000 records
    expect = {"order": {"verdict": "official", "doc": f"eo-{target}", "release": size,
                        "maxFetches": 8}}
    return site, {"order": drop}, expect
