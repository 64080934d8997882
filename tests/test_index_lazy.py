"""The index's full text built lazily (issue 15 item 3): ``add`` writes the metadata it checks
against, the FTS5 rows wait for the first other use, and the rows then are the rows an eager
build writes, so search, quote and copy lookups answer exactly as before."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from conftest import text_request
from orderarchive.archive import Archive
from orderarchive.errors import VerificationError
from orderarchive.index import index_path
from orderarchive.log.layout import object_name
from orderarchive.log.note import Signer

WORDS = [
    "tariff", "steel", "harbour", "budget", "water", "council", "license",
    "permit", "parks", "library", "transit", "zoning", "housing", "grant",
    "audit", "pension", "election", "clerk", "treasurer", "ethics",
]


def _body(n: int) -> str:
    words = [WORDS[(n * 7 + k * 3) % len(WORDS)] for k in range(12)]
    return (f"Order {n} on {words[0]} and {words[1]}.\n\n"
            f"Section 1. The {words[2]} office shall review the {words[3]} of {n}.\n\n"
            f"Section 2. {' '.join(words[4:])} résumé naïve.\n")


def _requests(numbers: range) -> list[Any]:
    return [text_request(n, body=_body(n)) for n in numbers]


def _rows(path: Path) -> dict[str, list[Any]]:
    with sqlite3.connect(path) as conn:
        return {
            "passages": conn.execute("SELECT rowid, body, page FROM passages ORDER BY rowid")
            .fetchall(),
            "stems": conn.execute(
                "SELECT rowid FROM stems WHERE stems MATCH 'order' ORDER BY rowid"
            ).fetchall(),
            "documents": conn.execute("SELECT * FROM documents ORDER BY seq").fetchall(),
            "meta": conn.execute(
                "SELECT key, value FROM meta WHERE key IN ('size', 'root', 'frontier', "
                "'documents', 'passages', 'text_size') ORDER BY key"
            ).fetchall(),
        }


QUERIES = ("order", "steel harbour", "tariff", "résumé", "council*", "section review", "naive")


def _answers(archive: Archive, signer: Signer) -> list[Any]:
    with archive.index([signer.verifier()]) as idx:
        return [
            *(idx.search(q, limit=50) for q in QUERIES),
            idx.candidate_docs(["steel", "harbour", "budget", "water"]),
            idx.near_duplicates(_body(7).lower().split()),
            idx.count(),
        ]


def _passage_count(archive: Archive) -> int:
    with sqlite3.connect(index_path(archive.path, archive.origin)) as conn:
        return int(conn.execute("SELECT count(*) FROM passages").fetchone()[0])


def test_add_leaves_the_full_text_for_the_first_search(tmp_path: Path, signer: Signer) -> None:
    archive = Archive.init(tmp_path / "a", "example.gov/orders")
    archive.add(_requests(range(5)), signer)
    assert _passage_count(archive) == 0  # the metadata only: ids and digests for add's checks
    archive.index([signer.verifier()]).close()
    assert _passage_count(archive) == 5 * 4  # a title and three paragraphs each


def test_lazy_and_eager_indexes_answer_the_same(tmp_path: Path, signer: Signer) -> None:
    lazy = Archive.init(tmp_path / "lazy", "example.gov/orders")
    lazy.add(_requests(range(0, 20)), signer)
    lazy.index([signer.verifier()]).close()  # filled once, then two adds left pending
    lazy.add(_requests(range(20, 35)), signer)
    lazy.release(signer)
    lazy.add(_requests(range(35, 40)), signer)
    answers = _answers(lazy, signer)
    rows = _rows(index_path(lazy.path, lazy.origin))

    # The same archive indexed from scratch, text read with the entries (the eager path).
    os.remove(index_path(lazy.path, lazy.origin))
    eager = _answers(lazy, signer)
    assert _rows(index_path(lazy.path, lazy.origin)) == rows
    assert eager == answers
    assert answers[0] and answers[3] and answers[-1] == 40


def test_an_altered_text_layer_stops_the_fill_and_leaves_it_pending(
    tmp_path: Path, signer: Signer
) -> None:
    archive = Archive.init(tmp_path / "a", "example.gov/orders")
    requests = _requests(range(3))
    archive.add(requests, signer)
    layer = requests[1].fields.text
    assert layer is not None
    path = archive.path / object_name(layer.sha256)
    good = path.read_bytes()
    os.chmod(path, 0o644)
    path.write_bytes(good.replace(b"Section", b"Sektion"))
    with pytest.raises(VerificationError, match="corrupt"):
        archive.index([signer.verifier()])
    assert _passage_count(archive) == 0  # nothing half-filled
    path.write_bytes(good)
    with archive.index([signer.verifier()]) as idx:
        assert [h.doc for h in idx.search("section review")] == ["eo-0", "eo-1", "eo-2"]
