"""The ``tesseract`` engine: TSV parsing, batching many images per process, and real pages.

The integration tests need the ``tesseract`` program (``make test`` installs it where it can) and
../shared/data (marked ``data``).
"""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

import dask_ocr
from dask_ocr.decode import decode_image
from dask_ocr.metrics import bag_of_words, cer
from dask_ocr.models.tesseract import TesseractRecognizer, _line_regions, parse_tsv, tesseract_executable
from dask_ocr.schema import BINARY_DTYPE

from ocrdata import image_frame, line_crops, load_manifest

needs_tesseract = pytest.mark.skipif(shutil.which("tesseract") is None,
                                     reason="tesseract is not installed (apt-get install tesseract-ocr)")

# Measured today on a 2-core CPU with tesseract 5.3.0, by the calls below: SROIE line crops of
# 3 pages CER 11.7 %; 4 IAM lines CER 36.0 %; one FONDUE page word F1 0.905, page CER 5.4 %.
SROIE_CROPS_CER = 0.14
IAM_CER = 0.45
FONDUE_PAGE_F1 = 0.88

TSV = "\n".join([
    "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext",
    "1\t1\t0\t0\t0\t0\t0\t0\t200\t50\t-1\t",
    "4\t1\t1\t1\t1\t0\t10\t5\t120\t20\t-1\t",
    "5\t1\t1\t1\t1\t1\t10\t5\t50\t20\t96.5\tTOTAL",
    "5\t1\t1\t1\t1\t2\t70\t6\t60\t19\t88\t9.00",
    "5\t1\t1\t1\t1\t3\t140\t6\t5\t19\t95\t ",
    "5\t2\t1\t1\t1\t1\t3\t4\t30\t10\t-1\tx",
    "5\t3\t1\t2\t1\t1\t0\t0\t10\t10\t50\ty",
])


def test_parse_tsv_keeps_words_per_image():
    pages = parse_tsv(TSV)
    assert sorted(pages) == [0, 1, 2]
    assert [w["text"] for w in pages[0]] == ["TOTAL", "9.00"]  # the blank word is dropped
    assert pages[0][0] == {"line": (1, 1, 1), "box": (10, 5, 60, 25), "conf": pytest.approx(0.965), "text": "TOTAL"}
    assert pages[1][0]["conf"] == 0.0  # -1 (no confidence) becomes 0
    assert pages[2][0]["line"] == (1, 2, 1)


def test_line_regions_pad_and_clip():
    words = parse_tsv(TSV)[0] + [{"line": (2, 1, 1), "box": (0, 40, 30, 50), "conf": 0.5, "text": "a"}]
    first, second = _line_regions(words, padding=0.5, width=100, height=50)
    # line (1,1,1): words span x 10..130, y 5..25 (height 20) → grown by 10 px, clipped to 100 x 50
    assert first.box == (0.0, 0.0, 100.0, 35.0)
    assert first.score == pytest.approx((0.965 + 0.88) / 2)
    assert second.box == (0.0, 35.0, 35.0, 50.0)


def test_missing_program_and_gpu_are_refused():
    with pytest.raises(FileNotFoundError, match="apt-get install tesseract-ocr"):
        tesseract_executable("no-such-tesseract-program")
    if shutil.which("tesseract"):
        with pytest.raises(ValueError, match="CPU only"):
            TesseractRecognizer(use_gpu=True)


@pytest.mark.data
@needs_tesseract
def test_one_process_per_batch_reads_as_one_per_image():
    images, _ = line_crops(load_manifest("sroie", 1), margin=4)
    crops = [decode_image(image) for image in images[:6]]
    recognizer = TesseractRecognizer()
    batched = recognizer.recognize(crops, batch_size=6)
    alone = [recognizer.recognize([crop], batch_size=1)[0] for crop in crops]
    assert [r.text for r in batched] == [r.text for r in alone]
    assert all(r.text for r in batched) and all(0 <= r.confidence <= 1 for r in batched)
    assert max(r.confidence for r in batched) > 0.5


@pytest.mark.data
@needs_tesseract
def test_line_crops_through_the_pipeline():
    crops, texts = line_crops(load_manifest("sroie", 3), margin=4)
    frame = pd.DataFrame({"content": pd.Series(crops, dtype=BINARY_DTYPE)})
    out = frame.ocr.recognize(model="tesseract", regions_col=None)
    assert out["ocr_error"].isna().all()
    assert cer(texts, out["text"].tolist(), ignore_case=True) <= SROIE_CROPS_CER
    # Handwriting reads with low word confidences; the engine's default min_confidence (0) keeps them.
    iam = load_manifest("iam_lines", 4)
    out = image_frame(iam).ocr.recognize(model="tesseract", regions_col=None)
    assert out["text"].str.len().gt(0).all()
    assert cer([r["text"] for r in iam], out["text"].tolist()) <= IAM_CER


@pytest.mark.data
@needs_tesseract
def test_page_detection_and_recognition():
    pages = load_manifest("fondue_en_print", 1)
    out = image_frame(pages).ocr.detect(model="tesseract").ocr.recognize(model="tesseract", line_tolerance=0)
    regions = out["regions"].iloc[0]
    assert len(regions) >= 20
    for region in regions:
        x0, y0, x1, y1 = region["box"]
        assert 0 <= x0 < x1 <= pages[0]["width"] and 0 <= y0 < y1 <= pages[0]["height"]
    assert bag_of_words(pages[0]["text"], out["text"].iloc[0]).f1 >= FONDUE_PAGE_F1
    assert np.isfinite(out["text_confidence"].iloc[0])
    assert "tesseract" in dask_ocr.available_models()
