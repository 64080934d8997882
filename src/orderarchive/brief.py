"""Finding the quotations in a brief, so that each can be checked with :mod:`.quote`.

Two kinds are found:

* ``inline``: a span in double quotation marks, straight (") or typographic (“ ”), also when it
  runs across lines or pages. Single quotation marks inside it (a quotation within the
  quotation) are part of it. A straight mark opens when it follows whitespace or an opening
  bracket or dash and precedes a non-space, and closes otherwise. An opening mark that is never
  closed, or a closing mark that was never opened, is skipped (a second opening mark before a
  close abandons the first). Running heads and footers that repeat at the top or bottom of
  several pages ("Case 1:25-cv-01234 Document 12 Page 3 of 20") are dropped from a quotation
  that runs across a page break.
* ``block``: consecutive lines beginning with ``>`` (Markdown) or, in a plain ``str`` only,
  indented by four or more spaces or a tab. A :class:`TextLayer` strips the leading spaces of
  lines when it is built, so indented block quotes can only be found in the raw text: pass the
  brief as a ``str`` to find them. A single indented line directly followed by an unindented
  one is a paragraph's first-line indent, not a block quote. Blank lines inside a block quote
  (or a bare ``>``) keep it going; enclosing quotation marks around the whole block are dropped.

Quotations of fewer than *min_words* words are left out: those are defined terms (the
"Order") and scare quotes, not quotations to verify. For a ``block`` the ``text`` is the
quotation with its ``>`` markers and indentation removed, while ``start``/``end`` delimit the
block in the brief; for an ``inline`` quotation ``text`` is ``brief[start:end]`` (inside the
marks) unless page furniture was dropped from it.
"""

from __future__ import annotations

import re
from collections import Counter

import attrs

from .textlayer import TextLayer

__all__ = ["FoundQuotation", "find_quotations"]


@attrs.frozen
class FoundQuotation:
    """A quotation in a brief: its text, offsets into the brief's text (end exclusive), page
    (``None`` for a ``str`` without form feeds), kind (``"inline"`` or ``"block"``) and 1-based
    line of its start."""

    text: str
    start: int
    end: int
    page: int | None
    kind: str
    line: int


_WORDS = re.compile(r"\w+(?:[-'’]\w+)*")
_MARKER = re.compile(r"[ \t]*(?:>[ \t]?)+")
_INDENT = re.compile(r"(?: {4,}|\t)[ \t]*(?=\S)")
_MARKS = re.compile('["“”]')
_OPENING_CONTEXT = frozenset("([{—–-/\f\n \t\u00a0")


def _word_count(text: str) -> int:
    return len(_WORDS.findall(text))


@attrs.frozen
class _Line:
    start: int
    end: int
    kind: str  # "blank", "marker", "indent", "text"
    content_start: int


def _lines(text: str, *, indented: bool) -> list[_Line]:
    lines: list[_Line] = []
    pos = 0
    for raw in text.split("\n"):
        end = pos + len(raw)
        if not raw.strip():
            lines.append(_Line(pos, end, "blank", end))
        elif (m := _MARKER.match(raw)) is not None:
            lines.append(_Line(pos, end, "marker", pos + m.end()))
        elif indented and (m := _INDENT.match(raw)) is not None:
            lines.append(_Line(pos, end, "indent", pos + m.end()))
        else:
            lines.append(_Line(pos, end, "text", pos))
        pos = end + 1
    return lines


def _group_end(lines: list[_Line], i: int) -> int:
    """The end of the block starting at line *i*: lines of its kind, across blank lines."""
    j = i + 1
    while j < len(lines):
        k = j
        while k < len(lines) and lines[k].kind == "blank":
            k += 1
        if k == len(lines) or lines[k].kind != lines[i].kind:
            return j
        j = k + 1
    return j


def _block(text: str, group: list[_Line]) -> tuple[int, int, str] | None:
    content = [line for line in group if line.content_start < line.end]
    if not content:
        return None
    body = "\n".join(text[line.content_start : line.end].rstrip() for line in group).strip()
    if len(body) > 1 and body[0] in '"“' and body[-1] in '"”':
        body = body[1:-1].strip()
    last = content[-1]
    end = last.start + len(text[last.start : last.end].rstrip())
    return content[0].content_start, end, body


def _blocks(text: str, *, indented: bool) -> list[tuple[int, int, str]]:
    """(start, end, text) of each block quote."""
    lines = _lines(text, indented=indented)
    blocks: list[tuple[int, int, str]] = []
    i = 0
    while i < len(lines):
        if lines[i].kind not in ("marker", "indent"):
            i += 1
            continue
        j = _group_end(lines, i)
        group = lines[i:j]
        # A last indented line that runs straight into unindented text is the first line of
        # an ordinary paragraph (a first-line indent), not part of the block.
        runs_on = group[0].kind == "indent" and j < len(lines) and lines[j].kind == "text"
        if runs_on and (len(group) == 1 or group[-2].kind == "blank"):
            group = group[:-1]
        block = _block(text, group)
        if block is not None:
            blocks.append(block)
        i = j
    return blocks


def _role(text: str, pos: int, lo: int, hi: int) -> str | None:
    """Whether the quotation mark at *pos* opens, closes, or neither."""
    mark = text[pos]
    if mark == "“":
        return "open"
    if mark == "”":
        return "close"
    before = text[pos - 1] if pos > lo else "\n"
    after = text[pos + 1] if pos + 1 < hi else "\n"
    if (before in _OPENING_CONTEXT or before in "\"“'‘") and not after.isspace():
        return "open"
    if not before.isspace():
        return "close"
    return None


def _inline(text: str, lo: int, hi: int) -> list[tuple[int, int]]:
    """(start, end) inside the marks of each balanced double-quoted span of text[lo:hi]."""
    spans: list[tuple[int, int]] = []
    opened: int | None = None
    for m in _MARKS.finditer(text, lo, hi):
        role = _role(text, m.start(), lo, hi)
        if role == "open":
            opened = m.end()  # an unclosed earlier opening mark is abandoned
        elif role == "close" and opened is not None:
            spans.append((opened, m.start()))
            opened = None
    return spans


def _furniture(text: str) -> set[str]:
    """Running heads and footers: first or last lines that repeat on two or more pages."""
    pages = text.split("\f")
    if len(pages) < 2:
        return set()
    seen: Counter[str] = Counter()
    for page in pages:
        lines = [line.strip() for line in page.split("\n") if line.strip()]
        edges = {_shape(line) for line in lines[:1] + lines[-1:]}
        seen.update(edges)
    return {shape for shape, count in seen.items() if count >= 2}


def _shape(line: str) -> str:
    return re.sub(r"\d+", "#", line.strip())


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
        if k > 0:  # the top of a page
            while lines and (not lines[0].strip() or _shape(lines[0]) in furniture):
                lines.pop(0)
            lines.insert(0, "")
        parts[k] = "\n".join(lines)
    return "\f".join(parts)


def find_quotations(brief: TextLayer | str, *, min_words: int = 4) -> list[FoundQuotation]:
    """Every quotation in *brief* of at least *min_words* words, in order; see the module
    docstring. Pass a ``str`` to find indented block quotes too."""
    raw = isinstance(brief, str)
    text = brief if isinstance(brief, str) else brief.text()
    paged = not raw or "\f" in text
    furniture = _furniture(text)

    def found(start: int, end: int, quoted: str, kind: str) -> FoundQuotation:
        page = text.count("\f", 0, start) + 1 if paged else None
        line = text.count("\n", 0, start) + 1
        return FoundQuotation(quoted, start, end, page, kind, line)

    results: list[FoundQuotation] = []
    blocks = _blocks(text, indented=raw)
    lo = 0
    for start, end, body in [*blocks, (len(text), len(text), "")]:
        for s, e in _inline(text, lo, start):
            quoted = _without_furniture(text[s:e], furniture)
            if _word_count(quoted) >= min_words:
                results.append(found(s, e, quoted, "inline"))
        if body and _word_count(body) >= min_words:
            results.append(found(start, end, body, "block"))
        lo = end
    return results
