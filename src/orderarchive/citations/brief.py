"""Finding the quotations in a brief, so that each can be checked with :mod:`.quote`.

Two kinds are found:

* ``inline``: a span in double quotation marks, straight (") or typographic (“ ”), also when it
  runs across lines or pages. A straight mark opens when it follows whitespace or an opening
  bracket, dash or quotation mark and precedes a non-space, and closes otherwise; “ always opens
  and ” always closes; guillemets are a third kind, « opening and » closing (French usage; the
  reversed German »…« is not found). Quotations nest as people write them: single quotation
  marks inside a quotation are part of it, and a double quotation of the *other* kind inside one
  ("the order, titled “An Executive Order …”, says …" or “… the "Order" …”) is part of the outer
  quotation, which is the one reported. A second opening mark of the kind already open abandons
  the first (a stray mark, or a new paragraph of a quotation that the writer did not close); a
  closing mark that was never opened is skipped; an opening mark that is never closed is dropped
  and the quotations inside it are kept. Single quotation marks are never quotations of their
  own: they are apostrophes ('twas, the City's) as often as marks. Running heads and footers
  that repeat at the top or bottom of several pages ("Case 1:25-cv-01234 Document 12 Page 3 of
  20") are dropped from a quotation that runs across a page break.
* ``block``: consecutive lines beginning with ``>`` (Markdown; an HTML brief's
  ``<blockquote>`` is rendered so by :func:`.html.brief_text`) or, in a plain ``str`` only,
  indented by four or more spaces or a tab. A :class:`TextLayer` strips the leading spaces of
  lines when it is built, so indented block quotes can only be found in the raw text: pass the
  brief as a ``str`` to find them. A single indented line directly followed by an unindented
  one is a paragraph's first-line indent, not a block quote. Blank lines inside a block quote
  (or a bare ``>``) keep it going; enclosing quotation marks around the whole block are dropped.

Quotations of fewer than *min_words* words are left out: one quoted word is a defined term
(the "Order") or a scare quote, not a quotation to verify. (:func:`.cite.check_brief` asks for
two words and up, and lists those too short to check as ``too-short``.) For a ``block`` the
``text`` is the quotation with its ``>`` markers and indentation removed, while
``start``/``end`` delimit the block in the brief; for an ``inline`` quotation ``text`` is
``brief[start:end]`` (inside the marks) unless page furniture or markup was removed from it.

Markdown (``markdown=True``): emphasis and strong emphasis (``*…*``, ``_…_``, ``**…**``,
``__…__``), links (``[text](url)``, kept as their text) and inline code (`` `…` ``) inside a
quotation are markup, not words of the quotation: they are removed before it is checked and
:attr:`FoundQuotation.removed` says which ("emphasis", "strong", "link", "code"), so that the
report can say so. A bracket without a following ``(url)`` is a quoter's alteration
(``[t]he``) and is kept.

Bounded work: every pattern here is linear in its input (no nested or overlapping
repetition), lines and pages are counted in one forward pass, and at most *max_quotations*
quotations are returned (:class:`TooManyQuotationsError` beyond), so a 45 MB brief costs one
pass over its text, not one per quotation.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator

import attrs

from ..errors import Remedy
from ..errors import TooManyQuotationsError as TooManyQuotationsError  # noqa: PLC0414 (defined in errors.py)
from ..log.textlayer import TextLayer

__all__ = ["FoundQuotation", "TooManyQuotationsError", "find_quotations", "strip_markdown"]


@attrs.frozen
class FoundQuotation:
    """A quotation in a brief: its text, offsets into the brief's text (end exclusive), page
    (``None`` for a ``str`` without form feeds), kind (``"inline"`` or ``"block"``), 1-based
    line of its start, and the Markdown markup removed from its text (``"emphasis"``,
    ``"strong"``, ``"link"``, ``"code"``)."""

    text: str
    start: int
    end: int
    page: int | None
    kind: str
    line: int
    removed: tuple[str, ...] = ()


_WORDS = re.compile(r"\w+(?:[-'’]\w+)*")
_MARKER = re.compile(r"[ \t]*(?:>[ \t]?)+")
_MARKS = re.compile('["“”«»]')
_OPENING_CONTEXT = frozenset("([{—–-/\f\n \t\u00a0\"“'‘")

# Markdown markup inside a quotation. Each body excludes its own delimiter, so a failed match
# stops at the next delimiter: linear, however many unclosed delimiters there are.
_MARKUP = re.compile(
    r"`(?P<code>[^`]+)`"
    r"|\[(?P<link>[^\[\]]+)\]\([^()\s]*\)"
    r"|\*\*(?P<strong>[^*]+)\*\*"
    r"|(?<!\w)__(?P<strong_>[^_]+)__(?!\w)"
    r"|\*(?P<emphasis>[^*]+)\*"
    r"|(?<!\w)_(?P<emphasis_>[^_]+)_(?!\w)"
)
_MARKUP_NAMES = ("code", "link", "strong", "emphasis")


def _word_count(text: str) -> int:
    return len(_WORDS.findall(text))


def strip_markdown(text: str) -> tuple[str, tuple[str, ...]]:
    """*text* without Markdown emphasis, strong emphasis, link targets and code marks, and the
    names of what was removed (in :data:`_MARKUP_NAMES` order). A delimiter next to a space on
    its inner side ("2 * 3 * 4") is not markup and is kept."""
    removed: set[str] = set()

    def replace(m: re.Match[str]) -> str:
        name = m.lastgroup or ""
        inner = m.group(name)
        if inner != inner.strip():  # "* not emphasis *": CommonMark's flanking rule
            return m.group()
        removed.add(name.rstrip("_"))
        return inner

    stripped = _MARKUP.sub(replace, text)
    return stripped, tuple(name for name in _MARKUP_NAMES if name in removed)


# -- block quotations --------------------------------------------------------------------------


@attrs.frozen
class _Line:
    start: int
    end: int
    kind: str  # "blank", "marker", "indent", "text"
    content_start: int


def _indent(raw: str) -> int | None:
    """The width of *raw*'s block-quote indentation (four spaces or a tab, then any spaces and
    tabs) if a non-space follows it; else ``None``. By hand: the pattern
    ``(?: {4,}|\\t)[ \\t]*(?=\\S)`` backtracks quadratically over a long run of spaces."""
    if not raw.startswith(("    ", "\t")):
        return None
    width = len(raw) - len(raw.lstrip(" \t"))
    if width == len(raw) or raw[width].isspace():
        return None
    return width


def _lines(text: str, *, indented: bool) -> Iterator[_Line]:
    pos = 0
    while True:
        newline = text.find("\n", pos)
        end = len(text) if newline < 0 else newline
        raw = text[pos:end]
        if not raw.strip():
            yield _Line(pos, end, "blank", end)
        elif (m := _MARKER.match(raw)) is not None:
            yield _Line(pos, end, "marker", pos + m.end())
        elif indented and (width := _indent(raw)) is not None:
            yield _Line(pos, end, "indent", pos + width)
        else:
            yield _Line(pos, end, "text", pos)
        if newline < 0:
            return
        pos = newline + 1


def _block(text: str, group: list[_Line]) -> tuple[int, int, str] | None:
    content = [line for line in group if line.content_start < line.end]
    if not content:
        return None
    body = "\n".join(text[line.content_start : line.end].rstrip() for line in group).strip()
    if len(body) > 1 and body[0] in '"“«' and body[-1] in '"”»':
        body = body[1:-1].strip()
    last = content[-1]
    end = last.start + len(text[last.start : last.end].rstrip())
    return content[0].content_start, end, body


def _finish(text: str, group: list[_Line], after: str | None) -> tuple[int, int, str] | None:
    """The block quote of *group*; *after* is the kind of the line right after it."""
    # A last indented line that runs straight into unindented text is the first line of an
    # ordinary paragraph (a first-line indent), not part of the block.
    runs_on = group[0].kind == "indent" and after == "text"
    if runs_on and (len(group) == 1 or group[-2].kind == "blank"):
        group = group[:-1]
    return _block(text, group)


def _blocks(text: str, *, indented: bool) -> Iterator[tuple[int, int, str]]:
    """(start, end, text) of each block quote: lines of one kind, across blank lines."""
    group: list[_Line] = []
    blanks: list[_Line] = []
    for line in _lines(text, indented=indented):
        if group:
            if line.kind == "blank":
                blanks.append(line)
                continue
            if line.kind == group[0].kind:
                group.extend(blanks)
                group.append(line)
                blanks.clear()
                continue
            block = _finish(text, group, "blank" if blanks else line.kind)
            if block is not None:
                yield block
            group, blanks = [], []
        if line.kind in ("marker", "indent"):
            group = [line]
    if group:
        block = _finish(text, group, "blank" if blanks else None)
        if block is not None:
            yield block


# -- inline quotations -------------------------------------------------------------------------


def _role(text: str, pos: int, lo: int, hi: int) -> str | None:
    """Whether the quotation mark at *pos* opens, closes, or neither."""
    mark = text[pos]
    if mark in "“«":  # guillemets as in French: « opens, » closes
        return "open"
    if mark in "”»":
        return "close"
    before = text[pos - 1] if pos > lo else "\n"
    after = text[pos + 1] if pos + 1 < hi else "\n"
    if before in _OPENING_CONTEXT and not after.isspace():
        return "open"
    if not before.isspace():
        return "close"
    return None


@attrs.define
class _Open:
    """An open quotation: its kind ("straight" or "curly"), where its text starts, and the
    complete quotations inside it (reported only if it is never closed)."""

    kind: str
    start: int
    inner: list[tuple[int, int]] = attrs.Factory(list)


def _inline(text: str, lo: int, hi: int) -> list[tuple[int, int]]:
    """(start, end) inside the marks of each outermost double-quoted span of text[lo:hi].

    At most one quotation of each kind is open at a time (the stack is at most three deep), so
    every mark costs constant work and a run of 100 KB of unclosed marks is one pass.
    """
    spans: list[tuple[int, int]] = []
    stack: list[_Open] = []

    def drop_from(i: int) -> None:
        """Abandon the open quotations from stack[i] up, keeping the quotations inside them."""
        kept = [span for frame in stack[i:] for span in frame.inner]
        del stack[i:]
        (stack[-1].inner if stack else spans).extend(kept)

    for m in _MARKS.finditer(text, lo, hi):
        role = _role(text, m.start(), lo, hi)
        kind = {'"': "straight", "«": "guillemet", "»": "guillemet"}.get(m.group(), "curly")
        depth = next((i for i, frame in enumerate(stack) if frame.kind == kind), None)
        if role == "open":
            if depth is not None:
                drop_from(depth)  # a second opening mark of one kind abandons the first
            stack.append(_Open(kind, m.end()))
        elif role == "close" and depth is not None:
            start = stack[depth].start
            del stack[depth:]  # anything opened inside and not closed is part of the text
            (stack[-1].inner if stack else spans).append((start, m.start()))
    if stack:
        drop_from(0)
    spans.sort()
    return spans


# -- page furniture ----------------------------------------------------------------------------


def _furniture(text: str) -> set[str]:
    """Running heads and footers: first or last lines that repeat on two or more pages."""
    if "\f" not in text:
        return set()
    seen: Counter[str] = Counter()
    for page in text.split("\f"):
        lines = [line.strip() for line in page.split("\n") if line.strip()]
        edges = {_shape(line) for line in lines[:1] + lines[-1:]}
        seen.update(edges)
    return {shape for shape, count in seen.items() if count >= 2}


_DIGITS = re.compile(r"\d+")


def _shape(line: str) -> str:
    return _DIGITS.sub("#", line.strip())


def _without_furniture(quoted: str, furniture: set[str]) -> str:
    if "\f" not in quoted or not furniture:
        return quoted
    parts = quoted.split("\f")
    for k in range(len(parts)):
        lines = parts[k].split("\n")
        if k + 1 < len(parts):  # the bottom of a page
            while lines and (not lines[-1].strip() or _shape(lines[-1]) in furniture):
                lines.pop()
            lines.append("")
        if k > 0:  # the top of a page (sliced once: pop(0) in a loop is quadratic)
            top = 0
            while top < len(lines) and (not lines[top].strip() or _shape(lines[top]) in furniture):
                top += 1
            lines = ["", *lines[top:]]
        parts[k] = "\n".join(lines)
    return "\f".join(parts)


# -- the API -----------------------------------------------------------------------------------


def find_quotations(
    brief: TextLayer | str,
    *,
    min_words: int = 4,
    markdown: bool = False,
    indented: bool | None = None,
    max_quotations: int | None = None,
) -> list[FoundQuotation]:
    """Every quotation in *brief* of at least *min_words* words, in order; see the module
    docstring. Indented block quotes are found when *indented* (default: when *brief* is a
    ``str``); Markdown markup is removed from quotations when *markdown*. Raises
    :class:`TooManyQuotationsError` when there are more than *max_quotations*."""
    raw = isinstance(brief, str)
    text = brief if isinstance(brief, str) else brief.text()
    paged = not raw or "\f" in text
    furniture = _furniture(text)

    def candidates() -> Iterator[tuple[int, int, str, str]]:
        """(start, end, text, kind) of each quoted span, in order, found as they are needed:
        a brief over the limit stops at its first excess quotation."""
        lo = 0
        for start, end, body in _blocks(text, indented=raw if indented is None else indented):
            for s, e in _inline(text, lo, start):
                yield s, e, _without_furniture(text[s:e], furniture), "inline"
            if body:
                yield start, end, body, "block"
            lo = end
        for s, e in _inline(text, lo, len(text)):
            yield s, e, _without_furniture(text[s:e], furniture), "inline"

    results: list[FoundQuotation] = []
    line, page, counted = 1, 1, 0  # counted up to this offset, in one pass
    for start, end, marked, kind in candidates():
        quoted, removed = strip_markdown(marked) if markdown else (marked, ())
        if _word_count(quoted) < min_words:
            continue
        if max_quotations is not None and len(results) >= max_quotations:
            raise TooManyQuotationsError(
                f"the brief has more than {max_quotations} quotations to check",
                hint="raise the limit (max_quotations), or check the brief in parts",
                remedy=Remedy.MAX_QUOTATIONS,
            )
        line += text.count("\n", counted, start)
        page += text.count("\f", counted, start)
        counted = start
        results.append(
            FoundQuotation(quoted, start, end, page if paged else None, kind, line, removed)
        )
    return results
