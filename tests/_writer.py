"""A separate writer process for the concurrency and crash tests.

usage: python _writer.py ARCHIVE PREFIX COUNT [BATCH]
Adds COUNT small documents (BATCH per append) and prints each committed document id.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from conftest import ORIGIN, text_request
from orderarchive.archive import Archive
from orderarchive.log.note import Signer


def main() -> None:
    path, prefix, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    batch = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    signer = Signer(name=ORIGIN, seed=bytes(range(32)))
    archive = Archive.open(Path(path))
    for start in range(0, count, batch):
        reqs = [
            text_request(i, doc=f"{prefix}-{i}", body=f"Document {prefix} {i}.\n\nText {i}.\n")
            for i in range(start, min(start + batch, count))
        ]
        archive.add(reqs, signer)
        for r in reqs:
            print(r.fields.doc, flush=True)


if __name__ == "__main__":
    main()
