"""Text-layer bytes are signed: a faster reader must write the same bytes (issue 15).

``textlayer-corpus.json`` holds the SHA-256 of the text layer, and the title, that the
extractor of record wrote for every HTML, text and Markdown file under tests/data (its
seeds/ are copies of the shared seed articles) and for 120 of the benchmarks' generated
articles and notices (seed 20260205). It was written by the code before issue 15's speed
work; any change in what is extracted fails here, naming the files, and needs a new
extractor version instead.

Regenerate (only with an extractor version bump): ``python tests/test_textlayer_corpus.py``.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

from orderarchive.documents import read_document

REPO = Path(__file__).resolve().parents[1]
GOLDEN = REPO / "tests" / "data" / "textlayer-corpus.json"
SEED = 20260205
SUFFIXES = {".html", ".htm", ".txt", ".md"}


def _corpus() -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    root = REPO / "tests" / "data"  # its seeds/ are the conformance seed articles' copies
    for path in sorted(root.rglob("*")):
        if path.suffix in SUFFIXES and path.is_file() and path.name != "README.md":
            files[f"tests/data/{path.relative_to(root)}"] = path.read_bytes()
    sys.path.insert(0, str(REPO))
    try:
        from benchmarks import corpus
    finally:
        sys.path.remove(str(REPO))
    i = 0
    while sum(name.startswith("benchmarks/") for name in files) < 120:
        if i % 20 >= 12:  # the articles and notices (the rest are PDFs)
            name, data = corpus.document(SEED, i)
            files[f"benchmarks/{name}"] = data
        i += 1
    return files


def _extract(name: str, data: bytes) -> dict[str, str | None]:
    read = read_document(data, filename=name, isolate=False)
    layer = read.text.to_bytes() if read.text is not None else None
    return {
        "media_type": read.media_type,
        "title": read.metadata.title,
        "text_sha256": None if layer is None else hashlib.sha256(layer).hexdigest(),
    }


def test_every_reader_writes_the_recorded_text_layer_bytes() -> None:
    golden = json.loads(GOLDEN.read_text())
    files = _corpus()
    assert set(golden) <= set(files)  # a file added later is not in the record: that is fine
    differ = [name for name in golden if _extract(name, files[name]) != golden[name]]
    assert differ == []


if __name__ == "__main__":
    GOLDEN.write_text(json.dumps(
        {name: _extract(name, data) for name, data in sorted(_corpus().items())}, indent=1
    ) + "\n")
    print(f"wrote {GOLDEN}")
