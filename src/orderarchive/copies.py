"""Altered copies: when a file is not byte-identical to an archived document, compare its text.

Orders circulate re-saved, re-printed to PDF and pasted into e-mails. A copy whose normalised
text layer hashes to an archived document's signed text layer is the *same text* (not the
official file); one whose words are mostly those of an archived document is a *modified copy*,
reported with a word-level summary of what differs and where (page and paragraph of the
official text). Exact-text matching is one index lookup; near matches are narrowed with the
index's rare-term search, then compared word by word against the signed text layers, which are
re-read from the log and checked against their signed hashes.
"""

from __future__ import annotations

import bisect
import difflib
import hashlib
import re
from collections.abc import Sequence
from typing import Any

import attrs

from .archive import Archive
from .entry import Entry
from .errors import DocumentError, OrderArchiveError
from .textlayer import TextLayer

#: Share of the official document's words (in order) a copy must keep to be a modified copy.
MODIFIED_MIN_SIMILARITY = 0.6
#: How many differences are listed (the count of all of them is always given).
MAX_LISTED = 40
#: Candidates compared word by word after the index narrowed them.
MAX_CANDIDATES = 5
#: Documents longer than this (in words) are compared on their first MAX_WORDS words only.
MAX_WORDS = 200_000

_WORD = re.compile(r"\w+(?:[’'\-]\w+)*")


@attrs.frozen
class WordChange:
    """One difference: words the copy adds, removes or changes, located in the official text."""

    op: str  # "added" | "removed" | "changed"
    official: str
    copy: str
    page: int | None
    paragraph: int | None
    offset: int  # character offset in the official text layer

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)

    def describe(self) -> str:
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


@attrs.frozen
class TextComparison:
    """How a copy's text compares with one archived document's signed text layer."""

    status: str  # "same-text" | "modified-copy"
    entry: Entry
    similarity: float
    words_added: int
    words_removed: int
    words_changed: int
    changes: tuple[WordChange, ...]
    text_sha256: str

    @property
    def total_changes(self) -> int:
        return self.words_added + self.words_removed + self.words_changed

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "similarity": round(self.similarity, 4),
            "words_added": self.words_added,
            "words_removed": self.words_removed,
            "words_changed": self.words_changed,
            "changes": [c.to_dict() for c in self.changes],
            "changes_listed": len(self.changes),
            "text_sha256": self.text_sha256,
        }


@attrs.frozen
class CopyText:
    """The text read from a copy, or why there is none."""

    layer: TextLayer | None
    reason: str | None = None


def read_copy_text(data: bytes, filename: str | None = None) -> CopyText:
    """Read a copy's text layer the way ingest does (bounded, in a worker for PDF/HTML)."""
    from .documents import read_document

    try:
        doc = read_document(data, filename=filename)
    except DocumentError as e:
        return CopyText(None, f"its text cannot be read: {e}")
    if doc.text is None or doc.text.is_empty:
        return CopyText(None, doc.no_text_reason or "it has no text")
    return CopyText(doc.text)


def _words(layer: TextLayer) -> tuple[list[str], list[int]]:
    text = layer.text()
    words: list[str] = []
    offsets: list[int] = []
    for m in _WORD.finditer(text):
        words.append(m.group().casefold())
        offsets.append(m.start())
        if len(words) >= MAX_WORDS:
            break
    return words, offsets


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


def diff_words(
    official: TextLayer, copy: TextLayer, *, paged: bool
) -> tuple[float, int, int, int, list[WordChange]]:
    """Word-level differences of *copy* against *official* (difflib on case-folded words)."""
    a, a_off = _words(official)
    b, _ = _words(copy)
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    where = _locate(official, paged)
    text = official.text()
    added = removed = changed = 0
    changes: list[WordChange] = []
    copy_text_words = b
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            continue
        offset = a_off[i1] if i1 < len(a_off) else len(text)
        page, para = where(offset)
        old = " ".join(text[a_off[k] : a_off[k] + len(a[k])] for k in range(i1, i2))
        new = " ".join(copy_text_words[j1:j2])
        if op == "insert":
            added += j2 - j1
            kind = "added"
        elif op == "delete":
            removed += i2 - i1
            kind = "removed"
        else:
            changed += max(i2 - i1, j2 - j1)
            kind = "changed"
        if len(changes) < MAX_LISTED:
            changes.append(WordChange(kind, old, new, page, para, offset))
    matched = sum(block.size for block in matcher.get_matching_blocks())
    similarity = 2 * matched / (len(a) + len(b)) if a or b else 1.0
    return similarity, added, removed, changed, changes


def compare_text(
    archive: Archive, layer: TextLayer, *, idx: Any, exclude: Sequence[int] = ()
) -> TextComparison | None:
    """The archived document whose signed text this copy's *layer* equals or resembles."""
    blob = layer.to_bytes()
    text_sha = hashlib.sha256(blob).hexdigest()
    for hit in sorted(idx.by_text_sha256(text_sha), key=lambda h: h.seq):
        entry = archive.entry(hit.seq)
        official = _signed_layer(archive, entry)
        if official is not None and official.to_bytes() == blob:
            return TextComparison("same-text", entry, 1.0, 0, 0, 0, (), text_sha)
    words, _ = _words(layer)
    best: TextComparison | None = None
    for seq in idx.near_duplicates(words, limit=MAX_CANDIDATES):
        if seq in exclude:
            continue
        entry = archive.entry(seq)
        official = _signed_layer(archive, entry)
        if official is None or entry.document is None:
            continue
        paged = entry.document.media_type == "application/pdf"
        similarity, added, removed, changed, changes = diff_words(official, layer, paged=paged)
        if similarity < MODIFIED_MIN_SIMILARITY:
            continue
        if best is None or similarity > best.similarity:
            best = TextComparison(
                "modified-copy", entry, similarity, added, removed, changed,
                tuple(changes), text_sha,
            )
    return best


def _signed_layer(archive: Archive, entry: Entry) -> TextLayer | None:
    """The entry's text layer, checked against the signed hash (None if it has none)."""
    try:
        return archive.text_layer(entry)
    except OrderArchiveError:
        return None
