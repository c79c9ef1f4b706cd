"""Synthetic scanned-looking documents, drawn by this package: the built-in default input.

Every page is rendered with Pillow's bundled font from text composed here, then slightly rotated,
blurred, sprinkled with noise and JPEG-compressed, so the demo and the tests need no third-party
images.  The ground truth is exactly the text drawn, line by line.  Scanned-style PDFs and TIFFs
are written from any encoded images (:func:`images_to_pdf`, :func:`images_to_tiff`), born-digital
PDFs from lines of text (:func:`born_digital_pdf`).
"""

from __future__ import annotations

import io
import random
import zlib
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont, ImageOps

from .decode import to_8bit

__all__ = ["SamplePage", "make_sample_pages", "render_line_crops", "DrawnWord", "born_digital_pdf", "sample_pdf",
           "images_to_pdf", "images_to_tiff"]

_WORDS = (
    "account address amount balance bank branch cash change contract customer date delivery "
    "department description discount document due email invoice item manager member method "
    "north office order paid payment phone price product quantity receipt reference report "
    "sales service shipping south station street subtotal supplier tax terms total transfer "
    "unit value warehouse weekly yearly approved received pending standard express local "
    "monthly notice please thank you for your visit again the and of to with from our this"
).split()
_ITEMS = ("Coffee beans", "Green tea", "Notebook A5", "Ball pen blue", "Printer paper", "Stapler",
          "Desk lamp", "USB cable", "Water bottle", "Rice 5kg", "Olive oil", "Bread loaf")
_ROTATE_FOR_EXIF = {3: 180, 6: 90, 8: 270}  # EXIF orientation -> clockwise /Rotate of the page showing the image


@dataclass(frozen=True)
class SamplePage:
    """A rendered page: JPEG bytes and the lines of text drawn on it, top to bottom."""

    name: str
    content: bytes
    lines: tuple[str, ...]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def _sentence(rng: random.Random, words: int) -> str:
    text = " ".join(rng.choice(_WORDS) for _ in range(words))
    return text[0].upper() + text[1:] + rng.choice([".", ",", ":", ""])


def _receipt_lines(rng: random.Random) -> list[str]:
    date = f"{rng.randint(1, 28):02d}/{rng.randint(1, 12):02d}/20{rng.randint(18, 26)}"
    lines = [f"INVOICE NO: {rng.randint(10000, 99999)}", f"Date: {date}"]
    total = 0.0
    for item in rng.sample(_ITEMS, 5):
        qty, price = rng.randint(1, 9), rng.randint(100, 9999) / 100
        total += qty * price
        lines.append(f"{qty} x {item} {qty * price:.2f}")
    lines += [f"TOTAL RM {total:.2f}", _sentence(rng, 5)]
    return lines


def _letter_lines(rng: random.Random) -> list[str]:
    reference = f"Reference {rng.choice(_WORDS).upper()}-{rng.randint(100, 999)}"
    return [reference] + [_sentence(rng, rng.randint(4, 7)) for _ in range(8)]


def _render(lines: list[str], rng: random.Random, font_size: int) -> bytes:
    font = ImageFont.load_default(size=font_size)
    spacing = int(font_size * 1.9)
    page = Image.new("L", (1000, 80 + spacing * len(lines)), 250)
    pen = ImageDraw.Draw(page)
    for number, line in enumerate(lines):
        pen.text((60 + rng.randint(0, 20), 40 + number * spacing), line, fill=rng.randint(10, 50), font=font)
    page = page.rotate(rng.uniform(-1.0, 1.0), resample=Image.BICUBIC, expand=True, fillcolor=250)
    page = page.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 0.7)))
    noise = np.random.default_rng(rng.randint(0, 2**31)).normal(0, 6, page.size[::-1])
    pixels = np.asarray(page, dtype=np.float32) + noise
    buffer = io.BytesIO()
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).convert("RGB").save(buffer, format="JPEG", quality=88)
    return buffer.getvalue()


def make_sample_pages(count: int = 4, seed: int = 0, font_size: int = 26) -> list[SamplePage]:
    """Render ``count`` pages, alternating receipts and letters; deterministic for a ``seed``."""
    rng = random.Random(seed)
    pages = []
    for number in range(count):
        kind = "receipt" if number % 2 == 0 else "letter"
        lines = _receipt_lines(rng) if kind == "receipt" else _letter_lines(rng)
        pages.append(SamplePage(f"sample_{number:03d}_{kind}.jpg", _render(lines, rng, font_size), tuple(lines)))
    return pages


def render_line_crops(count: int = 8, seed: int = 0, font_size: int = 26) -> list[np.ndarray]:
    """``count`` clean single-line images (RGB ``uint8``) of generated text, e.g. as a check set."""
    rng = random.Random(seed)
    font = ImageFont.load_default(size=font_size)
    crops = []
    for _ in range(count):
        line = _sentence(rng, rng.randint(2, 6))
        image = Image.new("RGB", (int(font.getlength(line)) + 16, int(font_size * 1.6)), "white")
        ImageDraw.Draw(image).text((8, font_size * 0.2), line, fill="black", font=font)
        crops.append(np.asarray(image))
    return crops


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
    letter = _letter_lines(random.Random(seed))
    digital, _ = born_digital_pdf([letter])
    merged = pikepdf.open(io.BytesIO(images_to_pdf([scanned.content])))
    merged.pages.extend(pikepdf.open(io.BytesIO(digital)).pages)
    buffer = io.BytesIO()
    merged.save(buffer)
    return buffer.getvalue(), [scanned.text, "\n".join(letter)]


# ------------------------------------------------------------------------------------------ scanned-style documents


def _image_xobject(pdf, data: bytes):
    """An image XObject for encoded ``data`` and the clockwise page rotation its EXIF orientation asks for."""
    import pikepdf

    with Image.open(io.BytesIO(data)) as image:
        size, mode, fmt = image.size, image.mode, image.format
        rotate = _ROTATE_FOR_EXIF.get(image.getexif().get(0x0112, 1), 0)
        extra = {}
        if fmt == "JPEG" and mode in ("L", "RGB", "CMYK"):
            extra = {"Filter": pikepdf.Name.DCTDecode, "BitsPerComponent": 8,
                     "ColorSpace": pikepdf.Name("/Device" + {"L": "Gray", "RGB": "RGB", "CMYK": "CMYK"}[mode])}
            if mode == "CMYK" and "adobe" in image.info:  # Adobe CMYK JPEGs are stored inverted
                extra["Decode"] = pikepdf.Array([1, 0] * 4)
        elif fmt == "JPEG2000":
            extra = {"Filter": pikepdf.Name.JPXDecode}
        else:
            pixels = to_8bit(ImageOps.exif_transpose(image))
            rotate, size, space = 0, pixels.size, "Gray" if pixels.mode == "L" else "RGB"
            data = zlib.compress(pixels.tobytes())
            extra = {"Filter": pikepdf.Name.FlateDecode, "BitsPerComponent": 8,
                     "ColorSpace": pikepdf.Name("/Device" + space)}
    stream = pikepdf.Stream(pdf, data, Type=pikepdf.Name.XObject, Subtype=pikepdf.Name.Image, Width=size[0],
                            Height=size[1], **extra)
    return stream, size, rotate


def images_to_pdf(images: list[bytes], dpi: float = 200) -> bytes:
    """A scanned-style PDF (no text layer): one page per encoded image, written with pikepdf.

    JPEG and JPEG 2000 bytes are embedded as they are (DCTDecode / JPXDecode, no recompression); other formats
    are decoded to 8-bit grey or RGB and stored losslessly (FlateDecode).  Each page is the image's size at
    ``dpi``; a JPEG's EXIF rotation becomes the page's /Rotate.

    Parameters
    ----------
    images : list of bytes
        Encoded images, one per page.
    dpi : float
        Resolution the images are placed at: a 1700-pixel-wide image at 200 dpi makes an 8.5-inch page.
    """
    import pikepdf

    if not images:
        raise ValueError("images_to_pdf needs at least one image")
    pdf = pikepdf.new()
    for data in images:
        xobject, (width, height), rotate = _image_xobject(pdf, bytes(data))
        width_pt, height_pt = width * 72 / dpi, height * 72 / dpi
        page = pdf.add_blank_page(page_size=(width_pt, height_pt))
        page.obj.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=xobject))
        page.obj.Contents = pdf.make_stream(f"q {width_pt:.4f} 0 0 {height_pt:.4f} 0 0 cm /Im0 Do Q".encode())
        if rotate:
            page.obj.Rotate = rotate
    out = io.BytesIO()
    pdf.save(out, stream_decode_level=pikepdf.StreamDecodeLevel.none)  # keep the image streams byte for byte
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
