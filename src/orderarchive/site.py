"""The human part of a published archive: a page per document, an index page with a static
search index, the verify page (plain JavaScript with WebCrypto) and the trust file it reads.

Everything a page says is taken from entries verified here -- each re-read from the log, its
signature checked against the publisher's trusted keys and its inclusion in the signed
checkpoint proved (``status.document_status``, ``status.listed_with_status``) -- never from the
derived index alone. Every piece of archive text is HTML-escaped, with control and bidi
characters made visible first (``_display.terminal_safe``): a signed title is the clerk's, but a
title like ``</title><script>`` must stay text. Archived HTML documents are never inlined; they
are downloads (and the nginx configuration serves objects as attachments, docs/THREATS.md).

:func:`build_site` computes the files (no writing); :func:`write_site` is the one edge that
writes them, each atomically and only when its bytes changed. docs/FORMAT.md §26 describes
every file.
"""

from __future__ import annotations

import html
import json
import os
import re
import tempfile
from collections.abc import Iterable, Sequence
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from ._display import terminal_safe
from .archive import Archive
from .citations.cite import Citation
from .errors import MalformedError, NotFoundError, OrderArchiveError, StorageError
from .log.layout import RELEASE_EXT, extension_size, object_name
from .log.note import VerifierKey
from .status import DocumentStatus, RelatedDocument, document_status, standing
from .textindex import text_index_dir

if TYPE_CHECKING:
    from .publish import PublishContext

SEARCH_FORMAT = "orderarchive-site-search/v1"
TRUST_FORMAT = "orderarchive-site-trust/v1"

#: The site's own static files, shipped in the package (``site_assets/``): served as-is.
ASSETS = ("verify.js", "search.js", "style.css")

#: Page and index names; ``doc/<doc id>.html`` per document (a doc id is
#: ``[a-z0-9][a-z0-9._-]{0,127}``: never ``..``, never a slash).
INDEX_PAGE = "index.html"
VERIFY_PAGE = "verify.html"
SEARCH_INDEX = "search-index.json"
TRUST_FILE = "trust.json"

_STATUS_WORDS = {
    "in-force": "In force",
    "amended": "Amended",
    "superseded": "Superseded (no longer in force)",
    "rescinded": "Rescinded (no longer in force)",
    "corrected": "Corrected",
}
_RELATION_WORDS = {
    "amends": "amended by",
    "supersedes": "superseded by",
    "rescinds": "rescinded by",
    "corrects": "corrected by",
    "reports-on": "reported on by",
}
_OWN_RELATION_WORDS = {
    "amends": "amends",
    "supersedes": "supersedes",
    "rescinds": "rescinds",
    "corrects": "corrects",
    "reports-on": "reports on",
}
_EXTENSIONS = {
    "application/pdf": ".pdf",
    "text/html": ".html",
    "text/plain": ".txt",
    "text/markdown": ".md",
}
# The page's own policy: scripts and styles from the site only, nothing inline, no plugins,
# no framing. A hostile title that slipped past escaping still could not run.
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'none'"
)
#: What the nginx block adds to the pages' policy (frame-ancestors works only as a header).
_CSP_HEADER = _CSP + "; frame-ancestors 'none'"


@attrs.frozen
class SiteFile:
    """One file of the site: its path under the output directory (``/``-separated) and bytes."""

    name: str
    data: bytes


@attrs.frozen
class Site:
    origin: str
    size: int  # the verified checkpoint's tree size the pages describe
    release: int  # the latest signed release's size (0: none)
    documents: int
    files: tuple[SiteFile, ...]


def _t(text: str) -> str:
    """Archive text as HTML text: control and bidi characters visible, then escaped."""
    return html.escape(terminal_safe(text), quote=True)


def _href(url: str | None) -> str | None:
    """A link target only for plain http(s) URLs (never ``javascript:`` or ``data:``)."""
    if url is None:
        return None
    lowered = url.lower()
    if not (lowered.startswith("https://") or lowered.startswith("http://")):
        return None
    return _t(url)


def _page(title: str, body: str, *, depth: int = 0) -> bytes:
    up = "../" * depth
    return (
        "<!doctype html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<link rel="icon" href="data:,">\n'
        f'<link rel="stylesheet" href="{up}style.css">\n'
        f"<title>{title}</title>\n</head>\n<body>\n"
        f'<nav><a href="{up}index.html">Documents</a> · '
        f'<a href="{up}verify.html">Check a file</a> · '
        f'<a href="{up}trust.json">Keys</a></nav>\n'
        f"<main>\n{body}</main>\n</body>\n</html>\n"
    ).encode()


def _doc_page_name(doc: str) -> str:
    return f"doc/{doc}.html"


def _related(items: Iterable[RelatedDocument], words: dict[str, str]) -> str:
    rows = []
    for r in items:
        when = r.issued or r.recorded[:10]
        rows.append(
            f"<li>{_t(words.get(r.relation, r.relation))} "
            f'<a href="{_t(r.doc)}.html">{_t(r.doc)}</a>: {_t(r.title)} ({_t(when)})</li>'
        )
    return "<ul>" + "".join(rows) + "</ul>" if rows else "<p>None.</p>"


def _status_line(st: DocumentStatus) -> str:
    words = _STATUS_WORDS.get(st.status, st.status)
    acts = [f"{_RELATION_WORDS.get(r.relation, r.relation)} {_t(r.doc)}" for r in st.changed_by]
    return _t(words) + (f" ({', '.join(acts)})" if acts else "")


def document_page(origin: str, st: DocumentStatus) -> bytes:
    """The page of one verified document (its standing re-read from verified entries)."""
    entry = st.entry
    d = entry.document
    assert d is not None
    citation = Citation(origin, st)
    release = (
        f"covered by signed release {st.release_size} (entries 0 to {st.release_size - 1})"
        if st.released and st.release_size is not None
        else "recorded in the log, NOT yet covered by a signed release"
    )
    source = _href(d.source_url)
    source_row = ""
    if d.source_url is not None:
        link = f'<a href="{source}" rel="noreferrer noopener">{_t(d.source_url)}</a>'
        source_row = f"<dt>Published at</dt><dd>{link if source else _t(d.source_url)}</dd>\n"
    ext = _EXTENSIONS.get(d.media_type, "")
    downloads = [
        f'<li><a href="../{object_name(d.sha256)}" download="{_t(d.doc + ext)}">'
        f"The official file</a> ({_t(d.media_type)}, {d.size} bytes)</li>"
    ]
    if d.text is not None:
        downloads.append(
            f'<li><a href="../{object_name(d.text.sha256)}" download="{_t(d.doc)}.text.txt">'
            f"Its signed text layer</a> (UTF-8, {d.text.size} bytes, {_t(d.text.extractor)})</li>"
        )
    warnings = "".join(f"<li>{_t(w)}</li>" for w in citation.warnings)
    body = (
        f"<h1>{_t(d.title)}</h1>\n"
        f'<p class="status status-{_t(st.status)}">Status: {_status_line(st)}</p>\n'
        + (f'<ul class="warnings">{warnings}</ul>\n' if warnings else "")
        + "<dl>\n"
        f"<dt>Document</dt><dd><code>{_t(d.doc)}</code> ({_t(d.kind)})</dd>\n"
        f"<dt>Issuer</dt><dd>{_t(d.issuer) or '-'}</dd>\n"
        f"<dt>Issued</dt><dd>{_t(d.issued or '-')}</dd>\n"
        f"<dt>Recorded</dt><dd>{_t(entry.recorded)} as entry {entry.seq} of "
        f"<code>{_t(origin)}</code></dd>\n"
        f"<dt>Release</dt><dd>{_t(release)}</dd>\n"
        f"<dt>Signed by</dt><dd><code>{_t(entry.signer_name)}+{_t(entry.signer_id)}</code></dd>\n"
        + source_row
        + "</dl>\n"
        "<h2>Acts on this document</h2>\n" + _related(st.changed_by, _RELATION_WORDS) + "\n"
        "<h2>This document acts on</h2>\n" + _related(st.relates_to, _OWN_RELATION_WORDS) + "\n"
        "<h2>Articles reporting on it</h2>\n" + _related(st.reported_by, _RELATION_WORDS) + "\n"
        "<h2>Cite it</h2>\n"
        f'<p class="citation"><code>{_t(citation.text)}</code></p>\n'
        "<h2>Downloads</h2>\n<ul>" + "".join(downloads) + "</ul>\n"
        "<h2>Hashes</h2>\n<dl>\n"
        f"<dt>File SHA-256</dt><dd><code>{_t(d.sha256)}</code></dd>\n"
        + (
            f"<dt>Text layer SHA-256</dt><dd><code>{_t(d.text.sha256)}</code></dd>\n"
            if d.text is not None
            else ""
        )
        + "</dl>\n"
        '<p>Received a copy of this file? <a href="../verify.html">Check it</a> in your '
        "browser, or with <code>orderarchive check FILE</code>.</p>\n"
    )
    return _page(_t(d.title), body, depth=1)


def index_page(origin: str, rows: Sequence[dict[str, Any]], size: int, release: int) -> bytes:
    """The list of documents (works without JavaScript; search.js filters it)."""
    items = []
    for r in rows:
        items.append(
            f'<tr data-seq="{r["seq"]}"><td><a href="{_t(r["page"])}">{_t(r["title"])}</a>'
            f'<br><code>{_t(r["doc"])}</code></td><td>{_t(r["kind"])}</td>'
            f'<td>{_t(r["issuer"])}</td><td>{_t(r["issued"] or "-")}</td>'
            f'<td>{_t(_STATUS_WORDS.get(r["status"], r["status"]))}'
            f'{"" if r["released"] else " (not yet released)"}</td></tr>'
        )
    release_words = f"signed release {release}" if release else "no signed release yet"
    body = (
        f"<h1>Documents of <code>{_t(origin)}</code></h1>\n"
        f"<p>{len(rows)} documents in the signed log (size {size}; {_t(release_words)}). "
        '<a href="verify.html">Check a file you received</a>.</p>\n'
        '<p><label for="q">Search titles, issuers, ids and dates</label> '
        '<input id="q" type="search" autocomplete="off"> <span id="count"></span></p>\n'
        '<div id="text-search"><p id="text-count"></p><ul id="text-hits"></ul></div>\n'
        '<table id="documents"><thead><tr><th>Document</th><th>Kind</th><th>Issuer</th>'
        "<th>Issued</th><th>Status</th></tr></thead>\n<tbody>\n"
        + "\n".join(items)
        + "\n</tbody></table>\n"
        '<script src="search.js"></script>\n'
    )
    return _page(f"Documents of {_t(origin)}", body)


def verify_page(origin: str) -> bytes:
    """The verify page: verify.js does the checks; the page holds only the form and words."""
    body = (
        f"<h1>Is this file official?</h1>\n"
        f"<p>Choose or drop a file you received. Your browser computes its SHA-256 and checks it "
        f"against the signed log of <code>{_t(origin)}</code>: the signed entry, the inclusion "
        "proof from the log's tiles and the signed checkpoint. The file never leaves your "
        "computer.</p>\n"
        '<div id="environment" class="notice"></div>\n'
        '<div id="drop" class="drop"><label for="file">Choose a file</label> '
        '<input id="file" type="file"> or drop it here.</div>\n'
        '<div id="verdict" class="verdict" aria-live="polite">waiting</div>\n'
        '<ul id="checks"></ul>\n'
        '<p id="next"></p>\n'
        '<h2>Which key is trusted</h2>\n<p id="trust">Loading the published key…</p>\n'
        '<p><label for="pin">Pin a key (verifier string <code>name+id+key</code>) you got '
        "from the clerk another way:</label><br>"
        '<input id="pin" type="text" size="90" spellcheck="false" autocomplete="off"> '
        '<button id="pin-save" type="button">Pin</button> '
        '<button id="pin-clear" type="button">Forget</button></p>\n'
        '<script src="verify.js"></script>\n'
    )
    return _page("Check a file", body)


def trust_file(origin: str, verifiers: Sequence[VerifierKey]) -> bytes:
    """The keys the verify page trusts by default: the publisher's keys named for the origin."""
    keys = sorted({v.to_string() for v in verifiers if v.name == origin})
    if not keys:
        raise NotFoundError(
            f"no trusted key is named for the origin {origin!r}",
            hint="the site needs the verifier key of the log it publishes",
        )
    return _json({"format": TRUST_FORMAT, "origin": origin, "verifiers": keys})


def _json(obj: Any) -> bytes:
    # Sorted keys, no spaces, ASCII only: the file is data for the page, never parsed as HTML.
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return text.encode() + b"\n"


def _asset(name: str) -> bytes:
    return resources.files("orderarchive").joinpath("site_assets", name).read_bytes()


def _published(st: DocumentStatus, size: int) -> DocumentStatus:
    """*st* as the tree of *size* shows it: acts and articles recorded later are not
    published with it (the site describes the published release, never more)."""
    changed = tuple(r for r in st.changed_by if r.seq < size)
    return attrs.evolve(
        st,
        changed_by=changed,
        reported_by=tuple(r for r in st.reported_by if r.seq < size),
        status=standing([r.relation for r in changed]),
    )


@attrs.frozen
class PreviousSite:
    """What the previous publication's search index says (its ``size`` and document rows):
    :func:`build_site` reuses a row, and leaves a page as it is, for every document that
    neither is new since that size nor is acted or reported on by an entry since."""

    size: int
    rows: tuple[dict[str, Any], ...] = attrs.field(repr=False)


class _Stale(Exception):
    """Internal: the previous search index does not agree with the verified index."""


_ROW_FROM_INDEX = ("doc", "title", "kind", "issuer", "issued", "sha256", "media_type")


def _reused_row(old: dict[str, Any] | None, row: Any, status: str) -> dict[str, Any]:
    """The previous row of the indexed document *row*, checked against the verified index
    (every field it holds, the status its relations give); :class:`_Stale` if it differs."""
    if old is None or old.get("seq") != row.seq or old.get("released") is not True:
        raise _Stale
    if any(old.get(k) != getattr(row, k) for k in _ROW_FROM_INDEX):
        raise _Stale
    if old.get("status") != status or old.get("page") != _doc_page_name(row.doc):
        raise _Stale
    size = old.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise _Stale
    return {k: old[k] for k in (
        "seq", "doc", "title", "kind", "issuer", "issued", "status", "released", "sha256",
        "size", "media_type", "page",
    )}


def build_site(
    archive: Archive,
    verifiers: Sequence[VerifierKey],
    *,
    size: int | None = None,
    previous: PreviousSite | None = None,
) -> Site:
    """Every file of the human part of the site for the first *size* entries (default: the
    whole signed log), from entries verified against *verifiers*.

    With *previous* (the publication this one extends), only the pages of documents new
    since ``previous.size`` and of the documents their entries act or report on are
    rendered; the other documents' pages are left out of the files (unchanged on disk) and
    their search-index rows are the previous ones, each checked against the verified index.
    If any row disagrees, every page is rendered, as without *previous*."""
    if previous is not None:
        try:
            return _build_site(archive, verifiers, size, previous)
        except _Stale:
            pass
    return _build_site(archive, verifiers, size, None)


def _build_site(
    archive: Archive,
    verifiers: Sequence[VerifierKey],
    size: int | None,
    previous: PreviousSite | None,
) -> Site:
    rows: list[dict[str, Any]] = []
    files: list[SiteFile] = []
    with archive.index(verifiers) as idx:
        cp = idx.checkpoint
        if cp is None:
            raise NotFoundError("the archive has no checkpoint: there is nothing to publish")
        if size is None:
            size = cp.size
        if not 0 <= size <= cp.size:
            raise NotFoundError(f"the signed log has {cp.size} entries, not {size}")
        release = min(extension_size(cp, RELEASE_EXT) or 0, size)
        documents = [row for row in idx.documents() if row.seq < size]
        render: set[str] | None = None
        old_rows: dict[int, dict[str, Any]] = {}
        if previous is not None:
            if not 0 < previous.size <= size:
                raise _Stale
            old_rows = {r["seq"]: r for r in previous.rows if isinstance(r.get("seq"), int)}
            render = set()
            for row in documents:
                if row.seq >= previous.size:
                    render.add(row.doc)
                    render.update(r.target_doc for r in idx.relations_from(row.doc))
        for row in documents:
            if render is not None and row.doc not in render:
                acts = [r.type for r in idx.relations_to(row.doc) if r.seq < size]
                rows.append(_reused_row(old_rows.get(row.seq), row, standing(acts)))
                continue
            st = _published(document_status(archive, row.doc, verifiers, index=idx), size)
            fields = st.entry.document
            assert fields is not None
            files.append(SiteFile(_doc_page_name(fields.doc), document_page(archive.origin, st)))
            rows.append({
                "seq": st.entry.seq,
                "doc": fields.doc,
                "title": fields.title,
                "kind": fields.kind,
                "issuer": fields.issuer,
                "issued": fields.issued,
                "status": st.status,
                "released": st.released,
                "sha256": fields.sha256,
                "size": fields.size,
                "media_type": fields.media_type,
                "page": _doc_page_name(fields.doc),
            })
    files.append(SiteFile(INDEX_PAGE, index_page(archive.origin, rows, size, release)))
    files.append(SiteFile(VERIFY_PAGE, verify_page(archive.origin)))
    files.append(SiteFile(SEARCH_INDEX, _json({
        "format": SEARCH_FORMAT,
        "origin": archive.origin,
        "size": size,
        "release": release,
        "documents": rows,
        # The documents' words (.textindex, written by publish beside the lookups): search.js
        # reads the few shards a query's words fall in.
        "text_index": text_index_dir(size),
    })))
    files.append(SiteFile(TRUST_FILE, trust_file(archive.origin, verifiers)))
    files.extend(SiteFile(name, _asset(name)) for name in ASSETS)
    return Site(archive.origin, size, release, len(rows), tuple(files))


_ROW_TYPES: dict[str, tuple[type, ...]] = {
    "seq": (int,), "doc": (str,), "title": (str,), "kind": (str,), "issuer": (str,),
    "issued": (str, type(None)), "status": (str,), "released": (bool,), "sha256": (str,),
    "size": (int,), "media_type": (str,), "page": (str,),
}


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def parse_search_index(raw: bytes) -> dict[str, Any]:
    """A site's ``search-index.json`` checked against the schema :func:`build_site` writes
    (exactly its keys, strings where it writes strings, each page ``doc/<doc id>.html``): a
    mirror copies it, and search.js sets its strings as text and its pages as links.
    Raises :class:`MalformedError`."""
    from .log.entry import valid_doc_id

    try:
        index = json.loads(raw)
    except (ValueError, RecursionError) as e:
        raise MalformedError(f"not JSON: {e}") from e
    if not isinstance(index, dict) or set(index) != {
            "format", "origin", "size", "release", "documents", "text_index"}:
        raise MalformedError("not an orderarchive site search index")
    if index["format"] != SEARCH_FORMAT or not isinstance(index["origin"], str) \
            or not _count(index["size"]) or not _count(index["release"]) \
            or index["text_index"] != text_index_dir(index["size"]) \
            or not isinstance(index["documents"], list):
        raise MalformedError("not an orderarchive site search index")
    for row in index["documents"]:
        if not isinstance(row, dict) or set(row) != set(_ROW_TYPES) or any(
                not isinstance(row[k], t) or (t == (int,) and not _count(row[k]))
                for k, t in _ROW_TYPES.items()):
            raise MalformedError(f"a document row that is not the site's: {str(row)[:80]}")
        if not valid_doc_id(row["doc"]):
            raise MalformedError(f"names a page for {row['doc']!r}, not a document id")
        if row["page"] != _doc_page_name(row["doc"]):
            raise MalformedError(f"names the page {row['page']!r} for {row['doc']!r}")
    return index


def write_site(outdir: Path, site: Site) -> list[str]:
    """Write the files of *site* under *outdir* (the edge): each only if its bytes differ,
    each atomically (temporary file, ``fsync``, ``rename``); returns the names written.

    A file name is checked to stay under *outdir*; no symbolic link on the way is followed
    (a planted ``doc -> /etc`` link is refused, not written through).
    """
    written = []
    for f in site.files:
        parts = f.name.split("/")
        if any(p in ("", ".", "..") for p in parts):
            raise StorageError(f"refusing to write {f.name!r} outside the site directory")
        target = outdir.joinpath(*parts)
        try:
            parent = outdir
            for p in parts[:-1]:
                parent = parent / p
                if parent.is_symlink():
                    raise StorageError(f"{parent} is a symbolic link; refusing to write through it")
                parent.mkdir(exist_ok=True)
            if target.is_symlink():
                raise StorageError(f"{target} is a symbolic link; refusing to replace it")
            if target.is_file() and target.read_bytes() == f.data:
                continue
            fd, tmp = tempfile.mkstemp(dir=parent, prefix=f".{parts[-1]}.", suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(f.data)
                    out.flush()
                    os.fsync(out.fileno())
                os.chmod(tmp, 0o644)
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OrderArchiveError:
            raise
        except OSError as e:
            raise StorageError(f"cannot write {target}: {e.strerror or e}") from e
        written.append(f.name)
    return written


def publish_pages(ctx: PublishContext) -> list[str]:
    """The ``publish`` hook (:data:`orderarchive.publish.PageWriter`): the pages of the
    published release, written before its checkpoint replaces the old one."""
    site = build_site(ctx.archive, ctx.verifiers, size=ctx.checkpoint.size,
                      previous=previous_site(ctx.outdir, ctx.archive.origin, ctx.old_size))
    return write_site(ctx.outdir, site)


#: The largest previous search index :func:`previous_site` reads (beyond it: a full build).
MAX_PREVIOUS_INDEX = 1 << 30


def previous_site(outdir: Path, origin: str, size: int) -> PreviousSite | None:
    """The previous publication's search index in *outdir*, if it describes *size* entries of
    *origin* (None otherwise: missing, unreadable, another size, not this format)."""
    from .userfiles import read_bounded

    if size <= 0:
        return None
    try:
        data = json.loads(read_bounded(outdir / SEARCH_INDEX, MAX_PREVIOUS_INDEX))
    except (OrderArchiveError, ValueError, RecursionError):
        return None
    if (
        not isinstance(data, dict)
        or data.get("format") != SEARCH_FORMAT
        or data.get("origin") != origin
        or data.get("size") != size
        or not isinstance(data.get("documents"), list)
        or not all(isinstance(r, dict) for r in data["documents"])
    ):
        return None
    return PreviousSite(size, tuple(data["documents"]))


#: The immutable locations that hold signed or content-addressed files: (prefix, default type,
#: readable from other origins). Each repeats every header: nginx drops inherited add_header
#: lines in a location that has its own.
_IMMUTABLE_LOCATIONS = (
    ("/tile/", "application/octet-stream", True),
    ("/releases/", "text/plain", True),
    ("/lookup/", "text/plain", True),
    ("/keys/", "text/plain", False),
)


def _immutable_locations() -> str:
    return "".join(
        f"    location ^~ {prefix} {{\n"
        "        types { }\n"
        f"        default_type {default_type};\n"
        '        add_header Cache-Control "public, max-age=31536000, immutable" always;\n'
        "        add_header X-Content-Type-Options nosniff always;\n"
        + ('        add_header Access-Control-Allow-Origin "*" always;\n' if cors else "")
        + "    }\n"
        for prefix, default_type, cors in _IMMUTABLE_LOCATIONS
    )


#: Cache rules (docs/FORMAT.md §25, §26): tiles, bundles, releases, objects, lookups and key files
#: never change once written; the checkpoint and the pages do (a new release replaces them).
_NGINX = """\
# nginx server block for an orderarchive site published by 'orderarchive publish'
# (docs/FORMAT.md §25, §26). Serve it over HTTPS in production: the verify page's WebCrypto
# needs a secure context (https, or http://localhost / 127.0.0.1).
server {{
    listen {listen};
    server_name {server_name};
    root {root};
    index index.html;
    charset utf-8;
    charset_types text/html text/css text/javascript application/json text/plain;
    autoindex off;
    disable_symlinks on;
    server_tokens off;

    types {{
        text/html                 html;
        text/css                  css;
        text/javascript           js;
        application/json          json;
    }}
    default_type application/octet-stream;
    # Each location sets all of its headers: nginx drops inherited add_header lines in a
    # location that has its own.

    # The latest signed checkpoint: always revalidated.
    location = /checkpoint {{
        default_type text/plain;
        add_header Cache-Control "no-cache" always;
        add_header X-Content-Type-Options nosniff always;
        add_header Access-Control-Allow-Origin "*" always;
    }}
    # C2SP tlog-tiles hash tiles and entry bundles, full and partial: immutable.
{immutable}    # Archived documents are downloads, never pages of this site: an archived HTML file
    # served as text/html here could run script on the verify page's origin.
    location ^~ /objects/ {{
        types {{ }}
        default_type application/octet-stream;
        add_header Cache-Control "public, max-age=31536000, immutable" always;
        add_header Content-Disposition "attachment" always;
        add_header Content-Security-Policy "sandbox; default-src 'none'" always;
        add_header X-Content-Type-Options nosniff always;
    }}
    # The pages, the search index, the trust file and the site's scripts: revalidated.
    location / {{
        add_header Cache-Control "no-cache" always;
        add_header X-Content-Type-Options nosniff always;
        add_header Referrer-Policy no-referrer always;
        add_header Content-Security-Policy "{csp}" always;
        try_files $uri $uri/ =404;
    }}
}}
"""


# -- the page check a mirror applies to the pages it copies (docs/THREATS.md) -----------------
#
# A mirror serves the site's document and index pages on its own web origin, beside its
# verify page and the keys and checkpoint that page remembers in localStorage. A hostile
# site's page must therefore carry nothing active. The allow-list below is exactly what
# document_page() and index_page() emit (tests/test_site.py checks every page publish writes
# passes it, byte for byte); anything else -- another tag, an on* handler, a style
# attribute, a script other than search.js, a javascript:/data: URL, a comment, a
# declaration -- refuses the whole page. A page that passes is written as re-serialised
# here from the parse (every text and attribute re-escaped), so what a browser reads is
# what this parser saw: no parser differential between html.parser and the browser survives.

_PAGE_TAGS = frozenset({
    "html", "head", "meta", "link", "title", "body", "nav", "a", "main", "h1", "h2", "p",
    "ul", "li", "dl", "dt", "dd", "code", "table", "thead", "tbody", "tr", "th", "td", "br",
    "label", "input", "span", "div", "script",
})
_VOID_TAGS = frozenset({"meta", "link", "br", "input"})
_PAGE_ATTRS: dict[str, frozenset[str]] = {
    "html": frozenset({"lang"}),
    "a": frozenset({"href", "rel", "download"}),
    "tr": frozenset({"data-seq"}),
    "label": frozenset({"for"}),
    "input": frozenset({"id", "type", "autocomplete"}),
    "p": frozenset({"class", "id"}),
    "ul": frozenset({"class", "id"}),
    "div": frozenset({"id"}),
    "span": frozenset({"id"}),
    "table": frozenset({"id"}),
}
#: The head's fixed elements, exactly as _page() writes them (depth 0 and 1).
_HEAD_META = frozenset({
    (("charset", "utf-8"),),
    (("http-equiv", "Content-Security-Policy"), ("content", _CSP)),
    (("name", "viewport"), ("content", "width=device-width, initial-scale=1")),
})
_HEAD_LINKS = frozenset({
    (("rel", "icon"), ("href", "data:,")),
    (("rel", "stylesheet"), ("href", "style.css")),
    (("rel", "stylesheet"), ("href", "../style.css")),
})
_SCRIPTS = frozenset({(("src", "search.js"),)})
# A relative link inside the site (no scheme, no //host) or an http(s) URL.
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:")
_DOCTYPE = "doctype html"


def _safe_href(value: str) -> bool:
    # Browsers drop ASCII tab and newline anywhere in a URL and leading/trailing C0 and
    # spaces ("java\tscript:"), so those are refused rather than reasoned about.
    if any(ord(c) < 0x21 or c in "\\\x7f" for c in value):
        return False
    lowered = value.lower()
    if _SCHEME.match(lowered):
        return lowered.startswith(("https://", "http://"))
    return not lowered.startswith("//")


class _PageCheck(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.problem: str | None = None
        self.open_script = False

    def _refuse(self, why: str) -> None:
        if self.problem is None:
            self.problem = why

    def handle_decl(self, decl: str) -> None:
        if decl.lower() != _DOCTYPE or self.out:
            self._refuse(f"a declaration <!{decl[:40]}>")
        self.out.append(f"<!{decl}>")

    def unknown_decl(self, data: str) -> None:
        self._refuse("a CDATA or other declaration")

    def handle_pi(self, data: str) -> None:
        self._refuse("a processing instruction")

    def handle_comment(self, data: str) -> None:
        self._refuse("a comment")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._refuse(f"a self-closing <{tag}/>")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _PAGE_TAGS:
            self._refuse(f"a <{tag}> element")
            return
        pairs = tuple((k, v) for k, v in attrs)
        if any(v is None for _, v in pairs) or len({k for k, _ in pairs}) != len(pairs):
            self._refuse(f"<{tag}> with an attribute without a value, or twice")
            return
        fixed = {"meta": _HEAD_META, "link": _HEAD_LINKS, "script": _SCRIPTS}.get(tag)
        if fixed is not None:
            if pairs not in fixed:
                self._refuse(f"a <{tag}> this program does not write")
                return
            self.open_script = tag == "script"
        else:
            for name, value in pairs:
                assert value is not None
                if name not in _PAGE_ATTRS.get(tag, frozenset()):
                    self._refuse(f"a {name!r} attribute on <{tag}>")
                    return
                if name == "href" and not _safe_href(value):
                    self._refuse(f"a link to {value[:60]!r}")
                    return
                if tag == "input" and name == "type" and value != "search":
                    self._refuse(f"an <input type={value[:20]!r}>")
                    return
        # The fixed head elements are this program's constants (no '"' in them), written as
        # _page() writes them; every other value is re-escaped as _t() escapes it.
        rendered = "".join(
            f' {k}="{v if fixed is not None else html.escape(v or "", quote=True)}"'
            for k, v in pairs)
        self.out.append(f"<{tag}{rendered}>")

    def handle_endtag(self, tag: str) -> None:
        if tag not in _PAGE_TAGS or tag in _VOID_TAGS:
            self._refuse(f"an end tag </{tag}>")
            return
        self.open_script = False
        self.out.append(f"</{tag}>")

    def handle_data(self, data: str) -> None:
        if self.open_script and data:
            self._refuse("a script with content")
        self.out.append(html.escape(data, quote=True))


def passive_page(data: bytes) -> tuple[bytes | None, str | None]:
    """*data* (a page copied from a site) checked against what this program's pages hold:
    ``(page, None)`` with the page re-serialised from the parse when it carries no active
    content, else ``(None, why)`` -- the page must not be served."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None, "not UTF-8"
    if "\x00" in text:
        return None, "a NUL character"
    check = _PageCheck()
    check.feed(text)
    check.close()
    if check.problem is None and check.rawdata:
        check.problem = "an unfinished tag at the end"
    if check.problem is not None:
        return None, check.problem
    return "".join(check.out).encode(), None


def nginx_conf(root: Path, *, listen: str = "80", server_name: str = "_") -> str:
    """An nginx ``server`` block serving the site in *root* with the cache rules above."""
    for what, value in (("root", str(root)), ("listen", listen), ("server_name", server_name)):
        # Nothing that ends the directive, quotes or expands in it; "listen" alone takes
        # several space-separated parameters ("443 ssl").
        spaces_ok = what == "listen"
        if not value or any(
            (c.isspace() and not (spaces_ok and c == " ")) or c in ';{}"\'#$\\' or ord(c) < 32
            for c in value
        ):
            raise MalformedError(f"{what} {value!r} cannot be written into an nginx configuration")
    return _NGINX.format(root=root, listen=listen, server_name=server_name, csp=_CSP_HEADER,
                         immutable=_immutable_locations())
