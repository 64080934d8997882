"""Verifying quotations: is this passage, as quoted in a brief, really in the signed text layer?

A legal team's fear is the quiet misquote: a dropped "not", one changed word, two sentences
spliced into one, a passage from a different order. :func:`match_quote` answers with one status
and says exactly why. The statuses follow the written quotation policy, **docs/CITATIONS.md**
(Bluebook rules 5.1-5.3 in spirit), which sorts every difference into exactly one class:

* ``exact`` -- the quotation occurs verbatim in :meth:`TextLayer.text` (at word boundaries);
* ``normalised`` -- typography only; ``normalisations`` names what was set aside
  (:data:`NORMALISATIONS`):

  - ``typographic-quotes``: ’ ‘ “ ” vs ' and "; also a double quote nested as a single one;
  - ``dashes``: — – ‐ vs - and --;
  - ``whitespace``: runs of spaces, or a space present on one side only ("Sec.1");
  - ``line-breaks``: a line, paragraph or page break in the layer where the quote has a space
    (or the reverse), and a hyphen at the end of a line kept by the quoter;
  - ``ligatures``: ﬁ ﬂ ﬀ ﬃ ﬄ ﬅ ﬆ in the layer (PDF extraction) vs fi, fl, ...;
  - ``hyphenation``: "gov-\\nernment" at a line end in the layer vs "government";
  - ``compatibility``: other Unicode compatibility forms (NFKC), e.g. a full-width letter;
  - ``running-heads``: a running head or footer of the layer (a short paragraph at a page's
    edge that repeats on other pages, page numbers aside) skipped where the quotation runs
    across the page break;
  - ``trailing-punctuation``: a final comma or period inside the closing quotation mark that the
    source lacks (American usage puts it there whatever the source says);

* ``altered`` -- benign, listed alterations (``[T]he``, ``[sic]``, an ellipsis inside one
  paragraph that omits no reversing word, a bracketed noun phrase for a referring expression
  such as ``[the Mayor]`` for "she"); ``alterations`` lists each with the source words it
  stands for. Accepted (:data:`ACCEPTED`);
* ``needs-review`` -- an alteration a person must read (any other bracketed insertion or
  substitution, an ellipsis across a paragraph or page or a quotation mark of the source, an
  omission over :data:`OMISSION_MAX_WORDS` words); ``reviews`` lists each with the omitted or
  replaced source words. Never accepted;
* ``misquoted`` -- the passage is clearly the source (see :data:`MISQUOTE_MIN_COVERAGE`) but
  words or punctuation differ, or an alteration reverses it: adds, drops or flips one of the
  :data:`REVERSING_WORDS` or :data:`REVERSING_PREFIXES` by any route (bracket, in-word
  bracket, ellipsis); ``differences`` lists each, located in the layer;
* ``not-found`` -- nothing in the layer is close enough.

Case is significant: "The" for "the" is a difference unless written as the bracketed
alteration "[T]he" (Bluebook rule 5.2). An ellipsis ("...", "…", ". . ." or "[...]") stands for
omitted words: the parts must occur in order, each within :data:`ELLIPSIS_MAX_GAP` characters
of the one before (a search bound; the policy's bounds are stricter). A free-standing bracket
stands for at most :data:`BRACKET_MAX_WORDS` words of the source (none for "[sic]"); a bracket
inside a word stands for a short change of it, and the word is judged as the quotation reads
it, brackets dropped ("a[n in]valid" reads "an invalid").

Matching is word-level: the layer and the quotation are cut into tokens (words, with hyphens
inside them, and single punctuation marks) and compared by a normalised key, while every token
keeps its character offsets in the original strings, so locators and differences point into
:meth:`TextLayer.text` itself. Whitespace is never a token: it is compared separately and can
only ever add a normalisation, never hide a word.

The search is bounded for 100-page layers: a verbatim search first; then an anchored search
that only starts at occurrences of the quotation's rarest word; then, for misquotes, word
bigrams of the quotation locate at most :data:`_FUZZY_WINDOWS` windows of the layer that
:class:`difflib.SequenceMatcher` aligns with the quotation, each also from every occurrence of
the quotation's first word (the best alignment across all documents locates a misquote).

Quotation marks around the whole quotation delimit it and are dropped before matching.

Prior art: the Bluebook's rules on alterations (5.2) and omissions (5.3); difflib's
Ratcliff/Obershelp matching.
"""

from __future__ import annotations

import bisect
import difflib
import enum
import functools
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator

import attrs

from ..errors import QuoteTooShortError as QuoteTooShortError  # noqa: PLC0414 (defined in errors.py)
from ..log.textlayer import Paragraph, TextLayer

__all__ = [
    "ACCEPTED",
    "BRACKET_MAX_WORDS",
    "ELLIPSIS_MAX_GAP",
    "MIN_QUOTE_WORDS",
    "MISQUOTE_MIN_COVERAGE",
    "NORMALISATIONS",
    "OMISSION_MAX_WORDS",
    "REVERSING_PREFIXES",
    "REVERSING_WORDS",
    "Difference",
    "Locator",
    "QuoteMatch",
    "QuoteStatus",
    "QuoteTooShortError",
    "best_match",
    "candidate_terms",
    "match_quote",
]

#: Quotations with fewer words (not counting bracketed insertions) are refused: four words
#: such as "the City of Boston" identify nothing, and a match on them proves nothing.
MIN_QUOTE_WORDS = 4

#: An ellipsis may omit at most this many characters of the layer (about two thirds of a page):
#: parts further apart are a splice, not an omission.
ELLIPSIS_MAX_GAP = 2000

#: A free-standing bracketed insertion ("[the City]") may replace at most this many words.
BRACKET_MAX_WORDS = 6

#: A passage is reported as misquoted only if at least this fraction of the quotation's words
#: align, in order, with one place in the layer. The place must share a pair of consecutive
#: words with the quotation, and a matched word counts only beside another match (adjacent, or
#: within three tokens), so common words scattered over a page do not add up to a passage.
#: Below the threshold the quotation is ``not-found``: a "misquote" of text that is not there
#: is noise. So one word changed in four still counts as misquoted (3/4); half the words
#: changed does not.
MISQUOTE_MIN_COVERAGE = 0.6

NORMALISATIONS = (
    "typographic-quotes",
    "dashes",
    "whitespace",
    "line-breaks",
    "ligatures",
    "hyphenation",
    "compatibility",
    "running-heads",
    "trailing-punctuation",
)

# A spliced quotation may join passages at most this many tokens apart (about 2000 chars) for
# the misquote search to show the omitted text between them.
_MAX_OMISSION_TOKENS = 400
# Tokens of the layer searched on either side of the anchored window.
_SLACK = 6
# Windows aligned by the misquote search, and bigrams too common to anchor anything.
_FUZZY_WINDOWS = 3
# Other starts tried in each window (occurrences of the quotation's first word).
_RESTARTS = 6
_MAX_BIGRAM_HITS = 300
# Step budget for the anchored search's backtracking over ellipses and brackets.
_SEARCH_BUDGET = 20000


class QuoteStatus(enum.Enum):
    """How a quotation relates to a text layer."""

    EXACT = "exact"
    NORMALISED = "normalised"
    ALTERED = "altered"
    NEEDS_REVIEW = "needs-review"
    MISQUOTED = "misquoted"
    NOT_FOUND = "not-found"


#: The statuses that accept a quotation (exit 0); ``needs-review`` never does.
ACCEPTED = frozenset([QuoteStatus.EXACT, QuoteStatus.NORMALISED, QuoteStatus.ALTERED])


@attrs.frozen
class Locator:
    """Where a passage is: page (``None`` for media without pages), 1-based paragraph number,
    and character offsets into :meth:`TextLayer.text` (end exclusive; for a quotation with
    ellipses, the span from the first part to the last)."""

    page: int | None
    paragraph: int
    start: int
    end: int


@attrs.frozen
class Difference:
    """One word-level difference between a quotation and its source.

    ``op`` is ``"added"`` (in the quotation, not the source), ``"removed"`` (in the source,
    left out of the quotation without an ellipsis) or ``"changed"``. ``offset`` is the
    character offset in :meth:`TextLayer.text` where it applies (for ``added``, the end of the
    source word the addition follows). ``reversal`` says how the difference reverses the
    source, when it adds, drops or flips a reversing word (docs/CITATIONS.md), else ``None``.
    """

    op: str
    quoted: str
    source: str
    offset: int
    paragraph: int
    reversal: str | None = None


@attrs.frozen
class QuoteMatch:
    """The answer to "is this quotation in this document?"; see the module docstring."""

    status: QuoteStatus
    quote: str
    doc: str | None
    locator: Locator | None
    normalisations: tuple[str, ...] = ()
    alterations: tuple[str, ...] = ()
    differences: tuple[Difference, ...] = ()
    source_text: str | None = None
    score: float = 0.0
    reviews: tuple[str, ...] = ()

    @property
    def is_match(self) -> bool:
        """True for ``exact``, ``normalised`` and ``altered``: the quotation is accepted (every
        word accounted for, every alteration a benign, listed one)."""
        return self.status in ACCEPTED


# -- tokens ------------------------------------------------------------------------------------

# Joiners inside a word: hyphens (a hyphen at a line end joins across the break: PDF
# hyphenation) and an en dash between digits ("2020–2024").
_JOIN = r"(?:[\-\u2010\u2011\u00ad](?:\n[\f\n]*)?|(?<=\d)[\u2012\u2013](?=\d))"
_WORD = rf"\w+(?:{_JOIN}\w+)*"
_LAYER_TOKEN = re.compile(rf"{_WORD}|-{{2,}}|[^\w\s]")

_ELLIPSIS = r"\[\s*(?:\.\s*){3,}\]|\[\s*…\s*\]|\.(?:[ \u00a0]?\.){2,}|…"
_BWORD = rf"(?:\w|\[\w+\])+(?:{_JOIN}(?:\w|\[\w+\])+)*"
_QUOTE_TOKEN = re.compile(
    rf"(?P<ellipsis>{_ELLIPSIS})|(?P<word>{_BWORD})|(?P<bracket>\[[^\[\]]*\])|-{{2,}}|[^\w\s]"
)
_IN_WORD_BRACKET = re.compile(r"\[(\w+)\]")
_ONE_LETTER = re.compile(r"\[[^\W\d_]\]")  # "[A]" for "a": a change of case, not an insertion
_LINE_BREAK_JOIN = re.compile(r"(?<=[\-\u2010\u2011\u00ad])\n[\f\n]*")
_HYPHEN_THEN_BREAK = re.compile(r"[\-\u2010\u2011\u00ad]\n[\f\n]*")

_HYPHENS = frozenset("-\u2010\u2011\u00ad\u2012\u2013")
_QUOTE_MARKS = frozenset("\"'`´‘’‚‛“”„‟′″«»‹›")
_DASHES = frozenset("-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u2e3a\u2e3b\ufe58\ufe63\uff0d")
_LIGATURES = frozenset("\ufb00\ufb01\ufb02\ufb03\ufb04\ufb05\ufb06")
_TRAILING = frozenset(",.")
_OPENING_MARKS = frozenset('"“„«')
_CLOSING_MARKS = frozenset('"”»')
_CLAUSE_STOPS = frozenset('.;:,()"')


def _nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def _word_key(raw: str) -> str:
    if raw.isascii() and raw.isalnum():
        return raw
    return "".join(ch for ch in _nfkc(raw) if ch not in _HYPHENS and not ch.isspace())


def _punct_key(raw: str) -> str:
    key = _nfkc(raw)
    if not key:
        return raw
    if key[0] in _QUOTE_MARKS:
        return '"'
    if key[0] in _DASHES:
        return "-"
    return key


def _hyphenation(raw: str) -> tuple[frozenset[int], frozenset[int]]:
    """Positions (in key characters) of hyphens inside a word: hard ones, and line-end ones."""
    hard: set[int] = set()
    soft: set[int] = set()
    at = 0
    for i, ch in enumerate(raw):
        if ch in _HYPHENS:
            (soft if raw[i + 1 : i + 2] == "\n" else hard).add(at)
        elif not ch.isspace():
            at += len(_nfkc(ch))
    return frozenset(hard), frozenset(soft)


def _same_hyphens(quoted: str, source: str) -> bool:
    """Whether two words with equal keys hyphenate alike ("re-sign" is not "resign").

    A hyphen at a line end may be the typesetter's, so either side may keep or drop it.
    """
    if quoted == source or not (_HYPHENS & set(quoted) or _HYPHENS & set(source)):
        return True
    q_hard, q_soft = _hyphenation(quoted)
    s_hard, s_soft = _hyphenation(source)
    return (q_hard - s_hard) <= s_soft and (s_hard - q_hard) <= q_soft


@attrs.frozen(eq=False)
class _Layer:
    """A layer cut into tokens, with the indexes the searches need; built once per layer."""

    text: str
    starts: list[int]
    ends: list[int]
    keys: list[str]
    words: list[bool]
    by_key: dict[str, list[int]]
    bigrams: dict[tuple[str, str], list[int]]
    paragraphs: list[Paragraph]
    paragraph_starts: list[int]

    def raw(self, j: int) -> str:
        return self.text[self.starts[j] : self.ends[j]]

    def span(self, j0: int, j1: int) -> str:
        return self.text[self.starts[j0] : self.ends[j1 - 1]] if j1 > j0 else ""

    def paragraph_at(self, offset: int) -> Paragraph:
        i = bisect.bisect_right(self.paragraph_starts, offset) - 1
        return self.paragraphs[max(i, 0)]

    def breaks_between(self, j0: int, j1: int) -> bool:
        """Whether a paragraph or page boundary lies between tokens *j0* and *j1*."""
        between = self.text[self.ends[j0] : self.starts[j1]]
        return "\n\n" in between or "\f" in between


_HEAD_MAX_CHARS = 200


def _running_heads(paragraphs: list[Paragraph]) -> list[tuple[int, int]]:
    """Character ranges of running heads and footers: a short first or last paragraph of a page
    whose text (digits aside: page numbers) is a first or last paragraph on another page too.
    PDF extraction keeps them in the layer between the two halves of a sentence."""
    pages: dict[int, list[Paragraph]] = {}
    for p in paragraphs:
        pages.setdefault(p.page, []).append(p)
    if len(pages) < 2:
        return []
    edges = {
        p.number: p
        for ps in pages.values()
        for p in (ps[0], ps[-1])
        if len(p.text) <= _HEAD_MAX_CHARS
    }

    def key(p: Paragraph) -> str:
        return re.sub(r"\d+", "#", " ".join(p.text.split()))

    pages_of: dict[str, set[int]] = {}
    for p in edges.values():
        pages_of.setdefault(key(p), set()).add(p.page)
    return [(p.start, p.end) for p in edges.values() if len(pages_of[key(p)]) >= 2]


# A 100-page layer prepares in a fraction of a second and takes some megabytes: keep a few,
# for a brief whose quotations are all checked against the same documents.
@functools.lru_cache(maxsize=8)
def _prepare(layer: TextLayer) -> _Layer:
    text = layer.text()
    starts: list[int] = []
    ends: list[int] = []
    keys: list[str] = []
    words: list[bool] = []
    by_key: dict[str, list[int]] = {}
    bigrams: dict[tuple[str, str], list[int]] = {}
    last_word: tuple[int, str] | None = None
    paragraphs = layer.paragraphs()
    heads = _running_heads(paragraphs)
    for m in _LAYER_TOKEN.finditer(text):
        if heads and any(s <= m.start() < e for s, e in heads):
            continue  # a running head or footer: a quotation across the page break skips it
        raw = m.group()
        is_word = raw[0].isalnum() or raw[0] == "_"
        key = _word_key(raw) if is_word else _punct_key(raw)
        j = len(keys)
        starts.append(m.start())
        ends.append(m.end())
        keys.append(key)
        words.append(is_word)
        by_key.setdefault(key, []).append(j)
        if is_word:
            if last_word is not None:
                bigrams.setdefault((last_word[1], key), []).append(last_word[0])
            last_word = (j, key)
    return _Layer(
        text=text,
        starts=starts,
        ends=ends,
        keys=keys,
        words=words,
        by_key=by_key,
        bigrams=bigrams,
        paragraphs=paragraphs,
        paragraph_starts=[p.start for p in paragraphs],
    )


@attrs.frozen
class _QTok:
    """A token of the quotation: ``word``, ``punct``, ``pattern`` (a word with a bracketed
    alteration inside), or a gap: ``ellipsis`` or ``bracket`` (a free-standing insertion)."""

    kind: str
    start: int
    end: int
    key: str
    pattern: re.Pattern[str] | None = None

    @property
    def is_gap(self) -> bool:
        return self.kind in ("ellipsis", "bracket")

    @property
    def is_word(self) -> bool:
        return self.kind in ("word", "pattern")


def _pattern(raw: str) -> re.Pattern[str]:
    """The source words that a word with bracketed alterations inside may stand for."""
    parts: list[str] = []
    pos = 0
    for m in _IN_WORD_BRACKET.finditer(raw):
        parts.append(re.escape(_word_key(raw[pos : m.start()])))
        inner = m.group(1)
        if m.start() == 0 and len(inner) == 1 and inner.isalpha():
            parts.append(f"(?i:{re.escape(inner)})")  # "[T]he": a change of case only
        else:
            parts.append(rf"\w{{0,{len(inner) + 4}}}")  # "order[s]", "prohibit[ed]"
        pos = m.end()
    parts.append(re.escape(_word_key(raw[pos:])))
    return re.compile("".join(parts))


def _tokenise_quote(quote: str) -> list[_QTok]:
    tokens: list[_QTok] = []
    for m in _QUOTE_TOKEN.finditer(quote):
        raw = m.group()
        if m.group("ellipsis"):
            tokens.append(_QTok("ellipsis", m.start(), m.end(), "..."))
        elif m.group("bracket") or (
            m.group("word") and _IN_WORD_BRACKET.fullmatch(raw) and not _ONE_LETTER.fullmatch(raw)
        ):
            tokens.append(_QTok("bracket", m.start(), m.end(), raw))
        elif m.group("word"):
            if "[" in raw:
                tokens.append(_QTok("pattern", m.start(), m.end(), raw, _pattern(raw)))
            else:
                tokens.append(_QTok("word", m.start(), m.end(), _word_key(raw)))
        else:
            tokens.append(_QTok("punct", m.start(), m.end(), _punct_key(raw)))
    return tokens


# -- alignments --------------------------------------------------------------------------------


@attrs.frozen
class _Piece:
    """Quotation tokens ``[q0, q1)`` aligned with layer tokens ``[s0, s1)``.

    ``equal`` pairs tokens one to one; ``alter`` is an accepted bracketed alteration; ``omit``
    an ellipsis; ``trailing`` a final comma or period the source lacks; ``diff`` a difference.
    """

    kind: str
    q0: int
    q1: int
    s0: int
    s1: int
    reversal: str | None = None  # for a diff: why an accepted-looking alteration reverses


def _matches(t: _QTok, j: int, quote: str, lay: _Layer) -> bool:
    if t.pattern is not None:
        return lay.words[j] and t.pattern.fullmatch(lay.keys[j]) is not None
    if t.key != lay.keys[j]:
        return False
    return t.kind != "word" or _same_hyphens(quote[t.start : t.end], lay.raw(j))


class _Search:
    """The anchored search: every concrete token must match, gaps within their bounds."""

    def __init__(self, quote: str, tokens: list[_QTok], lay: _Layer) -> None:
        self.quote = quote
        self.tokens = tokens
        self.lay = lay
        self.budget = _SEARCH_BUDGET

    def run(self) -> list[tuple[int, int]] | None:
        """Source token ranges, one per quotation token, of the first match in the layer whose
        ellipses stay inside a paragraph, else of the first match."""
        first_gap = next((i for i, t in enumerate(self.tokens) if t.is_gap), len(self.tokens))
        keyed = [i for i in range(first_gap) if self.tokens[i].pattern is None]
        if keyed:
            anchor = min(keyed, key=lambda i: len(self.lay.by_key.get(self.tokens[i].key, ())))
            starts: Iterable[int] = (
                p - anchor for p in self.lay.by_key.get(self.tokens[anchor].key, ()) if p >= anchor
            )
        else:
            starts = range(len(self.lay.keys))
        first: list[tuple[int, int]] | None = None
        for j in starts:
            out: list[tuple[int, int]] = []
            if self._solve(0, j, out):
                if not self._crosses(out):
                    return out
                # An ellipsis across paragraphs needs review: a later place where the parts
                # stand in one paragraph is the passage meant.
                first = first or out
            if self.budget < 0:
                break
        return first

    def _crosses(self, found: list[tuple[int, int]]) -> bool:
        lay = self.lay
        return any(
            t.kind == "ellipsis"
            and s0 > 0
            and s1 < len(lay.keys)
            and lay.breaks_between(s0 - 1, s1)
            for t, (s0, s1) in zip(self.tokens, found, strict=True)
        )

    def _solve(self, i: int, j: int, out: list[tuple[int, int]]) -> bool:
        mark = len(out)
        n = len(self.lay.keys)
        while i < len(self.tokens):
            t = self.tokens[i]
            if t.is_gap:
                for nj in self._gap_ends(i, j):
                    self.budget -= 1
                    if self.budget < 0:
                        break
                    out.append((j, nj))
                    if self._solve(i + 1, nj, out):
                        return True
                    out.pop()
                del out[mark:]
                return False
            if j >= n or not _matches(t, j, self.quote, self.lay):
                del out[mark:]
                return False
            out.append((j, j + 1))
            i += 1
            j += 1
        return True

    def _gap_ends(self, i: int, j: int) -> Iterator[int]:
        lay = self.lay
        n = len(lay.keys)
        if self.tokens[i].kind == "bracket":
            if self.tokens[i].key.lower() == "[sic]":
                yield j
                return
            seen_words = 0
            for nj in range(j, min(n, j + 2 * BRACKET_MAX_WORDS) + 1):
                yield nj
                if nj < n and lay.words[nj]:
                    seen_words += 1
                    if seen_words > BRACKET_MAX_WORDS:
                        return
            return
        # An ellipsis: the next part starts within ELLIPSIS_MAX_GAP characters.
        after = lay.ends[j - 1] if j > 0 else 0
        nxt = self.tokens[i + 1]
        if nxt.is_gap or nxt.pattern is not None:
            positions: Iterable[int] = range(j, n)
        else:
            found = lay.by_key.get(nxt.key, [])
            positions = found[bisect.bisect_left(found, j) :]
        for p in positions:
            if lay.starts[p] - after > ELLIPSIS_MAX_GAP:
                return
            yield p


def _edge_reach(lay: _Layer, j: int, *, backward: bool) -> int:
    """How far a bracket at the edge of a quotation reaches from token *j*: back to (or forward
    to) the nearest clause boundary if it is at most BRACKET_MAX_WORDS tokens away, else not
    at all (the alteration then replaces nothing that can be shown)."""
    n = len(lay.keys)
    k = j
    for _ in range(BRACKET_MAX_WORDS + 1):
        if backward:
            if k == 0 or lay.keys[k - 1] in _CLAUSE_STOPS or lay.breaks_between(k - 1, k):
                return k
            k -= 1
        else:
            if k >= n or lay.keys[k] in _CLAUSE_STOPS or (k > 0 and lay.breaks_between(k - 1, k)):
                return k
            k += 1
    return j


def _edge_pieces(
    tokens: list[_QTok], indexes: Iterable[int], at: int, lay: _Layer, *, backward: bool
) -> list[_Piece]:
    """Gaps at an edge of the quotation. An ellipsis omits what it omits; a bracket stands for
    the clause's first (or last) few words up to a clause boundary, or for nothing shown."""
    pieces: list[_Piece] = []
    for i in indexes:
        t = tokens[i]
        if t.kind == "ellipsis":
            pieces.append(_Piece("omit", i, i + 1, at, at))
        elif t.key.lower() == "[sic]":
            pieces.append(_Piece("alter", i, i + 1, at, at))
        else:
            reach = _edge_reach(lay, at, backward=backward)
            pieces.append(_Piece("alter", i, i + 1, min(reach, at), max(reach, at)))
            at = reach
    return pieces[::-1] if backward else pieces


def _anchored(quote: str, tokens: list[_QTok], lay: _Layer) -> list[_Piece] | None:
    """Pieces of an exact-or-normalised alignment, or None: the quotation is not all there."""
    lo, hi = 0, len(tokens)
    while lo < hi and tokens[lo].is_gap:
        lo += 1
    while hi > lo and tokens[hi - 1].is_gap:
        hi -= 1
    if lo == hi:
        return None
    end = hi
    found = _Search(quote, tokens[lo:end], lay).run()
    last = tokens[hi - 1]  # tokens[hi - 2] exists: a quotation has words
    droppable = last.kind == "punct" and last.key in _TRAILING and not tokens[hi - 2].is_gap
    if found is None and droppable:
        end = hi - 1
        found = _Search(quote, tokens[lo:end], lay).run()
    if found is None:
        return None
    pieces = _edge_pieces(tokens, reversed(range(lo)), found[0][0], lay, backward=True)
    for i, (s0, s1) in enumerate(found, start=lo):
        t = tokens[i]
        kind = "omit" if t.kind == "ellipsis" else "equal"
        if t.kind == "bracket" or t.pattern is not None:
            kind = "alter"
        pieces.append(_Piece(kind, i, i + 1, s0, s1))
    s_last = found[-1][1]
    if end < hi:
        pieces.append(_Piece("trailing", end, hi, s_last, s_last))
    return pieces + _edge_pieces(tokens, range(hi, len(tokens)), s_last, lay, backward=False)


# -- the quotation policy (docs/CITATIONS.md) --------------------------------------------------

# Reversing words are data, maintained here and listed in docs/CITATIONS.md. Each maps to the
# class counted on either side of an alteration: a quotation that adds, drops or swaps one of
# them by any route (bracket, in-word bracket, ellipsis) reverses the source.
_NEGATION_WORDS = (
    "not", "no", "never", "nor", "neither", "none", "nothing", "nobody", "nowhere", "cannot",
    "t",  # "n't": "can't" is tokenised as "can", "'", "t"
)
_REVERSING_VERB_FORMS = {
    "refuse": ("refuse", "refuses", "refused", "refusing", "refusal", "refusals"),
    "deny": ("deny", "denies", "denied", "denying", "denial", "denials"),
    "decline": ("decline", "declines", "declined", "declining"),
    "reject": ("reject", "rejects", "rejected", "rejecting", "rejection", "rejections"),
    "prohibit": ("prohibit", "prohibits", "prohibited", "prohibiting", "prohibition",
                 "prohibitions"),
    "forbid": ("forbid", "forbids", "forbade", "forbidden", "forbidding"),
    "bar": ("bar", "bars", "barred", "barring"),
    "ban": ("ban", "bans", "banned", "banning"),
    "fail": ("fail", "fails", "failed", "failing", "failure", "failures"),
    "lack": ("lack", "lacks", "lacked", "lacking"),
    "cease": ("cease", "ceases", "ceased", "ceasing"),
    "prevent": ("prevent", "prevents", "prevented", "preventing", "prevention"),
    "oppose": ("oppose", "opposes", "opposed", "opposing", "opposition"),
}
_REVERSING_CONNECTIVES = ("without", "except", "unless", "absent", "against")
#: Every reversing word (lower case) and the class it counts for.
REVERSING_WORDS: dict[str, str] = {
    **dict.fromkeys(_NEGATION_WORDS, "negation"),
    **{form: lemma for lemma, forms in _REVERSING_VERB_FORMS.items() for form in forms},
    **{w: w for w in _REVERSING_CONNECTIVES},
}
#: Prefixes that reverse the word they are put on ("armed" / "unarmed").
REVERSING_PREFIXES = ("un", "in", "im", "il", "ir", "non", "dis", "anti")

#: An ellipsis that leaves out more words than this needs a person to read what it omits.
OMISSION_MAX_WORDS = 40

_SENTENCE_ENDS = frozenset(".;:?!")
# Pronouns and other words that only refer: "[the Mayor]" may stand for any of them.
_REFERRING = frozenset(
    [
        "he", "she", "it", "they", "him", "her", "them", "his", "hers", "its", "their", "theirs",
        "we", "us", "our", "ours", "i", "me", "my", "mine", "you", "your", "yours", "this",
        "that", "these", "those", "who", "whom", "whose", "which", "here", "there", "himself",
        "herself", "itself", "themselves", "ourselves", "one",
    ]
)
_DETERMINERS = frozenset(["the", "a", "an", "this", "that", "these", "those", "its", "his",
                          "her", "their", "our", "my", "your"])
_NP_MAX_WORDS = 4
_ANAPHORIC = frozenset(["this", "that", "these", "those", "its", "his", "her", "their", "our"])
_NAME_LINKS = frozenset(["of", "the", "and", "for", "on", "in", "&"])


def _reading(text: str) -> list[str]:
    """The words a stretch of the quotation reads as, brackets dropped ("a[n in]valid" reads
    "an invalid"), as lower-case keys."""
    return [_word_key(w).lower() for w in re.findall(_WORD, text.replace("[", "").replace("]", ""))]


def _word_keys(lay: _Layer, j0: int, j1: int) -> list[str]:
    return [lay.keys[j].lower() for j in range(j0, j1) if lay.words[j]]


def _flips(a: str, b: str) -> bool:
    """Whether *a* is *b* with a reversing prefix put on ("unarmed", "armed")."""
    return any(a == p + b for p in REVERSING_PREFIXES if len(b) >= 3)


def _reversal(quoted: list[str], source: list[str]) -> str | None:
    """How the quoted words reverse the source words they stand for, or None."""
    q = Counter(REVERSING_WORDS[w] for w in quoted if w in REVERSING_WORDS)
    s = Counter(REVERSING_WORDS[w] for w in source if w in REVERSING_WORDS)
    if q != s:
        more, fewer = q - s, s - q
        added = [w for w in quoted if more[REVERSING_WORDS.get(w, "")] > 0]
        dropped = [w for w in source if fewer[REVERSING_WORDS.get(w, "")] > 0]
        said = [f"adds {_shown(added)}"] if added else []
        said += [f"leaves out {_shown(dropped)}"] if dropped else []
        return "reverses the source: " + "; ".join(said)
    for a in quoted:
        for b in source:
            if _flips(a, b) or _flips(b, a):
                return f'reverses the source: "{a}" for "{b}"'
    return None


def _shown(words: list[str]) -> str:
    return ", ".join('"' + ("n't" if w == "t" else w) + '"' for w in dict.fromkeys(words))


def _is_referring(words: list[str], raw: list[str]) -> bool:
    """Source words that refer: a pronoun, a short phrase pointing back ("that order"), or a
    name-like noun phrase ("the Bureau of Professional Standards")."""
    if not words:
        return False
    if len(words) == 1 and words[0] in _REFERRING:
        return True
    if words[0] in _ANAPHORIC and 2 <= len(words) <= 3:
        return True
    return _is_name(words, raw)


def _is_noun_phrase(words: list[str], raw: list[str]) -> bool:
    """What a bracket may put for a referring expression: a name-like noun phrase ("[Mayor
    Wu]", "[Executive Order 2014-3]") or a determiner and at most three words ending in a
    noun-like word ("[the leaders]", "[its Bureau]"), never a pronoun or a stray fragment."""
    if not words:
        return False
    return _is_name(words, raw) or (
        words[0] in _DETERMINERS
        and 2 <= len(words) <= _NP_MAX_WORDS
        and all(w.isalpha() for w in words)
        and len(words[-1]) >= 3  # "[that un]" is not a noun phrase
        and words[-1] not in _DETERMINERS | _REFERRING | _NAME_LINKS
    )


def _is_name(words: list[str], raw: list[str]) -> bool:
    body = words[1:] if words[0] in _DETERMINERS else words
    body_raw = raw[len(raw) - len(body) :]
    return bool(body) and all(
        w in _NAME_LINKS or r[:1].isupper() or r[:1].isdigit()
        for w, r in zip(body, body_raw, strict=True)
    ) and body[-1] not in _NAME_LINKS


def _content(words: list[str]) -> set[str]:
    return {w for w in words if w not in _DETERMINERS and w not in _NAME_LINKS}


@attrs.frozen
class _Verdict:
    """How the policy classes one accepted alteration: ``altered``, ``review`` or ``reversal``."""

    kind: str
    text: str


def _judge_bracket(
    p: _Piece, tokens: list[_QTok], quote: str, lay: _Layer, qmap: dict[int, int]
) -> _Verdict:
    t = tokens[p.q0]
    raw = quote[t.start : t.end]
    if t.kind == "bracket" and t.key.lower() == "[sic]":
        return _Verdict("altered", raw)
    # Words glued to the bracket belong to it: "a[n in]valid" reads "an invalid".
    left = right = p.q0
    s_lo, s_hi = p.s0, p.s1
    while left > 0 and tokens[left - 1].end == tokens[left].start and (left - 1) in qmap:
        left -= 1
        s_lo = min(s_lo, qmap[left])
    while right + 1 < len(tokens) and tokens[right + 1].start == tokens[right].end and (
        right + 1
    ) in qmap:
        right += 1
        s_hi = max(s_hi, qmap[right] + 1)
    reading = _reading(quote[tokens[left].start : tokens[right].end])
    reversed_ = _reversal(reading, _word_keys(lay, s_lo, s_hi))
    if reversed_ is not None:
        return _Verdict("reversal", reversed_)
    source_text = lay.span(p.s0, p.s1)
    described = f'{raw} for "{source_text}"' if source_text else raw
    if left != right:
        return _Verdict("review", f"a bracket inside a word changes the word: {described}")
    if t.kind == "pattern":
        bare = _word_key(_IN_WORD_BRACKET.sub(r"\1", raw))
        first = _IN_WORD_BRACKET.match(raw)
        case_only = first is not None and len(first.group(1)) == 1 and raw.count("[") == 1
        if bare == lay.keys[p.s0] or (case_only and bare.lower() == lay.keys[p.s0].lower()):
            return _Verdict("altered", described)
        return _Verdict("review", f"the bracket changes the word: {described}")
    return _judge_substitution(p, raw, described, lay)


def _judge_substitution(p: _Piece, raw: str, described: str, lay: _Layer) -> _Verdict:
    """A free-standing bracket that reverses nothing: the same words, or a noun phrase for a
    referring expression of the source, is accepted; anything else is for a person to read."""
    inner = _reading(raw)
    source = _word_keys(lay, p.s0, p.s1)
    if not source:
        return _Verdict("review", f"a bracketed insertion (the source has no words here): {raw}")
    inner_raw = re.findall(_WORD, raw.replace("[", "").replace("]", ""))
    source_raw = [lay.raw(j) for j in range(p.s0, p.s1) if lay.words[j]]
    accepted = _is_noun_phrase(inner, inner_raw) and (
        # "[the Mayor]" or "[the leaders]" for "she"
        (len(source) == 1 and source[0] in _REFERRING)
        # "[The City]" for "The City of Boston": the same referent, named more briefly
        or (_is_referring(source, source_raw) and bool(_content(inner) & _content(source)))
    )
    if inner == source or accepted:
        return _Verdict("altered", described)
    return _Verdict("review", f"a bracketed substitution a reader must check: {described}")


def _judge_omission(p: _Piece, raw: str, lay: _Layer, *, edge: bool) -> _Verdict:
    if p.s0 == p.s1:
        if edge:
            return _Verdict("altered", f"{raw} (at the edge of the quotation)")
        if 0 < p.s0 < len(lay.keys) and lay.breaks_between(p.s0 - 1, p.s0):
            return _Verdict("review", f"the ellipsis crosses a paragraph or page: {raw}")
        return _Verdict("altered", raw)
    keys = lay.keys[p.s0 : p.s1]
    cuts = [k for k, key in enumerate(keys) if key in _SENTENCE_ENDS]
    inside = keys if not cuts else keys[: cuts[0]] + keys[cuts[-1] + 1 :]
    hidden = [k.lower() for k in inside if k.lower() in REVERSING_WORDS]
    if hidden:
        return _Verdict(
            "reversal", f"reverses the source: the ellipsis leaves out {_shown(hidden)}"
        )
    described = f'{raw} for "{lay.span(p.s0, p.s1)}"'
    reason = _omission_review(p, lay)
    if reason is not None:
        return _Verdict("review", f"{reason}: {described}")
    return _Verdict("altered", described)


def _omission_review(p: _Piece, lay: _Layer) -> str | None:
    """Why an ellipsis that reverses nothing inside its sentence still needs a reader."""
    if p.s0 > 0 and p.s1 < len(lay.keys) and lay.breaks_between(p.s0 - 1, p.s1):
        return "the ellipsis crosses a paragraph or page"
    if any(lay.keys[j] == '"' and not _is_apostrophe(lay, j) for j in range(p.s0, p.s1)):
        return (
            "the ellipsis crosses a quotation mark of the source (it may join different speakers)"
        )
    words = sum(lay.words[p.s0 : p.s1])
    if words > OMISSION_MAX_WORDS:
        return f"the ellipsis leaves out {words} words (more than {OMISSION_MAX_WORDS})"
    dropped = [k.lower() for k in lay.keys[p.s0 : p.s1] if k.lower() in REVERSING_WORDS]
    if dropped:
        return f"the ellipsis leaves out a sentence with {dropped[0]!r}"
    return None


def _is_apostrophe(lay: _Layer, j: int) -> bool:
    s, e = lay.starts[j], lay.ends[j]
    return s > 0 and e < len(lay.text) and lay.text[s - 1].isalnum() and lay.text[e].isalnum()


def _judge(
    pieces: list[_Piece], tokens: list[_QTok], quote: str, lay: _Layer
) -> tuple[list[_Piece], list[str], list[str]]:
    """Apply the policy to every accepted alteration: reversals become differences; the rest
    are listed as alterations (accepted) or as items for review."""
    qmap = {
        p.q0: p.s0
        for p in pieces
        if p.kind == "equal" and p.q1 - p.q0 == 1 and p.s1 - p.s0 == 1 and tokens[p.q0].is_word
    }
    out: list[_Piece] = []
    altered: list[str] = []
    review: list[str] = []
    for k, p in enumerate(pieces):
        if p.kind == "alter":
            verdict = _judge_bracket(p, tokens, quote, lay, qmap)
        elif p.kind == "omit":
            raw = quote[tokens[p.q0].start : tokens[p.q0].end]
            verdict = _judge_omission(p, raw, lay, edge=k == 0 or k == len(pieces) - 1)
        else:
            out.append(p)
            continue
        if verdict.kind == "reversal":
            out.append(attrs.evolve(p, kind="diff", reversal=verdict.text))
            continue
        out.append(p)
        (altered if verdict.kind == "altered" else review).append(verdict.text)
    return out, altered, review


# -- the misquote search -----------------------------------------------------------------------


def _bigram_hits(tokens: list[_QTok], lay: _Layer) -> list[tuple[int, int]]:
    """(layer token, quotation token) pairs where a pair of consecutive quoted words occurs."""
    hits: list[tuple[int, int]] = []
    prev: tuple[int, str] | None = None
    for i, t in enumerate(tokens):
        if t.kind != "word":
            if t.kind != "punct":
                prev = None  # no pair across a gap or an altered word
            continue
        if prev is not None:
            found = lay.bigrams.get((prev[1], t.key), [])
            if len(found) <= _MAX_BIGRAM_HITS:
                hits.extend((p, prev[0]) for p in found)
        prev = (i, t.key)
    return hits


def _windows(hits: list[tuple[int, int]], nq: int, n: int) -> list[tuple[int, int]]:
    """Up to _FUZZY_WINDOWS disjoint ranges of layer tokens holding the most distinct hits."""
    hits.sort()
    span = nq + _MAX_OMISSION_TOKENS
    counts: Counter[int] = Counter()
    left = 0
    candidates: list[tuple[int, int, int]] = []
    for right, (pos, qi) in enumerate(hits):
        counts[qi] += 1
        while pos - hits[left][0] > span:
            counts[hits[left][1]] -= 1
            if not counts[hits[left][1]]:
                del counts[hits[left][1]]
            left += 1
        candidates.append((len(counts), left, right))
    candidates.sort(key=lambda c: (-c[0], c[1]))
    chosen: list[tuple[int, int]] = []
    for _, left, right in candidates:
        start = max(0, hits[left][0] - hits[left][1] - _SLACK)
        end = min(n, hits[right][0] + nq - hits[right][1] + _SLACK)
        if any(start < e and s < end for s, e in chosen):
            continue
        chosen.append((start, end))
        if len(chosen) == _FUZZY_WINDOWS:
            break
    return chosen


def _gap_accepted(t: _QTok, j0: int, j1: int, lay: _Layer) -> bool:
    """Whether a gap token of the quotation may stand for layer tokens [j0, j1)."""
    if t.kind == "ellipsis":
        after = lay.ends[j0 - 1] if j0 > 0 else 0
        before = lay.starts[j1] if j1 < len(lay.keys) else len(lay.text)
        return before - after <= ELLIPSIS_MAX_GAP
    if t.key.lower() == "[sic]":
        return j0 == j1
    return sum(lay.words[j0:j1]) <= BRACKET_MAX_WORDS


def _replaced(
    op: tuple[str, int, int, int, int], quote: str, tokens: list[_QTok], lay: _Layer
) -> list[_Piece]:
    """Pieces for a difflib 'replace' or 'delete': accepted alterations, or differences."""
    tag, i0, i1, j0, j1 = op
    # difflib leaves bracketed words ("[T]he") unmatched: peel those that fit off both ends,
    # so that "... [T]he" can still be an ellipsis followed by an altered word.
    head: list[_Piece] = []
    tail: list[_Piece] = []
    while (
        i1 - i0 > 1
        and j1 > j0
        and tokens[i0].pattern is not None
        and _matches(tokens[i0], j0, quote, lay)
    ):
        head.append(_Piece("alter", i0, i0 + 1, j0, j0 + 1))
        i0, j0 = i0 + 1, j0 + 1
    while (
        i1 - i0 > 1
        and j1 > j0
        and tokens[i1 - 1].pattern is not None
        and _matches(tokens[i1 - 1], j1 - 1, quote, lay)
    ):
        tail.insert(0, _Piece("alter", i1 - 1, i1, j1 - 1, j1))
        i1, j1 = i1 - 1, j1 - 1
    return head + _replaced_core((tag, i0, i1, j0, j1), quote, tokens, lay) + tail


def _replaced_core(
    op: tuple[str, int, int, int, int], quote: str, tokens: list[_QTok], lay: _Layer
) -> list[_Piece]:
    _, i0, i1, j0, j1 = op
    if i1 - i0 == 1 and tokens[i0].is_gap:
        if _gap_accepted(tokens[i0], j0, j1, lay):
            return [_Piece("omit" if tokens[i0].kind == "ellipsis" else "alter", i0, i1, j0, j1)]
        return [_Piece("diff", i0, i1, j0, j1)]
    if i1 - i0 != j1 - j0:
        return [_Piece("diff", i0, i1, j0, j1)]
    pieces = []
    for i, j in zip(range(i0, i1), range(j0, j1), strict=True):
        t = tokens[i]
        if t.is_gap or not _matches(t, j, quote, lay):
            kind = "diff"
        else:
            kind = "equal" if t.pattern is None else "alter"
        pieces.append(_Piece(kind, i, i + 1, j, j + 1))
    return pieces


def _trim(ops: list[tuple[str, int, int, int, int]]) -> list[tuple[str, int, int, int, int]]:
    """Drop the window's slack: layer-only text before the first and after the last word."""
    while ops and ops[0][0] == "insert":
        ops.pop(0)
    while ops and ops[-1][0] == "insert":
        ops.pop()
    if ops and ops[0][0] == "replace":
        tag, i0, i1, j0, j1 = ops[0]
        ops[0] = (tag, i0, i1, max(j0, j1 - (i1 - i0)), j1)
    if ops and ops[-1][0] == "replace":
        tag, i0, i1, j0, j1 = ops[-1]
        ops[-1] = (tag, i0, i1, j0, min(j1, j0 + (i1 - i0)))
    return ops


def _merge(pieces: list[_Piece]) -> list[_Piece]:
    merged: list[_Piece] = []
    for p in pieces:
        last = merged[-1] if merged else None
        if last and last.kind == p.kind == "diff" and last.q1 == p.q0 and last.s1 == p.s0:
            merged[-1] = _Piece("diff", last.q0, p.q1, last.s0, p.s1)
        else:
            merged.append(p)
    return merged


def _aligned(
    quote: str, tokens: list[_QTok], lay: _Layer, *, span: tuple[int, int], window: tuple[int, int]
) -> list[_Piece]:
    """Align tokens[lo:hi] (*span*) with a window of the layer; pieces use absolute indices."""
    lo, hi = span
    ws, we = window
    end = hi
    if hi - lo > 1 and tokens[hi - 1].kind == "punct" and tokens[hi - 1].key in _TRAILING:
        end = hi - 1  # aligned on its own below, so it cannot pull in the rest of the sentence
    qkeys = [t.key if t.kind in ("word", "punct") else f"\x00{i}" for i, t in enumerate(tokens)]
    matcher = difflib.SequenceMatcher(None, qkeys[lo:end], lay.keys[ws:we], autojunk=False)
    ops = _trim(
        [(tag, i0 + lo, i1 + lo, j0 + ws, j1 + ws) for tag, i0, i1, j0, j1 in matcher.get_opcodes()]
    )
    pieces: list[_Piece] = []
    for op in ops:
        tag, i0, i1, j0, j1 = op
        if tag == "equal":
            for i, j in zip(range(i0, i1), range(j0, j1), strict=True):
                ok = _matches(tokens[i], j, quote, lay)
                pieces.append(_Piece("equal" if ok else "diff", i, i + 1, j, j + 1))
        elif tag == "insert":
            pieces.append(_Piece("diff", i0, i0, j0, j1))
        else:
            pieces.extend(_replaced(op, quote, tokens, lay))
    pieces = _merge(pieces)
    if end < hi:
        after = max((p.s1 for p in pieces if p.s1 > p.s0), default=ws)
        if after < len(lay.keys) and lay.keys[after] == tokens[end].key:
            pieces.append(_Piece("equal", end, hi, after, after + 1))
        else:
            pieces.append(_Piece("trailing", end, hi, after, after))
    return pieces


def _coverage(pieces: list[_Piece], tokens: list[_QTok]) -> float:
    """The fraction of the quotation's words that align with the passage.

    A matched word counts only next to other evidence: in a run of two or more tokens matched
    in a row, or within three layer tokens of another match. Common words scattered over a
    window ("the", "shall", "of") are not a passage.
    """
    total = sum(t.is_word for t in tokens)
    pairs = [
        (i, j)
        for p in pieces
        if p.kind in ("equal", "alter") and not tokens[p.q0].is_gap
        for i, j in zip(range(p.q0, p.q1), range(p.s0, p.s1), strict=False)
    ]
    matched = 0
    for k, (i, j) in enumerate(pairs):
        near = [pairs[m] for m in (k - 1, k + 1) if 0 <= m < len(pairs)]
        if tokens[i].is_word and any(
            (abs(i - qi) == 1 and abs(j - sj) == 1) or abs(j - sj) <= 3 for qi, sj in near
        ):
            matched += 1
    return matched / total if total else 0.0


def _score(pieces: list[_Piece], tokens: list[_QTok]) -> float:
    """Ratcliff/Obershelp similarity over tokens, ignoring what ellipses and brackets stand for."""
    quoted = sum(not t.is_gap for t in tokens)
    matched = sum(p.q1 - p.q0 for p in pieces if p.kind == "equal")
    matched += sum(1 for p in pieces if p.kind == "alter" and not tokens[p.q0].is_gap)
    source = sum(
        p.s1 - p.s0
        for p in pieces
        if p.kind != "omit" and not (p.kind == "alter" and tokens[p.q0].is_gap)
    )
    return 2 * matched / (quoted + source) if quoted + source else 0.0


def _fuzzy(quote: str, tokens: list[_QTok], lay: _Layer) -> list[_Piece] | None:
    """The best alignment with a place in the layer that shares words with the quotation."""
    lo, hi = 0, len(tokens)
    while lo < hi and tokens[lo].kind == "ellipsis":
        lo += 1
    while hi > lo and tokens[hi - 1].kind == "ellipsis":
        hi -= 1
    hits = _bigram_hits(tokens[lo:hi], lay)
    best: list[_Piece] | None = None
    best_rank = (-1.0, -1.0)
    first = tokens[lo].key if tokens[lo].kind == "word" else None
    for ws, we in _windows([(p, qi + lo) for p, qi in hits], hi - lo, len(lay.keys)):
        # difflib aligns a word left of its longest block with the word's first occurrence in
        # the window ("has ... has no place" for "has a place"): also try the window from each
        # occurrence of the quotation's first word, and keep the best alignment.
        starts = [ws, *[j for j in range(ws + 1, we) if lay.keys[j] == first][:_RESTARTS]]
        for start in starts:
            pieces = _aligned(quote, tokens, lay, span=(lo, hi), window=(start, we))
            rank = (_coverage(pieces, tokens), _score(pieces, tokens))
            if rank > best_rank:
                best, best_rank = pieces, rank
    if best is None:
        return None
    edge_start = best[0].s0 if best else 0
    edge_end = best[-1].s1 if best else 0
    head = [_Piece("omit", i, i + 1, edge_start, edge_start) for i in range(lo)]
    tail = [_Piece("omit", i, i + 1, edge_end, edge_end) for i in range(hi, len(tokens))]
    return head + best + tail


# -- results -----------------------------------------------------------------------------------


def _token_normalisations(q: str, s: str) -> set[str]:
    """Which normalisations make quoted token *q* equal to source token *s* (equal keys)."""
    if q == s:
        return set()
    names: set[str] = set()
    if "\n" in q or "\n" in s:
        if sum(c in _HYPHENS for c in q) == sum(c in _HYPHENS for c in s):
            names.add("line-breaks")
            q, s = _LINE_BREAK_JOIN.sub("", q), _LINE_BREAK_JOIN.sub("", s)
        else:
            names.add("hyphenation")
            q, s = _HYPHEN_THEN_BREAK.sub("", q), _HYPHEN_THEN_BREAK.sub("", s)
    for name, chars in (
        ("ligatures", _LIGATURES),
        ("typographic-quotes", _QUOTE_MARKS),
        ("dashes", _DASHES),
    ):
        if [c for c in q if c in chars] != [c for c in s if c in chars]:
            names.add(name)
    special = _LIGATURES | _QUOTE_MARKS | _DASHES
    q_compat = [c for c in q if c not in special and _nfkc(c) != c]
    s_compat = [c for c in s if c not in special and _nfkc(c) != c]
    if q_compat != s_compat or (not names and q != s):
        names.add("compatibility")
    return names


def _gap_normalisation(q: str, s: str) -> str | None:
    if q == s:
        return None
    if any(ch.isalnum() for ch in s):
        return "running-heads"
    if "\n" in q or "\n" in s or "\f" in q or "\f" in s:
        return "line-breaks"
    return "whitespace"


def _normalisations(pieces: list[_Piece], tokens: list[_QTok], quote: str, lay: _Layer) -> set[str]:
    names: set[str] = set()
    pairs = [
        (i, j)
        for p in pieces
        if p.kind == "equal" or (p.kind == "alter" and tokens[p.q0].pattern is not None)
        for i, j in zip(range(p.q0, p.q1), range(p.s0, p.s1), strict=False)
    ]
    for k, (i, j) in enumerate(pairs):
        if tokens[i].pattern is None:
            names |= _token_normalisations(quote[tokens[i].start : tokens[i].end], lay.raw(j))
        if k and pairs[k - 1] == (i - 1, j - 1):
            between = lay.text[lay.ends[j - 1] : lay.starts[j]]
            gap = _gap_normalisation(quote[tokens[i - 1].end : tokens[i].start], between)
            if gap is not None:
                names.add(gap)
    if any(p.kind == "trailing" for p in pieces):
        names.add("trailing-punctuation")
    return names


def _quoted(pieces_q: tuple[int, int], tokens: list[_QTok], quote: str) -> str:
    q0, q1 = pieces_q
    return quote[tokens[q0].start : tokens[q1 - 1].end] if q1 > q0 else ""


def _locator(lay: _Layer, start: int, end: int, paged: bool) -> Locator:
    para = lay.paragraph_at(start)
    return Locator(page=para.page if paged else None, paragraph=para.number, start=start, end=end)


def _result(
    original: str,
    quote: str,
    tokens: list[_QTok],
    pieces: list[_Piece],
    lay: _Layer,
    *,
    doc: str | None,
    paged: bool,
) -> QuoteMatch:
    pieces, alterations, reviews = _judge(pieces, tokens, quote, lay)
    diffs = [p for p in pieces if p.kind == "diff"]
    score = 1.0 if not diffs else _score(pieces, tokens)
    spans = [(p.s0, p.s1) for p in pieces if p.s1 > p.s0]
    if (diffs and _coverage(pieces, tokens) < MISQUOTE_MIN_COVERAGE) or not spans:
        return QuoteMatch(QuoteStatus.NOT_FOUND, original, doc, None, score=score)
    start = lay.starts[min(s0 for s0, _ in spans)]
    end = lay.ends[max(s1 for _, s1 in spans) - 1]
    names = _normalisations(pieces, tokens, quote, lay)
    differences = []
    for p in diffs:
        offset = lay.starts[p.s0] if p.s1 > p.s0 else (lay.ends[p.s0 - 1] if p.s0 else 0)
        op = "added" if p.q1 > p.q0 else "removed"
        differences.append(
            Difference(
                op="changed" if p.q1 > p.q0 and p.s1 > p.s0 else op,
                quoted=_quoted((p.q0, p.q1), tokens, quote),
                source=lay.span(p.s0, p.s1),
                offset=offset,
                paragraph=lay.paragraph_at(offset).number,
                reversal=p.reversal
                or _reversal(
                    _reading(_quoted((p.q0, p.q1), tokens, quote)), _word_keys(lay, p.s0, p.s1)
                ),
            )
        )
    if diffs:
        status = QuoteStatus.MISQUOTED
    elif reviews:
        status = QuoteStatus.NEEDS_REVIEW
    elif alterations:
        status = QuoteStatus.ALTERED
    elif names:
        status = QuoteStatus.NORMALISED
    else:
        status = QuoteStatus.EXACT
    return QuoteMatch(
        status=status,
        quote=original,
        doc=doc,
        locator=_locator(lay, start, end, paged),
        normalisations=tuple(n for n in NORMALISATIONS if n in names),
        alterations=tuple(alterations),
        differences=tuple(differences),
        source_text=lay.text[start:end],
        score=score,
        reviews=tuple(reviews),
    )


# -- the API -----------------------------------------------------------------------------------


def _prepare_quote(quote: str) -> tuple[str, list[_QTok]]:
    text = unicodedata.normalize("NFC", quote).strip()
    if len(text) > 1 and text[0] in _OPENING_MARKS and text[-1] in _CLOSING_MARKS:
        text = text[1:-1].strip()  # the quotation's own marks delimit it; they quote nothing
    tokens = _tokenise_quote(text)
    words = sum(t.is_word for t in tokens)
    if words < MIN_QUOTE_WORDS:
        raise QuoteTooShortError(
            f"quotation has {words} word{'s' if words != 1 else ''}; "
            f"at least {MIN_QUOTE_WORDS} are needed to identify a passage",
            hint="quote a longer passage (bracketed insertions do not count)",
        )
    return text, tokens


def _verbatim(quote: str, text: str) -> re.Match[str] | None:
    pattern = re.escape(quote)
    if quote[0].isalnum() or quote[0] == "_":
        pattern = r"(?<!\w)" + pattern
    if quote[-1].isalnum() or quote[-1] == "_":
        pattern += r"(?!\w)"
    return re.search(pattern, text)


def match_quote(
    quote: str, layer: TextLayer, *, doc: str | None = None, paged: bool = True
) -> QuoteMatch:
    """Check *quote* against *layer*; see the module docstring for what each status means.

    *paged* is False for media without pages (HTML, plain text): locators then carry no page.
    Raises :class:`QuoteTooShortError` for fewer than :data:`MIN_QUOTE_WORDS` words.
    """
    text, tokens = _prepare_quote(quote)
    lay = _prepare(layer)
    found = _verbatim(text, lay.text)
    if found is not None:
        return QuoteMatch(
            status=QuoteStatus.EXACT,
            quote=quote,
            doc=doc,
            locator=_locator(lay, found.start(), found.end(), paged),
            source_text=found.group(),
            score=1.0,
        )
    pieces = _anchored(text, tokens, lay)
    if pieces is None:
        pieces = _fuzzy(text, tokens, lay)
    if pieces is None:
        return QuoteMatch(QuoteStatus.NOT_FOUND, quote, doc, None)
    return _result(quote, text, tokens, pieces, lay, doc=doc, paged=paged)


_RANK = {status: rank for rank, status in enumerate(QuoteStatus)}


def best_match(quote: str, candidates: Iterable[tuple[str, TextLayer, bool]]) -> QuoteMatch:
    """The best answer for *quote* among (doc id, layer, paged) candidates.

    Exact beats normalised beats misquoted (the highest score first) beats not-found; ties go
    to the earlier candidate. With no candidate the answer is ``not-found`` with no doc.
    """
    _prepare_quote(quote)  # refuse a short quotation even when there is nothing to search
    best: QuoteMatch | None = None
    for doc, layer, paged in candidates:
        found = match_quote(quote, layer, doc=doc, paged=paged)
        if best is None or (_RANK[found.status], -found.score) < (_RANK[best.status], -best.score):
            best = found
        if found.status is QuoteStatus.EXACT:
            break
    return best or QuoteMatch(QuoteStatus.NOT_FOUND, quote, None, None)


# fmt: off
_STOPWORDS = frozenset(
    [
        "a", "an", "and", "any", "are", "as", "at", "be", "been", "by", "for", "from", "had",
        "has", "have", "he", "her", "his", "if", "in", "into", "is", "it", "its", "may", "must",
        "no", "nor", "not", "of", "on", "or", "our", "shall", "she", "should", "such", "than",
        "that", "the", "their", "them", "then", "there", "these", "they", "this", "those", "to",
        "under", "upon", "was", "we", "were", "which", "who", "will", "with", "would",
    ]
)
# fmt: on


def candidate_terms(quote: str) -> list[str]:
    """Distinctive words of *quote* (lower case, in order, each once) to preselect documents.

    Common function words and bracketed alterations are left out; hyphenated words are split
    as SQLite FTS5's unicode61 tokenizer splits them. A misquotation may change any one of
    them, so search for most of them, not all (``index.candidate_docs`` asks for half).
    """
    terms: list[str] = []
    text = unicodedata.normalize("NFC", quote)
    for t in _tokenise_quote(text):
        if t.kind != "word":
            continue
        raw = _nfkc(text[t.start : t.end]).lower()
        for part in re.findall(r"\w+", raw):
            if part not in _STOPWORDS and len(part) > 1 and part not in terms:
                terms.append(part)
    return terms
