"""Draw regions over an image and encode the result as PNG."""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw

from .geometry import Region

__all__ = ["draw_regions_png"]


def draw_regions_png(image: np.ndarray, regions: Sequence[Region], color: str = "red", line_width: int = 2) -> bytes:
    """Outline each region's polygon on a copy of ``image`` (RGB ``uint8``); return PNG bytes."""
    canvas = Image.fromarray(image)
    pen = ImageDraw.Draw(canvas)
    for region in regions:
        pen.polygon([tuple(p) for p in region.polygon.tolist()], outline=color, width=line_width)
    buffer = io.BytesIO()
    canvas.save(buffer, format="PNG")
    return buffer.getvalue()
