"""orderarchive: signed, append-only archives of official documents.

Quick start::

    from orderarchive import Archive, load_verifiers

    archive = Archive.open("archive")
    report = archive.verify(load_verifiers(["keys"]))   # raises if anything is wrong
    print(report.size, report.released_size)

The recipe layer (:class:`Archive` and the functions re-exported here) is what the CLI uses;
primitives live in :mod:`orderarchive.log.merkle`, :mod:`orderarchive.log.note`,
:mod:`orderarchive.log.checkpoint`, :mod:`orderarchive.log.entry` and :mod:`orderarchive.canonical`.
"""

from __future__ import annotations

__version__ = "0.1.0"

from typing import TYPE_CHECKING, Any

from .errors import OrderArchiveError, VerificationError

if TYPE_CHECKING:  # every lazily exported name, for type checkers (start-up stays lazy)
    from .archive import AddRequest, Archive, ArchiveVerificationError, Release, VerifyReport
    from .citations.cite import verify_evidence
    from .citing import check_brief, check_quote
    from .documents import read_document
    from .history import check_history
    from .log.keys import load_verifiers
    from .proofs import check_copy, consistency, prove, verify_proof
    from .status import document_status

# Re-exported lazily, so that importing the package (the CLI, and every document-reading
# worker process) does not load nacl, sqlite3, the quotation matcher or the document readers
# until they are used.
_LAZY = {
    "AddRequest": "archive",
    "Archive": "archive",
    "ArchiveVerificationError": "archive",
    "Release": "archive",
    "VerifyReport": "archive",
    "load_verifiers": "log.keys",
    "check_copy": "proofs",
    "prove": "proofs",
    "verify_proof": "proofs",
    "consistency": "proofs",
    "check_history": "history",
    "check_quote": "citing",
    "check_brief": "citing",
    "verify_evidence": "citations.cite",
    "read_document": "documents",
    "document_status": "status",
}

__all__ = [
    "AddRequest",
    "Archive",
    "ArchiveVerificationError",
    "OrderArchiveError",
    "Release",
    "VerificationError",
    "VerifyReport",
    "__version__",
    "check_brief",
    "check_copy",
    "check_history",
    "check_quote",
    "consistency",
    "document_status",
    "load_verifiers",
    "prove",
    "read_document",
    "verify_evidence",
    "verify_proof",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'orderarchive' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f".{module}", __name__), name)
