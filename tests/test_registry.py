"""dask_ocr.models.registry: names to ModelSpecs, option merging, and messages for unknown models."""

from __future__ import annotations

import pytest

import dask_ocr
from dask_ocr.errors import ModelNotFoundError
from dask_ocr.models import registry
from dask_ocr.models.registry import ModelSpec, available_models, create_detector, create_recognizer, resolve_model


@pytest.fixture
def clean_registry(monkeypatch):
    """``register_trocr`` writes to the registry: give each test its own copy."""
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))


def test_spec_options_merge_and_hash():
    spec = resolve_model("ppocr").with_detector_options(box_thresh=0.4)
    spec = spec.with_detector_options(unclip_ratio=2.0, box_thresh=0.6).with_recognizer_options(space_boost=1.0)
    assert spec.detector_options == (("box_thresh", 0.6), ("unclip_ratio", 2.0))
    assert spec.recognizer_options == (("space_boost", 1.0),)
    assert spec != resolve_model("ppocr") and len({spec, resolve_model("ppocr")}) == 2


def test_resolve_model_by_name_any_case_and_by_spec():
    spec = resolve_model("PPOCR", "detect")
    assert spec == ModelSpec("ppocr", "ppocr", ("detect", "recognize")) and spec.supports("recognize")
    assert resolve_model(spec) is spec
    assert resolve_model("tesseract").min_confidence == 0.0 and spec.min_confidence == 0.5
    assert resolve_model("ppocr_multilingual").recognizer_options == (("charset", None),)
    trocr = resolve_model("ocr_base_printed", "recognize")
    assert (trocr.family, trocr.tasks) == ("trocr", ("recognize",))
    assert dict(trocr.recognizer_options) == {"source": "microsoft/trocr-base-printed", "allow_pickle": False,
                                              "precision": "auto"}


def test_available_models_lists_engines_and_trocr_aliases():
    names = dask_ocr.available_models()
    assert names == sorted(names) and names == available_models()
    assert {"ppocr", "ppocr_multilingual", "tesseract", "ocr_base_printed", "ocr_small_handwritten_v2"} <= set(names)
    assert len([n for n in names if n.startswith("ocr_")]) == 12        # 3 sizes x 2 kinds x with/without _v2


def test_unknown_models_and_tasks_are_explained():
    with pytest.raises(ModelNotFoundError, match="unknown model 'no-such-model'; available: ppocr.*tesseract") as info:
        resolve_model("no-such-model")
    assert "microsoft/trocr-base-printed" in str(info.value) and "VisionEncoderDecoder" in str(info.value)
    with pytest.raises(ModelNotFoundError, match="'ocr_base_printed' cannot detect; it supports recognize"):
        resolve_model("ocr_base_printed", "detect")
    assert issubclass(ModelNotFoundError, LookupError)
    odd = ModelSpec("odd", "no-such-family", ("detect", "recognize"))
    with pytest.raises(ModelNotFoundError, match="'no-such-family' has no detector"):
        create_detector(odd)
    with pytest.raises(ModelNotFoundError, match="'no-such-family' has no recognizer"):
        create_recognizer(odd)


def test_register_trocr_adds_a_name(clean_registry):
    spec = registry.register_trocr("My-Checkpoint", "/models/mine", allow_pickle=True, precision="fp32")
    assert resolve_model("my-checkpoint") is spec and "my-checkpoint" in available_models()
    assert dict(spec.recognizer_options) == {"source": "/models/mine", "allow_pickle": True, "precision": "fp32"}
    assert spec.name == "My-Checkpoint" and spec.tasks == ("recognize",)

