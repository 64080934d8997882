"""The verify page in a real browser: Debian's chromium, headless, driven by playwright-core
(tests/browser, pinned), the published sample site served by nginx on 127.0.0.1 with the
server block ``publish --nginx-conf`` writes. An official file (dropped and chosen), an
altered copy, an unknown file, a tampered tile, a tampered and a forged checkpoint and a
pinned key that is not the log's each get their verdict in words; a site that serves an
older signed release after the browser saw a newer one is refused as a rollback; a browser
without Ed25519 in WebCrypto and a page outside a secure context (both simulated in the page
before its scripts run) are told so; the index page's search filters its table and lists the
documents whose text holds the words (the published text index); a screenshot of each
verdict is taken (ORDERARCHIVE_SCREENSHOTS=DIR keeps them: docs/screenshots/ holds them)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from _nginx import serve
from _sitefixtures import sample_site
from conftest import REPO, REQUIRE_TOOLS_ENV, need_tool

BROWSER = REPO / "tests" / "browser"
CHROMIUM = Path("/usr/bin/chromium")


def _need_browser() -> tuple[str, str]:
    node = need_tool("node")
    found = shutil.which("chromium") or (str(CHROMIUM) if CHROMIUM.exists() else None)
    if found is None:
        need_tool("chromium")
    if not (BROWSER / "node_modules" / "playwright-core" / "package.json").is_file():
        reason = "playwright-core is not installed (cd tests/browser && npm ci); .ci/run does it"
        if os.environ.get(REQUIRE_TOOLS_ENV) == "1":
            pytest.fail(f"{reason} ({REQUIRE_TOOLS_ENV}=1: a missing tool is a failure)")
        pytest.skip(reason)
    assert found is not None
    return node, found


def _holding(terms: list[str]) -> list[str]:
    """The sample archive's documents whose signed text holds every term."""
    from orderarchive.archive import Archive
    from orderarchive.textindex import terms_of

    archive = Archive.open(REPO / "archive")
    out = []
    for entry in archive.iter_entries(0, archive.releases()[-1]):
        layer = archive.text_layer(entry)
        assert entry.document is not None
        if layer is not None and set(terms) <= set(terms_of([layer.text()])):
            out.append(entry.document.doc)
    return sorted(out)


def test_verify_page_in_chromium(tmp_path: Path) -> None:
    node, chromium = _need_browser()
    site, files, expect = sample_site(tmp_path / "sample")
    shots = tmp_path / "shots"
    shots.mkdir()
    with contextlib.ExitStack() as stack:
        base = stack.enter_context(serve(site, tmp_path / "ngx-site"))
        tampered_tile = stack.enter_context(
            serve(Path(expect["tampered-tile"]["dir"]), tmp_path / "ngx-tile"))
        tampered_cp = stack.enter_context(
            serve(Path(expect["tampered-checkpoint"]["dir"]), tmp_path / "ngx-cp"))
        forged_cp = stack.enter_context(
            serve(Path(expect["forged-checkpoint"]["dir"]), tmp_path / "ngx-forged"))
        # A site the browser visits at release 4, which later serves its older release 3.
        rolled = shutil.copytree(site, tmp_path / "rolled-back")
        rolled_back = stack.enter_context(serve(rolled, tmp_path / "ngx-rolled"))
        cases = [
            ("official", base, files["official"], True, None),
            ("official-article", base, files["official-article"], False, None),
            ("altered-copy", base, files["altered-copy"], False, None),
            ("unknown-file", base, files["unknown-file"], True, None),
            ("tampered-tile", tampered_tile, files["official"], False, None),
            ("tampered-checkpoint", tampered_cp, files["official"], False, None),
            ("forged-checkpoint", forged_cp, files["official"], False, None),
            ("pinned-other-key", base, files["official"], False,
             expect["pinned-other-key"]["keys"][0]),
        ]
        spec = [
            {"name": name, "url": f"{url}/verify.html", "file": str(file), "drop": drop,
             "pin": pin, "screenshot": str(shots / f"verify-{name}.png")}
            for name, url, file, drop, pin in cases
        ]
        spec += [
            {"name": "before-rollback", "url": f"{rolled_back}/verify.html",
             "file": str(files["official"]), "drop": False, "pin": None,
             "screenshot": str(shots / "verify-before-rollback.png")},
            {"name": "rollback", "url": f"{rolled_back}/verify.html",
             "file": str(files["official"]), "drop": False, "pin": None,
             "replace": {"from": str(rolled / "releases/3"), "to": str(rolled / "checkpoint")},
             "screenshot": str(shots / "verify-rollback.png")},
        ]
        spec += [
            {"name": name, "url": f"{base}/verify.html", "file": None, "init": name,
             "screenshot": str(shots / f"verify-{name}.png")}
            for name in ("no-ed25519", "insecure")
        ]
        spec.append({"name": "search", "kind": "search", "url": f"{base}/index.html",
                     "query": "wu executive", "screenshot": str(shots / "index-search.png")})
        spec.append({"name": "fulltext", "kind": "search", "url": f"{base}/index.html",
                     "query": "Commandeering resources",
                     "screenshot": str(shots / "index-fulltext.png")})
        run = subprocess.run(
            [node, str(BROWSER / "drive.js")],
            env={**os.environ, "OA_BROWSER_CASES": json.dumps(spec), "OA_CHROMIUM": chromium},
            capture_output=True, text=True, timeout=300, check=False, cwd=BROWSER,
        )
    assert run.returncode == 0, run.stderr[-4000:]
    results = {r["name"]: r for r in json.loads(run.stdout.strip().splitlines()[-1])}
    assert set(results) == {c["name"] for c in spec}
    # the index page's static search: the two articles on the order, nothing else
    found = results.pop("search")
    assert sorted(found["shown"]) == ["gbh-2026-02-05-wu-executive-order",
                                      "whdh-2026-02-05-wu-signs-executive-order"], found
    assert found["count"] == "2 of 4 documents"
    # ... and the documents whose text holds both words, from the published text index
    assert found["textCount"].startswith("In the text: "), found
    text = results.pop("fulltext")
    assert text["count"] == "0 of 4 documents" and text["shown"] == [], text  # titles/ids only
    assert text["textCount"] == "In the text: 2 documents hold every word", text
    assert sorted(text["textHits"]) == _holding(["commandeering", "resources"])
    # a browser without Ed25519, a page outside a secure context: said, and nothing checked
    r = results.pop("no-ed25519")
    assert r["verdict"].startswith("CANNOT CHECK HERE: This browser lacks Ed25519"), r
    assert "lacks Ed25519 in WebCrypto" in r["environment"]
    r = results.pop("insecure")
    assert r["verdict"].startswith("CANNOT CHECK HERE: This page is not in a secure context"), r
    for r in results.values():
        assert r["secure"] is True
        assert r["environment"] == ""
        # no script error; the only console errors are the 404s of an unknown hash's lookup
        assert all("404" in e for e in r["errors"]), r
    official = results["official"]
    assert official["verdict"].startswith(
        "OFFICIAL: SPECIMEN of An Executive Order"), official
    assert "covered by signed release 4" in official["verdict"]
    passed = " | ".join(c["text"] for c in official["checks"] if c["ok"])
    for words in ("SHA-256 of the file", "signed checkpoint verified", "signed release 4",
                  "entry signature verified", "inclusion proof from the tiles"):
        assert words in passed, passed
    assert all(c["ok"] for c in official["checks"])
    assert "Trusting the key published on this site" in official["trust"]
    assert "does not say whether the document is still in force" in official["next"]
    assert "Its page shows its status" in official["next"]
    assert results["official-article"]["verdict"].startswith("OFFICIAL: ")
    for name in ("altered-copy", "unknown-file"):
        r = results[name]
        assert r["verdict"].startswith("NOT OFFICIAL: this file is not in the signed log"), r
        assert "orderarchive check --archive" in r["next"]
    for name, words in (("tampered-tile", "inclusion proof"),
                        ("tampered-checkpoint", "does not verify"),
                        ("forged-checkpoint", "not signed by a trusted key"),
                        ("pinned-other-key", "not signed by a trusted key")):
        r = results[name]
        assert r["verdict"].startswith("NOT OFFICIAL: "), r
        assert words in r["verdict"], r
        assert any(not c["ok"] for c in r["checks"]), r
    assert "Trusting the key you pinned" in results["pinned-other-key"]["trust"]
    # The browser remembered release 4 of this site; the older release 3 served later is
    # refused as a rollback, although it is signed and holds the file.
    assert results["before-rollback"]["verdict"].startswith("OFFICIAL: "), results
    r = results["rollback"]
    assert r["verdict"].startswith("REFUSED: ROLLBACK: this site serves the signed log at "
                                   "tree size 3, older than tree size 4"), r
    assert "remembers the largest signed log it verified" in r["next"], r
    assert any(not c["ok"] for c in r["checks"]), r
    for name in [*results, "no-ed25519", "insecure"]:
        assert (shots / f"verify-{name}.png").stat().st_size > 1000
    assert (shots / "index-search.png").stat().st_size > 1000
    keep = os.environ.get("ORDERARCHIVE_SCREENSHOTS")
    if keep:
        for shot in shots.iterdir():
            shutil.copy(shot, Path(keep) / shot.name)


def test_verify_page_refuses_to_run_framed(tmp_path: Path) -> None:
    """Served without the nginx block's frame-ancestors header (a mirror on a plain server),
    verify.html inside another page's iframe refuses: no verdict, no key, no file input. The
    same page on its own, from the same server, still checks a file."""
    from _httpsite import serve as plain_serve

    node, chromium = _need_browser()
    site, files, _ = sample_site(tmp_path / "sample")
    (site / "framer.html").write_text(
        '<!doctype html><title>framer</title><iframe src="verify.html" width="900" '
        'height="600"></iframe>\n')
    with plain_serve(site) as served:
        spec = [
            {"name": "framed", "kind": "framed", "url": f"{served.url}/framer.html",
             "screenshot": str(tmp_path / "framed.png")},
            {"name": "alone", "url": f"{served.url}/verify.html",
             "file": str(files["official"]), "drop": False, "pin": None},
        ]
        run = subprocess.run(
            [node, str(BROWSER / "drive.js")],
            env={**os.environ, "OA_BROWSER_CASES": json.dumps(spec), "OA_CHROMIUM": chromium},
            capture_output=True, text=True, timeout=300, check=False, cwd=BROWSER,
        )
    assert run.returncode == 0, run.stderr[-4000:]
    results = {r["name"]: r for r in json.loads(run.stdout.strip().splitlines()[-1])}
    framed = results["framed"]
    assert framed["verdict"].startswith("REFUSED: this page is shown inside another page"), framed
    assert framed["trust"] == "No key is used in a frame: nothing is checked here."
    assert framed["fileDisabled"] is True
    assert all("404" in e for e in framed["errors"]), framed  # the framer's favicon
    assert results["alone"]["verdict"].startswith("OFFICIAL: "), results["alone"]


def test_a_missing_playwright_fails_under_require_tools(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # .ci/run sets ORDERARCHIVE_REQUIRE_TOOLS=1: without `npm ci`, the browser test fails
    # instead of skipping (and skips, saying why, elsewhere).
    monkeypatch.setattr(sys.modules[__name__], "BROWSER", tmp_path)
    monkeypatch.setattr(shutil, "which", lambda name, **_: f"/usr/bin/{name}")
    monkeypatch.setenv(REQUIRE_TOOLS_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match="playwright-core is not installed"):
        _need_browser()
    monkeypatch.delenv(REQUIRE_TOOLS_ENV)
    with pytest.raises(pytest.skip.Exception, match="npm ci"):
        _need_browser()
