"""dask_ocr.decode.decode_image: every kind of cell in, an RGB uint8 array or a readable ImageDecodeError out."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from dask_ocr.decode import decode_image, is_missing, to_8bit
from dask_ocr.errors import ImageDecodeError


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


#: 16-bit samples and what the one rule makes of them (round(v / 257)): 200 would be 0 floored, 25900 100.
SIXTEEN_BIT = np.tile(np.array([[0, 200, 25900, 65535]], dtype=np.uint16), (8, 2))    # 8 x 8 pixels
EIGHT_BIT = [0, 1, 101, 255] * 2


def test_sixteen_bit_rule():
    image = Image.fromarray(SIXTEEN_BIT)
    assert image.mode.startswith("I;16")
    grey = to_8bit(image)
    assert grey.mode == "L" and np.asarray(grey)[0].tolist() == EIGHT_BIT
    wide = Image.fromarray(np.array([[-5, 0, 5]], dtype=np.int32), "I")     # 32-bit: stretched, lowest to highest
    assert np.asarray(to_8bit(wide)).ravel().tolist() == [0, 128, 255]


def test_every_mode_becomes_grey_or_rgb():
    palette = Image.new("P", (2, 1), 1)
    palette.putpalette([0, 0, 0, 200, 10, 20] + [0] * 762)
    transparent_palette = palette.copy()
    transparent_palette.info["transparency"] = 1
    grey_alpha = Image.new("LA", (2, 1), (40, 255))
    grey_alpha.putpixel((1, 0), (40, 0))
    rgba = Image.new("RGBA", (1, 1), (0, 0, 0, 128))
    cmyk = Image.new("CMYK", (2, 1), (0, 0, 0, 0))
    cmyk.putpixel((1, 0), (0, 0, 0, 255))
    bilevel = Image.new("1", (2, 1), 0)
    bilevel.putpixel((1, 0), 1)
    cases = [(palette, "RGB", [[200, 10, 20]] * 2), (transparent_palette, "RGB", [[255, 255, 255]] * 2),
             (grey_alpha, "L", [[40], [255]]), (rgba, "RGB", [[127, 127, 127]]),
             (cmyk, "RGB", [[255] * 3, [0] * 3]), (bilevel, "L", [[0], [255]])]
    for image, mode, pixels in cases:
        out = to_8bit(image)
        assert (out.mode, np.asarray(out).reshape(len(pixels), -1).tolist()) == (mode, pixels), image.mode
    for ready in (Image.new("L", (1, 1)), Image.new("RGB", (1, 1))):
        assert to_8bit(ready) is ready


def test_one_sixteen_bit_rule_wherever_images_are_read_or_written():
    """Decoding, rendering a TIFF page, the sample writers and the searchable-PDF writer agree."""
    import pikepdf

    from dask_ocr.documents import render_page
    from dask_ocr.samples import images_to_pdf, images_to_tiff
    from dask_ocr.sinks.pdf_writer import PdfPage, write_searchable_pdf

    png, tiff = encode(Image.fromarray(SIXTEEN_BIT)), encode(Image.fromarray(SIXTEEN_BIT), "TIFF")

    def pdf_pixels(data: bytes) -> list[int]:
        with pikepdf.open(io.BytesIO(data)) as pdf:
            (image,) = pdf.pages[0].get_images().values()
            return np.asarray(pikepdf.PdfImage(image).as_pil_image().convert("L"))[0].tolist()

    searchable = io.BytesIO()
    write_searchable_pdf([PdfPage(png, 8, 8, 72)], searchable)
    assert decode_image(png)[0, :, 0].tolist() == EIGHT_BIT
    assert decode_image(render_page(tiff, "tiff", 0).content)[0, :, 0].tolist() == EIGHT_BIT
    assert decode_image(images_to_tiff([png]))[0, :, 0].tolist() == EIGHT_BIT
    assert pdf_pixels(images_to_pdf([png], dpi=72)) == EIGHT_BIT
    assert pdf_pixels(searchable.getvalue()) == EIGHT_BIT


@pytest.mark.parametrize("cell", [None, float("nan"), np.float32("nan"), np.datetime64("NaT"), "pd.NA", "pd.NaT"])
def test_missing_cells(cell):
    import pandas as pd

    cell = {"pd.NA": pd.NA, "pd.NaT": pd.NaT}.get(cell, cell) if isinstance(cell, str) else cell
    assert is_missing(cell)


@pytest.mark.parametrize("cell", [0, 0.0, "", b"", [], [None], np.array([np.nan]), np.float64(1.5), {"a": None}])
def test_present_cells(cell):
    assert not is_missing(cell)
