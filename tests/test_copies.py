"""Altered copies: re-saved (qpdf), re-printed, pasted and edited copies of archived orders."""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import pytest

from conftest import REPO, STORE_KINDS, directory_only, need_tool, new_archive
from orderarchive.archive import Archive, document_fields
from orderarchive.copies import TextComparison, WordChange
from orderarchive.documents import read_document
from orderarchive.log.note import Signer, VerifierKey
from orderarchive.proofs import CopyResult, check_copy
from pdfgen import make_pdf, sample_order


@pytest.fixture(params=STORE_KINDS)
def store_kind(request: pytest.FixtureRequest) -> str:
    """Every test here runs on each storage implementation (issue 13 item 2)."""
    return str(request.param)


PAGES = sample_order(2)


@pytest.fixture
def pdf_archive(tmp_path: Path, signer: Signer, store_kind: str) -> tuple[Archive, bytes]:
    data = make_pdf(PAGES, title="Executive Order 7", author="City of Example")
    read = read_document(data, filename="eo7.pdf")
    archive = new_archive(store_kind, tmp_path / "archive")
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
    # Words and marks: the added sentence is seven words and a full stop.
    assert text.words_changed == 1 and text.words_added == 8 and text.words_removed == 0
    changed = [c for c in text.changes if c.op == "changed"]
    assert changed[0].official == "shall" and changed[0].copy == "may"
    assert changed[0].page == 2
    added = [c for c in text.changes if c.op == "added"]
    assert added[0].copy == "This sentence was added by someone else."  # as written
    assert added[0].page in (1, 2)
    assert "changed to" in changed[0].describe()


def test_pasted_text_is_same_text(tmp_path: Path, signer: Signer,
                                  verifiers: list[VerifierKey], store_kind: str) -> None:
    body = "An order about things.\n\nSection 1. The City shall not assist anyone.\n"
    archive = new_archive(store_kind, tmp_path / "a")
    from orderarchive.log.textlayer import TextLayer
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


# -- one rule for what differs (issue 12, item 4; "What was seen" 6) ---------------------------

SEED = REPO / "tests" / "data" / "seeds" / "gbh-2026-02-05-wu-executive-order.txt"


@pytest.fixture
def article(tmp_path: Path, signer: Signer, store_kind: str) -> tuple[Archive, str]:
    from orderarchive.log.textlayer import TextLayer

    body = SEED.read_text(encoding="utf-8")
    archive = new_archive(store_kind, tmp_path / "art")
    archive.add([document_fields(body.encode(), doc="gbh", kind="article", title="GBH",
                                 issuer="GBH News", issued=None, media_type="text/plain",
                                 text=TextLayer.from_text(body), extractor="x")], signer)
    archive.release(signer)
    return archive, body


def _check_text(archive: Archive, text: str, verifiers: list[VerifierKey]) -> CopyResult:
    return check_copy(archive, text.encode(), verifiers, filename="copy.txt")


def test_rewrapped_at_72_columns_is_same_text(article: tuple[Archive, str],
                                              verifiers: list[VerifierKey]) -> None:
    archive, body = article
    wrapped = "\n\n".join(textwrap.fill(p, 72) for p in body.split("\n\n"))
    assert wrapped != body
    result = _check_text(archive, wrapped, verifiers)
    assert result.status == "same-text"
    assert result.text is not None and not result.text.exact
    assert result.text.to_dict()["whitespace_only"] is True


def test_paragraph_breaks_do_not_count(article: tuple[Archive, str],
                                       verifiers: list[VerifierKey]) -> None:
    # docs/CITATIONS.md, "Copies": paragraph and page breaks are layout, like line breaks.
    archive, body = article
    paragraphs = body.split("\n\n")
    joined = "\n\n".join([paragraphs[0] + " " + paragraphs[1], *paragraphs[2:]])
    assert _check_text(archive, joined, verifiers).status == "same-text"
    split = body.replace("nationwide, Mayor", "nationwide,\n\nMayor", 1)
    assert split != body
    assert _check_text(archive, split, verifiers).status == "same-text"


@pytest.mark.parametrize(("old", "new", "official", "copy"), [
    ("FALSE", "false", "FALSE", "false"),                       # case only
    ("Mayor Wu said", "mayor Wu said", "Mayor", "mayor"),
    ("“We will not allow", "\"We will not allow", "“", "\""),  # quotation marks
    ("lots — for", "lots - for", "—", "-"),                     # dashes
    ("the city refuses", "the city, refuses", "", ","),         # punctuation added
    ("make Boston a", "make Springfield a", "Boston", "Springfield"),  # as written
])
def test_every_difference_is_listed_as_written(  # noqa: PLR0917 (parametrised)
    article: tuple[Archive, str], verifiers: list[VerifierKey],
    old: str, new: str, official: str, copy: str,
) -> None:
    archive, body = article
    assert old in body
    result = _check_text(archive, body.replace(old, new, 1), verifiers)
    assert result.status == "modified-copy"
    text = result.text
    assert text is not None and len(text.changes) == 1, text.changes
    change = text.changes[0]
    assert (change.official, change.copy) == (official, copy)
    assert change.paragraph is not None
    assert text.total_changes >= 1


def test_a_modified_copy_always_lists_a_difference(article: tuple[Archive, str]) -> None:
    archive, _ = article
    entry = archive.entry(0)
    with pytest.raises(ValueError, match="at least one difference"):
        TextComparison("modified-copy", entry, 1.0, 0, 0, 0, (), "0" * 64)
    with pytest.raises(ValueError, match="no differences"):
        TextComparison("same-text", entry, 1.0, 0, 1, 0,
                       (WordChange("removed", "x", "", None, 1, 0),), "0" * 64)


def test_article_printed_to_pdf_is_same_text(article: tuple[Archive, str],
                                             verifiers: list[VerifierKey]) -> None:
    archive, body = article
    # Core PDF fonts are Latin-1: print the article's cp1252 punctuation with a TrueType font.
    font = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
    if not font.is_file():
        pytest.skip("DejaVu Sans is not installed")
    printed = make_pdf([body.split("\n\n")], font_path=font, font_size=10)
    result = check_copy(archive, printed, verifiers, filename="printed.pdf")
    if result.status == "modified-copy":  # then every difference is listed
        assert result.text is not None and result.text.changes
    assert result.status == "same-text", result.text and result.text.changes[:5]


@directory_only  # the CLI runs on the directory store
def test_cli_check_says_what_changed(article: tuple[Archive, str], tmp_path: Path,
                                     signer: Signer) -> None:
    from click.testing import CliRunner

    from orderarchive.cli import cli

    _, body = article
    key = tmp_path / "k.vkey"
    key.write_text(str(signer.verifier()) + "\n")
    wrapped = tmp_path / "wrapped.txt"
    wrapped.write_text("\n\n".join(textwrap.fill(p, 72) for p in body.split("\n\n")))
    edited = tmp_path / "edited.txt"
    edited.write_text(body.replace("FALSE", "false", 1))
    runner = CliRunner()
    base = ["--archive", str(tmp_path / "art"), "check", "--trusted-key", str(key)]
    out = runner.invoke(cli, [*base, str(wrapped)])
    assert out.exit_code == 1
    assert "SAME TEXT" in out.output and "differs only in whitespace/line breaks" in out.output
    out = runner.invoke(cli, [*base, str(edited)])
    assert out.exit_code == 1
    assert "MODIFIED COPY" in out.output
    assert "\u201cFALSE\u201d changed to \u201cfalse\u201d" in out.output


def test_cli_defaults_match_the_library() -> None:
    from orderarchive import copies
    from orderarchive.cli import proofs as _cli_proofs

    assert _cli_proofs.DEFAULT_MAX_WORDS == copies.DEFAULT_MAX_WORDS
    assert _cli_proofs.DEFAULT_TIMEOUT == copies.DEFAULT_TIMEOUT


def test_text_compared_with_an_entry_that_changes_is_refused(
    article: tuple[Archive, str], verifiers: list[VerifierKey], signer: Signer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Issue 11, item 12: the entry the text was compared with must be the one verified (the
    # entry is read once: a mirror that serves other bytes fails that entry's verification).
    import attrs

    from orderarchive.errors import VerificationError

    archive, body = article
    genuine = archive.entry(0)
    forged = attrs.evolve(genuine, raw=genuine.raw + b" ")
    monkeypatch.setattr(Archive, "entry", lambda self, seq: forged)
    with pytest.raises(VerificationError):
        check_copy(archive, body.replace("FALSE", "false").encode(), verifiers,
                   filename="c.txt")
