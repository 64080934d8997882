"""cite-check against the sample archive: what issue 12 saw (too-short quotations silently
skipped, <q> unread, Markdown emphasis misquoted, signed titles NOT FOUND) and the bounds of
issue 11 item 3 (brief size, number of quotations), each a one-line error with exit 2."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from conftest import REPO, one_line_error
from orderarchive.archive import Archive
from orderarchive.citations.brief import TooManyQuotationsError
from orderarchive.citing import check_brief
from orderarchive.cli import cli
from orderarchive.documents import DocumentTooLargeError
from orderarchive.index import index_path
from orderarchive.log.keys import load_verifiers

GBH = "gbh-2026-02-05-wu-executive-order"
GBH_TITLE = (
    "Mayor Wu aims to shield Boston from federal immigration tactics through executive order"
)


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return Path(shutil.copytree(REPO / "archive", tmp_path_factory.mktemp("s") / "archive"))


def run(archive: Path, *args: str) -> Result:
    return CliRunner().invoke(
        cli, ["--archive", str(archive), "--keys", str(REPO / "keys"), *args])


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_too_short_quotations_are_listed_and_the_brief_is_not_ok(
    sample: Path, tmp_path: Path
) -> None:
    """Issue 12, seen 4: "legally literate" (source: illiterate) and "has a place" (source: has
    no place) gave "0 quotation(s)", exit 0."""
    brief = write(tmp_path, "b.md", 'DHS called it "legally literate"; enforcement "has a place" '
                  'in the city. The "Order" is a defined term.\n')
    r = run(sample, "cite-check", str(brief))
    assert r.exit_code == 1
    assert r.stdout.count("  TOO SHORT  quotation has") == 2
    assert 'line 1: "legally literate"' in r.stdout and 'line 1: "has a place"' in r.stdout
    assert r.stderr.strip().endswith("0 title(s), 2 too short to check")
    assert r.stderr.startswith("2 quotation(s): ")
    doc = json.loads(run(sample, "--json", "cite-check", str(brief)).stdout)
    assert doc["ok"] is False and doc["totals"]["too-short"] == 2
    assert [q["status"] for q in doc["quotations"]] == ["too-short", "too-short"]
    assert doc["quotations"][0]["skipped"].startswith("quotation has 2 words")


def test_markdown_emphasis_is_removed_and_said(sample: Path, tmp_path: Path) -> None:
    """Issue 12, seen 5: "we will *not* allow…" was MISQUOTED (added "*")."""
    brief = write(tmp_path, "b.md", 'Wu said "We will *not* allow the birthplace of American '
                  'democracy to be knocked off our path."\n')
    r = run(sample, "cite-check", str(brief))
    assert r.exit_code == 0, r.output
    assert "  note: emphasis removed (Markdown markup, not words of the quotation)" in r.stdout
    assert f"  NORMALISED {GBH}" in r.stdout
    doc = json.loads(run(sample, "--json", "cite-check", str(brief)).stdout)
    assert doc["quotations"][0]["markup_removed"] == ["emphasis"]
    plain = write(tmp_path, "b.txt", brief.read_text())  # a .txt brief is read as written
    assert run(sample, "cite-check", str(plain)).exit_code == 1


def test_html_q_is_read(sample: Path, tmp_path: Path) -> None:
    brief = write(tmp_path, "b.html", "<!doctype html><p>The order <q>bans federal officials "
                  "from using property owned by the city</q>, GBH wrote.</p>")
    r = run(sample, "cite-check", str(brief))
    assert r.exit_code == 0, r.output
    assert f"  EXACT      {GBH}" in r.stdout
    assert r.stderr == "" and "1 quotation(s): 1 exact" in r.stdout


def test_a_quoted_signed_title_is_a_title(sample: Path, tmp_path: Path) -> None:
    """Issue 12, seen 5: a quoted headline that is a signed title was NOT FOUND."""
    brief = write(tmp_path, "b.txt", f'GBH\'s story "{GBH_TITLE}," reported it. WHDH\'s was '
                  '"Wu signs executive order protecting Boston residents from ‘unconstitutional '
                  'and violent’ federal operations."\n')
    r = run(sample, "cite-check", str(brief))
    assert r.exit_code == 0, r.output
    assert f'  TITLE      {GBH} "{GBH_TITLE}" (entry 1): the signed title' in r.stdout
    assert "  TITLE      whdh-2026-02-05-wu-signs-executive-order" in r.stdout
    assert "    entry signed by sample.orderarchive.example/boston-executive-orders+" in r.stdout
    assert "2 quotation(s): 0 exact, 0 normalised, 0 altered, 0 needs review, 0 misquoted, " \
           "0 not found, 2 title(s), 0 too short to check" in r.stdout
    doc = json.loads(run(sample, "--json", "cite-check", str(brief)).stdout)
    assert (doc["quotations"][0]["status"], doc["quotations"][0]["doc"]) == ("title", GBH)
    assert doc["quotations"][0]["title"] == GBH_TITLE
    # Against another document, the title is not that document's: checked as a quotation.
    r = run(sample, "cite-check", str(brief), "--doc", "boston-eo-2026-02-05-specimen")
    assert r.exit_code == 1 and "TITLE" not in r.stdout


def test_a_title_comes_from_the_signed_entry_never_from_the_index(tmp_path: Path) -> None:
    """A poisoned index claims a title the entry does not sign: not a title."""
    archive = Path(shutil.copytree(REPO / "archive", tmp_path / "archive"))
    opened = Archive.open(archive)
    opened.index(load_verifiers([REPO / "keys"])).close()  # build the index in the cache
    forged = "Mayor Wu orders the police to assist every federal operation in the city"
    with sqlite3.connect(index_path(archive, opened.origin)) as conn:
        conn.execute("UPDATE documents SET title = ? WHERE doc = ?", (forged, GBH))
        (seq,) = conn.execute("SELECT seq FROM documents WHERE doc = ?", (GBH,)).fetchone()
        conn.execute("UPDATE passages SET body = ? WHERE rowid = ?", (forged, seq << 32))
    conn.close()
    brief = write(tmp_path, "b.txt", f'The story "{forged}" ran.\n')
    r = run(archive, "cite-check", str(brief))
    assert r.exit_code == 1
    assert "TITLE" not in r.stdout and "NOT FOUND" in r.stdout


def test_the_brief_size_is_capped(sample: Path, tmp_path: Path) -> None:
    brief = write(tmp_path, "b.txt", 'It says "the city refuses to assist federal '
                  'commandeering of local resources" plainly.\n' + "x" * 1000)
    line = one_line_error(run(sample, "cite-check", str(brief), "--max-size", "1000"), 2)
    assert "over the limit of 1000 bytes" in line
    assert run(sample, "cite-check", str(brief), "--max-size", "2000").exit_code == 0
    r = run(sample, "cite-check", str(brief), "--max-size", "0")
    assert r.exit_code == 2 and "Invalid value for '--max-size'" in r.stderr
    with pytest.raises(DocumentTooLargeError, match="over the limit of 1000 bytes"):
        check_brief(Archive.open(sample), brief.read_bytes(), "b.txt", max_bytes=1000)


def test_the_brief_size_takes_the_global_units(sample: Path, tmp_path: Path) -> None:
    """cite-check --max-size accepts 64M as the global --max-size does (was: not an integer)."""
    brief = write(tmp_path, "b.txt", 'It says "the city refuses to assist federal '
                  'commandeering of local resources" plainly.\n' + "x" * 1100)
    assert run(sample, "cite-check", str(brief), "--max-size", "64M").exit_code == 0
    line = one_line_error(run(sample, "cite-check", str(brief), "--max-size", "1K"), 2)
    assert "over the limit of 1024 bytes" in line
    r = run(sample, "cite-check", str(brief), "--max-size", "12Q")
    assert r.exit_code == 2 and "invalid size '12Q'" in r.stderr


def test_the_number_of_quotations_is_capped(sample: Path, tmp_path: Path) -> None:
    brief = write(tmp_path, "b.txt", 'It says "the city refuses to assist federal '
                  'commandeering of local resources" plainly.\n' * 3)
    line = one_line_error(run(sample, "cite-check", str(brief), "--max-quotations", "2"), 2)
    assert "more than 2 quotations" in line
    assert run(sample, "cite-check", str(brief), "--max-quotations", "3").exit_code == 0
    with pytest.raises(TooManyQuotationsError):
        check_brief(Archive.open(sample), brief.read_bytes(), "b.txt", max_quotations=2)
