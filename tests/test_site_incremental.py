"""Incremental pages (issue 15, finding 2): a publish renders the pages of the documents that
are new in the release and of those the new entries act or report on, not every document's;
the site it leaves is byte for byte the one a full build writes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import text_request
from orderarchive import site as site_module
from orderarchive.archive import Archive
from orderarchive.log.note import Signer, VerifierKey
from orderarchive.publish import publish
from orderarchive.site import build_site, publish_pages
from orderarchive.status import DocumentStatus


def _published(tmp_path: Path, signer: Signer, verifiers: list[VerifierKey]) -> Archive:
    archive = Archive.init(tmp_path / "a", "example.gov/orders")
    archive.add([text_request(i) for i in range(20)], signer)
    archive.release(signer)
    publish(archive, tmp_path / "site", verifiers, pages=publish_pages)
    return archive


class _Rendered:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.docs: list[str] = []
        page = site_module.document_page

        def counted(origin: str, st: DocumentStatus) -> bytes:
            assert st.entry.document is not None
            self.docs.append(st.entry.document.doc)
            return page(origin, st)

        monkeypatch.setattr(site_module, "document_page", counted)


def _site_files(root: Path) -> dict[str, bytes]:
    names = ("index.html", "search-index.json", "verify.html", "trust.json")
    out = {n: (root / n).read_bytes() for n in names}
    out.update({f"doc/{p.name}": p.read_bytes() for p in (root / "doc").iterdir()})
    return out


def test_one_new_document_renders_its_page_and_its_targets_only(
    tmp_path: Path, signer: Signer, verifiers: list[VerifierKey], monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = _published(tmp_path, signer, verifiers)
    archive.add([text_request(20, relations=(("amends", "eo-3"), ("reports-on", "eo-7")))],
                signer)
    archive.release(signer)
    rendered = _Rendered(monkeypatch)
    report = publish(archive, tmp_path / "site", verifiers, pages=publish_pages)
    assert sorted(rendered.docs) == ["eo-20", "eo-3", "eo-7"]
    pages = sorted(n for n in report.written if n.startswith("doc/"))
    assert pages == ["doc/eo-20.html", "doc/eo-3.html", "doc/eo-7.html"]
    assert "amended by eo-20" in (tmp_path / "site/doc/eo-3.html").read_text()
    # The same site as a full build of the release writes.
    monkeypatch.undo()
    full = {f.name: f.data for f in build_site(archive, verifiers, size=21).files}
    for name, data in _site_files(tmp_path / "site").items():
        assert full[name] == data, name
    assert len(json.loads(full["search-index.json"])["documents"]) == 21


def test_a_release_without_documents_renders_no_page(
    tmp_path: Path, signer: Signer, verifiers: list[VerifierKey], monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = _published(tmp_path, signer, verifiers)
    archive.release(signer)  # nothing new: the same release size, nothing to render
    archive.add([text_request(20)], signer)
    archive.release(signer)
    rendered = _Rendered(monkeypatch)
    publish(archive, tmp_path / "site", verifiers, pages=publish_pages)
    assert rendered.docs == ["eo-20"]


def test_a_tampered_search_index_means_a_full_build(
    tmp_path: Path, signer: Signer, verifiers: list[VerifierKey], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The previous search index is reused for the documents not rendered again only when it
    describes the previous publication and agrees with the verified index; otherwise every
    page is rendered (and the forged row is not published)."""
    archive = _published(tmp_path, signer, verifiers)
    path = tmp_path / "site/search-index.json"
    index = json.loads(path.read_bytes())
    index["documents"][5]["title"] = "Forged"
    path.write_text(json.dumps(index))
    archive.add([text_request(20)], signer)
    archive.release(signer)
    rendered = _Rendered(monkeypatch)
    publish(archive, tmp_path / "site", verifiers, pages=publish_pages)
    assert len(rendered.docs) == 21
    assert "Forged" not in path.read_text()


def test_a_mirror_fetches_only_the_pages_that_changed(
    tmp_path: Path, signer: Signer, verifiers: list[VerifierKey]
) -> None:
    """A mirror that holds the pages of its previous tree fetches the new document's page and
    the pages of the documents it acts on, not every page; the copy is the site's, byte for
    byte."""
    from _httpsite import serve
    from orderarchive.remote import mirror

    archive = _published(tmp_path, signer, verifiers)
    root, copy = tmp_path / "site", tmp_path / "mirror"
    with serve(root) as served:
        first = mirror(served.url, copy, verifiers, state=tmp_path / "s")
        assert first.pages == 21  # 20 documents and the index page
        archive.add([text_request(20, relations=(("rescinds", "eo-3"),))], signer)
        archive.release(signer)
        publish(archive, root, verifiers, pages=publish_pages)
        served.paths.clear()
        grown = mirror(served.url, copy, verifiers, state=tmp_path / "s")
    assert sorted(p for p in served.paths if p.startswith("/doc/")) == [
        "/doc/eo-20.html", "/doc/eo-3.html"]
    assert grown.pages == 3 and grown.pages_skipped is None
    for name in {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}:
        assert (copy / name).read_bytes() == (root / name).read_bytes(), name
