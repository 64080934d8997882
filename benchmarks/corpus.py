"""A deterministic corpus of official documents and news articles, for the benchmarks.

``generate(directory, n, seed)`` writes *n* files: 60% PDFs of 1 to 12 pages of paragraph text
(executive orders), 25% HTML news articles and 15% plain-text notices, the articles 2 to 40 KB.
Document *i* depends only on ``(seed, i)``, so a corpus can be written in parallel and any
document regenerated alone. A ``MANIFEST`` (name, size, sha256 per line) is written last: a
directory with a complete manifest is reused instead of regenerated.

The PDFs are written by hand rather than with fpdf2 (tests/pdfgen.py), which lays out text in
pure Python at about 40 ms a page: a 10,000-document corpus would take half an hour to build.
They are ordinary PDF 1.7 files as a word processor writes them: one compressed content stream
per page, lines placed with ``Td`` and shown with ``Tj`` in the standard Helvetica font, wrapped
with Helvetica's metrics, a blank line's worth of space between paragraphs, a page footer, and
a document information dictionary (title, author, creation date).
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import random
import zlib
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from pathlib import Path

MANIFEST = "MANIFEST"

# Adobe's Helvetica widths (AFM, 1/1000 em) for ASCII 32..126.
_HELVETICA = (
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556,
    556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, 1015, 667, 667, 722,
    722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778, 667, 778, 722, 667, 611, 722,
    667, 944, 667, 667, 611, 278, 278, 278, 469, 556, 333, 556, 556, 500, 556, 556, 278, 556,
    556, 222, 222, 500, 222, 833, 556, 556, 556, 556, 333, 500, 278, 556, 500, 722, 500, 500,
    500, 334, 260, 334, 584,
)

_VOCABULARY = """
the city shall council order section record public request mayor department resident notice
hearing within days pursuant law provided ordinance executive authority office budget fiscal
year appropriation commissioner director board committee policy program service services
housing transportation safety health emergency plan planning review report reports annual
quarterly data information access open meeting meetings agenda minutes vote approved adopted
amended rescinded effective date implementation compliance enforcement violation penalty fee
fees permit permits license licenses application applications contract contracts vendor
procurement bid award grant grants fund funds revenue expenditure account accounts audit
staff employee employees personnel training equity inclusion community neighborhood district
street streets park parks school schools library libraries water sewer energy climate
resilience sustainability infrastructure capital project projects construction maintenance
repair inspection inspections zoning land use development property tax taxes assessment
assessor collector treasurer clerk counsel legal opinion regulation regulations rule rules
standard standards guideline guidelines procedure procedures process requirement requirements
responsible responsibility coordinate coordination agency agencies federal state county
municipal local regional partner partners stakeholder stakeholders public private nonprofit
organization organizations business businesses small local worker workers wage wages benefit
benefits pension retirement insurance coverage claim claims appeal appeals decision decisions
determination finding findings recommendation recommendations proposal proposals submit
submitted submission receive received review reviewed approve approval deny denied deadline
period term terms condition conditions notice notices publish published publication website
online digital records archive archived retention schedule preservation transparency
accountability integrity ethics conflict interest disclosure confidential exempt exemption
"""
_WORDS = tuple(_VOCABULARY.split())
_NAMES = ("Michelle", "Ruthzee", "Tiffany", "Kenzie", "Mariangely", "Chief", "Dana", "José",
          "Amélie", "Brian", "Sofía", "Aisha", "Wei", "Ngozi", "Patrick", "Rosa")
_SURNAMES = ("Wu", "Louijeune", "Chang", "Bok", "Solis", "Arroyo", "Fernandes", "O'Malley",
             "Nguyen", "Okafor", "Kowalski", "Murphy", "Santos", "Lefèvre", "Haddad")


def _sentence(rng: random.Random) -> str:
    words = [rng.choice(_WORDS) for _ in range(rng.randint(8, 26))]
    if rng.random() < 0.4:
        words.insert(rng.randint(1, len(words) - 1), f"{rng.randint(2, 365)}")
    if rng.random() < 0.3:
        words[rng.randint(1, len(words) - 2)] += ","
    return " ".join(words).capitalize() + "."


def paragraph(rng: random.Random, sentences: tuple[int, int] = (2, 6)) -> str:
    return " ".join(_sentence(rng) for _ in range(rng.randint(*sentences)))


def _ascii(text: str) -> str:
    return text.encode("ascii", "replace").decode("ascii").replace("?", "e")


# -- PDF ---------------------------------------------------------------------------------------

_PAGE_W, _PAGE_H = 612, 792
_MARGIN = 72
_FONT_SIZE = 11
_LEADING = 14
_PARA_GAP = 10


def _width(text: str) -> float:
    return sum(_HELVETICA[ord(c) - 32] for c in text) * _FONT_SIZE / 1000


def _wrap(text: str, width: float) -> list[str]:
    lines: list[str] = []
    line = ""
    for word in text.split():
        candidate = f"{line} {word}" if line else word
        if line and _width(candidate) > width:
            lines.append(line)
            line = word
        else:
            line = candidate
    if line:
        lines.append(line)
    return lines


def _pdf_string(text: str) -> bytes:
    escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    return b"(" + escaped.encode("latin-1") + b")"


def _page_content(lines: list[tuple[str, bool]], footer: str) -> bytes:
    """Lines of one page; the flag marks the first line of a paragraph."""
    out = [b"BT", b"/F1 %d Tf" % _FONT_SIZE, b"%d %d Td" % (_MARGIN, _PAGE_H - _MARGIN)]
    for i, (text, starts_paragraph) in enumerate(lines):
        if i:
            step = _LEADING + (_PARA_GAP if starts_paragraph else 0)
            out.append(b"0 %d Td" % -step)
        out.append(_pdf_string(text) + b" Tj")
    out.append(b"ET")
    out.append(b"BT /F1 9 Tf %d 40 Td %s Tj ET" % (_PAGE_W // 2 - 30, _pdf_string(footer)))
    return b"\n".join(out)


def _layout(paragraphs: Sequence[str], pages: int) -> list[list[tuple[str, bool]]]:
    per_page = (_PAGE_H - 2 * _MARGIN) // _LEADING - 2
    width = _PAGE_W - 2 * _MARGIN
    laid: list[list[tuple[str, bool]]] = [[]]
    used = 0
    for text in paragraphs:
        lines = _wrap(text, width)
        cost = len(lines) + 1
        if used and used + cost > per_page:
            if len(laid) == pages:
                break
            laid.append([])
            used = 0
        laid[-1].extend((line, k == 0) for k, line in enumerate(lines[:per_page]))
        used += cost
    return laid


def pdf_document(title: str, author: str, issued: date, paragraphs: Sequence[str],
                 pages: int) -> bytes:
    laid = _layout([_ascii(p) for p in paragraphs], pages)
    n = len(laid)
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"",  # the page tree, once the page objects are numbered
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Title %s /Author %s /Producer (orderarchive benchmarks) /CreationDate %s >>"
        % (_pdf_string(_ascii(title)), _pdf_string(_ascii(author)),
           _pdf_string(f"D:{issued:%Y%m%d}120000-05'00'")),
    ]
    kids = []
    for k, lines in enumerate(laid, start=1):
        stream = zlib.compress(_page_content(lines, f"Page {k} of {n}"), 6)
        objects.append(b"<< /Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream"
                       % (len(stream), stream))
        content = len(objects)
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>"
            % (_PAGE_W, _PAGE_H, content)
        )
        kids.append(b"%d 0 R" % len(objects))
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(kids), n)
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += (b"trailer\n<< /Size %d /Root 1 0 R /Info 4 0 R >>\nstartxref\n%d\n%%%%EOF\n"
            % (len(objects) + 1, xref))
    return bytes(out)


# -- articles ----------------------------------------------------------------------------------


def _html_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def html_article(rng: random.Random, title: str, *, author: str, issued: date, url: str,
                 target: int) -> bytes:
    head = (
        f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{_html_escape(title)} | The City Ledger</title>\n"
        f'<meta name="author" content="{author}">\n'
        f'<meta property="article:published_time" content="{issued.isoformat()}T09:30:00-05:00">\n'
        f'<link rel="canonical" href="{url}">\n'
        f"<style>body {{ font-family: serif; }}</style>\n</head>\n<body>\n"
        f'<nav><a href="/">Home</a> <a href="/city-hall">City Hall</a></nav>\n'
        f"<article>\n<header><h1>{_html_escape(title)}</h1>\n"
        f'<p class="byline">By {author} · <time datetime="{issued.isoformat()}">'
        f"{issued:%B %d, %Y}</time></p></header>\n"
    )
    tail = ("<footer>Tags: city hall, orders</footer>\n</article>\n"
            "<aside>Related: more from City Hall</aside>\n"
            "<footer>© The City Ledger</footer>\n</body>\n</html>\n")
    body: list[str] = []
    size = len(head.encode()) + len(tail.encode())
    while size < target:
        text = paragraph(rng)
        if rng.random() < 0.15:
            text = f"“{text}” said {rng.choice(_NAMES)} {rng.choice(_SURNAMES)}."
        block = (f"<h2>{_html_escape(_sentence(rng)[:-1])}</h2>\n" if rng.random() < 0.1
                 else f"<p>{_html_escape(text)}</p>\n")
        body.append(block)
        size += len(block.encode())
    return (head + "".join(body) + tail).encode("utf-8")


def text_notice(rng: random.Random, title: str, target: int) -> bytes:
    parts = [title]
    size = len(title.encode())
    while size < target:
        text = paragraph(rng)
        parts.append(text)
        size += len(text.encode()) + 2
    return ("\n\n".join(parts) + "\n").encode("utf-8")


# -- the corpus --------------------------------------------------------------------------------


def document(seed: int, i: int) -> tuple[str, bytes]:
    """Document *i* of the corpus for *seed*: (file name, bytes)."""
    rng = random.Random(f"orderarchive-benchmarks:{seed}:{i}")
    issued = date(2020, 1, 1) + timedelta(days=rng.randrange(6 * 365))
    author = f"{rng.choice(_NAMES)} {rng.choice(_SURNAMES)}"
    kind = i % 20
    if kind < 12:  # 60%: executive orders as PDFs of 1 to 12 pages
        pages = rng.randint(1, 12)
        title = f"Executive Order {issued.year}-{i:05d}: {_sentence(rng)[:60].rstrip('.')}"
        paragraphs = [f"Section {k}. {paragraph(rng, (3, 7))}" for k in range(1, 6 * pages + 2)]
        return (f"eo-{issued.year}-{i:05d}.pdf",
                pdf_document(title, f"Mayor {author}", issued, paragraphs, pages))
    title = f"{_sentence(rng)[:70].rstrip('.')}"
    target = rng.randint(2 * 1024, 40 * 1024)
    if kind < 17:  # 25%: news articles in HTML
        url = f"https://ledger.example/{issued:%Y/%m}/article-{i:05d}"
        return f"article-{i:05d}.html", html_article(
            rng, title, author=author, issued=issued, url=url, target=target
        )
    return f"notice-{i:05d}.txt", text_notice(rng, title, target)  # 15%: plain text


def _write(job: tuple[str, int, int]) -> tuple[str, int, str]:
    directory, seed, i = job
    name, data = document(seed, i)
    (Path(directory) / name).write_bytes(data)
    return name, len(data), hashlib.sha256(data).hexdigest()


def notice(seed: int, i: int) -> tuple[str, bytes]:
    """Plain-text notice *i* of about 4 KB for *seed* (the scale runs' documents): its
    path relative to the corpus directory (1,000 files per subdirectory) and its bytes."""
    rng = random.Random(f"orderarchive-benchmarks-notice:{seed}:{i}")
    title = f"Notice {i}: {_sentence(rng)[:60].rstrip('.')}"
    return f"{i // 1000:04d}/notice-{i:07d}.txt", text_notice(rng, title, 4096)


def _write_notice(job: tuple[str, int, int]) -> tuple[str, int, str]:
    directory, seed, i = job
    name, data = notice(seed, i)
    path = Path(directory) / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(data)
    return name, len(data), hashlib.sha256(data).hexdigest()


def generate_notices(directory: Path, n: int, seed: int) -> list[Path]:
    """Write (or reuse) *n* plain-text notices of about 4 KB in *directory*; their files."""
    return generate(directory, n, seed, writer=_write_notice)


def generate(
    directory: Path,
    n: int,
    seed: int,
    *,
    workers: int | None = None,
    writer: Callable[[tuple[str, int, int]], tuple[str, int, str]] | None = None,
) -> list[Path]:
    """Write (or reuse) the corpus of *n* documents for *seed* in *directory*; its files."""
    manifest = directory / MANIFEST
    if manifest.is_file():
        names = [line.split(" ", 1)[0] for line in manifest.read_text().splitlines()]
        if len(names) == n and all((directory / name).is_file() for name in names):
            return [directory / name for name in names]
    directory.mkdir(parents=True, exist_ok=True)
    manifest.unlink(missing_ok=True)
    jobs = [(str(directory), seed, i) for i in range(n)]
    if n >= 64 and (workers or os.cpu_count() or 1) > 1 and hasattr(os, "fork"):
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            rows = pool.map(writer or _write, jobs, chunksize=64)
    else:
        rows = [(writer or _write)(job) for job in jobs]
    tmp = directory / (MANIFEST + ".tmp")
    tmp.write_text("".join(f"{name} {size} {sha}\n" for name, size, sha in rows))
    tmp.replace(manifest)
    return [directory / name for name, _, _ in rows]
