"""dask_ocr.io.decode_image: every kind of cell in, an RGB uint8 array or a readable ImageDecodeError out."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from dask_ocr.errors import ImageDecodeError
from dask_ocr.io import decode_image


def encode(image: Image.Image, fmt: str = "PNG", **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def gradient(width=40, height=30) -> Image.Image:
    x = np.linspace(0, 255, width, dtype=np.uint8)
    return Image.fromarray(np.stack([np.tile(x, (height, 1))] * 3, axis=2))


@pytest.mark.parametrize("data, message", [
    (None, "missing"), (float("nan"), "missing"), (b"", "empty"), (b"%PDF-1.4 not an image", "not a recognised"),
    ("a string", "must hold bytes"),
])
def test_unusable_cells_raise_readable_errors(data, message):
    with pytest.raises(ImageDecodeError, match=message):
        decode_image(data)


def test_truncated_jpeg_and_png():
    for fmt in ("JPEG", "PNG"):
        data = encode(gradient(400, 300), fmt)
        with pytest.raises(ImageDecodeError, match="corrupt or truncated"):
            decode_image(data[: len(data) // 2])


def test_decompression_bomb_is_refused_before_decoding():
    data = encode(Image.new("L", (2000, 2000), 255))
    with pytest.raises(ImageDecodeError, match="above the limit"):
        decode_image(data, max_pixels=1_000_000)
    assert decode_image(data).shape == (2000, 2000, 3)


def test_one_pixel_image():
    assert decode_image(encode(Image.new("RGB", (1, 1), (1, 2, 3)))).tolist() == [[[1, 2, 3]]]


def test_sixteen_bit_grey_is_scaled_not_clipped():
    values = np.array([[0, 32768, 65535]], dtype=np.uint16)
    decoded = decode_image(encode(Image.fromarray(values)))
    assert Image.open(io.BytesIO(encode(Image.fromarray(values)))).mode.startswith("I")
    assert decoded[0, :, 0].tolist() == [0, 128, 255]


def test_cmyk_palette_and_alpha_become_rgb():
    cmyk = decode_image(encode(Image.new("CMYK", (4, 4), (0, 0, 0, 0)), "JPEG"))
    assert cmyk.shape == (4, 4, 3) and cmyk.min() > 240  # no ink = white
    palette = Image.new("P", (4, 4), 1)
    palette.putpalette([0, 0, 0, 200, 10, 20] + [0] * 762)
    assert decode_image(encode(palette))[0, 0].tolist() == [200, 10, 20]
    transparent = decode_image(encode(Image.new("RGBA", (4, 4), (0, 0, 0, 0))))
    assert transparent[0, 0].tolist() == [255, 255, 255]  # composited onto white


def test_exif_orientation_is_applied():
    image = gradient(40, 30)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    decoded = decode_image(encode(image, "JPEG", exif=exif.tobytes()))
    assert decoded.shape == (40, 30, 3)



def test_pandas_missing_markers_and_buffer_types():
    import pandas as pd

    for missing in (pd.NA, pd.NaT):
        with pytest.raises(ImageDecodeError, match="missing"):
            decode_image(missing)
    data = encode(Image.new("RGB", (3, 2), (9, 8, 7)))
    for cell in (bytearray(data), memoryview(data)):
        assert decode_image(cell).tolist() == [[[9, 8, 7]] * 3] * 2



def test_float_image_with_nan_pixels():
    values = np.full((20, 30), 200, np.float32)
    values[5:10, 5:20] = 10
    values[0, 0] = np.nan
    buffer = io.BytesIO()
    Image.fromarray(values, mode="F").save(buffer, format="TIFF")
    decoded = decode_image(buffer.getvalue())
    assert decoded[6, 6].tolist() == [0, 0, 0] and decoded[0, 0].tolist() == [255, 255, 255]   # NaN: background
    values[:] = np.nan
    buffer = io.BytesIO()
    Image.fromarray(values, mode="F").save(buffer, format="TIFF")
    with pytest.raises(ImageDecodeError, match="no finite pixel"):
        decode_image(buffer.getvalue())
