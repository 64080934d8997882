"""orderarchive publish: the static C2SP tlog-tiles site, written incrementally."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import text_request
from orderarchive.archive import Archive
from orderarchive.errors import ConflictError, NotFoundError, RollbackError
from orderarchive.log import merkle
from orderarchive.log.checkpoint import open_checkpoint
from orderarchive.log.note import Signer, VerifierKey
from orderarchive.log.tiles import Tile, TileHashReader, parse_entry_bundle
from orderarchive.publish import PublishContext, doc_lookup_path, publish, sha256_lookup_path


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _reader(site: Path, verifiers: list[VerifierKey]) -> TileHashReader:
    cp, _ = open_checkpoint((site / "checkpoint").read_bytes(), verifiers)
    return TileHashReader(cp.size, cp.root_hash,
                          lambda paths: [(site / p).read_bytes() for p in paths])


def test_publish_writes_the_tiled_log(tmp_path: Path, signer: Signer,
                                      verifiers: list[VerifierKey],
                                      make_archive: Callable[..., Archive]) -> None:
    archive = make_archive(300)
    site = tmp_path / "site"
    report = publish(archive, site, verifiers, key_files=[("log.vkey", b"k\n")])
    files = _files(site)
    assert files["checkpoint"] == archive.release_note(300)
    assert {"tile/0/000", "tile/0/001.p/44", "tile/1/000.p/1", "tile/entries/000",
            "tile/entries/001.p/44", "releases/300", "keys/log.vkey"} <= set(files)
    entries = parse_entry_bundle(files["tile/entries/001.p/44"], 44)
    assert entries[5] == archive.entry_bytes(261)
    assert files[doc_lookup_path("eo-261")] == b"261\n"
    doc = archive.entry(261).document
    assert doc is not None
    assert files[sha256_lookup_path(doc.sha256)] == b"261\n"
    assert files[f"objects/sha256/{doc.sha256[:2]}/{doc.sha256[2:]}"] == archive.read_object(
        doc.sha256)
    # The tiles prove what the archive proves.
    proof = merkle.inclusion_proof(261, 300, _reader(site, verifiers).read)
    assert proof == merkle.inclusion_proof(261, 300, archive.read_hashes)
    assert report.old_size == 0 and report.size == 300


def test_publish_is_incremental(tmp_path: Path, signer: Signer, verifiers: list[VerifierKey],
                                make_archive: Callable[..., Archive]) -> None:
    archive = make_archive(300)
    site = tmp_path / "site"
    publish(archive, site, verifiers)
    before = {p: (site / p).stat().st_mtime_ns for p in _files(site)}
    again = publish(archive, site, verifiers)
    assert again.written == () and again.removed == ()
    archive.add([text_request(i) for i in range(300, 520)], signer)
    # Unreleased entries are not published.
    assert publish(archive, site, verifiers).written == ()
    archive.release(signer)
    grown = publish(archive, site, verifiers)
    assert grown.old_size == 300 and grown.size == 520
    # The checkpoint is written last; the old partials of the tile that filled are removed,
    # files already published are not rewritten.
    assert grown.written[-1] == "checkpoint"
    assert set(grown.removed) == {"tile/0/001.p/44", "tile/entries/001.p/44"}
    files = _files(site)
    assert "tile/0/001" in files and "tile/0/002.p/8" in files and "tile/1/000.p/2" in files
    assert "tile/1/000.p/1" in files  # a width of a tile still partial stays for old clients
    assert not [p for p in grown.written if p in before and p != "checkpoint"
                and not p.startswith("tile/")]
    assert (site / "tile/0/000").stat().st_mtime_ns == before["tile/0/000"]
    proof = merkle.inclusion_proof(400, 520, _reader(site, verifiers).read)
    assert proof == merkle.inclusion_proof(400, 520, archive.read_hashes)


def test_publish_refuses_what_it_must_not_overwrite(
        tmp_path: Path, signer: Signer, verifiers: list[VerifierKey],
        make_archive: Callable[..., Archive]) -> None:
    with pytest.raises(NotFoundError, match="no release"):
        publish(make_archive(3, release=False), tmp_path / "none", verifiers)
    assert not (tmp_path / "none" / "checkpoint").exists()
    site = tmp_path / "site"
    publish(make_archive(5), site, verifiers)
    before = _files(site)
    # Another log of the same origin: its tree does not extend the published one.
    other = make_archive(0)
    other.add([text_request(i, doc=f"other-{i}") for i in range(6)], signer)
    other.release(signer)
    with pytest.raises(ConflictError):
        publish(other, site, verifiers)
    # A publication newer than the archive's release (an older copy of the archive).
    newer = make_archive(7)
    publish(newer, tmp_path / "newer", verifiers)
    with pytest.raises(RollbackError):
        publish(make_archive(5), tmp_path / "newer", verifiers)
    assert _files(site) == before


def test_the_pages_hook_runs_before_the_checkpoint(
        tmp_path: Path, verifiers: list[VerifierKey],
        make_archive: Callable[..., Archive]) -> None:
    seen: list[PublishContext] = []

    def pages(ctx: PublishContext) -> list[str]:
        seen.append(ctx)
        assert not (ctx.outdir / "checkpoint").exists()
        ctx.write("index.html", f"{sum(1 for _ in ctx.entries())} documents".encode())
        return ["index.html"]

    report = publish(make_archive(4), tmp_path / "site", verifiers, pages=pages)
    assert (tmp_path / "site" / "index.html").read_bytes() == b"4 documents"
    assert seen[0].checkpoint.size == 4 and report.written[-1] == "checkpoint"


def test_tile_paths_parse_back(tmp_path: Path, verifiers: list[VerifierKey],
                               make_archive: Callable[..., Archive]) -> None:
    site = tmp_path / "site"
    publish(make_archive(260), site, verifiers)
    for p in _files(site):
        if p.startswith("tile/") and not p.startswith("tile/entries/"):
            assert Tile.parse(p).path == p


def test_a_fifo_for_a_checkpoint_is_refused_not_waited_on(
        tmp_path: Path, verifiers: list[VerifierKey],
        make_archive: Callable[..., Archive]) -> None:
    # publish and mirror read the directory's own checkpoint first: a FIFO planted there
    # (hostile or mistaken) is refused at once, as every file the tool reads is.
    import os
    import threading

    from orderarchive.errors import StorageError

    archive = make_archive(3)
    site = tmp_path / "site"
    site.mkdir()
    os.mkfifo(site / "checkpoint")
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            publish(archive, site, verifiers)
            outcome.append(None)
        except BaseException as e:  # reported by the assertion below
            outcome.append(e)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(20)
    assert not worker.is_alive(), "publish blocked on a FIFO named checkpoint"
    assert isinstance(outcome[0], StorageError), outcome
    assert "not a regular file" in str(outcome[0])
