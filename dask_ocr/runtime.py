"""Process-local model cache: each worker process loads a model once and reuses it for every task."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from .models.registry import ModelSpec, create_detector, create_recognizer

__all__ = ["ModelKey", "get_model"]

_FACTORIES = {"detect": create_detector, "recognize": create_recognizer}
_MODELS: dict = {}
_LOCK = threading.Lock()


@dataclass(frozen=True)
class ModelKey:
    """Everything that tells two loaded models apart: spec, task, threads and device."""

    spec: ModelSpec
    task: str
    threads: int = 1
    use_gpu: bool | None = None


def get_model(key: ModelKey):
    """The model for ``key``, loading it on first use in this process (thread-safe)."""
    model = _MODELS.get(key)
    if model is None:
        with _LOCK:
            model = _MODELS.get(key)
            if model is None:
                model = _FACTORIES[key.task](key.spec, threads=key.threads, use_gpu=key.use_gpu)
                _MODELS[key] = model
    return model
