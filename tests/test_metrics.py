"""dask_ocr.metrics: edit distance, CER / WER and bag-of-words scores, hand-computed."""

from __future__ import annotations

import pytest

from dask_ocr.metrics import bag_of_words, cer, edit_distance, normalize_text, same_line_counts, wer


def test_edit_distance_hand_computed():
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance("", "abc") == 3
    assert edit_distance(["a", "b"], ["a", "b"]) == 0


def test_normalize_collapses_whitespace_and_case():
    assert normalize_text("  TOTAL :\n 9.00  ") == "TOTAL : 9.00"
    assert normalize_text("AbC", ignore_case=True) == "abc"
    assert normalize_text(None) == ""


def test_cer_pools_over_items():
    # 1 edit over 4 chars + 2 edits over 6 chars = 3 / 10
    assert cer(["abcd", "abcdef"], ["abxd", "abcd"]) == pytest.approx(0.3)
    assert cer("HELLO  world", "hello world", ignore_case=True) == 0.0


def test_wer_and_bag_of_words():
    assert wer("the cat sat", "the bat sat") == pytest.approx(1 / 3)
    scores = bag_of_words(["a b b c", "d"], ["b a x", "d d"])
    # matches: {a, b} + {d} = 3; predicted 3 + 2 = 5; expected 4 + 1 = 5
    assert (scores.matched, scores.predicted, scores.expected) == (3, 5, 5)
    assert scores.precision == pytest.approx(0.6) and scores.f1 == pytest.approx(0.6)


def test_mismatched_inputs_are_rejected():
    with pytest.raises(ValueError):
        cer(["a"], ["a", "b"])
    with pytest.raises(TypeError):
        cer("a", ["a"])


def test_same_line_counts_pairs_of_boxes():
    boxes = [[0, 0, 10, 10], [20, 1, 30, 11], [0, 30, 10, 40]]      # a and b share a line; c is below
    assert same_line_counts(boxes, [[0, 1], [2]]) == (1, 0, 0)
    assert same_line_counts(boxes, [[0], [1, 2]]) == (0, 1, 1)        # b joined to c, split from a
