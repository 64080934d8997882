"""A writer process adding to an archive in an S3 bucket (tests/test_s3.py).

usage: python _s3writer.py URL ENDPOINT PREFIX COUNT [BATCH]
Adds COUNT small documents (BATCH per append); prints each committed document id, and on
standard error "ready" once it can write, then "lost" for every attempt that lost to the
other writer and was tried again from the new head.
"""

from __future__ import annotations

import random
import sys
import time

from orderarchive.archive import AddRequest, Archive, document_fields
from orderarchive.errors import LostRaceError
from orderarchive.log.note import Signer
from orderarchive.log.s3store import S3Store
from orderarchive.log.textlayer import TextLayer

ORIGIN = "example.gov/orders"  # conftest's (not imported: pytest would cost half a second)


def text_request(doc: str, body: str) -> AddRequest:
    return document_fields(
        body.encode(), doc=doc, kind="executive-order", title=doc, issuer="City of Example",
        issued="2026-02-05", media_type="text/plain", text=TextLayer.from_text(body),
        extractor="orderarchive-text/1",
    )


def main() -> None:
    url, endpoint, prefix, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    batch = int(sys.argv[5]) if len(sys.argv) > 5 else 1
    signer = Signer(name=ORIGIN, seed=bytes(range(32)))
    store = S3Store.open(url, endpoint=endpoint)
    archive = Archive.from_store(store)
    store.probe()
    print("ready", file=sys.stderr, flush=True)
    for start in range(0, count, batch):
        reqs = [
            text_request(f"{prefix}-{i}", f"Document {prefix} {i}.\n\nText {i}.\n")
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
