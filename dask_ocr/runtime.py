"""Where partition functions get their models: the worker's :class:`~dask_ocr.distributed.ModelPlugin`
if it holds the model, else a process-local cache that loads each model once per process."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass

from .models.registry import ModelSpec, create_detector, create_recognizer

__all__ = ["ModelKey", "get_model", "load_model", "model_loads"]

_FACTORIES = {"detect": create_detector, "recognize": create_recognizer}
_MODELS: dict = {}
_LOADS: Counter = Counter()
_LOCK = threading.Lock()
_CACHE_LOCK = threading.Lock()


@dataclass(frozen=True)
class ModelKey:
    """Everything that tells two loaded models apart: spec, task, threads and device."""

    spec: ModelSpec
    task: str
    threads: int = 1
    use_gpu: bool | None = None

    def label(self) -> str:
        """A short readable name, e.g. ``ppocr:recognize:1t``."""
        return f"{self.spec.name}:{self.task}:{self.threads}t" + ("" if self.use_gpu is None else f":gpu={self.use_gpu}")


def load_model(key: ModelKey):
    """Build the model for ``key`` (slow) and count the load for :func:`model_loads`."""
    model = _FACTORIES[key.task](key.spec, threads=key.threads, use_gpu=key.use_gpu)
    with _LOCK:
        _LOADS[key.label()] += 1
    return model


def model_loads() -> dict[str, int]:
    """How many times each model was loaded in this process (``client.run(model_loads)`` per worker)."""
    with _LOCK:
        return dict(_LOADS)


def _worker_plugin_model(key: ModelKey):
    """The model for ``key`` held by a plugin of the Dask worker running this task, if any."""
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):  # not inside a distributed worker
        return None
    for plugin in list(worker.plugins.values()):
        model = getattr(plugin, "models", {}).get(key) if getattr(plugin, "is_dask_ocr_plugin", False) else None
        if model is not None:
            return model
    return None


def get_model(key: ModelKey):
    """The model for ``key``: the worker plugin's, or this process's (loaded on first use, thread-safe)."""
    model = _worker_plugin_model(key) or _MODELS.get(key)
    if model is None:
        with _CACHE_LOCK:  # one load at a time; a thread waiting for the same key then finds it cached
            model = _MODELS.get(key)
            if model is None:
                model = _MODELS[key] = load_model(key)
    return model
