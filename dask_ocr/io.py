"""Bytes in, RGB arrays out: robust decoding of one image cell.

:func:`decode_image` turns one cell into an ``(H, W, 3)`` uint8 array or raises
:class:`~dask_ocr.errors.ImageDecodeError` with a message a user can act on.  Pure: what a worker
needs, with no pandas, dask or model imports (building Dask collections is :mod:`dask_ocr.readers`).
"""

from __future__ import annotations

import io
import math
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .defaults import MAX_PIXELS
from .errors import ImageDecodeError

__all__ = ["decode_image"]

_HIGH_DEPTH_MODES = {"I;16", "I;16B", "I;16L", "I;16N", "I", "F"}


def decode_image(data, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Decode encoded image bytes to an ``(H, W, 3)`` RGB ``uint8`` array.

    EXIF orientation is applied; palette, grey, CMYK, 16-bit and float images are converted;
    transparency is composited onto white.  Multi-frame files give their first frame.

    Parameters
    ----------
    data : bytes, bytearray, memoryview or None
        The encoded file content.
    max_pixels : int
        Images with more pixels than this are refused before decoding (decompression bombs).

    Raises
    ------
    ImageDecodeError
        Empty, missing, unrecognised, truncated or oversized input.
    """
    if _is_null(data):
        raise ImageDecodeError("image is missing (null cell)")
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ImageDecodeError(f"image cell must hold bytes, got {type(data).__name__}")
    if len(data) == 0:
        raise ImageDecodeError("image is empty (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            width, height = image.size
            if width * height > max_pixels:
                raise ImageDecodeError(
                    f"image is {width}x{height} = {width * height:,} pixels, above the limit of "
                    f"{max_pixels:,} (raise max_pixels to accept it)")
            image.load()
    except ImageDecodeError:
        raise
    except UnidentifiedImageError:
        raise ImageDecodeError(
            f"not a recognised image format ({len(data)} bytes, starting {bytes(data[:8])!r})") from None
    except Image.DecompressionBombError as exc:
        raise ImageDecodeError(f"image refused as a decompression bomb: {exc}") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageDecodeError(f"image data is corrupt or truncated: {exc}") from None
    if width < 1 or height < 1:
        raise ImageDecodeError(f"image has no pixels ({width}x{height})")
    ImageOps.exif_transpose(image, in_place=True)  # in place: no copy of an upright page
    return _to_rgb(image)


def _is_null(value) -> bool:
    """None, NaN, or a pandas missing-value marker (without importing pandas)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return True
    return type(value).__name__ in ("NAType", "NaTType")


def _to_rgb(image: Image.Image) -> np.ndarray:
    if image.mode in _HIGH_DEPTH_MODES:
        values = np.asarray(image, dtype=np.float64)
        finite = np.isfinite(values)
        if not finite.any():
            raise ImageDecodeError(f"image has no finite pixel values ({image.mode} mode, all NaN or infinite)")
        low, high = float(values[finite].min()), float(values[finite].max())
        if image.mode.startswith("I;16"):
            low, high = 0.0, 65535.0
        values = np.where(finite, values, high)  # missing samples read as background, not as ink
        scaled = (values - low) * (255.0 / (high - low)) if high > low else np.zeros_like(values)
        grey = np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    if image.mode == "P" and "transparency" in image.info or image.mode in ("RGBA", "LA", "PA", "La", "RGBa"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    if image.mode != "RGB":
        image = image.convert("RGB")
    return np.ascontiguousarray(np.asarray(image, dtype=np.uint8))
