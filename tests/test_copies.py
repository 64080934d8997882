"""Altered copies: re-saved (qpdf), re-printed, pasted and edited copies of archived orders."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from conftest import ORIGIN, need_tool
from orderarchive.archive import Archive, document_fields
from orderarchive.documents import read_document
from orderarchive.note import Signer, VerifierKey
from orderarchive.proofs import check_copy
from pdfgen import make_pdf, sample_order

PAGES = sample_order(2)


@pytest.fixture
def pdf_archive(tmp_path: Path, signer: Signer) -> tuple[Archive, bytes]:
    data = make_pdf(PAGES, title="Executive Order 7", author="City of Example")
    read = read_document(data, filename="eo7.pdf")
    archive = Archive.init(tmp_path / "archive", ORIGIN)
    archive.add([document_fields(
        data, doc="eo-7", kind="executive-order", title="Executive Order 7", issuer="City",
        issued="2026-02-05", media_type="application/pdf", text=read.text,
        extractor=read.extractor)], signer)
    archive.release(signer)
    return archive, data


def test_byte_identical_is_official(pdf_archive: tuple[Archive, bytes],
                                    verifiers: list[VerifierKey]) -> None:
    archive, data = pdf_archive
    result = check_copy(archive, data, verifiers, filename="x.pdf")
    assert result.status == "official" and result.text is None


def test_qpdf_resaved_copy_is_same_text(pdf_archive: tuple[Archive, bytes], tmp_path: Path,
                                        verifiers: list[VerifierKey]) -> None:
    qpdf = need_tool("qpdf")
    archive, data = pdf_archive
    (tmp_path / "in.pdf").write_bytes(data)
    subprocess.run([qpdf, "--object-streams=generate", str(tmp_path / "in.pdf"),
                    str(tmp_path / "out.pdf")], check=True)
    resaved = (tmp_path / "out.pdf").read_bytes()
    assert resaved != data
    result = check_copy(archive, resaved, verifiers, filename="out.pdf")
    assert result.status == "same-text"
    assert result.entry is not None and result.entry.doc == "eo-7"
    assert not result.official


def test_reprinted_with_other_metadata_is_same_text(pdf_archive: tuple[Archive, bytes],
                                                    verifiers: list[VerifierKey]) -> None:
    archive, _ = pdf_archive
    reprinted = make_pdf(PAGES, title="Forwarded copy", author="someone")
    assert check_copy(archive, reprinted, verifiers, filename="c.pdf").status == "same-text"


def test_edited_copy_is_modified_with_located_differences(
    pdf_archive: tuple[Archive, bytes], verifiers: list[VerifierKey]
) -> None:
    archive, _ = pdf_archive
    target = next(p for p in PAGES[1] if " shall " in p)
    edited_pages = [list(PAGES[0]), [p.replace(" shall ", " may ", 1) if p == target else p
                                     for p in PAGES[1]]]
    edited_pages[0].append("This sentence was added by someone else.")
    result = check_copy(archive, make_pdf(edited_pages), verifiers, filename="e.pdf")
    assert result.status == "modified-copy" and not result.official
    text = result.text
    assert text is not None and text.entry.doc == "eo-7"
    assert text.words_changed == 1 and text.words_added == 7 and text.words_removed == 0
    changed = [c for c in text.changes if c.op == "changed"]
    assert changed[0].official == "shall" and changed[0].copy == "may"
    assert changed[0].page == 2
    added = [c for c in text.changes if c.op == "added"]
    assert added[0].copy == "this sentence was added by someone else"
    assert added[0].page in (1, 2)
    assert "changed to" in changed[0].describe()


def test_pasted_text_is_same_text(tmp_path: Path, signer: Signer,
                                  verifiers: list[VerifierKey]) -> None:
    body = "An order about things.\n\nSection 1. The City shall not assist anyone.\n"
    archive = Archive.init(tmp_path / "a", ORIGIN)
    from orderarchive.textlayer import TextLayer
    archive.add([document_fields(body.encode(), doc="o", kind="article", title="t", issuer="i",
                                 issued=None, media_type="text/plain",
                                 text=TextLayer.from_text(body), extractor="x")], signer)
    archive.release(signer)
    pasted = "An order  about things.\r\n\r\n\r\nSection 1.  The City shall not assist anyone.  "
    result = check_copy(archive, pasted.encode(), verifiers, filename="p.txt")
    assert result.status == "same-text"
    dropped = pasted.replace("shall not", "shall")
    result = check_copy(archive, dropped.encode(), verifiers, filename="p.txt")
    assert result.status == "modified-copy"
    assert result.text is not None and result.text.words_removed == 1
    assert result.text.changes[0].official == "not"


def test_unrelated_and_unreadable_copies(pdf_archive: tuple[Archive, bytes],
                                        verifiers: list[VerifierKey]) -> None:
    archive, _ = pdf_archive
    other = make_pdf([["Completely different text about parking meters and snow."]])
    assert check_copy(archive, other, verifiers, filename="o.pdf").status == "not-official"
    scanned = make_pdf(PAGES, image_only=True)
    result = check_copy(archive, scanned, verifiers, filename="s.pdf")
    assert result.status == "not-official" and result.text_reason
    broken = check_copy(archive, b"%PDF-1.7\nnot really", verifiers, filename="b.pdf")
    assert broken.status == "not-official" and "cannot be read" in (broken.text_reason or "")
