"""A synthetic archive of many small entries, built through the library's ordinary append.

Entry *i* is a short plain-text notice (a few hundred bytes of generated text whose normalised
text layer is the file itself, so each entry has one object). It is added with
:meth:`orderarchive.archive.Archive.add` in batches: one lock, one object flush, one
checkpoint and one index transaction per batch, which is how a clerk's bulk import runs too.
The result is a normal archive that ``orderarchive verify`` accepts. Releases are signed at
each stage boundary, so that proofs and consistency proofs have releases to refer to.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

from orderarchive.archive import AddRequest, Archive, document_fields
from orderarchive.log.note import Signer
from orderarchive.log.textlayer import TextLayer

from .corpus import _WORDS

ORIGIN = "bench.example/synthetic"
BATCH = 20_000


def notice(i: int) -> bytes:
    """The bytes of synthetic document *i* (already a normalised text layer)."""
    rng = random.Random(i)
    words = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(12, 40)))
    return (
        f"Synthetic notice {i}.\n\nThe City records item {i} concerning {words}.\n"
    ).encode()


def request(i: int) -> AddRequest:
    data = notice(i)
    layer = TextLayer.from_bytes(data)
    return document_fields(
        data,
        doc=f"n-{i:07d}",
        kind="other",
        title=f"Synthetic notice {i}",
        issuer="bench",
        issued=None,
        media_type="text/plain",
        text=layer,
        extractor="orderarchive-text/1",
    )


def extend(
    archive: Archive,
    signer: Signer,
    size: int,
    *,
    batch: int = BATCH,
    progress: Callable[[int], None] | None = None,
) -> None:
    """Append synthetic entries until the archive holds *size*, then sign a release."""
    start = archive.head().size
    for first in range(start, size, batch):
        archive.add([request(i) for i in range(first, min(first + batch, size))], signer)
        if progress is not None:
            progress(min(first + batch, size))
    archive.release(signer)


def create(path: Path) -> Archive:
    """The synthetic archive at *path*, created empty if it does not exist."""
    if (path / "orderarchive.json").exists():
        return Archive.open(path)
    return Archive.init(path, ORIGIN)
