"""Deterministic test PDFs (dev/test only; needs fpdf2).

``make_pdf`` writes one paragraph per entry of each page, with a blank line's worth of space
between paragraphs, the way word processors lay out executive orders. The creation date and the
file identifier are fixed, so the same arguments always give the same bytes: the benchmarks and
the tests can regenerate their inputs instead of committing binary fixtures.

The core PDF fonts cover Latin-1 only; pass ``font_path`` (a TrueType file) for other text.
"""

from __future__ import annotations

import datetime
import io
import zlib
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos
from PIL import Image, ImageDraw  # fpdf2 depends on Pillow

#: The creation date written into every generated PDF (the day the seed order was signed).
CREATION_DATE = datetime.datetime(2026, 2, 5, 12, 0, 0, tzinfo=datetime.UTC)

_LINE_HEIGHT_MM = 6.0
_PARAGRAPH_GAP_MM = 6.0


class _FixedIdPDF(FPDF):
    # fpdf2 derives /ID from an MD5 of the output (already deterministic); a constant keeps the
    # bytes identical even if that derivation changes between fpdf2 versions.
    def file_id(self) -> str:
        return "<" + "0" * 32 + "><" + "0" * 32 + ">"


def make_pdf(
    pages: list[list[str]],
    *,
    title: str | None = None,
    author: str | None = None,
    path: str | Path | None = None,
    image_only: bool = False,
    user_password: str | None = None,
    owner_password: str | None = None,
    font_path: str | Path | None = None,
    font_size: float = 12,
    compress: bool = True,
) -> bytes:
    """A PDF with one page per entry of *pages*, each a list of paragraphs.

    ``image_only`` draws each page's text as a picture (a scanned order without OCR): the page
    holds an image and no text operators. ``user_password``/``owner_password`` encrypt the file
    (RC4, which pypdf reads without optional dependencies); an owner password alone gives a file
    anyone can open, as many published PDFs are. The bytes are written to *path* if given.
    """
    pdf = _FixedIdPDF(unit="mm", format="Letter")
    pdf.set_creation_date(CREATION_DATE)
    pdf.set_compression(compress)
    pdf.set_auto_page_break(auto=True, margin=20)
    if title is not None:
        pdf.set_title(title)
    if author is not None:
        pdf.set_author(author)
    if font_path is not None:
        pdf.add_font("custom", fname=str(font_path))
        pdf.set_font("custom", size=font_size)
    else:
        pdf.set_font("Helvetica", size=font_size)
    if user_password is not None or owner_password is not None:
        pdf.set_encryption(owner_password or user_password or "", user_password=user_password)
    for paragraphs in pages:
        pdf.add_page()
        if image_only:
            _draw_picture(pdf, paragraphs)
            continue
        for paragraph in paragraphs:
            pdf.multi_cell(0, _LINE_HEIGHT_MM, paragraph, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            pdf.ln(_PARAGRAPH_GAP_MM)
    data = bytes(pdf.output())
    if path is not None:
        Path(path).write_bytes(data)
    return data


def _draw_picture(pdf: FPDF, paragraphs: list[str]) -> None:
    """A grey bar per paragraph, as a PNG: a page with an image and no text operators."""
    image = Image.new("L", (400, 40 * max(len(paragraphs), 1) + 20), color=255)
    draw = ImageDraw.Draw(image)
    for i, paragraph in enumerate(paragraphs):
        width = min(380, 20 + len(paragraph))
        draw.rectangle((10, 20 + 40 * i, width, 40 + 40 * i), fill=96)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    pdf.image(buffer, x=20, y=20, w=170)


def sample_order(n_pages: int = 3, *, paragraphs_per_page: int = 4) -> list[list[str]]:
    """Deterministic specimen text in the shape of an executive order (not any official text)."""
    pages = []
    for p in range(1, n_pages + 1):
        page = []
        for q in range(1, paragraphs_per_page + 1):
            page.append(
                f"Section {p}.{q}. SPECIMEN - not an official text. The City shall keep a "
                f"record of every request made under this section, and the record for "
                f"page {p} paragraph {q} shall be open to inspection by any resident during "
                f"ordinary business hours, subject to the exceptions provided by law."
            )
        pages.append(page)
    return pages


# -- hand-written PDFs, for hostile inputs that no PDF library will write ----------------------


def raw_pdf(objects: list[bytes]) -> bytes:
    """A PDF whose objects 1..n are *objects* (object 1 is the catalog), with a correct xref."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def single_page_pdf(
    content: bytes, *, filters: bytes = b"", media_box: bytes = b"[0 0 612 792]"
) -> bytes:
    """One page with *content* as its content stream (already encoded with *filters*)."""
    return raw_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox %s "
            b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>" % media_box,
            b"<< /Length %d %s>>\nstream\n%s\nendstream" % (len(content), filters, content),
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        ]
    )


def deflate_zeros(mebibytes: int) -> bytes:
    """A zlib stream that inflates to *mebibytes* MiB of zero bytes, built in milliseconds.

    After a full flush deflate keeps no history, so every further MiB of zeros compresses to
    the same ~1 KB: the stream is that segment repeated (a decompression bomb's usual shape).
    The Adler-32 of n zero bytes is ((n mod 65521) << 16) | 1 (RFC 1950 §8).
    """
    chunk = bytes(1 << 20)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    segment = compressor.compress(chunk) + compressor.flush(zlib.Z_FULL_FLUSH)
    tail = compressor.flush()
    adler = ((((mebibytes << 20) % 65521) << 16) | 1).to_bytes(4, "big")
    return b"\x78\xda" + segment * mebibytes + tail + adler
