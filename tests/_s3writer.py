"""A writer process adding to an archive in an S3 bucket (tests/test_s3.py).

usage: python _s3writer.py URL ENDPOINT PREFIX COUNT [BATCH]
Adds COUNT small documents (BATCH per append); prints each committed document id, and on
standard error one line "lost" for every attempt that lost to the other writer and was tried
again from the new head.
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from conftest import ORIGIN, text_request
from orderarchive.archive import Archive
from orderarchive.errors import LostRaceError
from orderarchive.note import Signer
from orderarchive.s3store import S3Store


def main() -> None:
    url, endpoint, prefix, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    batch = int(sys.argv[5]) if len(sys.argv) > 5 else 1
    signer = Signer(name=ORIGIN, seed=bytes(range(32)))
    archive = Archive.from_store(S3Store.open(url, endpoint=endpoint))
    for start in range(0, count, batch):
        reqs = [
            text_request(i, doc=f"{prefix}-{i}", body=f"Document {prefix} {i}.\n\nText {i}.\n")
            for i in range(start, min(start + batch, count))
        ]
        for attempt in range(200):
            try:
                archive.add_once(reqs, signer)
                break
            except LostRaceError:
                print("lost", file=sys.stderr, flush=True)
                time.sleep(random.uniform(0.0, 0.02 * min(attempt + 1, 10)))
        else:
            raise SystemExit("gave up after 200 lost races")
        for r in reqs:
            print(r.fields.doc, flush=True)


if __name__ == "__main__":
    main()
