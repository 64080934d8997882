"""Wrong answers found by the adversarial review of issues 11 and 12, each held here.

Each test reproduces an attack that got a "yes" (or an unqualified answer) out of the merged
code, with the smallest input that shows it.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import ORIGIN, REPO, text_request
from orderarchive.archive import Archive, document_fields
from orderarchive.cli import cli
from orderarchive.log.note import Signer, VerifierKey
from orderarchive.log.textlayer import TextLayer
from orderarchive.proofs import check_copy

FORGED = "The City agrees to assist federal agents in every case.\n"
FORGED_QUOTE = "The City agrees to assist federal agents in every case"
BODY = (
    "Executive Order 2026-01: protecting residents.\n\n"
    "Section 1. The City shall not assist the federal commandeering of local resources.\n\n"
    "Section 2. City personnel shall prioritize de-escalation in every encounter.\n"
)


@pytest.fixture
def attackers_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An attacker's archive with the right origin and his own key, and the key only inside
    the archive; the working directory beside it holds ./keys for the test to fill."""
    signer = Signer.generate(ORIGIN)
    root = tmp_path / "repo"
    archive = Archive.init(root / "archive", ORIGIN)
    archive.add([text_request(1, doc="forged", body=FORGED)], signer)
    archive.release(signer)
    (root / "archive" / "origin.vkey").write_text(signer.verifier().to_string() + "\n")
    (root / "keys").mkdir()
    monkeypatch.chdir(root)
    return root


@pytest.mark.parametrize("how", ["file-symlink", "dir-symlink-inside-keys"])
def test_a_key_symlinked_into_the_archive_is_not_trusted(attackers_repo: Path, how: str) -> None:
    """./keys holding a symlink to a key inside the archive under test: the key is the
    archive's own, so nothing it signs is verified (was: EXACT, exit 0)."""
    keys = attackers_repo / "keys"
    if how == "file-symlink":
        (keys / "origin.vkey").symlink_to(attackers_repo / "archive" / "origin.vkey")
    else:
        (keys / "more").symlink_to(attackers_repo / "archive")
        (keys / "origin.vkey").symlink_to(Path("more") / "origin.vkey")
    r = CliRunner().invoke(cli, ["quote", FORGED_QUOTE])
    assert r.exit_code == 2, (r.exit_code, r.output)
    assert r.stdout == ""
    (line,) = r.stderr.strip().splitlines()
    assert line.startswith("error: ") and "inside the archive" in line


def test_a_key_beside_the_archive_is_still_trusted(attackers_repo: Path) -> None:
    """The control: the same key as a regular file in ./keys is the user's choice to trust."""
    shutil.copy(attackers_repo / "archive" / "origin.vkey", attackers_repo / "keys")
    r = CliRunner().invoke(cli, ["quote", FORGED_QUOTE])
    assert r.exit_code == 0, r.output


# -- HTML copies: hiding CSS the merged detector did not read (issue 11 item 6) ---------------

#: Each hides "not" from a browser's reader; each was answered SAME TEXT, "exactly the signed
#: text". The second member is a <style> for the head.
HIDING = {
    "comment-in-value": ('<span style="display:/**/none">not</span>', ""),
    "escape-in-value": ('<span style="display:no\\ne">not</span>', ""),
    "escape-in-name": ('<span style="displ\\61y:none">not</span>', ""),
    "custom-property-inline": ('<span style="--x:none;display:var(--x)">not</span>', ""),
    "custom-property-rule": ('<span class="h">not</span>',
                             "<style>:root{--h:none} .h{display:var(--h)}</style>"),
    "calc-font-size": ('<span style="font-size:calc(0px)">not</span>', ""),
    "hsla-transparent": ('<span style="color:hsla(0,0%,0%,0)">not</span>', ""),
    "hsl-slash-transparent": ('<span style="color:hsl(0 0% 0% / 0)">not</span>', ""),
    "filter-opacity": ('<span style="filter:opacity(0)">not</span>', ""),
    "text-fill-transparent": ('<span style="-webkit-text-fill-color:transparent">not</span>', ""),
    "content-visibility": ('<span style="display:inline-block;content-visibility:hidden">'
                           "not</span>", ""),
    "scale-tiny": ('<span style="display:inline-block;transform:scale(0.001)">not</span>', ""),
    "translate-off-screen": ('<span style="display:inline-block;transform:translateX(-9999px)">'
                             "not</span>", ""),
    "closed-details": ("<details><summary></summary>not</details>", ""),
    "ruby-rp": ("<ruby><rp>not</rp></ruby>", ""),
    "letter-spacing-overlap": ('<span style="letter-spacing:-1em">not</span>', ""),
    "attribute-prefix": ('<span class="hx">not</span>',
                         "<style>span[class^=h]{display:none}</style>"),
    "attribute-contains": ('<span data-k="zhz">not</span>',
                           '<style>[data-k*="h"]{display:none}</style>'),
    "attribute-case-flag": ('<span data-k="H">not</span>',
                            '<style>[data-k="h" i]{display:none}</style>'),
    "is-list": ('<span class="a">not</span>', "<style>:is(.a,.b){display:none}</style>"),
    "where-list": ('<span class="a">not</span>', "<style>span:where(.a, .b){display:none}</style>"),
    "escaped-class-selector": ('<span class="h">not</span>', "<style>.\\68 {display:none}</style>"),
    "nested-rule": ('<span class="s"><b>not</b></span>', "<style>.s{ & b {display:none} }</style>"),
    "input-value": ('not <input value="ever">', ""),
    "input-placeholder": ('not <input placeholder="ever">', ""),
    "image-alt-without-source": ('not <img alt="ever">', ""),
    "marker-content": ("not", "<style>p::marker{content:'NEVER: '}</style>"),
    "list-style-string": ("not", "<style>p{display:list-item;list-style-type:'NEVER: '}</style>"),
    "quotes-property": ('not <q class="w"></q>', '<style>q.w{quotes:"ever" ""}</style>'),
    "scope-rule": ('<span class="s">not</span>',
                   "<style>@scope (article){.s{display:none}}</style>"),
}


@pytest.fixture
def html_archive(tmp_path: Path) -> tuple[Archive, list[VerifierKey]]:
    signer = Signer(name=ORIGIN, seed=bytes(range(32)))
    archive = Archive.init(tmp_path / "a", ORIGIN)
    archive.add([document_fields(
        BODY.encode(), doc="eo-1", kind="executive-order", title="Order 1", issuer="City",
        issued=None, media_type="text/plain", text=TextLayer.from_text(BODY),
        extractor="orderarchive-text/1")], signer)
    archive.release(signer)
    return archive, [signer.verifier()]


def _page(span: str, head: str) -> bytes:
    body = "".join(f"<p>{p}</p>" for p in BODY.split("\n\n"))
    assert "shall not assist" in body
    body = body.replace("shall not assist", f"shall {span} assist")
    return (f"<!doctype html><html><head><title>Order</title>{head}</head><body><article>"
            f"{body}</article></body></html>").encode()


@pytest.mark.parametrize("name", sorted(HIDING))
def test_html_hidden_by_unlisted_css_is_never_same_text(
    html_archive: tuple[Archive, list[VerifierKey]], name: str
) -> None:
    archive, verifiers = html_archive
    result = check_copy(archive, _page(*HIDING[name]), verifiers, filename="c.html")
    assert result.status == "modified-copy", (name, result.status)
    assert result.text is not None and result.text.hidden, name


@pytest.mark.parametrize("span", [
    '<span style="display:/**/inline">not</span>',
    '<span style="color:hsl(0 0% 0%)">not</span>',
    '<span style="display:inline-block;transform:scale(1.1)">not</span>',
    '<span style="filter:opacity(1)">not</span>',
    '<span style="letter-spacing:0.1em">not</span>',
    '<span style="--c:#333;color:var(--c)">not</span>',
    '<span style="color:var(--undefined)">not</span>',
    '<span style="display:inline-block;width:calc(100% - 2em)">not</span>',
    "<details open><summary></summary>not</details>",
    '<span style="font-size:calc(1em + 2px)">not</span>',
])
def test_html_shown_by_the_same_css_is_still_same_text(
    html_archive: tuple[Archive, list[VerifierKey]], span: str
) -> None:
    """The controls: the same properties with values that show the text (no false alarm);
    var() is resolved against the page's custom properties, and a size computed by calc()
    counts only with overflow hidden; a calc() font size is not evaluated and says so."""
    archive, verifiers = html_archive
    result = check_copy(archive, _page(span, ""), verifiers, filename="c.html")
    if "font-size:calc(" in span:
        assert result.status == "modified-copy"
        assert result.text is not None and result.text.hidden[0].kind == "unchecked"
    else:
        assert result.status == "same-text", (span, result)


# -- evidence: an act left out of the file (issue 11 item 1) -----------------------------------


def test_evidence_stripped_of_its_amendment_does_not_say_plainly_in_force(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Evidence for an amended order, its ``status`` edited to ``in-force`` with no act: every
    signed part still verifies, so the file is VERIFIED, but "in force" is only the absence of
    an act in the file and must say so (was: a plain "status in release 2: in force")."""
    signer = Signer(name=ORIGIN, seed=bytes(range(32)))
    archive = Archive.init(tmp_path / "archive", ORIGIN)
    archive.add([
        text_request(1, doc="eo-1", body=BODY),
        text_request(2, doc="eo-2", relations=(("amends", "eo-1"),)),
    ], signer)
    archive.release(signer)
    vkey = tmp_path / "origin.vkey"
    vkey.write_text(signer.verifier().to_string() + "\n")
    monkeypatch.chdir(tmp_path)
    base = ["--archive", "archive", "--keys", str(tmp_path / "nokeys")]
    quote = "City personnel shall prioritize de-escalation in every encounter"
    made = CliRunner().invoke(cli, [*base, "cite", "eo-1", "--quote", quote, "-o", "ev",
                                    "--trusted-key", str(vkey)])
    assert made.exit_code == 0, made.output
    evidence = json.loads((tmp_path / "ev").read_text())
    assert evidence["status"]["status"] == "amended"
    evidence["status"] = {"changed_by": [], "status": "in-force"}
    (tmp_path / "ev").write_text(json.dumps(evidence))
    r = CliRunner().invoke(cli, [*base, "verify-evidence", "ev", "--trusted-key", str(vkey)])
    assert r.exit_code == 0, r.output
    (line,) = [x for x in r.stdout.splitlines() if "status in release" in x]
    assert "in force as far as this evidence shows" in line, line
    assert "cannot be detected" in line


# -- the cache directory itself (issue 11 item 1) ----------------------------------------------


def _amended_archive(tmp_path: Path) -> tuple[Path, Path]:
    signer = Signer(name=ORIGIN, seed=bytes(range(32)))
    archive = Archive.init(tmp_path / "archive", ORIGIN)
    archive.add([
        text_request(1, doc="eo-1", body=BODY),
        text_request(2, doc="eo-2", relations=(("amends", "eo-1"),)),
    ], signer)
    archive.release(signer)
    keys = tmp_path / "keys"
    keys.mkdir()
    (keys / "origin.vkey").write_text(signer.verifier().to_string() + "\n")
    return tmp_path / "archive", keys


def test_an_index_in_a_cache_directory_others_can_write_is_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cache directory writable by others (a shared ``$ORDERARCHIVE_CACHE``, a directory
    another user made): whoever can write the directory can swap the index file between our
    checks and SQLite's open, or plant its -wal; an index there whose relations were deleted
    made ``show`` say "in force" for an amended order. Such a directory is not used: the index
    is built in memory for the command."""
    archive, keys = _amended_archive(tmp_path)
    shared = tmp_path / "shared-cache"
    monkeypatch.setenv("ORDERARCHIVE_CACHE", str(shared))
    base = ["--archive", str(archive), "--keys", str(keys)]
    first = CliRunner().invoke(cli, [*base, "--json", "show", "eo-1"])
    assert first.exit_code == 0 and json.loads(first.stdout)["status"] == "amended"
    (cached,) = shared.glob("*.sqlite")
    with sqlite3.connect(cached) as conn:
        conn.execute("DELETE FROM relations")
    shared.chmod(0o777)
    r = CliRunner().invoke(cli, [*base, "--json", "show", "eo-1"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["status"] == "amended"


# -- PDF copies: annotations and optional content (issue 11 item 6) ----------------------------

SPECIMEN = REPO / "docs" / "sample" / "sources" / "boston-eo-2026-02-05-SPECIMEN.pdf"


def _specimen_archive(tmp_path: Path) -> tuple[Archive, list[VerifierKey]]:
    from orderarchive.documents import read_document

    signer = Signer(name=ORIGIN, seed=bytes(range(32)))
    archive = Archive.init(tmp_path / "a", ORIGIN)
    data = SPECIMEN.read_bytes()
    read = read_document(data, media_type="application/pdf", isolate=False)
    assert read.text is not None
    archive.add([document_fields(
        data, doc="eo-1", kind="executive-order", title="Order 1", issuer="City", issued=None,
        media_type="application/pdf", text=read.text, extractor=read.extractor)], signer)
    archive.release(signer)
    return archive, [signer.verifier()]


def _form_stream(writer: object, content: bytes) -> object:
    from pypdf.generic import ArrayObject, DecodedStreamObject, FloatObject, NameObject

    ap = DecodedStreamObject()
    ap.set_data(content)
    ap.update({
        NameObject("/Type"): NameObject("/XObject"), NameObject("/Subtype"): NameObject("/Form"),
        NameObject("/BBox"): ArrayObject([FloatObject(v) for v in (0, 0, 612, 792)]),
    })
    return writer._add_object(ap)  # type: ignore[attr-defined]


def _with_annotation(subtype: str, content: bytes, flags: int = 4) -> bytes:
    """The specimen with one annotation over the whole page, drawn by *content*."""
    import io

    import pypdf
    from pypdf.generic import ArrayObject, DictionaryObject, FloatObject, NameObject, NumberObject

    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(SPECIMEN))
    annot = DictionaryObject({
        NameObject("/Type"): NameObject("/Annot"), NameObject("/Subtype"): NameObject(subtype),
        NameObject("/Rect"): ArrayObject([FloatObject(v) for v in (0, 0, 612, 792)]),
        NameObject("/F"): NumberObject(flags),
        NameObject("/AP"): DictionaryObject({NameObject("/N"): _form_stream(writer, content)}),
    })
    writer.pages[0][NameObject("/Annots")] = ArrayObject([writer._add_object(annot)])
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _with_layer_off() -> bytes:
    """The specimen with page 1's content in an optional content group that is off."""
    import io

    import pypdf
    from pypdf.generic import (
        ArrayObject,
        DecodedStreamObject,
        DictionaryObject,
        NameObject,
        TextStringObject,
    )

    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(SPECIMEN))
    ocg = writer._add_object(DictionaryObject({
        NameObject("/Type"): NameObject("/OCG"), NameObject("/Name"): TextStringObject("L")}))
    writer._root_object[NameObject("/OCProperties")] = DictionaryObject({
        NameObject("/OCGs"): ArrayObject([ocg]),
        NameObject("/D"): DictionaryObject({NameObject("/OFF"): ArrayObject([ocg])}),
    })
    page = writer.pages[0]
    page["/Resources"][NameObject("/Properties")] = DictionaryObject({NameObject("/L1"): ocg})
    contents = page.get_contents()
    assert contents is not None
    stream = DecodedStreamObject()
    stream.set_data(b"/OC /L1 BDC\n" + contents.get_data() + b"\nEMC\n")
    page[NameObject("/Contents")] = writer._add_object(stream)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.mark.parametrize("name", ["free-text-annotation", "white-square-annotation", "layer-off"])
def test_pdf_annotations_and_hidden_layers_are_never_same_text(tmp_path: Path, name: str) -> None:
    """Text an annotation draws over the page (or a white box it draws over the text) and text
    in an optional content group that is off are not in what the extractor reads: each was
    SAME TEXT, "exactly the signed text"."""
    archive, verifiers = _specimen_archive(tmp_path)
    data = {
        "free-text-annotation": lambda: _with_annotation(
            "/FreeText", b"BT /Helv 40 Tf 0 0 0 rg 50 400 Td (NOT) Tj ET"),
        "white-square-annotation": lambda: _with_annotation(
            "/Square", b"1 1 1 rg 0 0 612 792 re f"),
        "layer-off": _with_layer_off,
    }[name]()
    result = check_copy(archive, data, verifiers, filename="c.pdf")
    assert result.status == "modified-copy", (name, result.status)
    assert result.text is not None and result.text.hidden, name


def test_pdf_hidden_or_link_annotations_are_still_same_text(tmp_path: Path) -> None:
    """The controls: an annotation flagged hidden, and a link, draw nothing over the text."""
    archive, verifiers = _specimen_archive(tmp_path)
    for subtype, flags in (("/Square", 2 | 4), ("/Link", 4)):
        data = _with_annotation(subtype, b"" if subtype == "/Link" else b"0 0 0 rg 0 0 9 9 re f",
                                flags)
        assert check_copy(archive, data, verifiers, filename="c.pdf").status == "same-text"


# -- briefs: the quotation a reader sees is the one checked (issue 12) -------------------------

QUOTED = "The City shall not assist the federal commandeering of local resources"


def _brief_pdf(hidden_not: bool) -> bytes:
    from pdfgen import single_page_pdf

    pre = 'The brief says "The City shall '
    post = 'assist the federal commandeering of local resources."'
    mode = b"3 Tr " if hidden_not else b""
    return single_page_pdf(
        b"BT /F1 12 Tf 72 720 Td (" + pre.encode() + b") Tj ET "
        b"BT /F1 12 Tf " + mode + b"250 720 Td (not ) Tj ET "
        b"BT /F1 12 Tf 272 720 Td (" + post.encode() + b") Tj ET"
    )


@pytest.mark.parametrize("kind", ["html-inline-style", "html-style-rule", "html-generated",
                                  "pdf-invisible"])
def test_a_brief_that_hides_text_in_a_quotation_is_not_certified(
    html_archive: tuple[Archive, list[VerifierKey]], kind: str
) -> None:
    """An opponent's brief shows "The City shall assist ..." (a reversal) while its text holds
    "not": cite-check answered EXACT, exit 0, for a quotation no reader of the brief sees."""
    from orderarchive.citing import check_brief
    from orderarchive.errors import DocumentError

    archive, verifiers = html_archive
    page = ("<!doctype html><html><head><title>Brief</title>{head}</head><body><article>"
            "<p>The order says <q>The City shall {span} assist the federal commandeering of "
            "local resources</q>.</p></article></body></html>")
    if kind == "pdf-invisible":
        data, name = _brief_pdf(hidden_not=True), "brief.pdf"
    else:
        head, span = {
            "html-inline-style": ("", '<span style="display:none">not</span>'),
            "html-style-rule": ("<style>.x{visibility:hidden}</style>",
                                '<span class="x">not</span>'),
            "html-generated": ('<style>.y::before{content:"never "}</style>',
                               '<span class="y">not</span>'),
        }[kind]
        data, name = page.format(head=head, span=span).encode(), "brief.html"
    with pytest.raises(DocumentError, match="hides or adds text") as refused:
        check_brief(archive, data, name, verifiers=verifiers)
    assert "copy" not in str(refused.value)  # a brief, not a copy (was: "of the copy")
    assert "of the brief:" in str(refused.value)


def test_a_brief_without_hidden_text_is_still_checked(
    html_archive: tuple[Archive, list[VerifierKey]]
) -> None:
    from orderarchive.citing import check_brief

    archive, verifiers = html_archive
    page = ("<!doctype html><html><head><title>Brief</title></head><body><article>"
            f"<p>The order says <q>{QUOTED}</q>.</p></article></body></html>")
    report = check_brief(archive, page.encode(), "brief.html", verifiers=verifiers)
    assert [i.status for i in report.items] == ["exact"] and report.ok
    report = check_brief(archive, _brief_pdf(hidden_not=False), "brief.pdf", verifiers=verifiers)
    assert [i.status for i in report.items] == ["exact"] and report.ok


def _pdf_copy(clip: bytes) -> bytes:
    """BODY drawn one paragraph a line, "not" in its own text object under *clip*."""
    from pdfgen import single_page_pdf

    lines, y = [], 720
    for p in BODY.strip().split("\n\n"):
        if "shall not " in p:
            pre, post = p.split("not ", 1)
            lines.append(b"BT /F1 12 Tf 72 %d Td (%s) Tj ET" % (y, pre.encode()))
            lines.append(b"q %s BT /F1 12 Tf 260 %d Td (not ) Tj ET Q" % (clip, y))
            lines.append(b"BT /F1 12 Tf 282 %d Td (%s) Tj ET" % (y, post.encode()))
        else:
            lines.append(b"BT /F1 12 Tf 72 %d Td (%s) Tj ET" % (y, p.encode()))
        y -= 40
    return single_page_pdf(b"\n".join(lines))


@pytest.mark.parametrize(("clip", "same"), [
    (b"0 0 10 10 re W n", False),  # a real clipping rectangle far from the word
    (b"300 0 200 792 re W n", False),  # beside it
    (b"2 0 0 2 0 0 cm 0 0 5 5 re W n 0.5 0 0 0.5 0 0 cm", False),  # scaled, then undone
    (b"0 0 612 792 re W n", True),  # the whole page: shown
    (b"250 670 100 40 re W n", True),  # around the word (y = 680): shown
])
def test_pdf_text_outside_its_clipping_rectangle(
    html_archive: tuple[Archive, list[VerifierKey]], clip: bytes, same: bool
) -> None:
    """Only an *empty* clipping rectangle was read as hiding: "not" clipped by a rectangle
    elsewhere on the page was SAME TEXT, "exactly the signed text"."""
    archive, verifiers = html_archive
    result = check_copy(archive, _pdf_copy(clip), verifiers, filename="c.pdf")
    assert result.status == ("same-text" if same else "modified-copy"), (clip, result.status)


# -- add --dry-run promises what add does (issue 11 item 7, issue 14 item 4) -------------------


def test_dry_run_refuses_a_title_with_control_characters(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``add --dry-run`` said "1 document(s) would be added" for an HTML page whose <title>
    paints a green OFFICIAL with escape sequences; the add itself refuses it."""
    archive = Archive.init(tmp_path / "archive", ORIGIN)
    vkey = tmp_path / "keys" / "origin.vkey"
    vkey.parent.mkdir()
    vkey.write_text(Signer(name=ORIGIN, seed=bytes(range(32))).verifier().to_string() + "\n")
    page = tmp_path / "page.html"
    page.write_bytes(b"<html><head><title>\x1b[2K\x1b[32mOFFICIAL</title></head><body>"
                     b"<p>Some words of an article about the order.</p></body></html>")
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(cli, ["--archive", str(archive.path), "--keys", str(vkey.parent),
                                 "add", str(page), "--kind", "article", "--issuer", "X",
                                 "--dry-run"])
    assert r.exit_code == 2, r.output
    assert "control" in r.stderr and "would add" not in r.stdout


# -- briefs: quotations in guillemets are found (issue 12 item 5) ------------------------------


def test_a_quotation_in_guillemets_is_checked(
    html_archive: tuple[Archive, list[VerifierKey]]
) -> None:
    """A brief quoting only in « » (French, and many European courts) had "0 quotation(s)",
    exit 0: its reversed quotation was never checked."""
    from orderarchive.citing import check_brief

    archive, verifiers = html_archive
    brief = ("La Ville écrit : «The City shall assist the federal commandeering of local "
             "resources».\n")
    report = check_brief(archive, brief.encode(), "brief.txt", verifiers=verifiers)
    assert [i.status for i in report.items] == ["misquoted"] and not report.ok
    spaced = f"Elle écrit : « {QUOTED} ».\n"
    report = check_brief(archive, spaced.encode(), "brief.txt", verifiers=verifiers)
    assert [i.status for i in report.items] == ["exact"] and report.ok


# -- the remembered release (issue 14 item 9) --------------------------------------------------


def test_a_remembered_release_others_could_replace_is_not_trusted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A state directory writable by others (a shared ``$ORDERARCHIVE_STATE_DIR``): whoever
    can write it can put back an older genuine release, and a rolled-back mirror then
    verified, exit 0. Such a directory is refused with one line, before anything is
    verified against it."""
    signer = Signer(name=ORIGIN, seed=bytes(range(32)))
    archive = Archive.init(tmp_path / "archive", ORIGIN)
    archive.add([text_request(1, doc="eo-1")], signer)
    archive.release(signer)
    older = tmp_path / "older"
    shutil.copytree(tmp_path / "archive", older)
    archive.add([text_request(2, doc="eo-2", relations=(("rescinds", "eo-1"),))], signer)
    archive.release(signer)
    keys = tmp_path / "keys"
    keys.mkdir()
    (keys / "origin.vkey").write_text(signer.verifier().to_string() + "\n")
    state = tmp_path / "shared-state"
    monkeypatch.setenv("ORDERARCHIVE_STATE_DIR", str(state))

    def verify(path: Path) -> tuple[int, str]:
        r = CliRunner().invoke(cli, ["--archive", str(path), "--keys", str(keys), "verify"])
        return r.exit_code, r.output

    assert verify(tmp_path / "archive")[0] == 0
    assert verify(older)[0] == 1  # the rollback is caught
    (remembered,) = (state / "checkpoints").glob("*.checkpoint")
    remembered.write_bytes((older / "releases" / "1").read_bytes())  # put back by another user
    for d in (state, state / "checkpoints"):
        d.chmod(0o777)
    code, output = verify(older)
    assert code != 0, output
    assert "writable by others" in output and "Traceback" not in output
    # its own way out, not the unrelated "if the log's key changed ... delete that file"
    assert "key changed" not in output and "delete that file" not in output
    assert "chmod o-w" in output and "ORDERARCHIVE_STATE_DIR" in output
