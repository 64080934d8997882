"""The published text index: which documents hold which words, so that ``check --archive URL``
finds the documents an altered copy may come from without downloading the archive.

It is a static, sharded inverted index written per release by ``orderarchive publish``
(docs/FORMAT.md, "The published text index")::

    lookup/text/<size>/index        "orderarchive-text-index/v1" LF <documents> LF <shards> LF
    lookup/text/<size>/<shard>      one line per term, sorted: <term> SP <df> [SP <seq>]... LF

A term is a run of letters and digits, case-folded, diacritics removed (as the archive's own
index, SQLite FTS5 ``unicode61 remove_diacritics 2``, splits words). A term's shard is the
first four bytes of SHA-256(term), big-endian, modulo the number of shards (a power of two
chosen so that a shard stays near :data:`TARGET_SHARD_BYTES`). *df* is the number of
documents whose text holds the term; the entry numbers follow when there are at most
:data:`MAX_POSTINGS` (a common word lists none: it says nothing about where a copy came from).

The index is a hint and nothing more: it is not signed, and every document it names is
re-read from the verified log and its text layer checked against the hash its signed entry
states before any verdict. A hostile index can only cost downloads, which the reader bounds
(:data:`MAX_SHARDS_READ` shards of at most :data:`MAX_SHARD_BYTES` each, and the candidates'
count and bytes in :mod:`.remote`), or hide a document (the answer is then "not official",
as a server withholding a document can always make it).
"""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence

import attrs

from .errors import MalformedError

__all__ = [
    "FORMAT",
    "MAX_POSTINGS",
    "MAX_SHARDS_READ",
    "MAX_SHARD_BYTES",
    "TextIndexMeta",
    "build_text_index",
    "parse_meta",
    "parse_shard",
    "rank_similar",
    "shard_of",
    "terms_of",
    "text_index_dir",
]

FORMAT = "orderarchive-text-index/v1"
#: Entry numbers listed per term at most; a term in more documents lists only its count.
MAX_POSTINGS = 256
#: The size publish aims each shard at (it doubles the shards until the average fits).
TARGET_SHARD_BYTES = 128 * 1024
#: The most shards an index may have.
MAX_SHARDS = 4096
#: The most bytes a reader accepts for one shard (publish keeps every shard under it).
MAX_SHARD_BYTES = 1 << 20
#: The most bytes a reader accepts for the index's first file.
MAX_META_BYTES = 128
#: The most shards one copy's lookup reads (those holding most of its terms).
MAX_SHARDS_READ = 8
#: The rarest terms of a copy that choose its candidates (as the archive's index does).
SAMPLE_TERMS = 32

_TERM = re.compile(r"[^\W_]+")


def text_index_dir(size: int) -> str:
    """``lookup/text/<size>``: the text index published with the release of *size*."""
    return f"lookup/text/{size}"


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def terms_of(words: Iterable[str]) -> list[str]:
    """The distinct index terms of *words* (or of whole texts), in order of first use."""
    seen: dict[str, None] = {}
    for w in words:
        for term in _TERM.findall(_fold(w)):
            seen.setdefault(term, None)
    return list(seen)


def shard_of(term: str, shards: int) -> int:
    """The shard holding *term* in an index of *shards* shards."""
    return int.from_bytes(hashlib.sha256(term.encode("utf-8")).digest()[:4], "big") % shards


@attrs.frozen
class TextIndexMeta:
    """The index's first file: how many documents it covers and how many shards it has."""

    documents: int
    shards: int

    def to_bytes(self) -> bytes:
        """The bytes of ``lookup/text/<size>/index``."""
        return f"{FORMAT}\n{self.documents}\n{self.shards}\n".encode()


def parse_meta(data: bytes) -> TextIndexMeta:
    """``lookup/text/<size>/index`` parsed; anything else is :class:`MalformedError`."""
    lines = data.decode("ascii", "replace").split("\n")
    if (len(lines) != 4 or lines[0] != FORMAT or lines[3] != ""
            or not all(x.isdigit() and len(x) < 12 for x in lines[1:3])):
        raise MalformedError("not a text index (orderarchive-text-index/v1)")
    shards = int(lines[2])
    if not 1 <= shards <= MAX_SHARDS or shards & (shards - 1):
        raise MalformedError(f"a text index cannot have {shards} shards")
    return TextIndexMeta(int(lines[1]), shards)


def _line(term: str, seqs: Sequence[int]) -> bytes:
    listed = "".join(f" {s}" for s in seqs) if len(seqs) <= MAX_POSTINGS else ""
    return f"{term} {len(seqs)}{listed}\n".encode()


def build_text_index(size: int, texts: Iterable[tuple[int, str]]) -> dict[str, bytes]:
    """The files of the text index of the release of *size*, from ``(entry number, text)``
    of each document it publishes (path -> bytes)."""
    postings: dict[str, list[int]] = {}
    documents = 0
    for seq, text in texts:
        documents += 1
        for term in terms_of([text]):
            postings.setdefault(term, []).append(seq)
    lines = {term: _line(term, sorted(seqs)) for term, seqs in postings.items()}
    total = sum(len(line) for line in lines.values())
    shards = 1
    while shards < MAX_SHARDS and total / shards > TARGET_SHARD_BYTES:
        shards *= 2
    grouped: dict[int, list[str]] = {}
    for term in sorted(lines):
        grouped.setdefault(shard_of(term, shards), []).append(term)
    base = text_index_dir(size)
    files = {f"{base}/index": TextIndexMeta(documents, shards).to_bytes()}
    for n in range(shards):
        terms = grouped.get(n, [])
        body = [lines[t] for t in terms]
        # A shard over the reader's limit drops the postings of its commonest terms first.
        by_df = sorted(range(len(terms)), key=lambda i: -len(postings[terms[i]]))
        excess = sum(len(b) for b in body) - MAX_SHARD_BYTES
        for i in by_df:
            if excess <= 0:
                break
            short = f"{terms[i]} {len(postings[terms[i]])}\n".encode()
            excess -= len(body[i]) - len(short)
            body[i] = short
        files[f"{base}/{n}"] = b"".join(body)
    return files


def parse_shard(data: bytes, size: int) -> dict[str, tuple[int, tuple[int, ...] | None]]:
    """A shard parsed: term -> (documents holding it, their entry numbers or None when not
    listed). Entry numbers must be in a tree of *size*: :class:`MalformedError` otherwise."""
    out: dict[str, tuple[int, tuple[int, ...] | None]] = {}
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise MalformedError(f"not UTF-8 (byte {e.start})") from e
    if text and not text.endswith("\n"):
        raise MalformedError("does not end with a newline")
    for number, line in enumerate(text.split("\n")[:-1], 1):
        fields = line.split(" ")
        if len(fields) < 2 or not fields[0] or not all(
                f.isdigit() and len(f) < 20 for f in fields[1:]):
            raise MalformedError(f"line {number} is not '<term> <df> [<seq>...]'")
        df = int(fields[1])
        seqs = tuple(int(f) for f in fields[2:])
        if seqs and (len(seqs) != df or any(s >= size for s in seqs)):
            raise MalformedError(f"line {number} lists entries that are not in its count or "
                                 f"not in the tree of size {size}")
        out[fields[0]] = (df, seqs if seqs else None)
    return out


def rank_similar(
    terms: Sequence[str],
    found: Mapping[str, tuple[int, tuple[int, ...] | None]],
    documents: int,
    limit: int,
) -> list[int]:
    """Entries sharing at least a third of the rarest of *terms* that the index holds, best
    first (summed inverse document frequency, then entry number): the rule of the archive's
    own ``Index.near_duplicates``. Sampling stops at the first term too common to list."""
    if limit <= 0:
        return []
    sample = sorted((found[t][0], t) for t in terms if t in found)[:SAMPLE_TERMS]
    scores: dict[int, float] = {}
    shared: dict[int, int] = {}
    scanned = 0
    for df, term in sample:
        seqs = found[term][1]
        if seqs is None:
            if scanned:
                break
            continue
        scanned += 1
        weight = math.log(1 + max(documents, 1) / max(df, 1))
        for seq in seqs:
            scores[seq] = scores.get(seq, 0.0) + weight
            shared[seq] = shared.get(seq, 0) + 1
    need = max(1, math.ceil(scanned / 3))
    ranked = sorted((s for s in scores if shared[s] >= need), key=lambda s: (-scores[s], s))
    return ranked[:limit]
