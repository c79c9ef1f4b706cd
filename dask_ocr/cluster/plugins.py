"""Dask clusters for OCR: the worker plugin that holds the models, and cluster start-up.

``import dask_ocr`` does not import this module (its names are loaded on first use), so plain
pandas use never imports ``distributed``; ``dask_cuda`` is imported only on the GPU branch of
:func:`start_cluster`, so nothing here needs CUDA on a CPU machine.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Sequence

from dask.base import tokenize
from distributed import Client, LocalCluster, WorkerPlugin

from ..models.registry import resolve_model
from .models import ModelKey, load_model

__all__ = ["ModelPlugin", "register_models", "start_cluster", "cuda_device_count", "model_keys"]


class ModelPlugin(WorkerPlugin):
    """Loads OCR models once per worker in :meth:`setup` and frees them in :meth:`teardown`.

    Partition functions find them through :func:`dask_ocr.cluster.models.get_model`, so no model is ever
    pickled into the task graph.  The plugin's name is derived from its models, and it is
    idempotent: registering the same models twice does nothing.

    Parameters
    ----------
    keys : sequence of ModelKey
        The models to load; see :func:`register_models`.
    """

    idempotent = True
    is_dask_ocr_plugin = True

    def __init__(self, keys: Sequence[ModelKey]):
        self.keys = tuple(keys)
        self.name = f"dask_ocr-models-{tokenize(self.keys)[:16]}"
        self.models: dict = {}

    def setup(self, worker) -> None:
        self.models = {key: load_model(key, worker) for key in self.keys}

    def teardown(self, worker) -> None:
        self.models = {}
        gc.collect()


def model_keys(models: str | Sequence[str], tasks: Sequence[str] | None = None, threads: int = 1,
               use_gpu: bool | None = None) -> list[ModelKey]:
    """The keys the ``ocr`` accessor uses in Dask for ``models`` (``task_parallelism=threads``).

    ``tasks=None`` takes every task each model can do.
    """
    unknown = [task for task in tasks or () if task not in ("detect", "recognize")]
    if unknown:
        raise ValueError(f"unknown task(s) {unknown}; use 'detect' and/or 'recognize'")
    names = [models] if isinstance(models, str) else list(models)
    return [ModelKey(resolve_model(name, task), task, threads, use_gpu)
            for name in names for task in tasks or resolve_model(name).tasks]


def register_models(client: Client, models: str | Sequence[str] = "ppocr", tasks: Sequence[str] | None = None,
                    threads: int = 1, use_gpu: bool | None = None) -> ModelPlugin:
    """Load ``models`` on every worker of ``client`` now (and on workers that join later).

    Every call for these models on these workers uses the plugin's copy, whatever its
    ``task_parallelism`` and decoding settings, unless it asks for another device (``use_gpu``).

    Parameters
    ----------
    client : distributed.Client
    models : str or sequence of str
        Model names, as passed to ``detect``/``recognize`` (``model=``), e.g. ``"ppocr"`` or
        ``"ocr_base_printed"`` (TrOCR; its decoding settings are chosen per call).
    tasks : sequence of str, optional
        Which of ``"detect"`` and ``"recognize"`` to load; default every task the model can do.
    threads : int
        Model threads of each loaded model (a session setting).
    use_gpu : bool, optional
        Where to load them; ``None`` lets each engine pick (a GPU when it sees one).

    Returns
    -------
    ModelPlugin
        The registered plugin (its ``name`` identifies it on the workers).
    """
    plugin = ModelPlugin(model_keys(models, tasks, threads, use_gpu))
    client.register_plugin(plugin, name=plugin.name)
    return plugin


def cuda_device_count() -> int:
    """CUDA devices visible to this process (0 without CUDA, or without torch)."""
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) == "":
        return 0
    try:
        import torch
    except ImportError:
        return 0
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def start_cluster(n_workers: int | None = None, threads_per_worker: int | None = None, gpu: bool | None = None,
                  models: str | Sequence[str] | None = "ppocr", **cluster_kwargs) -> Client:
    """Start a local cluster suited to this machine, load the OCR models on it, return a client.

    Parameters
    ----------
    n_workers : int, optional
        GPU: one worker per visible GPU by default; CPU: one worker process per core.
    threads_per_worker : int, optional
        Default 1: each task then runs its model on one core (CPU) or has the GPU to itself.
    gpu : bool, optional
        ``None`` uses ``dask_cuda.LocalCUDACluster`` when CUDA devices are visible, else a CPU
        ``LocalCluster``.  ``True`` on a machine without a GPU is an error.
    models : str, sequence of str or None
        Registered on the workers with :func:`register_models`; ``None`` registers nothing.
    **cluster_kwargs
        Passed to the cluster (``memory_limit``, ``dashboard_address``, ``CUDA_VISIBLE_DEVICES``, ...).

    Returns
    -------
    distributed.Client
        Connected to the new cluster (``client.cluster``); close both with ``client.close()``
        and ``client.cluster.close()``, or use the client as a context manager.

    Notes
    -----
    GPU workers declare ``resources={"GPU": 1}``; to pin tasks to them, compute inside
    ``dask.annotate(resources={"GPU": 1})`` (:func:`write_parquet` does this for you).
    """
    devices = cuda_device_count()
    use_gpu = devices > 0 if gpu is None else bool(gpu)
    if use_gpu and devices == 0:
        raise RuntimeError("start_cluster(gpu=True) but no CUDA device is visible to this process "
                           "(check nvidia-smi and CUDA_VISIBLE_DEVICES, or pass gpu=False)")
    if use_gpu:
        try:
            from dask_cuda import LocalCUDACluster
        except ImportError:
            raise ImportError("a GPU cluster needs dask-cuda: pip install 'dask_ocr[gpu]'") from None
        cluster_kwargs.setdefault("resources", {"GPU": 1})
        cluster = LocalCUDACluster(n_workers=n_workers, threads_per_worker=threads_per_worker or 1, **cluster_kwargs)
    else:
        cluster_kwargs.setdefault("processes", True)
        cluster = LocalCluster(n_workers=n_workers or os.cpu_count() or 1,
                               threads_per_worker=threads_per_worker or 1, **cluster_kwargs)
    client = Client(cluster)
    if models is not None:  # on GPU, insist: a missing onnxruntime-gpu fails here, not silently on CPU
        register_models(client, models, use_gpu=True if use_gpu else None)
    return client
