"""The shipped sample archive: it verifies with the shipped key, says what it is, and the
script in docs/sample rebuilds it byte for byte from its sources."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pypdf
import pytest

from orderarchive.archive import Archive
from orderarchive.log.keys import load_verifiers, read_secret_key

REPO = Path(__file__).resolve().parents[1]
DERIVED = {"index.sqlite", "index.sqlite-wal", "index.sqlite-shm", "lock", "index.lock"}


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.name not in DERIVED}


def test_sample_archive_verifies_with_the_shipped_key() -> None:
    archive = Archive.open(REPO / "archive")
    report = archive.verify(load_verifiers([REPO / "keys"]))
    assert report.size == 4 and report.releases == (3, 4) and report.unreleased == 0
    kinds = {e.doc: e.document.kind for e in archive.iter_entries() if e.document}
    assert kinds["gbh-2026-02-05-wu-executive-order"] == "article"
    assert kinds["boston-eo-2026-02-05-specimen"] == "executive-order"


def test_seed_articles_are_archived_byte_for_byte() -> None:
    archive = Archive.open(REPO / "archive")
    seeds = {
        "gbh-2026-02-05-wu-executive-order":
            "a95a05de4fe2e3cf2eaa62e79a6b3b1c6873c86641b76b327ffe9f45c91d369c",
        "whdh-2026-02-05-wu-signs-executive-order":
            "3e5ec054e4b92fd75fb5584a30041fa75d032614e0b5826b6942887a570a51ff",
    }
    for entry in archive.iter_entries():
        if entry.doc in seeds:
            assert entry.document is not None
            assert entry.document.sha256 == seeds[entry.doc]
            assert entry.document.source_url
            assert [r.type for r in entry.document.relations] == ["reports-on"]


def test_specimens_say_so_on_every_page() -> None:
    archive = Archive.open(REPO / "archive")
    for entry in archive.iter_entries():
        if entry.document and entry.document.kind == "executive-order":
            assert "SPECIMEN" in entry.document.title
            layer = archive.text_layer(entry)
            assert layer is not None
            for page in layer.pages:
                assert "SPECIMEN - NOT THE OFFICIAL TEXT" in page[0]


def test_demo_key_is_labelled_and_matches() -> None:
    sealed = read_secret_key(REPO / "keys" / "DEMO-ONLY-NOT-SECRET.sample-archive.key")
    assert sealed.comment is not None and "NOT SECRET" in sealed.comment
    signer = sealed.unlock(None)
    assert signer.verifier() in load_verifiers([REPO / "keys"])


def test_build_script_reproduces_the_archive(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, str(REPO / "docs" / "sample" / "build.py"),
                             "--out", str(tmp_path)], capture_output=True, text=True,
                            timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    built, shipped = tree(tmp_path / "archive"), tree(REPO / "archive")
    if built != shipped:
        recorded = Archive.open(REPO / "archive").entry(0).document
        assert recorded is not None and recorded.text is not None
        if recorded.text.extractor != f"pypdf/{pypdf.__version__}":
            pytest.skip(f"the sample's text layers were extracted with {recorded.text.extractor}; "
                        f"this is pypdf {pypdf.__version__}: rebuild the sample to update it")
    assert built.keys() == shipped.keys()
    assert built == shipped
