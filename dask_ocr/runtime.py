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
        device = "" if self.use_gpu is None else f":gpu={self.use_gpu}"
        return f"{self.spec.name}:{self.task}:{self.threads}t{device}"


#: glibc ``mallopt`` parameter, and the largest allocation that should still come from the heap.
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 32 * 2 ** 20


def _current_worker():
    """The Dask worker running this code, or ``None``."""
    try:
        from distributed import get_worker

        return get_worker()
    except (ImportError, ValueError):
        return None


def _keep_large_blocks_on_the_heap() -> None:
    """Serve allocations below 32 MiB from the heap again, as glibc does by default.

    Distributed starts worker processes with ``MALLOC_TRIM_THRESHOLD_`` set, which also freezes
    glibc's mmap threshold at 128 KiB: every batch tensor is then a fresh ``mmap`` that page-faults
    on first touch.  ``benchmarks/scale.py`` measured the Dask pipeline at +54 % to +70 % over a raw
    engine loop before this, +6 % after.  No-op where glibc is not the C library.
    """
    import ctypes
    import ctypes.util

    try:
        ctypes.CDLL(ctypes.util.find_library("c")).mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)
    except (OSError, AttributeError, TypeError):
        return


def _prepare_worker_process(worker) -> None:
    """Tune a Dask worker process for inference before its first model loads: heap allocation
    as above, and OpenCV limited to the worker's threads (it would start one per core in every
    worker process, oversubscribing the cores that the worker threads already fill)."""
    _keep_large_blocks_on_the_heap()
    try:
        import cv2
    except ImportError:
        return
    cv2.setNumThreads(max(1, int(worker.state.nthreads)))


def load_model(key: ModelKey, worker=None):
    """Build the model for ``key`` (slow) and count the load for :func:`model_loads`.

    ``worker``: the Dask worker it is loaded for (default: the one running this task, if any),
    whose process is then tuned for inference first.
    """
    worker = worker or _current_worker()
    if worker is not None:
        _prepare_worker_process(worker)
    model = _FACTORIES[key.task](key.spec, threads=key.threads, use_gpu=key.use_gpu)
    with _LOCK:
        _LOADS[key.label()] += 1
    return model


def model_loads() -> dict[str, int]:
    """How many times each model was loaded in this process (``client.run(model_loads)`` per worker)."""
    with _LOCK:
        return dict(_LOADS)


def _matches(wanted: ModelKey, held: ModelKey) -> bool:
    """``use_gpu=None`` asks for whatever device is available, so it takes a plugin's model on either."""
    if wanted.use_gpu is None:
        return (wanted.spec, wanted.task, wanted.threads) == (held.spec, held.task, held.threads)
    return wanted == held


def _worker_plugin_model(key: ModelKey):
    """The model for ``key`` held by a plugin of the Dask worker running this task, if any."""
    worker = _current_worker()
    if worker is None:
        return None
    for plugin in list(worker.plugins.values()):
        if getattr(plugin, "is_dask_ocr_plugin", False):
            for held, model in list(plugin.models.items()):
                if _matches(key, held):
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
