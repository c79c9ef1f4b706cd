"""dask_ocr.models.ppocr: CTC decoding, character spans, detection sizes, the Latin charset."""

from __future__ import annotations

import numpy as np
import pytest

from dask_ocr.decode import decode_image
from dask_ocr.geometry import crop_region, parse_region
from dask_ocr.models.ppocr import PPOCRRecognizer, ctc_decode, detection_size, latin_character
from dask_ocr.models.registry import resolve_model
from dask_ocr.synthetic import render_line_crops

from ocrdata import load_manifest

CHARS = ["<blank>", "a", "b", ":", " "]


def one_hot(indices, confidence=0.9):
    probabilities = np.full((len(indices), len(CHARS)), (1 - confidence) / (len(CHARS) - 1))
    probabilities[np.arange(len(indices)), indices] = confidence
    return probabilities


def test_ctc_collapses_repeats_and_drops_blanks():
    result = ctc_decode(one_hot([1, 1, 0, 1, 2, 2, 0, 0]), CHARS)
    assert result.text == "aab" and result.confidence == pytest.approx(0.9)
    assert ctc_decode(one_hot([0, 0, 0]), CHARS).text == ""


def test_space_boost_recovers_a_weak_space():
    probabilities = one_hot([1, 0, 3, 0, 2])
    probabilities[1] = [0.5, 0.0, 0.0, 0.0, 0.3]   # blank narrowly beats space between 'a' and ':'
    assert ctc_decode(probabilities, CHARS).text == "a:b"
    boosted = ctc_decode(probabilities, CHARS, space_boost=2.0)
    assert boosted.text == "a :b"
    assert boosted.confidence == pytest.approx((0.9 + 0.3 + 0.9 + 0.9) / 4)  # unboosted probabilities


def test_detection_size():
    assert detection_size(1013, 463) == (1600, 736)          # short side raised to 736
    assert detection_size(4000, 3000) == (1984, 1504)        # long side brought to 2000
    height, width = detection_size(59, 1)                    # a 1-pixel strip stays bounded
    assert height <= 4000 and width % 32 == 0 and height % 32 == 0


def test_ctc_character_spans_follow_the_time_steps():
    # 8 steps over a crop: 'a' at step 1, 'b' at step 5 (step width 1/8 of the crop)
    result = ctc_decode(one_hot([0, 1, 0, 0, 4, 2, 0, 0]), CHARS, step_width=1 / 8)
    assert result.text == "a b"
    # centres at 1.5/8, 4.5/8, 5.5/8; neighbours meet half way; outer edges mirror the inner ones
    assert np.array(result.char_spans) == pytest.approx(np.array([[0, 0.375], [0.375, 0.625], [0.625, 0.75]]))
    assert all(0 <= start < end <= 1 for start, end in result.char_spans)
    assert result.char_confidences == pytest.approx((0.9, 0.9, 0.9))
    assert ctc_decode(one_hot([1]), CHARS, step_width=1.0).char_spans == ((0.0, 1.0),)
    assert ctc_decode(one_hot([1, 2]), CHARS).char_spans is None        # no step width, no positions


def test_latin_character_classes():
    assert all(latin_character(c) for c in "aZ09:;@€£%é")
    assert not any(latin_character(c) for c in "物出门，（")


@pytest.mark.data
def test_latin_charset_reads_cjk_lines_as_latin_only():
    # SROIE receipt 000, lines 39-40: Chinese text (transcribed "***"); the whole dictionary reads it as Chinese.
    record = load_manifest("sroie", 1)[0]
    image = decode_image(record["content"])
    crops = [crop_region(image, parse_region({"box": record["regions"][i]["box"]}), 2) for i in (39, 40)]
    whole = PPOCRRecognizer(charset=None).recognize(crops)
    latin = PPOCRRecognizer().recognize(crops)
    assert all(any(not latin_character(c) for c in r.text) for r in whole)
    assert all(latin_character(c) for r in latin for c in r.text)
    assert resolve_model("ppocr_multilingual").recognizer_options == (("charset", None),)
    with pytest.raises(ValueError, match="charset"):
        PPOCRRecognizer(charset="greek")



def test_recognizer_reads_clean_lines_in_input_order_whatever_the_batch():
    crops = render_line_crops(6, seed=4)
    recognizer = PPOCRRecognizer()
    together = recognizer.recognize(crops, 32)
    alone = [recognizer.recognize([crop], 1)[0] for crop in crops]
    assert [r.text for r in together] == [r.text for r in alone]
    assert [r.confidence for r in together] == pytest.approx([r.confidence for r in alone], abs=1e-5)
    assert all(r.text and r.confidence > 0.8 for r in together)
    for reading in together:                               # one span and one confidence per character
        assert len(reading.char_spans) == len(reading.char_confidences) == len(reading.text)
    assert recognizer.recognize([], 8) == []


def test_tall_crops_are_also_read_turned():
    line = render_line_crops(1, seed=4)[0]
    recognizer = PPOCRRecognizer()
    upright = recognizer.recognize([line], 1)[0]
    vertical = recognizer.recognize([np.ascontiguousarray(np.rot90(line, -1))], 1)[0]   # text runs down the crop
    assert vertical.text == upright.text and vertical.char_spans is None


def test_db_boxes_are_rapidocrs_box_for_box():
    """dask_ocr's DB post-processing against the one RapidOCR ships, on the detector's maps of generated pages and
    on noisy blobs: the same boxes and scores."""
    from rapidocr.ch_ppocr_det.utils import DBPostProcess as Theirs

    from dask_ocr.models.db_boxes import DBPostProcess as Ours
    from dask_ocr.models.ppocr import PPOCRDetector, _padded_canvas
    from dask_ocr.synthetic import make_sample_pages

    detector = PPOCRDetector()
    maps = []
    for page in make_sample_pages(3, seed=4):
        canvas, _ = _padded_canvas(decode_image(page.content))
        size = detection_size(*canvas.shape[:2])
        maps.append((detector._probabilities([(canvas, 0)], size)[0], canvas.shape[:2]))
    rng = np.random.default_rng(0)
    for _ in range(20):
        blobs = np.zeros((1, 1, 160, 224), dtype=np.float32)
        for _ in range(12):
            y, x, h, w = rng.integers(0, 150), rng.integers(0, 210), rng.integers(2, 30), rng.integers(2, 90)
            blobs[0, 0, y:y + h, x:x + w] = rng.uniform(0.2, 1.0)
        maps.append((blobs + rng.uniform(0, 0.25, blobs.shape).astype(np.float32), (int(rng.integers(100, 900)),
                                                                                      int(rng.integers(100, 900)))))
    settings = {"thresh": 0.3, "box_thresh": 0.5, "max_candidates": 1000, "unclip_ratio": 1.6, "use_dilation": True}
    ours, theirs = Ours(**settings), Theirs(**settings, score_mode="fast")
    found = 0
    for probabilities, shape in maps:
        (boxes, scores), (expected_boxes, expected_scores) = ours(probabilities, shape), theirs(probabilities, shape)
        assert np.array_equal(boxes, expected_boxes) and scores == expected_scores
        found += len(boxes)
    assert found > 100
