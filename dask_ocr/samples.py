"""Sample documents, made by this package: the demo's input and the tests' documents.

Scanned-style PDFs and TIFFs are written from any encoded images (:func:`images_to_pdf`,
:func:`images_to_tiff`), born-digital PDFs from lines of text (:func:`born_digital_pdf`), and the
demo's mixed PDF from both (:func:`sample_pdf`); the pages come from :mod:`dask_ocr.synthetic`.
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass

from PIL import Image, ImageOps

from .decode import to_8bit
from .synthetic import letter_lines, make_sample_pages

__all__ = ["DrawnWord", "born_digital_pdf", "sample_pdf", "images_to_pdf", "images_to_tiff"]



@dataclass(frozen=True)
class DrawnWord:
    """A word written into a born-digital PDF: its text, its left edge and baseline (PDF points from the
    page's top-left corner) and its font size (points)."""

    text: str
    x: float
    baseline: float
    size: float


#: US Letter, in points.
LETTER_POINTS = (612.0, 792.0)


def born_digital_pdf(pages: list[list[str]], size: float = 10.0) -> tuple[bytes, list[list[DrawnWord]]]:
    """A PDF with a real text layer (Helvetica), one word per positioned text object, and what was drawn.

    Each page's lines are written top to bottom; every word is placed at an explicit position, so a
    reader's word boxes can be checked against :class:`DrawnWord` without font metrics.
    """
    import pikepdf

    pdf = pikepdf.new()
    font = pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1,
                                                BaseFont=pikepdf.Name.Helvetica,
                                                Encoding=pikepdf.Name.WinAnsiEncoding))
    width, height = LETTER_POINTS
    drawn_pages = []
    for lines in pages:
        drawn = [word for row, line in enumerate(lines) for word in _place_line(line, 90.0 + row * size * 2.0, size)]
        content = " ".join(f"BT /F1 {w.size:g} Tf {w.x:g} {height - w.baseline:g} Td ({_pdf_string(w.text)}) Tj ET"
                           for w in drawn)
        page = pdf.add_blank_page(page_size=(width, height))
        page.obj.Resources = pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font))
        page.obj.Contents = pdf.make_stream(content.encode("cp1252"))
        drawn_pages.append(drawn)
    buffer = io.BytesIO()
    pdf.save(buffer)
    return buffer.getvalue(), drawn_pages


def _place_line(line: str, baseline: float, size: float) -> list[DrawnWord]:
    """Words of a line from the left margin, each advanced by at least its width (0.8 em a character
    bounds Helvetica's widths but for a few capitals) plus a 1 em gap."""
    words, x = [], 72.0
    for word in line.split():
        words.append(DrawnWord(word, x, baseline, size))
        x += (0.8 * len(word) + 1.0) * size
    return words


def _pdf_string(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def sample_pdf(seed: int = 0) -> tuple[bytes, list[str]]:
    """A two-page mixed PDF: a scanned receipt (image only) and a born-digital letter; and each page's text."""
    import pikepdf

    scanned = make_sample_pages(1, seed=seed)[0]
    letter = letter_lines(random.Random(seed))
    digital, _ = born_digital_pdf([letter])
    merged = pikepdf.open(io.BytesIO(images_to_pdf([scanned.content])))
    merged.pages.extend(pikepdf.open(io.BytesIO(digital)).pages)
    buffer = io.BytesIO()
    merged.save(buffer)
    return buffer.getvalue(), [scanned.text, "\n".join(letter)]


# ------------------------------------------------------------------------------------------ scanned-style documents


def images_to_pdf(images: list[bytes], dpi: float = 200) -> bytes:
    """A scanned-style PDF (no text layer): one page per encoded image, each the image's size at ``dpi``.

    The images are embedded as :func:`~dask_ocr.sinks.pdf_writer.write_searchable_pdf` embeds page images:
    JPEG and JPEG 2000 bytes as they are, PNG and TIFF samples as stored, an EXIF rotation as the page's
    /Rotate.

    Parameters
    ----------
    images : list of bytes
        Encoded images, one per page.
    dpi : float
        Resolution the images are placed at: a 1700-pixel-wide image at 200 dpi makes an 8.5-inch page.
    """
    from .sinks.pdf_writer import PdfPage, write_searchable_pdf

    if not images:
        raise ValueError("images_to_pdf needs at least one image")
    pages = []
    for data in images:
        with Image.open(io.BytesIO(bytes(data))) as image:
            width, height = image.size
            if image.getexif().get(0x0112, 1) in (5, 6, 7, 8):  # shown turned a quarter
                width, height = height, width
        pages.append(PdfPage(bytes(data), width, height, dpi))
    out = io.BytesIO()
    write_searchable_pdf(pages, out)
    return out.getvalue()


def images_to_tiff(images: list[bytes]) -> bytes:
    """A multi-page TIFF (Deflate-compressed, lossless), one frame per encoded image.

    Frames are stored as 8-bit grey or RGB with EXIF orientation applied; the first image's dpi, if it has
    one, is recorded for all frames.
    """
    if not images:
        raise ValueError("images_to_tiff needs at least one image")
    frames, dpi = [], None
    for data in images:
        with Image.open(io.BytesIO(bytes(data))) as image:
            dpi = dpi or image.info.get("dpi")
            frames.append(to_8bit(ImageOps.exif_transpose(image)))
    out = io.BytesIO()
    options = {"dpi": tuple(float(v) for v in dpi)} if dpi else {}
    frames[0].save(out, format="TIFF", save_all=True, append_images=frames[1:], compression="tiff_deflate", **options)
    return out.getvalue()
