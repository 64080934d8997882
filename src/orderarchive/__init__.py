"""orderarchive: signed, append-only archives of official documents.

Quick start::

    from orderarchive import Archive, load_verifiers

    archive = Archive.open("archive")
    report = archive.verify(load_verifiers(["keys"]))   # raises if anything is wrong
    print(report.size, report.released_size)

The recipe layer (:class:`Archive` and the functions re-exported here) is what the CLI uses;
primitives live in :mod:`orderarchive.merkle`, :mod:`orderarchive.note`,
:mod:`orderarchive.checkpoint`, :mod:`orderarchive.entry` and :mod:`orderarchive.canonical`.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .archive import AddRequest, Archive, ArchiveVerificationError, Release, VerifyReport
from .errors import OrderArchiveError, VerificationError
from .keys import load_verifiers

__all__ = [
    "AddRequest",
    "Archive",
    "ArchiveVerificationError",
    "OrderArchiveError",
    "Release",
    "VerificationError",
    "VerifyReport",
    "__version__",
    "load_verifiers",
]
