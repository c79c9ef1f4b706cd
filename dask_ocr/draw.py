"""Draw regions over an image and encode the result as PNG."""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageColor, ImageDraw, ImageFont

from .geometry import Region

__all__ = ["draw_regions_png"]

FILL_OPACITY = 0.35


def draw_regions_png(image: np.ndarray, regions: Sequence[Region], color: str = "red", line_width: int = 2,
                     filled: bool = False, rotated: bool = True, labels: Sequence[str] | None = None,
                     font_size: int = 12) -> bytes:
    """Draw regions on a copy of ``image`` (RGB ``uint8``) and return PNG bytes.

    Parameters
    ----------
    regions : sequence of Region
        In image pixels.
    color : str
        Any Pillow colour (name, ``#rrggbb``, ``rgb(...)``).
    line_width : int
        Outline width in pixels.
    filled : bool
        Fill each region with a translucent ``color`` (the text stays readable) under the outline.
    rotated : bool
        Draw each region's polygon; ``False`` draws its axis-aligned box.
    labels : sequence of str, optional
        A label per region, written above its top-left corner on a ``color`` background.
    font_size : int
        Label size in pixels.
    """
    canvas = Image.fromarray(image).convert("RGBA")
    overlay = Image.new("RGBA", canvas.size, (0, 0, 0, 0))
    pen = ImageDraw.Draw(overlay)
    rgb = ImageColor.getrgb(color)[:3]
    shapes = [[tuple(p) for p in r.polygon.tolist()] if rotated else
              [(r.box[0], r.box[1]), (r.box[2], r.box[1]), (r.box[2], r.box[3]), (r.box[0], r.box[3])]
              for r in regions]
    for shape in shapes:
        fill = (*rgb, round(255 * FILL_OPACITY)) if filled else None
        pen.polygon(shape, fill=fill, outline=(*rgb, 255), width=line_width)
    if labels is not None:
        font = ImageFont.load_default(size=font_size)
        text_colour = (0, 0, 0, 255) if sum(rgb) > 382 else (255, 255, 255, 255)
        for region, label in zip(regions, labels, strict=True):
            if not label:
                continue
            x0, y0 = region.box[0], max(0.0, region.box[1] - font_size - 2)
            pen.rectangle(pen.textbbox((x0, y0), label, font=font), fill=(*rgb, 220))
            pen.text((x0, y0), label, fill=text_colour, font=font)
    buffer = io.BytesIO()
    Image.alpha_composite(canvas, overlay).convert("RGB").save(buffer, format="PNG")
    return buffer.getvalue()
