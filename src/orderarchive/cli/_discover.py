"""Finding the archive the way git finds a repository: upwards from the working directory.

A directory *holds* an archive when it has an ``archive/`` subdirectory with an
``orderarchive.json``; a directory *is* an archive when it has the ``orderarchive.json``
itself (the user is somewhere inside it). The first directory, from the start upwards, that
is or holds an archive wins; at one level, being an archive wins over holding one. The trusted
keys default to ``keys/`` beside the found archive (in the directory that holds it), never to
a directory inside it: keys shipped inside the archive under test are never trusted
(docs/THREATS.md, "Finding the archive").
"""

from __future__ import annotations

from pathlib import Path

import attrs

#: The config file that makes a directory an archive (archive.CONFIG, repeated so that
#: finding the archive does not load the recipe layer: `verify-proof` needs no archive).
CONFIG = "orderarchive.json"
ARCHIVE_DIR = "archive"
KEYS_DIR = "keys"


@attrs.frozen
class Found:
    """A found archive and the directory that holds it (where its default keys/ sits)."""

    archive: Path
    root: Path

    @property
    def keys(self) -> Path:
        return self.root / KEYS_DIR


def _is_archive(directory: Path) -> bool:
    try:
        return (directory / CONFIG).is_file()
    except OSError:
        return False


def find_archive(start: Path) -> Found | None:
    """The archive at or above *start* (absolute), or None if there is none up to the root."""
    for directory in (start, *start.parents):
        if _is_archive(directory):
            return Found(archive=directory, root=directory.parent)
        if _is_archive(directory / ARCHIVE_DIR):
            return Found(archive=directory / ARCHIVE_DIR, root=directory)
    return None
