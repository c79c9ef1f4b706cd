"""Bytes in, RGB arrays out: robust decoding of one image cell.

:func:`decode_image` turns one cell into an ``(H, W, 3)`` uint8 array or raises
:class:`~dask_ocr.errors.ImageDecodeError` with a message a user can act on.  :func:`to_8bit` is the one rule
by which every image the package reads or writes becomes 8-bit grey or RGB, and :func:`is_missing` the one test
for a null cell.  Pure: what a worker needs, with no pandas, dask or model imports (building Dask collections
is :mod:`dask_ocr.readers`).
"""

from __future__ import annotations

import io
import math
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .defaults import MAX_PIXELS
from .errors import ImageDecodeError

__all__ = ["decode_image", "is_missing", "to_8bit"]

_SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N")
_WIDE_MODES = ("I", "F")  # 32-bit integer and float samples
_GREY_MODES = ("1", "L", "LA", "La", *_SIXTEEN_BIT_MODES, *_WIDE_MODES)
_ALPHA_MODES = ("RGBA", "LA", "PA", "La", "RGBa")
_WHITE = (255, 255, 255, 255)


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
    if is_missing(data):
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
    image = to_8bit(image)
    if image.mode != "RGB":
        image = image.convert("RGB")
    return np.ascontiguousarray(np.asarray(image, dtype=np.uint8))


def is_missing(value) -> bool:
    """Whether a cell is missing: None, NaN, NaT or pandas' NA (told apart without importing pandas).

    Lists, arrays, bytes and strings never are, whatever they hold.
    """
    if value is None:
        return True
    if isinstance(value, (float, np.floating)):
        return math.isnan(value)
    if isinstance(value, (np.datetime64, np.timedelta64)):
        return bool(np.isnat(value))
    return type(value).__name__ in ("NAType", "NaTType")


def to_8bit(image: Image.Image) -> Image.Image:
    """``image`` as 8-bit grey (``L``) or colour (``RGB``); ``image`` itself when it is one already.

    Grey modes (1-bit, 16-bit, 32-bit integer and float, with or without alpha) become ``L``, every other
    mode (palette, CMYK, ...) ``RGB``.  16-bit samples are scaled from their full range (``round(v / 257)``:
    65535 is 255); 32-bit integer and float samples are stretched from their lowest to their highest finite
    value, and non-finite ones read as background (the highest), not as ink.  Transparency (an alpha band, or
    the transparent entry of a palette or colour key) is composited onto white.

    Raises
    ------
    ImageDecodeError
        A 32-bit integer or float image without one finite sample.
    """
    grey = image.mode in _GREY_MODES
    if image.mode in _SIXTEEN_BIT_MODES or image.mode in _WIDE_MODES:
        return Image.fromarray(_scaled(image), "L")
    if image.mode in _ALPHA_MODES or "transparency" in image.info:
        rgba = image.convert("RGBA")
        flat = Image.alpha_composite(Image.new("RGBA", rgba.size, _WHITE), rgba)
        return flat.convert("L" if grey else "RGB")
    if image.mode in ("L", "RGB"):
        return image
    return image.convert("L" if grey else "RGB")


def _scaled(image: Image.Image) -> np.ndarray:
    """The samples of a 16-bit, 32-bit integer or float image as ``uint8`` (see :func:`to_8bit`)."""
    values = np.asarray(image, dtype=np.float64)
    if image.mode in _SIXTEEN_BIT_MODES:
        low, high = 0.0, 65535.0
    else:
        finite = np.isfinite(values)
        if not finite.any():
            raise ImageDecodeError(f"image has no finite pixel values ({image.mode} mode, all NaN or infinite)")
        low, high = float(values[finite].min()), float(values[finite].max())
        values = np.where(finite, values, high)  # missing samples read as background, not as ink
    scaled = (values - low) * (255.0 / (high - low)) if high > low else np.zeros_like(values)
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
