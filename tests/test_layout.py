"""dask_ocr.layout: lines, reading order, words placed on the image, and word grouping.

Hand-built regions and readings first; then line grouping and ``group_images`` on real pages of
../shared/data (marked ``data``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dask_ocr.datasets import region_texts
from dask_ocr.geometry import Region
from dask_ocr.layout import (
    Page,
    build_page,
    estimate_line_tolerance,
    group_lines,
    line_box,
    plan_groups,
    region_words,
    split_reading,
)
from dask_ocr.metrics import cer, same_line_counts
from dask_ocr.models.base import Recognition
from dask_ocr.schema import REGIONS_DTYPE

from ocrdata import image_frame, load_manifest

# Word CER on the manifest word boxes of FUNSD pages 0-2 (measured 2026-11-24: 2.32 % one crop per
# word, 2.32 % grouped, with different errors); the bounds leave room for onnxruntime differences.
WORD_CER = 0.030
GROUPED_WORD_CER = 0.030

QUAD = np.array([[100, 10], [300, 10], [300, 30], [100, 30]], dtype=float)


def test_group_lines_reading_order():
    boxes = [[200, 12, 260, 30], [10, 10, 100, 30], [10, 50, 90, 70], [120, 52, 180, 71]]
    assert group_lines(boxes, line_tolerance=15) == [[1, 0], [2, 3]]
    assert group_lines(boxes, line_tolerance=0) == [[1, 0], [2, 3]]
    assert group_lines(boxes, line_tolerance=100) == [[1, 2, 3, 0]]
    assert group_lines([]) == []


def test_estimate_line_tolerance_scales_the_median_height():
    assert estimate_line_tolerance([10, 20, 30]) == 12
    assert estimate_line_tolerance([10, 20, 30], fraction=0.5) == 10
    assert estimate_line_tolerance([]) == 1.0


def test_region_words_place_words_by_character_spans():
    spans = ((0.0, 0.1), (0.1, 0.2), (0.2, 0.5), (0.5, 0.8), (0.8, 1.0))
    reading = Recognition("ab cd", 0.9, spans, (0.9, 0.8, 0.5, 0.7, 0.6))
    first, second = region_words(reading, QUAD, region=3, width=1000, height=1000)
    assert (first.text, first.box, first.region) == ("ab", (100, 10, 140, 30), 3)
    assert (second.text, second.box) == ("cd", (200, 10, 300, 30))
    assert first.confidence == (0.9 + 0.8) / 2 and [c.text for c in second.chars] == ["c", "d"]
    assert second.chars[1].quad[:, 0].min() == 260


def test_region_words_without_positions_split_by_character_count_and_clip():
    first, second = region_words(Recognition("abc d", 0.7), QUAD, region=0, width=250, height=1000)
    assert first.box == (100, 10, 220, 30) and first.chars == ()
    assert second.box == (250, 10, 250, 30)                  # clipped to the 250-pixel-wide image


def test_plan_groups_respects_the_ratio_and_lines():
    lines = [[0, 1, 2, 3], [4]]
    aspects = [3, 3, 3, 20, 2]
    assert plan_groups(lines, aspects, max_image_ratio=10, gap=1) == [[0, 1], [2], [3], [4]]
    assert plan_groups(lines, aspects, max_image_ratio=100, gap=1) == [[0, 1, 2, 3], [4]]


def test_split_reading_shares_characters_out_by_position():
    spans = ((0.0, 0.2), (0.2, 0.46), (0.46, 0.56), (0.56, 0.8), (0.8, 1.0))
    reading = Recognition("ab:cd", 0.9, spans, (0.9, 0.8, 0.3, 0.7, 0.6))
    left, right = split_reading(reading, [(0.0, 0.4), (0.6, 1.0)])
    assert (left.text, right.text) == ("ab", ":cd")             # ":" (centre 0.51) is nearer the right
    assert left.char_spans == ((0.0, 0.5), (0.5, 1.0))
    assert right.confidence == (0.3 + 0.7 + 0.6) / 3


def test_split_reading_without_positions():
    assert [r.text for r in split_reading(Recognition("ab cd", 0.9), [(0, 0.4), (0.6, 1)])] == ["ab", "cd"]
    assert [r.text for r in split_reading(Recognition("abcd", 0.9), [(0, 0.4), (0.6, 1)])] == ["abcd", ""]


def box_region(x0, y0, x1, y1) -> Region:
    return Region(np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=float))


def test_group_lines_rejects_a_negative_tolerance_and_uses_given_heights():
    boxes = [[0, 0, 50, 100], [60, 30, 110, 130]]               # tall boxes (rotated regions) 30 px apart
    assert group_lines(boxes, 0) == [[0, 1]]                    # estimated from box heights: 60 px
    assert group_lines(boxes, 0, heights=[20, 20]) == [[0], [1]]    # from the text heights: 12 px
    with pytest.raises(ValueError, match="line_tolerance"):
        group_lines(boxes, -1)


def test_build_page_orders_lines_and_tags_words_with_their_input_ids():
    regions = [box_region(200, 12, 260, 30), box_region(10, 10, 100, 30), box_region(10, 50, 90, 70)]
    readings = [Recognition("9.00", 0.8), Recognition("TOTAL due", 0.9), Recognition("CASH", 0.7)]
    quads = [np.asarray(r.polygon, dtype=float) for r in regions]
    page = build_page(regions, quads, readings, [7, 3, 5], 15, 300, 100)
    assert (page.width, page.height) == (300, 100)
    assert [[w.text for w in line] for line in page.lines] == [["TOTAL", "due", "9.00"], ["CASH"]]
    assert [w.region for w in page.words] == [3, 3, 7, 5]
    assert page.words[0].box == (10, 10, 60, 30) and page.words[1].box == (70, 10, 100, 30)   # by char count
    assert line_box(page.lines[0]) == (10, 10, 260, 30)
    assert page.words[0].confidence == pytest.approx(0.9) and page.words[0].chars == ()
    assert build_page([], [], [], [], 15, 10, 10) == Page(10, 10, ())


def test_region_words_without_chars_keeps_the_word_boxes():
    spans = ((0.0, 0.5), (0.5, 1.0))
    word, = region_words(Recognition("ab", 0.9, spans, (0.8, 1.0)), QUAD, 0, 1000, 1000, with_chars=False)
    assert word.chars == () and word.box == (100, 10, 300, 30) and word.confidence == pytest.approx(0.9)
    assert region_words(Recognition("   ", 0.9), QUAD, 0, 1000, 1000) == []


# --------------------------------------------------------------------------------------------- real pages


@pytest.mark.data
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


@pytest.mark.data
@pytest.mark.parametrize("group_images, bound", [(False, WORD_CER), (True, GROUPED_WORD_CER)])
def test_word_boxes_read_alone_or_grouped(funsd_words, group_images, bound):
    records, frame = funsd_words
    out = frame.ocr.recognize(positions_col="positions", min_confidence=0.0, group_images=group_images)
    references = [r["text"] for record in records for r in record["regions"]]
    hypotheses = [text for cell, record in zip(out["positions"], records)
                  for text in region_texts(cell, len(record["regions"]))]
    assert sum(map(bool, hypotheses)) > 0.97 * len(references)          # words are not lost to the split
    assert cer(references, hypotheses) <= bound
