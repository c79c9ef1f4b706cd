import numpy as np
import pytest

from dask_ocr.models.ppocr import ctc_decode, detection_size

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
