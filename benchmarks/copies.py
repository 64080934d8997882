"""`check` of long altered copies: the text comparison's cost (issue 11, item 3).

    python -m benchmarks.copies [WORDS]

Builds a scratch archive in a temporary directory and times ``check_copy`` (in this process,
after a warm-up) on copies of about WORDS words (default 140,000) built from the seed articles
in ../shared/seeds:

* ``long-copy``: the two articles repeated until WORDS, with a word changed in every repeat,
  checked against an archive of the two (short) articles — the case seen taking 52-91 s;
* ``long-official``: an archived document of WORDS words (the articles repeated, each repeat
  numbered) and a copy of it with ten words changed, which must list all ten;
* ``every-repeat``: that document with a word changed in every repeat (about 170 changes);
* ``repetitive``: the ten-word copy without the numbers, so that no word is unique (the
  Myers fallback).

It uses only ``Archive``, ``document_fields``, ``TextLayer`` and ``check_copy``, so it runs
against older versions too (``PYTHONPATH=old/src python -m benchmarks.copies``).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from orderarchive.archive import Archive, document_fields
from orderarchive.errors import OrderArchiveError
from orderarchive.log.note import Signer
from orderarchive.log.textlayer import TextLayer
from orderarchive.proofs import check_copy

SEEDS = Path(__file__).resolve().parents[1] / "tests" / "data" / "seeds"
ORIGIN = "example.gov/benchmark-copies"


def _articles() -> list[str]:
    return [p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt"))]


def _repeat(words: int, *, numbered: bool, change_every: bool) -> str:
    parts: list[str] = []
    count = 0
    n = 0
    while count < words:
        for article in _articles():
            n += 1
            text = article.replace("Boston", f"Springfield{n}", 1) if change_every else article
            parts.append(f"Part {n}.\n\n{text}" if numbered else text)
            count += len(text.split())
    return "\n\n".join(parts)


def _archive(root: Path, signer: Signer, texts: dict[str, str]) -> Archive:
    archive = Archive.init(root, ORIGIN)
    archive.add([document_fields(
        text.encode(), doc=doc, kind="article", title=doc, issuer="seed", issued=None,
        media_type="text/plain", text=TextLayer.from_text(text), extractor="x")
        for doc, text in texts.items()], signer)
    archive.release(signer)
    return archive


def _time(archive: Archive, signer: Signer, copy: str) -> tuple[float, str]:
    start = time.perf_counter()
    try:
        result = check_copy(archive, copy.encode(), [signer.verifier()], filename="copy.txt")
        outcome = result.status
        if result.text is not None:
            outcome += f", {len(result.text.changes)} differences listed"
    except OrderArchiveError as e:
        outcome = f"{type(e).__name__}: {e}"
    return time.perf_counter() - start, outcome


def main(words: int = 140_000) -> None:
    signer = Signer(name=ORIGIN, seed=bytes(range(32)))
    with tempfile.TemporaryDirectory() as tmp:
        seeds = _archive(Path(tmp) / "seeds", signer,
                         {f"seed-{i}": t for i, t in enumerate(_articles())})
        _time(seeds, signer, _articles()[0])  # warm-up: imports, index, worker pool
        cases = [("long-copy", seeds, _repeat(words, numbered=False, change_every=True))]
        for name, numbered in (("long-official", True), ("repetitive", False)):
            official = _repeat(words, numbered=numbered, change_every=False)
            archive = _archive(Path(tmp) / name, signer, {name: official})
            copy = official
            for k in range(10):  # ten changes spread through the text
                at = copy.find(" the ", (k + 1) * len(copy) // 11)
                copy = copy[:at] + " THE " + copy[at + 5 :]
            cases.append((name, archive, copy))
            if numbered:  # and a copy with a word changed in every repeat
                many = _repeat(words, numbered=True, change_every=True)
                cases.append(("every-repeat", archive, many))
        for name, archive, copy in cases:
            seconds, outcome = _time(archive, signer, copy)
            print(f"{name:14} {len(copy.split()):>8} words  {seconds:8.2f} s  {outcome}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 140_000)
