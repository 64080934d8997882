"""cite: quotations, citations, evidence files and briefs, checked against a signed archive.

The corpus is a small archive of invented Boston orders: a two-page PDF (made with pdfgen, so
its text layer has real PDF line and page breaks), the plain-text order it rescinds, an order
and the order amending it, a news article quoting the PDF, a scanned order without text and
one unreleased order.
"""

from __future__ import annotations

import base64
import doctest
import json
import random
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

import orderarchive.citations.cite
from conftest import ORIGIN, STORE_KINDS, new_archive
from orderarchive import canonical
from orderarchive.archive import Archive, document_fields
from orderarchive.citations.cite import (
    EVIDENCE_FORMAT,
    BriefReport,
    Citation,
    NoTextLayerError,
    Pin,
    QuotationMismatchError,
    QuoteReport,
    canonical_quote,
    citation_text,
    verify_evidence,
)
from orderarchive.citations.quote import QuoteStatus, QuoteTooShortError
from orderarchive.citing import check_brief, check_quote, cite, make_evidence
from orderarchive.documents import read_document
from orderarchive.errors import (
    DocumentError,
    MalformedError,
    NotFoundError,
    OrderArchiveError,
    ProofFormatError,
    SignatureError,
    VerificationError,
)
from orderarchive.log.note import Signer, VerifierKey
from orderarchive.log.textlayer import TextLayer
from orderarchive.proofs import UnreleasedError
from pdfgen import make_pdf


@pytest.fixture(params=STORE_KINDS)
def store_kind(request: pytest.FixtureRequest) -> str:
    """Every test here runs on each storage implementation (issue 13 item 2)."""
    return str(request.param)


#: The key every corpus in this module is signed with (the same seed as conftest's signer).
TRUSTED = [Signer(name=ORIGIN, seed=bytes(range(32))).verifier()]

PDF = "application/pdf"
ORDER_PAGES = [
    [
        "EXECUTIVE ORDER 2025-7",
        "Section 1. Purpose. The City of Boston shall not use municipal resources to assist "
        "federal agents in the enforcement of civil immigration law, and no department shall "
        "honor a civil immigration detainer without a judicial warrant signed by a judge.",
        "Section 2. Records. The Police Commissioner shall keep a record of each request "
        "received from a federal agency and shall publish a summary of those records every "
        "quarter on the City's website. Each summary shall",
    ],
    [
        "state the number of requests received and the number of requests declined during the "
        "quarter.",
        "Section 3. Rescission. Executive Order 2014-3 is rescinded in its entirety, and any "
        "guidance issued under that order shall have no further force or effect.",
        "Section 4. Severability. If any provision of this order is held invalid, the remaining "
        "provisions shall continue in full force and effect.",
    ],
]
OLD_ORDER = (
    "Executive Order 2014-3.\n\n"
    "Section 1. City departments may honor civil immigration detainers when the person "
    "detained has been convicted of a violent felony.\n\n"
    "Section 2. The Police Commissioner shall keep a record of each detainer honored.\n"
)
IDLING = (
    "Executive Order 2024-5.\n\n"
    "Section 1. Every city vehicle shall be parked with its engine off, and no driver shall "
    "idle a city vehicle for more than five minutes in any hour.\n"
)
IDLING_AMENDED = (
    "Executive Order 2025-8.\n\n"
    "Section 1. Executive Order 2024-5 is amended so that the limit is three minutes in any "
    "hour.\n"
)
ARTICLE = (
    "# Mayor limits help to federal agents\n\n"
    "The mayor said on Tuesday that the City of Boston shall not use municipal resources to "
    "assist federal agents in the enforcement of civil immigration law.\n"
)
UNRELEASED = (
    "Executive Order 2026-1.\n\n"
    "Section 1. All city buildings shall be open to the public on the first Saturday of each "
    "month.\n"
)


def _text(
    body: str, doc: str, title: str, *, kind: str = "executive-order", media: str = "text/plain",
    relations: tuple[tuple[str, str], ...] = (), issued: str = "2025-03-14",
) -> Any:
    return document_fields(
        body.encode(), doc=doc, kind=kind, title=title, issuer="City of Boston", issued=issued,
        media_type=media, text=TextLayer.from_text(body), extractor="orderarchive-text/1",
        relations=relations, source_url=f"https://www.boston.gov/{doc}",
    )


@attrs.frozen
class Corpus:
    archive: Archive
    signer: Signer
    order_pdf: bytes

    @property
    def verifiers(self) -> list[VerifierKey]:
        return [self.signer.verifier()]

    def layer(self, doc: str) -> TextLayer:
        with self.archive.index(self.verifiers) as idx:
            row = idx.by_doc(doc)
        layer = self.archive.text_layer(self.archive.entry(row.seq))
        assert layer is not None
        return layer


def build_corpus(path: Path, signer: Signer, kind: str = "directory") -> Corpus:
    archive = new_archive(kind, path)
    pdf = make_pdf(ORDER_PAGES, title="Executive Order 2025-7", author="Mayor of Boston")
    read = read_document(pdf, isolate=False)
    scan = make_pdf([["EXECUTIVE ORDER 2025-9", "A scanned order."]], image_only=True)
    scanned = read_document(scan, isolate=False)
    assert read.text is not None and scanned.text is None
    archive.add(
        [
            _text(OLD_ORDER, "eo-2014-3", "Honoring Immigration Detainers", issued="2014-06-02"),
            _text(IDLING, "eo-2024-5", "Anti-Idling"),
            document_fields(
                pdf, doc="eo-2025-7", kind="executive-order",
                title="Municipal Resources and Civil Immigration Enforcement",
                issuer="City of Boston", issued="2025-03-14", media_type=PDF,
                source_url="https://www.boston.gov/eo-2025-7.pdf", text=read.text,
                extractor=read.extractor, relations=(("rescinds", "eo-2014-3"),),
                meta={"pages": 2},
            ),
            _text(IDLING_AMENDED, "eo-2025-8", "Anti-Idling Amendment",
                  relations=(("amends", "eo-2024-5"),)),
            _text(ARTICLE, "article-mayor", "Mayor limits help to federal agents", kind="article",
                  media="text/markdown", relations=(("reports-on", "eo-2025-7"),)),
            document_fields(
                scan, doc="eo-2025-9", kind="executive-order", title="Scanned order",
                issuer="City of Boston", issued="2025-04-01", media_type=PDF,
                no_text_reason=scanned.no_text_reason, meta={"pages": 1},
            ),
        ],
        signer,
    )
    archive.release(signer)
    archive.add([_text(UNRELEASED, "eo-2026-1", "Open Buildings", issued="2026-01-02")], signer)
    return Corpus(archive, signer, pdf)


@pytest.fixture(scope="module", params=STORE_KINDS)
def corpus(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Corpus:
    return build_corpus(tmp_path_factory.mktemp("corpus") / "archive",
                        Signer(name=ORIGIN, seed=bytes(range(32))), request.param)


def check(corpus: Corpus, quote: str, **kwargs: Any) -> QuoteReport:
    kwargs.setdefault("verifiers", corpus.verifiers)
    report = check_quote(corpus.archive, quote, **kwargs)
    if report.locator is not None:  # every locator points at the passage it reports
        assert report.doc is not None
        layer = corpus.layer(report.doc)
        assert report.match.source_text == layer.text()[report.locator.start : report.locator.end]
        para = layer.locate(report.locator.start)
        assert para is not None and para.number == report.locator.paragraph
    if report.is_match:
        assert report.differences == ()
    else:
        assert report.status in (
            QuoteStatus.NEEDS_REVIEW, QuoteStatus.MISQUOTED, QuoteStatus.NOT_FOUND
        )
    return report


# -- check_quote: the outcomes -----------------------------------------------------------------


def test_exact_in_a_pdf_with_its_locator(corpus: Corpus) -> None:
    report = check(corpus, "shall publish a summary of those records every quarter")
    assert report.status is QuoteStatus.EXACT and report.is_match
    assert report.doc == "eo-2025-7"
    assert report.locator is not None
    assert (report.locator.page, report.locator.paragraph) == (1, 3)
    assert (report.last_page, report.last_paragraph) == (1, 3)
    assert report.document_status == "in-force" and report.in_force
    assert report.warnings == ()
    assert report.entry is not None and report.entry.seq == 2


def test_exact_in_a_text_document_has_no_page(corpus: Corpus) -> None:
    report = check(corpus, "All city buildings shall be open to the public")
    assert report.status is QuoteStatus.EXACT
    assert report.locator is not None and report.locator.page is None
    assert report.last_page is None and report.locator.paragraph == 2


def test_normalised_says_which_normalisations(corpus: Corpus) -> None:
    report = check(corpus, "every quarter on the City’s website")
    assert report.status is QuoteStatus.NORMALISED and report.is_match
    assert report.normalisations == ("typographic-quotes",)


def test_quotation_broken_across_pdf_lines(corpus: Corpus) -> None:
    quote = "The City of Boston shall not use municipal resources to assist federal agents in " \
            "the enforcement of civil immigration law"
    report = check(corpus, quote)
    assert report.status is QuoteStatus.NORMALISED
    assert report.normalisations == ("line-breaks",)
    assert report.doc == "eo-2025-7"  # the official PDF, not the article quoting it verbatim
    assert report.locator is not None and report.locator.page == 1


def test_quotation_broken_across_pdf_pages(corpus: Corpus) -> None:
    report = check(corpus, "Each summary shall state the number of requests received")
    assert report.status is QuoteStatus.NORMALISED
    assert report.normalisations == ("line-breaks",)
    assert report.locator is not None
    assert (report.locator.page, report.last_page) == (1, 2)
    assert (report.locator.paragraph, report.last_paragraph) == (3, 4)


def test_ellipsis(corpus: Corpus) -> None:
    report = check(corpus, "Executive Order 2014-3 is rescinded . . . and any guidance issued "
                           "under that order shall have no further force or effect")
    assert report.status is QuoteStatus.ALTERED
    assert report.normalisations == ("line-breaks",)
    assert report.alterations == ('. . . for "in its entirety,"',)


def test_bracketed_alterations_are_reported_not_errors(corpus: Corpus) -> None:
    report = check(corpus, "[a]ny guidance issued under [Executive Order 2014-3] shall have no "
                           "further force or effect")
    assert report.status is QuoteStatus.ALTERED
    assert report.alterations == ('[a]ny for "any"', '[Executive Order 2014-3] for "that order"')
    assert report.differences == ()


@pytest.mark.parametrize(
    ("quote", "differences"),
    [
        pytest.param(
            "The Police Commissioner may keep a record of each request received",
            [("changed", "may", "shall")],
            id="one-word-changed",
        ),
        pytest.param(
            "shall publish a summary of records every quarter on the City's website",
            [("removed", "", "those")],
            id="one-word-dropped",
        ),
        pytest.param(
            "The City of Boston shall use municipal resources to assist federal agents",
            [("removed", "", "not")],
            id="negation-removed",
        ),
        pytest.param(
            "The City of Boston shall not use municipal resources . . . to honor a civil "
            "immigration detainer without a judicial warrant",
            None,  # the ellipsis hides "no department shall", and "to" is not the source's
            id="ellipsis-hiding-a-negation",
        ),
    ],
)
def test_misquoted(
    corpus: Corpus, quote: str, differences: list[tuple[str, str, str]] | None
) -> None:
    report = check(corpus, quote)
    assert report.status is QuoteStatus.MISQUOTED and not report.is_match
    assert report.doc == "eo-2025-7"
    if differences is not None:
        assert [(d.op, d.quoted, d.source) for d in report.differences] == differences
    assert report.differences


def test_two_sentences_spliced(corpus: Corpus) -> None:
    report = check(corpus, "Executive Order 2014-3 is rescinded in its entirety, and the "
                           "remaining provisions shall continue in full force and effect.")
    assert report.status is QuoteStatus.MISQUOTED
    assert any(d.op == "removed" for d in report.differences)


def test_not_found(corpus: Corpus) -> None:
    report = check(corpus, "Parking meters on Beacon Street shall accept payment by telephone")
    assert report.status is QuoteStatus.NOT_FOUND
    assert report.doc is None and report.locator is None and report.standing is None
    assert report.to_dict()["document"] is None


def test_too_short_is_refused(corpus: Corpus) -> None:
    with pytest.raises(QuoteTooShortError):
        check_quote(corpus.archive, "the City", verifiers=corpus.verifiers)
    with pytest.raises(QuoteTooShortError):
        check_quote(corpus.archive, "[The City] shall act", doc="no-such-doc",
                verifiers=corpus.verifiers)


def test_only_the_named_document(corpus: Corpus) -> None:
    quote = "The Police Commissioner shall keep a record of each detainer honored"
    assert check(corpus, quote).doc == "eo-2014-3"
    report = check(corpus, quote, doc="eo-2025-7")
    assert report.doc == "eo-2025-7" and report.status is QuoteStatus.MISQUOTED
    assert report.searched == 1
    report = check(corpus, "Parking meters on Beacon Street shall accept payment", doc="eo-2025-7")
    assert report.status is QuoteStatus.NOT_FOUND and report.searched == 1


def test_unknown_document_and_document_without_text(corpus: Corpus) -> None:
    with pytest.raises(NotFoundError, match="no document 'eo-404'"):
        check_quote(corpus.archive, "shall publish a summary of those records", doc="eo-404",
                verifiers=corpus.verifiers)
    with pytest.raises(NoTextLayerError, match="no text layer"):
        check_quote(corpus.archive, "shall publish a summary of those records", doc="eo-2025-9",
                verifiers=corpus.verifiers)


def test_an_article_is_reported_only_when_the_quotation_is_its_own(corpus: Corpus) -> None:
    report = check(corpus, "The mayor said on Tuesday that the City of Boston shall not use")
    assert report.doc == "article-mayor" and report.status is QuoteStatus.EXACT


# -- check_quote: standing ---------------------------------------------------------------------


def test_warns_when_the_document_was_rescinded(corpus: Corpus) -> None:
    report = check(corpus, "City departments may honor civil immigration detainers")
    assert report.status is QuoteStatus.EXACT and report.doc == "eo-2014-3"
    assert report.document_status == "rescinded" and report.in_force is False
    (warning,) = report.warnings
    assert warning.startswith("eo-2014-3 has been rescinded by eo-2025-7 (2025-03-14)")
    assert "no longer in force" in warning
    assert report.to_dict()["document"]["changed_by"][0]["doc"] == "eo-2025-7"


def test_warns_when_the_document_was_amended(corpus: Corpus) -> None:
    report = check(corpus, "no driver shall idle a city vehicle for more than five minutes")
    assert report.document_status == "amended" and report.in_force is True
    (warning,) = report.warnings
    assert "amended by eo-2025-8" in warning and "still current" in warning


def test_notes_an_unreleased_entry(corpus: Corpus) -> None:
    report = check(corpus, "open to the public on the first Saturday of each month")
    assert report.standing is not None and not report.standing.released
    assert report.warnings == ("eo-2026-1 (entry 6) is not yet covered by a signed release",)
    released = check(corpus, "shall publish a summary of those records every quarter")
    assert released.standing is not None and released.standing.release_size == 6


def test_trusted_keys_check_the_entry(corpus: Corpus) -> None:
    report = check(corpus, "shall publish a summary of those records", verifiers=corpus.verifiers)
    assert report.signer == corpus.signer.verifier()
    assert report.to_dict()["signer"] == str(corpus.signer.verifier())
    with pytest.raises(SignatureError):
        check_quote(corpus.archive, "shall publish a summary of those records",
                    verifiers=[Signer.generate(ORIGIN).verifier()])


def test_report_is_frozen_and_serialisable(corpus: Corpus) -> None:
    report = check(corpus, "The Police Commissioner may keep a record of each request received")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        report.searched = 3  # type: ignore[misc]
    d = json.loads(json.dumps(report.to_dict()))
    assert d["status"] == "misquoted" and d["match"] is False
    assert d["differences"][0] == {
        "op": "changed", "quoted": "may", "source": "shall",
        "offset": d["differences"][0]["offset"], "paragraph": 3, "reversal": None,
    }
    assert d["locator"]["page"] == 1 and d["title"].startswith("Municipal Resources")


def test_a_corrupted_text_layer_is_an_error_not_a_result(
    tmp_path: Path, signer: Signer
) -> None:
    archive = build_corpus(tmp_path / "a", signer).archive
    with archive.index(TRUSTED) as idx:
        row = idx.by_doc("eo-2014-3")
    sha = archive.entry(row.seq).document.text.sha256  # type: ignore[union-attr]
    obj = tmp_path / "a" / "objects" / "sha256" / sha[:2] / sha[2:]
    obj.chmod(0o644)
    obj.write_bytes(obj.read_bytes().replace(b"may honor", b"may defer"))
    with pytest.raises(VerificationError, match="corrupt"):
        check_quote(archive, "City departments may honor civil immigration detainers",
                verifiers=TRUSTED)


# -- misquotes are never matches ---------------------------------------------------------------


def _words(corpus: Corpus) -> Iterator[tuple[str, list[str]]]:
    for doc in ("eo-2025-7", "eo-2014-3", "eo-2024-5"):
        for para in corpus.layer(doc).paragraphs():
            words = para.text.split()
            if len(words) >= 10:
                yield doc, words


def test_a_misquote_is_never_reported_as_a_match(corpus: Corpus) -> None:
    rng = random.Random(5)
    passages = list(_words(corpus))
    for _ in range(60):
        _, words = rng.choice(passages)
        start = rng.randrange(0, len(words) - 8)
        quote = words[start : start + 8]
        i = rng.randrange(1, 7)
        if rng.random() < 0.5:
            mutated = [*quote[:i], *quote[i + 1 :]]  # a word dropped
        else:
            mutated = [*quote[:i], "never" if quote[i] != "never" else "always", *quote[i + 1 :]]
        original = check_quote(corpus.archive, " ".join(quote), verifiers=corpus.verifiers)
        assert original.is_match, quote
        report = check_quote(corpus.archive, " ".join(mutated), verifiers=corpus.verifiers)
        assert not report.is_match, (quote, mutated, report.doc)


# -- cite --------------------------------------------------------------------------------------


def test_cite_a_quotation_from_a_pdf(corpus: Corpus) -> None:
    citation = cite(corpus.archive, "eo-2025-7",
                    quote="Each summary shall state the number of requests received",
                            verifiers=corpus.verifiers)
    assert isinstance(citation, Citation)
    assert citation.pin == Pin(page=1, last_page=2)
    assert citation.identifier.startswith("orderarchive:example.gov/orders/eo-2025-7@sha256:")
    sha = citation.fields.sha256
    assert citation.text == (
        "“Each summary shall state the number of requests received” City of Boston, Municipal "
        "Resources and Civil Immigration Enforcement, at 1–2 (Mar. 14, 2025), "
        f"https://www.boston.gov/eo-2025-7.pdf [orderarchive:{ORIGIN}/eo-2025-7@sha256:"
        f"{sha[:12]}]."
    )
    assert citation.warnings == ()
    d = citation.to_dict()
    assert d["citation"] == citation.text and d["quotation"]["status"] == "normalised"


def test_cite_pins_a_paragraph_in_a_text_document(corpus: Corpus) -> None:
    citation = cite(corpus.archive, "eo-2014-3",
                    quote=" “City departments may honor civil immigration detainers” ",
                            verifiers=corpus.verifiers)
    assert citation.quote is not None
    assert citation.quote.quote == "City departments may honor civil immigration detainers"
    assert citation.pin == Pin(paragraph=2, last_paragraph=2)
    assert citation.text.startswith("“City departments may honor civil immigration detainers” ")
    assert ", ¶ 2 (June 2, 2014)," in citation.text
    assert citation.warnings and "rescinded by eo-2025-7" in citation.warnings[0]


def test_cite_a_page_or_the_whole_document(corpus: Corpus) -> None:
    citation = cite(corpus.archive, "eo-2025-7", page=2, verifiers=corpus.verifiers)
    assert citation.pin == Pin(page=2, last_page=2) and ", at 2 (Mar. 14, 2025)," in citation.text
    whole = cite(corpus.archive, "eo-2024-5", verifiers=corpus.verifiers)
    assert whole.pin is None and whole.quote is None
    assert whole.text.startswith("City of Boston, Anti-Idling (Mar. 14, 2025), https://")
    scanned = cite(corpus.archive, "eo-2025-9", page=1, verifiers=corpus.verifiers)
    assert "at 1" in scanned.text and "(Apr. 1, 2025)" in scanned.text


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"doc": "eo-404"}, NotFoundError, "no document"),
        ({"page": 3}, MalformedError, "no page 3"),
        ({"doc": "eo-2025-9", "page": 2}, MalformedError, "no page 2"),
        ({"doc": "eo-2024-5", "page": 1}, MalformedError, "has no pages"),
        ({"quote": "The Police Commissioner may keep a record of each request"},
         QuotationMismatchError, "misquoted"),
        ({"quote": "Parking meters on Beacon Street shall accept payment"},
         QuotationMismatchError, "not found in eo-2025-7"),
        ({"quote": "shall publish a summary of those records", "page": 2},
         QuotationMismatchError, "on page 1 of eo-2025-7, not on page 2"),
        ({"quote": "the City"}, QuoteTooShortError, "at least 4"),
    ],
)
def test_cite_refuses(corpus: Corpus, kwargs: dict[str, Any], error: type[Exception],
                      message: str) -> None:
    args = {"doc": "eo-2025-7", **kwargs}
    with pytest.raises(error, match=message):
        cite(corpus.archive, args.pop("doc"), **args, verifiers=corpus.verifiers)


def test_mismatch_error_carries_the_report(corpus: Corpus) -> None:
    with pytest.raises(QuotationMismatchError) as caught:
        cite(corpus.archive, "eo-2025-7", quote="The City of Boston shall use municipal resources",
                verifiers=corpus.verifiers)
    assert caught.value.report is not None
    assert caught.value.report.status is QuoteStatus.MISQUOTED


def test_canonical_quote() -> None:
    assert canonical_quote(' “"six words quoted twice over here"” ') == (
        "six words quoted twice over here")
    assert canonical_quote("Cafe\u0301 society") == "Caf\u00e9 society"
    assert canonical_quote('"left" and "right"') == 'left" and "right'  # as quote.py reads it


def test_citation_text_without_optional_facts(corpus: Corpus) -> None:
    fields = attrs.evolve(
        cite(corpus.archive, "eo-2024-5",
                verifiers=corpus.verifiers).fields, issuer="", issued=None, source_url=None
    )
    assert citation_text(ORIGIN, fields, pin=Pin(paragraph=1, last_paragraph=2)) == (
        f"Anti-Idling, ¶¶ 1–2 (n.d.) [orderarchive:{ORIGIN}/eo-2024-5@sha256:"
        f"{fields.sha256[:12]}]."
    )


# -- evidence ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def evidence(corpus: Corpus) -> bytes:
    citation = cite(corpus.archive, "eo-2025-7",
                    quote="Each summary shall state the number of requests received",
                            verifiers=corpus.verifiers)
    return make_evidence(corpus.archive, citation, corpus.verifiers)


def load(data: bytes) -> dict[str, Any]:
    body = canonical.loads(data[:-1])
    assert isinstance(body, dict)
    return body


def dump(body: dict[str, Any]) -> bytes:
    return canonical.dumps(body) + b"\n"


def test_evidence_round_trip(corpus: Corpus, evidence: bytes) -> None:
    body = load(evidence)
    assert body["format"] == EVIDENCE_FORMAT
    assert set(body) == {"format", "doc", "citation", "quotation", "pin", "text_layer", "proof",
                         "status"}
    assert body["proof"].startswith("c2sp.org/tlog-proof@v1\n")
    result = verify_evidence(evidence, corpus.verifiers)
    assert result.fields.doc == "eo-2025-7" and result.entry.seq == 2
    assert result.checkpoint.size == 6
    assert result.quotation is not None and result.quotation.status is QuoteStatus.NORMALISED
    assert result.pin == Pin(page=1, last_page=2)
    assert result.status == "in-force" and result.changed_by == ()
    assert result.citation == body["citation"]
    assert result.layer == corpus.layer("eo-2025-7")
    d = result.to_dict()
    assert d["verified"] is True and d["quotation"]["source_text"].startswith("Each\nsummary")
    json.dumps(d)


def test_evidence_needs_no_archive(corpus: Corpus, evidence: bytes, tmp_path: Path) -> None:
    # Only the file and the public key: verify in a process that never saw the archive.
    path = tmp_path / "e.json"
    path.write_bytes(evidence)
    code = (
        "import sys\n"
        "from orderarchive.citations.cite import verify_evidence\n"
        "from orderarchive.log.note import VerifierKey\n"
        "r = verify_evidence(open(sys.argv[1], 'rb').read(), [VerifierKey.parse(sys.argv[2])])\n"
        "print(r.citation)\n"
    )
    import subprocess

    out = subprocess.run([sys.executable, "-c", code, str(path), str(corpus.signer.verifier())],
                         capture_output=True, text=True, check=True, cwd=tmp_path)
    assert out.stdout.strip() == load(evidence)["citation"]


def test_evidence_of_a_rescinded_order_carries_the_rescission(corpus: Corpus) -> None:
    citation = cite(corpus.archive, "eo-2014-3",
                    quote="City departments may honor civil immigration detainers",
                            verifiers=corpus.verifiers)
    data = make_evidence(corpus.archive, citation, corpus.verifiers)
    body = load(data)
    assert body["status"]["status"] == "rescinded" and len(body["status"]["changed_by"]) == 1
    result = verify_evidence(data, corpus.verifiers)
    assert result.status == "rescinded"
    assert [e.doc for e in result.changed_by] == ["eo-2025-7"]
    # Dropping the rescission's proof, or denying it, is detected.
    body["status"]["changed_by"] = []
    with pytest.raises(VerificationError, match="proofs show 'in-force'"):
        verify_evidence(dump(body), corpus.verifiers)
    body = load(data)
    body["status"]["status"] = "in-force"
    with pytest.raises(VerificationError, match="proofs show 'rescinded'"):
        verify_evidence(dump(body), corpus.verifiers)


def test_evidence_with_several_acts_in_order(
    tmp_path: Path, signer: Signer, store_kind: str
) -> None:
    archive = new_archive(store_kind, tmp_path / "a")
    archive.add([_text(IDLING, "eo-2024-5", "Anti-Idling")], signer)
    archive.add([
        _text(IDLING_AMENDED, "eo-2025-8", "Amendment",
              relations=(("amends", "eo-2024-5"), ("corrects", "eo-2024-5"))),
        _text(OLD_ORDER, "eo-2025-9", "Rescission", relations=(("rescinds", "eo-2024-5"),)),
    ], signer)
    archive.release(signer)
    data = make_evidence(archive, cite(archive, "eo-2024-5", quote="no driver shall idle a "
                                       "city vehicle", verifiers=TRUSTED), [signer.verifier()])
    body = load(data)
    assert len(body["status"]["changed_by"]) == 2  # one proof per entry, not per relation
    result = verify_evidence(data, [signer.verifier()])
    assert result.status == "rescinded" and [e.seq for e in result.changed_by] == [1, 2]
    for proofs in (body["status"]["changed_by"][::-1], body["status"]["changed_by"][:1] * 2):
        tampered = load(data)
        tampered["status"]["changed_by"] = proofs
        with pytest.raises(VerificationError, match="increasing entry order"):
            verify_evidence(dump(tampered), [signer.verifier()])


def test_evidence_status_proof_must_act_on_the_document(corpus: Corpus, evidence: bytes) -> None:
    from orderarchive.proofs import prove

    body = load(evidence)
    body["status"]["changed_by"] = [prove(corpus.archive, "eo-2025-8", corpus.verifiers).decode()]
    with pytest.raises(VerificationError, match="does not act on eo-2025-7"):
        verify_evidence(dump(body), corpus.verifiers)


def test_evidence_for_a_page_and_for_an_amended_text_order(corpus: Corpus) -> None:
    keys = corpus.verifiers
    data = make_evidence(corpus.archive, cite(corpus.archive, "eo-2025-7", page=2,
                                              verifiers=keys), keys)
    result = verify_evidence(data, corpus.verifiers)
    assert result.pin == Pin(page=2, last_page=2) and result.quotation is None
    data = make_evidence(corpus.archive, cite(corpus.archive, "eo-2024-5",
                                              quote="[N]o driver shall idle a city vehicle",
                                              verifiers=keys), keys)
    result = verify_evidence(data, corpus.verifiers)
    assert result.status == "amended" and result.pin == Pin(paragraph=2, last_paragraph=2)
    assert result.quotation is not None and result.quotation.alterations == ('[N]o for "no"',)


def test_no_evidence_for_unreleased_or_textless_documents(corpus: Corpus) -> None:
    keys = corpus.verifiers
    with pytest.raises(UnreleasedError):
        make_evidence(corpus.archive, cite(corpus.archive, "eo-2026-1", verifiers=keys), keys)
    with pytest.raises(NoTextLayerError):
        make_evidence(corpus.archive, cite(corpus.archive, "eo-2025-9", verifiers=keys), keys)


def _set(path: tuple[str, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(body: dict[str, Any]) -> None:
        target = body
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value(target[path[-1]]) if callable(value) else value

    return edit


def _other_layer(corpus: Corpus) -> str:
    layer = corpus.layer("eo-2025-7").to_bytes().replace(b"requests declined", b"requests denied")
    return base64.b64encode(layer).decode()


def _flip_proof_hash(proof: str) -> str:
    lines = proof.split("\n")
    index = next(i for i, line in enumerate(lines) if line.startswith("index ")) + 1
    raw = bytearray(base64.b64decode(lines[index]))
    raw[0] ^= 1
    lines[index] = base64.b64encode(bytes(raw)).decode()
    return "\n".join(lines)


TAMPERS: dict[str, Callable[[Corpus], Callable[[dict[str, Any]], None]]] = {
    "format": lambda c: _set(("format",), "orderarchive-evidence/v3"),
    "doc": lambda c: _set(("doc",), "eo-2014-3"),
    "citation": lambda c: _set(("citation",), lambda s: s.replace("Mar. 14", "Mar. 15")),
    "quotation-text-changed-word": lambda c: _set(
        ("quotation", "text"), lambda s: s.replace("received", "declined")),
    "quotation-text-other-passage": lambda c: _set(
        ("quotation", "text"), "shall publish a summary of those records every quarter"),
    "quotation-status": lambda c: _set(("quotation", "status"), "exact"),
    "quotation-locator-start": lambda c: _set(("quotation", "locator", "start"), lambda n: n + 1),
    "quotation-locator-page": lambda c: _set(("quotation", "locator", "page"), 2),
    "quotation-normalisations": lambda c: _set(("quotation", "normalisations"), []),
    "quotation-alterations": lambda c: _set(("quotation", "alterations"), ["[E]ach"]),
    "quotation-dropped": lambda c: _set(("quotation",), None),
    "quotation-text-in-marks": lambda c: _set(("quotation", "text"), lambda s: f"“{s}”"),
    "quotation-text-spaced": lambda c: _set(("quotation", "text"), lambda s: f" {s}"),
    "quotation-locator-bool": lambda c: _set(("quotation", "locator", "page"), True),
    "pin-page": lambda c: _set(("pin", "page"), 2),
    "pin-dropped": lambda c: _set(("pin",), None),
    "text-layer-other": lambda c: _set(("text_layer",), _other_layer(c)),
    "text-layer-not-base64": lambda c: _set(("text_layer",), lambda s: s[:-2] + "!!"),
    "proof-hash": lambda c: _set(("proof",), _flip_proof_hash),
    "proof-index": lambda c: _set(("proof",), lambda s: s.replace("\nindex 2\n", "\nindex 1\n")),
    "proof-checkpoint-size": lambda c: _set(("proof",), lambda s: s.replace("\n6\n", "\n7\n")),
    "proof-signature": lambda c: _set(("proof",), lambda s: s[:-8] + ("A" if s[-8] != "A" else "B")
                                      + s[-7:]),
    "status": lambda c: _set(("status", "status"), "rescinded"),
    "unknown-member": lambda c: _set(("note",), "trust me"),
    "unknown-quotation-member": lambda c: _set(("quotation", "score"), 1),
}


@pytest.mark.parametrize("case", sorted(TAMPERS))
def test_tampered_evidence_fails(case: str, corpus: Corpus, evidence: bytes) -> None:
    body = load(evidence)
    TAMPERS[case](corpus)(body)
    with pytest.raises(OrderArchiveError):
        verify_evidence(dump(body), corpus.verifiers)


@pytest.mark.parametrize(
    ("case", "mutate"),
    [
        ("empty", lambda d: b""),
        ("not-json", lambda d: b"evidence\n"),
        ("trailing-garbage", lambda d: d + b"x"),
        ("duplicate-key", lambda d: b'{"doc":"x",' + d[1:]),
        ("float", lambda d: d.replace(b'"paragraph":', b'"paragraph":1.0,"x":', 1)),
        ("nan", lambda d: d.replace(b'"paragraph":', b'"paragraph":NaN,"x":', 1)),
        ("not-utf-8", lambda d: d.replace(b"eo-", b"\xffo-", 1)),
        ("deep", lambda d: b"[" * 100000 + b"]" * 100000),
        ("huge-int", lambda d: d.replace(b'"paragraph":', b'"paragraph":' + b"9" * 5000 + b',"x":',
                                         1)),
        ("truncated", lambda d: d[: len(d) // 2] + b"\n"),
        ("array", lambda d: b"[]\n"),
        ("too-large", lambda d: b" " * (orderarchive.citations.cite.MAX_EVIDENCE_BYTES + 1)),
    ],
)
def test_malformed_evidence(case: str, mutate: Callable[[bytes], bytes], evidence: bytes,
                            corpus: Corpus) -> None:
    with pytest.raises(ProofFormatError):
        verify_evidence(mutate(evidence), corpus.verifiers)


def test_every_bit_flip_is_detected(corpus: Corpus) -> None:
    citation = cite(corpus.archive, "eo-2024-5", quote="no driver shall idle a city vehicle",
            verifiers=corpus.verifiers)
    data = make_evidence(corpus.archive, citation, corpus.verifiers)
    for pos in range(len(data)):
        flipped = bytearray(data)
        flipped[pos] ^= 1 << (pos % 8)
        with pytest.raises(OrderArchiveError):
            verify_evidence(bytes(flipped), corpus.verifiers)


def test_evidence_with_the_wrong_key(corpus: Corpus, evidence: bytes) -> None:
    with pytest.raises(SignatureError):
        verify_evidence(evidence, [Signer.generate(ORIGIN).verifier()])
    with pytest.raises(SignatureError):
        verify_evidence(evidence, [])
    other_log = Signer(name="elsewhere.gov/orders", seed=bytes(range(32))).verifier()
    with pytest.raises(SignatureError):
        verify_evidence(evidence, [other_log])


def test_evidence_for_the_wrong_origin(corpus: Corpus, evidence: bytes) -> None:
    with pytest.raises(SignatureError):
        verify_evidence(evidence, corpus.verifiers, origin="elsewhere.gov/orders")


# -- briefs ------------------------------------------------------------------------------------

BRIEF = """\
PLAINTIFFS' BRIEF

The Order says that "The City of Boston shall not use municipal resources to assist federal
agents in the enforcement of civil immigration law." It adds that "every quarter on the City’s
website" a summary appears, and that "Each summary shall state the number of requests received."
The old order provided that "City departments may honor civil immigration detainers" at will.

Defendants say "[a]ny guidance issued under [Executive Order 2014-3] shall have no further force
or effect," and that "Executive Order 2014-3 is rescinded . . . and any guidance issued under that
order shall have no further force or effect."

They misquote it: "The Police Commissioner may keep a record of each request received." They
drop a word: "shall publish a summary of records every quarter." They drop the negation: "The
City of Boston shall use municipal resources to assist federal agents." And they splice:
"Executive Order 2014-3 is rescinded in its entirety, and the remaining provisions shall
continue in full force and effect." They invent: "Parking meters on Beacon Street shall accept
payment by telephone." The "Order" and "[The City] shall act now" are not checked.

    Every city vehicle shall be parked with its engine off, and no driver shall idle a city
    vehicle for more than five minutes in any hour.

End.
"""

EXPECTED = [
    ("normalised", "eo-2025-7"),  # line breaks, and the period inside the closing mark
    ("normalised", "eo-2025-7"),
    ("normalised", "eo-2025-7"),
    ("exact", "eo-2014-3"),
    ("altered", "eo-2025-7"),
    ("altered", "eo-2025-7"),
    ("misquoted", "eo-2025-7"),
    ("misquoted", "eo-2025-7"),
    ("misquoted", "eo-2025-7"),
    ("misquoted", "eo-2025-7"),
    ("not-found", None),
    ("too-short", None),
    ("normalised", "eo-2024-5"),
]


def _summary(report: BriefReport) -> list[tuple[str, str | None]]:
    return [(i.status, i.report.doc if i.report else None) for i in report.items]


def test_brief_with_a_mix_of_quotations(corpus: Corpus) -> None:
    report = check_brief(corpus.archive, BRIEF.encode(), "brief.txt", verifiers=corpus.verifiers)
    got = _summary(report)
    assert [s for s, _ in got] == [s for s, _ in EXPECTED]
    assert [d for _, d in got] == [d for _, d in EXPECTED]
    assert report.totals == {"exact": 1, "normalised": 4, "altered": 2, "needs-review": 0,
                             "misquoted": 4, "not-found": 1, "title": 0, "too-short": 1}
    assert not report.ok
    block = report.items[-1]
    assert block.found.kind == "block" and block.found.line == 19
    assert report.items[3].report is not None and report.items[3].report.warnings
    d = report.to_dict()
    assert d["ok"] is False and d["totals"]["misquoted"] == 4
    assert d["quotations"][11]["skipped"].startswith("quotation has 3 words")
    assert d["quotations"][6]["differences"][0]["quoted"] == "may"
    json.dumps(d)


def test_a_clean_markdown_brief_is_ok(corpus: Corpus) -> None:
    brief = (
        "# Brief\n\nThe order is plain:\n\n"
        "> The City of Boston shall not use municipal resources to assist federal\n"
        "> agents in the enforcement of civil immigration law.\n\n"
        "And “shall publish a summary of those records every quarter” it says.\n"
    )
    report = check_brief(corpus.archive, brief.encode(), "brief.md", verifiers=corpus.verifiers)
    assert _summary(report) == [("normalised", "eo-2025-7"), ("exact", "eo-2025-7")]
    assert report.ok


def test_brief_against_one_document(corpus: Corpus) -> None:
    brief = '"City departments may honor civil immigration detainers," it said.\n'
    assert _summary(check_brief(corpus.archive, brief.encode(), "b.txt",
            verifiers=corpus.verifiers)) == [
        ("normalised", "eo-2014-3")]  # the comma inside the closing mark
    report = check_brief(corpus.archive, brief.encode(), "b.txt", doc="eo-2025-7",
            verifiers=corpus.verifiers)
    assert _summary(report) == [("not-found", "eo-2025-7")] and not report.ok


def test_pdf_brief_with_quotations_across_lines_and_pages(corpus: Corpus) -> None:
    pdf = make_pdf(
        [
            ["Case 1:25-cv-01234 Document 12",
             "ARGUMENT. The Order provides that \"The Police Commissioner shall keep a record of "
             "each request received from a federal agency and shall publish a summary of those "
             "records every quarter on the City's website.\" The"],
            ["Case 1:25-cv-01234 Document 12",
             "Order also states that \"[n]o department shall honor a civil immigration detainer "
             "without a warrant.\" That is all."],
        ]
    )
    report = check_brief(corpus.archive, pdf, "brief.pdf", verifiers=corpus.verifiers)
    assert [i.status for i in report.items] == ["normalised", "misquoted"]
    first, second = report.items
    assert first.found.page == 1 and second.found.page == 2
    assert second.report is not None
    assert [(d.op, d.source) for d in second.report.differences] == [("removed", "judicial")]


def test_html_brief(corpus: Corpus) -> None:
    html = (b"<!doctype html><html><head><title>Brief</title></head><body><p>It says "
            b"&ldquo;shall publish a summary of those records every quarter&rdquo;.</p>"
            b"<blockquote><p>City departments may honor civil immigration detainers</p>"
            b"</blockquote></body></html>")
    report = check_brief(corpus.archive, html, "brief.html", verifiers=corpus.verifiers)
    assert [(i.status, i.found.kind) for i in report.items] == [("exact", "inline"),
                                                               ("exact", "block")]


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (b"", "empty.txt"),
        (b"\x89PNG\r\n\x1a\n" + bytes(100), "brief.png"),
        ("caf\u00e9 “quoted text here now”".encode("latin-1", "replace"), "latin1.txt"),
        (b"%PDF-1.7\n garbage", "broken.pdf"),
        (b"   \n\n  ", "blank.txt"),
    ],
)
def test_unreadable_briefs(corpus: Corpus, data: bytes, name: str) -> None:
    with pytest.raises(DocumentError):
        check_brief(corpus.archive, data, name, verifiers=corpus.verifiers)


# -- the documented example --------------------------------------------------------------------


def test_module_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    import orderarchive.citing

    results = doctest.testmod(orderarchive.citing, optionflags=doctest.ELLIPSIS)
    assert results.attempted > 10
    assert results.failed == 0


def test_cite_module_does_no_cli_or_pdf_imports() -> None:
    import subprocess

    code = ("import sys, orderarchive.citations.cite; "
            "print(sorted(m for m in ('click', 'pypdf', 'sqlite3') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- the quotation policy in citations and evidence (issue 12) ----------------------------------

ELLIPSIS_QUOTE = ("Executive Order 2014-3 is rescinded . . . and any guidance issued under that "
                  "order shall have no further force or effect")
REVIEW_QUOTE = "shall publish a summary of [all] those records every quarter"


def test_cite_refuses_a_quotation_that_needs_review(corpus: Corpus) -> None:
    with pytest.raises(QuotationMismatchError, match="needs-review in eo-2025-7") as e:
        cite(corpus.archive, "eo-2025-7", quote=REVIEW_QUOTE, verifiers=corpus.verifiers)
    assert e.value.report is not None
    assert e.value.report.reviews == (
        "a bracketed insertion (the source has no words here): [all]",
    )
    with pytest.raises(QuotationMismatchError, match="misquoted in eo-2025-7"):
        cite(corpus.archive, "eo-2025-7", quote="shall not publish a summary of those records",
             verifiers=corpus.verifiers)


def test_evidence_for_a_reviewed_quotation_records_its_status(corpus: Corpus) -> None:
    citation = cite(corpus.archive, "eo-2025-7", quote=REVIEW_QUOTE, accept_review=True,
                    verifiers=corpus.verifiers)
    assert citation.quote is not None and citation.quote.status is QuoteStatus.NEEDS_REVIEW
    data = make_evidence(corpus.archive, citation, corpus.verifiers)
    assert load(data)["quotation"]["status"] == "needs-review"
    verified = verify_evidence(data, corpus.verifiers)
    assert verified.quotation is not None
    assert verified.quotation.status is QuoteStatus.NEEDS_REVIEW
    assert not verified.accepted
    assert verified.to_dict()["accepted"] is False
    body = load(data)
    body["quotation"]["status"] = "altered"  # claiming a better status than the text gives
    with pytest.raises(QuotationMismatchError, match="status"):
        verify_evidence(dump(body), corpus.verifiers)


def _as_v1(data: bytes) -> bytes:
    """The file format v1 wrote for the same quotation, before the policy."""
    body = load(data)
    q = body["quotation"]
    body["format"] = "orderarchive-evidence/v1"
    q["status"] = "normalised"
    q["normalisations"] = [*q["normalisations"], "ellipsis"]
    q["alterations"] = [a for a in q["alterations"] if not a.startswith(". . .")]
    return dump(body)


def test_v1_evidence_files_are_still_read(corpus: Corpus) -> None:
    citation = cite(corpus.archive, "eo-2025-7", quote=ELLIPSIS_QUOTE, verifiers=corpus.verifiers)
    assert citation.quote is not None and citation.quote.status is QuoteStatus.ALTERED
    data = make_evidence(corpus.archive, citation, corpus.verifiers)
    old = _as_v1(data)
    verified = verify_evidence(old, corpus.verifiers)
    assert verified.quotation is not None
    assert verified.quotation.status is QuoteStatus.ALTERED  # judged by today's policy
    body = load(old)
    body["quotation"]["normalisations"] = ["line-breaks"]  # the ellipsis left out
    with pytest.raises(QuotationMismatchError):
        verify_evidence(dump(body), corpus.verifiers)


def test_v1_evidence_of_a_quotation_the_policy_no_longer_accepts_is_refused(
    corpus: Corpus,
) -> None:
    citation = cite(corpus.archive, "eo-2025-7", quote=REVIEW_QUOTE, accept_review=True,
                    verifiers=corpus.verifiers)
    body = load(make_evidence(corpus.archive, citation, corpus.verifiers))
    body["format"] = "orderarchive-evidence/v1"
    body["quotation"]["status"] = "normalised"  # what v1 said of "[all]"
    body["quotation"]["alterations"] = ["[all]"]
    with pytest.raises(QuotationMismatchError, match="needs-review"):
        verify_evidence(dump(body), corpus.verifiers)


def test_a_brief_with_a_quotation_that_needs_review_is_not_ok(corpus: Corpus) -> None:
    brief = f'The Order requires that "{REVIEW_QUOTE}," they say.\n'
    report = check_brief(corpus.archive, brief.encode(), "brief.txt", verifiers=corpus.verifiers)
    assert [item.status for item in report.items] == ["needs-review"]
    assert report.totals["needs-review"] == 1
    assert not report.ok
    assert report.to_dict()["quotations"][0]["reviews"] == [
        "a bracketed insertion (the source has no words here): [all]"
    ]
