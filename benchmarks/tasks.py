"""The measured programs that are not CLI commands, one per subcommand:

    python -m benchmarks.tasks ingest LIST           read the files as `orderarchive add` does
    python -m benchmarks.tasks bare-pypdf LIST       pypdf's PdfReader + extract_text, nothing else
    python -m benchmarks.tasks archive-add ARCHIVE KEY LIST [index|no-index]
                                                     read untimed, then time Archive.add alone
    python -m benchmarks.tasks synthetic ARCHIVE KEY SIZE
                                                     extend the synthetic archive to SIZE entries
    python -m benchmarks.tasks inprocess ARCHIVE KEYS COPY DOC
                                                     time check/prove/verify-proof after import
    python -m benchmarks.tasks first-search ARCHIVE KEYS
                                                     time the full text that add leaves to the
                                                     first search, and an index built eagerly

LIST is a file naming one document per line. Timings a task prints itself are JSON on stdout.
"""

from __future__ import annotations

import io
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path


def _paths(listing: str) -> list[Path]:
    return [Path(line) for line in Path(listing).read_text().splitlines() if line]


def ingest(listing: str) -> None:
    from orderarchive.documents.ingest import AddOptions, build_requests

    requests = build_requests(_paths(listing), AddOptions(issued_from_file=True))
    print(json.dumps({"documents": len(requests)}))


def bare_pypdf(listing: str) -> None:
    import pypdf

    pages = 0
    for path in _paths(listing):
        reader = pypdf.PdfReader(io.BytesIO(path.read_bytes()))
        for page in reader.pages:
            page.extract_text()
            pages += 1
    print(json.dumps({"pages": pages}))


def _signer(key: str) -> object:
    from orderarchive.log.keys import read_secret_key

    return read_secret_key(Path(key)).unlock(None)


def archive_add(archive: str, key: str, listing: str, index: str = "index") -> None:
    from orderarchive.archive import Archive
    from orderarchive.documents.ingest import AddOptions, build_requests

    requests = build_requests(_paths(listing), AddOptions(issued_from_file=True))
    target = Archive.open(archive)
    if index == "no-index":  # an archive without a local index: no lookups, no FTS update
        target = Archive(target.store, target.config, None)
    signer = _signer(key)
    start = time.perf_counter()
    target.add(requests, signer)  # type: ignore[arg-type]
    print(json.dumps({"seconds": time.perf_counter() - start, "documents": len(requests)}))


def synthetic(archive: str, key: str, size: str) -> None:
    from .synthetic import create, extend

    signer = _signer(key)
    target = create(Path(archive))
    start = time.perf_counter()
    before = target.head().size
    extend(target, signer, int(size))  # type: ignore[arg-type]
    print(json.dumps({"seconds": time.perf_counter() - start, "entries": int(size) - before}))


def inprocess(archive: str, keys: str, copy: str, doc: str) -> None:
    from orderarchive.archive import Archive
    from orderarchive.log.keys import load_verifiers
    from orderarchive.proofs import check_copy, prove, verify_proof

    verifiers = load_verifiers([keys])
    data = Path(copy).read_bytes()
    times: dict[str, list[float]] = {"check": [], "prove": [], "verify-proof": []}
    # Five untimed calls (page cache, SQLite's cache, lazy imports), then the median of 51:
    # one call is about a millisecond, so a few of them land on another process's time slice.
    for i in range(56):
        start = time.perf_counter()
        result = check_copy(Archive.open(archive), data, verifiers)
        assert result.official
        middle = time.perf_counter()
        proof = prove(Archive.open(archive), doc, verifiers)
        end = time.perf_counter()
        verify_proof(data, proof, verifiers)
        last = time.perf_counter()
        if i < 5:
            continue
        times["check"].append(middle - start)
        times["prove"].append(end - middle)
        times["verify-proof"].append(last - end)
    print(json.dumps({name: statistics.median(values) for name, values in times.items()}))


def first_search(archive: str, keys: str) -> None:
    import os
    import tempfile

    from orderarchive.archive import Archive
    from orderarchive.log.keys import load_verifiers

    verifiers = load_verifiers([keys])
    target = Archive.open(archive)
    times: dict[str, float] = {}
    for what in ("fill", "eager"):
        with tempfile.TemporaryDirectory() as cache:
            os.environ["ORDERARCHIVE_CACHE"] = cache  # a fresh index for each measurement
            if what == "fill":
                # What add leaves: the metadata its checks need, the full text pending.
                target._open_index(verifiers, text=False).close()
            start, cpu = time.perf_counter(), time.process_time()
            with target.index(verifiers) as idx:
                idx.search("order")
                documents = idx.count()
            times[what] = time.perf_counter() - start
            times[f"{what}_cpu"] = time.process_time() - cpu
    print(json.dumps({**times, "documents": documents}))


TASKS: dict[str, Callable[..., None]] = {
    "first-search": first_search,
    "ingest": ingest,
    "bare-pypdf": bare_pypdf,
    "archive-add": archive_add,
    "synthetic": synthetic,
    "inprocess": inprocess,
}


if __name__ == "__main__":
    TASKS[sys.argv[1]](*sys.argv[2:])
