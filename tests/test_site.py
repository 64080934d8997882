"""The human part of the published site (site.py): pages from verified entries only, every
piece of archive text escaped, the search index and trust file, written only when changed."""

from __future__ import annotations

import html
import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import ORIGIN, REPO, ok, one_line_error, text_request
from orderarchive.archive import Archive, document_fields
from orderarchive.citations.cite import Citation
from orderarchive.cli import cli
from orderarchive.errors import OrderArchiveError, StorageError, VerificationError
from orderarchive.log.keys import load_verifiers
from orderarchive.log.note import Signer, VerifierKey
from orderarchive.site import (
    SEARCH_FORMAT,
    TRUST_FORMAT,
    build_site,
    passive_page,
    write_site,
)
from orderarchive.status import document_status

SAMPLE_KEYS = REPO / "keys"
HOSTILE_TITLE = '</title><script>alert("t")</script><!--'
HOSTILE_ISSUER = '"><img src=x onerror=alert(1)>'
HOSTILE_URL = "javascript:alert(document.cookie)"


def _files(site: object) -> dict[str, bytes]:
    return {f.name: f.data for f in site.files}  # type: ignore[attr-defined]


def test_sample_pages_say_what_the_verified_entries_say() -> None:
    archive = Archive.open(REPO / "archive")
    keys = load_verifiers([SAMPLE_KEYS])
    files = _files(build_site(archive, keys))
    order = "boston-eo-2026-02-05-specimen"
    page = files[f"doc/{order}.html"].decode()
    st = document_status(archive, order, keys)
    d = st.entry.document
    assert d is not None
    assert f"<h1>{html.escape(d.title)}</h1>" in page
    assert html.escape(d.issuer) in page
    assert "Status: Amended (amended by boston-eo-2026-02-05-specimen-amendment-1)" in page
    # the articles reporting on it, linked to their pages
    for r in st.reported_by:
        assert f'<a href="{r.doc}.html">{r.doc}</a>' in page
        assert f"doc/{r.doc}.html" in files
    # the ready-to-paste citation is the library's
    assert html.escape(Citation(archive.origin, st).text) in page
    # downloads and hashes
    assert f'href="../objects/sha256/{d.sha256[:2]}/{d.sha256[2:]}"' in page
    assert d.text is not None and d.text.sha256 in page
    assert "covered by signed release 3" in page
    index = json.loads(files["search-index.json"])
    assert index["format"] == SEARCH_FORMAT and index["size"] == 4 and index["release"] == 4
    assert index["text_index"] == "lookup/text/4"  # the published text index (full text)
    assert index["documents"][0]["doc"] == order
    assert index["documents"][0]["sha256"] == d.sha256
    assert index["documents"][0]["status"] == "amended"
    trust = json.loads(files["trust.json"])
    assert trust == {
        "format": TRUST_FORMAT,
        "origin": archive.origin,
        "verifiers": [k.to_string() for k in keys],
    }
    listing = files["index.html"].decode()
    assert listing.count("<tr data-seq=") == 4
    for name in ("verify.html", "verify.js", "search.js", "style.css"):
        assert files[name]


def _hostile_archive(tmp_path: Path, signer: Signer) -> Archive:
    archive = Archive.init(tmp_path / "a", ORIGIN)
    data = b"The order.\n"
    archive.add([
        document_fields(
            data, doc="eo-1", kind="executive-order", title=HOSTILE_TITLE,
            issuer=HOSTILE_ISSUER, issued="2026-01-02", media_type="text/html",
            source_url=HOSTILE_URL,
        ),
    ], signer)
    archive.add([text_request(2, relations=(("rescinds", "eo-1"),))], signer)
    archive.release(signer)
    return archive


def test_hostile_archive_text_stays_text(
    tmp_path: Path, signer: Signer, verifiers: list[VerifierKey]
) -> None:
    files = _files(build_site(_hostile_archive(tmp_path, signer), verifiers))
    for name, data in files.items():
        if not name.endswith(".html"):
            continue
        page = data.decode()
        assert "<script>alert" not in page, name
        assert "<img" not in page, name
        assert 'href="javascript:' not in page.lower(), name
        # the only scripts are the site's own files
        assert re.findall(r"<script[^>]*>", page) in ([], ['<script src="search.js">'],
                                                       ['<script src="verify.js">']), name
        assert "Content-Security-Policy" in page
    page = files["doc/eo-1.html"].decode()
    assert html.escape(HOSTILE_TITLE) in page
    assert html.escape(HOSTILE_URL) in page  # shown as text, not linked
    assert "Rescinded (no longer in force) (rescinded by eo-2)" in page
    # the JSON files are data, never inlined into a page
    assert json.loads(files["search-index.json"])["documents"][0]["title"] == HOSTILE_TITLE


def test_every_page_publish_writes_passes_the_mirror_check_unchanged(
    tmp_path: Path, signer: Signer, verifiers: list[VerifierKey]
) -> None:
    """The mirror's allow-list (site.passive_page) is exactly what site.py emits: every page
    of the sample archive and of an archive with hostile text passes, re-serialised to the
    very same bytes."""
    sample = _files(build_site(Archive.open(REPO / "archive"), load_verifiers([SAMPLE_KEYS])))
    hostile = _files(build_site(_hostile_archive(tmp_path, signer), verifiers))
    pages = [(n, d) for files in (sample, hostile) for n, d in files.items()
             if n.endswith(".html") and n != "verify.html"]
    assert len(pages) >= 6
    for name, data in pages:
        assert passive_page(data) == (data, None), name


def test_pages_describe_only_the_published_size(
    tmp_path: Path, signer: Signer, verifiers: list[VerifierKey]
) -> None:
    archive = _hostile_archive(tmp_path, signer)
    files = _files(build_site(archive, verifiers, size=1))
    assert "doc/eo-2.html" not in files
    page = files["doc/eo-1.html"].decode()
    assert "rescinded" not in page.lower()  # the act recorded after entry 1 is not published
    assert "Status: In force" in page
    assert json.loads(files["search-index.json"])["size"] == 1


def test_pages_refuse_an_untrusted_log(tmp_path: Path, signer: Signer) -> None:
    archive = _hostile_archive(tmp_path, signer)
    other = Signer(name=ORIGIN, seed=bytes(32)).verifier()
    with pytest.raises(OrderArchiveError):
        build_site(archive, [other])


def test_pages_refuse_an_entry_that_does_not_verify(
    tmp_path: Path, signer: Signer, verifiers: list[VerifierKey]
) -> None:
    archive = _hostile_archive(tmp_path, signer)
    build_site(archive, verifiers)  # the index is built from the intact log
    entries = tmp_path / "a" / "log" / "entries"
    data = entries.read_bytes()
    entries.write_bytes(data.replace(b"The order", b"The ORDER", 1).replace(
        b"2026-01-02", b"2026-01-03", 1))
    with pytest.raises(VerificationError):
        build_site(archive, verifiers)


def test_write_site_writes_only_what_changed_and_no_symlinks(
    tmp_path: Path, signer: Signer, verifiers: list[VerifierKey]
) -> None:
    site = build_site(_hostile_archive(tmp_path, signer), verifiers)
    out = tmp_path / "site"
    out.mkdir()
    assert sorted(write_site(out, site)) == sorted(f.name for f in site.files)
    assert write_site(out, site) == []
    (out / "index.html").write_bytes(b"stale")
    assert write_site(out, site) == ["index.html"]
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]
    # a planted link is refused, and what it points to is untouched
    victim = tmp_path / "victim"
    victim.mkdir()
    shutil.rmtree(out / "doc")
    (out / "doc").symlink_to(victim)
    with pytest.raises(StorageError, match="symbolic link"):
        write_site(out, site)
    assert list(victim.iterdir()) == []


def test_publish_writes_the_pages_and_the_nginx_block(tmp_path: Path) -> None:
    out = tmp_path / "site"
    conf = tmp_path / "site.conf"
    base = ["--archive", str(REPO / "archive"), "--keys", str(SAMPLE_KEYS)]
    result = CliRunner().invoke(cli, [*base, "publish", str(out), "--nginx-conf", str(conf),
                                       "--listen", "127.0.0.1:8080"])
    ok(result)
    for name in ("index.html", "verify.html", "verify.js", "trust.json", "search-index.json",
                 "doc/boston-eo-2026-02-05-specimen.html", "checkpoint", "tile/0/000.p/4"):
        assert (out / name).is_file(), name
    text = conf.read_text()
    assert f"root {out.resolve()};" in text and "listen 127.0.0.1:8080;" in text
    ssl = ok(CliRunner().invoke(cli, [*base, "publish", str(out), "--nginx-conf", "-",
                                      "--listen", "443 ssl", "--server-name", "o.example.gov"]))
    assert "    listen 443 ssl;\n    server_name o.example.gov;\n" in ssl
    # a second run has nothing to write, pages included
    again = ok(CliRunner().invoke(cli, [*base, "publish", str(out)]))
    assert "0 files written" in again


@pytest.mark.parametrize("option", [["--server-name", "a;b"], ["--listen", "80 { }"],
                                    ["--server-name", "x\ninclude /etc/passwd"],
                                    ["--server-name", "a b"], ["--listen", "80\ninclude x"]])
def test_publish_refuses_what_cannot_go_into_nginx(tmp_path: Path, option: list[str]) -> None:
    out = tmp_path / "site"
    result = CliRunner().invoke(cli, ["--archive", str(REPO / "archive"), "--keys",
                                       str(SAMPLE_KEYS), "publish", str(out),
                                       "--nginx-conf", str(tmp_path / "c"), *option])
    assert "nginx configuration" in one_line_error(result, 2)
    assert not out.exists() and not (tmp_path / "c").exists()


def test_publish_json_with_the_nginx_block_on_stdout_is_one_document(tmp_path: Path) -> None:
    out = tmp_path / "site"
    result = CliRunner().invoke(cli, ["--archive", str(REPO / "archive"), "--keys",
                                      str(SAMPLE_KEYS), "--json", "publish", str(out),
                                      "--nginx-conf", "-"])
    doc = json.loads(ok(result))
    assert doc["nginx_conf"] == "-"
    assert f"root {out.resolve()};" in doc["nginx_conf_text"]
    assert "index.html" in doc["files"]
