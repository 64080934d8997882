"""Copies that do not look like their text: hidden and generated text is never SAME TEXT.

Real hostile copies: HTML pages as a browser would render them, PDFs with hand-written content
streams, PDFs written by fpdf2, and the specimen order re-written with pypdf so that every text
object uses the invisible render mode.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from fpdf import FPDF
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import ORIGIN, REPO, STORE_KINDS, directory_only, new_archive
from orderarchive.archive import Archive, document_fields
from orderarchive.documents import read_document
from orderarchive.documents.html import read_html, read_html_copy
from orderarchive.documents.pdf import hidden_runs
from orderarchive.errors import DocumentError
from orderarchive.log.note import Signer, VerifierKey
from orderarchive.log.textlayer import TextLayer
from orderarchive.proofs import CopyResult, check_copy
from pdfgen import single_page_pdf


@pytest.fixture(params=STORE_KINDS)
def store_kind(request: pytest.FixtureRequest) -> str:
    """Every test here runs on each storage implementation (issue 13 item 2)."""
    return str(request.param)


PARAS = [
    "Executive Order 2026-01: protecting residents.",
    "Section 1. The City shall not assist the federal commandeering of local resources.",
    "Section 2. City personnel shall prioritize de-escalation in every encounter with residents.",
    "Section 3. Nothing in this order limits the lawful authority of the Police Commissioner.",
]
BODY = "\n\n".join(PARAS) + "\n"
SPECIMEN = REPO / "docs" / "sample" / "sources" / "boston-eo-2026-02-05-SPECIMEN.pdf"


@pytest.fixture
def archive(tmp_path: Path, signer: Signer, store_kind: str) -> Archive:
    archive = new_archive(store_kind, tmp_path / "a")
    archive.add([document_fields(
        BODY.encode(), doc="eo-1", kind="executive-order", title="Order 1", issuer="City",
        issued=None, media_type="text/plain", text=TextLayer.from_text(BODY),
        extractor="orderarchive-text/1")], signer)
    archive.release(signer)
    return archive


def _check(archive: Archive, data: bytes, verifiers: list[VerifierKey], name: str) -> CopyResult:
    return check_copy(archive, data, verifiers, filename=name)


def _hidden_not(result: CopyResult, reason: str) -> None:
    """The copy is modified, says the hidden word and why, and lists "not" as removed."""
    assert result.status == "modified-copy", result
    text = result.text
    assert text is not None and text.hidden, text
    assert any(h.text == "not" and reason in h.reason for h in text.hidden), text.hidden
    assert any(c.op == "removed" and c.official == "not" for c in text.changes), text.changes
    assert all(h.describe() for h in text.hidden)


# -- HTML --------------------------------------------------------------------------------------


def _page(body: str, head: str = "") -> bytes:
    return (f"<!doctype html><html><head><title>Order</title>{head}</head><body><article>"
            f"{body}</article></body></html>").encode()


def _html(replace: tuple[str, str] = ("", ""), head: str = "") -> bytes:
    body = "".join(f"<p>{p}</p>" for p in PARAS)
    if replace[0]:
        assert replace[0] in body
        body = body.replace(*replace)
    return _page(body, head)


def test_plain_html_copy_is_same_text(archive: Archive, verifiers: list[VerifierKey]) -> None:
    result = _check(archive, _html(), verifiers, "c.html")
    assert result.status == "same-text"


@pytest.mark.parametrize(("style", "reason"), [
    ("display:none", "display:none"),
    ("display: NONE !important", "display:none"),
    ("visibility:hidden", "visibility:hidden"),
    ("font-size:0", "font-size:0"),
    ("font-size:0.2px", "font-size"),
    ("opacity:0", "opacity:0"),
    ("color:#fff", "same as its background"),
    ("color:rgb(255, 255, 255)", "same as its background"),
    ("color:transparent", "transparent"),
    ("position:absolute; left:-9999px", "off-screen"),
    ("transform:scale(0)", "transform"),
])
def test_html_inline_hidden_not_is_modified(
    archive: Archive, verifiers: list[VerifierKey], style: str, reason: str
) -> None:
    data = _html(("shall not", f'shall <span style="{style}">not</span>'))
    _hidden_not(_check(archive, data, verifiers, "c.html"), reason)


@pytest.mark.parametrize("colour", [
    "hsl(0 0% 100%)", "hsl(0, 0%, 100%)", "hsla(120deg, 30%, 100%, 1)", "hsl(0.5turn 0% 99%)",
    "hwb(0 100% 0%)", "hwb(90 98% 0%)", "color(srgb 1 1 1)", "color(srgb 100% 100% 100%)",
    "papayawhip;background-color:papayawhip", "DarkSlateGray;background:darkslategrey",
    "mintcream;background-color:MintCream", "hsl(0 0% 20%);background-color:#333",
    "lab(90 10 10);background-color:LAB(90  10 10)",
    "oklch(0.5 0.1 30);background-color:oklch(0.5 0.1 30)",
])
def test_html_white_text_in_colour_functions_is_modified(
    archive: Archive, verifiers: list[VerifierKey], colour: str
) -> None:
    """Review 17: text coloured as its background, written as hsl()/hwb()/color(srgb) or a CSS
    named colour outside the old 16-name table, is hidden as #fff on white is (such colours
    were 'not understood', so a hidden "not" gave SAME TEXT)."""
    data = _html(("shall not", f'shall <span style="color:{colour}">not</span>'))
    _hidden_not(_check(archive, data, verifiers, "c.html"), "same as its background")


@pytest.mark.parametrize(("style", "reason"), [
    ("position:absolute;clip:rect(1px, 1px, 1px, 1px)", "clip"),  # WordPress screen-reader-text
    ("position:absolute;clip:rect(0 0 0 0)", "clip"),
    ("position:absolute;clip:rect(10px 5px 20px 5px)", "clip"),
    ("clip-path:inset(100%)", "clip-path"),
    ("clip-path:inset(50% 0)", "clip-path"),
    ("clip-path:inset(0 60% 0 40%)", "clip-path"),
    ("-webkit-text-fill-color:white", "same as its background"),
    ("-webkit-text-fill-color:hsl(0 0% 100%);color:black", "same as its background"),
    ("transform:matrix(0, 0, 0, 0, 0, 0)", "transform"),
    ("position:absolute;left:-100vw", "off-screen"),
    ("zoom:0.01", "zoom"),
    ("zoom:1%", "zoom"),
])
def test_html_clipped_or_white_filled_not_is_modified(
    archive: Archive, verifiers: list[VerifierKey], style: str, reason: str
) -> None:
    """Review 17: a clip that leaves no area, an inset clip-path whose sides meet, white glyph
    fill: each hid "not" and gave SAME TEXT."""
    data = _html(("shall not", f'shall <span style="{style}">not</span>'))
    _hidden_not(_check(archive, data, verifiers, "c.html"), reason)


def test_html_zoom_computed_by_the_browser_is_not_same_text(
    archive: Archive, verifiers: list[VerifierKey]
) -> None:
    """zoom can hide text, so a zoom the reader cannot evaluate is unchecked, not SAME TEXT."""
    data = _html(("shall not", 'shall <span style="zoom:calc(0.01)">not</span>'))
    result = _check(archive, data, verifiers, "c.html")
    assert result.status != "same-text"
    assert result.text is not None
    assert any(h.kind == "unchecked" and "zoom" in h.reason for h in result.text.hidden)


@pytest.mark.parametrize("style", [
    "position:absolute;clip:rect(0 100px 20px 0)", "clip-path:inset(10% 20%)",
    "clip-path:inset(40% 0 40% 0)", "-webkit-text-fill-color:black;color:white",
    "-webkit-text-fill-color:#333", "transform:matrix(1, 0, 0, 1, 10, 0)", "left:-50vw",
    "zoom:0", "zoom:0.5",
])
def test_html_clips_and_fills_that_show_the_text_are_same_text(
    archive: Archive, verifiers: list[VerifierKey], style: str
) -> None:
    data = _html(("shall not", f'shall <span style="{style}">not</span>'))
    assert _check(archive, data, verifiers, "c.html").status == "same-text"


def test_html_dark_text_in_colour_functions_is_same_text(
    archive: Archive, verifiers: list[VerifierKey]
) -> None:
    for colour in ("hsl(0 0% 0%)", "hsl(210, 50%, 40%)", "hwb(0 0% 100%)", "color(srgb 0 0 .2)",
                   "inherit;background-color:inherit", "lab(20 0 0);background:lab(90 0 0)"):
        data = _html(("shall not", f'shall <span style="color:{colour}">not</span>'))
        assert _check(archive, data, verifiers, "c.html").status == "same-text", colour


def test_html_colour_equal_to_a_dark_background(
    archive: Archive, verifiers: list[VerifierKey]
) -> None:
    data = _html(("<p>Section 1.", '<p style="background:#000 none;color:#fff">Section 1.'),
                 ).replace(b"shall not", b'shall <span style="color:black">not</span>')
    _hidden_not(_check(archive, data, verifiers, "c.html"), "same as its background")
    # White on that black background is visible: the same copy with white "not" is not hidden.
    visible = _html(("<p>Section 1.", '<p style="background-color:#000;color:#fff">Section 1.'))
    assert _check(archive, visible, verifiers, "c.html").status == "same-text"


def test_html_hidden_attribute_and_aria_hidden(
    archive: Archive, verifiers: list[VerifierKey]
) -> None:
    data = _html(("shall not", "shall <span hidden>not</span>"))
    _hidden_not(_check(archive, data, verifiers, "c.html"), "hidden attribute")
    # aria-hidden text is left out of the extracted text but shown on screen: a word added
    # that way must not give SAME TEXT.
    added = _html(("shall not assist", 'shall not <b aria-hidden="true">never</b> assist'))
    result = _check(archive, added, verifiers, "c.html")
    assert result.status == "modified-copy"
    assert result.text is not None
    assert any(h.text == "never" and h.reason == "aria-hidden" for h in result.text.hidden)


@pytest.mark.parametrize("css", [
    ".x { display: none }",
    "/* a comment */ span.x{visibility:hidden}",
    "@media screen { .x { font-size: 0 } }",
    "article p .x { opacity: 0 }",
    "#gone { display: none }",
    "[data-h] { display:none }",
])
def test_html_style_element_rules_hide(
    archive: Archive, verifiers: list[VerifierKey], css: str
) -> None:
    span = '<span class="x" id="gone" data-h="1">not</span>'
    data = _html(("shall not", f"shall {span}"), head=f"<style>{css}</style>")
    result = _check(archive, data, verifiers, "c.html")
    assert result.status == "modified-copy"
    assert result.text is not None and [h.text for h in result.text.hidden] == ["not"]


def test_html_generated_content_adds_words(
    archive: Archive, verifiers: list[VerifierKey]
) -> None:
    # Extracted text: exactly the official text. Shown text: "shall not never assist".
    css = '<style>.g::after { content: " never"; }</style>'
    data = _html(("shall not", 'shall <span class="g">not</span>'), head=css)
    result = _check(archive, data, verifiers, "c.html")
    assert result.status == "modified-copy"
    text = result.text
    assert text is not None
    assert [(h.kind, h.text) for h in text.hidden] == [("generated", "never")]
    assert any(c.op == "added" and c.copy == "never" for c in text.changes)
    before = '<style>.g::before { content: "not "; }</style>'
    removed = _html(("shall not assist", 'shall <span class="g">assist</span>'), head=before)
    result = _check(archive, removed, verifiers, "c.html")
    assert result.status == "modified-copy"
    assert result.text is not None and result.text.hidden[0].kind == "generated"


def test_html_scripts_and_external_styles_are_not_same_text(
    archive: Archive, verifiers: list[VerifierKey]
) -> None:
    for head in ("<script>document.title = 'x'</script>",
                 '<link rel="stylesheet" href="https://example.org/s.css">',
                 "<style>@import url(https://example.org/s.css);</style>"):
        result = _check(archive, _html(head=head), verifiers, "c.html")
        assert result.status == "modified-copy", head
        assert result.text is not None and result.text.hidden[0].kind == "unchecked"
    data = _html(head='<script type="application/ld+json">{"a": 1}</script>')
    assert _check(archive, data, verifiers, "c.html").status == "same-text"


# -- PDF ---------------------------------------------------------------------------------------


def _content(hidden_ops: bytes, *, restore: bytes = b"", size: int = 12,
             where: bytes = b"") -> bytes:
    """A page drawing PARAS one per line, with "not" drawn in its own text object after
    *hidden_ops* (state restored by Q, or by *restore*)."""
    lines = []
    y = 720
    for p in PARAS:
        if "shall not " in p:
            pre, post = p.split("not ", 1)
            lines.append(b"BT /F1 12 Tf 72 %d Td (%s) Tj ET" % (y, pre.encode()))
            at = where or b"260 %d" % y
            lines.append(b"q BT %s /F1 %d Tf %s Td (not ) Tj ET Q %s"
                         % (hidden_ops, size, at, restore))
            lines.append(b"BT /F1 12 Tf 282 %d Td (%s) Tj ET" % (y, post.encode()))
        else:
            lines.append(b"BT /F1 12 Tf 72 %d Td (%s) Tj ET" % (y, p.encode()))
        y -= 40
    return b"\n".join(lines)


def test_pdf_plain_copy_is_same_text(archive: Archive, verifiers: list[VerifierKey]) -> None:
    result = _check(archive, single_page_pdf(_content(b"")), verifiers, "c.pdf")
    assert result.status == "same-text"


@pytest.mark.parametrize(("ops", "reason"), [
    (b"3 Tr", "render mode 3"),
    (b"7 Tr", "render mode 7"),
    (b"1 g", "white text"),
    (b"1 1 1 rg", "white text"),
    (b"0 0 0 0 k", "white text"),
    (b"/DeviceRGB cs 1 1 1 sc", "white text"),
    (b"1 Tr 1 G", "white text"),
    (b"1 0 0 1 0 0 cm 0.01 0 0 0.01 0 0 cm", "font size"),
    (b"0.5 Tz", "horizontal scaling"),
])
def test_pdf_invisible_not_is_modified(
    archive: Archive, verifiers: list[VerifierKey], ops: bytes, reason: str
) -> None:
    data = single_page_pdf(_content(ops))
    _hidden_not(_check(archive, data, verifiers, "c.pdf"), reason)


@pytest.mark.parametrize(("ops", "reason"), [
    (b"0 0 0 0 re W n", "clipped away"),
    (b"1000 Tc", "spacing"),
    (b"", "TJ spacing"),
])
def test_pdf_clipped_or_spaced_off_the_page(
    archive: Archive, verifiers: list[VerifierKey], ops: bytes, reason: str
) -> None:
    content = _content(ops)
    if not ops:  # a TJ adjustment of 100 em after "not" carries nothing visible; before it does
        content = content.replace(b"(not ) Tj", b"[-100000 (not )] TJ")
    _hidden_not(_check(archive, single_page_pdf(content), verifiers, "c.pdf"), reason)


def test_pdf_transparent_by_extgstate(archive: Archive, verifiers: list[VerifierKey]) -> None:
    from pdfgen import raw_pdf

    content = _content(b"/G0 gs")
    data = raw_pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font "
        b"<< /F1 5 0 R >> /ExtGState << /G0 << /ca 0 /CA 0 >> >> >> /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ])
    _hidden_not(_check(archive, data, verifiers, "c.pdf"), "transparent")


def test_pdf_near_zero_font_size(archive: Archive, verifiers: list[VerifierKey]) -> None:
    data = single_page_pdf(_content(b"", size=0))
    _hidden_not(_check(archive, data, verifiers, "c.pdf"), "font size")


def test_pdf_text_outside_the_page_box(archive: Archive, verifiers: list[VerifierKey]) -> None:
    data = single_page_pdf(_content(b"", where=b"700 300"))
    _hidden_not(_check(archive, data, verifiers, "c.pdf"), "outside the page box")
    # The CropBox counts too: inside the MediaBox, outside the CropBox is not shown.
    cropped = single_page_pdf(_content(b"", where=b"300 20"),
                              media_box=b"[0 0 612 792] /CropBox [0 100 612 792]")
    _hidden_not(_check(archive, cropped, verifiers, "c.pdf"), "outside the page box")


def test_pdf_state_restored_by_q_is_visible(
    archive: Archive, verifiers: list[VerifierKey]
) -> None:
    # Invisible mode and white colour set inside q ... Q end there: the rest is visible, so
    # only the text drawn inside is reported, and a copy hiding nothing is the same text.
    visible = _content(b"").replace(b"q BT", b"q 3 Tr 1 g Q q BT")
    assert _check(archive, single_page_pdf(visible), verifiers, "c.pdf").status == "same-text"


def test_fpdf2_white_text_is_modified(archive: Archive, verifiers: list[VerifierKey]) -> None:
    pdf = FPDF(unit="pt", format="Letter")
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    for p in PARAS:
        if "shall not " in p:
            pre, post = p.split("not ", 1)
            pdf.write(14, pre)
            pdf.set_text_color(255, 255, 255)
            pdf.write(14, "not ")
            pdf.set_text_color(0, 0, 0)
            pdf.write(14, post)
        else:
            pdf.write(14, p)
        pdf.ln(28)
    _hidden_not(_check(archive, bytes(pdf.output()), verifiers, "c.pdf"), "white text")


def test_specimen_with_every_text_object_invisible(
    tmp_path: Path, signer: Signer, verifiers: list[VerifierKey]
) -> None:
    import pypdf
    from pypdf.generic import ContentStream, NameObject

    data = SPECIMEN.read_bytes()
    read = read_document(data, filename=SPECIMEN.name)
    archive = Archive.init(tmp_path / "s", ORIGIN)
    archive.add([document_fields(
        data, doc="specimen", kind="executive-order", title="Specimen", issuer="City",
        issued=None, media_type="application/pdf", text=read.text,
        extractor=read.extractor)], signer)
    archive.release(signer)
    writer = pypdf.PdfWriter(clone_from=io.BytesIO(data))
    for page in writer.pages:
        stream = ContentStream(page.get_contents(), writer)
        ops: list[tuple[object, bytes]] = []
        for operands, op in stream.operations:
            ops.append((operands, op))
            if op == b"BT":
                ops.append(([pypdf.generic.NumberObject(3)], b"Tr"))
        stream.operations = ops
        page[NameObject("/Contents")] = writer._add_object(stream)
    out = io.BytesIO()
    writer.write(out)
    invisible = out.getvalue()
    assert read_document(invisible, filename="x.pdf").text == read.text  # extracted alike
    result = check_copy(archive, invisible, verifiers, filename="x.pdf")
    assert result.status == "modified-copy"
    text = result.text
    assert text is not None and text.entry.doc == "specimen"
    assert text.hidden and text.hidden[0].page == 1
    assert "render mode 3" in text.hidden[0].reason
    assert text.changes and text.changes[0].op == "removed"  # nothing of it is shown
    # The specimen itself stays OFFICIAL (decided by its SHA-256).
    assert check_copy(archive, data, verifiers, filename="s.pdf").status == "official"


def test_pdf_invisible_text_inside_a_form_xobject(
    archive: Archive, verifiers: list[VerifierKey]
) -> None:
    from pdfgen import raw_pdf

    # The page draws "not" through a form XObject whose own stream sets render mode 3.
    page = _content(b"").replace(b"q BT  /F1 12 Tf 260 680 Td (not ) Tj ET Q ", b"q /X1 Do Q ")
    assert b"/X1 Do" in page
    form = b"BT 3 Tr /F1 12 Tf 260 680 Td (not ) Tj ET"
    visible_form = b"BT /F1 12 Tf 260 680 Td (not ) Tj ET"

    def pdf(form_stream: bytes) -> bytes:
        return raw_pdf([
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font "
            b"<< /F1 5 0 R >> /XObject << /X1 6 0 R >> >> /Contents 4 0 R >>",
            b"<< /Length %d >>\nstream\n%s\nendstream" % (len(page), page),
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
            b"<< /Type /XObject /Subtype /Form /BBox [0 0 612 792] /Resources << /Font "
            b"<< /F1 5 0 R >> >> /Length %d >>\nstream\n%s\nendstream"
            % (len(form_stream), form_stream),
        ])

    assert _check(archive, pdf(visible_form), verifiers, "c.pdf").status == "same-text"
    result = _check(archive, pdf(form), verifiers, "c.pdf")
    assert result.status == "modified-copy"
    assert result.text is not None
    assert [(h.text, "form XObject" in h.reason) for h in result.text.hidden] == [("not", True)]


def test_html_words_in_page_furniture_inside_the_article(
    archive: Archive, verifiers: list[VerifierKey]
) -> None:
    # The extractor leaves <aside> and <button> out; a browser shows them inline when styled.
    data = _html(("shall not assist", 'shall not <aside style="display:inline">ever</aside> '
                  "assist"))
    result = _check(archive, data, verifiers, "c.html")
    assert result.status == "modified-copy"
    assert result.text is not None
    assert [(h.kind, h.text) for h in result.text.hidden] == [("unchecked", "ever")]
    assert "<aside>" in result.text.hidden[0].describe()


@directory_only  # the CLI runs on the directory store
def test_cli_check_shows_hidden_text(archive: Archive, verifiers: list[VerifierKey],
                                     tmp_path: Path, signer: Signer) -> None:
    import json

    from click.testing import CliRunner

    from orderarchive.cli import cli

    key = tmp_path / "k.vkey"
    key.write_text(str(signer.verifier()) + "\n")
    copy = tmp_path / "c.html"
    copy.write_bytes(_html(("shall not", 'shall <span style="display:none">not</span>')))
    base = ["--archive", str(tmp_path / "a")]
    out = CliRunner().invoke(cli, [*base, "check", "--trusted-key", str(key), str(copy)])
    assert out.exit_code == 1
    assert "MODIFIED COPY (hidden text)" in out.output
    assert "paragraph 2 of the copy: hidden text \u201cnot\u201d (display:none)" in out.output
    assert "removed \u201cnot\u201d" in out.output
    out = CliRunner().invoke(cli, [*base, "--json", "check", "--trusted-key", str(key),
                                   str(copy)])
    assert out.exit_code == 1
    text = json.loads(out.output)["files"][0]["text"]
    assert text["status"] == "modified-copy"
    assert text["hidden_text"][0]["text"] == "not" and text["hidden_count"] == 1


# -- the readers stay total on hostile input ---------------------------------------------------

_FRAGMENTS = [
    "<p>", "</p>", "<span", ">", "</span>", " style=\"", "\"", "display:none", ";", "color:",
    "#fff", "rgb(1,2", ")", "font-size:0", "<style>", "</style>", ".x{", "}", "{", "@media",
    "::after", "content:'", "'", "\\", "/*", "*/", "<div class=x>", "<aside>", "not", " ",
    "hidden", "<script>", "</script>", "<svg><text>", "word", "!important", "opacity:.",
]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(_FRAGMENTS), max_size=60))
def test_html_copy_reader_is_total_and_leaves_ingest_alone(parts: list[str]) -> None:
    data = ("<html><body><article>" + "".join(parts)).encode()
    try:
        plain = read_html(data)
    except DocumentError:
        return
    copy = read_html_copy(data)
    assert copy.document == plain  # the signed text layer is read exactly as at ingest
    assert all(h.kind in ("hidden", "generated", "unchecked") for h in copy.hidden)
    assert (copy.visible is None) == (not copy.hidden)


_OPS = [
    (["/F1", 12], b"Tf"), ([3], b"Tr"), ([0], b"Tr"), ([1], b"g"), ([0, 0, 1], b"rg"),
    (["/P0"], b"cs"), ([1], b"sc"), ([], b"q"), ([], b"Q"), ([], b"BT"), ([], b"ET"),
    ([1, 0, 0, 1, 5, 5], b"cm"), ([0, 0, 0, 0, 0, 0], b"Tm"), ([10, -700], b"Td"),
    ([12], b"TL"), ([], b"T*"), (["x"], b"Tj"), (["x"], b"'"), ([1, 2, "x"], b'"'),
    ([float("nan")], b"Tz"), (["/X9"], b"Do"), ([], b"Tf"), (["a", "b"], b"Tr"),
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(range(len(_OPS))), max_size=40))
def test_pdf_hidden_walk_is_total(picks: list[int]) -> None:
    class Page(dict[str, object]):
        mediabox = cropbox = None  # a broken box: positions are not judged

    found = hidden_runs([_OPS[i] for i in picks], Page())
    assert all(0 <= n < len(picks) and reason for n, reason in found.items())
