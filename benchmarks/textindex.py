"""The published text index's size (docs/benchmarks.md, branch http): the sample archive, the
benchmark corpus of 10,000 documents (benchmarks/corpus.py) and, because that corpus draws its
words from a vocabulary of about 300, a 10,000-document corpus with a Zipf vocabulary of
50,000 words (closer to real prose, where most words are rare).

    .venv/bin/python -m benchmarks.textindex [N]

Prints, for each corpus: documents, text bytes, index bytes (all shards and the index file),
shards, the largest shard, and the time to build it.
"""

from __future__ import annotations

import random
import re
import sys
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

from orderarchive.textindex import build_text_index

from .corpus import document

REPO = Path(__file__).resolve().parents[1]


def _pdf_text(data: bytes) -> str:
    # The corpus's own PDFs: each page one FlateDecode stream of "(...) Tj" lines. Not a PDF
    # reader (ingest is): enough to give the words the text layer would hold.
    words = []
    for m in re.finditer(rb"stream\n(.*?)\nendstream", data, re.S):
        content = zlib.decompress(m.group(1))
        words += [s.decode("latin-1") for s in re.findall(rb"\(((?:\\.|[^\\)])*)\) Tj", content)]
    return "\n".join(words)


def corpus_texts(n: int, seed: int = 1) -> Iterator[tuple[int, str]]:
    for i in range(n):
        name, data = document(seed, i)
        if name.endswith(".pdf"):
            yield i, _pdf_text(data)
        elif name.endswith(".html"):
            yield i, re.sub(r"<[^>]+>", " ", data.decode("utf-8"))
        else:
            yield i, data.decode("utf-8")


def zipf_texts(n: int, vocabulary: int = 50_000, words: int = 1_500) -> Iterator[tuple[int, str]]:
    rng = random.Random(18)
    weights = [1 / (k + 1) ** 1.07 for k in range(vocabulary)]
    lexicon = [f"w{k:05d}x" for k in range(vocabulary)]
    for i in range(n):
        yield i, " ".join(rng.choices(lexicon, weights, k=rng.randint(words // 3, words * 2)))


def sample_texts() -> Iterator[tuple[int, str]]:
    from orderarchive.archive import Archive

    archive = Archive.open(REPO / "archive")
    for entry in archive.iter_entries(0, archive.releases()[-1]):
        layer = archive.text_layer(entry)
        if layer is not None:
            yield entry.seq, layer.text()


def measure(name: str, texts: Iterator[tuple[int, str]]) -> None:
    items = list(texts)
    text_bytes = sum(len(t.encode()) for _, t in items)
    start = time.perf_counter()
    files = build_text_index(len(items), items)
    took = time.perf_counter() - start
    shards = [len(v) for k, v in files.items() if not k.endswith("/index")]
    total = sum(len(v) for v in files.values())
    print(f"{name}: {len(items)} documents, {text_bytes} text bytes -> index {total} bytes "
          f"({total / max(text_bytes, 1):.1%} of the text), {len(shards)} shards, largest "
          f"{max(shards)} bytes, built in {took:.2f} s")


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    measure("sample archive", sample_texts())
    measure(f"benchmark corpus ({n})", corpus_texts(n))
    measure(f"zipf corpus ({n})", zipf_texts(n))


if __name__ == "__main__":
    main()
