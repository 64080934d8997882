"""The archive's layout: the names of its members and what its checkpoints' extension lines say.

Every name is a key of the storage interface (:mod:`.store`), never a file path; the directory
store maps each onto the file of that name (docs/FORMAT.md §1). Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from ..errors import CorruptArchiveError
from . import merkle
from .checkpoint import Checkpoint
from .store import CHECKPOINT_NAME, ENTRIES_RECORD, HASHES_RECORD, OFFSETS_RECORD

ARCHIVE_FORMAT = "orderarchive-archive/v1"
CONFIG = "orderarchive.json"
ENTRIES = ENTRIES_RECORD
OFFSETS = OFFSETS_RECORD
HASHES = HASHES_RECORD
CHECKPOINT = CHECKPOINT_NAME
RELEASES = "releases"
#: Witness cosignatures kept beside the checkpoints they sign (docs/FORMAT.md "Cosignatures").
COSIGNATURES = "cosignatures"
_COSIGNATURE_FILE = re.compile(r"(release|checkpoint)\.[0-9a-f]{8}", re.ASCII)
OFFSET_SIZE = 8
# Checkpoint extension lines (C2SP tlog-checkpoint allows extension lines after the root):
# the latest checkpoint names the newest release, and each release names the one before it,
# so a deleted or withheld release file is detected (docs/FORMAT.md §7).
RELEASE_EXT = "orderarchive.release "
PREVIOUS_RELEASE_EXT = "orderarchive.previous-release "
HASH = merkle.HASH_SIZE
MAX_CONFIG_BYTES = 64 * 1024  # orderarchive.json holds a format name and an origin


def object_name(sha256_hex: str) -> str:
    """The key of the content-addressed object whose SHA-256 is *sha256_hex*."""
    return f"objects/sha256/{sha256_hex[:2]}/{sha256_hex[2:]}"


def extension_size(cp: Checkpoint | None, prefix: str) -> int | None:
    """The size named by a ``<prefix> <size>`` checkpoint extension line, if present."""
    if cp is None:
        return None
    values = [line[len(prefix) :] for line in cp.extensions if line.startswith(prefix)]
    if not values:
        return None
    size = decimal_size(values[0]) if len(values) == 1 else None
    if size is None:
        raise CorruptArchiveError(f"checkpoint extension {prefix.strip()!r} is malformed")
    return size


_DECIMAL = re.compile(r"0|[1-9][0-9]{0,19}", re.ASCII)


def decimal_size(text: str) -> int | None:
    """*text* as a tree size if it is one in canonical ASCII decimal (0..2**64-1), else None.

    ``str.isdigit`` accepts '²' and other Unicode digits that ``int`` refuses or reads
    differently: a release file named ``releases/²`` is an unexpected file, not a crash.
    """
    if _DECIMAL.fullmatch(text) is None:
        return None
    value = int(text)
    return value if value <= merkle.MAX_TREE_SIZE else None


def release_extensions(previous: int | None) -> tuple[str, ...]:
    return () if previous is None else (f"{PREVIOUS_RELEASE_EXT}{previous}",)


def previous_release(cp: Checkpoint) -> int | None:
    """The release before the one *cp* is (from its signed extension line)."""
    return extension_size(cp, PREVIOUS_RELEASE_EXT)


# The key-set index (docs/FORMAT.md "key-set positions"): every checkpoint and release of a log
# that holds key-set entries names their log positions, so that a writer and a verifier read
# those entries by lookup instead of scanning the log. It is signed with the checkpoint and
# checked against the entries it names (each must be a key-set entry at that position, included
# in the checkpoint's tree); a log that holds none writes no line, byte for byte as before.
KEYSETS_EXT = "orderarchive.keysets "
#: A log records at most this many key sets (one a year for two centuries and more): the line
#: and an offline proof's chain stay bounded.
MAX_KEYSETS = 256


def keyset_positions(cp: Checkpoint | None) -> tuple[int, ...] | None:
    """The key-set entries' positions a checkpoint names (None: it names none). Strict: one
    line, 1 to :data:`MAX_KEYSETS` canonical decimals, strictly ascending, all below the
    checkpoint's size; anything else is :class:`CorruptArchiveError` (never "none")."""
    if cp is None:
        return None
    values = [line[len(KEYSETS_EXT):] for line in cp.extensions if line.startswith(KEYSETS_EXT)]
    if not values:
        return None
    parts = values[0].split(" ") if len(values) == 1 else []
    positions: list[int] = []
    for part in parts:
        p = decimal_size(part)
        if p is None or (positions and p <= positions[-1]) or p >= cp.size:
            positions = []
            break
        positions.append(p)
    if not positions or len(positions) > MAX_KEYSETS:
        raise CorruptArchiveError(
            f"checkpoint extension {KEYSETS_EXT.strip()!r} is malformed (1 to {MAX_KEYSETS} "
            "ascending positions below the tree size)"
        )
    return tuple(positions)


def keysets_extension(positions: tuple[int, ...]) -> tuple[str, ...]:
    """The extension line naming *positions* (none when the log holds no key set)."""
    return (f"{KEYSETS_EXT}{' '.join(map(str, positions))}",) if positions else ()


# What a directory store may hold beside the names above: the writers' lock, and the derived
# index a mirror may carry (docs/FORMAT.md §1 and §12: never read, not part of the format).
LOCK = "lock"
TOLERATED = frozenset({LOCK, "index.sqlite", "index.sqlite-journal", "index.sqlite-wal",
                       "index.sqlite-shm", "index.lock"})
_DIRECTORIES = frozenset({"log", RELEASES, "objects", "objects/sha256", COSIGNATURES})
_HEX2 = re.compile(r"[0-9a-f]{2}", re.ASCII)
_HEX62 = re.compile(r"[0-9a-f]{62}", re.ASCII)
#: The temporary files the directory store writes beside a final name (store._write_new).
_TEMPORARY = re.compile(r"\.[^/]+\.[0-9]+\.[0-9]+\.tmp", re.ASCII)


def named(name: str, *, is_dir: bool) -> bool:
    """Whether the format names the file or directory *name* (docs/FORMAT.md §1)."""
    parts = name.split("/")
    if is_dir:
        if len(parts) == 2 and parts[0] == COSIGNATURES:
            return decimal_size(parts[1]) is not None
        return name in _DIRECTORIES or (
            len(parts) == 3 and name.startswith("objects/sha256/")
            and _HEX2.fullmatch(parts[2]) is not None
        )
    if name in (CONFIG, ENTRIES, OFFSETS, HASHES, CHECKPOINT) or name in TOLERATED:
        return True
    if len(parts) == 2 and parts[0] == RELEASES:
        return decimal_size(parts[1]) is not None
    if len(parts) == 3 and parts[0] == COSIGNATURES:
        return (decimal_size(parts[1]) is not None
                and _COSIGNATURE_FILE.fullmatch(parts[2]) is not None)
    return (
        len(parts) == 4 and name.startswith("objects/sha256/")
        and _HEX2.fullmatch(parts[2]) is not None and _HEX62.fullmatch(parts[3]) is not None
    )


_HEX_DIGITS = b"0123456789abcdef"


def _all_object_names(names: list[str]) -> bool:
    # Every name 62 characters long, and all of them together nothing but lowercase hex
    # digits (a non-ASCII or undecodable name keeps bytes the deletion leaves): in C, at
    # memory speed, where a regular expression over 100,000 names costs a tenth of a second.
    return (set(map(len, names)) == {62}
            and not "".join(names).encode("utf-8", "surrogateescape").translate(
                None, _HEX_DIGITS))


def plain_files(directory: str) -> Callable[[list[str]], bool] | None:
    """For an object fan-out directory, a test of all its file names at once that passes
    only if every one is a name the format gives there (see
    :meth:`.store.FileStore.members`); None for any other directory."""
    parts = directory.split("/")
    if len(parts) == 3 and directory.startswith("objects/sha256/") and _HEX2.fullmatch(parts[2]):
        return _all_object_names
    return None


def debris(name: str, *, is_dir: bool, empty: bool) -> bool:
    """Whether *name* is clearly the tool's own leftover, safe for ``repair`` to remove: a
    temporary file by its naming pattern beside a name the format gives, or an empty object
    fan-out directory. Anything else unnamed is reported, never deleted."""
    parts = name.split("/")
    if is_dir:
        return empty and len(parts) == 3 and named(name, is_dir=True)
    if _TEMPORARY.fullmatch(parts[-1]) is None:
        return False
    parent = "/".join(parts[:-1])
    return parent == "" or named(parent, is_dir=True)
