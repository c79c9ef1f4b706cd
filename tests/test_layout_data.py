"""Line grouping and word grouping (``group_images``) on real pages of ../shared/data."""

from __future__ import annotations

import pandas as pd
import pytest

from dask_ocr.datasets import region_texts
from dask_ocr.layout import group_lines
from dask_ocr.metrics import cer, same_line_counts
from dask_ocr.schema import REGIONS_DTYPE

from ocrdata import image_frame, load_manifest

# Word CER on the manifest word boxes of FUNSD pages 0-2 (measured 2026-11-24: 2.32 % one crop per
# word, 2.32 % grouped, with different errors); the bounds leave room for onnxruntime differences.
WORD_CER = 0.030
GROUPED_WORD_CER = 0.030


@pytest.mark.parametrize("dataset", ["sroie", "funsd"])
def test_estimated_tolerance_groups_lines_as_well_as_any_fixed_one(dataset):
    records = load_manifest(dataset, 12)

    def same_line_f1(tolerance):
        tp = fp = fn = 0
        for record in records:
            boxes = [r["box"] for r in record["regions"]]
            counts = same_line_counts(boxes, group_lines(boxes, tolerance))
            tp, fp, fn = tp + counts[0], fp + counts[1], fn + counts[2]
        return 2 * tp / (2 * tp + fp + fn)

    estimated = same_line_f1(0)
    assert estimated > 0.98
    assert estimated >= max(same_line_f1(t) for t in (5, 10, 15, 20, 30))


@pytest.fixture(scope="module")
def funsd_words():
    records = load_manifest("funsd", 3)
    frame = image_frame(records).assign(regions=pd.Series(
        [[{"box": r["box"], "polygon": None, "score": 1.0} for r in record["regions"]] for record in records],
        dtype=REGIONS_DTYPE))
    return records, frame


@pytest.mark.parametrize("group_images, bound", [(False, WORD_CER), (True, GROUPED_WORD_CER)])
def test_word_boxes_read_alone_or_grouped(funsd_words, group_images, bound):
    records, frame = funsd_words
    out = frame.ocr.recognize(positions_col="positions", min_confidence=0.0, group_images=group_images)
    references = [r["text"] for record in records for r in record["regions"]]
    hypotheses = [text for cell, record in zip(out["positions"], records)
                  for text in region_texts(cell, len(record["regions"]))]
    assert sum(map(bool, hypotheses)) > 0.97 * len(references)          # words are not lost to the split
    assert cer(references, hypotheses) <= bound
