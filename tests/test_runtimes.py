"""Execution runtimes of the ONNX models: onnxruntime and OpenVINO behind one session interface, and ``auto``."""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd
import pytest

import dask_ocr  # noqa: F401  (registers the accessor)
from dask_ocr.models import onnx
from dask_ocr.models.ppocr import PPOCRDetector, PPOCRRecognizer, bundled_model_path
from dask_ocr.schema import BINARY_DTYPE
from dask_ocr.synthetic import make_sample_pages, render_line_crops

openvino = pytest.importorskip("openvino")
PREFERENCES = (("openvino", "bf16"), ("openvino", "f32"), ("onnxruntime", "f32"))


@pytest.fixture
def cpu(monkeypatch):
    """Pretend a CPU with or without native bfloat16, with or without OpenVINO."""

    def set_cpu(bf16: bool, openvino_installed: bool = True):
        monkeypatch.setattr(onnx, "cpu_has_bf16", lambda: bf16 and openvino_installed)
        monkeypatch.setattr(onnx, "openvino_available", lambda: openvino_installed)
    return set_cpu


def test_auto_takes_the_first_preference_this_machine_runs(cpu):
    cpu(bf16=True)
    assert onnx.resolve_runtime("auto", "auto", False, PREFERENCES) == ("openvino", "bf16")
    assert onnx.resolve_runtime("auto", "f32", False, PREFERENCES) == ("openvino", "f32")
    cpu(bf16=False)                                           # an AMD or older Intel CPU
    assert onnx.resolve_runtime("auto", "auto", False, PREFERENCES) == ("openvino", "f32")
    assert onnx.resolve_runtime("auto", "auto", False, (("openvino", "bf16"), ("onnxruntime", "f32"))) == (
        "onnxruntime", "f32")
    cpu(bf16=False, openvino_installed=False)
    assert onnx.resolve_runtime("auto", "auto", False, PREFERENCES) == ("onnxruntime", "f32")


def test_explicit_choices_and_their_refusals(cpu):
    cpu(bf16=False)
    assert onnx.resolve_runtime("openvino", "auto", False) == ("openvino", "f32")
    assert onnx.resolve_runtime("onnxruntime", "auto", False) == ("onnxruntime", "f32")
    with pytest.raises(ValueError, match="AVX512-BF16 or AMX"):
        onnx.resolve_runtime("openvino", "bf16", False)
    with pytest.raises(ValueError, match="OpenVINO setting"):
        onnx.resolve_runtime("onnxruntime", "bf16", False)
    with pytest.raises(ValueError, match="runtime must be one of"):
        onnx.resolve_runtime("tensorrt", "auto", False)
    with pytest.raises(ValueError, match="precision must be one of"):
        onnx.resolve_runtime("auto", "fp8", False)
    cpu(bf16=False, openvino_installed=False)
    with pytest.raises(ImportError, match="pip install openvino"):
        onnx.resolve_runtime("openvino", "auto", False)


def test_openvino_session_matches_onnxruntime_at_f32(tmp_path, monkeypatch):
    """The same probabilities to 1e-4, the same interface, the compiled model kept on disk."""
    monkeypatch.setenv("DASK_OCR_CACHE", str(tmp_path))
    monkeypatch.setattr(onnx, "_CORE", None)
    path = bundled_model_path("rec")
    reference = onnx.make_session(path, 1, False, "onnxruntime")
    session = onnx.make_session(path, 1, False, "openvino", "f32")
    assert isinstance(session, onnx.OpenVinoSession)
    assert session.get_inputs()[0].name == reference.get_inputs()[0].name
    assert session.get_outputs()[0].shape[-1] == reference.get_outputs()[0].shape[-1]
    assert session.get_modelmeta().custom_metadata_map == reference.get_modelmeta().custom_metadata_map
    batch = np.random.default_rng(0).uniform(-1, 1, (4, 3, 48, 320)).astype(np.float32)
    name = reference.get_inputs()[0].name
    expected = reference.run(None, {name: batch})[0]
    assert np.abs(session.run(None, {name: batch})[0] - expected).max() < 1e-4
    assert any((tmp_path / "openvino").iterdir())                                # compiled once, cached


def test_openvino_session_runs_calls_from_several_threads_at_once():
    """A threaded scheduler shares one model: each thread gets its own inference request."""
    session = onnx.make_session(bundled_model_path("rec"), 1, False, "openvino", "f32")
    name = session.get_inputs()[0].name
    batches = [np.random.default_rng(seed).uniform(-1, 1, (2, 3, 48, 256)).astype(np.float32) for seed in range(6)]
    expected = [session.run(None, {name: batch})[0] for batch in batches]
    results = [None] * len(batches)

    def work(i):
        for _ in range(3):
            results[i] = session.run(None, {name: batches[i]})[0]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(batches))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(np.array_equal(result, want) for result, want in zip(results, expected))


def test_openvino_at_f32_reads_the_demo_pages_as_onnxruntime_does():
    pages = make_sample_pages(2, seed=4)
    frame = pd.DataFrame({"content": pd.Series([p.content for p in pages], dtype=BINARY_DTYPE)})

    def texts(runtime):
        out = frame.ocr.detect(runtime=runtime, precision="f32").ocr.recognize(runtime=runtime, precision="f32")
        return out["text"].tolist()

    assert texts("openvino") == texts("onnxruntime")
    crops = render_line_crops(6)
    read = {runtime: [r.text for r in PPOCRRecognizer(runtime=runtime, precision="f32").recognize(crops)]
            for runtime in ("onnxruntime", "openvino")}
    assert read["openvino"] == read["onnxruntime"]


def test_runtime_is_checked_on_the_client():
    frame = pd.DataFrame({"content": pd.Series([make_sample_pages(1)[0].content], dtype=BINARY_DTYPE)})
    with pytest.raises(ValueError, match="runtime must be one of"):
        frame.ocr.detect(runtime="tensorrt")
    with pytest.raises(ValueError, match="not one"):
        frame.ocr.recognize(regions_col=None, model="tesseract", runtime="openvino")
    assert PPOCRDetector(runtime="openvino", precision="f32").runtime == "openvino"
    with pytest.raises(ValueError, match="int8 copy for onnxruntime"):
        PPOCRDetector(runtime="openvino", quantize=True)


def test_auto_on_this_cpu_and_its_detector_finds_the_fp32_regions():
    """bf16 where the CPU has it (OpenVINO), else onnxruntime's int8 copy; either finds what fp32 finds."""
    from dask_ocr.decode import decode_image

    detector, recognizer = PPOCRDetector(), PPOCRRecognizer()
    expected = ("openvino", "bf16") if onnx.cpu_has_bf16() else ("onnxruntime", "f32")
    assert (detector.runtime, detector.precision) == (recognizer.runtime, recognizer.precision) == expected
    page = decode_image(make_sample_pages(1, seed=3)[0].content)
    found = detector.detect([page])[0]
    reference = PPOCRDetector(runtime="onnxruntime", quantize=False).detect([page])[0]
    assert len(found) == len(reference) > 3
    centres = np.array([r.polygon.mean(axis=0) for r in reference])
    for region in found:
        match = reference[int(np.abs(centres - region.polygon.mean(axis=0)).sum(axis=1).argmin())]
        assert np.abs(np.sort(region.polygon, axis=0) - np.sort(match.polygon, axis=0)).max() < 4


def test_the_charset_model_gives_the_full_softmax_of_its_classes():
    """The recognizer decodes 760 Latin classes of 18,710 from a copy of its model that outputs only those —
    with the probabilities of the softmax over every class, so confidences (and min_confidence) are unchanged."""
    recognizer = PPOCRRecognizer(runtime="onnxruntime")
    path = onnx.class_subset_model(recognizer.model_path, recognizer.classes)
    assert path is not None and path == onnx.class_subset_model(recognizer.model_path, recognizer.classes)  # cached
    full, subset = (onnx.make_session(p, 1, False, "onnxruntime") for p in (recognizer.model_path, path))
    assert subset.get_outputs()[0].shape[-1] == len(recognizer.classes) == 760
    batch = np.random.default_rng(1).uniform(-1, 1, (3, 3, 48, 256)).astype(np.float32)
    name = full.get_inputs()[0].name
    expected = full.run(None, {name: batch})[0][:, :, recognizer.classes]
    assert np.abs(subset.run(None, {name: batch})[0] - expected).max() < 1e-3          # float32 rounding
    crops = render_line_crops(6)
    whole = PPOCRRecognizer(runtime="onnxruntime")
    whole.session = full                                               # the same decoding on the full output
    for mine, theirs in zip(recognizer.recognize(crops), whole.recognize(crops)):
        assert mine.text == theirs.text and mine.confidence == pytest.approx(theirs.confidence, abs=1e-3)
    assert onnx.class_subset_model(bundled_model_path("det"), [0]) is None   # not a softmax output: left alone
