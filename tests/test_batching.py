"""dask_ocr.batching: batch planning, input order, and the out-of-memory back-off every engine shares."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from dask_ocr.batching import is_out_of_memory, padded_width, plan_batches, run_batched
from dask_ocr.synthetic import render_line_crops

from ocrdata import noise_crops


class OutOfMemoryError(RuntimeError):
    """Named as torch's ``torch.OutOfMemoryError`` (``torch.cuda.OutOfMemoryError``)."""


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


def test_plan_batches_sorts_inside_a_shape_by_the_order_key():
    batches = plan_batches([1, 1, 1, 2, 1], batch_size=2, order=[5.0, 1.0, 3.0, 0.0, 2.0])
    assert [b.tolist() for b in batches] == [[1, 4], [2, 0], [3]]        # smallest shape first


def test_run_batched_restores_input_order():
    items = ["a", "bb", "c", "dd", "eee"]
    widths = [len(s) for s in items]
    seen = []

    def call(batch, width):
        seen.append((width, batch))
        return [s.upper() for s in batch]

    assert run_batched(items, 8, call, shapes=widths) == ["A", "BB", "C", "DD", "EEE"]
    assert [w for w, _ in seen] == [1, 2, 3]
    assert run_batched([], 4, call) == []


@pytest.mark.parametrize("error", [MemoryError(), OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB"),
                                   RuntimeError("CUDA out of memory"),
                                   RuntimeError("[ONNXRuntimeError] : 6 : Failed to allocate memory for requested "
                                                "buffer of size 123")])
def test_out_of_memory_halves_the_batch_and_keeps_order(error):
    attempts, released = [], []

    def call(batch, shape):
        attempts.append(len(batch))
        if len(batch) > 2:
            raise error
        return [f"{shape}:{item}" for item in batch]

    items = list(range(12))
    shapes = [0] * 8 + [1] * 4
    out = run_batched(items, 8, call, shapes=shapes, release=lambda: released.append(True))
    assert out == [f"{s}:{i}" for i, s in zip(items, shapes)]            # complete, in input order
    assert attempts == [8, 4, 2, 2, 2, 2, 2, 2]     # 8 -> 4 -> 2, and 2 holds for the next shape
    assert len(released) == 2                                           # once per out-of-memory error
    assert is_out_of_memory(error)


def test_other_errors_and_a_batch_of_one_propagate():
    released = []

    def broken(batch, _):
        raise ValueError("not a memory problem")

    with pytest.raises(ValueError, match="not a memory problem"):
        run_batched([1, 2, 3, 4], 4, broken, release=lambda: released.append(True))
    assert released == []                                               # no retry for other errors
    attempts = []

    def always_oom(batch, _):
        attempts.append(len(batch))
        raise MemoryError("nothing fits")

    with pytest.raises(MemoryError, match="nothing fits"):
        run_batched([1, 2, 3, 4, 5], 4, always_oom, release=lambda: released.append(True))
    assert attempts == [4, 2, 1] and len(released) == 2                # halved down to 1, then raised
    assert not is_out_of_memory(RuntimeError("model exploded")) and not is_out_of_memory(KeyError("memory"))


# --------------------------------------------------------------------------------------------- every engine


@pytest.fixture(scope="module")
def crops():
    """Clean generated lines, each three times: every batch shape holds more than two crops."""
    return render_line_crops(4, seed=2) * 3


def out_of_memory_above(limit: int, error: BaseException, original, log: list):
    """``original`` that raises ``error`` for batches of more than ``limit`` items."""

    def call(batch, *args):
        if len(batch) > limit:
            log.append(len(batch))
            raise error
        return original(batch, *args)

    return call


def check_backs_off(recognizer, method: str, error: BaseException, crops, monkeypatch, decoding=None):
    expected = recognizer.recognize(crops, 8, decoding)
    failures = []
    monkeypatch.setattr(recognizer, method, out_of_memory_above(2, error, getattr(recognizer, method), failures))
    got = recognizer.recognize(crops, 8, decoding)
    assert failures and max(failures) > 2                               # the fake OOM did happen
    assert [r.text for r in got] == [r.text for r in expected]
    assert [r.confidence for r in got] == pytest.approx([r.confidence for r in expected], abs=1e-5)
    return expected


def test_ppocr_backs_off_out_of_memory(crops, monkeypatch):
    from dask_ocr.models.ppocr import PPOCRRecognizer

    error = RuntimeError("[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION : Failed to allocate memory")
    expected = check_backs_off(PPOCRRecognizer(), "_recognize_batch", error, crops, monkeypatch)
    assert all(r.text for r in expected)


def test_trocr_backs_off_out_of_memory(monkeypatch, tmp_path):
    from dask_ocr.models.base import DecodingOptions
    from dask_ocr.models.trocr import TrOCRRecognizer
    from dask_ocr.testing import save_trocr

    recognizer = TrOCRRecognizer(str(save_trocr(tmp_path / "tiny", "tiny", init_std=0.5)))
    expected = check_backs_off(recognizer, "_read", OutOfMemoryError("CUDA out of memory"), noise_crops(12),
                               monkeypatch, DecodingOptions(max_new_tokens=12))
    assert len({r.text for r in expected}) > 1                          # readings depend on the crop


@pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract is not installed")
def test_tesseract_backs_off_out_of_memory(crops, monkeypatch):
    from dask_ocr.models.tesseract import TesseractRecognizer

    lines = [np.ascontiguousarray(crop) for crop in crops[:6]]
    expected = check_backs_off(TesseractRecognizer(), "_read_batch", MemoryError(), lines, monkeypatch)
    assert sum(bool(r.text) for r in expected) >= 4
