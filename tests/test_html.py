"""orderarchive.documents.html: article text and metadata from news pages (read in this process)."""

from __future__ import annotations

import time

import pytest

from orderarchive.documents import DocumentTooLargeError, Limits, UnicodeDocumentError
from orderarchive.documents.html import EXTRACTOR, NO_TEXT_REASON, decode_html, read_html

PAGE = """<!DOCTYPE html>
<html lang="en"><head>
<meta charset="utf-8">
<title>Wu signs executive order | WHDH 7News Boston</title>
<meta property="og:title" content="Wu signs executive order protecting Boston residents">
<meta name="author" content="7News Staff">
<meta property="article:author" content="https://www.facebook.com/7news">
<meta property="article:published_time" content="2026-02-05T17:40:00-05:00">
<meta name="description" content="Mayor Wu signed an executive order on Thursday.">
<link rel="stylesheet" href="/style.css">
<link rel="canonical" href="https://whdh.com/news/wu-signs-executive-order/">
<script>var ad = "<p>not article text</p>";</script>
<style>p { color: red }</style>
</head>
<body>
<header class="site"><nav><a href="/">Home</a> <a href="/news">News</a></nav>
  <h1>WHDH 7News Boston</h1></header>
<form action="/search"><input name="q"><button>Search</button></form>
<main>
<article>
  <header><h1>Wu signs executive order</h1>
    <p class="byline">By 7News Staff, <time datetime="2026-02-06">Feb 6</time></p></header>
  <p>BOSTON (WHDH) - Boston Mayor Michelle Wu signed
     &ldquo;An Executive Order To Protect Bostonians&rdquo; Thursday.
  <p>Wu&#8217;s Office said the order provides direction<br>to Boston officials.
  <aside>Related: <a href="/x">Another story</a></aside>
  <div class="ad" hidden>Advertisement</div>
  <ul><li>Cambridge<li>Chelsea</ul>
  <blockquote>We are standing tall.</blockquote>
  <footer>Share this story</footer>
</article>
</main>
<footer>Copyright 2026 WHDH</footer>
<script>document.write("tracking")</script>
</body></html>
"""


def paragraphs(html: str | bytes) -> tuple[str, ...]:
    data = html.encode("utf-8") if isinstance(html, str) else html
    document = read_html(data)
    assert document.text is not None, document.no_text_reason
    (page,) = document.text.pages
    return page


def test_article_text_without_the_page_around_it() -> None:
    document = read_html(PAGE.encode())
    assert document.media_type == "text/html"
    assert document.extractor == EXTRACTOR
    assert document.text is not None
    assert document.text.pages == (
        (
            "Wu signs executive order",
            "By 7News Staff, Feb 6",
            "BOSTON (WHDH) - Boston Mayor Michelle Wu signed “An Executive Order To Protect "
            "Bostonians” Thursday.",
            "Wu’s Office said the order provides direction\nto Boston officials.",
            "Cambridge",
            "Chelsea",
            "We are standing tall.",
        ),
    )


def test_metadata() -> None:
    meta = read_html(PAGE.encode()).metadata
    assert meta.title == "Wu signs executive order protecting Boston residents"
    assert meta.author == "7News Staff"
    assert meta.date == "2026-02-05"  # as written, not converted to UTC (it is the 6th there)
    assert meta.canonical_url == "https://whdh.com/news/wu-signs-executive-order/"
    assert meta.description == "Mayor Wu signed an executive order on Thursday."
    assert meta.page_count is None


def test_metadata_fallbacks() -> None:
    html = """<html><head><title> Plain   title </title>
    <meta property="article:author" content="https://example.org/staff">
    <meta property="og:url" content="https://example.org/story">
    <link rel="canonical" href="/relative/only"></head>
    <body><p>Text <time datetime="2026-02-04T09:00">Wednesday</time></p></body></html>"""
    meta = read_html(html.encode()).metadata
    assert meta.title == "Plain title"
    assert meta.author is None  # a profile URL is not a name
    assert meta.date == "2026-02-04"
    assert meta.canonical_url == "https://example.org/story"
    assert meta.description is None


def test_title_from_h1_and_date_from_meta_name() -> None:
    html = """<meta name="date" content="2026-02-05"><meta name="DC.creator" content="A. Clerk">
    <h1>Only a heading</h1><p>Body.</p>"""
    meta = read_html(html.encode()).metadata
    assert meta.title == "Only a heading"
    assert meta.date == "2026-02-05"
    assert meta.author == "A. Clerk"


def test_invalid_dates_are_unknown() -> None:
    html = '<meta property="article:published_time" content="2026-13-45"><p>x</p>'
    assert read_html(html.encode()).metadata.date is None


def test_the_article_with_the_most_text_wins() -> None:
    html = """<body><article><p>Teaser.</p></article>
    <article><h2>Story</h2><p>The long story of the executive order.</p></article>
    <article><p>Other teaser.</p></article></body>"""
    assert paragraphs(html) == ("Story", "The long story of the executive order.")


def test_main_then_body() -> None:
    assert paragraphs("<body><div>Menu</div><main><p>Main text.</p></main></body>") == (
        "Main text.",
    )
    assert paragraphs('<div role="main"><p>Role main.</p></div><p>Else.</p>') == ("Role main.",)
    assert paragraphs("<body><div>Just a body.</div></body>") == ("Just a body.",)
    assert paragraphs("No tags at all.\n\nTwo paragraphs.") == ("No tags at all. Two paragraphs.",)


def test_blocks_lines_tables_and_pre() -> None:
    html = """<body><p>A<br>B<br><br>C</p><div>Outer<div>Inner</div>Tail</div>
    <table><tr><th>Section</th><td>1</td></tr><tr><td>Effective</td><td>now</td></table>
    <pre>line one
    line two</pre><p>x&amp;y &nbsp; z</body>"""
    assert paragraphs(html) == (
        "A\nB",
        "C",
        "Outer",
        "Inner",
        "Tail",
        "Section 1",
        "Effective now",
        "line one\nline two",
        "x&y z",
    )


def test_hidden_and_interactive_elements_are_left_out() -> None:
    html = """<body><p>Kept.</p><p aria-hidden="true">Hidden.</p><div hidden>Hidden too.</div>
    <div role="navigation">Menu</div><noscript>Enable JS</noscript><template>T</template>
    <select><option>Choice</option></select><textarea>Typed</textarea>
    <svg><text>Chart</text></svg><iframe>frame</iframe></body>"""
    assert paragraphs(html) == ("Kept.",)


def test_page_header_skipped_but_article_header_kept() -> None:
    html = """<body><header>Site</header><article><header>Headline</header><p>Body.</p>
    <footer>Tags</footer></article></body>"""
    assert paragraphs(html) == ("Headline", "Body.")


def test_xhtml_self_closing_and_stray_end_tags() -> None:
    html = '<?xml version="1.0"?><html><body><p>One<br/>two</p></span><div/><p>Three</br>four</p>'
    assert paragraphs(html) == ("One\ntwo", "Three\nfour")


def test_no_body_has_no_text() -> None:
    document = read_html(b"<html><head><title>Empty shell</title></head></html>")
    assert document.text is None
    assert document.no_text_reason == NO_TEXT_REASON
    assert document.metadata.title == "Empty shell"


def test_only_script_has_no_text() -> None:
    html = b"<html><body><script>render({text: 'x'})</script><style>p{}</style></body></html>"
    document = read_html(html)
    assert document.text is None
    assert document.no_text_reason == NO_TEXT_REASON


def test_deep_nesting_is_linear_and_does_not_recurse() -> None:
    depth = 20_000  # twenty times deeper than Python's recursion limit
    html = "<div>" * depth + "<p>Deep.</p>" + "</div>" * depth
    started = time.monotonic()
    assert paragraphs("<article>" + html + "</article>") == ("Deep.",)
    assert time.monotonic() - started < 10


def test_too_much_text() -> None:
    with pytest.raises(DocumentTooLargeError, match="characters"):
        read_html(b"<p>" + b"word " * 1000, limits=Limits(max_text_chars=100))


# -- charsets ----------------------------------------------------------------------------------


def test_meta_charset() -> None:
    html = '<meta charset="windows-1252"><p>“Quoted” – café</p>'.encode("cp1252")
    assert paragraphs(html) == ("“Quoted” – café",)


def test_http_equiv_charset_and_latin1_label_means_windows_1252() -> None:
    html = (
        '<meta http-equiv="Content-Type" content="text/html; charset=ISO-8859-1">'
        "<p>\x93Quoted\x94</p>"
    ).encode("latin-1")
    assert paragraphs(html) == ("“Quoted”",)


def test_declared_charset_wins_over_meta() -> None:
    html = '<meta charset="utf-8"><p>café</p>'.encode("cp1252")
    assert read_html(html, charset="windows-1252").text is not None
    with pytest.raises(UnicodeDocumentError):
        read_html(html)


def test_byte_order_marks() -> None:
    assert decode_html(b"\xef\xbb\xbf<p>x</p>") == "<p>x</p>"
    assert decode_html("\ufeff<p>ü</p>".encode("utf-16-le")) == "<p>ü</p>"
    assert decode_html("\ufeff<p>ü</p>".encode("utf-16-be")) == "<p>ü</p>"


@pytest.mark.parametrize(
    "label", ["no-such-charset", "utf-16", "zlib", "rot13", "hex", "unicode_escape", "idna"]
)
def test_labels_that_name_no_usable_text_encoding_mean_utf8(label: str) -> None:
    html = f'<meta charset="{label}"><p>é</p>'.encode()
    assert decode_html(html).endswith("é</p>")


def test_charsets_honoured() -> None:
    assert decode_html("<p>é</p>".encode("utf-16-le"), "utf-16-le") == "<p>é</p>"
    assert decode_html("<p>Ж</p>".encode("koi8-r"), "KOI8-R") == "<p>Ж</p>"
    assert decode_html("<p>ő</p>".encode("iso8859-2"), "iso-8859-2") == "<p>ő</p>"
    assert decode_html("<p>日本</p>".encode("shift_jis"), "Shift_JIS") == "<p>日本</p>"


def test_undecodable_bytes_are_an_error_not_replacement_characters() -> None:
    with pytest.raises(UnicodeDocumentError, match=r"not valid utf-8 .*0xe9 at offset 6") as e:
        read_html(b"<p>caf\xe9</p>")
    assert e.value.hint is not None
    assert "charset=" in e.value.hint
