"""Reading news articles in HTML: the article's text without the page around it, and metadata.

Built on the standard library's :mod:`html.parser` (no new dependency). The parser builds a
small tree, closing elements the way browsers do for the common cases (``<p>`` ends at the next
block, ``<li>`` at the next item); the article text is then taken from one element:

1. the ``<article>`` with the most text (pages list teasers as articles too), else
2. the first ``<main>`` (or ``role="main"``), else
3. ``<body>``, else the whole document outside ``<head>``.

Inside it, markup, scripts, styles, forms, navigation, asides, page headers and footers and
hidden elements are left out; an article's own ``<header>`` (headline, byline) is kept, its
``<footer>`` (tags, share links) is not. Each block element (``<p>``, ``<h2>``, ``<li>``,
``<blockquote>``, table rows ...) is a paragraph; ``<br>`` is a line break inside one, two in a
row end it. Whitespace collapses as in a browser, except inside ``<pre>``.

Metadata: title from ``og:title``, ``<title>`` or the first ``<h1>``; author from ``<meta
name=author>`` or ``article:author`` (URLs are not names and are skipped); date from
``article:published_time``, a ``date``-like meta element or the first ``<time datetime>``,
as the ISO date written there (not converted to UTC); canonical URL from ``<link
rel=canonical>`` or ``og:url`` (absolute http(s) URLs only); description from ``<meta
name=description>`` or ``og:description``.

Charset: a byte-order mark, else the charset the caller declares (HTTP's ``Content-Type``),
else ``<meta charset>`` in the first 4096 bytes, else UTF-8; only the WHATWG Encoding
Standard's encodings count (Python's ``unicode_escape`` or ``rot13`` are no page's charset).
Bytes that do not decode raise :class:`~orderarchive.documents.UnicodeDocumentError` rather
than being replaced: the text layer is signed, and a replacement character in it would
misquote the source.

A page with no text in the chosen element (no body, only scripts) is read with ``text=None``
and a reason, like an image-only PDF: its bytes may still be worth archiving.
"""

from __future__ import annotations

import codecs
import datetime
import re
from collections import Counter
from html.parser import HTMLParser

from .documents import (
    DEFAULT_LIMITS,
    HTML,
    BrokenDocumentError,
    DocumentMetadata,
    DocumentTooLargeError,
    Limits,
    ReadDocument,
    UnicodeDocumentError,
)
from .textlayer import TextLayer, split_paragraphs

EXTRACTOR = "orderarchive-html/1"
NO_TEXT_REASON = "no text in the HTML page (no body, or only scripts and markup)"


def _tags(names: str) -> frozenset[str]:
    """A set of names from a space-separated list."""
    return frozenset(names.split())


_VOID = _tags("area base br col embed hr img input link meta param source track wbr")
_SKIP = _tags(
    "head script style noscript template svg math iframe object embed canvas audio video "
    "button select textarea form nav aside dialog"
)
_SKIP_ROLES = _tags("navigation complementary search")
_BLOCK = _tags(
    "address article aside blockquote body caption center dd details dialog dir div dl dt "
    "fieldset figcaption figure footer form h1 h2 h3 h4 h5 h6 header hgroup hr html legend li "
    "listing main menu nav ol p pre section summary table tbody tfoot thead tr ul"
)
_CELLS = _tags("td th")
# Elements whose start closes an open <p> (WHATWG HTML §13.2.6.4.7, "in body").
_CLOSES_P = _tags(
    "address article aside blockquote center details dialog dir div dl fieldset figcaption "
    "figure footer form h1 h2 h3 h4 h5 h6 header hgroup hr main menu nav ol p pre section "
    "summary table ul li dd dt"
)
_SCOPE = _tags("html table td th caption template object applet marquee button")
_IMPLIED = {
    "li": ("li", frozenset({"ul", "ol"})),
    "dt": ("dt dd", frozenset({"dl"})),
    "dd": ("dt dd", frozenset({"dl"})),
    "tr": ("tr td th", frozenset({"table", "thead", "tbody", "tfoot"})),
    "td": ("td th", frozenset({"tr", "table"})),
    "th": ("td th", frozenset({"tr", "table"})),
    "option": ("option", frozenset({"select", "datalist"})),
}
_HEADINGS = _tags("h1 h2 h3 h4 h5 h6")
# Deeper elements become siblings at this depth, as in Chromium's HTML parser
# (kMaximumHTMLParserDOMTreeDepth): the implied-end-tag scans stay bounded on hostile pages.
_MAX_DEPTH = 512
_WHITESPACE = re.compile(r"[ \t\n\r\f]+")
_META_CHARSET = re.compile(rb"<meta[^>]*?charset\s*=\s*[\"']?\s*([a-zA-Z0-9._:-]+)", re.I)
# WHATWG Encoding: these labels mean windows-1252, which is what such pages really are.
_WINDOWS_1252 = frozenset({"iso-8859-1", "iso8859-1", "latin1", "latin-1", "ascii", "us-ascii"})
_WEB_ENCODINGS = _tags(
    "utf-8 utf-16-le utf-16-be cp866 koi8-r koi8-u mac-roman mac-cyrillic cp874 gbk gb2312 "
    "gb18030 big5 euc_jp iso2022_jp shift_jis cp932 euc_kr"
)
_WEB_ENCODING_FAMILIES = ("iso8859-", "cp125")
_DATE_KEYS = (
    "article:published_time",
    "og:published_time",
    "date",
    "dc.date",
    "dc.date.issued",
    "dcterms.date",
    "dcterms.issued",
    "dcterms.created",
    "pubdate",
    "publishdate",
    "publish-date",
    "parsely-pub-date",
    "sailthru.date",
)
_AUTHOR_KEYS = ("author", "article:author", "dc.creator", "dcterms.creator", "parsely-author")
_ISO_DATE = re.compile(r"\s*(\d{4})-(\d{2})-(\d{2})(?![\d])")


class _Element:
    __slots__ = ("attrs", "children", "parent", "tag")

    def __init__(self, tag: str, attrs: dict[str, str], parent: _Element | None) -> None:
        self.tag = tag
        self.attrs = attrs
        self.parent = parent
        self.children: list[_Element | str] = []

    def iter(self) -> list[_Element]:
        """This element and its descendants, in document order (no recursion: pages nest
        deeply enough to exhaust Python's stack)."""
        found: list[_Element] = []
        stack: list[_Element] = [self]
        while stack:
            node = stack.pop()
            found.append(node)
            stack.extend(c for c in reversed(node.children) if isinstance(c, _Element))
        return found


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = _Element("#document", {}, None)
        self.stack = [self.root]
        self.open: Counter[str] = Counter()  # tags on the stack, so absent ones cost no scan

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._open(tag, attrs, void=tag in _VOID)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._open(tag, attrs, void=True)  # XHTML's <div/>: an empty element

    def handle_endtag(self, tag: str) -> None:
        if tag == "br":  # browsers read </br> as <br>
            self._open("br", [], void=True)
            return
        if self.open[tag]:
            for i in range(len(self.stack) - 1, 0, -1):
                if self.stack[i].tag == tag:
                    self._pop_to(i)
                    return

    def handle_data(self, data: str) -> None:
        children = self.stack[-1].children
        if children and isinstance(children[-1], str):
            children[-1] += data
        else:
            children.append(data)

    def _open(self, tag: str, attrs: list[tuple[str, str | None]], *, void: bool) -> None:
        if tag in _CLOSES_P:
            self._close_in_scope("p", _SCOPE)
        if tag in _HEADINGS and self.stack[-1].tag in _HEADINGS:
            self._pop_to(len(self.stack) - 1)
        if tag in _IMPLIED:
            names, boundary = _IMPLIED[tag]
            for name in names.split():
                self._close_in_scope(name, _SCOPE | boundary)
        values: dict[str, str] = {}
        for name, value in attrs:
            values.setdefault(name, value or "")
        element = _Element(tag, values, self.stack[-1])
        self.stack[-1].children.append(element)
        if not void and len(self.stack) < _MAX_DEPTH:
            self.stack.append(element)
            self.open[tag] += 1

    def _close_in_scope(self, tag: str, boundary: frozenset[str]) -> None:
        if not self.open[tag]:
            return
        for i in range(len(self.stack) - 1, 0, -1):
            name = self.stack[i].tag
            if name == tag:
                self._pop_to(i)
                return
            if name in boundary:
                return

    def _pop_to(self, index: int) -> None:
        for element in self.stack[index:]:
            self.open[element.tag] -= 1
        del self.stack[index:]


def read_html(
    data: bytes, *, charset: str | None = None, limits: Limits = DEFAULT_LIMITS
) -> ReadDocument:
    """Read an HTML page's article text and metadata (see the module docstring)."""
    text = decode_html(data, charset)
    builder = _TreeBuilder()
    try:
        builder.feed(text)
        builder.close()
    except MemoryError as e:
        raise DocumentTooLargeError("HTML page is too large to parse") from e
    except Exception as e:  # html.parser meets hostile input here
        raise BrokenDocumentError(f"cannot parse HTML: {type(e).__name__}: {e}") from e
    root = builder.root
    content = _content_root(root)
    paragraphs = _paragraphs(content)
    if sum(len(p) for p in paragraphs) > limits.max_text_chars:
        raise DocumentTooLargeError(
            f"HTML text is over the limit of {limits.max_text_chars} characters"
        )
    metadata = _metadata(root, content)
    layer = TextLayer.from_pages([paragraphs])
    if layer.is_empty:
        return ReadDocument(HTML, metadata, None, EXTRACTOR, no_text_reason=NO_TEXT_REASON)
    return ReadDocument(HTML, metadata, layer, EXTRACTOR)


def decode_html(data: bytes, declared: str | None = None) -> str:
    """Decode by BOM, then *declared*, then ``<meta charset>``, then UTF-8; strictly."""
    for bom, encoding in (
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    ):
        if data.startswith(bom):
            return _decode(data[len(bom) :], encoding)
    if declared is not None:
        return _decode(data, _encoding(declared))
    match = _META_CHARSET.search(data[:4096])
    encoding = _encoding(match.group(1).decode("ascii") if match else None)
    # A page that says UTF-16 in ASCII bytes is not UTF-16 (WHATWG HTML §13.2.3.3).
    if encoding.startswith(("utf-16", "utf-32")):
        encoding = "utf-8"
    return _decode(data, encoding)


def _encoding(label: str | None) -> str:
    """Python's codec for a charset label; UTF-8 for a label that names no text encoding."""
    if label is None:
        return "utf-8"
    label = label.strip().lower()
    if label in _WINDOWS_1252:
        return "cp1252"
    try:
        name = codecs.lookup(label).name
    except LookupError:
        return "utf-8"  # an unknown label is ignored, as browsers do
    # Python also has codecs no browser would apply to a page ("unicode_escape", "rot13",
    # "zlib"): only the WHATWG Encoding Standard's encodings are honoured.
    return name if name in _WEB_ENCODINGS or name.startswith(_WEB_ENCODING_FAMILIES) else "utf-8"


def _decode(data: bytes, encoding: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as e:
        raise UnicodeDocumentError(
            f"HTML is not valid {encoding} (invalid byte 0x{data[e.start]:02x} "
            f"at offset {e.start})",
            hint="pass the page's real charset as the media type, "
            "e.g. 'text/html; charset=windows-1252'",
        ) from e


# -- choosing the article ----------------------------------------------------------------------


def _content_root(root: _Element) -> _Element:
    """The element holding the article text (see the module docstring); linear time."""
    visible: list[_Element] = []
    stack: list[tuple[_Element, bool]] = [(root, False)]
    while stack:
        element, in_article = stack.pop()
        if element is not root and _skipped(element, in_article=in_article):
            continue
        visible.append(element)
        inner = in_article or element.tag == "article"
        stack.extend((c, inner) for c in reversed(element.children) if isinstance(c, _Element))
    articles = [e for e in visible if e.tag == "article"]
    if articles:
        size = _text_sizes(visible)
        # max() keeps the first of equals, so ties go to the earlier article.
        return max(articles, key=lambda e: size[id(e)])
    for element in visible:
        if element.tag == "main" or element.attrs.get("role") == "main":
            return element
    return next((e for e in visible if e.tag == "body"), root)


def _text_sizes(visible: list[_Element]) -> dict[int, int]:
    """Characters of visible text under each visible element (children before parents)."""
    size: dict[int, int] = {}
    shown = {id(e) for e in visible}
    for element in reversed(visible):  # document order reversed: descendants come first
        size[id(element)] = sum(
            len(c.strip()) if isinstance(c, str) else size.get(id(c), 0)
            for c in element.children
            if isinstance(c, str) or id(c) in shown
        )
    return size


def _skipped(element: _Element, *, in_article: bool) -> bool:
    if element.tag in _SKIP or element.attrs.get("role") in _SKIP_ROLES:
        return True
    if "hidden" in element.attrs or element.attrs.get("aria-hidden") == "true":
        return True
    if element.tag == "footer":
        return True
    return element.tag == "header" and not in_article


def _has_ancestor(element: _Element, tag: str) -> bool:
    node = element.parent
    while node is not None:
        if node.tag == tag:
            return True
        node = node.parent
    return False


# -- text --------------------------------------------------------------------------------------


def _collapse(text: str) -> str:
    """HTML's whitespace collapsing; the substitution is skipped when it would change nothing."""
    if "  " in text or "\n" in text or "\t" in text or "\r" in text or "\f" in text:
        return _WHITESPACE.sub(" ", text)
    return text


def _paragraphs(root: _Element) -> list[str]:
    """The visible text under *root*, one string per block, lines split at ``<br>``."""
    blocks: list[str] = []
    current: list[str] = []

    def flush() -> None:
        if current:
            blocks.extend(split_paragraphs("".join(current)))
            current.clear()

    # An explicit stack of (node, in <pre>, in <article>, leaving): deep nesting cannot
    # overflow it as it would Python's own.
    stack: list[tuple[_Element | str, bool, bool, bool]] = [
        (root, False, _has_ancestor(root, "article"), False)
    ]
    while stack:
        node, pre, in_article, leaving = stack.pop()
        if isinstance(node, str):
            current.append(node.replace("\r\n", "\n") if pre else _collapse(node))
            continue
        if leaving:
            if node.tag in _BLOCK:
                flush()
            continue
        if node is not root and _skipped(node, in_article=in_article):
            continue
        if node.tag == "br":
            current.append("\n")
            continue
        if node.tag in _BLOCK:
            flush()
        elif node.tag in _CELLS or node.tag == "img":
            current.append(" ")
        inner_pre = pre or node.tag in ("pre", "listing", "textarea")
        inner_article = in_article or node.tag == "article"
        stack.append((node, pre, in_article, True))
        stack.extend((child, inner_pre, inner_article, False) for child in reversed(node.children))
    flush()
    return blocks


def _text(element: _Element) -> str:
    return " ".join(" ".join(_paragraphs(element)).split())


# -- metadata ----------------------------------------------------------------------------------


def _metadata(root: _Element, content: _Element) -> DocumentMetadata:
    meta: dict[str, str] = {}
    canonical: str | None = None
    title: str | None = None
    for element in root.iter():
        if element.tag == "meta":
            key = (element.attrs.get("property") or element.attrs.get("name") or "").lower()
            value = " ".join(element.attrs.get("content", "").split())
            if key and value:
                meta.setdefault(key, value)
        elif element.tag == "link" and canonical is None:
            if "canonical" in element.attrs.get("rel", "").lower().split():
                canonical = _absolute_url(element.attrs.get("href"))
        elif element.tag == "title" and title is None:
            title = " ".join("".join(c for c in element.children if isinstance(c, str)).split())
    if not title:
        title = next((_text(e) for e in root.iter() if e.tag == "h1" and _text(e)), None)
    author = next(
        (meta[k] for k in _AUTHOR_KEYS if k in meta and _absolute_url(meta[k]) is None), None
    )
    date = next((d for k in _DATE_KEYS if (d := _iso_date(meta.get(k))) is not None), None)
    if date is None:
        for scope in (content, root):
            date = next(
                (d for e in scope.iter() if e.tag == "time" and (d := _iso_date(_datetime(e)))),
                None,
            )
            if date is not None:
                break
    return DocumentMetadata(
        title=meta.get("og:title") or title or None,
        author=author,
        date=date,
        canonical_url=canonical or _absolute_url(meta.get("og:url")),
        description=meta.get("description") or meta.get("og:description"),
    )


def _datetime(element: _Element) -> str | None:
    return element.attrs.get("datetime") or _text(element)


def _iso_date(value: str | None) -> str | None:
    """``2026-02-05`` from ``2026-02-05T17:40:00-05:00``: the date as written there."""
    match = _ISO_DATE.match(value or "")
    if not match:
        return None
    try:
        return datetime.date(*(int(g) for g in match.groups())).isoformat()
    except ValueError:
        return None


def _absolute_url(value: str | None) -> str | None:
    value = (value or "").strip()
    return value if re.match(r"https?://[^\s/]+", value, re.I) else None


# -- briefs ------------------------------------------------------------------------------------


def brief_text(data: bytes, limits: Limits = DEFAULT_LIMITS) -> str:
    """A brief's visible text, with its quotations marked as :mod:`.brief` finds them.

    The article text (as :func:`read_html` chooses it), one block per paragraph separated by
    blank lines, with what the markup says is a quotation made visible the way browsers show
    it: ``<q>`` wrapped in “ ” (‘ ’ when nested in another ``<q>``), every line of a
    ``<blockquote>`` prefixed with ``> `` (once per level). Raises what :func:`read_html`
    raises; the caller runs it in the sandbox.
    """
    text = decode_html(data)
    builder = _TreeBuilder()
    try:
        builder.feed(text)
        builder.close()
    except MemoryError as e:
        raise DocumentTooLargeError("HTML page is too large to parse") from e
    except Exception as e:  # html.parser meets hostile input here
        raise BrokenDocumentError(f"cannot parse HTML: {type(e).__name__}: {e}") from e
    blocks = _brief_blocks(_content_root(builder.root))
    if sum(len(b) for b in blocks) > limits.max_text_chars:
        raise DocumentTooLargeError(
            f"HTML text is over the limit of {limits.max_text_chars} characters"
        )
    return "\n\n".join(blocks)


def _brief_blocks(root: _Element) -> list[str]:
    """:func:`_paragraphs` with ``<q>`` and ``<blockquote>`` rendered (see :func:`brief_text`)."""
    blocks: list[str] = []
    current: list[str] = []
    quoting = 0  # open <q> elements
    depth = 0  # open <blockquote> elements

    def flush() -> None:
        if current:
            prefix = "> " * depth
            for paragraph in split_paragraphs("".join(current)):
                blocks.append("\n".join(prefix + line for line in paragraph.split("\n")))
            current.clear()

    stack: list[tuple[_Element | str, bool, bool, bool]] = [
        (root, False, _has_ancestor(root, "article"), False)
    ]
    while stack:
        node, pre, in_article, leaving = stack.pop()
        if isinstance(node, str):
            current.append(node.replace("\r\n", "\n") if pre else _collapse(node))
            continue
        if leaving:
            if node.tag == "q":
                quoting -= 1
                current.append("’" if quoting % 2 else "”")
            elif node.tag in _BLOCK:
                flush()
                depth -= node.tag == "blockquote"
            continue
        if node is not root and _skipped(node, in_article=in_article):
            continue
        if node.tag == "br":
            current.append("\n")
            continue
        if node.tag == "q":
            current.append("‘" if quoting % 2 else "“")
            quoting += 1
        elif node.tag in _BLOCK:
            flush()
            depth += node.tag == "blockquote"
        elif node.tag in _CELLS or node.tag == "img":
            current.append(" ")
        inner_pre = pre or node.tag in ("pre", "listing", "textarea")
        inner_article = in_article or node.tag == "article"
        stack.append((node, pre, in_article, True))
        stack.extend((child, inner_pre, inner_article, False) for child in reversed(node.children))
    flush()
    return blocks
