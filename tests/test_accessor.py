"""dask_ocr.accessor: argument validation, positional arguments, meta without computing, and pandas and
Dask giving the same frame.  Most tests run an instant fake model; the last ones ``ppocr``."""

from __future__ import annotations

import os
import subprocess
import sys

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest

import dask_ocr
from dask_ocr.cluster import models as model_cache
from dask_ocr.metrics import cer
from dask_ocr.schema import BINARY_DTYPE, REGIONS_DTYPE, STRING_DTYPE
from dask_ocr.synthetic import make_sample_pages

from ocrdata import image_frame, png


def blank_frame(*sizes) -> pd.DataFrame:
    return pd.DataFrame({"name": pd.Series([f"img{i}" for i in range(len(sizes))], dtype=STRING_DTYPE),
                         "content": pd.Series([png(np.full((h, w, 3), 250, np.uint8)) for w, h in sizes],
                                              dtype=BINARY_DTYPE)})


SIZES = [(40, 30), (9, 4), (64, 20), (100, 50), (33, 11), (8, 8), (70, 12)]


def no_compute(*args, **kwargs):
    raise AssertionError("building the graph computed something")


@pytest.mark.parametrize("lazy", [False, True])
def test_methods_take_positional_arguments(fake, lazy):
    frame = blank_frame(*SIZES[:3])
    df = dd.from_pandas(frame, npartitions=2) if lazy else frame
    with dask.config.set(scheduler="sync"):
        detected = df.ocr.detect("content")                               # image_col
        by_name = df.ocr.detect(image_col="content")
        whole = df.ocr.recognize("content", None)                        # image_col, regions_col
        results = [x.compute() if lazy else x for x in (detected, by_name, whole)]
    pd.testing.assert_frame_equal(results[0], results[1])
    assert results[2]["text"].tolist() == ["w40h30", "w9h4", "w64h20"]
    assert dask_ocr.recognize(frame, "content", None)["text"].tolist() == ["w40h30", "w9h4", "w64h20"]
    regions = results[0].ocr.recognize("content", "regions", "words")                # ... output_col
    assert regions["words"].tolist() == ["w20h30", "w4h4", "w32h20"] and "words_confidence" in regions.columns


def test_meta_is_built_without_computing_or_loading_a_model(monkeypatch):
    def no_model(key):
        raise AssertionError("a model was loaded to build the graph")

    monkeypatch.setattr(model_cache, "get_model", no_model)
    ddf = dd.from_pandas(blank_frame(*SIZES), npartitions=3)
    with dask.config.set(scheduler=no_compute):
        detected = ddf.ocr.detect()
        out = detected.ocr.recognize(positions_col="positions").ocr.draw_regions()
    assert list(out.columns) == ["name", "content", "regions", "ocr_error", "text", "text_confidence", "text_dropped",
                                 "positions", "image_with_regions"]
    assert str(out.dtypes["regions"]) == str(REGIONS_DTYPE) and out.npartitions == 3
    assert str(out.dtypes["image_with_regions"]) == "binary[pyarrow]"


def test_dask_meta_matches_what_is_computed(fake):
    ddf = dd.from_pandas(blank_frame(*SIZES), npartitions=3)
    out = ddf.ocr.detect().ocr.recognize(positions_col="positions", output_format="hocr")
    computed = out.compute(scheduler="sync")
    assert list(computed.columns) == list(out._meta.columns)
    assert computed.dtypes.astype(str).tolist() == out._meta.dtypes.astype(str).tolist()


def test_pandas_and_dask_agree_on_any_partitioning(fake):
    frame = blank_frame(*SIZES)
    expected = frame.ocr.detect().ocr.recognize(batch_size=2)
    for npartitions, batch_size in [(1, 32), (3, 1), (7, 4)]:
        ddf = dd.from_pandas(frame, npartitions=npartitions)
        got = ddf.ocr.detect().ocr.recognize(batch_size=batch_size).compute(scheduler="threads")
        pd.testing.assert_frame_equal(got, expected)
    assert expected["text"].tolist() == [f"w{max(1, w // 2)}h{h}" for w, h in SIZES]


def test_model_threads_follow_the_frame_type(fake):
    frame = blank_frame((10, 10))
    frame.ocr.recognize(regions_col=None)
    dd.from_pandas(frame, npartitions=1).ocr.recognize(regions_col=None).compute(scheduler="sync")
    frame.ocr.recognize(regions_col=None, task_parallelism=3)
    assert [key.threads for key in fake.keys] == [os.cpu_count() or 1, 1, 3]    # pandas: the whole machine
    assert {(key.spec.name, key.task, key.use_gpu) for key in fake.keys} == {("ppocr", "recognize", None)}
    with pytest.raises(ValueError, match="task_parallelism"):
        frame.ocr.recognize(regions_col=None, task_parallelism=0)


def test_argument_errors_are_raised_eagerly():
    mixed = blank_frame((10, 10), (10, 10))
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


def test_bad_format_and_column_arguments_fail_early():
    frame = blank_frame((10, 10)).assign(regions=pd.Series([[]], dtype=REGIONS_DTYPE))
    with pytest.raises(ValueError, match="output_format"):
        frame.ocr.recognize(output_format="pdf")
    with pytest.raises(ValueError, match="must differ"):
        frame.ocr.recognize(positions_col="text")
    with pytest.raises(ValueError, match="max_image_ratio"):
        frame.ocr.recognize(group_images=True, max_image_ratio=0)
    with pytest.raises(ValueError, match=">= 0"):
        frame.ocr.recognize(line_tolerance=-1)
    with pytest.raises(KeyError, match="call .ocr.detect"):
        blank_frame((10, 10)).ocr.recognize()
    with pytest.raises(KeyError, match="read_images"):
        pd.DataFrame({"path": ["a.png"]}).ocr.detect()


def test_a_positions_format_fills_the_default_column(fake):
    out = blank_frame((40, 30)).ocr.recognize(regions_col=None, output_format="positions")
    assert out["text"].tolist() == ["w40h30"] and out["positions"].iloc[0][0]["text"] == "w40h30"


# --------------------------------------------------------------------------------------------- with ppocr


def test_plain_pandas_object_bytes_column():
    page = make_sample_pages(1, seed=5)[0]
    frame = pd.DataFrame({"content": [page.content, b""]})  # object dtype, Python bytes
    out = frame.ocr.detect().ocr.recognize()
    assert cer(page.text, out["text"].iloc[0]) <= 0.02 and "empty" in out["ocr_error"].iloc[1]


def ocr_pages(frame: pd.DataFrame, **kwargs) -> pd.DataFrame:
    return frame.ocr.detect().ocr.recognize(**kwargs)


@pytest.mark.data
def test_pandas_and_dask_agree_whatever_the_partitioning(sroie_pages):
    frame = image_frame(sroie_pages[:4])
    expected = ocr_pages(frame, batch_size=7)
    for npartitions, batch_size in [(1, 32), (4, 3)]:
        got = dd.from_pandas(frame, npartitions=npartitions).ocr.detect().ocr.recognize(batch_size=batch_size)
        got = got.compute(scheduler="threads")
        pd.testing.assert_frame_equal(got.reset_index(drop=True), expected.reset_index(drop=True))


def test_missing_columns_say_what_to_do():
    frame = pd.DataFrame({"content": pd.Series([b"x"], dtype=BINARY_DTYPE)})
    with pytest.raises(KeyError, match=r"call \.ocr\.detect\(\) first.*regions_col=None"):
        frame.ocr.recognize()
    with pytest.raises(KeyError, match="read_images"):
        pd.DataFrame({"path": ["a.jpg"]}).ocr.detect()


def test_a_reload_registers_the_accessor_again_silently():
    code = ("import importlib, warnings\n"
            "import pandas as pd, dask_ocr, dask_ocr.accessor as accessor\n"
            "warnings.simplefilter('error')\n"
            "accessor = importlib.reload(accessor)\n"
            "accessor.register_accessors()\n"
            "assert pd.DataFrame.ocr is accessor.OcrAccessor\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr


def test_another_packages_ocr_accessor_is_not_replaced_silently(monkeypatch):
    from dask_ocr.accessor import OcrAccessor, register_accessors

    class ForeignAccessor:  # e.g. another library's ``DataFrame.ocr``
        def __init__(self, frame):
            self.frame = frame

    for frame in (pd.DataFrame, dd.DataFrame):
        monkeypatch.setattr(frame, "ocr", ForeignAccessor)
    with pytest.warns(UserWarning, match="registration of accessor") as caught:
        register_accessors()
    assert len(caught) == 2 and pd.DataFrame.ocr is OcrAccessor and dd.DataFrame.ocr is OcrAccessor
