"""Finding quotations in briefs (orderarchive.citations.brief), then checking each
(orderarchive.citations.quote).

The order and the brief below are invented for these tests in the style of a municipal
executive order and a memorandum of law; they are not real documents.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orderarchive.citations.brief import FoundQuotation, TooManyQuotationsError, find_quotations
from orderarchive.citations.quote import QuoteStatus, match_quote
from orderarchive.documents.html import brief_text
from orderarchive.log.textlayer import TextLayer

ORDER = TextLayer.from_pages(
    [
        [
            "Section 1. Purpose. The City of Boston shall not use municipal resources to assist\n"
            "federal agents in the enforcement of civil immigration law. No officer shall ask a\n"
            "person about his or her immigration status.",
            "Section 2. Records. Each department shall keep the “sanctuary” records required "
            "by this\n"
            "order for six years—and shall never destroy them before that time—unless the\n"
            "Corporation Counsel directs otherwise in writing.",
        ],
        [
            "Section 3. Review. The Corporation Counsel shall review this order every two years "
            "and\n"
            "shall report to the Mayor on whether any of its provisions should be amended.",
        ],
    ]
)

BRIEF = """\
# Memorandum of Law in Support of the City's Motion

The City's executive order (the "Order") is plain. It provides that "The City of Boston
shall not use municipal resources to assist federal agents in the enforcement of civil
immigration law." Order § 1. The Order further states that "[n]o officer shall ask a person
about his or her immigration status," id., and it requires departments to keep the
“sanctuary” records “for six years--and shall never destroy them before that time.” Id. § 2.

Plaintiffs misread Section 2, asserting that it says departments "shall destroy them before
that time unless the Corporation Counsel directs otherwise." That is not what it says.

Plaintiffs also rely on the statement that "Each department shall keep the 'sanctuary'
records required by this order for six years. The Corporation Counsel shall review this
order every two years." But the Order contains no such passage.

The Order's review clause reads:

    The Corporation Counsel shall review this order every two years and shall report to
    the Mayor on whether any of its provisions should be amended.

A prior order, since rescinded, had provided:

> City departments may honor civil immigration detainers when the person detained
> has been convicted of a violent felony.

    This paragraph starts with an indent, as paragraphs in some briefs do, and is not a
block quote. An unbalanced quotation mark at the end of a sentence, such as "this one, is
left alone.
"""

# What find_quotations finds in BRIEF, and how each quotation relates to ORDER.
EXPECTED = [
    ("The City of Boston\nshall not use municipal resources", "inline", QuoteStatus.NORMALISED),
    ("[n]o officer shall ask a person", "inline", QuoteStatus.ALTERED),
    ("for six years--and shall never destroy", "inline", QuoteStatus.NORMALISED),
    ("shall destroy them before", "inline", QuoteStatus.MISQUOTED),
    ("Each department shall keep the 'sanctuary'", "inline", QuoteStatus.MISQUOTED),
    ("The Corporation Counsel shall review this order", "block", QuoteStatus.NORMALISED),
    ("City departments may honor civil immigration", "block", QuoteStatus.NOT_FOUND),
]


def test_finds_each_quotation_in_a_brief() -> None:
    found = find_quotations(BRIEF)
    assert [
        (q.text[: len(prefix)], q.kind) for q, (prefix, _, _) in zip(found, EXPECTED, strict=False)
    ] == [(prefix, kind) for prefix, kind, _ in EXPECTED]
    assert len(found) == len(EXPECTED)
    for quotation in found:
        if quotation.kind == "inline":
            assert BRIEF[quotation.start : quotation.end] == quotation.text
        assert quotation.page is None  # a str without form feeds has no pages
        assert quotation.line == BRIEF.count("\n", 0, quotation.start) + 1


def test_each_quotation_in_a_brief_gets_its_status() -> None:
    found = find_quotations(BRIEF)
    statuses = [match_quote(q.text, ORDER).status for q in found]
    assert statuses == [status for _, _, status in EXPECTED]


def test_details_of_the_brief_results() -> None:
    found = find_quotations(BRIEF)
    results = [match_quote(q.text, ORDER) for q in found]
    assert results[0].normalisations == ("line-breaks",)
    assert results[1].normalisations == ("line-breaks", "trailing-punctuation")
    assert results[1].alterations == ('[n]o for "No"',)
    assert results[2].normalisations == ("dashes", "trailing-punctuation")
    # The brief drops "never" (and the dash before "unless"); "otherwise." may end the quotation.
    assert [(d.op, d.source) for d in results[3].differences] == [
        ("removed", "never"),
        ("removed", "—"),
    ]
    spliced = results[4]
    assert [d.op for d in spliced.differences] == ["removed"]
    assert spliced.differences[0].source.startswith("—and shall never destroy them")
    assert spliced.differences[0].source.endswith("in writing.\n\f\nSection 3. Review")
    assert results[5].locator is not None
    assert results[5].locator.page == 2


def test_defined_terms_and_scare_quotes_are_skipped() -> None:
    texts = [q.text for q in find_quotations(BRIEF)]
    assert "Order" not in texts
    assert "sanctuary" not in texts
    assert [q.text for q in find_quotations(BRIEF, min_words=1)][:2] == ["Order", texts[0]]


def test_block_quote_text_and_offsets() -> None:
    block = next(q for q in find_quotations(BRIEF) if q.kind == "block")
    assert block.text == (
        "The Corporation Counsel shall review this order every two years and shall report to\n"
        "the Mayor on whether any of its provisions should be amended."
    )
    assert BRIEF[block.start : block.end].startswith("The Corporation Counsel")
    assert BRIEF[block.start : block.end].endswith("amended.")


def test_markdown_block_quotes_survive_a_text_layer() -> None:
    layer = TextLayer.from_text(BRIEF)
    kinds = [(q.kind, q.text.split()[0]) for q in find_quotations(layer)]
    # The indented block lost its indentation in the layer: it is ordinary text there.
    assert ("block", "City") in kinds
    assert ("block", "The") not in kinds
    for q in find_quotations(layer):
        assert q.page == 1


def test_nested_quotes_and_multi_paragraph_block() -> None:
    text = (
        "The court held that \"a policy described as 'sanctuary' in the press is not\n"
        'thereby unlawful," and went on.\n\n'
        "> First paragraph of the quoted passage, which runs on.\n"
        ">\n"
        "> Second paragraph of the same quoted passage.\n"
    )
    found = find_quotations(text)
    assert [q.kind for q in found] == ["inline", "block"]
    assert (
        found[0].text == "a policy described as 'sanctuary' in the press is not\nthereby unlawful,"
    )
    assert found[1].text == (
        "First paragraph of the quoted passage, which runs on.\n\n"
        "Second paragraph of the same quoted passage."
    )
    assert found[1].line == 4


def test_quotation_across_a_page_break_drops_running_heads() -> None:
    pages = [
        "Case 1:25-cv-01234 Document 12 Filed 03/14/25\n\n"
        'The Order is clear that "The City of Boston shall not use municipal resources to\n\n'
        "Page 1 of 2",
        "Case 1:25-cv-01234 Document 12 Filed 03/14/25\n\n"
        'assist federal agents in the enforcement of civil immigration law." That ends it.\n\n'
        "Page 2 of 2",
    ]
    layer = TextLayer.from_pages(pages)
    (found,) = find_quotations(layer)
    assert found.page == 1
    assert found.line == 3
    assert "Page 1 of 2" not in found.text
    assert "Case 1:25" not in found.text
    assert found.text.startswith("The City of Boston") and found.text.endswith("immigration law.")
    result = match_quote(found.text, ORDER)
    assert result.status is QuoteStatus.NORMALISED
    assert result.normalisations == ("line-breaks",)


def test_pages_of_a_plain_text_brief_with_form_feeds() -> None:
    text = 'Intro.\n\f\nIt says "the City of Boston shall not use municipal resources" plainly.\n'
    (found,) = find_quotations(text)
    assert (found.page, found.line, found.kind) == (2, 3, "inline")


@pytest.mark.parametrize(
    "text",
    [
        'An opening mark "that is never closed at all in the whole text',
        'A closing mark that was never opened" and more words follow here',
        '"',
        "",
        "“One” ” “two three four five",
        'He said " spaced marks " are "ambiguous marks" in plain text',
    ],
)
def test_unbalanced_quotes_do_not_crash(text: str) -> None:
    for quotation in find_quotations(text, min_words=1):
        assert quotation.text
        assert 0 <= quotation.start <= quotation.end <= len(text)


def test_a_second_opening_mark_abandons_the_first() -> None:
    text = "“Unclosed here. Later “the City of Boston shall not use municipal resources” he said."
    assert [q.text for q in find_quotations(text)] == [
        "the City of Boston shall not use municipal resources"
    ]


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab \"“”'‘’>\n\f\t    .,[]…")), max_size=200))
def test_never_crashes(text: str) -> None:
    for quotation in find_quotations(text, min_words=1):
        assert isinstance(quotation, FoundQuotation)
        assert quotation.kind in ("inline", "block")
        assert 0 <= quotation.start <= quotation.end <= len(text)


# -- quotations as people write them (issue 12, seen 5) ---------------------------------------


def test_a_curly_quotation_nested_in_a_straight_one_keeps_the_outer() -> None:
    text = ('The article says "“An Executive Order To Protect Bostonians” also bans federal '
            'officials from using property owned by the city" and more.')
    assert [q.text for q in find_quotations(text)] == [
        "“An Executive Order To Protect Bostonians” also bans federal officials from using "
        "property owned by the city"
    ]
    text = 'It reads "the federal government’s “reckless” deployment of ICE agents" today.'
    assert [q.text for q in find_quotations(text)] == [
        "the federal government’s “reckless” deployment of ICE agents"
    ]


def test_a_straight_quotation_nested_in_a_curly_one_keeps_the_outer() -> None:
    text = 'He wrote “the "Order" shall not be read to assist federal agents” in the memo.'
    assert [q.text for q in find_quotations(text)] == [
        'the "Order" shall not be read to assist federal agents'
    ]


def test_single_marks_nested_in_double_ones() -> None:
    text = ('DHS "called Wu’s order ‘legally illiterate,’ echoing the language used" and '
            "\"the City's 'sanctuary' records are kept for six years.'\" The end.")
    assert [q.text for q in find_quotations(text)] == [
        "called Wu’s order ‘legally illiterate,’ echoing the language used",
        "the City's 'sanctuary' records are kept for six years.'",
    ]


def test_an_unclosed_outer_mark_keeps_the_quotations_inside_it() -> None:
    text = '"Stray mark. Then “the City of Boston shall not use municipal resources” he said.'
    assert [q.text for q in find_quotations(text)] == [
        "the City of Boston shall not use municipal resources"
    ]


def test_inch_marks_apostrophes_and_one_word_terms_are_not_quotations() -> None:
    text = ("The plaintiffs' 12\" binders, 'twas said, and the City's \"Order\" or a \"shield\" "
            "are not quotations; 6' 2\" is a height.")
    assert find_quotations(text, min_words=2) == []


@pytest.mark.parametrize(
    ("marked", "plain", "removed"),
    [
        ('"we will *not* allow the birthplace"', "we will not allow the birthplace",
         ("emphasis",)),
        ('"we will _not_ allow the birthplace"', "we will not allow the birthplace",
         ("emphasis",)),
        ('"we will **not** allow the\nbirthplace"', "we will not allow the\nbirthplace",
         ("strong",)),
        ('"we will __not__ allow the birthplace"', "we will not allow the birthplace",
         ("strong",)),
        ('"to [implement protections](https://example.org/x) like Boston’s"',
         "to implement protections like Boston’s", ("link",)),
        ('"first responders should `provide` immediate care"',
         "first responders should provide immediate care", ("code",)),
        ('"*we* will **not** allow [the](u) birthplace"', "we will not allow the birthplace",
         ("link", "strong", "emphasis")),
        ('"[t]he City shall not assist the federal agents"',
         "[t]he City shall not assist the federal agents", ()),
        ('"sections 2 * 3 * 4 of the order shall apply"',
         "sections 2 * 3 * 4 of the order shall apply", ()),
        ('"the snake_case_name stays as it is here"',
         "the snake_case_name stays as it is here", ()),
    ],
)
def test_markdown_markup_inside_a_quotation_is_removed_and_named(
    marked: str, plain: str, removed: tuple[str, ...]
) -> None:
    (found,) = find_quotations(f"It says {marked} plainly.", markdown=True)
    assert (found.text, found.removed) == (plain, removed)
    (kept,) = find_quotations(f"It says {marked} plainly.")  # not Markdown: kept as written
    assert kept.text == marked[1:-1] and kept.removed == ()


def test_markdown_markup_in_a_block_quotation() -> None:
    text = "Intro.\n\n> City personnel shall **prioritize\n> de-escalation**, and more.\n"
    (found,) = find_quotations(text, markdown=True)
    assert (found.kind, found.text, found.removed) == (
        "block", "City personnel shall prioritize\nde-escalation, and more.", ("strong",))


def test_html_q_and_blockquote_are_quotations() -> None:
    page = (b"<!doctype html><html><body><main><p>It says <q>the city <q>refuses</q> to assist "
            b"federal commandeering</q> and a <q>scare</q> quote.</p><blockquote><p>First "
            b"paragraph of the quoted passage.</p><p>Second <em>paragraph</em> of it.</p>"
            b"</blockquote><p>After &ldquo;the block quote comes this&rdquo; text.</p>"
            b"<nav><q>navigation is not part of the brief</q></nav></main></body></html>")
    text = brief_text(page)
    found = find_quotations(text, min_words=2)
    assert [(q.kind, q.text) for q in found] == [
        ("inline", "the city ‘refuses’ to assist federal commandeering"),
        ("block", "First paragraph of the quoted passage.\n\nSecond paragraph of it."),
        ("inline", "the block quote comes this"),
    ]


def test_too_many_quotations_is_an_error() -> None:
    text = '"one two three four" and ' * 5
    assert len(find_quotations(text, max_quotations=5)) == 5
    with pytest.raises(TooManyQuotationsError, match="more than 4 quotations"):
        find_quotations(text, max_quotations=4)


def test_lines_and_pages_of_many_quotations() -> None:
    text = "".join(f'Line {i} "one two three four {i}"\n' + ("\f" if i % 3 == 2 else "")
                   for i in range(9))
    found = find_quotations(text)
    assert [(q.line, q.page) for q in found] == [
        (1, 1), (2, 1), (3, 1), (4, 2), (5, 2), (6, 2), (7, 3), (8, 3), (9, 3)]


# -- bounded work (issue 11, item 3) -----------------------------------------------------------

_ADVERSARIAL = r'''
import sys
from orderarchive.citations.brief import find_quotations
n = 100_000
cases = [
    '"' * n,                          # unclosed straight marks
    '“' * n,                          # unclosed curly marks
    '“"' * (n // 2),                  # nested marks of both kinds, never closed
    ' “a "b ‘c' * (n // 8),
    '    ' + ' ' * n + 'x\n',         # a long indentation
    ' ' * n + '>x\n' + ' ' * n,       # a long run of spaces before a marker, then blanks
    '>' * n,
    '"' + '*_`[' * (n // 4) + '"',    # unclosed Markdown delimiters in a quotation
    '"' + '[a](' * (n // 4) + '"',
    # a quotation across a page break under a million blank lines (page furniture trimmed)
    'Head 1\n"a b\n\fHead 2\n' + '\n' * 1_000_000 + 'c d"\n\fHead 3\n',
    '"a b c d" x\n' * 250_000,        # 3 MB brief with 250,000 quotations
]
for text in cases:
    print(len(find_quotations(text, min_words=1, markdown=True)))
'''


def test_the_finder_is_linear_on_adversarial_briefs() -> None:
    """Each input is 100 KB to 3 MB; a quadratic finder takes minutes on them (the 3 MB brief
    took about 100 s when each quotation's line was counted from the start of the brief).
    A subprocess with a generous timeout fails a regression instead of hanging the suite."""
    out = subprocess.run([sys.executable, "-c", _ADVERSARIAL], capture_output=True, text=True,
                         timeout=60, check=True)
    assert out.stdout.split()[-1] == "250000"


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab \"“”'‘’>\n\f\t*_`[]().")), max_size=200))
def test_never_crashes_with_markdown(text: str) -> None:
    words = len(find_quotations(text, min_words=1))
    for quotation in find_quotations(text, min_words=1, markdown=True):
        assert set(quotation.removed) <= {"emphasis", "strong", "link", "code"}
        assert 0 <= quotation.start <= quotation.end <= len(text)
    assert len(find_quotations(text, min_words=1, max_quotations=max(words, 1))) == words
