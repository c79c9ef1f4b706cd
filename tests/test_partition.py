"""dask_ocr.partition: the partition functions, their meta, and row isolation.

Bad rows keep their place, get nulls and a readable ocr_error; good rows are unaffected.  The
partition functions themselves run on an instant fake model; the bad-input rows on ``ppocr``.
"""

from __future__ import annotations

import io

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from dask_ocr import partition as part
from dask_ocr.cluster import models as model_cache
from dask_ocr.cluster.models import ModelKey
from dask_ocr.metrics import cer
from dask_ocr.models.base import Recognition
from dask_ocr.models.registry import resolve_model
from dask_ocr.schema import BINARY_DTYPE, POSITIONS_DTYPE, REGIONS_DTYPE
from dask_ocr.synthetic import make_sample_pages

from ocrdata import line_frame, png


@pytest.fixture(scope="module")
def page():
    return make_sample_pages(1, seed=5)[0]


def png_of(image: Image.Image) -> bytes:
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
        ("tiny", png_of(Image.new("RGB", (1, 1), "white"))),
        ("good_again", good),
        ("huge", png_of(Image.new("L", (3000, 3000), 255))),
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
    out = mixed[mixed.name != "huge"].ocr.detect().ocr.recognize()          # (the huge page only costs time)
    assert out.loc[out.name == "not_image", "ocr_error"].iloc[0].startswith("not a recognised")


class FailingRecognizer:
    """Raises on batches of more than one crop (``flaky``) or always."""

    def __init__(self, always: bool):
        self.always, self.calls = always, 0

    def recognize(self, crops, batch_size, decoding=None):
        self.calls += 1
        if self.always or len(crops) > 1:
            raise RuntimeError("model exploded")
        return [Recognition("ok", 0.99) for _ in crops]


@pytest.mark.parametrize("always", [False, True])
def test_a_failing_model_call_is_retried_then_marks_rows(monkeypatch, always):
    frame = line_frame(6)
    model = FailingRecognizer(always)
    monkeypatch.setattr(model_cache, "get_model", lambda key: model)
    with dask.config.set(scheduler="threads"):
        out = dd.from_pandas(frame, npartitions=2).ocr.recognize(regions_col=None).compute()
    assert len(out) == 6 and model.calls > 2                      # the batch failed, then row by row
    if always:
        assert out["text"].isna().all() and out["ocr_error"].str.contains("model exploded").all()
    else:
        assert (out["text"] == "ok").all() and out["ocr_error"].isna().all()


# --------------------------------------------------------------------------------------------- on a fake model

PPOCR = resolve_model("ppocr")
DETECT = part.DetectConfig(image_col="content", output_col="regions", model=ModelKey(PPOCR, "detect"))
WHOLE = part.RecognizeConfig(image_col="content", regions_col=None, output_col="text", confidence_col="conf",
                             model=ModelKey(PPOCR, "recognize"), min_confidence=0.0)


def frame_of(*sizes, errors=None) -> pd.DataFrame:
    """Blank images of the given (width, height), with an ``ocr_error`` column if given."""
    index = [10 + i for i in range(len(sizes))]                      # not 0..n-1: outputs must align to it
    frame = pd.DataFrame({"content": pd.Series([png(np.full((h, w, 3), 255, np.uint8)) for w, h in sizes],
                                               dtype=BINARY_DTYPE, index=index)})
    return frame if errors is None else frame.assign(ocr_error=pd.Series(errors, index=index, dtype=object))


def test_detect_then_recognize_partition_values(fake):
    frame = frame_of((40, 30), (9, 4))
    detected = part.detect_partition(frame, DETECT)
    assert [list(cell) for cell in detected["regions"]] == [
        [{"box": [0, 0, 20, 30], "polygon": [[0.0, 0.0], [20.0, 0.0], [20.0, 30.0], [0.0, 30.0]], "score": 0.75}],
        [{"box": [0, 0, 4, 4], "polygon": [[0.0, 0.0], [4.0, 0.0], [4.0, 4.0], [0.0, 4.0]], "score": 0.75}]]
    config = part.RecognizeConfig(image_col="content", regions_col="regions", output_col="text",
                                  confidence_col="conf", model=ModelKey(PPOCR, "recognize"), positions_col="words")
    out = part.recognize_partition(detected, config)
    assert out.index.tolist() == [10, 11] and out["text"].tolist() == ["w20h30", "w4h4"]
    assert out["conf"].tolist() == [0.9, 0.9] and out["ocr_error"].isna().all()
    assert out["words"].iloc[0][0]["text"] == "w20h30" and out["words"].iloc[0][0]["width"] == 20
    assert fake.recognize_calls == 1                               # the crops of all rows in one call
    assert part.recognize_partition(frame, WHOLE)["text"].tolist() == ["w40h30", "w9h4"]


def test_meta_is_what_the_partitions_return(fake):
    frame = frame_of((40, 30))
    config = part.RecognizeConfig(image_col="content", regions_col=None, output_col="text", confidence_col="conf",
                                  model=ModelKey(PPOCR, "recognize"), positions_col="words")
    for function, cfg in [(part.detect_partition, DETECT), (part.recognize_partition, config)]:
        out, meta = function(frame, cfg), part.output_meta(frame.iloc[:0], cfg)
        assert list(out.columns) == list(meta.columns) and (out.dtypes == meta.dtypes).all()
    assert config.columns()["words"] == POSITIONS_DTYPE and DETECT.columns()["regions"] == REGIONS_DTYPE
    assert list(config.columns()) == ["text", "conf", "text_dropped", "words", "ocr_error"]  # the error column last


def test_an_empty_partition_loads_no_model(monkeypatch):
    def no_model(key):
        raise AssertionError("no model for an empty partition")

    monkeypatch.setattr(model_cache, "get_model", no_model)
    empty = frame_of()
    for function, config in [(part.detect_partition, DETECT), (part.recognize_partition, WHOLE)]:
        out = function(empty, config)
        assert out.empty and list(out.columns) == list(part.output_meta(empty, config).columns)


def test_rows_that_failed_earlier_pass_through(fake):
    frame = frame_of((40, 30), (20, 10), (30, 10), (10, 10), errors=["cannot read x.png", None, "", 0])
    out = part.recognize_partition(frame, WHOLE)
    assert out["ocr_error"].tolist()[0] == "cannot read x.png" and pd.isna(out["text"].iloc[0])
    assert out["text"].tolist()[1:] == ["w20h10", "w30h10", "w10h10"]    # only non-empty strings mark a row
    assert out["ocr_error"].iloc[1:].isna().all()


def test_a_row_whose_crops_fail_is_isolated(fake, monkeypatch):
    frame = frame_of((40, 30), (20, 10))
    frame = frame.assign(regions=pd.Series([[{"box": [0, 0, 10, 10]}]] * 2, dtype=REGIONS_DTYPE, index=frame.index))
    real_crop = part.crop_region

    def crop(image, region, border_width=0):
        if image.shape[1] == 20:
            raise MemoryError("no room for this crop")
        return real_crop(image, region, border_width)

    monkeypatch.setattr(part, "crop_region", crop)
    config = part.RecognizeConfig(image_col="content", regions_col="regions", output_col="text",
                                  confidence_col="conf", model=ModelKey(PPOCR, "recognize"))
    out = part.recognize_partition(frame, config)
    assert out["text"].tolist()[0] == "w10h10" and pd.isna(out["text"].iloc[1])
    assert out["ocr_error"].tolist()[1] == "MemoryError: no room for this crop"


@pytest.mark.parametrize("stage, target", [
    ("decoding", "dask_ocr.partition.decode_image"),
    ("parsing regions", "dask_ocr.partition.parse_region"),
    ("cropping", "dask_ocr.partition.crop_region"),
    ("layout", "dask_ocr.partition.build_page"),
])
def test_a_failure_at_any_stage_marks_only_its_row(fake, monkeypatch, stage, target):
    frame = line_frame(3).assign(regions=pd.Series([[{"box": [0, 0, 20, 10]}]] * 3, dtype=REGIONS_DTYPE))
    module, name = target.rsplit(".", 1)
    original = getattr(part, name)
    calls = {"n": 0}

    def fails_on_the_second_row(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError(f"{stage} exploded")
        return original(*args, **kwargs)

    monkeypatch.setattr(part, name, fails_on_the_second_row)
    out = part.recognize_partition(frame, part.RecognizeConfig(
        image_col="content", regions_col="regions", output_col="text", confidence_col="text_confidence",
        model=ModelKey(resolve_model("ppocr", "recognize"), "recognize"), min_confidence=0.0))
    assert len(out) == 3 and f"{stage} exploded" in out["ocr_error"].iloc[1]
    assert out["ocr_error"].iloc[[0, 2]].isna().all() and out["text"].iloc[[0, 2]].notna().all()


def test_malformed_score_and_a_users_own_error_column(fake):
    frame = line_frame(2).assign(regions=pd.Series(
        [[{"box": [0, 0, 20, 10], "score": "high"}], [{"box": [0, 0, 20, 10], "score": 0.9}]], dtype=object))
    frame["ocr_error"] = 0                                                  # a user's column of the same name
    config = part.RecognizeConfig(image_col="content", regions_col="regions", output_col="text",
                                  confidence_col="text_confidence",
                                  model=ModelKey(resolve_model("ppocr", "recognize"), "recognize"), min_confidence=0.0)
    out = part.recognize_partition(frame, config)
    assert "malformed region" in out["ocr_error"].iloc[0] or "score" in out["ocr_error"].iloc[0]
    assert pd.isna(out["ocr_error"].iloc[1]) and out["text"].iloc[1] is not None


def test_regions_left_out_of_the_text_are_counted():
    from PIL import ImageDraw, ImageFont

    image = Image.new("RGB", (400, 120), "white")
    pen = ImageDraw.Draw(image)
    pen.text((10, 10), "TOTAL 12.50", fill="black", font=ImageFont.load_default(size=28))
    frame = pd.DataFrame({"content": pd.Series([png_of(image)], dtype=BINARY_DTYPE),
                          "regions": pd.Series([[{"box": [5, 5, 220, 50]}, {"box": [250, 60, 390, 115]}]],
                                               dtype=REGIONS_DTYPE)})
    out = frame.ocr.recognize()                                             # the second region is blank paper
    assert out["text"].iloc[0].startswith("TOTAL") and out["text_dropped"].iloc[0] == 1
