import pytest

from dask_ocr.batching import padded_width, plan_batches, run_batched
from dask_ocr.formats import render_text
from dask_ocr.layout import estimate_line_tolerance, group_lines


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

    assert run_batched(items, widths, 8, call) == ["A", "BB", "C", "DD", "EEE"]
    assert [w for w, _ in seen] == [1, 2, 3]


def test_group_lines_reading_order():
    boxes = [[200, 12, 260, 30], [10, 10, 100, 30], [10, 50, 90, 70], [120, 52, 180, 71]]
    assert group_lines(boxes, line_tolerance=15) == [[1, 0], [2, 3]]
    assert group_lines(boxes, line_tolerance=0) == [[1, 0], [2, 3]]
    assert group_lines(boxes, line_tolerance=100) == [[1, 2, 3, 0]]
    assert group_lines([]) == []


def test_estimate_line_tolerance_is_half_the_median_height():
    assert estimate_line_tolerance([10, 20, 30]) == 10
    assert estimate_line_tolerance([]) == 1.0


def test_render_text_drops_empty_pieces():
    assert render_text([["TOTAL", "", "9.00"], [""], ["THANK", "YOU"]]) == "TOTAL 9.00\nTHANK YOU"
