"""`add` shows what it signs and where each value came from, refuses to sign an order's date
guessed from file metadata, has a dry run, and adds directories and CSV manifests all or none
(issue 14, item 4)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from conftest import ORIGIN, ok, one_line_error
from orderarchive.cli import cli
from pdfgen import make_pdf

KEY = ("--key", "clerk.key")


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def snapshot(archive: Path) -> dict[str, bytes]:
    """Every byte of the archive but its derived index (rebuilt from the log on any read)."""
    return {
        p.relative_to(archive).as_posix(): p.read_bytes()
        for p in sorted(archive.rglob("*"))
        if p.is_file() and not p.name.startswith("index.")
    }


@pytest.fixture
def clerk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    ok(run("init", "--origin", ORIGIN))
    ok(run("key", "generate", ORIGIN, "--unencrypted", "--secret-key", "clerk.key"))
    return tmp_path


def article(path: Path, n: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"Mayor signs order {n}\n\nThe mayor signed order {n} today.\n", "utf-8")
    return path


def test_add_prints_each_signed_field_and_its_source(clerk: Path) -> None:
    article(clerk / "wu-signs-order.txt", 1)
    out = ok(run("add", *KEY, "wu-signs-order.txt", "--issued", "2026-02-05"))
    lines = {line.split()[0]: line for line in out.splitlines() if line.startswith("    ")}
    assert lines["id"].split()[1:] == ["wu-signs-order", "(file", "name)"]
    assert lines["kind"].split()[1:] == ["article", "(file", "type)"]
    assert lines["title"].split()[1:] == ["wu-signs-order", "(file", "name)"]
    assert lines["issuer"].split()[1:] == ["-", "(none)"]
    assert lines["issued"].split()[1:] == ["2026-02-05", "(given)"]
    assert "added wu-signs-order as entry 0" in out
    article(clerk / "b.txt", 2)
    doc = json.loads(ok(run("--json", "add", *KEY, "b.txt", "--issuer", "GBH News")))
    (added,) = doc["added"]
    assert added["issuer"] == "GBH News" and added["sources"]["issuer"] == "given"
    assert added["sources"]["issued"] == "none" and "issued" not in added


def test_an_orders_date_from_pdf_metadata_is_refused_unless_asked(clerk: Path) -> None:
    make_pdf([["Executive Order 7", "Section 1."]], title="EO 7", author="Mayor", path="eo7.pdf")
    before = snapshot(clerk / "archive")
    line = one_line_error(run("add", *KEY, "eo7.pdf"), 2)
    assert "eo7.pdf" in line and "metadata" in line and "pass --issued" in line
    assert snapshot(clerk / "archive") == before
    out = ok(run("add", *KEY, "eo7.pdf", "--issued-from-file"))
    assert "issued  2026-02-05" in out and "(file metadata)" in out
    assert "title   EO 7" in out and "issuer  Mayor" in out


def test_an_articles_date_from_metadata_is_taken_and_shown(clerk: Path) -> None:
    (clerk / "a.html").write_text(
        '<html><head><title>Wu signs</title><meta property="article:published_time" '
        'content="2026-02-06T10:00:00-05:00"></head><body><p>The mayor signed.</p></body></html>',
        "utf-8",
    )
    out = ok(run("add", *KEY, "a.html"))
    issued = next(line for line in out.splitlines() if line.startswith("    issued"))
    assert issued.split()[1:] == ["2026-02-06", "(file", "metadata)"]


def test_dry_run_shows_the_same_and_writes_nothing(clerk: Path) -> None:
    article(clerk / "one.txt", 1)
    ok(run("add", *KEY, "one.txt"))
    article(clerk / "two.txt", 2)
    before = snapshot(clerk / "archive")
    out = ok(run("add", "two.txt", "--issuer", "WHDH", "--reports-on", "one", "--dry-run"))
    assert "would add two" in out and "issuer  WHDH" in out and "(given)" in out
    assert "nothing was written" in out
    assert snapshot(clerk / "archive") == before
    # A dry run checks what the add would check: an id already archived is refused.
    line = one_line_error(run("add", "one.txt", "--id", "one", "--dry-run"), 2)
    assert "already" in line
    line = one_line_error(run("add", "two.txt", "--reports-on", "nine", "--dry-run"), 2)
    assert "nine" in line
    assert snapshot(clerk / "archive") == before


def test_add_directory_is_recursive_filtered_and_sorted(clerk: Path) -> None:
    docs = clerk / "docs"
    article(docs / "b" / "2.txt", 2)
    article(docs / "a" / "1.txt", 1)
    article(docs / "a" / "3.md", 3)
    article(docs / "c" / "4.txt", 4)
    article(docs / ".hidden.txt", 5)
    article(docs / ".git" / "6.txt", 6)
    doc = json.loads(
        ok(run("--json", "add", *KEY, "docs", "--include", "*.txt", "--exclude", "c/*"))
    )
    assert [d["file"] for d in doc["added"]] == ["docs/a/1.txt", "docs/b/2.txt"]
    assert [d["seq"] for d in doc["added"]] == [0, 1]


def test_add_directory_never_signs_the_archive_or_a_private_key(clerk: Path) -> None:
    article(clerk / "one.txt", 1)
    before = snapshot(clerk / "archive")
    # The clerk's own directory holds archive/, clerk.key and one.txt.
    line = one_line_error(run("add", *KEY, "."), 2)
    assert "clerk.key" in line and "private key" in line
    line = one_line_error(run("add", *KEY, "archive"), 2)
    assert "inside the archive" in line
    line = one_line_error(run("add", *KEY, "docs-missing"), 2)
    assert "no such file" in line
    line = one_line_error(run("add", *KEY, "one.txt", "--include", "*.txt"), 2)
    assert "--include" in line
    (clerk / "empty").mkdir()
    line = one_line_error(run("add", *KEY, "empty"), 2)
    assert "no files" in line
    # A file of the archive named directly, through a link, or through a detour: refused.
    (clerk / "entries-link").symlink_to(clerk / "archive/log/entries")
    (clerk / "sub").mkdir()
    for name in ("archive/log/entries", "entries-link", "sub/../archive/checkpoint",
                 "./archive/orderarchive.json"):
        line = one_line_error(run("add", *KEY, "one.txt", name), 2)
        assert "inside the archive" in line, name
    assert snapshot(clerk / "archive") == before


MANIFEST = """path,id,kind,title,issuer,issued,reports_on,amends
orders/eo1.pdf,eo-2026-01,executive-order,Order One,City of Example,2026-02-05,,
news/wu.txt,,article,Wu signs order,GBH News,2026-02-06,eo-2026-01,
orders/eo2.txt,eo-2026-02,executive-order,Amendment,City of Example,2026-03-01,,eo-2026-01
"""


def manifest_files(clerk: Path) -> None:
    (clerk / "orders").mkdir()
    make_pdf([["Executive Order 1", "Section 1."]], path=clerk / "orders" / "eo1.pdf")
    article(clerk / "news" / "wu.txt", 1)
    (clerk / "orders" / "eo2.txt").write_text("Amendment to order 1.\n", "utf-8")


def test_add_manifest_with_metadata_and_relations(clerk: Path) -> None:
    manifest_files(clerk)
    (clerk / "m.csv").write_text(MANIFEST, "utf-8")
    doc = json.loads(ok(run("--json", "add", *KEY, "--manifest", "m.csv")))
    added = {d["doc"]: d for d in doc["added"]}
    assert list(added) == ["eo-2026-01", "wu", "eo-2026-02"]
    assert added["eo-2026-01"]["issued"] == "2026-02-05"
    assert added["eo-2026-01"]["sources"]["issued"] == "given"
    assert added["wu"]["relations"] == [{"type": "reports-on", "target": "eo-2026-01"}]
    assert added["eo-2026-02"]["relations"] == [{"type": "amends", "target": "eo-2026-01"}]
    assert added["wu"]["issuer"] == "GBH News"


@pytest.mark.parametrize(
    ("case", "manifest", "expected"),
    [
        ("unknown-column", "path,colour\nnews/wu.txt,red\n", "line 1: unknown column 'colour'"),
        ("no-path-column", "id\nx\n", "line 1: the header must name 'path'"),
        ("empty", "", "the manifest is empty"),
        ("header-only", "path,id\n", "names no files"),
        ("bad-date", MANIFEST.replace("2026-02-06", "6 Feb"), "line 3 (news/wu.txt)"),
        ("missing-file", MANIFEST.replace("news/wu.txt", "news/gone.txt"), "line 3"),
        ("cell-count", MANIFEST.replace("GBH News,", "GBH, News,"), "line 3: 9 cells"),
        ("bad-relation", MANIFEST.replace(",eo-2026-01,\n", ",eo-9,\n"), "'eo-9'"),
        ("bad-kind", MANIFEST.replace(",article,", ",poem,"), "line 3"),
        ("order-date-guess", MANIFEST.replace("City of Example,2026-02-05", "City,"), "line 2"),
        ("unquoted-quote", 'path\n"news/wu.txt\n', "m.csv line"),
        ("archive-file", "path\nnews/wu.txt\narchive/orderarchive.json\n", "json) is inside"),
    ],
)
def test_a_bad_manifest_row_adds_nothing(
    clerk: Path, case: str, manifest: str, expected: str
) -> None:
    manifest_files(clerk)
    (clerk / "m.csv").write_text(manifest, "utf-8")
    before = snapshot(clerk / "archive")
    line = one_line_error(run("add", *KEY, "--manifest", "m.csv"), 2)
    assert expected in line, line
    assert snapshot(clerk / "archive") == before


def test_manifest_and_files_are_exclusive(clerk: Path) -> None:
    article(clerk / "one.txt", 1)
    (clerk / "m.csv").write_text("path\none.txt\n", "utf-8")
    assert "not both" in one_line_error(run("add", *KEY, "one.txt", "--manifest", "m.csv"), 2)
    assert "not both" in one_line_error(run("add", *KEY), 2)
    line = one_line_error(run("add", *KEY, "--manifest", "m.csv", "--id", "x"), 2)
    assert "name one document" in line


def test_add_directory_skips_the_archive_and_links_into_it(clerk: Path) -> None:
    # expand_paths resolves each directory once and only links one by one (issue 15).
    docs = clerk / "docs"
    article(docs / "a" / "1.txt", 1)
    (docs / "b").mkdir()
    (docs / "b" / "config.txt").symlink_to(clerk / "archive" / "orderarchive.json")
    (docs / "inside").symlink_to(clerk / "archive", target_is_directory=True)
    doc = json.loads(ok(run("--json", "add", *KEY, "docs")))
    assert [d["file"] for d in doc["added"]] == ["docs/a/1.txt"]
    # The clerk's directory itself: everything under archive/ is left out.
    shutil.rmtree(docs)
    (clerk / "clerk.key").rename(clerk.parent / "clerk.key")
    article(clerk / "two.txt", 2)
    doc = json.loads(ok(run("--json", "add", "--key", "../clerk.key", ".", "--include",
                            "*.txt", "--include", "*.json")))
    assert [d["file"] for d in doc["added"]] == ["two.txt"]
