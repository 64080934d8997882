"""Quotation checking against signed text layers (orderarchive.citations.quote).

The sample order below is invented for these tests, written in the style of a municipal
executive order; it is not the text of any real order. Its layer has what PDF extraction
leaves behind: line breaks inside paragraphs, a word hyphenated across a line end, ligatures
(ﬁ, ﬃ), typographic quotes and dashes, and a paragraph running across a page break.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from orderarchive import errors
from orderarchive.citations.quote import (
    ELLIPSIS_MAX_GAP,
    NORMALISATIONS,
    Difference,
    QuoteMatch,
    QuoteStatus,
    QuoteTooShortError,
    best_match,
    candidate_terms,
    match_quote,
)
from orderarchive.log.textlayer import TextLayer

PAGE_1 = [
    "EXECUTIVE ORDER OF THE MAYOR\n"
    "Concerning Municipal Resources and Civil Immigration Enforcement",
    "Section 1. Purpose. The City of Boston shall not use municipal resources to assist federal\n"
    "agents in the enforcement of civil immigration law, except where a judicial warrant so\n"
    "requires. Nothing in this order shall be construed to prohibit any municipal employee from\n"
    "reporting a crime.",
    "Section 2. Policy. It is the policy of the City that every resident, regardless of\n"
    "immigration status, may seek emergency medical care, report a crime, and enroll a child in\n"
    "a public school without fear that the information will be shared with federal agencies.",
    "Section 3. Police Department. The Police Commissioner—acting through the Bureau of\n"
    "Professional Standards—shall issue written guidance to all oﬃcers within thirty days. The\n"
    "guidance shall describe the “sanctuary” provisions of this order and shall identify "
    "each agree-\n"
    "ment between the Department and any federal agency",
]
PAGE_2 = [
    "that concerns the detention of persons on civil immigration detainers.",
    "Section 4. Confidentiality. No department shall ﬁle, disclose, or otherwise share the\n"
    "immigration status of any resident unless required by federal law or by the order of a\n"
    "court of competent jurisdiction.",
    "Section 5. Reporting. The Corporation Counsel shall report to the City Council every six\n"
    "months on the number of requests received from federal agencies, the number granted, and\n"
    "the number refused, without disclosing the identity of any person.",
]
PAGE_3 = [
    "Section 6. Rescission. Executive Order 2014–3 is rescinded in its entirety. Any guidance\n"
    "issued under that order shall have no further force or effect.",
    "Section 7. Severability. If any provision of this order is held invalid, the remaining\n"
    "provisions shall continue in full force and effect, and the invalid provision shall never\n"
    "be read to enlarge the authority of any department.",
]
ORDER = TextLayer.from_pages([PAGE_1, PAGE_2, PAGE_3])
TEXT = ORDER.text()

# The order Section 6 rescinds (also invented), and a news article about the new one.
OLD_ORDER = TextLayer.from_pages(
    [
        [
            "Executive Order 2014-3. Section 1. City departments may honor civil immigration\n"
            "detainers when the person detained has been convicted of a violent felony.",
            "Section 2. The Police Commissioner shall keep a record of each detainer honored.",
        ]
    ]
)
ARTICLE = TextLayer.from_text(
    "The mayor signed an order on Tuesday. Under the order, the City of Boston shall not use\n"
    "municipal resources to assist federal agents, a spokesperson said.\n"
)


def match(quote: str, layer: TextLayer = ORDER) -> QuoteMatch:
    found = match_quote(quote, layer)
    if found.locator is not None:  # every locator points at the passage it reports
        assert found.source_text == layer.text()[found.locator.start : found.locator.end]
        para = layer.locate(found.locator.start)
        assert para is not None
        assert (found.locator.page, found.locator.paragraph) == (para.page, para.number)
    assert set(found.normalisations) <= set(NORMALISATIONS)
    return found


def at(passage: str) -> int:
    """The offset of *passage*, which occurs once in the sample order."""
    assert TEXT.count(passage) == 1, passage
    return TEXT.index(passage)


# -- exact -------------------------------------------------------------------------------------


def test_exact_quotation_is_located() -> None:
    quote = "The City of Boston shall not use municipal resources to assist federal"
    found = match(quote)
    assert found.status is QuoteStatus.EXACT
    assert found.is_match
    assert found.locator is not None
    assert (found.locator.page, found.locator.paragraph) == (1, 2)
    assert (found.locator.start, found.locator.end) == (at(quote), at(quote) + len(quote))
    assert found.normalisations == found.alterations == ()
    assert found.differences == ()
    assert found.score == 1.0


def test_exact_quotation_in_a_layer_without_pages_has_no_page() -> None:
    found = match_quote("the City of Boston shall not use", ARTICLE, doc="article", paged=False)
    assert found.status is QuoteStatus.EXACT
    assert found.doc == "article"
    assert found.locator is not None
    assert found.locator.page is None
    assert found.locator.paragraph == 1


def test_exact_needs_whole_words() -> None:
    # "he City of Boston" is inside "The City of Boston" but quotes a word that is not there.
    found = match("he City of Boston shall not use municipal resources")
    assert found.status is QuoteStatus.MISQUOTED
    assert [(d.op, d.quoted, d.source) for d in found.differences] == [("changed", "he", "The")]


# -- normalised --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("quote", "normalisations", "passage"),
    [
        pytest.param(
            'shall describe the "sanctuary" provisions of this order',
            ("typographic-quotes",),
            "shall describe the “sanctuary” provisions of this order",
            id="straight-quotes-for-curly",
        ),
        pytest.param(
            "shall describe the ‘sanctuary’ provisions of this order",
            ("typographic-quotes",),
            "shall describe the “sanctuary” provisions of this order",
            id="nested-single-quotes",
        ),
        pytest.param(
            "The Police Commissioner--acting through the Bureau of",
            ("dashes",),
            "The Police Commissioner—acting through the Bureau of",
            id="double-hyphen-for-em-dash",
        ),
        pytest.param(
            "Executive Order 2014-3 is rescinded in its entirety",
            ("dashes",),
            "Executive Order 2014–3 is rescinded in its entirety",
            id="hyphen-for-en-dash",
        ),
        pytest.param(
            "The City  of Boston shall not   use municipal resources",
            ("whitespace",),
            "The City of Boston shall not use municipal resources",
            id="extra-whitespace",
        ),
        pytest.param(
            "to assist federal agents in the enforcement of civil immigration law",
            ("line-breaks",),
            "to assist federal\nagents in the enforcement of civil immigration law",
            id="line-break",
        ),
        pytest.param(
            "written guidance to all officers within thirty days",
            ("ligatures",),
            "written guidance to all oﬃcers within thirty days",
            id="ligature-ffi",
        ),
        pytest.param(
            "No department shall file, disclose, or otherwise share the",
            ("ligatures",),
            "No department shall ﬁle, disclose, or otherwise share the",
            id="ligature-fi",
        ),
        pytest.param(
            "and shall identify each agreement between the Department",
            ("hyphenation",),
            "and shall identify each agree-\nment between the Department",
            id="hyphenation",
        ),
        pytest.param(
            "The Ｃity of Boston shall not use",
            ("compatibility",),
            "The City of Boston shall not use",
            id="fullwidth-letter",
        ),
        pytest.param(
            "The City of Boston shall not use municipal resources,",
            ("trailing-punctuation",),
            "The City of Boston shall not use municipal resources",
            id="comma-inside-closing-quote",
        ),
        pytest.param(
            "“shall issue written guidance to all officers within thirty days.  The guidance "
            "shall describe the ‘sanctuary’ provisions”",
            ("typographic-quotes", "whitespace", "line-breaks", "ligatures"),
            None,
            id="several-in-its-own-quotation-marks",
        ),
    ],
)
def test_normalised(quote: str, normalisations: tuple[str, ...], passage: str | None) -> None:
    found = match(quote)
    assert found.status is QuoteStatus.NORMALISED
    assert found.normalisations == normalisations
    assert found.differences == ()
    assert found.alterations == ()
    assert found.score == 1.0
    if passage is not None:
        assert found.source_text == passage
        assert found.locator is not None
        assert found.locator.start == at(passage)


def test_quote_across_a_page_break() -> None:
    found = match("between the Department and any federal agency that concerns the detention")
    assert found.status is QuoteStatus.NORMALISED
    assert found.normalisations == ("line-breaks",)
    assert found.locator is not None
    assert (found.locator.page, found.locator.paragraph) == (1, 4)  # where it starts
    assert (
        found.source_text
        == "between the Department and any federal agency\n\f\nthat concerns the detention"
    )


HEAD = "CITY OF BOSTON - EXECUTIVE ORDER 2026-1 - NOT AN OFFICIAL COPY"


def test_quote_across_a_page_break_skips_running_heads_and_page_numbers() -> None:
    layer = TextLayer.from_pages(
        [
            [HEAD, "Section 1. The City shall not use municipal resources to assist federal",
             "Page 1"],
            [HEAD, "agents in the enforcement of civil immigration law.", "Page 2"],
        ]
    )
    found = match("The City shall not use municipal resources to assist federal agents in the "
                  "enforcement", layer)
    assert found.status is QuoteStatus.NORMALISED
    assert found.normalisations == ("running-heads",)
    assert found.source_text is not None and HEAD in found.source_text
    dropped = match("The City shall use municipal resources to assist federal agents in the "
                    "enforcement", layer)
    assert dropped.status is QuoteStatus.MISQUOTED  # skipping a head never hides a word
    assert match(HEAD, layer).status is QuoteStatus.EXACT  # a head itself is still quotable


def test_a_repeated_paragraph_inside_pages_is_not_a_running_head() -> None:
    layer = TextLayer.from_pages(
        [
            ["Section 1. The City shall not use municipal resources to assist federal",
             "No exception applies.", "Section 2. Every agency shall report"],
            ["No exception applies.", "to the Council every six months."],
        ]
    )
    found = match("Every agency shall report to the Council every six months", layer)
    assert found.status is QuoteStatus.MISQUOTED  # "No exception applies." starts page 2 only
    assert [(d.op, d.source) for d in found.differences] == [
        ("removed", "No exception applies.")
    ]


def test_quote_with_pdf_line_breaks_of_its_own() -> None:
    # Copied out of another PDF: its own line breaks, and a hyphen at its own line end.
    found = match("identify each agree-\nment between the\nDepartment and any federal agency")
    assert found.status is QuoteStatus.NORMALISED
    assert found.normalisations == ("line-breaks",)


# -- ellipsis ----------------------------------------------------------------------------------


@pytest.mark.parametrize("ellipsis", ["...", "…", ". . .", "[...]"])
def test_ellipsis_omits_words(ellipsis: str) -> None:
    quote = (
        f"The City of Boston shall not use municipal resources {ellipsis} "
        "except where a judicial warrant so requires."
    )
    found = match(quote)
    assert found.status is QuoteStatus.ALTERED
    assert found.is_match
    assert found.alterations == (
        f'{ellipsis} for "to assist federal\nagents in the enforcement of civil immigration law,"',
    )
    assert found.locator is not None
    assert found.locator.start == at("The City of Boston shall not")
    assert found.locator.end == at("requires. Nothing") + len("requires.")


def test_ellipsis_may_omit_a_whole_sentence() -> None:
    found = match(
        "Section 3. Police Department. . . . The guidance shall describe the “sanctuary” "
        "provisions of this order"
    )
    assert found.status is QuoteStatus.ALTERED
    assert found.normalisations == ("line-breaks",)
    assert len(found.alterations) == 1
    assert found.alterations[0].startswith(
        '. . . . for ". The Police Commissioner—acting through'
    )


def test_ellipsis_that_omits_a_sentence_with_a_reversing_word_needs_review() -> None:
    found = match(
        "Section 1. Purpose. . . . Nothing in this order shall be construed to prohibit any "
        "municipal employee from reporting a crime."
    )
    assert found.status is QuoteStatus.NEEDS_REVIEW
    assert found.reviews[0].startswith("the ellipsis leaves out a sentence with 'not'")


def test_ellipsis_across_a_paragraph_needs_review() -> None:
    # The omitted sentence holds "Nothing ... prohibit", and the omission joins two sections.
    found = match(
        "except where a judicial warrant so requires. . . . "
        "It is the policy of the City that every resident"
    )
    assert found.status is QuoteStatus.NEEDS_REVIEW
    assert not found.is_match
    assert found.alterations == ()
    assert len(found.reviews) == 1
    assert found.reviews[0].startswith(
        'the ellipsis crosses a paragraph or page: . . . . for ". Nothing'
    )
    assert "Nothing in this order shall be construed to prohibit" in found.reviews[0]


def test_an_ellipsis_is_matched_inside_one_paragraph_when_it_can_be() -> None:
    layer = TextLayer.from_text(
        "The order of the day is read first.\n\n"
        "The order asserts that local police are obligated to protect residents.\n"
    )
    found = match("The order . . . local police are obligated to protect residents", layer)
    assert found.status is QuoteStatus.ALTERED
    assert found.alterations == ('. . . for "asserts that"',)
    assert found.locator is not None and found.locator.paragraph == 2


def test_leading_and_trailing_ellipses() -> None:
    found = match("... shall not use municipal resources to assist federal ...")
    assert found.status is QuoteStatus.ALTERED
    assert found.normalisations == ()
    assert found.alterations == ("... (at the edge of the quotation)",) * 2
    assert found.source_text == "shall not use municipal resources to assist federal"


def test_ellipsis_parts_out_of_order_are_not_a_match() -> None:
    found = match(
        "except where a judicial warrant so requires ... "
        "The City of Boston shall not use municipal resources"
    )
    assert not found.is_match


def test_ellipsis_parts_too_far_apart_are_not_a_match() -> None:
    filler = [
        f"Paragraph {n} of the filler text repeats nothing of interest here." for n in range(60)
    ]
    layer = TextLayer.from_pages([[*PAGE_1, *filler, *PAGE_3]])
    gap = layer.text().index("the invalid provision") - layer.text().index("resources to assist")
    assert gap > ELLIPSIS_MAX_GAP
    assert match("The City of Boston shall not use municipal resources to assist", layer).is_match
    found = match(
        "The City of Boston shall not use municipal resources ... "
        "the invalid provision shall never",
        layer,
    )
    assert not found.is_match


def test_ellipsis_that_drops_a_negation_is_a_misquote() -> None:
    found = match("The City of Boston shall . . . use municipal resources to assist federal agents")
    assert found.status is QuoteStatus.MISQUOTED
    assert [(d.op, d.quoted, d.source, d.offset) for d in found.differences] == [
        ("changed", ". . .", "not", at("not use"))
    ]


# -- bracketed alterations ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("quote", "alteration", "passage"),
    [
        pytest.param(
            "[t]he City of Boston shall not use municipal resources",
            '[t]he for "The"',
            "The City of Boston shall not use municipal resources",
            id="lower-case-initial",
        ),
        pytest.param(
            "[N]othing in this order shall be construed to prohibit",
            '[N]othing for "Nothing"',
            "Nothing in this order shall be construed to prohibit",
            id="same-case-initial",
        ),
        pytest.param(
            "It is the policy of [the City] that every resident",
            '[the City] for "the City"',
            "It is the policy of the City that every resident",
            id="insertion-same-words",
        ),
        pytest.param(
            "[The City] shall not use municipal resources to assist",
            '[The City] for "The City of Boston"',
            "The City of Boston shall not use municipal resources to assist",
            id="leading-insertion",
        ),
        pytest.param(
            "The Police Commissioner shall issue written guidance to all [police] officers",
            '[police] for ""',
            None,
            id="insertion-with-dashes-omitted",
        ),
        pytest.param(
            "any resident unless required by federal law [sic]",
            "[sic]",
            "any resident unless required by federal law",
            id="sic",
        ),
        pytest.param(
            "the number of request[s] received from federal agencies",
            'request[s] for "requests"',
            "the number of requests received from federal agencies",
            id="in-word",
        ),
    ],
)
def test_bracketed_alterations(quote: str, alteration: str, passage: str | None) -> None:
    found = match(quote)
    if passage is None:  # the bracket is not the only change: reported, never accepted
        assert found.status is QuoteStatus.MISQUOTED
        return
    assert found.status is QuoteStatus.ALTERED
    assert found.alterations == (alteration,)
    assert found.differences == ()
    assert found.source_text == passage


def test_bracket_standing_for_a_few_words() -> None:
    found = match(
        "The Police Commissioner—acting through [its Bureau]—shall issue written guidance"
    )
    assert found.status is QuoteStatus.ALTERED
    assert found.alterations == ('[its Bureau] for "the Bureau of\nProfessional Standards"',)


def test_bracket_standing_for_too_many_words_is_not_accepted() -> None:
    found = match(
        "The City of Boston shall not use [them] except where a judicial warrant so requires"
    )
    assert found.status is QuoteStatus.MISQUOTED


def test_bracket_that_replaces_a_negation_is_a_misquote() -> None:
    found = match(
        "The City of Boston shall [always] use municipal resources to assist federal agents"
    )
    assert found.status is QuoteStatus.MISQUOTED
    assert [(d.op, d.quoted, d.source) for d in found.differences] == [
        ("changed", "[always]", "not")
    ]
    keeps = match("The City of Boston shall [not] use municipal resources to assist federal agents")
    assert keeps.status is QuoteStatus.ALTERED
    assert keeps.alterations == ('[not] for "not"',)


def test_bracketed_letter_must_be_the_same_letter() -> None:
    found = match("[s]he City of Boston shall not use municipal resources")
    assert found.status is QuoteStatus.MISQUOTED


def test_case_change_without_brackets_is_a_misquote() -> None:
    found = match("the City of Boston shall not use municipal resources")
    assert found.status is QuoteStatus.MISQUOTED
    assert found.differences == (Difference("changed", "the", "The", at("The City of Boston"), 2),)


# -- misquoted ---------------------------------------------------------------------------------


def test_one_word_changed() -> None:
    found = match("The City of Boston shall not use city resources to assist federal agents")
    assert found.status is QuoteStatus.MISQUOTED
    assert not found.is_match
    assert found.differences == (
        Difference("changed", "city", "municipal", at("municipal resources"), 2),
    )
    assert found.locator is not None
    assert (
        found.source_text
        == "The City of Boston shall not use municipal resources to assist federal\nagents"
    )
    assert 0.8 < found.score < 1.0


def test_one_word_dropped() -> None:
    found = match("The City of Boston shall not municipal resources to assist federal agents")
    assert found.status is QuoteStatus.MISQUOTED
    assert found.differences == (Difference("removed", "", "use", at("use municipal"), 2),)


def test_one_word_added() -> None:
    found = match(
        "The City of Boston shall not ever use municipal resources to assist federal agents"
    )
    assert found.status is QuoteStatus.MISQUOTED
    assert found.differences == (Difference("added", "ever", "", at("not use") + len("not"), 2),)


@pytest.mark.parametrize(
    ("quote", "negation", "passage"),
    [
        (
            "The City of Boston shall use municipal resources to assist federal agents",
            "not",
            "not use",
        ),
        ("the invalid provision shall be read to enlarge the authority", "never", "never\nbe read"),
        (
            "Any guidance issued under that order shall have further force or effect.",
            "no",
            "no further",
        ),
    ],
)
def test_negation_removed(quote: str, negation: str, passage: str) -> None:
    found = match(quote)
    assert found.status is QuoteStatus.MISQUOTED
    assert [(d.op, d.source) for d in found.differences] == [("removed", negation)]
    assert found.differences[0].offset == at(passage)


def test_two_sentences_spliced() -> None:
    # The first sentence of Section 1 joined to the start of Section 2, as if contiguous.
    found = match(
        "The City of Boston shall not use municipal resources to assist federal agents. "
        "It is the policy of the City that every resident may seek emergency medical care"
    )
    assert found.status is QuoteStatus.MISQUOTED
    removed = [d for d in found.differences if d.op == "removed"]
    assert any("Nothing in this order shall be construed" in d.source for d in removed)
    assert any(d.source == ", regardless of\nimmigration status," for d in removed)
    assert found.locator is not None
    assert found.locator.paragraph == 2
    assert found.source_text is not None
    assert found.source_text.endswith("may seek emergency medical care")


def test_punctuation_difference_is_a_misquote() -> None:
    found = match("Executive Order 2014-3 is rescinded in its entirety; any guidance issued")
    assert found.status is QuoteStatus.MISQUOTED


# -- not found and refused ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "quote",
    [
        "The quick brown fox jumps over the lazy dog",
        "City departments may honor civil immigration detainers",  # the rescinded order
        "the of the shall any of the order shall the City",
    ],
)
def test_not_found(quote: str) -> None:
    found = match(quote)
    assert found.status is QuoteStatus.NOT_FOUND
    assert found.locator is None
    assert found.source_text is None
    assert found.differences == ()


def test_empty_layer() -> None:
    assert (
        match_quote("The City of Boston shall not", TextLayer(pages=())).status
        is QuoteStatus.NOT_FOUND
    )


@pytest.mark.parametrize(
    "quote", ["the Order", "", "  ", "[The City] shall not", "... shall not use ...", "«»"]
)
def test_too_short_is_refused(quote: str) -> None:
    with pytest.raises(QuoteTooShortError, match="at least 4"):
        match_quote(quote, ORDER)
    with pytest.raises(errors.MalformedError):
        best_match(quote, [])


# -- several documents -------------------------------------------------------------------------


def test_best_match_prefers_exact_over_normalised_over_misquoted() -> None:
    candidates = [
        ("eo-2014-3", OLD_ORDER, True),
        ("article", ARTICLE, False),
        ("eo-2025-1", ORDER, True),
    ]
    # Normalised in the article (a line break), exact in the order: the order wins.
    found = best_match("The City of Boston shall not use municipal resources to assist", candidates)
    assert (found.status, found.doc) == (QuoteStatus.EXACT, "eo-2025-1")
    found = best_match("federal agents, a spokesperson said", candidates)
    assert (found.status, found.doc) == (QuoteStatus.EXACT, "article")
    assert found.locator is not None
    assert found.locator.page is None
    found = best_match("may honor civil immigration detainers when the person", candidates)
    assert (found.status, found.doc) == (QuoteStatus.NORMALISED, "eo-2014-3")
    # Misquoted in both; the article also has "the" for "The": the order is the closer source.
    misquote = "The City of Boston shall use municipal resources to assist federal agents"
    for ordering in (candidates, candidates[::-1]):
        found = best_match(misquote, ordering)
        assert (found.status, found.doc) == (QuoteStatus.MISQUOTED, "eo-2025-1")
        assert [(d.op, d.source) for d in found.differences] == [("removed", "not")]
    # Equally good answers: the earlier candidate.
    twins = [("copy-a", ORDER, True), ("copy-b", ORDER, True)]
    assert best_match(misquote, twins).doc == "copy-a"


def test_best_match_without_a_match() -> None:
    assert best_match("The quick brown fox jumps", []).status is QuoteStatus.NOT_FOUND
    found = best_match("The quick brown fox jumps", [("eo-2025-1", ORDER, True)])
    assert (found.status, found.doc) == (QuoteStatus.NOT_FOUND, "eo-2025-1")


def test_candidate_terms() -> None:
    terms = candidate_terms(
        "[T]he City of Boston shall not use [its] self-governing oﬃce … to assist"
    )
    assert terms == ["city", "boston", "use", "self", "governing", "office", "assist"]


# -- scale and shape ---------------------------------------------------------------------------


def test_hundred_page_layer() -> None:
    words = ["resident", "department", "federal", "agency", "municipal", "court", "report"]
    pages = [
        [
            f"Paragraph {p}.{k}. " + " ".join(words[(p * k + i) % len(words)] for i in range(60))
            for k in range(8)
        ]
        for p in range(100)
    ]
    pages[63] = PAGE_1
    layer = TextLayer.from_pages(pages)
    found = match("The City of Boston shall not use city resources to assist federal agents", layer)
    assert found.status is QuoteStatus.MISQUOTED
    assert found.locator is not None
    assert found.locator.page == 64
    assert (
        match("resident department federal agency municipal court report", layer).status
        is QuoteStatus.EXACT
    )
    assert (
        match("federal agency the court of the person shall not report", layer).status
        is QuoteStatus.NOT_FOUND
    )


def test_quote_modules_do_no_io() -> None:
    allowed = {
        "__future__",
        "attrs",
        "bisect",
        "collections",
        "collections.abc",
        "difflib",
        "enum",
        "functools",
        "re",
        "unicodedata",
    }
    for module in ("quote", "brief"):
        source = Path(__file__).parents[1] / "src" / "orderarchive" / "citations" / f"{module}.py"
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                assert {alias.name for alias in node.names} <= allowed
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                assert node.module in allowed


# -- properties --------------------------------------------------------------------------------

WORDS = [(m.start(), m.end()) for m in re.finditer(r"\S+", TEXT)]
FOREIGN = ["County", "ferry", "seventeen", "purple", "always", "Governor"]
assert not any(word in TEXT for word in FOREIGN)
# Words of the order itself: a replacement that reads naturally is the dangerous kind.
NATIVE = ["shall", "may", "not", "no", "the", "City", "federal", "any", "every", "order"]


def _substring(first: int, length: int) -> tuple[int, int]:
    last = min(first + length, len(WORDS)) - 1
    return WORDS[first][0], WORDS[last][1]


def _collapsed(text: str) -> str:
    return " ".join(text.split())


@settings(max_examples=150, deadline=None)
@given(first=st.integers(0, len(WORDS) - 8), length=st.integers(8, 40))
def test_any_substring_is_exact(first: int, length: int) -> None:
    start, end = _substring(first, length)
    quote = TEXT[start:end]
    found = match(quote)
    assert found.status is QuoteStatus.EXACT
    assert found.locator is not None
    assert TEXT[found.locator.start : found.locator.end] == quote
    assert found.locator.start == start  # the sample order repeats no eight words


@settings(max_examples=150, deadline=None)
@given(
    first=st.integers(0, len(WORDS) - 8),
    length=st.integers(8, 40),
    data=st.data(),
)
def test_deleting_or_replacing_a_word_is_never_a_match(
    first: int, length: int, data: st.DataObject
) -> None:
    start, end = _substring(first, length)
    words = TEXT[start:end].split()
    if data.draw(st.booleans(), label="delete"):
        k = data.draw(st.integers(1, len(words) - 2), label="deleted")  # an inner word
        changed = words[:k] + words[k + 1 :]
    else:
        k = data.draw(st.integers(0, len(words) - 1), label="replaced")
        new = data.draw(st.sampled_from(FOREIGN + NATIVE), label="by")
        assume(new != re.sub(r"\W", "", words[k]))  # "agents," for "agents" drops a comma only
        changed = [*words[:k], new, *words[k + 1 :]]
    quote = " ".join(changed)
    assume(_collapsed(quote) not in _collapsed(TEXT))
    found = match(quote)
    assert found.status in (QuoteStatus.MISQUOTED, QuoteStatus.NOT_FOUND)
    assert not found.is_match
