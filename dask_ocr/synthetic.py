"""Synthetic scanned-looking pages and line crops, drawn by this package from text composed here.

Every page is rendered with Pillow's bundled font, then slightly rotated, blurred, sprinkled with noise and
JPEG-compressed, so the demo, the tests and the int8 detector's calibration need no third-party images.  The
ground truth is exactly the text drawn, line by line.  Pure: numpy and Pillow only (documents made of these pages
are :mod:`dask_ocr.samples`).
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

__all__ = ["SamplePage", "make_sample_pages", "render_line_crops", "letter_lines"]

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


def letter_lines(rng: random.Random) -> list[str]:
    """The lines of a generated letter: a reference, then eight sentences."""
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
        lines = _receipt_lines(rng) if kind == "receipt" else letter_lines(rng)
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
