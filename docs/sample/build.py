"""Rebuild the shipped sample archive (``archive/``) and its demo keys (``keys/``) from sources.

    .venv/bin/python docs/sample/build.py            # rebuild archive/ and keys/ in place
    .venv/bin/python docs/sample/build.py --out DIR  # build into DIR/archive and DIR/keys

Sources (``docs/sample/sources/``):

* the two news articles received as the project's seeds, byte for byte (GBH News and WHDH,
  5 February 2026), archived as articles that report on the Boston executive order;
* two **specimen** executive-order PDFs generated here: the official text of the order is not
  among the sources and is not invented; each specimen says on its face, on every page, that
  it is a demonstration document and not the official text.

Everything is deterministic (a fixed demo key, fixed timestamps, fixed PDF dates), so a
rebuild with the same pypdf version reproduces the archive byte for byte. Needs the dev extra
(fpdf2) to draw the specimen PDFs.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SOURCES = HERE / "sources"
sys.path.insert(0, str(REPO / "tests"))  # the dev-only PDF generator

from orderarchive.archive import Archive  # noqa: E402
from orderarchive.documents.ingest import AddOptions, add_files  # noqa: E402
from orderarchive.log.keys import file_stem, seal  # noqa: E402
from orderarchive.log.note import Signer  # noqa: E402
from pdfgen import make_pdf  # noqa: E402

ORIGIN = "sample.orderarchive.example/boston-executive-orders"
# A demo key derived from a public string: anyone can recompute it. That is the point.
DEMO_SEED = hashlib.sha256(b"orderarchive sample archive demo key - NOT SECRET").digest()
DEMO_COMMENT = (
    "DEMO KEY - PUBLISHED ON PURPOSE - NOT SECRET - NEVER USE IT FOR REAL RELEASES. "
    "It signs only the sample archive shipped with orderarchive."
)
DEMO_KEY_FILE = "DEMO-ONLY-NOT-SECRET.sample-archive.key"

ORDER_ID = "boston-eo-2026-02-05-specimen"
AMENDMENT_ID = "boston-eo-2026-02-05-specimen-amendment-1"
ORDER_TITLE = (
    "SPECIMEN of An Executive Order To Protect Bostonians From Unconstitutional and Violent "
    "Federal Operations (demonstration text, not the official order)"
)
BANNER = "SPECIMEN - NOT THE OFFICIAL TEXT - made by orderarchive for demonstration only"

ORDER_PAGES = [
    [
        BANNER,
        "This document is a specimen made by the orderarchive project to demonstrate its "
        "tools. It is not the executive order that the Mayor of Boston signed on 5 February "
        "2026 and must not be cited as that order. Its wording is invented for testing; the "
        "facts it mentions are those reported by GBH News and WHDH on 5 February 2026.",
        "CITY OF BOSTON - OFFICE OF THE MAYOR (SPECIMEN)",
        "An Executive Order To Protect Bostonians From Unconstitutional and Violent Federal "
        "Operations",
        "Section 1. Purpose. The City of Boston shall protect the safety and the "
        "constitutional rights of all of its residents. Local police are obligated to protect "
        "residents, and the City shall not assist the federal commandeering of local "
        "resources.",
        "Section 2. City property. City departments shall not permit the use of City-owned "
        "property for staging federal civil immigration enforcement operations, except where "
        "a court order or a federal law that binds the City requires it.",
    ],
    [
        BANNER,
        "Section 3. De-escalation. City personnel shall prioritize de-escalation, and the "
        "Boston Police Department shall document every federal operation in the City that "
        "involves the use of force against residents.",
        "Section 4. Reporting. The Police Commissioner shall report to the Mayor within "
        "thirty days on the implementation of this order, and every ninety days thereafter.",
        "Section 5. Effective date. This order takes effect immediately and remains in force "
        "until it is amended, superseded or rescinded.",
        "SPECIMEN - not signed - demonstration only.",
    ],
]

AMENDMENT_PAGES = [
    [
        BANNER,
        "This document is a specimen made by the orderarchive project to demonstrate how an "
        "amendment is recorded. No such amendment is known to have been issued.",
        "CITY OF BOSTON - OFFICE OF THE MAYOR (SPECIMEN)",
        "Amendment No. 1 to the specimen Executive Order To Protect Bostonians From "
        "Unconstitutional and Violent Federal Operations",
        "Section 1. Section 4 of the specimen order of 5 February 2026 is amended by replacing "
        "the words \"within thirty days\" with the words \"within sixty days\".",
        "Section 2. All other provisions of the specimen order remain in force.",
        "SPECIMEN - not signed - demonstration only.",
    ]
]

ARTICLES = [
    (
        "gbh-2026-02-05-wu-executive-order.txt",
        "gbh-2026-02-05-wu-executive-order",
        "Mayor Wu aims to shield Boston from federal immigration tactics through executive order",
        "GBH News",
        "https://www.wgbh.org/news/local/2026-02-05/mayor-wu-aims-to-shield-boston-from-federal-"
        "immigration-tactics-through-executive-order",
    ),
    (
        "whdh-2026-02-05-wu-signs-executive-order.txt",
        "whdh-2026-02-05-wu-signs-executive-order",
        "Wu signs executive order protecting Boston residents from 'unconstitutional and "
        "violent' federal operations",
        "WHDH (7News Boston)",
        "https://whdh.com/news/wu-signs-executive-order-protecting-boston-residents-from-"
        "unconstitutional-and-violent-federal-operations/",
    ),
]


def demo_signer() -> Signer:
    return Signer(name=ORIGIN, seed=DEMO_SEED)


def write_sources(directory: Path) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    order = directory / "boston-eo-2026-02-05-SPECIMEN.pdf"
    amendment = directory / "boston-eo-2026-02-05-SPECIMEN-amendment-1.pdf"
    make_pdf(ORDER_PAGES, title=ORDER_TITLE, author="orderarchive project (specimen)", path=order)
    make_pdf(
        AMENDMENT_PAGES,
        title="SPECIMEN Amendment No. 1 (demonstration text, not an official order)",
        author="orderarchive project (specimen)",
        path=amendment,
    )
    return order, amendment


def build(out: Path) -> Archive:
    archive_dir, keys_dir = out / "archive", out / "keys"
    if archive_dir.exists():
        shutil.rmtree(archive_dir)
    keys_dir.mkdir(parents=True, exist_ok=True)
    signer = demo_signer()
    (keys_dir / f"{file_stem(ORIGIN)}.vkey").write_text(signer.verifier().to_string() + "\n")
    (keys_dir / DEMO_KEY_FILE).write_bytes(seal(signer, None, comment=DEMO_COMMENT).to_bytes())
    # The specimen PDFs are generated next to the other sources (elsewhere with --out).
    order, amendment = write_sources(SOURCES if out == REPO else out / "sources")
    archive = Archive.init(archive_dir, ORIGIN)

    def at(day: str) -> datetime:
        return datetime.fromisoformat(day).replace(tzinfo=UTC)

    issuer = "City of Boston, Office of the Mayor (specimen)"
    add_files(archive, [order], AddOptions(doc_id=ORDER_ID, kind="executive-order",
              title=ORDER_TITLE, issuer=issuer, issued="2026-02-05"),
              signer, now=at("2026-02-05T18:00:00"))
    for filename, doc, title, outlet, url in ARTICLES:
        add_files(archive, [SOURCES / filename],
                  AddOptions(doc_id=doc, kind="article", title=title, issuer=outlet,
                             issued="2026-02-05", source_url=url,
                             relations=(("reports-on", ORDER_ID),)),
                  signer, now=at("2026-02-06T09:00:00"))
    archive.release(signer)
    add_files(archive, [amendment], AddOptions(
        doc_id=AMENDMENT_ID, kind="executive-order",
        title="SPECIMEN Amendment No. 1 to the specimen executive order of 5 February 2026",
        issuer=issuer, issued="2026-03-02", relations=(("amends", ORDER_ID),)),
        signer, now=at("2026-03-02T18:00:00"))
    archive.release(signer)
    for derived in ("index.sqlite", "index.sqlite-wal", "index.sqlite-shm", "lock",
                    "index.lock"):
        (archive_dir / derived).unlink(missing_ok=True)
    return archive


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO, help="where archive/ and keys/ go")
    args = parser.parse_args()
    archive = build(args.out)
    print(f"built {archive.path} ({archive.head().size} entries, releases {archive.releases()})")


if __name__ == "__main__":
    main()
