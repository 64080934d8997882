"""Altered copies: when a file is not byte-identical to an archived document, compare its text.

Orders circulate re-saved, re-printed to PDF and pasted into e-mails. The rule, the same for
text, HTML and PDF copies (docs/CITATIONS.md, "Copies"):

* Both texts are read as sequences of *tokens*: words (letters and digits, with inner
  apostrophes and hyphens) and single marks (every other non-space character: punctuation,
  quotation marks, dashes, symbols). Case counts, and so does every mark: "FALSE" and "false",
  ``"`` and “, "-" and "–" are different tokens.
* Whitespace, line breaks, paragraph breaks and page breaks are not tokens: a copy whose tokens
  are exactly the signed text's is the *same text* (re-wrapped at 72 columns, re-printed to
  PDF, pasted), and ``check`` says whether it differs from the signed layer only in
  whitespace and breaks.
* Any other difference makes a *modified copy*, and every difference is listed with the
  official words and the copy's words as written, located in the official text. A copy with
  hidden or generated text (:mod:`.visible`) is never the same text: its shown text is
  compared, and each finding is listed.

Candidates are narrowed by the index (a signed-text hash lookup and a rare-term search); their
text layers are re-read from the log and checked against their signed hashes. The comparison
is bounded (:class:`CompareLimits`): a patience diff anchors on tokens that occur once in both
texts and runs :mod:`difflib` only inside small gaps, so a long copy costs near-linear time; a
copy over the word limit, or a comparison over the time budget, is an error ("cannot decide"),
never a verdict.
"""

from __future__ import annotations

import bisect
import difflib
import re
import time
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

import attrs

from .archive import Archive
from .canonical import JSONObject
from .documents.visible import HiddenText
from .errors import CompareTimeoutError as CompareTimeoutError  # noqa: PLC0414 (defined in errors.py)
from .errors import CopyTooLargeError as CopyTooLargeError  # noqa: PLC0414 (defined in errors.py)
from .errors import DocumentError, OrderArchiveError
from .log.digest import Digest
from .log.entry import Entry
from .log.textlayer import TextLayer

if TYPE_CHECKING:  # sqlite3 is loaded only when an index is opened
    from .index import Index

#: Share of the official document's tokens (in order) a copy must keep to be a modified copy.
MODIFIED_MIN_SIMILARITY = 0.6
#: Candidates compared token by token after the index narrowed them.
MAX_CANDIDATES = 5
#: Default bound on the words of a copy or of an official text compared with it.
DEFAULT_MAX_WORDS = 500_000
#: Default time budget for reading and comparing one copy, in seconds.
DEFAULT_TIMEOUT = 60.0
#: Gaps between anchors up to this many token pairs go to difflib (quadratic at worst).
_SMALL_GAP = 400_000
#: Characters of one difference's text kept for display (the counts cover all of it).
MAX_SPAN_CHARS = 600
#: Edits Myers' algorithm may spend on a repetitive stretch before it is left undecided.
MAX_EDIT_DISTANCE = 2_000
#: How often (in loop steps) the time budget is checked.
_TICK = 256

_TOKEN = re.compile(r"\w+(?:[\u2019'\-]\w+)*|[^\w\s]")
_WORD = re.compile(r"\w+(?:[\u2019'\-]\w+)*")


@attrs.frozen
class CompareLimits:
    """Bounds on comparing one copy: words per text, and seconds for reading and comparing."""

    max_words: int = DEFAULT_MAX_WORDS
    timeout_seconds: float = DEFAULT_TIMEOUT

    def __attrs_post_init__(self) -> None:
        if self.max_words <= 0 or not self.timeout_seconds > 0:
            raise ValueError("CompareLimits must be positive")


DEFAULT_COMPARE_LIMITS = CompareLimits()


@attrs.frozen
class WordChange:
    """One difference: tokens the copy adds, removes or changes, located in the official text.

    ``official`` and ``copy`` are the texts as written (whitespace collapsed to one space).
    """

    op: str  # "added" | "removed" | "changed"
    official: str
    copy: str
    page: int | None
    paragraph: int | None
    offset: int  # character offset in the official text layer

    def to_dict(self) -> JSONObject:
        """The JSON object ``check --json`` prints for the change."""
        return attrs.asdict(self)

    def describe(self) -> str:
        """One line saying what changed."""
        where = []
        if self.page is not None:
            where.append(f"page {self.page}")
        if self.paragraph is not None:
            where.append(f"paragraph {self.paragraph}")
        place = ", ".join(where) or f"offset {self.offset}"
        if self.op == "added":
            return f"{place}: added \u201c{self.copy}\u201d"
        if self.op == "removed":
            return f"{place}: removed \u201c{self.official}\u201d"
        return f"{place}: \u201c{self.official}\u201d changed to \u201c{self.copy}\u201d"


def _modified_says_what(instance: TextComparison, _: Any, value: str) -> None:
    if value == "modified-copy" and not instance.changes and not instance.hidden:
        raise ValueError("a modified copy lists at least one difference")
    if value == "same-text" and (instance.changes or instance.hidden):
        raise ValueError("the same text has no differences and no hidden text")


@attrs.frozen
class TextComparison:
    """How a copy's text compares with one archived document's signed text layer.

    A "same-text" comparison has no differences and no hidden text; :attr:`exact` says whether
    the copy's text layer is byte-identical to the signed one (else it differs only in
    whitespace, line, paragraph or page breaks). A "modified-copy" lists at least one
    difference (:attr:`changes`) or hidden text (:attr:`hidden`).
    """

    status: str = attrs.field(validator=_modified_says_what)  # "same-text" | "modified-copy"
    entry: Entry
    similarity: float
    words_added: int
    words_removed: int
    words_changed: int
    changes: tuple[WordChange, ...]
    text_sha256: Digest
    exact: bool = False
    hidden: tuple[HiddenText, ...] = ()
    hidden_count: int = 0

    @property
    def total_changes(self) -> int:
        """Words added, removed and changed, together."""
        return self.words_added + self.words_removed + self.words_changed

    def to_dict(self) -> JSONObject:
        """The JSON object ``check --json`` prints under ``text``."""
        return {
            "status": self.status,
            "similarity": round(self.similarity, 4),
            "words_added": self.words_added,
            "words_removed": self.words_removed,
            "words_changed": self.words_changed,
            "changes": [c.to_dict() for c in self.changes],
            "changes_listed": len(self.changes),
            "text_sha256": self.text_sha256.hex(),
            "exact_text": self.exact,
            "whitespace_only": self.status == "same-text" and not self.exact,
            "hidden_text": [h.to_dict() for h in self.hidden],
            "hidden_count": self.hidden_count,
        }


@attrs.frozen
class CopyText:
    """The text read from a copy (as extracted, and as shown if they differ), or why none."""

    layer: TextLayer | None
    reason: str | None = None
    visible: TextLayer | None = None
    hidden: tuple[HiddenText, ...] = ()
    hidden_count: int = 0

    @property
    def shown(self) -> TextLayer | None:
        """The text a reader sees: :attr:`visible` when something is hidden, else the layer."""
        return self.visible if self.visible is not None else self.layer


def read_copy_text(
    data: bytes, filename: str | None = None, *, timeout: float = DEFAULT_TIMEOUT
) -> CopyText:
    """Read a copy's text the way ingest does (bounded, in a worker for PDF/HTML), and find
    its hidden and generated text (:mod:`.visible`)."""
    from .documents import DEFAULT_LIMITS, DocumentTimeoutError
    from .documents.visible import read_copy

    try:
        reading = read_copy(
            data, filename=filename, limits=attrs.evolve(DEFAULT_LIMITS, timeout_seconds=timeout)
        )
    except DocumentTimeoutError:
        raise  # no verdict: the copy could not be read within the time budget
    except DocumentError as e:
        return CopyText(None, f"its text cannot be read: {e}")
    doc = reading.document
    no_text = doc.text is None or doc.text.is_empty
    if no_text and (reading.visible is None or reading.visible.is_empty):
        return CopyText(None, doc.no_text_reason or "it has no text")
    count = max(reading.hidden_count, len(reading.hidden))
    return CopyText(doc.text, None, reading.visible, reading.hidden, count)


# -- tokens ------------------------------------------------------------------------------------


@attrs.frozen
class _Tokens:
    text: str
    tokens: list[str]
    offsets: list[int]
    words: int

    @classmethod
    def of(cls, layer: TextLayer, max_words: int, what: str) -> _Tokens:
        text = layer.text()
        tokens: list[str] = []
        offsets: list[int] = []
        words = 0
        for m in _TOKEN.finditer(text):
            token = m.group()
            tokens.append(token)
            offsets.append(m.start())
            if token[0].isalnum() or token[0] == "_":
                words += 1
                if words > max_words:
                    raise CopyTooLargeError(
                        f"{what} has over {max_words} words, the comparison's limit; "
                        "cannot decide whether it is the same text"
                    )
        return cls(text, tokens, offsets, words)

    def span(self, i: int, j: int) -> str:
        """Tokens *i* to *j* as written (whitespace collapsed; a long span keeps its first and
        last :data:`MAX_SPAN_CHARS` ÷ 2 characters around an ellipsis)."""
        if i >= j:
            return ""
        end = self.offsets[j - 1] + len(self.tokens[j - 1])
        start = self.offsets[i]
        half = MAX_SPAN_CHARS // 2
        if end - start > MAX_SPAN_CHARS:
            head = " ".join(self.text[start : start + half].split())
            tail = " ".join(self.text[end - half : end].split())
            return f"{head} \u2026 {tail}"
        return " ".join(self.text[start:end].split())


def _casefolded_words(layer: TextLayer, limit: int) -> list[str]:
    words: list[str] = []
    for m in _WORD.finditer(layer.text()):
        words.append(m.group().casefold())
        if len(words) >= limit:
            break
    return words


def _locate(layer: TextLayer, paged: bool) -> Any:
    paras = layer.paragraphs()
    starts = [p.start for p in paras]

    def where(offset: int) -> tuple[int | None, int | None]:
        i = bisect.bisect_right(starts, offset) - 1
        if i < 0:
            return (None, None)
        p = paras[i]
        return (p.page if paged else None, p.number)

    return where


# -- the bounded diff --------------------------------------------------------------------------

_Op = tuple[str, int, int, int, int]


class _Clock:
    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.steps = -1  # the first tick checks the clock

    def tick(self) -> None:
        self.steps += 1
        if self.steps % _TICK == 0 and time.monotonic() > self.deadline:  # pragma: no branch
            raise CompareTimeoutError(
                "comparing the copy took longer than its time budget; cannot decide "
                "whether it is the same text"
            )


def _unique_anchors(  # noqa: PLR0917 (two ranges, as difflib writes them)
    a: Sequence[str], i1: int, i2: int, b: Sequence[str], j1: int, j2: int, clock: _Clock
) -> list[tuple[int, int]]:
    """Patience diff's anchors: tokens occurring once in each range, longest in-order chain."""
    count_a = Counter(a[i1:i2])
    count_b = Counter(b[j1:j2])
    where_b = {b[j]: j for j in range(j1, j2) if count_b[b[j]] == 1}
    pairs = [
        (i, where_b[a[i]]) for i in range(i1, i2) if count_a[a[i]] == 1 and a[i] in where_b
    ]
    # Longest increasing subsequence of the b positions (patience sorting), O(k log k).
    tails: list[int] = []  # b position ending the best chain of each length
    tail_at: list[int] = []  # index into pairs of that chain's end
    back: list[int] = [-1] * len(pairs)
    for n, (_, j) in enumerate(pairs):
        clock.tick()
        k = bisect.bisect_left(tails, j)
        if k == len(tails):
            tails.append(j)
            tail_at.append(n)
        else:
            tails[k] = j
            tail_at[k] = n
        back[n] = tail_at[k - 1] if k else -1
    chain: list[tuple[int, int]] = []
    n = tail_at[-1] if tail_at else -1
    while n >= 0:
        chain.append(pairs[n])
        n = back[n]
    chain.reverse()
    return chain


def _myers(  # noqa: PLR0917 (two ranges, as difflib writes them)
    a: Sequence[str], i1: int, i2: int, b: Sequence[str], j1: int, j2: int, clock: _Clock
) -> list[_Op] | None:
    """Myers' O((N+M)D) shortest edit script for a range with no unique anchors (repetitive
    text), or None when it needs more than :data:`MAX_EDIT_DISTANCE` edits."""
    n, m = i2 - i1, j2 - j1
    v: dict[int, int] = {1: 0}
    trace: list[dict[int, int]] = []
    for d in range(MAX_EDIT_DISTANCE + 1):
        clock.tick()
        trace.append(dict(v))
        for k in range(-d, d + 1, 2):
            x = v[k + 1] if k == -d or (k != d and v[k - 1] < v[k + 1]) else v[k - 1] + 1
            y = x - k
            while x < n and y < m and a[i1 + x] == b[j1 + y]:
                x += 1
                y += 1
            v[k] = x
            if x >= n and y >= m:
                return _myers_ops(trace, n, m, i1, j1)
    return None


def _myers_ops(trace: list[dict[int, int]], n: int, m: int, i1: int, j1: int) -> list[_Op]:
    """Opcodes from Myers' trace, walked back from (n, m)."""
    ops: list[_Op] = []
    x, y = n, m
    for d in range(len(trace) - 1, -1, -1):
        v = trace[d]
        k = x - y
        if d == 0:
            if x > 0:
                ops.append(("equal", i1, i1 + x, j1, j1 + y))
            break
        prev_k = k + 1 if k == -d or (k != d and v[k - 1] < v[k + 1]) else k - 1
        prev_x = v[prev_k]
        prev_y = prev_x - prev_k
        start_x = prev_x if prev_k == k + 1 else prev_x + 1  # after the one edit
        start_y = start_x - k
        if x > start_x:
            ops.append(("equal", i1 + start_x, i1 + x, j1 + start_y, j1 + y))
        if prev_k == k + 1:
            ops.append(("insert", i1 + prev_x, i1 + prev_x, j1 + prev_y, j1 + start_y))
        else:
            ops.append(("delete", i1 + prev_x, i1 + start_x, j1 + prev_y, j1 + prev_y))
        x, y = prev_x, prev_y
    ops.reverse()
    return ops


def diff_tokens(
    a: Sequence[str], b: Sequence[str], *, deadline: float | None = None
) -> tuple[list[_Op], int]:
    """difflib-style opcodes turning *a* into *b*, and an upper bound on unmatched work.

    Returns ``(opcodes, undecided)``: *undecided* counts tokens of *a* in large gaps that have
    no anchor; such a gap is reported as one "replace" and bounds what a finer diff could find.
    """
    clock = _Clock(deadline if deadline is not None else float("inf"))
    out: list[_Op] = []
    undecided = 0
    # A stack of ranges still to diff and of finished opcodes, popped in order.
    stack: list[tuple[str, int, int, int, int]] = [("range", 0, len(a), 0, len(b))]
    while stack:
        item = stack.pop()
        if item[0] != "range":
            out.append(item)
            continue
        _, i1, i2, j1, j2 = item
        clock.tick()
        start_i, start_j = i1, j1
        while i1 < i2 and j1 < j2 and a[i1] == b[j1]:
            i1 += 1
            j1 += 1
        end_i, end_j = i2, j2
        while i2 > i1 and j2 > j1 and a[i2 - 1] == b[j2 - 1]:
            i2 -= 1
            j2 -= 1
        tasks: list[tuple[str, int, int, int, int]] = []
        if i1 > start_i:
            tasks.append(("equal", start_i, i1, start_j, j1))
        if i1 == i2 and j1 < j2:
            tasks.append(("insert", i1, i1, j1, j2))
        elif j1 == j2 and i1 < i2:
            tasks.append(("delete", i1, i2, j1, j1))
        elif i1 < i2:
            if (i2 - i1) * (j2 - j1) <= _SMALL_GAP:
                matcher = difflib.SequenceMatcher(None, a[i1:i2], b[j1:j2], autojunk=False)
                tasks.extend(
                    (op, i1 + p1, i1 + p2, j1 + q1, j1 + q2)
                    for op, p1, p2, q1, q2 in matcher.get_opcodes()
                )
            else:
                anchors = _unique_anchors(a, i1, i2, b, j1, j2, clock)
                if anchors:
                    pi, pj = i1, j1
                    for ai, bj in anchors:
                        tasks.append(("range", pi, ai, pj, bj))
                        tasks.append(("equal", ai, ai + 1, bj, bj + 1))
                        pi, pj = ai + 1, bj + 1
                    tasks.append(("range", pi, i2, pj, j2))
                else:
                    myers = _myers(a, i1, i2, b, j1, j2, clock)
                    if myers is None:
                        undecided += i2 - i1
                        tasks.append(("replace", i1, i2, j1, j2))
                    else:
                        tasks.extend(myers)
        if i2 < end_i:
            tasks.append(("equal", i2, end_i, j2, end_j))
        stack.extend(reversed(tasks))
    return _merged(out), undecided


def _merged(ops: list[_Op]) -> list[_Op]:
    """Adjacent opcodes joined: equal with equal; delete, insert and replace into one change."""
    merged: list[_Op] = []
    for op in ops:
        kind, i1, i2, j1, j2 = op
        if i1 == i2 and j1 == j2:
            continue
        if merged:
            pk, pi1, _, pj1, _ = merged[-1]
            if kind == pk == "equal":
                merged[-1] = ("equal", pi1, i2, pj1, j2)
                continue
            if kind != "equal" and pk != "equal":
                both = "replace" if kind != pk or kind == "replace" else kind
                merged[-1] = (both, pi1, i2, pj1, j2)
                continue
        merged.append(op)
    return merged


def _similarity_bound(a: Sequence[str], b: Sequence[str]) -> float:
    """An upper bound on the similarity of *a* and *b*: tokens in common, order ignored."""
    if not a and not b:
        return 1.0
    if 2 * min(len(a), len(b)) < MODIFIED_MIN_SIMILARITY * (len(a) + len(b)):
        return 2 * min(len(a), len(b)) / (len(a) + len(b))
    common = (Counter(a) & Counter(b)).total()
    return 2 * common / (len(a) + len(b))


@attrs.frozen
class _Diff:
    similarity: float
    added: int
    removed: int
    changed: int
    changes: tuple[WordChange, ...]


def _compare(
    official: TextLayer,
    copy: _Tokens,
    *,
    paged: bool,
    limits: CompareLimits,
    deadline: float,
    min_similarity: float = MODIFIED_MIN_SIMILARITY,
) -> _Diff | None:
    """The token differences of *copy* against *official*, or None if they are not similar."""
    off = _Tokens.of(official, limits.max_words, "the archived text compared with the copy")
    a, b = off.tokens, copy.tokens
    if _similarity_bound(a, b) < min_similarity:
        return None
    ops, undecided = diff_tokens(a, b, deadline=deadline)
    matched = sum(i2 - i1 for op, i1, i2, _, _ in ops if op == "equal")
    similarity = 2 * matched / (len(a) + len(b)) if a or b else 1.0
    if undecided:
        best = 2 * (matched + undecided) / (len(a) + len(b))
        if best < min_similarity:
            return None
        raise CopyTooLargeError(
            f"the copy differs from {len(a)}-token archived text in a stretch of {undecided} "
            "tokens too repetitive to compare within bounds; cannot decide what changed",
            hint="compare a smaller excerpt",
        )
    if similarity < min_similarity:
        return None
    where = _locate(official, paged)
    added = removed = changed = 0
    changes: list[WordChange] = []
    for op, i1, i2, j1, j2 in ops:
        if op == "equal":
            continue
        offset = off.offsets[i1] if i1 < len(off.offsets) else len(off.text)
        page, para = where(offset)
        if op == "insert":
            added += j2 - j1
            kind = "added"
        elif op == "delete":
            removed += i2 - i1
            kind = "removed"
        else:
            changed += max(i2 - i1, j2 - j1)
            kind = "changed"
        changes.append(WordChange(kind, off.span(i1, i2), copy.span(j1, j2), page, para, offset))
    return _Diff(similarity, added, removed, changed, tuple(changes))


class TextSource(Protocol):
    """Where :func:`compare_with` finds candidate documents and reads their signed text.

    The candidates (:meth:`exact_text`, :meth:`similar`) are only hints; :meth:`signed_layer`
    returns the entry and its text layer checked against the hash that entry signs (None when
    it has none or it cannot be read), and every verdict is made from those bytes.
    """

    def exact_text(self, text_sha256: str) -> list[int]:
        """Entries whose text layer has this SHA-256 (hex), ascending (a hint)."""
        ...

    def similar(self, words: Sequence[str], limit: int) -> list[int]:
        """Entries sharing many distinctive terms with *words*, best first (a hint)."""
        ...

    def signed_layer(self, seq: int) -> tuple[Entry, TextLayer | None]:
        """Entry *seq* and its text layer, checked against the hash the entry signs."""
        ...


class _ArchiveText:
    """An archive and its index as a :class:`TextSource`."""

    def __init__(self, archive: Archive, idx: Index) -> None:
        self.archive = archive
        self.idx = idx

    def exact_text(self, text_sha256: str) -> list[int]:
        return [int(h.seq) for h in sorted(self.idx.by_text_sha256(text_sha256),
                                           key=lambda h: h.seq)]

    def similar(self, words: Sequence[str], limit: int) -> list[int]:
        return self.idx.near_duplicates(words, limit=limit)

    def signed_layer(self, seq: int) -> tuple[Entry, TextLayer | None]:
        entry = self.archive.entry(seq)
        return entry, _signed_layer(self.archive, entry)


def compare_text(
    archive: Archive,
    copy: CopyText | TextLayer,
    *,
    idx: Index,
    exclude: Sequence[int] = (),
    limits: CompareLimits = DEFAULT_COMPARE_LIMITS,
    deadline: float | None = None,
) -> TextComparison | None:
    """The archived document whose signed text this copy's text equals or resembles.

    Raises :class:`CopyTooLargeError` or :class:`CompareTimeoutError` when the comparison
    cannot be made within *limits*: no verdict rather than a wrong one.
    """
    return compare_with(_ArchiveText(archive, idx), copy, exclude=exclude, limits=limits,
                        deadline=deadline)


def compare_with(
    source: TextSource,
    copy: CopyText | TextLayer,
    *,
    exclude: Sequence[int] = (),
    limits: CompareLimits = DEFAULT_COMPARE_LIMITS,
    deadline: float | None = None,
) -> TextComparison | None:
    """:func:`compare_text` over any :class:`TextSource` (an archive, or a published site:
    ``check --archive URL``), so that both give the same verdict by the same rule."""
    if isinstance(copy, TextLayer):
        copy = CopyText(copy)
    layer = copy.layer if copy.layer is not None else copy.shown
    shown = copy.shown
    if layer is None or shown is None:
        return None
    if deadline is None:
        deadline = time.monotonic() + limits.timeout_seconds
    blob = layer.to_bytes()
    text_sha = Digest.of(blob)
    hidden = copy.hidden
    exact = source.exact_text(text_sha.hex())
    if not hidden:
        for seq in exact:
            entry, official = source.signed_layer(seq)
            if official is not None and official.to_bytes() == blob:
                return TextComparison(
                    "same-text", entry, 1.0, 0, 0, 0, (), text_sha, exact=True
                )
    tokens = _Tokens.of(shown, limits.max_words, "the copy")
    extracted = _Tokens.of(layer, limits.max_words, "the copy") if hidden else tokens
    seqs = list(exact)
    seqs += source.similar(_casefolded_words(shown, 50_000), MAX_CANDIDATES)
    if hidden:  # a copy that hides most of an archived text is still a copy of it
        seqs += source.similar(_casefolded_words(layer, 50_000), MAX_CANDIDATES)
    best: TextComparison | None = None
    for seq in dict.fromkeys(seqs):
        if seq in exclude:
            continue
        entry, official = source.signed_layer(seq)
        if official is None or entry.document is None:
            continue
        paged = entry.document.media_type == "application/pdf"
        diff = _compare(official, tokens, paged=paged, limits=limits, deadline=deadline)
        if diff is None and hidden and _compare(
            official, extracted, paged=paged, limits=limits, deadline=deadline
        ):
            # Its extracted text resembles this document and what it shows does not: list
            # what is shown against the signed text, however little of it is left.
            diff = _compare(official, tokens, paged=paged, limits=limits, deadline=deadline,
                            min_similarity=0.0)
        if diff is None:
            continue
        if not diff.changes and not hidden:
            return TextComparison(
                "same-text", entry, 1.0, 0, 0, 0, (), text_sha,
                exact=official.to_bytes() == blob,
            )
        if best is None or diff.similarity > best.similarity:
            best = TextComparison(
                "modified-copy", entry, diff.similarity, diff.added, diff.removed,
                diff.changed, diff.changes, text_sha, hidden=hidden,
                hidden_count=copy.hidden_count,
            )
    return best


def _signed_layer(archive: Archive, entry: Entry) -> TextLayer | None:
    """The entry's text layer, checked against the signed hash (None if it has none)."""
    try:
        return archive.text_layer(entry)
    except OrderArchiveError:
        return None
