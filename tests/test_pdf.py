"""orderarchive.documents.pdf: reading PDFs in this process; every hostile input is built here.

The same inputs through the bounded worker path are in test_documents.py.
"""

from __future__ import annotations

import io
import logging
import re
import subprocess
import sys
from pathlib import Path

import pypdf
import pytest

from conftest import need_tool
from orderarchive.documents import (
    BrokenDocumentError,
    DocumentTooLargeError,
    EncryptedDocumentError,
    Limits,
    ReadDocument,
    pdf,
)
from orderarchive.documents.pdf import LineStart, paragraphs_from_lines, read_pdf
from pdfgen import deflate_zeros, make_pdf, raw_pdf, sample_order, single_page_pdf

ORDER = sample_order(3)


@pytest.fixture(scope="module")
def order_pdf() -> bytes:
    return make_pdf(ORDER, title="Specimen Executive Order", author="City of Boston")


def flat(document: ReadDocument) -> list[list[str]]:
    assert document.text is not None
    return [[p.replace("\n", " ") for p in page] for page in document.text.pages]


def qpdf(data: bytes, tmp_path: Path, *options: str) -> bytes:
    tool = need_tool("qpdf")
    source, target = tmp_path / "in.pdf", tmp_path / "out.pdf"
    source.write_bytes(data)
    subprocess.run([tool, *options, str(source), str(target)], check=True)
    return target.read_bytes()


# -- documents that read -----------------------------------------------------------------------


def test_pages_and_paragraphs(order_pdf: bytes) -> None:
    document = read_pdf(order_pdf)
    assert document.media_type == "application/pdf"
    assert document.extractor == f"pypdf/{pypdf.__version__}"
    assert flat(document) == ORDER
    assert document.text is not None
    # Line breaks inside a paragraph are kept (quote checking reports hyphenation across them).
    assert all("\n" in p for page in document.text.pages for p in page)
    assert document.warnings == ()


def test_metadata(order_pdf: bytes) -> None:
    meta = read_pdf(order_pdf).metadata
    assert meta.title == "Specimen Executive Order"
    assert meta.author == "City of Boston"
    assert meta.date == "2026-02-05"
    assert meta.page_count == 3
    assert meta.canonical_url is None


@pytest.mark.parametrize(
    ("creation", "modified", "expected"),
    [
        ("D:20260205120000-05'00'", None, "2026-02-05"),
        ("20260205", None, "2026-02-05"),
        ("D:2026", "D:20260301", "2026-03-01"),  # a year alone is no known date
        ("D:20261340120000Z", None, None),
        ("yesterday", None, None),
    ],
)
def test_metadata_dates(creation: str, modified: str | None, expected: str | None) -> None:
    writer = pypdf.PdfWriter(clone_from=io.BytesIO(make_pdf([["Dated."]])))
    info = {"/CreationDate": creation, "/Subject": "  A  specimen\n"}
    if modified is not None:
        info["/ModDate"] = modified
    writer.add_metadata(info)
    out = io.BytesIO()
    writer.write(out)
    meta = read_pdf(out.getvalue()).metadata
    assert meta.date == expected
    assert meta.description == "A specimen"


@pytest.mark.parametrize("options", [(), ("--linearize",), ("--object-streams=generate",)])
def test_qpdf_resaved_copy_has_the_same_text_layer(
    order_pdf: bytes, tmp_path: Path, options: tuple[str, ...]
) -> None:
    resaved = qpdf(order_pdf, tmp_path, *options)
    assert resaved != order_pdf
    assert read_pdf(resaved).text == read_pdf(order_pdf).text


def test_owner_password_only_is_read(order_pdf: bytes) -> None:
    locked = make_pdf(ORDER, owner_password="owner-only")
    assert pypdf.PdfReader(io.BytesIO(locked)).is_encrypted
    assert read_pdf(locked).text == read_pdf(order_pdf).text


def test_image_only_pdf_has_no_text() -> None:
    document = read_pdf(make_pdf(ORDER, image_only=True))
    assert document.text is None
    assert document.no_text_reason == pdf.NO_TEXT_REASON
    assert document.metadata.page_count == 3


def test_blank_page_among_text_pages() -> None:
    document = read_pdf(make_pdf([["First page."], [], ["Third page."]]))
    assert document.text is not None
    assert document.text.pages == (("First page.",), (), ("Third page.",))


def test_enormous_media_box_is_only_a_number() -> None:
    data = single_page_pdf(
        b"BT /F1 12 Tf 72 700 Td (Hello world) Tj ET", media_box=b"[0 0 2000000000 2000000000]"
    )
    document = read_pdf(data)
    assert document.text is not None
    assert document.text.pages == (("Hello world",),)


def test_broken_xref_offsets_are_repaired_and_reported(order_pdf: bytes) -> None:
    # Every offset in the cross-reference table points 7 bytes past its object. Viewers
    # rebuild the table and so does pypdf; the archive must be able to hold such files.
    start, end = order_pdf.rindex(b"\nxref\n"), order_pdf.rindex(b"trailer")
    table = re.sub(
        rb"(\d{10}) 00000 n",
        lambda m: b"%010d 00000 n" % (int(m.group(1)) + 7),
        order_pdf[start:end],
    )
    damaged = order_pdf[:start] + table + order_pdf[end:]
    document = read_pdf(damaged)
    assert document.text == read_pdf(order_pdf).text
    assert document.warnings
    assert all(w.startswith("pypdf: ") for w in document.warnings)


def test_pypdf_messages_do_not_reach_logging(
    order_pdf: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    start = order_pdf.rindex(b"startxref\n")
    wrong_pointer = order_pdf[:start] + b"startxref\n12\n%%EOF\n"
    with caplog.at_level(logging.DEBUG):
        document = read_pdf(wrong_pointer)
    assert document.text is not None
    assert document.warnings  # what pypdf said is kept, not logged
    assert caplog.records == []
    assert logging.getLogger("pypdf").handlers == []


# -- documents that do not read ----------------------------------------------------------------


def test_encrypted_with_user_password(order_pdf: bytes) -> None:
    writer = pypdf.PdfWriter(clone_from=io.BytesIO(order_pdf))
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    with pytest.raises(EncryptedDocumentError, match="needs a password") as caught:
        read_pdf(out.getvalue())
    assert caught.value.hint is not None
    assert "qpdf --decrypt" in caught.value.hint


def test_encrypted_by_fpdf2() -> None:
    with pytest.raises(EncryptedDocumentError):
        read_pdf(make_pdf(ORDER, user_password="secret"))


@pytest.mark.parametrize("keep", [0.25, 0.5, 0.75, 0.99])
def test_truncated(order_pdf: bytes, keep: float) -> None:
    with pytest.raises(BrokenDocumentError, match="truncated"):
        read_pdf(order_pdf[: int(len(order_pdf) * keep)])


def test_truncated_inside_but_ending_in_eof_marker(order_pdf: bytes) -> None:
    cut = order_pdf[: len(order_pdf) // 2] + b"\n%%EOF\n"
    with pytest.raises(BrokenDocumentError, match="broken PDF"):
        read_pdf(cut)


def test_garbage_after_header() -> None:
    with pytest.raises(BrokenDocumentError) as caught:
        read_pdf(b"%PDF-1.7\n" + bytes(range(256)) * 40 + b"\n%%EOF\n")
    assert isinstance(caught.value.__cause__, Exception)  # raised from pypdf's error


def test_not_a_pdf() -> None:
    with pytest.raises(BrokenDocumentError, match="no %PDF- header"):
        read_pdf(b"<html>not a pdf</html>")


def test_xref_and_trailer_missing(order_pdf: bytes) -> None:
    start = order_pdf.rindex(b"\nxref\n")
    with pytest.raises(BrokenDocumentError, match="broken PDF"):
        read_pdf(order_pdf[:start] + b"\n%%EOF\n")


def test_decompression_bomb() -> None:
    # 2 GiB of zeros in about 2 MB of FlateDecode: pypdf's own output cap stops it.
    bomb = single_page_pdf(deflate_zeros(2048), filters=b"/Filter /FlateDecode ")
    assert len(bomb) < 4 * 2**20
    with pytest.raises(DocumentTooLargeError, match="too large"):
        read_pdf(bomb)


def test_too_many_pages(order_pdf: bytes) -> None:
    with pytest.raises(DocumentTooLargeError, match="3 pages"):
        read_pdf(order_pdf, limits=Limits(max_pages=2))


def test_too_much_text(order_pdf: bytes) -> None:
    with pytest.raises(DocumentTooLargeError, match="characters"):
        read_pdf(order_pdf, limits=Limits(max_text_chars=500))


def test_broken_page_tree() -> None:
    data = raw_pdf([b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids 7 /Count 1 >>"])
    with pytest.raises(BrokenDocumentError):
        read_pdf(data)


# -- paragraphs from line geometry -------------------------------------------------------------


def at(x: float, y: float, em: float = 12.0) -> LineStart:
    return LineStart(x=x, y=y, up_x=0.0, up_y=1.0, em=em)


def test_paragraph_gap_over_median_line_distance() -> None:
    lines = [
        ("one a", at(72, 700)),
        ("one b", at(72, 686)),
        ("two a", at(72, 660)),
        ("two b", at(72, 646)),
        ("two c", at(72, 632)),
    ]
    assert paragraphs_from_lines(lines) == ["one a\none b", "two a\ntwo b\ntwo c"]


def test_first_line_indent_starts_a_paragraph() -> None:
    lines = [
        ("First para", at(108, 700)),
        ("continues.", at(72, 676)),
        ("Second para", at(108, 652)),
        ("continues.", at(72, 628)),
    ]
    assert paragraphs_from_lines(lines) == ["First para\ncontinues.", "Second para\ncontinues."]


def test_block_quote_is_not_split_line_by_line() -> None:
    lines = [("body", at(72, 700)), ("quote a", at(108, 686)), ("quote b", at(108, 672))]
    assert paragraphs_from_lines(lines) == ["body\nquote a\nquote b"]


def test_jump_up_the_page_and_blank_lines_break() -> None:
    lines = [
        ("column one", at(72, 100)),
        ("column two", at(320, 700)),
        ("", None),
        ("after blank", None),
        ("no geometry continues", None),
    ]
    assert paragraphs_from_lines(lines) == [
        "column one",
        "column two",
        "after blank\nno geometry continues",
    ]


def test_rotated_text_uses_its_own_up_direction() -> None:
    # Text rotated a quarter turn: lines advance along +x, "up" is -x.
    def rotated(x: float) -> LineStart:
        return LineStart(x=x, y=100, up_x=-1.0, up_y=0.0, em=12.0)

    lines = [("a", rotated(100)), ("b", rotated(114)), ("c", rotated(140)), ("d", rotated(154))]
    assert paragraphs_from_lines(lines) == ["a\nb", "c\nd"]


# -- the import boundary -----------------------------------------------------------------------


def test_importing_orderarchive_does_not_load_pypdf() -> None:
    code = (
        "import sys, orderarchive.documents, orderarchive.documents.pdf, "
        "orderarchive.documents.html; "
        "assert 'pypdf' not in sys.modules, 'pypdf imported at module level'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
