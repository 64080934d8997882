"""C2SP tlog-tiles: paths, tile and bundle bytes, and proofs read through authenticated tiles."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orderarchive.errors import MalformedError
from orderarchive.log import merkle
from orderarchive.log.tiles import (
    Tile,
    TileHashReader,
    TileMismatchError,
    entry_bundle,
    entry_bundle_for,
    entry_bundle_path,
    new_tiles,
    parse_entry_bundle,
    tile_data,
    tiles_for_size,
)


def _leaves(n: int) -> list[bytes]:
    return [merkle.leaf_hash(b"entry %d" % i) for i in range(n)]


def _published(store: merkle.MemoryHashStore) -> dict[str, bytes]:
    return {t.path: tile_data(t, store.read) for t in tiles_for_size(store.size)}


class Server:
    """Tiles in a dict, counting fetches; a missing partial is answered by the full tile."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.requests: list[str] = []

    def fetch(self, paths: Sequence[str]) -> list[bytes]:
        self.requests.extend(paths)
        return [self.files[p] for p in paths]


def test_paths_follow_the_spec() -> None:
    assert Tile(0, 0).path == "tile/0/000"
    assert Tile(3, 1234067, 1).path == "tile/3/x001/x234/067.p/1"
    assert Tile(1, 1000).path == "tile/1/x001/000"
    assert entry_bundle_path(1234067, 5) == "tile/entries/x001/x234/067.p/5"
    assert entry_bundle_path(7) == "tile/entries/007"
    assert Tile.parse("tile/3/x001/x234/067.p/1") == Tile(3, 1234067, 1)
    for bad in ["tile/0/x000/001", "tile/0/1", "tile/0/001.p/256", "tile/0/001.p/0",
                "tile/00/001", "tile/entries/001", "tile/0/001.p/01", "tile/0/001/"]:
        with pytest.raises(MalformedError):
            Tile.parse(bad)


def test_tiles_of_a_size_and_growth() -> None:
    assert [t.path for t in tiles_for_size(1)] == ["tile/0/000.p/1"]
    assert [t.path for t in tiles_for_size(256)] == ["tile/0/000", "tile/1/000.p/1"]
    paths = [t.path for t in tiles_for_size(70000)]
    assert "tile/0/273.p/112" in paths and "tile/1/000" in paths and "tile/2/000.p/1" in paths
    assert len(paths) == 273 + 1 + 1 + 1 + 1  # level 0 full+partial, level 1 full+partial, 2
    # Growing publishes new full tiles and the partials whose width changed, nothing else.
    assert [t.path for t in new_tiles(300, 300)] == []
    grown = [t.path for t in new_tiles(300, 513)]
    assert grown == ["tile/0/001", "tile/0/002.p/1", "tile/1/000.p/2"]


def test_tile_bytes_are_the_stored_hashes() -> None:
    store = merkle.MemoryHashStore(_leaves(600))
    data = tile_data(Tile(0, 1), store.read)
    assert data[:32] == store.read([merkle.stored_hash_index(0, 256)])[0]
    level1 = tile_data(Tile(1, 0, 2), store.read)
    assert level1[32:] == store.read([merkle.stored_hash_index(8, 1)])[0]


def test_entry_bundles_round_trip_and_refuse_damage() -> None:
    entries = [b"x" * i for i in range(256)]
    bundle = entry_bundle(entries)
    assert bundle[:4] == b"\x00\x00\x00\x01"
    assert parse_entry_bundle(bundle, 256) == entries
    assert parse_entry_bundle(bundle, 3) == entries[:3]
    with pytest.raises(MalformedError):
        parse_entry_bundle(bundle[:-1], 256)
    with pytest.raises(MalformedError):
        parse_entry_bundle(bundle + b"\x00", 256)
    with pytest.raises(MalformedError):
        entry_bundle([b"y" * 65536])
    assert entry_bundle_for(513, 600) == (2, 600 - 512)
    assert entry_bundle_for(3, 600) == (0, 256)


@pytest.mark.parametrize("size", [1, 2, 255, 256, 257, 511, 512, 600, 65536, 65537, 70000])
def test_proofs_through_tiles_match_the_store(size: int) -> None:
    store = merkle.MemoryHashStore(_leaves(size))
    root = merkle.tree_hash(size, store.read)
    server = Server(_published(store))
    reader = TileHashReader(size, root, server.fetch)
    for index in sorted({0, size // 2, size - 1, min(256, size - 1)}):
        proof = merkle.inclusion_proof(index, size, reader.read)
        assert proof == merkle.inclusion_proof(index, size, store.read)
        merkle.verify_inclusion(index, size, store.read([merkle.stored_hash_index(0, index)])[0],
                                proof, root)
    for old in sorted({1, size // 3 or 1, size - 1 or 1}):
        assert merkle.tree_hash(old, reader.read) == merkle.tree_hash(old, store.read)
        if old < size:
            assert merkle.consistency_proof(old, size, reader.read) == merkle.consistency_proof(
                old, size, store.read)


def test_a_proof_needs_log_n_tiles() -> None:
    size = 70000
    store = merkle.MemoryHashStore(_leaves(size))
    server = Server(_published(store))
    reader = TileHashReader(size, merkle.tree_hash(size, store.read), server.fetch)
    merkle.inclusion_proof(12345, size, reader.read)
    assert len(server.requests) <= 6, server.requests
    merkle.inclusion_proof(12346, size, reader.read)  # same tiles: nothing fetched again
    assert len(server.requests) <= 6


def test_older_partial_answered_by_a_wider_tile() -> None:
    store = merkle.MemoryHashStore(_leaves(300))
    small = merkle.tree_hash(290, store.read)
    files = _published(store)  # holds tile/0/001.p/44 only, not .p/34
    server = Server({**files, "tile/0/001.p/34": files["tile/0/001.p/44"]})
    reader = TileHashReader(290, small, server.fetch)
    assert merkle.inclusion_proof(289, 290, reader.read) == merkle.inclusion_proof(
        289, 290, store.read)


@pytest.mark.parametrize("victim", ["tile/0/000", "tile/0/001.p/44", "tile/1/000.p/1"])
def test_a_tampered_tile_is_refused(victim: str) -> None:
    store = merkle.MemoryHashStore(_leaves(300))
    files = _published(store)
    bad = bytearray(files[victim])
    bad[5] ^= 1
    files[victim] = bytes(bad)
    reader = TileHashReader(300, merkle.tree_hash(300, store.read), Server(files).fetch)
    with pytest.raises(TileMismatchError):
        merkle.inclusion_proof(3, 300, reader.read)


def test_a_short_tile_or_a_wrong_root_is_refused() -> None:
    store = merkle.MemoryHashStore(_leaves(300))
    files = _published(store)
    files["tile/0/000"] = files["tile/0/000"][:-32]
    with pytest.raises(TileMismatchError):
        merkle.inclusion_proof(3, 300, TileHashReader(300, merkle.tree_hash(
            300, store.read), Server(files).fetch).read)
    other = hashlib.sha256(b"other").digest()
    with pytest.raises(TileMismatchError):
        merkle.inclusion_proof(3, 300, TileHashReader(300, other, Server(_published(
            store)).fetch).read)


_BIG = merkle.MemoryHashStore(_leaves(2100))


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_any_proof_through_tiles_equals_the_stores(data: st.DataObject) -> None:
    """Every inclusion and consistency proof, and every tree hash, read through authenticated
    tiles equals the one read from the stored hashes (sizes up to 2100: three tile levels)."""
    size = data.draw(st.integers(1, 2100), label="size")
    index = data.draw(st.integers(0, size - 1), label="index")
    old = data.draw(st.integers(1, size), label="old")
    read = _BIG.read
    files = {t.path: tile_data(t, read) for t in tiles_for_size(size)}
    reader = TileHashReader(size, merkle.tree_hash(size, read), Server(files).fetch)
    assert merkle.inclusion_proof(index, size, reader.read) == merkle.inclusion_proof(
        index, size, read)
    assert merkle.tree_hash(old, reader.read) == merkle.tree_hash(old, read)
    if old < size:
        assert merkle.consistency_proof(old, size, reader.read) == merkle.consistency_proof(
            old, size, read)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_any_flipped_byte_of_a_fetched_tile_is_refused(data: st.DataObject) -> None:
    size = data.draw(st.integers(2, 2100), label="size")
    index = data.draw(st.integers(0, size - 1), label="index")
    files = {t.path: tile_data(t, _BIG.read) for t in tiles_for_size(size)}
    root = merkle.tree_hash(size, _BIG.read)
    server = Server(files)
    merkle.inclusion_proof(index, size, TileHashReader(size, root, server.fetch).read)
    victim = data.draw(st.sampled_from(sorted(set(server.requests))), label="tile")
    at = data.draw(st.integers(0, len(files[victim]) - 1), label="byte")
    bad = bytearray(files[victim])
    bad[at] ^= 1 << data.draw(st.integers(0, 7), label="bit")
    reader = TileHashReader(size, root, Server({**files, victim: bytes(bad)}).fetch)
    with pytest.raises(TileMismatchError):
        merkle.inclusion_proof(index, size, reader.read)
