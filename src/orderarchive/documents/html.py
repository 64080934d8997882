"""Reading news articles in HTML: the article's text without the page around it, and metadata.

Built on the standard library's :mod:`html.parser` (no new dependency); plain markup, most
articles, is tokenised by a faster path that gives the tree builder the same events (see
"a fast path for plain markup" below). The parser builds a small tree, closing elements the
way browsers do for the common cases (``<p>`` ends at the next block, ``<li>`` at the next
item); the article text is then taken from one element:

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
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from html import unescape
from html.parser import HTMLParser

from attrs import frozen as attrs_frozen

from ..log.textlayer import TextLayer, normalise_paragraph, split_paragraphs
from ._base import (
    DEFAULT_LIMITS,
    GENERATED,
    HIDDEN,
    HTML,
    MAX_FINDINGS,
    UNCHECKED,
    BrokenDocumentError,
    CopyReading,
    DocumentMetadata,
    DocumentTooLargeError,
    HiddenText,
    Limits,
    ReadDocument,
    UnicodeDocumentError,
    finding,
)

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
# The start of each of these closes the open elements named (up to a scope boundary).
_IMPLIED = {
    tag: (tuple(names.split()), _SCOPE | _tags(boundary))
    for tag, names, boundary in (
        ("li", "li", "ul ol"),
        ("dt", "dt dd", "dl"),
        ("dd", "dt dd", "dl"),
        ("tr", "tr td th", "table thead tbody tfoot"),
        ("td", "td th", "tr table"),
        ("th", "td th", "tr table"),
        ("option", "option", "select datalist"),
    )
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
    __slots__ = ("attrs", "children", "parent", "serial", "tag")

    def __init__(
        self, tag: str, attrs: dict[str, str], parent: _Element | None, serial: int = 0
    ) -> None:
        self.tag = tag
        self.attrs = attrs
        self.parent = parent
        self.serial = serial  # the element's place in document order (the root is 0)
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

    def last_serial(self) -> int:
        """The serial of the last element under this one: its subtree is the elements whose
        serials run from its own to this (elements are numbered in document order)."""
        node = self
        while True:
            for child in reversed(node.children):
                if isinstance(child, _Element):
                    node = child
                    break
            else:
                return node.serial


# Elements the readers look up by name after parsing, listed as they are made (which is
# document order: an element is always appended to the innermost open one), so that choosing
# the article and reading the metadata need no walk over the whole page.
_INDEXED = _tags("article main body meta link title h1 time")
_MAIN_LIKE = "main"  # the list of <main> and role="main" elements, in document order


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = _Element("#document", {}, None)
        self.stack = [self.root]
        self.open: dict[str, int] = {}  # tags on the stack, so absent ones cost no scan
        self.count = 0
        self.found: dict[str, list[_Element]] = {tag: [] for tag in _INDEXED}
        self.found[_MAIN_LIKE] = []

    def updatepos(self, i: int, j: int) -> int:
        # html.parser counts lines for getpos(), which nothing here reads: a tenth of the
        # parse on an article. Positions appear in none of html.parser's exceptions.
        return j

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._open(tag, attrs, void=tag in _VOID)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._open(tag, attrs, void=True)  # XHTML's <div/>: an empty element

    def handle_endtag(self, tag: str) -> None:
        if tag == "br":  # browsers read </br> as <br>
            self._open("br", [], void=True)
            return
        if self.open.get(tag):
            stack = self.stack
            for i in range(len(stack) - 1, 0, -1):
                if stack[i].tag == tag:
                    self._pop_to(i)
                    return

    def handle_data(self, data: str) -> None:
        children = self.stack[-1].children
        if children and isinstance(children[-1], str):
            children[-1] += data
        else:
            children.append(data)

    def _open(self, tag: str, attrs: list[tuple[str, str | None]], *, void: bool) -> None:
        if tag in _CLOSES_P and self.open.get("p"):
            self._close_in_scope("p", _SCOPE)
        stack = self.stack
        if tag in _HEADINGS and stack[-1].tag in _HEADINGS:
            self._pop_to(len(stack) - 1)
        if tag in _IMPLIED:
            names, boundary = _IMPLIED[tag]
            for name in names:
                self._close_in_scope(name, boundary)
        values: dict[str, str] = {}
        for name, value in attrs:
            if name not in values:
                values[name] = value or ""
        self.count += 1
        parent = stack[-1]
        element = _Element(tag, values, parent, self.count)
        parent.children.append(element)
        if tag in _INDEXED:
            self.found[tag].append(element)
        if tag == "main" or (values and values.get("role") == "main"):
            self.found[_MAIN_LIKE].append(element)
        if not void and len(stack) < _MAX_DEPTH:
            stack.append(element)
            self.open[tag] = self.open.get(tag, 0) + 1

    def _close_in_scope(self, tag: str, boundary: frozenset[str]) -> None:
        if not self.open.get(tag):
            return
        stack = self.stack
        for i in range(len(stack) - 1, 0, -1):
            name = stack[i].tag
            if name == tag:
                self._pop_to(i)
                return
            if name in boundary:
                return

    def _pop_to(self, index: int) -> None:
        open_tags = self.open
        for element in self.stack[index:]:
            open_tags[element.tag] -= 1
        del self.stack[index:]


# -- a fast path for plain markup ---------------------------------------------------------------
#
# html.parser tokenises in Python, several regular expressions per tag, and is most of the
# time spent reading a page. Most article markup is plain: every "<" opens a start tag with
# a lower-risk name and attributes, an end tag, a simple comment or a doctype. Such a page
# is tokenised here with one expression per tag and fed to the same tree builder, as the same
# events html.parser would give it; any "<" the expression does not match sends the whole
# page back to html.parser (from the start, with a fresh builder). The subset is chosen so
# that every CPython version's html.parser reads it the same way (later versions read the
# contents of <title>, <textarea>, <iframe>, <xmp>, <noembed>, <noframes>, <noscript> and
# <plaintext> as raw or escapable text, and end comments and raw text differently), and
# tests/test_html_fast.py compares the two tokenisers' trees on random and real pages.

_WS = "[ \t\n\r\f]"
_SIMPLE_MARKUP = re.compile(
    "<(?:"
    # a start tag: a name, then attributes each after white space, quoted or with a plain
    # value that white space or ">" ends (html.parser would read "a=b/>" as the value "b/")
    f"([a-zA-Z][a-zA-Z0-9]*)((?:{_WS}+[a-zA-Z_:][-a-zA-Z0-9_:.]*"
    f"(?:{_WS}*={_WS}*(?:\"[^\"]*\"|'[^']*'|[\\w.:;,%#+?&@!~*$()-]+(?={_WS}|>)))?)*)"
    f"{_WS}*(/?)>"
    # an end tag
    "|/([a-zA-Z][a-zA-Z0-9]*)>"
    # a comment with no "--" inside, not "<!-->" or "<!--->"
    "|!--(?!-?>)(?:[^-]|-(?!-))*-->"
    # a doctype with a plain name
    f"|!(?i:doctype){_WS}+[a-zA-Z]+{_WS}*>"
    ")"
)
_SIMPLE_ATTRIBUTE = re.compile(
    f"{_WS}+([a-zA-Z_:][-a-zA-Z0-9_:.]*)"
    f"(?:{_WS}*={_WS}*(?:\"([^\"]*)\"|'([^']*)'|([^ \t\n\r\f>]+)))?"
)
# Elements whose content is text, not markup, in some html.parser version: taken whole when
# it holds no "<" and, where versions differ on unescaping it, no "&". The value says whether
# html.parser unescapes it (every version agrees on these).
_RAW_TEXT = {"script": False, "style": False, "title": True, "textarea": True, "xmp": None,
             "iframe": None, "noembed": None, "noframes": None, "noscript": None}


class _NotSimpleError(Exception):
    """The page has markup outside the fast path's subset."""


def _feed_simple(builder: _TreeBuilder, text: str) -> None:
    """Feed *text* to *builder* as html.parser would; _NotSimpleError if it cannot."""
    find = text.find
    match = _SIMPLE_MARKUP.match
    handle_data = builder.handle_data
    handle_endtag = builder.handle_endtag
    open_element = builder._open  # what handle_starttag and handle_startendtag call
    pos, end = 0, len(text)
    while pos < end:
        lt = find("<", pos)
        if lt < 0:
            lt = end
        if lt > pos:
            chunk = text[pos:lt]
            handle_data(unescape(chunk) if "&" in chunk else chunk)
            if lt == end:
                return
        m = match(text, lt)
        if m is None:
            raise _NotSimpleError
        pos = m.end()
        name, attributes, empty, closing = m.groups()
        if name is None:
            if closing is not None:
                handle_endtag(closing.lower())
            continue  # a comment or a doctype: nothing in the tree
        tag = name.lower()
        attrs = _simple_attributes(attributes) if attributes else []
        if tag == "plaintext":
            raise _NotSimpleError
        if tag in _RAW_TEXT:
            if empty:
                raise _NotSimpleError  # <script/>: versions differ
            pos = _feed_raw_text(builder, text, tag, attrs, pos)
        else:
            open_element(tag, attrs, void=bool(empty) or tag in _VOID)


def _simple_attributes(source: str) -> list[tuple[str, str | None]]:
    """A start tag's attributes (already matched by _SIMPLE_MARKUP) as html.parser gives them."""
    attrs: list[tuple[str, str | None]] = []
    for a in _SIMPLE_ATTRIBUTE.finditer(source):
        value = a.group(2)
        if value is None:
            value = a.group(3)
            if value is None:
                value = a.group(4)
        if value and "&" in value:
            value = unescape(value)
        attrs.append((a.group(1).lower(), value))
    return attrs


def _feed_raw_text(
    builder: _TreeBuilder, text: str, tag: str, attrs: list[tuple[str, str | None]], pos: int
) -> int:
    """A <script>, <style>, <title> ... element whose content starts at *pos*; where the
    text after it starts."""
    close = text.find(f"</{tag}>", pos)
    content = text[pos:close]
    unescaped = _RAW_TEXT[tag]
    if close < 0 or "<" in content or ("&" in content and unescaped is None):
        raise _NotSimpleError
    builder.handle_starttag(tag, attrs)
    if content:
        builder.handle_data(unescape(content) if unescaped and "&" in content else content)
    builder.handle_endtag(tag)
    return close + len(tag) + 3


def _parse(text: str) -> _TreeBuilder:
    """The page's tree; hostile input gives a DocumentError, never html.parser's own."""
    try:
        builder = _TreeBuilder()
        try:
            _feed_simple(builder, text)
            return builder
        except _NotSimpleError:
            builder = _TreeBuilder()
        builder.feed(text)
        builder.close()
    except MemoryError as e:
        raise DocumentTooLargeError("HTML page is too large to parse") from e
    except Exception as e:  # html.parser meets hostile input here
        raise BrokenDocumentError(f"cannot parse HTML: {type(e).__name__}: {e}") from e
    return builder


def read_html(
    data: bytes, *, charset: str | None = None, limits: Limits = DEFAULT_LIMITS
) -> ReadDocument:
    """Read an HTML page's article text and metadata (see the module docstring)."""
    return _read(data, charset, limits)[0]


def read_html_copy(
    data: bytes, *, charset: str | None = None, limits: Limits = DEFAULT_LIMITS
) -> CopyReading:
    """Read an HTML copy under check: its text as :func:`read_html` reads it, the text a
    browser would not show or would add (:func:`shown_paragraphs`), and the text as shown."""
    document, root, content = _read(data, charset, limits)
    sheet, findings = stylesheet(root)
    shown, hidden = shown_paragraphs(content, sheet)
    findings.extend(hidden)
    if not findings:
        return CopyReading(document)
    return CopyReading(
        document,
        tuple(findings[:MAX_FINDINGS]),
        len(findings),
        TextLayer.from_pages([shown]),
    )


def _read(
    data: bytes, charset: str | None, limits: Limits
) -> tuple[ReadDocument, _Element, _Element]:
    tree = _parse(decode_html(data, charset))
    root = tree.root
    content = _content_root(tree)
    paragraphs = _paragraphs(content)
    if sum(len(p) for p in paragraphs) > limits.max_text_chars:
        raise DocumentTooLargeError(
            f"HTML text is over the limit of {limits.max_text_chars} characters"
        )
    metadata = _metadata(tree, content)
    # _paragraphs gives normalised paragraphs (textlayer's own normalise_paragraph), and
    # normalising is idempotent (TextLayer.from_bytes relies on it): from_pages would only
    # normalise each one a second time.
    layer = TextLayer(pages=(tuple(paragraphs),))
    if layer.is_empty:
        document = ReadDocument(HTML, metadata, None, EXTRACTOR, no_text_reason=NO_TEXT_REASON)
    else:
        document = ReadDocument(HTML, metadata, layer, EXTRACTOR)
    return document, root, content


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


def _content_root(tree: _TreeBuilder) -> _Element:
    """The element holding the article text (see the module docstring); linear time.

    Looks only at the candidates the parser listed, each visible unless it or an ancestor
    is left out (:func:`_skipped`); only a page with several visible articles is walked
    whole, to weigh their text.
    """
    root = tree.root
    seen: dict[_Element, tuple[bool, bool]] = {root: (True, False)}
    articles = [e for e in tree.found["article"] if _visible(e, seen)]
    if len(articles) == 1:
        return articles[0]
    if articles:
        return _largest_article(root)
    for element in tree.found[_MAIN_LIKE]:
        if _visible(element, seen):
            return element
    return next((e for e in tree.found["body"] if _visible(e, seen)), root)


def _visible(element: _Element, seen: dict[_Element, tuple[bool, bool]]) -> bool:
    """Whether *element* is in the part of the page text is taken from: neither it nor an
    ancestor is :func:`_skipped`. *seen* holds, for elements already looked at, that and
    whether their children are inside an ``<article>``; it starts with the root, and makes
    looking at many elements linear in the page, not in the page times its depth."""
    chain: list[_Element] = []
    node: _Element | None = element
    while node not in seen:
        assert node is not None  # every element's ancestors end at the root
        chain.append(node)
        node = node.parent
    visible, in_article = seen[node]
    for node in reversed(chain):
        if visible and _skipped(node, in_article=in_article):
            visible = False
        in_article = in_article or node.tag == "article"
        seen[node] = (visible, in_article)
    return seen[element][0]


def _largest_article(root: _Element) -> _Element:
    """The visible ``<article>`` with the most visible text, the first of equals."""
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
    size = _text_sizes(visible)
    # max() keeps the first of equals, so ties go to the earlier article.
    return max(articles, key=lambda e: size[id(e)])


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


_PRE = _tags("pre listing textarea")


def _end_block(current: list[str], blocks: list[str]) -> None:
    """Move the text gathered in *current* to *blocks*, as its normalised paragraphs."""
    text = "".join(current)
    current.clear()
    if "\n" in text or "\r" in text:
        blocks.extend(split_paragraphs(text))
    elif not text.isspace():
        # split_paragraphs(text) without its line handling: a text with no line break is
        # one paragraph, and one of only whitespace is none at all (tests/test_html_fast.py).
        paragraph = normalise_paragraph(text)
        if paragraph:
            blocks.append(paragraph)


def _paragraphs(root: _Element) -> list[str]:
    """The visible text under *root*, one string per block, lines split at ``<br>``."""
    blocks: list[str] = []
    current: list[str] = []
    append = current.append

    tag = root.tag
    if tag == "br":
        return []
    if tag in _CELLS or tag == "img":
        append(" ")
    # A stack of the open elements' child iterators with (in <pre>, in <article>, is a
    # block): deep nesting cannot overflow it as it would Python's own.
    frames: list[tuple[Iterator[_Element | str], bool, bool, bool]] = []
    children: Iterator[_Element | str] = iter(root.children)
    pre = tag in _PRE
    in_article = tag == "article" or _has_ancestor(root, "article")
    block = tag in _BLOCK
    while True:
        for node in children:
            if isinstance(node, str):
                if pre:
                    append(node.replace("\r\n", "\n"))
                else:
                    append(" " if node == "\n" else _collapse(node))
                continue
            if _skipped(node, in_article=in_article):
                continue
            tag = node.tag
            if tag == "br":
                append("\n")
                continue
            inner_block = tag in _BLOCK
            if inner_block:
                if current:
                    if len(current) == 1 and current[0] == " ":
                        current.clear()  # the space between two blocks: no paragraph
                    else:
                        _end_block(current, blocks)
            elif tag in _CELLS or tag == "img":
                append(" ")
            frames.append((children, pre, in_article, block))
            children = iter(node.children)
            pre = pre or tag in _PRE
            in_article = in_article or tag == "article"
            block = inner_block
            break
        else:  # the element's children are done: leave it
            if block and current:
                _end_block(current, blocks)
            if not frames:
                break
            children, pre, in_article, block = frames.pop()
    if current:
        _end_block(current, blocks)
    return blocks


def _text(element: _Element) -> str:
    return " ".join(" ".join(_paragraphs(element)).split())


# -- metadata ----------------------------------------------------------------------------------


def _metadata(tree: _TreeBuilder, content: _Element) -> DocumentMetadata:
    found = tree.found
    meta: dict[str, str] = {}
    canonical: str | None = None
    title: str | None = None
    for element in found["meta"]:
        key = (element.attrs.get("property") or element.attrs.get("name") or "").lower()
        value = " ".join(element.attrs.get("content", "").split())
        if key and value:
            meta.setdefault(key, value)
    for element in found["link"]:
        if canonical is None and "canonical" in element.attrs.get("rel", "").lower().split():
            canonical = _absolute_url(element.attrs.get("href"))
    if found["title"]:
        element = found["title"][0]
        title = " ".join("".join(c for c in element.children if isinstance(c, str)).split())
    if not title:
        title = next((_text(e) for e in found["h1"] if _text(e)), None)
    author = next(
        (meta[k] for k in _AUTHOR_KEYS if k in meta and _absolute_url(meta[k]) is None), None
    )
    date = next((d for k in _DATE_KEYS if (d := _iso_date(meta.get(k))) is not None), None)
    if date is None:
        # The first <time> in the article, else in the page (serials are document order).
        first, last = content.serial, content.last_serial()
        for times in ([e for e in found["time"] if first <= e.serial <= last], found["time"]):
            date = next((d for e in times if (d := _iso_date(_datetime(e)))), None)
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


# -- hidden and generated text in copies ------------------------------------------------------
#
# A browser shows what CSS lets it show. For a copy under check, the page's own styles (inline
# ``style`` attributes and ``<style>`` elements) are read with a small, deliberately
# conservative CSS reader: a rule applies to every element its last compound selector matches
# (ancestors, pseudo-classes and specificity are ignored), and any applying declaration that
# hides counts, even if another would show the element again. Over-reporting makes a copy
# "modified (hidden text)"; under-reporting would make it "same text". Scripts and external
# stylesheets can change what is shown and are not run or fetched: they are findings too.

#: Rules read from a page's ``<style>`` elements; a page with more is reported as unchecked.
MAX_CSS_RULES = 20_000
#: Characters of CSS read from a page's ``<style>`` elements.
MAX_CSS_CHARS = 2_000_000
_WORDS = re.compile(r"\w")
# Elements the extractor leaves out (page furniture) whose text a browser still shows inside
# the article: a copy could add words there. Headers, footers and navigation are structural
# and are not reported.
_SHOWN_BUT_SKIPPED = _tags("aside button select textarea form svg math")
_JS_TYPES = frozenset({"", "text/javascript", "application/javascript", "module",
                       "text/ecmascript", "application/ecmascript"})
_LENGTH = re.compile(r"(-?[\d.]+)\s*([a-z%]*)")
_COMPOUND = re.compile(
    r"(?P<tag>[a-zA-Z][\w-]*|\*)?(?P<rest>(?:[.#][\w-]+|\[[^\]]*\]|::?[\w-]+(?:\([^)]*\))?)*)"
)
_PART = re.compile(r"[.#][\w-]+|\[[^\]]*\]|::?[\w-]+(?:\([^)]*\))?")
# The CSS named colours (CSS Color 4 §6.1, all 148): a white one outside a short list
# ("floralwhite", "mintcream") would hide text on a white page unseen.
_NAMED_HEX = {
    "aliceblue": 0xf0f8ff, "antiquewhite": 0xfaebd7, "aqua": 0x00ffff, "aquamarine": 0x7fffd4,
    "azure": 0xf0ffff, "beige": 0xf5f5dc, "bisque": 0xffe4c4, "black": 0x000000,
    "blanchedalmond": 0xffebcd, "blue": 0x0000ff, "blueviolet": 0x8a2be2, "brown": 0xa52a2a,
    "burlywood": 0xdeb887, "cadetblue": 0x5f9ea0, "chartreuse": 0x7fff00,
    "chocolate": 0xd2691e, "coral": 0xff7f50, "cornflowerblue": 0x6495ed, "cornsilk": 0xfff8dc,
    "crimson": 0xdc143c, "cyan": 0x00ffff, "darkblue": 0x00008b, "darkcyan": 0x008b8b,
    "darkgoldenrod": 0xb8860b, "darkgray": 0xa9a9a9, "darkgreen": 0x006400,
    "darkgrey": 0xa9a9a9, "darkkhaki": 0xbdb76b, "darkmagenta": 0x8b008b,
    "darkolivegreen": 0x556b2f, "darkorange": 0xff8c00, "darkorchid": 0x9932cc,
    "darkred": 0x8b0000, "darksalmon": 0xe9967a, "darkseagreen": 0x8fbc8f,
    "darkslateblue": 0x483d8b, "darkslategray": 0x2f4f4f, "darkslategrey": 0x2f4f4f,
    "darkturquoise": 0x00ced1, "darkviolet": 0x9400d3, "deeppink": 0xff1493,
    "deepskyblue": 0x00bfff, "dimgray": 0x696969, "dimgrey": 0x696969, "dodgerblue": 0x1e90ff,
    "firebrick": 0xb22222, "floralwhite": 0xfffaf0, "forestgreen": 0x228b22,
    "fuchsia": 0xff00ff, "gainsboro": 0xdcdcdc, "ghostwhite": 0xf8f8ff, "gold": 0xffd700,
    "goldenrod": 0xdaa520, "gray": 0x808080, "green": 0x008000, "greenyellow": 0xadff2f,
    "grey": 0x808080, "honeydew": 0xf0fff0, "hotpink": 0xff69b4, "indianred": 0xcd5c5c,
    "indigo": 0x4b0082, "ivory": 0xfffff0, "khaki": 0xf0e68c, "lavender": 0xe6e6fa,
    "lavenderblush": 0xfff0f5, "lawngreen": 0x7cfc00, "lemonchiffon": 0xfffacd,
    "lightblue": 0xadd8e6, "lightcoral": 0xf08080, "lightcyan": 0xe0ffff,
    "lightgoldenrodyellow": 0xfafad2, "lightgray": 0xd3d3d3, "lightgreen": 0x90ee90,
    "lightgrey": 0xd3d3d3, "lightpink": 0xffb6c1, "lightsalmon": 0xffa07a,
    "lightseagreen": 0x20b2aa, "lightskyblue": 0x87cefa, "lightslategray": 0x778899,
    "lightslategrey": 0x778899, "lightsteelblue": 0xb0c4de, "lightyellow": 0xffffe0,
    "lime": 0x00ff00, "limegreen": 0x32cd32, "linen": 0xfaf0e6, "magenta": 0xff00ff,
    "maroon": 0x800000, "mediumaquamarine": 0x66cdaa, "mediumblue": 0x0000cd,
    "mediumorchid": 0xba55d3, "mediumpurple": 0x9370db, "mediumseagreen": 0x3cb371,
    "mediumslateblue": 0x7b68ee, "mediumspringgreen": 0x00fa9a, "mediumturquoise": 0x48d1cc,
    "mediumvioletred": 0xc71585, "midnightblue": 0x191970, "mintcream": 0xf5fffa,
    "mistyrose": 0xffe4e1, "moccasin": 0xffe4b5, "navajowhite": 0xffdead, "navy": 0x000080,
    "oldlace": 0xfdf5e6, "olive": 0x808000, "olivedrab": 0x6b8e23, "orange": 0xffa500,
    "orangered": 0xff4500, "orchid": 0xda70d6, "palegoldenrod": 0xeee8aa,
    "palegreen": 0x98fb98, "paleturquoise": 0xafeeee, "palevioletred": 0xdb7093,
    "papayawhip": 0xffefd5, "peachpuff": 0xffdab9, "peru": 0xcd853f, "pink": 0xffc0cb,
    "plum": 0xdda0dd, "powderblue": 0xb0e0e6, "purple": 0x800080, "rebeccapurple": 0x663399,
    "red": 0xff0000, "rosybrown": 0xbc8f8f, "royalblue": 0x4169e1, "saddlebrown": 0x8b4513,
    "salmon": 0xfa8072, "sandybrown": 0xf4a460, "seagreen": 0x2e8b57, "seashell": 0xfff5ee,
    "sienna": 0xa0522d, "silver": 0xc0c0c0, "skyblue": 0x87ceeb, "slateblue": 0x6a5acd,
    "slategray": 0x708090, "slategrey": 0x708090, "snow": 0xfffafa, "springgreen": 0x00ff7f,
    "steelblue": 0x4682b4, "tan": 0xd2b48c, "teal": 0x008080, "thistle": 0xd8bfd8,
    "tomato": 0xff6347, "turquoise": 0x40e0d0, "violet": 0xee82ee, "wheat": 0xf5deb3,
    "white": 0xffffff, "whitesmoke": 0xf5f5f5, "yellow": 0xffff00, "yellowgreen": 0x9acd32,
}
_NAMED_COLOURS = {
    name: ((rgb >> 16) & 255, (rgb >> 8) & 255, rgb & 255) for name, rgb in _NAMED_HEX.items()
}
_ZERO_RECT = re.compile(r"rect\(\s*0[a-z]*[\s,]+0[a-z]*[\s,]+0[a-z]*[\s,]+0[a-z]*\s*\)")
_WHITE_RGB = (255, 255, 255)
_BLACK_RGB = (0, 0, 0)

_Colour = tuple[int, int, int] | None  # None: transparent or unknown


@attrs_frozen
class _Rule:
    tag: str | None
    ids: tuple[str, ...]
    classes: tuple[str, ...]
    attributes: tuple[tuple[str, str | None], ...]
    pseudo: str | None  # "before" | "after" | None
    declarations: tuple[tuple[str, str], ...]

    def matches(self, element: _Element) -> bool:
        if self.tag is not None and self.tag != element.tag:
            return False
        if self.ids and element.attrs.get("id") not in self.ids:
            return False
        if self.classes:
            have = set(element.attrs.get("class", "").split())
            if not set(self.classes) <= have:
                return False
        for name, value in self.attributes:
            if name not in element.attrs:
                return False
            if value is not None and element.attrs[name] != value:
                return False
        return True


class StyleSheet:
    """A page's ``<style>`` rules, indexed by the id, class or tag their subject names."""

    def __init__(self) -> None:
        self.by_key: dict[str, list[_Rule]] = {}
        self.count = 0
        #: Every value each custom property (``--name``) is given anywhere on the page.
        self.custom: dict[str, list[str]] = {}

    def define(self, declarations: Sequence[tuple[str, str]]) -> None:
        for name, value in declarations:
            if name.startswith("--"):
                values = self.custom.setdefault(name, [])
                if len(values) < _MAX_CUSTOM_VALUES and value not in values:
                    values.append(value)

    def add(self, rule: _Rule) -> None:
        key = (f"#{rule.ids[0]}" if rule.ids else f".{rule.classes[0]}" if rule.classes
               else rule.tag or "*")
        self.by_key.setdefault(key, []).append(rule)
        self.count += 1

    def rules_for(self, element: _Element) -> list[_Rule]:
        keys = ["*", element.tag]
        if "id" in element.attrs:
            keys.append("#" + element.attrs["id"])
        keys.extend("." + c for c in element.attrs.get("class", "").split())
        found: list[_Rule] = []
        for key in dict.fromkeys(keys):
            found.extend(r for r in self.by_key.get(key, ()) if r.matches(element))
        return found


def stylesheet(root: _Element) -> tuple[StyleSheet, list[HiddenText]]:
    """The page's ``<style>`` rules, and findings for what cannot be checked offline."""
    sheet = StyleSheet()
    findings: list[HiddenText] = []
    css: list[str] = []
    scripts = 0
    for element in root.iter():
        if "--" in element.attrs.get("style", ""):
            sheet.define(_declarations(element.attrs["style"]))
        if element.tag == "style":
            css.append("".join(c for c in element.children if isinstance(c, str)))
        elif element.tag == "script":
            kind = element.attrs.get("type", "").strip().lower()
            if kind in _JS_TYPES:
                scripts += 1
        elif element.tag == "link":
            rel = element.attrs.get("rel", "").lower().split()
            if "stylesheet" in rel:
                findings.append(finding(
                    UNCHECKED, "", f"external stylesheet {element.attrs.get('href', '')!r} "
                    "not read: what it hides or adds cannot be checked"))
    if scripts:
        findings.append(finding(
            UNCHECKED, "", f"{scripts} script(s) not run: they can change the text a browser "
            "shows, which cannot be checked"))
    text = "\n".join(css)
    if len(text) > MAX_CSS_CHARS:
        findings.append(finding(UNCHECKED, "", "style sheet too large to check"))
        return sheet, findings
    for prelude, block in _css_rules(_strip_comments(text)):
        if prelude.startswith("@import"):
            findings.append(finding(UNCHECKED, "", "stylesheet imported with @import not read: "
                                    "what it hides or adds cannot be checked"))
            continue
        _add_rules(sheet, findings, prelude, block, 0)
        if sheet.count > MAX_CSS_RULES:
            findings.append(finding(UNCHECKED, "", "style sheet has too many rules to check"))
            break
    return sheet, findings


_MAX_NESTING = 8
_NESTED = re.compile(r"[^;{}]*\{[^{}]*\}")


def _add_rules(
    sheet: StyleSheet, findings: list[HiddenText], prelude: str, block: str, depth: int
) -> None:
    """The rules of one style rule, nested rules (CSS Nesting: ``.a { & b {...} }``)
    included. A selector that cannot be read, on a rule that hides or colours text, is a
    finding: the rule cannot be matched, so what it hides cannot be checked."""
    selectors = _split_selectors(prelude)
    if "{" in block and depth < _MAX_NESTING:
        for inner, inner_block in _css_rules(block):
            if inner.startswith("@"):
                continue
            for parent in selectors:
                nested = (inner.replace("&", f":is({parent})") if "&" in inner
                          else f"{parent} {inner}")
                _add_rules(sheet, findings, nested, inner_block, depth + 1)
        block = _NESTED.sub("", block)
    declarations = _declarations(block)
    if not declarations:
        return
    sheet.define(declarations)
    for selector in selectors:
        rule = _rule(selector, declarations)
        if rule is not None:
            sheet.add(rule)
        elif (any(_hides_by(n, v) for n, v in declarations)
              or computed_declaration(declarations, sheet.custom) is not None):
            findings.append(finding(
                UNCHECKED, "", f"a style rule whose selector cannot be read ({selector.strip()}) "
                "hides text: what it hides cannot be checked"))


def _split_selectors(prelude: str) -> list[str]:
    """A selector list split at its top-level commas (not inside ``:is(.a, .b)``)."""
    out: list[str] = []
    depth, start = 0, 0
    for i, ch in enumerate(prelude):
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth = max(0, depth - 1)
        elif ch == "," and depth == 0:
            out.append(prelude[start:i])
            start = i + 1
    out.append(prelude[start:])
    return [s for s in out if s.strip()]


def _strip_comments(css: str) -> str:
    out: list[str] = []
    i = 0
    while True:
        j = css.find("/*", i)
        if j < 0:
            out.append(css[i:])
            return "".join(out)
        out.append(css[i:j])
        k = css.find("*/", j + 2)
        if k < 0:
            return "".join(out)
        i = k + 2


def _css_rules(css: str) -> list[tuple[str, str]]:
    """``(prelude, block)`` pairs; grouping at-rules (``@media``...) are flattened, other
    at-rules' blocks skipped; ``@import`` comes back with an empty block. Linear time."""
    rules: list[tuple[str, str]] = []
    i, n = 0, len(css)
    start = 0
    while i < n:
        ch = css[i]
        if ch == ";" and css[start:i].strip().startswith("@"):
            rules.append((css[start:i].strip().lower(), ""))
            start = i + 1
        elif ch == "{":
            prelude = css[start:i].strip()
            if prelude.lower().startswith(("@media", "@supports", "@layer", "@container",
                                           "@document", "@scope", "@starting-style")):
                start = i + 1  # flattened: its rules follow
            else:
                depth, j = 1, i + 1
                while j < n and depth:
                    if css[j] == "{":
                        depth += 1
                    elif css[j] == "}":
                        depth -= 1
                    j += 1
                if not prelude.startswith("@"):
                    rules.append((prelude, css[i + 1 : j - 1]))
                i = j
                start = j
                continue
        elif ch == "}":
            start = i + 1
        i += 1
    return rules


def _declarations(block: str) -> tuple[tuple[str, str], ...]:
    """``property: value`` pairs (lower-cased property, ``!important`` dropped); semicolons
    inside quoted strings do not end a declaration."""
    out: list[tuple[str, str]] = []
    current: list[str] = []
    quote = ""
    for ch in block + ";":
        if quote:
            current.append(ch)
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
            current.append(ch)
        elif ch == ";":
            name, colon, value = "".join(current).partition(":")
            current.clear()
            name = _css_plain(name).strip().lower()
            if colon and name:
                if name != "content":  # content's strings keep their escapes for _content
                    value = _css_plain(value)
                value = re.sub(r"!\s*important\s*$", "", value.strip(), flags=re.I).strip()
                out.append((name, value))
        else:
            current.append(ch)
    return tuple(out)


def _css_plain(text: str) -> str:
    """*text* as CSS reads it: comments removed (``display:/**/none``, also in inline styles)
    and escapes decoded (``no\\ne`` is ``none``, ``\\61`` is ``a``; CSS Syntax §4.3.7)."""
    text = _strip_comments(text)
    if "\\" not in text:
        return text

    def hex_escape(m: re.Match[str]) -> str:
        code = int(m.group(1), 16)
        return chr(code) if 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF else "\ufffd"

    text = re.sub(r"\\([0-9a-fA-F]{1,6})[ \t\n\r\f]?", hex_escape, text)
    return re.sub(r"\\(.)", r"\1", text, flags=re.S)


#: Properties that can hide text or change its colour: a value computed at display time
#: (``var()``, ``calc()``, ...) is not evaluated here, so such a value is reported unchecked.
_HIDING_PROPERTIES = frozenset({
    "display", "visibility", "opacity", "font-size", "font", "color", "background",
    "background-color", "-webkit-text-fill-color", "text-indent", "left", "top", "right",
    "margin-left", "margin-top", "margin", "clip", "clip-path", "transform", "translate",
    "scale", "width", "height", "max-width", "max-height", "filter", "content-visibility",
    "position", "overflow", "letter-spacing", "mask", "mask-image", "zoom",
})
_COMPUTED = re.compile(r"\b(?:var|calc|env|attr|min|max|clamp|if)\(", re.I)


_VAR = re.compile(r"var\(\s*(--[\w-]+)\s*(?:,([^()]*(?:\([^()]*\)[^()]*)*))?\)", re.I)
_MAX_CUSTOM_VALUES = 16
_MAX_CANDIDATES = 64
_SIZES = frozenset({"width", "height", "max-width", "max-height"})
_COLOURS = frozenset({"color", "-webkit-text-fill-color"})


def _candidates(value: str, custom: Mapping[str, Sequence[str]], depth: int = 0) -> list[str]:
    """*value* with each ``var(--x, fallback)`` replaced by every value ``--x`` is given on
    the page (and the fallback); which one applies depends on the cascade, so each counts."""
    match = _VAR.search(value)
    if match is None or depth > 4:
        return [value]
    name, fallback = match.group(1).lower(), match.group(2)
    options = list(custom.get(name, ()))
    if fallback is not None or not options:
        options.append(fallback.strip() if fallback is not None else "")
    out: list[str] = []
    for option in options:
        replaced = value[: match.start()] + option + value[match.end():]
        out.extend(_candidates(replaced, custom, depth + 1))
        if len(out) >= _MAX_CANDIDATES:
            break
    return out[:_MAX_CANDIDATES]


def computed_declaration(
    declarations: Sequence[tuple[str, str]], custom: Mapping[str, Sequence[str]] | None = None
) -> tuple[str, str] | None:
    """A declaration of a property that can hide text whose value is computed at display
    time: ``(HIDDEN, reason)`` if a value its ``var()`` references can take hides the text,
    ``(UNCHECKED, reason)`` if a value cannot be evaluated here (``calc()``, ``env()``, an
    unresolved ``var()``...), None if there is none. Sizes count only with ``overflow``
    hidden, as in :func:`_hidden`."""
    overflow_hidden = any(n == "overflow" and v.strip().lower() in ("hidden", "clip")
                          for n, v in declarations)
    for name, value in declarations:
        if name not in _HIDING_PROPERTIES or not _COMPUTED.search(value):
            continue
        if name in _SIZES and not overflow_hidden:
            continue
        for candidate in _candidates(value, custom or {}):
            if not candidate.strip():
                continue  # an undefined variable: the declaration is invalid, so ignored
            if _COMPUTED.search(candidate):
                return UNCHECKED, (f"{name}:{value}: a value computed by the browser is "
                                   "not evaluated")
            if _hides_by(name, candidate) or (name in _COLOURS and _colour(candidate) is None):
                return HIDDEN, f"{name}:{value} (can be {candidate.strip()})"
    return None


def _alpha(args: str) -> float | None:
    """The alpha of a colour function's arguments (after ``/``, or a fourth comma value)."""
    if "/" in args:
        alpha = args.rsplit("/", 1)[1].strip()
    else:
        parts = [p.strip() for p in args.split(",")]
        if len(parts) != 4:
            return None
        alpha = parts[3]
    try:
        return float(alpha[:-1]) / 100 if alpha.endswith("%") else float(alpha)
    except ValueError:
        return None


def _numbers(args: str) -> list[tuple[float, str]]:
    found = []
    for part in re.split(r"[\s,]+", args.strip()):
        length = _length(part)
        if length is not None:
            found.append(length)
    return found


def _transform_hides(v: str) -> bool:
    """A transform that shrinks its text to nothing or moves it far off the page."""
    for fn, args in re.findall(
            r"\b(scale(?:[xyz]|3d)?|translate(?:[xyz]|3d)?|matrix)\(([^)]*)\)", v):
        values = _numbers(args)
        if fn == "matrix":  # matrix(a, b, c, d, tx, ty): a, b, c, d near 0 shrink it to nothing
            if len(values) == 6 and all(u == "" and abs(n) <= 0.05 for n, u in values[:4]):
                return True
            continue
        if fn.startswith("scale") and any(
            (u == "" and abs(n) <= 0.05) or (u == "%" and abs(n) <= 5) for n, u in values
        ):
            return True
        if fn.startswith("translate") and any(
            _far_off(f"{n}{u}") for n, u in values
        ):
            return True
    return False


def _rule(selector: str, declarations: tuple[tuple[str, str], ...]) -> _Rule | None:
    # The subject: the last compound selector (ancestors are ignored: conservative).
    parts = re.split(r"\s*[>+~]\s*|\s+", selector.strip())
    compound = parts[-1] if parts else ""
    match = _COMPOUND.fullmatch(compound)
    if not compound or match is None:
        return None
    tag = match.group("tag")
    ids: list[str] = []
    classes: list[str] = []
    attributes: list[tuple[str, str | None]] = []
    pseudo: str | None = None
    for part in _PART.findall(match.group("rest") or ""):
        if part.startswith("#"):
            ids.append(part[1:])
        elif part.startswith("."):
            classes.append(part[1:])
        elif part.startswith("["):
            inner = part[1:-1].strip()
            exact = re.fullmatch(r"([\w-]+)\s*=\s*(\"[^\"]*\"|'[^']*'|[\w-]+)", inner)
            if exact:
                attributes.append((exact.group(1).lower(), exact.group(2).strip("\"'")))
            else:  # ^= *= $= ~= |=, a case flag, ...: read as presence only (conservative)
                name_match = re.match(r"[\w-]+", inner)
                attributes.append(((name_match.group(0) if name_match else inner).lower(), None))
        else:
            name = part.lstrip(":").lower()
            if name in ("before", "after", "marker"):
                pseudo = name
            # other pseudo-classes are ignored: the rule applies as if always in effect
    if pseudo is None and not any(_hides_by(name, value) for name, value in declarations) \
            and computed_declaration(declarations) is None \
            and not any(name in ("color", "background", "background-color",
                                 "-webkit-text-fill-color", *_STRING_PROPERTIES)
                        for name, _ in declarations):
        return None  # a rule that neither hides nor colours nothing matters here
    return _Rule(None if tag in (None, "*") else tag.lower(), tuple(ids), tuple(classes),
                 tuple(attributes), pseudo, declarations)


def _length(value: str) -> tuple[float, str] | None:
    match = _LENGTH.match(value.strip().lower())
    if not match:
        return None
    try:
        return float(match.group(1)), match.group(2)
    except ValueError:
        return None


def _tiny_font(value: str) -> bool:
    length = _length(value)
    if length is None:
        return False
    number, unit = length
    limits = {"": 1.0, "px": 1.0, "pt": 0.75, "%": 10.0, "em": 0.1, "rem": 0.1, "ex": 0.2,
              "ch": 0.2, "vw": 0.1, "vh": 0.1, "vmin": 0.1, "vmax": 0.1, "mm": 0.3, "q": 1.0,
              "cm": 0.03, "in": 0.01, "pc": 0.06}
    return number < limits.get(unit, 0.0)


def _far_off(value: str) -> bool:
    length = _length(value)
    if length is not None and length[1] in ("vw", "vh", "vmax"):  # a whole viewport away
        return length[0] <= -100
    return length is not None and length[0] <= -500 and length[1] in ("px", "pt", "em", "rem", "")


def _empty_rect(v: str) -> bool:
    """``clip: rect(top, right, bottom, left)`` that leaves no area: right at or left of left,
    or bottom at or above top (the screen-reader-only ``rect(1px, 1px, 1px, 1px)``)."""
    m = re.fullmatch(r"rect\(([^)]*)\)", v)
    edges = [_length(p) for p in re.split(r"[\s,]+", m.group(1).strip())] if m else []
    if len(edges) != 4 or any(e is None or e[1] not in ("", "px") for e in edges):
        return False
    top, right, bottom, left = (e[0] for e in edges if e is not None)
    return right <= left or bottom <= top


def _inset_covers(v: str) -> bool:
    """``clip-path: inset(...)`` whose percentages meet across the box (top and bottom, or
    left and right, adding up to 100% or more): nothing is left to show."""
    m = re.search(r"inset\(([^)]*)\)", v)
    if not m:
        return False
    values = re.split(r"\s+", m.group(1).split(" round ")[0].strip())
    lengths = [_length(p) for p in values]
    if not 1 <= len(lengths) <= 4 or any(
            x is None or not (x[1] == "%" or x[0] == 0) for x in lengths):
        return False
    pct = [x[0] for x in lengths if x is not None]
    # The CSS box shorthand: 1 value all four; 2 top/bottom, left/right; 3 top, l/r, bottom.
    if len(pct) == 1:
        top = right = bottom = left = pct[0]
    elif len(pct) == 2:
        top, right, bottom, left = pct[0], pct[1], pct[0], pct[1]
    elif len(pct) == 3:
        top, right, bottom, left = pct[0], pct[1], pct[2], pct[1]
    else:
        top, right, bottom, left = pct
    return top + bottom >= 100 or left + right >= 100


def _hides_by(name: str, value: str) -> str | None:  # noqa: PLR0911 (one rule per property)
    """The reason one declaration hides its element's text, if it does."""
    v = " ".join(value.lower().split())
    if name == "display" and v == "none":
        return "display:none"
    if name == "visibility" and v in ("hidden", "collapse"):
        return f"visibility:{v}"
    if name == "opacity":
        length = _length(v)
        if length is not None and (length[0] <= 0.05 if length[1] != "%" else length[0] <= 5):
            return f"opacity:{v}"
    if name == "font-size" and _tiny_font(v):
        return f"font-size:{v}"
    if name == "font" and any(_tiny_font(p.split("/")[0]) for p in v.split()
                              if p[:1].isdigit() or p.startswith(".")):
        return f"font:{v}"
    if name in ("text-indent", "left", "top", "margin-left", "margin-top", "right") and _far_off(v):
        return f"{name}:{v} (off-screen)"
    if name == "clip" and (_ZERO_RECT.fullmatch(v) or _empty_rect(v)):
        return f"clip:{v}"
    if name == "clip-path" and (re.search(r"inset\(\s*50%|circle\(\s*0", v)
                                or _inset_covers(v)):
        return f"clip-path:{v}"
    if name == "transform" and (re.search(r"scale[xy]?\(\s*0(?:\.0*)?\s*[,)]", v)
                                or _transform_hides(v)):
        return f"transform:{v}"
    if name in ("scale", "translate") and _transform_hides(f"{name}({v})"):
        return f"{name}:{v}"
    if name == "zoom":  # zoom:0 is read as 1 by browsers; a tiny one shrinks the text away
        length = _length(v)
        if length is not None and 0 < length[0] <= (5 if length[1] == "%" else 0.05):
            return f"zoom:{v}"
    if name == "filter":
        for args in re.findall(r"\bopacity\(([^)]*)\)", v):
            length = _length(args)
            if length is not None and length[0] <= (5 if length[1] == "%" else 0.05):
                return f"filter:{v}"
    if name == "letter-spacing":  # glyphs drawn over each other: unreadable
        length = _length(v)
        if length is not None and length[0] <= {"em": -0.3, "rem": -0.3, "ch": -0.3,
                                                 "ex": -0.6}.get(length[1], -4.0):
            return f"letter-spacing:{v}"
    if name == "content-visibility" and v == "hidden":
        return "content-visibility:hidden"
    if name == "-webkit-text-fill-color" and _colour(v) is None:
        return f"-webkit-text-fill-color:{v}"
    if name in ("width", "height", "max-width", "max-height"):
        length = _length(v)
        if length is not None and length[0] <= 1 and length[1] in ("", "px"):
            return f"{name}:{v}"  # counted as hiding only with overflow:hidden, see _hidden
    if name == "color" and v == "transparent":
        return "color:transparent"
    return None


def _colour(value: str) -> _Colour | str:  # noqa: PLR0911 (one return per notation)
    """An RGB triple, None for transparent, or the value itself when not understood."""
    v = " ".join(value.lower().split())
    if v in _NAMED_COLOURS:
        return _NAMED_COLOURS[v]
    if v == "transparent":
        return None
    hex_match = re.fullmatch(r"#([0-9a-f]{3,4}|[0-9a-f]{6}|[0-9a-f]{8})", v)
    if hex_match:
        digits = hex_match.group(1)
        if len(digits) in (3, 4):
            digits = "".join(c * 2 for c in digits)
        if len(digits) == 8 and digits[6:] == "00":
            return None
        return (int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16))
    fn = re.fullmatch(r"rgba?\(([^)]*)\)", v)
    if fn:
        parts = [p for p in re.split(r"[\s,/]+", fn.group(1)) if p]
        try:
            rgb = [float(p[:-1]) * 2.55 if p.endswith("%") else float(p) for p in parts[:3]]
            alpha = parts[3] if len(parts) > 3 else "1"
            a = float(alpha[:-1]) / 100 if alpha.endswith("%") else float(alpha)
        except ValueError:
            return v
        if len(rgb) == 3:
            return None if a <= 0.05 else (round(rgb[0]), round(rgb[1]), round(rgb[2]))
    other = re.fullmatch(r"(hsla?|hwb|lab|lch|oklab|oklch|color)\(([^)]*)\)", v)
    if other:
        alpha = _alpha(other.group(2))
        if alpha is not None and alpha <= 0.05:
            return None
        # hsl(), hwb() and color(srgb ...) as RGB (white text written hsl(0 0% 100%) hides
        # as #fff does); lab, lch, oklab, oklch stay not understood.
        converted = _srgb_function(other.group(1), other.group(2))
        if converted is not None:
            return converted
    return v


_HUE_UNITS = {"": 1.0, "deg": 1.0, "grad": 0.9, "rad": 180 / math.pi, "turn": 360.0}


def _srgb_function(name: str, args: str) -> tuple[int, int, int] | None:
    """The RGB of ``hsl()``, ``hwb()`` or ``color(srgb ...)`` arguments (CSS Color 4
    §7.1, §8.1, §10), legacy comma or modern space syntax; None when not read."""
    parts = [p for p in re.split(r"[\s,]+", args.split("/", 1)[0].strip()) if p]
    if name == "color":
        if len(parts) != 4 or parts[0] != "srgb":
            return None
        channels = _fractions(parts[1:4], clamp=False)
        return None if channels is None else _rgb255(channels)
    if name not in ("hsl", "hsla", "hwb") or len(parts) not in (3, 4 if "," in args else 3):
        return None
    hue = _length(parts[0])
    ratios = _fractions(parts[1:3], clamp=True)
    if hue is None or hue[1] not in _HUE_UNITS or ratios is None:
        return None
    h = (hue[0] * _HUE_UNITS[hue[1]]) % 360
    a, b = ratios
    if name != "hwb":
        channels = _hsl_rgb(h, a, b)
    elif a + b >= 1:  # whiteness and blackness fill it: a grey
        channels = [a / (a + b)] * 3
    else:
        channels = [c * (1 - a - b) + a for c in _hsl_rgb(h, 1.0, 0.5)]
    return _rgb255(channels)


def _fractions(parts: Sequence[str], *, clamp: bool) -> list[float] | None:
    """Percentages (or, with *clamp*, plain numbers as percentages; without, as fractions)
    as fractions of 1; None if one is neither."""
    out: list[float] = []
    for p in parts:
        length = _length(p)
        if length is None or length[1] not in ("", "%"):
            return None
        if clamp:
            out.append(min(max(length[0], 0.0), 100.0) / 100)
        else:
            out.append(length[0] / 100 if length[1] == "%" else length[0])
    return out


def _hsl_rgb(h: float, s: float, lightness: float) -> list[float]:
    def f(n: int) -> float:
        k = (n + h / 30) % 12
        return lightness - s * min(lightness, 1 - lightness) * max(-1, min(k - 3, 9 - k, 1))

    return [f(0), f(8), f(4)]


def _rgb255(channels: Sequence[float]) -> tuple[int, int, int]:
    r, g, b = (round(min(max(c, 0.0), 1.0) * 255) for c in channels)
    return (r, g, b)


def _background(value: str) -> _Colour | str | None:
    """The colour in a ``background`` shorthand, if one of its words is a colour."""
    for word in re.findall(r"#[0-9a-f]+|rgba?\([^)]*\)|[a-z]+", value.lower()):
        colour = _colour(word)
        if colour is None or isinstance(colour, tuple):
            return colour
    return "unknown"


def _close(c1: tuple[int, int, int], c2: tuple[int, int, int]) -> bool:
    return all(abs(x - y) <= 8 for x, y in zip(c1, c2, strict=True))


def _styled(
    element: _Element, sheet: StyleSheet
) -> tuple[list[tuple[str, str]], list[_Rule]]:
    """The element's own declarations (its rules' in order, then its inline style) and the
    pseudo-element rules that apply to it."""
    declarations: list[tuple[str, str]] = []
    pseudo: list[_Rule] = []
    for rule in sheet.rules_for(element):
        if rule.pseudo is None:
            declarations.extend(rule.declarations)
        else:
            pseudo.append(rule)
    if element.tag == "font" and "color" in element.attrs:
        declarations.append(("color", element.attrs["color"]))
    if "bgcolor" in element.attrs:
        declarations.append(("background-color", element.attrs["bgcolor"]))
    if "style" in element.attrs:
        declarations.extend(_declarations(element.attrs["style"]))
    return declarations, pseudo


#: Values that name no colour of their own (CSS-wide keywords, ``_background``'s "unknown").
_NOT_A_COLOUR = _tags("unknown inherit initial unset revert revert-layer currentcolor")


def _hidden(
    declarations: list[tuple[str, str]], colour: _Colour | str, background: _Colour | str
) -> tuple[str | None, _Colour | str, _Colour | str]:
    """Why the element is hidden (or None), and the colour and background its text has."""
    overflow_hidden = any(n == "overflow" and v.strip().lower() in ("hidden", "clip")
                          for n, v in declarations)
    for name, value in declarations:
        reason = _hides_by(name, value)
        if reason is None:
            continue
        if name in ("width", "height", "max-width", "max-height") and not overflow_hidden:
            continue
        return reason, colour, background
    fill: _Colour | str | None = None  # -webkit-text-fill-color paints the glyphs over color
    for name, value in declarations:
        if name == "-webkit-text-fill-color":
            fill = _colour(value)
        elif name == "color":
            colour = _colour(value)
        elif name == "background-color":
            parsed = _colour(value)
            if parsed is not None:  # a transparent background shows the one behind it
                background = parsed
        elif name == "background":
            parsed_bg = _background(value)
            if parsed_bg is not None:
                background = parsed_bg
    painted = fill if isinstance(fill, tuple) else colour  # what the glyphs are painted in
    if painted is None:
        return "transparent text colour", colour, background
    if isinstance(painted, tuple) and isinstance(background, tuple) and _close(painted, background):
        return "text colour the same as its background", colour, background
    if isinstance(painted, str) and painted == background and painted not in _NOT_A_COLOUR:
        # the same colour not converted (lab(...) on lab(...)): the same, whatever it is
        return "text colour the same as its background", colour, background
    return None, colour, background


#: Properties whose string values a browser shows as text: list markers and ``<q>`` marks.
_STRING_PROPERTIES = ("list-style-type", "list-style", "quotes")
_INPUT_SHOWS_NO_TEXT = frozenset({"hidden", "checkbox", "radio", "image", "file", "color",
                                  "range"})


def _shown_attributes(element: _Element, declarations: Sequence[tuple[str, str]]) -> str:
    """Text a browser shows for *element* that is not its content: an ``<input>``'s value
    or placeholder, the ``alt`` of an image with no source (shown in its place), and the
    strings of ``list-style-type`` and ``quotes``."""
    shown: list[str] = []
    if element.tag == "input" and (
        element.attrs.get("type", "text").strip().lower() not in _INPUT_SHOWS_NO_TEXT
    ):
        shown.append(element.attrs.get("value") or element.attrs.get("placeholder") or "")
    if element.tag == "img" and not element.attrs.get("src", "").strip():
        shown.append(element.attrs.get("alt", ""))
    for name, value in declarations:
        if name in _STRING_PROPERTIES:
            shown.extend(a or b for a, b in
                         re.findall(r'"((?:[^"\\]|\\.)*)"|\'((?:[^\'\\]|\\.)*)\'', value))
    return " ".join(t for t in shown if t.strip())


def _content(rule: _Rule) -> str:
    """The text a ``::before``/``::after`` rule's ``content`` adds (strings only)."""
    for name, value in reversed(rule.declarations):
        if name == "content":
            strings = re.findall(r'"((?:[^"\\]|\\.)*)"|\'((?:[^\'\\]|\\.)*)\'', value)
            text = "".join(a or b for a, b in strings)
            text = re.sub(r"\\([0-9a-fA-F]{1,6})\s?", lambda m: chr(int(m.group(1), 16))
                          if int(m.group(1), 16) <= 0x10FFFF else "", text)
            text = re.sub(r"\\(.)", r"\1", text)
            if "attr(" in value.lower():
                text += " [attr()]"
            return text
    return ""


def shown_paragraphs(  # noqa: PLR0915 (mirrors _paragraphs, step for step)
    root: _Element, sheet: StyleSheet
) -> tuple[list[str], list[HiddenText]]:
    """The text under *root* as a browser shows it, and what is hidden or generated.

    Mirrors :func:`_paragraphs`: the same elements are left out for the same reasons, and in
    addition elements hidden by the ``hidden`` or ``aria-hidden`` attribute (which extraction
    leaves out but a page can still show) and by CSS (:func:`_hidden`) are findings; text
    added by ``::before``/``::after`` is shown and is a finding.
    """
    blocks: list[str] = []
    current: list[str] = []
    findings: list[HiddenText] = []

    def flush() -> None:
        if current:
            blocks.extend(split_paragraphs("".join(current)))
            current.clear()

    def add_finding(kind: str, text: str, reason: str) -> None:
        if _WORDS.search(text):
            findings.append(finding(kind, text, reason, None, len(blocks) + 1))

    # (node, in <pre>, in <article>, leaving, colour, background)
    Item = tuple[_Element | str, bool, bool, bool, _Colour | str, _Colour | str]
    stack: list[Item] = [
        (root, False, _has_ancestor(root, "article"), False, _BLACK_RGB, _WHITE_RGB)
    ]
    while stack:
        node, pre, in_article, leaving, colour, background = stack.pop()
        if isinstance(node, str):
            current.append(node.replace("\r\n", "\n") if pre else _collapse(node))
            continue
        if leaving:
            if node.tag in _BLOCK:
                flush()
            continue
        if node is not root:
            if "hidden" in node.attrs or node.attrs.get("aria-hidden") == "true":
                why = "hidden attribute" if "hidden" in node.attrs else "aria-hidden"
                add_finding(HIDDEN, _text_of(node), why)
                continue
            if _skipped(node, in_article=in_article):
                if node.tag in _SHOWN_BUT_SKIPPED or (
                    node.tag == "dialog" and "open" in node.attrs
                ):
                    add_finding(UNCHECKED, _text_of(node),
                                f"text shown in <{node.tag}> is left out of the comparison")
                continue
        if node.tag == "rp" and _has_ancestor(node, "ruby"):
            add_finding(HIDDEN, _text_of(node), "<rp> in <ruby> (browsers do not show it)")
            continue
        declarations, pseudo = _styled(node, sheet)
        reason, colour, background = _hidden(declarations, colour, background)
        if reason is not None:
            add_finding(HIDDEN, _text_of(node), reason)
            continue
        computed = computed_declaration(declarations, sheet.custom)
        if computed is not None and computed[0] == HIDDEN:
            add_finding(HIDDEN, _text_of(node), computed[1])
            continue
        if computed is not None:
            add_finding(UNCHECKED, _text_of(node) or node.tag, computed[1])
        if node.tag == "br":
            current.append("\n")
            continue
        if node.tag in _BLOCK:
            flush()
        elif node.tag in _CELLS or node.tag == "img":
            current.append(" ")
        attributes_shown = _shown_attributes(node, declarations)
        if attributes_shown:
            add_finding(GENERATED, attributes_shown,
                        f"shown by <{node.tag}> (attribute or list/quote style), not in the text")
            current.append(f" {attributes_shown} ")
        before = "".join(_content(r) for r in pseudo if r.pseudo in ("before", "marker"))
        after = "".join(_content(r) for r in pseudo if r.pseudo == "after")
        if before:
            add_finding(GENERATED, before, f"CSS ::before or ::marker on <{node.tag}>")
            current.append(before)
        inner_pre = pre or node.tag in ("pre", "listing", "textarea")
        inner_article = in_article or node.tag == "article"
        stack.append((node, pre, in_article, True, colour, background))
        if after:
            stack.append((after, pre, in_article, False, colour, background))
            add_finding(GENERATED, after, f"CSS ::after on <{node.tag}>")
        children = node.children
        if node.tag == "details" and "open" not in node.attrs:
            # A closed <details> shows only its first <summary>.
            summary = next((c for c in children
                            if not isinstance(c, str) and c.tag == "summary"), None)
            children = [summary] if summary is not None else []
            folded = " ".join(c if isinstance(c, str) else _text_of(c)
                              for c in node.children if c is not summary)
            add_finding(HIDDEN, " ".join(folded.split()), "inside a closed <details>")
        stack.extend(
            (child, inner_pre, inner_article, False, colour, background)
            for child in reversed(children)
        )
    flush()
    return blocks, findings


def _text_of(element: _Element) -> str:
    """All text under *element*, hidden or not (for reporting what is hidden)."""
    parts: list[str] = []
    stack: list[_Element | str] = [element]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            parts.append(node)
        elif node.tag not in ("script", "style", "template"):
            stack.extend(reversed(node.children))
    return " ".join(" ".join(parts).split())


# -- briefs ------------------------------------------------------------------------------------


def brief_text(data: bytes, limits: Limits = DEFAULT_LIMITS) -> str:
    """A brief's visible text, with its quotations marked as :mod:`.brief` finds them.

    The article text (as :func:`read_html` chooses it), one block per paragraph separated by
    blank lines, with what the markup says is a quotation made visible the way browsers show
    it: ``<q>`` wrapped in “ ” (‘ ’ when nested in another ``<q>``), every line of a
    ``<blockquote>`` prefixed with ``> `` (once per level). Raises what :func:`read_html`
    raises; the caller runs it in the sandbox.
    """
    blocks = _brief_blocks(_content_root(_parse(decode_html(data))))
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
