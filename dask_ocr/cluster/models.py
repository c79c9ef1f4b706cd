"""Where partition functions get their models: the worker's :class:`~dask_ocr.cluster.plugins.ModelPlugin`
if it holds the model, else a process-local cache that holds one model per (name, task, device); and the
process settings a Dask worker gets before its first model loads (heap allocation, OpenCV threads).

Decoding settings are not part of a model's identity: they travel with each call (see
:class:`~dask_ocr.models.base.DecodingOptions`), so every call shares the one loaded model.
``distributed`` is imported inside the functions only: ``import dask_ocr`` does not need it.
"""

from __future__ import annotations

import sys
import threading
from collections import Counter
from dataclasses import dataclass

from ..models.registry import ModelSpec, create_detector, create_recognizer

__all__ = ["ModelKey", "get_model", "load_model", "model_loads", "loaded_models", "tune_worker_process"]

_FACTORIES = {"detect": create_detector, "recognize": create_recognizer}
_MODELS: dict = {}  # (spec, task, use_gpu) -> (ModelKey, model)
_LOADS: Counter = Counter()
_LOCK = threading.Lock()
_CACHE_LOCK = threading.Lock()


@dataclass(frozen=True)
class ModelKey:
    """A model to use: spec, task, device and the threads it runs on (a session setting)."""

    spec: ModelSpec
    task: str
    threads: int = 1
    use_gpu: bool | None = None

    def label(self) -> str:
        """A short readable name, e.g. ``ppocr:recognize:1t``."""
        device = "" if self.use_gpu is None else f":gpu={self.use_gpu}"
        return f"{self.spec.name}:{self.task}:{self.threads}t{device}"

    def slot(self) -> tuple:
        """What tells two models apart in a process: one model per (spec, task, device)."""
        return self.spec, self.task, self.use_gpu


def _current_worker():
    """The Dask worker running this code, or ``None`` (at once where ``distributed`` is not imported: a worker
    process has imported it, and importing it to find out costs a small job 0.1-0.2 s)."""
    if sys.modules.get("distributed") is None:
        return None
    from distributed import get_worker

    try:
        return get_worker()
    except ValueError:
        return None


def load_model(key: ModelKey, worker=None):
    """Build the model for ``key`` (slow) and count the load for :func:`model_loads`.

    ``worker``: the Dask worker it is loaded for (default: the one running this task, if any),
    whose process is then tuned for inference first (:func:`tune_worker_process`).
    """
    worker = worker or _current_worker()
    if worker is not None:
        tune_worker_process()
    model = _FACTORIES[key.task](key.spec, threads=key.threads, use_gpu=key.use_gpu)
    with _LOCK:
        _LOADS[key.label()] += 1
    return model


def model_loads() -> dict[str, int]:
    """How many times each model was loaded in this process (``client.run(model_loads)`` per worker)."""
    with _LOCK:
        return dict(_LOADS)


def loaded_models() -> list[str]:
    """Labels of the models this process's cache holds now (not counting a worker plugin's)."""
    with _CACHE_LOCK:
        return sorted(key.label() for key, _ in _MODELS.values())


def _matches(wanted: ModelKey, held: ModelKey) -> bool:
    """A plugin's model serves every call for its spec and task; ``use_gpu=None`` takes either device."""
    if (wanted.spec, wanted.task) != (held.spec, held.task):
        return False
    return wanted.use_gpu is None or wanted.use_gpu == held.use_gpu


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
    """The model for ``key``: the worker plugin's, or this process's (loaded on first use, thread-safe).

    The process cache holds one model per :meth:`ModelKey.slot`: asking for the same model with
    other ``threads`` replaces the copy it holds instead of loading a second one beside it.
    """
    model = _worker_plugin_model(key)
    if model is not None:
        return model
    with _CACHE_LOCK:  # one load at a time; a thread waiting for the same key then finds it cached
        held = _MODELS.get(key.slot())
        if held is None or held[0] != key:
            _MODELS.pop(key.slot(), None)  # free the old copy before loading its replacement
            _MODELS[key.slot()] = (key, load_model(key))
        return _MODELS[key.slot()][1]


# ---------------------------------------------------------------------------------------------- worker process settings

#: glibc ``mallopt`` parameter, and the largest allocation that should still come from the heap.
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 32 * 2 ** 20


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


def tune_worker_process() -> None:
    """Tune a Dask worker process for inference before its first model loads.

    Heap allocation as above, and OpenCV kept on the calling thread: each of the worker's
    threads runs one task, whose models run on its own thread by default, and OpenCV's pool (one
    thread per core in every worker process) would contend with them for the same cores.
    ``benchmarks/profile.py`` measured the overhead over the models' own time on SROIE pages at
    1.086, 1.090 and 1.085 with OpenCV on two threads, 1.098, 1.063 and 1.062 on one.
    """
    _keep_large_blocks_on_the_heap()
    try:
        import cv2
    except ImportError:
        return
    cv2.setNumThreads(1)
