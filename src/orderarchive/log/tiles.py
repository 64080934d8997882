"""C2SP tlog-tiles: the log published as static files, and a client that reads proofs from them.

The layout is https://c2sp.org/tlog-tiles (the layout Go's checksum database, Sunlight and
Tessera serve). Tiles have height 8: a tile at level *L* holds up to 256 consecutive hashes
of the tree's nodes at height 8·L, 32 bytes each. Its path is ``tile/<L>/<N>`` for a full
tile and ``tile/<L>/<N>.p/<W>`` for a partial one of width *W* (1..255), where *N*, the
tile's number within its level, is written in groups of three decimal digits, all but the
last prefixed with ``x`` (``1234067`` → ``x001/x234/067``). Entry bundles sit at
``tile/entries/<N>[.p/<W>]`` and hold the same 256 (or *W*) entries that the level-0 tile
hashes, each as a big-endian uint16 length followed by the entry's bytes. An entry here is
the signed entry's canonical bytes (docs/FORMAT.md §4), the Merkle leaf itself.

Writer side: :func:`tiles_for_size`, :func:`new_tiles`, :func:`tile_data` and
:func:`entry_bundle` say which files a tree of a given size has and what their bytes are,
from the archive's stored hashes (Go tlog's layout, :mod:`.merkle`).

Client side: :class:`TileHashReader` is a :data:`.merkle.HashReader` over fetched tiles,
a port of ``tlog.TileHashReader`` (golang.org/x/mod/sumdb/tlog/tile.go). Before it answers,
every tile it fetched is authenticated against the signed checkpoint's root: the tiles that
hold the tree's perfect subtrees must fold to the root, and every other tile must hash to
the node its parent tile holds (https://research.swtch.com/tlog#authenticating_tiles). A
proof needs O(log n) tiles; a server that sends any other bytes is refused
(:class:`TileMismatchError`), never believed.

Pure: the tiles come in through a :data:`TileFetcher` callback; no I/O happens here.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable, Sequence
from typing import Final, TypeAlias

import attrs

from ..errors import MalformedError, TileMismatchError
from . import merkle

__all__ = [
    "MAX_BUNDLE_ENTRY",
    "TILE_HEIGHT",
    "TILE_WIDTH",
    "Tile",
    "TileFetcher",
    "TileHashReader",
    "TileMismatchError",
    "entry_bundle",
    "entry_bundle_for",
    "entry_bundle_path",
    "new_tiles",
    "parse_entry_bundle",
    "tile_data",
    "tiles_for_size",
]

TILE_HEIGHT: Final = 8
TILE_WIDTH: Final = 1 << TILE_HEIGHT

#: An entry in a bundle is prefixed by a uint16 length: the largest entry a bundle can carry.
MAX_BUNDLE_ENTRY: Final = 0xFFFF

#: Given tile paths, returns their bytes in the same order (one batched fetch; a partial tile
#: of width W, if gone because the tile has since filled, may be answered with the full tile
#: or a wider one: the reader uses its first W hashes).
TileFetcher: TypeAlias = Callable[[Sequence[str]], Sequence[bytes]]

_PATH = re.compile(
    r"tile/(?P<level>0|[1-9][0-9]?|entries)/(?P<n>(?:x[0-9]{3}/)*[0-9]{3})(?:\.p/(?P<w>[1-9][0-9]{0,2}))?"
)


# -- paths ------------------------------------------------------------------------------------


def _n_path(n: int) -> str:
    groups = [f"{n % 1000:03d}"]
    n //= 1000
    while n:
        groups.append(f"x{n % 1000:03d}")
        n //= 1000
    return "/".join(reversed(groups))


def _suffix(width: int) -> str:
    if not 1 <= width <= TILE_WIDTH:
        raise MalformedError(f"tile width {width} is not in 1..{TILE_WIDTH}")
    return "" if width == TILE_WIDTH else f".p/{width}"


@attrs.frozen
class Tile:
    """A hash tile: *level* L (hashes of nodes at tree height 8·L), number *n*, *width*."""

    level: int
    n: int
    width: int = TILE_WIDTH

    @property
    def full(self) -> bool:
        return self.width == TILE_WIDTH

    @property
    def path(self) -> str:
        """``tile/<L>/<N>[.p/<W>]`` (c2sp.org/tlog-tiles)."""
        return f"tile/{self.level}/{_n_path(self.n)}{_suffix(self.width)}"

    @classmethod
    def parse(cls, path: str) -> Tile:
        """The tile a path names; paths not in the exact canonical form are refused."""
        m = _PATH.fullmatch(path)
        if m is None or m["level"] == "entries":
            raise MalformedError(f"not a tile path: {path!r}")
        n = int(m["n"].replace("x", "").replace("/", ""))
        tile = cls(int(m["level"]), n, int(m["w"]) if m["w"] else TILE_WIDTH)
        if tile.width > TILE_WIDTH or tile.path != path:  # no x000/ prefixes, no .p/256
            raise MalformedError(f"not a canonical tile path: {path!r}")
        return tile

    def hash_indexes(self) -> list[int]:
        """The stored-hash indexes (:mod:`.merkle`) of the hashes this tile holds, in order."""
        height = self.level * TILE_HEIGHT
        first = self.n * TILE_WIDTH
        return [merkle.stored_hash_index(height, first + i) for i in range(self.width)]


def entry_bundle_path(n: int, width: int = TILE_WIDTH) -> str:
    """``tile/entries/<N>[.p/<W>]``: the bundle of entries N·256 .. N·256+W-1."""
    return f"tile/entries/{_n_path(n)}{_suffix(width)}"


def _width_at(size: int, level: int, n: int) -> int:
    """The width of tile (*level*, *n*) in the tree of *size* records (0: not in it)."""
    count = size >> (level * TILE_HEIGHT)  # nodes at this tile level's height
    return max(0, min(TILE_WIDTH, count - n * TILE_WIDTH))


def entry_bundle_for(seq: int, size: int) -> tuple[int, int]:
    """``(bundle number, width)`` of the bundle holding entry *seq* in a tree of *size*."""
    if not 0 <= seq < size:
        raise merkle.TreeRangeError(f"entry {seq} is not in a tree of size {size}")
    n = seq // TILE_WIDTH
    return n, _width_at(size, 0, n)


# -- the writer's side ------------------------------------------------------------------------


def tiles_for_size(size: int) -> list[Tile]:
    """Every hash tile of the tree of *size* records, full ones and the partial right edge."""
    return new_tiles(0, size)


def new_tiles(old_size: int, new_size: int) -> list[Tile]:
    """The hash tiles to write when the published tree grows from *old_size* to *new_size*:
    new full tiles and the partial tiles whose width changed (``tlog.NewTiles``, one width
    per tile: only the newest width of a partial tile is published)."""
    if not 0 <= old_size <= new_size:
        raise merkle.TreeRangeError(f"cannot grow a tree from {old_size} to {new_size}")
    tiles: list[Tile] = []
    level = 0
    while new_size >> (level * TILE_HEIGHT):
        old_count = old_size >> (level * TILE_HEIGHT)
        new_count = new_size >> (level * TILE_HEIGHT)
        for n in range(old_count // TILE_WIDTH, new_count // TILE_WIDTH):
            tiles.append(Tile(level, n))
        n = new_count // TILE_WIDTH
        width = new_count - n * TILE_WIDTH
        if width and width != old_count - n * TILE_WIDTH:
            tiles.append(Tile(level, n, width))
        level += 1
    return tiles


def tile_data(tile: Tile, read: merkle.HashReader) -> bytes:
    """The bytes of *tile*: its hashes concatenated, read from the log's stored hashes."""
    hashes = read(tile.hash_indexes())
    if len(hashes) != tile.width or any(len(h) != merkle.HASH_SIZE for h in hashes):
        raise MalformedError(f"the store answered {len(hashes)} hashes for {tile.path}")
    return b"".join(hashes)


def entry_bundle(entries: Sequence[bytes]) -> bytes:
    """An entry bundle: each entry as a big-endian uint16 length and its bytes."""
    if not 1 <= len(entries) <= TILE_WIDTH:
        raise MalformedError(f"an entry bundle holds 1..{TILE_WIDTH} entries, not {len(entries)}")
    out = bytearray()
    for entry in entries:
        if len(entry) > MAX_BUNDLE_ENTRY:
            raise MalformedError(
                f"an entry of {len(entry)} bytes does not fit a tlog-tiles entry bundle "
                f"(at most {MAX_BUNDLE_ENTRY})"
            )
        out += len(entry).to_bytes(2, "big") + entry
    return bytes(out)


def parse_entry_bundle(data: bytes, width: int) -> list[bytes]:
    """The first *width* entries of a bundle (a wider or full bundle may answer a narrower
    request); a bundle that is short, truncated inside an entry, or, at *width* 256, longer
    than its entries, is refused. The entries are not yet verified: hash them against tiles."""
    if not 1 <= width <= TILE_WIDTH:
        raise MalformedError(f"an entry bundle width must be in 1..{TILE_WIDTH}, not {width}")
    entries: list[bytes] = []
    pos = 0
    while pos < len(data) and len(entries) < width:
        if pos + 2 > len(data):
            raise MalformedError("entry bundle ends inside a length prefix")
        length = int.from_bytes(data[pos : pos + 2], "big")
        pos += 2
        if pos + length > len(data):
            raise MalformedError("entry bundle ends inside an entry")
        entries.append(data[pos : pos + length])
        pos += length
    if len(entries) < width:
        raise MalformedError(f"entry bundle holds {len(entries)} entries, expected {width}")
    if width == TILE_WIDTH and pos != len(data):
        raise MalformedError("a full entry bundle has bytes after its 256th entry")
    return entries


# -- the client's side (port of tlog.TileHashReader) -----------------------------------------


def _tile_for_index(index: int) -> tuple[Tile, int, int]:
    """The narrowest tile holding stored hash *index*, and the byte range of its tile hashes
    that fold to it (a hash at a height between tile levels is a subtree of the tile's row)."""
    level, n = merkle.split_stored_hash_index(index)
    tile_level = level // TILE_HEIGHT
    within = level - tile_level * TILE_HEIGHT
    tile_n = (n << within) >> TILE_HEIGHT
    n -= (tile_n << TILE_HEIGHT) >> within
    width = (n + 1) << within
    start = (n << within) * merkle.HASH_SIZE
    return Tile(tile_level, tile_n, width), start, width * merkle.HASH_SIZE


def _tile_hash(data: bytes) -> bytes:
    # The root of the perfect subtree whose leaves (at this tile's height) are data's hashes.
    if len(data) == merkle.HASH_SIZE:
        return data
    half = len(data) // 2
    return merkle.node_hash(_tile_hash(data[:half]), _tile_hash(data[half:]))


def _parent(tile: Tile, k: int, size: int) -> Tile | None:
    """*tile*'s k-th ancestor tile, at its width in the tree of *size* (None past the top)."""
    level = tile.level + k
    n = tile.n >> (k * TILE_HEIGHT)
    width = _width_at(size, level, n)
    return Tile(level, n, width) if width else None


class TileHashReader:
    """Stored hashes of the tree (*size*, *root*) read from tiles, each tile authenticated.

    ``reader.read`` is a :data:`.merkle.HashReader`: ``merkle.inclusion_proof(i, size,
    reader.read)`` and ``merkle.tree_hash(old, reader.read)`` work through it, fetching
    O(log n) tiles. Verified tiles are kept for the reader's life, so that a proof and a
    consistency check of one tree fetch each tile once. *root* must come from a checkpoint
    whose signature the caller verified.
    """

    def __init__(self, size: int, root: bytes, fetch: TileFetcher) -> None:
        if size <= 0:
            raise merkle.TreeRangeError("an empty tree has no tiles")
        self.size = size
        self.root = bytes(root)
        self._fetch = fetch
        self._verified: dict[Tile, bytes] = {}
        #: Every tile fetched, in order (for callers that count or cache them).
        self.fetched: list[Tile] = []

    @property
    def verified_tiles(self) -> dict[Tile, bytes]:
        """The tiles fetched and authenticated so far, by tile (full width in this tree)."""
        return dict(self._verified)

    def read(self, indexes: Sequence[int]) -> list[bytes]:
        limit = merkle.stored_hash_index(0, self.size) if self.size else 0
        for x in indexes:
            if not 0 <= x < limit:
                raise merkle.TreeRangeError(f"stored hash {x} is not in the tree of {self.size}")
        plan: list[Tile] = []
        planned: set[Tile] = set(self._verified)
        # Tiles needed to recompute the tree hash: authenticated by the root.
        top_indexes = merkle._subtree_indexes(0, self.size)
        root_tiles: list[Tile] = []
        for x in top_indexes:
            t = _parent(_tile_for_index(x)[0], 0, self.size)
            assert t is not None
            root_tiles.append(t)
            if t not in planned:
                planned.add(t)
                plan.append(t)
        # Tiles holding the indexes, and the ancestors needed to authenticate them, parents
        # before children.
        for x in indexes:
            base = _tile_for_index(x)[0]
            chain: list[Tile] = []
            k = 0
            while True:
                t = _parent(base, k, self.size)
                if t is None:
                    raise TileMismatchError(f"no tile holds stored hash {x} in tree {self.size}")
                if t in planned:
                    break
                chain.append(t)
                k += 1
            for t in reversed(chain):
                if not t.full:
                    # Only full tiles have parents; the partial ones are the root tiles.
                    raise TileMismatchError(f"tile {t.path} should be full in tree {self.size}")
                planned.add(t)
                plan.append(t)
        if plan:
            self._load(plan, root_tiles)
        out: list[bytes] = []
        for x in indexes:
            t, start, end = _tile_for_index(x)
            wide = _parent(t, 0, self.size)
            assert wide is not None
            out.append(_tile_hash(self._verified[wide][start:end]))
        return out

    def _load(self, plan: list[Tile], root_tiles: list[Tile]) -> None:
        raw = list(self._fetch([t.path for t in plan]))
        if len(raw) != len(plan):
            raise TileMismatchError(f"asked for {len(plan)} tiles, got {len(raw)}")
        fresh: dict[Tile, bytes] = {}
        for t, data in zip(plan, raw, strict=True):
            want = t.width * merkle.HASH_SIZE
            # A wider tile (the full one, once a partial has filled) answers with its prefix:
            # stored hashes never change, and the check below covers the bytes used.
            if len(data) < want or len(data) % merkle.HASH_SIZE:
                raise TileMismatchError(f"tile {t.path} is {len(data)} bytes, expected {want}")
            fresh[t] = bytes(data[:want])
        self.fetched.extend(plan)
        tiles = {**self._verified, **fresh}
        # The root tiles fold to the signed root: that authenticates them (and any changed
        # byte in them changes the fold).
        subtree = [
            _tile_hash(tiles[t][s:e])
            for t, (_, s, e) in zip(
                root_tiles,
                (_tile_for_index(x) for x in merkle._subtree_indexes(0, self.size)),
                strict=True,
            )
        ]
        if not hmac.compare_digest(merkle._fold_right(subtree), self.root):
            raise TileMismatchError(
                f"the tiles do not reproduce the signed root of tree size {self.size}"
            )
        # Every other fetched tile must hash to the node its parent holds, parents first.
        for t in plan:
            if t in root_tiles:
                continue
            parent = _parent(t, 1, self.size)
            if parent is None or parent not in tiles:
                raise TileMismatchError(f"tile {t.path} has no authenticated parent")
            pos = (t.n - (parent.n << TILE_HEIGHT)) * merkle.HASH_SIZE
            expected = tiles[parent][pos : pos + merkle.HASH_SIZE]
            if not hmac.compare_digest(_tile_hash(tiles[t]), expected):
                raise TileMismatchError(f"tile {t.path} does not match its parent tile")
        self._verified.update(fresh)
