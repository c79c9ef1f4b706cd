"""dask_ocr.cluster.models: the process model cache, load counts, and which worker-plugin model serves a call."""

from __future__ import annotations

import threading
from collections import Counter

import pandas as pd
import pytest

from dask_ocr.cluster import models as model_cache
from dask_ocr.cluster.models import ModelKey, get_model, loaded_models, model_loads
from dask_ocr.models.registry import resolve_model
from dask_ocr.schema import BINARY_DTYPE
from dask_ocr.testing import save_trocr

from ocrdata import noise_crops, png

PPOCR = resolve_model("ppocr")


@pytest.fixture
def fresh(monkeypatch):
    """An empty process cache and load counter, and factories that build cheap tagged objects."""
    monkeypatch.setattr(model_cache, "_MODELS", {})
    monkeypatch.setattr(model_cache, "_LOADS", Counter())
    built = []

    def factory(spec, threads=1, use_gpu=None):
        built.append((spec.name, threads, use_gpu))
        return object()

    monkeypatch.setattr(model_cache, "_FACTORIES", {"detect": factory, "recognize": factory})
    return built


def test_model_key_labels_and_slots():
    key = ModelKey(PPOCR, "recognize", 2, True)
    assert key.label() == "ppocr:recognize:2t:gpu=True"
    assert ModelKey(PPOCR, "detect").label() == "ppocr:detect:1t"
    assert key.slot() == ModelKey(PPOCR, "recognize", 8, True).slot() != ModelKey(PPOCR, "recognize", 2).slot()


def test_get_model_loads_once_and_replaces_on_other_threads(fresh):
    key = ModelKey(PPOCR, "recognize", 1)
    first = get_model(key)
    assert get_model(key) is first and get_model(ModelKey(PPOCR, "recognize", 1)) is first
    assert model_loads() == {"ppocr:recognize:1t": 1} and loaded_models() == ["ppocr:recognize:1t"]
    other = get_model(ModelKey(PPOCR, "recognize", 3))               # another thread count: same slot
    assert other is not first and loaded_models() == ["ppocr:recognize:3t"]
    assert model_loads() == {"ppocr:recognize:1t": 1, "ppocr:recognize:3t": 1}
    get_model(ModelKey(PPOCR, "detect", 3))                          # another task: a second slot
    get_model(ModelKey(PPOCR, "recognize", 3, False))                # another device: a third
    assert loaded_models() == ["ppocr:detect:3t", "ppocr:recognize:3t", "ppocr:recognize:3t:gpu=False"]
    assert fresh == [("ppocr", 1, None), ("ppocr", 3, None), ("ppocr", 3, None), ("ppocr", 3, False)]


def test_concurrent_first_calls_load_one_model(fresh, monkeypatch):
    gate = threading.Barrier(6)
    got = []

    def call():
        gate.wait()
        got.append(get_model(ModelKey(PPOCR, "detect", 1)))

    threads = [threading.Thread(target=call) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(model) for model in got}) == 1 and model_loads() == {"ppocr:detect:1t": 1}


def test_plugin_models_serve_requests_for_any_device():
    from dask_ocr.cluster.plugins import model_keys

    detect_gpu, _ = model_keys("ppocr", use_gpu=True)
    detect_auto, recognize_auto = model_keys("ppocr")
    assert model_cache._matches(detect_auto, detect_gpu)                 # use_gpu=None takes the GPU model
    assert not model_cache._matches(recognize_auto, detect_gpu)          # another task
    assert not model_cache._matches(model_keys("ppocr", use_gpu=False)[0], detect_gpu)
    assert model_cache._matches(model_keys("ppocr", threads=2)[0], model_keys("ppocr")[0])   # threads: same model
    with pytest.raises(ValueError, match="unknown task"):
        model_keys("ppocr", tasks=("draw",))


class FakeWorker:
    """What the model cache looks at on a Dask worker: its plugins."""

    def __init__(self, models: dict, nthreads: int = 3):
        plugin = type("Plugin", (), {"is_dask_ocr_plugin": True, "models": models})()
        self.plugins = {"other": object(), "dask_ocr-models": plugin}
        self.state = type("State", (), {"nthreads": nthreads})()


def test_a_worker_plugin_model_is_used_before_the_process_cache(fresh, monkeypatch):
    held, tuned = object(), []
    monkeypatch.setattr(model_cache, "_current_worker", lambda: FakeWorker({ModelKey(PPOCR, "recognize", 1): held}))
    monkeypatch.setattr(model_cache, "tune_worker_process", lambda: tuned.append("tuned"))
    assert get_model(ModelKey(PPOCR, "recognize", 4)) is held        # any thread count
    assert model_loads() == {} and tuned == []
    assert get_model(ModelKey(PPOCR, "recognize", 1, True)) is not held   # asks for the GPU; the plugin's: auto
    assert model_loads() == {"ppocr:recognize:1t:gpu=True": 1} and fresh == [("ppocr", 1, True)]
    assert tuned == ["tuned"]                             # the worker process is tuned before it loads


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return str(save_trocr(tmp_path_factory.mktemp("trocr") / "tiny", "tiny", init_std=0.5))


def test_decoding_settings_share_one_trocr_model(tiny, monkeypatch):
    monkeypatch.setattr(model_cache, "_MODELS", {})
    monkeypatch.setattr(model_cache, "_LOADS", Counter())
    frame = pd.DataFrame({"content": pd.Series([png(crop) for crop in noise_crops(3)], dtype=BINARY_DTYPE)})

    def read(**settings):
        out = frame.ocr.recognize(model=tiny, regions_col=None, min_confidence=0, **settings)
        assert out["ocr_error"].isna().all()
        return out["text"].fillna("").tolist()

    short = read(max_new_tokens=4, task_parallelism=2)
    longer = read(max_new_tokens=8, task_parallelism=2)
    beams = read(max_new_tokens=8, num_beams=2, task_parallelism=2)
    label = f"{tiny}:recognize:2t"
    assert model_loads() == {label: 1} and loaded_models() == [label]          # one load for three settings
    assert all(len(s.replace(" ", "")) <= 4 for s in short) and short != longer   # each call's own settings
    assert len(beams) == 3
    read(max_new_tokens=4, task_parallelism=1)                      # the same model on other threads
    assert loaded_models() == [f"{tiny}:recognize:1t"]              # replaced, not held beside it
    assert model_loads() == {label: 1, f"{tiny}:recognize:1t": 1}
