"""The archive's layout: the names of its members and what its checkpoints' extension lines say.

Every name is a key of the storage interface (:mod:`.store`), never a file path; the directory
store maps each onto the file of that name (docs/FORMAT.md §1). Pure: no I/O.
"""

from __future__ import annotations

import re

from . import merkle
from .checkpoint import Checkpoint
from .errors import CorruptArchiveError
from .store import CHECKPOINT_NAME, ENTRIES_RECORD, HASHES_RECORD, OFFSETS_RECORD

ARCHIVE_FORMAT = "orderarchive-archive/v1"
CONFIG = "orderarchive.json"
ENTRIES = ENTRIES_RECORD
OFFSETS = OFFSETS_RECORD
HASHES = HASHES_RECORD
CHECKPOINT = CHECKPOINT_NAME
RELEASES = "releases"
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
