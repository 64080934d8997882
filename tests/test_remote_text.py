"""check --archive URL compares a copy's text as the local check does (issue 18): the same
verdict, the same differences, from text layers fetched and checked against verified entries;
the site's text index is a hint whose downloads are bounded."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from _httpsite import serve
from orderarchive import remote
from orderarchive.archive import Archive
from orderarchive.cli import cli
from orderarchive.errors import CopyTooLargeError, MalformedError, VerificationError
from orderarchive.log.keys import load_verifiers
from orderarchive.remote import check_remote
from orderarchive.textindex import (
    MAX_SHARDS_READ,
    build_text_index,
    parse_meta,
    parse_shard,
    rank_similar,
    shard_of,
    terms_of,
    text_index_dir,
)

REPO = Path(__file__).resolve().parents[1]
SOURCES = REPO / "docs" / "sample" / "sources"
ORDER = SOURCES / "boston-eo-2026-02-05-SPECIMEN.pdf"
ARTICLE = SOURCES / "gbh-2026-02-05-wu-executive-order.txt"
VKEY = REPO / "keys" / "sample.orderarchive.example_boston-executive-orders.vkey"


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, ["--keys", str(REPO / "keys"), *map(str, args)])


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("remote-text")
    shutil.copytree(REPO / "archive", tmp / "archive",
                    ignore=shutil.ignore_patterns("index.sqlite*", "lock", "index.lock"))
    r = run("--archive", tmp / "archive", "publish", tmp / "site", "--key-file", VKEY)
    assert r.exit_code == 0, r.output
    return tmp / "archive", tmp / "site"


def _files(tmp: Path) -> dict[str, Path]:
    article = ARTICLE.read_text(encoding="utf-8")
    files = {"official": ORDER, "official-article": ARTICLE}
    cases = {
        # Re-wrapped at 60 columns: the same words and marks, other line breaks.
        "reformatted.txt": "\n\n".join(textwrap.fill(p, 60) for p in article.split("\n\n")),
        # One word changed and one added: a modified copy with its differences listed.
        "altered.txt": article.replace("executive order", "executive decree", 1)
                              .replace("Boston", "Boston, Massachusetts,", 1),
        "unknown.txt": "A memo about parking permits that was never archived.\n",
    }
    for name, text in cases.items():
        (tmp / name).write_text(text, encoding="utf-8")
        files[name] = tmp / name
    altered_pdf = tmp / "altered-order.pdf"
    altered_pdf.write_bytes(ORDER.read_bytes().replace(b"Boston", b"Bostin", 1))
    files["altered-order.pdf"] = altered_pdf
    (tmp / "garbage.pdf").write_bytes(b"%PDF-1.7 not really a PDF")
    files["garbage.pdf"] = tmp / "garbage.pdf"
    return files


_SAME = ("status", "official", "sha256", "size", "text", "text_reason", "doc", "title",
         "seq", "kind", "issuer", "issued")


def _facts(result: dict[str, Any]) -> dict[str, Any]:
    return {k: result.get(k) for k in _SAME}


def test_check_over_http_gives_the_local_verdict(published: tuple[Path, Path],
                                                 tmp_path: Path) -> None:
    archive, site = published
    files = _files(tmp_path)
    with serve(site) as served:
        for name, path in files.items():
            local = run("--archive", archive, "--json", "check", path)
            remote = run("--archive", served.url, "--json", "check", path)
            assert local.exit_code == remote.exit_code, (name, local.output, remote.output)
            mine = json.loads(local.stdout)["files"][0]
            theirs = json.loads(remote.stdout)["files"][0]
            assert _facts(mine) == _facts(theirs), name
            local = run("--archive", archive, "check", path)
            remote = run("--archive", served.url, "check", path)
            if not mine["official"]:  # the text verdict is printed in the same words
                assert remote.stdout.startswith(local.stdout), (name, remote.output)
    statuses = {name: json.loads(run("--archive", archive, "--json", "check", p).stdout)
                ["files"][0]["status"] for name, p in files.items()}
    # The cases cover every verdict of the text comparison.
    assert statuses["reformatted.txt"] == "same-text"
    assert statuses["altered.txt"] == "modified-copy"
    assert statuses["unknown.txt"] == "not-official"
    assert statuses["official"] == "official"


def test_candidates_are_verified_not_believed(published: tuple[Path, Path],
                                              tmp_path: Path) -> None:
    """A text layer the site swapped, or an index pointing past the log, is refused."""
    archive_dir, site_dir = published
    site = tmp_path / "site"
    shutil.copytree(site_dir, site)
    archive = Archive.open(archive_dir)
    keys = load_verifiers([REPO / "keys"])
    d = archive.entry(1).document
    assert d is not None and d.text is not None
    copy = ARTICLE.read_text(encoding="utf-8").replace("executive order", "executive decree", 1)
    layer = site / "objects/sha256" / d.text.sha256[:2] / d.text.sha256[2:]
    good = layer.read_bytes()
    with serve(site) as served:
        before = check_remote(served.url, copy.encode(), keys, state=tmp_path / "st",
                              filename="copy.txt")
        assert before.status == "modified-copy" and before.text is not None
        layer.write_bytes(good.replace(b"decree", b"order!").replace(b"the", b"teh", 1))
        with pytest.raises(VerificationError, match="is not that document"):
            check_remote(served.url, copy.encode(), keys, state=tmp_path / "st",
                         filename="copy.txt")
        layer.write_bytes(good)
        cp_size = archive.releases()[-1]
        shard_dir = site / text_index_dir(cp_size)
        shards = parse_meta((shard_dir / "index").read_bytes()).shards
        for term in terms_of([copy]):
            n = shard_of(term, shards)
            (shard_dir / str(n)).write_text(f"{term} 1 {cp_size + 5}\n")
            break
        with pytest.raises(MalformedError, match="not in the tree"):
            check_remote(served.url, copy.encode(), keys, state=tmp_path / "st",
                         filename="copy.txt")


def test_a_hostile_index_cannot_cause_an_unbounded_fetch(published: tuple[Path, Path],
                                                         tmp_path: Path) -> None:
    """An index naming every document for every term reads at most MAX_SHARDS_READ shards
    and MAX_TEXT_CANDIDATES text layers."""
    archive_dir, site_dir = published
    site = tmp_path / "site"
    shutil.copytree(site_dir, site)
    keys = load_verifiers([REPO / "keys"])
    size = Archive.open(archive_dir).releases()[-1]
    base = site / text_index_dir(size)
    shards = 64
    (base / "index").write_bytes(f"orderarchive-text-index/v1\n{size}\n{shards}\n".encode())
    copy = ARTICLE.read_text(encoding="utf-8").replace("executive order", "executive decree")
    every = " ".join(str(s) for s in range(size))
    lines: dict[int, list[str]] = {}
    for term in sorted(terms_of([copy])):
        lines.setdefault(shard_of(term, shards), []).append(f"{term} {size} {every}\n")
    for n in range(shards):
        (base / str(n)).write_text("".join(lines.get(n, [])))
    with serve(site) as served:
        result = check_remote(served.url, copy.encode(), keys, state=tmp_path / "st",
                              filename="copy.txt")
        shard_reads = [p for p in served.paths if p.startswith(f"/{text_index_dir(size)}/")
                       and not p.endswith("/index")]
        objects = [p for p in served.paths if p.startswith("/objects/")]
    assert result.status == "modified-copy"  # still decided from the verified layers
    assert len(shard_reads) <= MAX_SHARDS_READ
    assert len(objects) <= min(size, remote.MAX_TEXT_CANDIDATES)


def test_the_text_layer_budget_stops_without_a_verdict(published: tuple[Path, Path],
                                                       tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    _archive_dir, site = published
    keys = load_verifiers([REPO / "keys"])
    monkeypatch.setattr(remote, "MAX_TEXT_BYTES", 100)
    copy = ARTICLE.read_text(encoding="utf-8").replace("executive order", "executive decree")
    with serve(site) as served, pytest.raises(CopyTooLargeError, match="cannot decide"):
        check_remote(served.url, copy.encode(), keys, state=tmp_path / "st",
                     filename="copy.txt")


def test_the_index_format() -> None:
    files = build_text_index(7, [(0, "Café órder NUMBER one"), (3, "an order, number two")])
    meta = parse_meta(files["lookup/text/7/index"])
    assert meta.documents == 2 and meta.shards == 1
    shard = parse_shard(files["lookup/text/7/0"], 7)
    assert shard["cafe"] == (1, (0,)) and shard["order"] == (2, (0, 3))
    assert rank_similar(terms_of(["cafe order"]), shard, 2, 5) == [0, 3]
    for bad in (b"x 1 9\n", b"x 2 1\n", b"x\n", b"x 1 1", b"\xff 1\n"):
        with pytest.raises(MalformedError):
            parse_shard(bad, 7)
    for bad in (b"", b"orderarchive-text-index/v1\n1\n3\n", b"other\n1\n1\n"):
        with pytest.raises(MalformedError):
            parse_meta(bad)


def test_a_site_published_before_the_text_index_gets_it(published: tuple[Path, Path],
                                                        tmp_path: Path) -> None:
    """Publishing again over a site without the text index or text lookups (an older
    publication) writes both, for every entry, and checks by text then work."""
    archive_dir, site_dir = published
    site = tmp_path / "site"
    shutil.copytree(site_dir, site)
    shutil.rmtree(site / "lookup/text")
    shutil.rmtree(site / "lookup/text-sha256")
    from orderarchive.publish import publish

    keys = load_verifiers([REPO / "keys"])
    publish(Archive.open(archive_dir), site, keys)
    for name in ("lookup/text", "lookup/text-sha256"):
        got = sorted(p.relative_to(site).as_posix() for p in (site / name).rglob("*"))
        assert got == sorted(p.relative_to(site_dir).as_posix()
                             for p in (site_dir / name).rglob("*")), name
