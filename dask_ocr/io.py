"""Bytes in, RGB arrays out: file listing, partitioned reading and robust image decoding.

Nothing here imports pandas-specific OCR logic; :func:`read_images` only builds the Dask
collection of raw bytes, and :func:`decode_image` turns one cell into an ``(H, W, 3)`` uint8 array
or raises :class:`~dask_ocr.errors.ImageDecodeError` with a message a user can act on.
"""

from __future__ import annotations

import io
import math
import os
import warnings
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import ImageDecodeError

__all__ = ["DEFAULT_MAX_PIXELS", "decode_image", "read_images", "list_files"]

#: Default decompression-bomb guard.  Pillow itself refuses anything above ~179 MP.
DEFAULT_MAX_PIXELS = 150_000_000

_HIGH_DEPTH_MODES = {"I;16", "I;16B", "I;16L", "I;16N", "I", "F"}


def decode_image(data, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
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
    return _to_rgb(ImageOps.exif_transpose(image))


def _is_null(value) -> bool:
    """None, NaN, or a pandas missing-value marker (without importing pandas)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return True
    return type(value).__name__ in ("NAType", "NaTType")


def _to_rgb(image: Image.Image) -> np.ndarray:
    if image.mode in _HIGH_DEPTH_MODES:
        values = np.asarray(image, dtype=np.float64)
        low, high = float(values.min()), float(values.max())
        if image.mode.startswith("I;16"):
            low, high = 0.0, 65535.0
        scaled = (values - low) * (255.0 / (high - low)) if high > low else np.zeros_like(values)
        grey = np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    if image.mode == "P" and "transparency" in image.info or image.mode in ("RGBA", "LA", "PA", "La", "RGBa"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    return np.ascontiguousarray(np.asarray(image.convert("RGB"), dtype=np.uint8))


def list_files(paths: str | Sequence[str], storage_options: dict | None = None):
    """Expand local paths, globs and fsspec URLs to ``(filesystem, sorted list of paths)``."""
    import fsspec.core

    if isinstance(paths, (str, os.PathLike)):
        paths = [os.fspath(paths)]
    paths = [os.fspath(p) for p in paths]
    if not paths:
        raise ValueError("read_images needs at least one path or glob")
    fs, _, found = fsspec.core.get_fs_token_paths(paths, mode="rb", storage_options=storage_options or {})
    found = [p for p in found if not fs.isdir(p)]
    if not found:
        raise FileNotFoundError(f"no files match {paths!r}")
    return fs, sorted(dict.fromkeys(found))


def _default_files_per_partition(n_files: int) -> int:
    """Files per partition for :func:`dask_ocr.distributed.default_partition_count` partitions, 1..64."""
    from .distributed import default_partition_count

    return max(1, min(64, math.ceil(n_files / default_partition_count())))


def read_images(paths, files_per_partition: int | None = None, storage_options: dict | None = None):
    """Read image files into a Dask DataFrame with columns ``path`` and ``content``.

    Parameters
    ----------
    paths : str, path or list of them
        Local paths, globs (``"scans/**/*.jpg"``) or fsspec URLs (``"s3://bucket/*.png"``).
    files_per_partition : int, optional
        Files per partition.  The default follows the Visual NLP advice for the current client
        (3 partitions per worker thread on CPU, 2 per GPU worker) or, without one, 3 per local
        core; at most 64 files each, so a partition's decoded pages fit in memory.
    storage_options : dict, optional
        Passed to fsspec (credentials, endpoint, ...).

    Returns
    -------
    dask.dataframe.DataFrame
        ``path`` (string) and ``content`` (Arrow ``binary``) columns, one row per file, in sorted
        path order.  A file that cannot be read gets a null ``content`` cell, which the ``ocr``
        methods report in ``ocr_error``.
    """
    import dask.dataframe as dd

    fs, files = list_files(paths, storage_options)
    per_partition = files_per_partition or _default_files_per_partition(len(files))
    if per_partition < 1:
        raise ValueError(f"files_per_partition must be >= 1, got {per_partition}")
    chunks = [files[i:i + per_partition] for i in range(0, len(files), per_partition)]
    return dd.from_map(_ReadFiles(fs), chunks, meta=_files_frame([], []), enforce_metadata=False)


class _ReadFiles:
    """Picklable partition reader: a list of paths → a pandas frame of bytes."""

    def __init__(self, fs):
        self.fs = fs

    def __call__(self, paths: list[str]):
        from fsspec.implementations.local import LocalFileSystem

        contents = []
        for path in paths:
            try:
                contents.append(self.fs.cat_file(path))
            except OSError:
                contents.append(None)
        local = isinstance(self.fs, LocalFileSystem)
        names = [p if local else self.fs.unstrip_protocol(p) for p in paths]
        return _files_frame(names, contents)


def _files_frame(paths: list[str], contents: list):
    import pandas as pd
    import pyarrow as pa

    return pd.DataFrame({
        "path": pd.array(paths, dtype=pd.ArrowDtype(pa.string())),
        "content": pd.array(pa.array(contents, type=pa.binary()), dtype=pd.ArrowDtype(pa.binary())),
    })
