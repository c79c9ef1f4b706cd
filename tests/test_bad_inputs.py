"""Bad rows keep their place, get nulls and a readable ocr_error; good rows are unaffected."""

from __future__ import annotations

import io

import dask.dataframe as dd
import pandas as pd
import pytest
from PIL import Image

import dask_ocr
from dask_ocr.metrics import cer
from dask_ocr.samples import make_sample_pages
from dask_ocr.schema import BINARY_DTYPE


@pytest.fixture(scope="module")
def page():
    return make_sample_pages(1, seed=5)[0]


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def mixed(page):
    good = page.content
    rows = [
        ("good", good),
        ("empty", b""),
        ("null", None),
        ("not_image", b"<html>definitely not an image</html>"),
        ("truncated", good[: len(good) // 3]),
        ("tiny", png(Image.new("RGB", (1, 1), "white"))),
        ("good_again", good),
        ("huge", png(Image.new("L", (3000, 3000), 255))),
    ]
    return pd.DataFrame({"name": [r[0] for r in rows], "content": pd.Series([r[1] for r in rows], dtype=BINARY_DTYPE)})


EXPECTED_ERRORS = {"empty": "empty", "null": "missing", "not_image": "not a recognised image",
                   "truncated": "truncated", "huge": "above the limit"}


def check(out: pd.DataFrame, page) -> None:
    assert out["name"].tolist() == ["good", "empty", "null", "not_image", "truncated", "tiny", "good_again", "huge"]
    for name, error, text in zip(out["name"], out["ocr_error"], out["text"]):
        if name in EXPECTED_ERRORS:
            assert EXPECTED_ERRORS[name] in error and pd.isna(text), (name, error)
        else:
            assert pd.isna(error), (name, error)
    assert out.loc[out.name == "tiny", "text"].iloc[0] == ""
    for name in ("good", "good_again"):
        assert cer(page.text, out.loc[out.name == name, "text"].iloc[0]) <= 0.02


def test_bad_rows_in_pandas(mixed, page):
    check(mixed.ocr.detect(max_pixels=5_000_000).ocr.recognize(max_pixels=5_000_000), page)


def test_bad_rows_in_dask(mixed, page):
    ddf = dd.from_pandas(mixed, npartitions=3)
    out = ddf.ocr.detect(max_pixels=5_000_000).ocr.recognize(max_pixels=5_000_000).compute(scheduler="threads")
    check(out.reset_index(drop=True), page)


def test_bad_regions(page):
    width, height = Image.open(io.BytesIO(page.content)).size
    single = pd.DataFrame({"content": pd.Series([page.content], dtype=BINARY_DTYPE)})
    detected = list(single.ocr.detect()["regions"].iloc[0])
    cells = [
        detected,                                               # fine
        [],                                                     # nothing to read: empty text, no error
        None,                                                   # null cell
        [{"box": [5, 5, 1, 1]}],                                # inverted box
        [{"polygon": [[0, 0], [float("nan"), 1], [2, 2]]}],     # NaN coordinates
        [{"box": [width + 10, 0, width + 50, 40]}, *detected],  # one outside the image
        [{"box": [10, 10, 10, 50]}],                            # zero width
        "not a list",
    ]
    frame = pd.DataFrame({"content": pd.Series([page.content] * len(cells), dtype=BINARY_DTYPE), "regions": cells})
    out = frame.ocr.recognize()
    errors, texts = out["ocr_error"].tolist(), out["text"].tolist()
    assert pd.isna(errors[0]) and cer(page.text, texts[0]) <= 0.05
    assert pd.isna(errors[1]) and texts[1] == ""
    assert "null" in errors[2] and pd.isna(texts[2])
    assert "x0 <= x1" in errors[3] and pd.isna(texts[3])
    assert "finite" in errors[4]
    assert f"skipped 1 of {len(detected) + 1} regions" in errors[5] and texts[5] == texts[0]
    assert "skipped 1 of 1" in errors[6] and texts[6] == ""
    assert "must be a list" in errors[7] and pd.isna(texts[7])


def test_errors_from_detect_pass_through_recognize(mixed):
    out = mixed.ocr.detect().ocr.recognize()
    assert out.loc[out.name == "not_image", "ocr_error"].iloc[0].startswith("not a recognised")


def test_argument_errors_are_raised_eagerly(mixed):
    ddf = dd.from_pandas(mixed.assign(regions=[[[0, 0, 5, 5]]] * len(mixed)), npartitions=2)
    with pytest.raises(TypeError, match="REGIONS_DTYPE"):  # dask turned the list column into strings
        ddf.ocr.recognize()
    with pytest.raises(TypeError, match="binary"):
        ddf.assign(content=ddf["name"]).ocr.detect()
    with pytest.raises(KeyError, match="nope"):
        ddf.ocr.detect(image_col="nope")
    with pytest.raises(dask_ocr.ModelNotFoundError, match="unknown model 'no-such-model'.*ppocr"):
        ddf.ocr.detect(model="no-such-model")
    with pytest.raises(ValueError, match="output_format"):
        mixed.ocr.recognize(regions_col=None, output_format="pdf")
    with pytest.raises(ValueError, match="batch_size"):
        mixed.ocr.recognize(regions_col=None, batch_size=0)


def test_plain_pandas_object_bytes_column(page):
    frame = pd.DataFrame({"content": [page.content, b""]})  # object dtype, Python bytes
    out = frame.ocr.detect().ocr.recognize()
    assert cer(page.text, out["text"].iloc[0]) <= 0.02 and "empty" in out["ocr_error"].iloc[1]
