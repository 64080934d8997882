"""A mirror never serves a hostile site's active content (issue 18): the document and index
pages it copies pass site.passive_page (only what site.py's own pages hold, re-serialised) or
are refused -- not written, named, exit 1 -- and the search index matches its schema."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from _httpsite import serve
from orderarchive.archive import Archive
from orderarchive.cli import cli
from orderarchive.errors import MalformedError
from orderarchive.log.keys import load_verifiers
from orderarchive.publish import publish
from orderarchive.site import parse_search_index, passive_page, publish_pages

REPO = Path(__file__).resolve().parents[1]

#: Each kind of active content, as a hostile site would put it into a page's body.
HOSTILE = {
    "inline-script": "<script>localStorage.clear()</script>",
    "script-src-elsewhere": '<script src="https://evil.example/x.js"></script>',
    "own-script-with-body": '<script src="search.js">parent.verdict="OFFICIAL"</script>',
    "event-handler": '<p onclick="alert(1)">x</p>',
    "event-handler-upper": '<P ONMOUSEOVER="alert(1)">x</P>',
    "img-onerror": '<img src="x" onerror="alert(1)">',
    "javascript-url": '<a href="javascript:alert(1)">x</a>',
    "javascript-url-entities": '<a href="jav&#x09;ascript:alert(1)">x</a>',
    "javascript-url-spaced": '<a href=" javascript:alert(1)">x</a>',
    "vbscript-url": '<a href="vbscript:msgbox(1)">x</a>',
    "data-url": '<a href="data:text/html,&lt;script&gt;alert(1)&lt;/script&gt;">x</a>',
    "iframe": '<iframe src="verify.html"></iframe>',
    "object": '<object data="x.swf"></object>',
    "embed": '<embed src="x.swf">',
    "base": '<base href="https://evil.example/">',
    "meta-refresh": '<meta http-equiv="refresh" content="0;url=https://evil.example/">',
    "meta-csp-loosened": "<meta http-equiv=\"Content-Security-Policy\" content=\"script-src *\">",
    "link-script": '<link rel="preload" as="script" href="https://evil.example/x.js">',
    "link-stylesheet-elsewhere": '<link rel="stylesheet" href="https://evil.example/x.css">',
    "form": '<form action="https://evil.example/" method="post"><input type="submit"></form>',
    "style-element": "<style>body{background:url(https://evil.example/)}</style>",
    "style-attribute": '<p style="background:url(https://evil.example/)">x</p>',
    "svg-script": "<svg><script>alert(1)</script></svg>",
    "noscript": "<noscript><p title=\"</noscript><img src=x onerror=alert(1)>\"></p></noscript>",
    "comment": "<!--[if IE]><script>alert(1)</script><![endif]-->",
    "cdata": "<![CDATA[<script>alert(1)</script>]]>",
    "self-closing-trick": '<a href="x"/onclick="alert(1)">x</a>',
    "unfinished-tag": '<a href="x" onclick="alert(1)"',
    "protocol-relative": '<a href="//evil.example/">x</a>',
}

#: What no page written by the mirror may hold (case-insensitive).
FORBIDDEN = re.compile(
    r"<(iframe|object|embed|base|form|style|svg|img|noscript)\b|\son[a-z]+\s*=|javascript:|"
    r"vbscript:|evil\.example|http-equiv=\"refresh|"
    r"<script(?! src=\"(search|verify)\.js\"></script>)",
    re.IGNORECASE,
)


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("pub")
    shutil.copytree(REPO / "archive", tmp / "archive",
                    ignore=shutil.ignore_patterns("index.sqlite*", "lock", "index.lock"))
    site = tmp / "site"
    publish(Archive.open(tmp / "archive"), site, load_verifiers([REPO / "keys"]),
            pages=publish_pages)
    return site


def _pages(site: Path) -> list[Path]:
    return sorted([site / "index.html", *(site / "doc").glob("*.html")])


def _run(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, ["--keys", str(REPO / "keys"), *map(str, args)])


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_each_kind_of_active_content_is_refused(published: Path, kind: str) -> None:
    for page in _pages(published):
        honest = page.read_bytes()
        assert passive_page(honest) == (honest, None)
        hostile = honest.replace(b"<main>\n", b"<main>\n" + HOSTILE[kind].encode(), 1)
        assert hostile != honest
        page_out, why = passive_page(hostile)
        assert page_out is None and why, (kind, page.name)


def test_a_hostile_sites_pages_are_not_mirrored(published: Path, tmp_path: Path) -> None:
    hostile = shutil.copytree(published, tmp_path / "hostile")
    pages = _pages(hostile)
    kinds = sorted(HOSTILE)
    # Every kind goes into some page; the last page stays honest.
    for n, kind in enumerate(kinds):
        page = pages[n % (len(pages) - 1)]
        page.write_bytes(page.read_bytes().replace(b"</main>", HOSTILE[kind].encode()
                                                   + b"</main>", 1))
    honest = pages[-1]
    with serve(hostile) as served:
        r = _run("mirror", served.url, tmp_path / "m")
    assert r.exit_code == 1, r.output
    assert f"REFUSED {len(pages) - 1} pages" in r.stderr
    copy = tmp_path / "m"
    # The log itself was verified and mirrored: the checkpoint is written.
    assert (copy / "checkpoint").read_bytes() == (published / "checkpoint").read_bytes()
    for page in pages[:-1]:
        name = page.relative_to(hostile).as_posix()
        assert name in r.stderr
        assert not (copy / name).exists(), name
    name = honest.relative_to(hostile).as_posix()
    assert (copy / name).read_bytes() == (published / name).read_bytes()
    written = list(copy.rglob("*.html"))
    assert len(written) == 2  # the honest page and the mirror's own verify.html
    for p in written:
        assert not FORBIDDEN.search(p.read_text()), p
    # --json says the same and also exits 1
    with serve(hostile) as served:
        r = _run("--json", "mirror", served.url, tmp_path / "m-json")
    assert r.exit_code == 1
    report = json.loads(r.stdout)
    assert report["ok"] is False and len(report["pages_refused"]) == len(pages) - 1
    schemas = REPO / "docs" / "schemas"
    registry = Registry().with_resources(
        (s["$id"], Resource.from_contents(s))
        for s in (json.loads(p.read_text("utf-8")) for p in schemas.glob("*.schema.json")))
    Draft202012Validator(json.loads((schemas / "mirror.schema.json").read_text("utf-8")),
                         registry=registry).validate(report)


def test_an_honest_site_is_mirrored_page_for_page(published: Path, tmp_path: Path) -> None:
    with serve(published) as served:
        r = _run("mirror", served.url, tmp_path / "m")
    assert r.exit_code == 0 and "REFUSED" not in r.output, r.output
    for page in _pages(published):
        name = page.relative_to(published).as_posix()
        assert (tmp_path / "m" / name).read_bytes() == page.read_bytes()


@pytest.mark.parametrize(("change", "why"), [
    (lambda i: i["documents"][0].update(page="javascript:alert(1)"), "names the page"),
    (lambda i: i["documents"][0].update(title={"html": "<b>"}), "not the site's"),
    (lambda i: i["documents"][0].update(onclick="x"), "not the site's"),
    (lambda i: i.update(extra=1), "not an orderarchive"),
    (lambda i: i.update(text_index="javascript:x"), "not an orderarchive"),
    (lambda i: i["documents"][0].update(seq=True), "not the site's"),
])
def test_a_search_index_off_its_schema_is_refused(published: Path, change: object,
                                                  why: str, tmp_path: Path) -> None:
    raw = (published / "search-index.json").read_bytes()
    assert parse_search_index(raw)["documents"]
    index = json.loads(raw)
    change(index)  # type: ignore[operator]
    with pytest.raises(MalformedError, match=why):
        parse_search_index(json.dumps(index).encode())
    hostile = shutil.copytree(published, tmp_path / "hostile")
    (hostile / "search-index.json").write_text(json.dumps(index))
    with serve(hostile) as served:
        r = _run("mirror", served.url, tmp_path / "m")
    assert r.exit_code == 2 and "not a search index" in r.stderr, r.output
    assert not (tmp_path / "m" / "checkpoint").exists()


def test_the_nginx_block_keeps_the_pages_policy() -> None:
    # A guard (it held before issue 18): a mirror served with this block gets the policy.
    from orderarchive.site import nginx_conf

    pages = nginx_conf(Path("/srv/mirror")).split("location / {", 1)[1]
    policy = re.search(r'Content-Security-Policy "([^"]*)" always', pages)
    assert policy is not None
    for rule in ("script-src 'self'", "object-src 'none'", "base-uri 'none'",
                 "form-action 'none'", "frame-ancestors 'none'", "default-src 'self'"):
        assert rule in policy.group(1)
    assert "unsafe-inline" not in policy.group(1)


def test_the_site_scripts_never_write_html() -> None:
    # A guard: the search index and the checked files' data are set as text, never parsed as
    # HTML, and a search hit links only to a doc/<id>.html page.
    assets = REPO / "src" / "orderarchive" / "site_assets"
    for name in ("search.js", "verify.js"):
        source = (assets / name).read_text("utf-8")
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(",
                     "new Function"):
            assert sink not in source, (name, sink)
    search = (assets / "search.js").read_text("utf-8")
    assert "      a.href = d.page;" not in search  # unguarded, as before
    assert re.search(r"\.test\(d\.page\)\) a\.href = d\.page;", search)
