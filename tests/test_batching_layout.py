import numpy as np
import pytest

from dask_ocr.batching import padded_width, plan_batches, run_batched
from dask_ocr.geometry import join_crops, sub_quad
from dask_ocr.layout import estimate_line_tolerance, group_lines, plan_groups, region_words, split_reading
from dask_ocr.models.base import Recognition


def test_padded_width_depends_only_on_the_item():
    assert padded_width(10, 64, 320) == 320
    assert padded_width(321, 64, 320) == 384
    assert padded_width(384, 64, 320) == 384


def test_plan_batches_groups_equal_widths_and_covers_everything():
    widths = [320, 384, 320, 320, 448, 384, 320]
    batches = plan_batches(widths, batch_size=2)
    flat = sorted(i for b in batches for i in b)
    assert flat == list(range(len(widths)))
    assert all(len({widths[i] for i in b}) == 1 and len(b) <= 2 for b in batches)
    with pytest.raises(ValueError):
        plan_batches(widths, 0)


def test_run_batched_restores_input_order():
    items = ["a", "bb", "c", "dd", "eee"]
    widths = [len(s) for s in items]
    seen = []

    def call(batch, width):
        seen.append((width, batch))
        return [s.upper() for s in batch]

    assert run_batched(items, 8, call, shapes=widths) == ["A", "BB", "C", "DD", "EEE"]
    assert [w for w, _ in seen] == [1, 2, 3]


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


QUAD = np.array([[100, 10], [300, 10], [300, 30], [100, 30]], dtype=float)


def test_sub_quad_takes_a_slice_of_the_width():
    assert sub_quad(QUAD, 0.25, 0.5).tolist() == [[150, 10], [200, 10], [200, 30], [150, 30]]


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


def test_join_crops_places_segments_at_one_height():
    small = np.zeros((10, 20, 3), np.uint8)
    tall = np.full((20, 20, 3), 255, np.uint8)
    joined, segments = join_crops([small, tall], gap=1.0)
    assert joined.shape == (20, 40 + 20 + 20, 3)               # small doubled to 40 wide, gap 20
    assert segments == [(0.0, 0.5), (0.75, 1.0)]
    assert (joined[:, 40:60] == 0).all()                        # the gap takes the left crop's background


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
