"""dask_ocr.draw / display: draw_regions options and display_images, pixel by pixel on a synthetic image;
then detected regions drawn over a real page (marked ``data``)."""

from __future__ import annotations

import io

import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest
from PIL import Image

import dask_ocr
from dask_ocr.display import first_rows, images_html
from dask_ocr.schema import BINARY_DTYPE

from ocrdata import image_frame

WHITE = (255, 255, 255)
ROTATED = [[60, 20], [100, 40], [90, 60], [50, 40]]          # a quad tilted by about 27°


def frame(regions):
    buffer = io.BytesIO()
    Image.new("RGB", (160, 100), "white").save(buffer, format="PNG")
    return pd.DataFrame({"content": pd.Series([buffer.getvalue()], dtype=BINARY_DTYPE),
                         "regions": pd.Series([regions], dtype=object)})


def drawn(df, **options) -> np.ndarray:
    out = dask_ocr.draw_regions(df, output_col="png", **options)
    image = Image.open(io.BytesIO(out["png"].iloc[0]))
    assert image.format == "PNG" and image.size == (160, 100)
    return np.asarray(image.convert("RGB"))


def test_outline_filled_and_axis_aligned():
    df = frame([{"box": [10, 10, 40, 30]}, {"polygon": ROTATED}])
    outline = drawn(df, color="#0000ff", line_width=1)
    assert tuple(outline[10, 25]) == (0, 0, 255) and tuple(outline[20, 25]) == WHITE   # edge drawn, inside not
    assert tuple(outline[40, 75]) == WHITE                                              # centre of the quad
    assert tuple(outline[20, 50]) == WHITE                      # bounding-box corner of the quad: not drawn
    filled = drawn(df, color="#0000ff", filled=True)
    red, green, blue = filled[20, 25]
    assert red == green and 100 < red < 255 and blue == 255     # translucent blue over white
    boxes = drawn(df, color="#0000ff", line_width=1, rotated=False)
    assert tuple(boxes[20, 50]) == (0, 0, 255)                  # the quad's bounding box is drawn instead


def test_labels_from_scores_and_from_positions():
    plain = drawn(frame([{"box": [10, 40, 60, 60], "score": 0.87}]), color="black")
    scored = drawn(frame([{"box": [10, 40, 60, 60], "score": 0.87}]), color="black", label="score")
    above = (slice(20, 40), slice(10, 60))
    assert (plain[above] == 255).all() and (scored[above] < 255).any()
    words = [{"text": "TOTAL", "x": 10.0, "y": 40.0, "width": 50.0, "height": 20.0, "confidence": 0.9}]
    labelled = drawn(frame(words), color="black", label="text")
    assert (labelled[above] < 255).any()
    assert not np.array_equal(labelled[above], scored[above])   # "TOTAL" is not "0.90"


def test_bad_draw_arguments_fail_early():
    df = frame([[0, 0, 5, 5]])
    with pytest.raises(ValueError, match="colour"):
        dask_ocr.draw_regions(df, color="not-a-colour")
    with pytest.raises(ValueError, match="label"):
        dask_ocr.draw_regions(df, label="words")


def test_display_images_outside_jupyter_says_why(capsys):
    df = frame([[0, 0, 5, 5]])
    out = dask_ocr.draw_regions(pd.concat([df] * 3, ignore_index=True))
    assert dask_ocr.display_images(out, "image_with_regions", limit=2) is None    # shown once, not echoed
    printed = capsys.readouterr().out
    assert "only in Jupyter" in printed and "2 image(s)" in printed
    html = images_html(out["image_with_regions"].tolist()[:2], ["a", "b"])
    assert html.count("<img") == 2 and "display:grid" in html
    with pytest.raises(KeyError, match="nope"):
        dask_ocr.display_images(out, "nope")


def test_display_images_computes_only_the_first_rows():
    df = pd.concat([frame([[0, 0, 5, 5]])] * 5, ignore_index=True).assign(n=range(5))
    ddf = dd.from_pandas(df, npartitions=5)
    assert first_rows(ddf, 3)["n"].tolist() == [0, 1, 2] and first_rows(df, 2)["n"].tolist() == [0, 1]
    assert first_rows(ddf, 0).empty


@pytest.mark.data
def test_draw_regions_returns_png(sroie_pages):
    frame = image_frame(sroie_pages[:1]).ocr.detect()
    out = frame.ocr.draw_regions(color="blue", line_width=3)
    image = Image.open(io.BytesIO(out["image_with_regions"].iloc[0]))
    assert image.format == "PNG" and image.size == (sroie_pages[0]["width"], sroie_pages[0]["height"])
    assert images_html(out["image_with_regions"].tolist(), ["page"]).count("<img") == 1


def test_display_shows_small_jpeg_thumbnails_with_page_numbers():
    import base64
    import re

    from dask_ocr.display import _captions, thumbnail

    big = Image.new("RGB", (3000, 4000), "white")
    buffer = io.BytesIO()
    big.save(buffer, format="PNG")
    small = thumbnail(buffer.getvalue(), 320)
    with Image.open(io.BytesIO(small)) as decoded:
        assert decoded.format == "JPEG" and decoded.size == (640, 853)
    markup = images_html([buffer.getvalue(), b"not an image", None], ["a", "b", "c"])
    (encoded,) = re.findall(r"base64,([^\"]+)", markup)
    assert base64.b64decode(encoded) == small and len(markup) < 100_000
    assert "unreadable image" in markup and "no image" in markup
    head = pd.DataFrame({"path": ["doc.pdf", "doc.pdf", "x.png"], "page": pd.array([1, 2, None], dtype="Int32")})
    assert _captions(head, None) == ["doc.pdf, page 1", "doc.pdf, page 2", "x.png"]
