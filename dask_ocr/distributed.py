"""Dask clusters for OCR: a worker plugin that holds the models, cluster start-up, partition sizing,
and a resumable Parquet writer with progress.

``distributed`` is imported here and in :mod:`dask_ocr.runtime` only; ``dask_cuda`` only on the GPU
branch of :func:`start_cluster`, so nothing here needs CUDA on a CPU machine.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import uuid
from collections.abc import Sequence

import dask
from dask.base import tokenize
from distributed import Client, LocalCluster, WorkerPlugin, default_client, wait

from .models.registry import resolve_model
from .runtime import ModelKey, load_model

__all__ = ["ModelPlugin", "register_models", "start_cluster", "default_partition_count", "cuda_device_count",
           "write_parquet"]

#: Partitions per worker thread on CPU and per worker on GPU (the Visual NLP advice: 2-3 and 1-2).
PARTITIONS_PER_CPU_THREAD = 3
PARTITIONS_PER_GPU_WORKER = 2
JOB_FILE = "_dask_ocr_job.json"


class ModelPlugin(WorkerPlugin):
    """Loads OCR models once per worker in :meth:`setup` and frees them in :meth:`teardown`.

    Partition functions find them through :func:`dask_ocr.runtime.get_model`, so no model is ever
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

    Parameters
    ----------
    client : distributed.Client
    models : str or sequence of str
        Model names, as passed to ``detect``/``recognize`` (``model=``), e.g. ``"ppocr"`` or
        ``"ocr_base_printed"`` (TrOCR, with its default decoding settings).
    tasks : sequence of str, optional
        Which of ``"detect"`` and ``"recognize"`` to load; default every task the model can do.
    threads, use_gpu
        Calls whose ``task_parallelism`` (default 1 in Dask) equals ``threads`` use these models,
        if their ``use_gpu`` is ``None`` (the default) or equals this one; calls with other
        settings load their own copy on first use.

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


def _current_client() -> Client | None:
    try:
        return default_client()
    except ValueError:
        return None


def default_partition_count(client: Client | None = None) -> int:
    """How many partitions a job should have here: 3 per worker thread on CPU, 2 per GPU worker.

    Uses ``client`` (default: the current client, if any) to see the workers; without one, the
    local scheduler's cores.
    """
    client = client or _current_client()
    if client is None:
        return PARTITIONS_PER_CPU_THREAD * (os.cpu_count() or 1)
    workers = _workers(client)
    gpu_workers = sum(1 for w in workers if w.get("resources", {}).get("GPU"))
    if gpu_workers:
        return PARTITIONS_PER_GPU_WORKER * gpu_workers
    return PARTITIONS_PER_CPU_THREAD * max(1, sum(w.get("nthreads", 1) for w in workers))


def _workers(client: Client | None) -> list[dict]:
    """What the scheduler knows of each worker (threads, resources); none without a client."""
    return [] if client is None else list(client.scheduler_info(n_workers=-1)["workers"].values())


def _part_name(index: int) -> str:
    return f"part.{index:06d}.parquet"


def _write_part(frame, fs, root: str, index: int) -> int:
    """Write one partition to a hidden temporary file, then move it into place (all or nothing)."""
    temporary = f"{root}/.{_part_name(index)}.{uuid.uuid4().hex}"
    with fs.open(temporary, "wb") as handle:
        frame.to_parquet(handle, index=False)
    fs.mv(temporary, f"{root}/{_part_name(index)}")
    return len(frame)


def _check_job(fs, root: str, job: dict, resume: bool) -> set[int]:
    """Partitions already written by the same job; clears the directory when not resuming."""
    job_path = f"{root}/{JOB_FILE}"
    existing = {path.rsplit("/", 1)[-1] for path in fs.ls(root, detail=False)} if fs.exists(root) else set()
    parts = {name for name in existing if name.startswith("part.") and name.endswith(".parquet")}
    unfinished = [f"{root}/{name}" for name in existing if name.startswith(".part.")]
    if unfinished:  # temporary files of an interrupted run
        fs.rm(unfinished)
    if resume and JOB_FILE in existing:
        with fs.open(job_path, "r") as handle:
            previous = json.load(handle)
        if previous != job:
            raise ValueError(f"{root} holds the output of a different job ({previous['npartitions']} partitions, "
                             f"columns {previous['columns']}); write elsewhere or pass resume=False to replace it")
        return {int(name.split(".")[1]) for name in parts}
    if parts and not resume:
        fs.rm([f"{root}/{name}" for name in parts])
    elif parts:
        raise ValueError(f"{root} holds Parquet parts but no {JOB_FILE}; it was not written by write_parquet")
    fs.makedirs(root, exist_ok=True)
    with fs.open(job_path, "w") as handle:
        json.dump(job, handle)
    return set()


def write_parquet(ddf, path: str, resume: bool = True, progress: bool = True,
                  storage_options: dict | None = None) -> int:
    """Write a Dask DataFrame to a directory of Parquet parts, one per partition, resumably.

    Each partition is written to a temporary file and moved into place only when complete, so an
    interrupted job leaves whole parts only.  Run the same job again with ``resume=True`` and the
    partitions already written are skipped: every input row ends up in the output exactly once.
    When a partition fails on a distributed cluster, the others still run to the end and are kept
    before the first error is raised, so the rerun computes only what failed.

    Parameters
    ----------
    ddf : dask.dataframe.DataFrame
        The job, e.g. ``read_images(...).ocr.detect().ocr.recognize()`` (drop the image bytes
        first unless you want them stored).  Resuming needs the same partitioning, so give
        ``read_images`` the same inputs (and ``files_per_partition``).
    path : str
        Output directory (local or fsspec URL); ``part.NNNNNN.parquet`` per partition, in order.
    resume : bool
        Skip partitions already written by the same job; ``False`` replaces earlier output.
    progress : bool
        Show progress: ``distributed.progress`` with a distributed client, else a progress bar
        on standard error.
    storage_options : dict, optional
        Passed to fsspec.

    Returns
    -------
    int
        Rows written by this call (not counting skipped partitions).

    Raises
    ------
    ValueError
        ``path`` holds another job's output (different partition count or columns) and ``resume`` is set.
    """
    import fsspec.core

    fs, root = fsspec.core.url_to_fs(path, **(storage_options or {}))
    root = root.rstrip("/")
    job = {"npartitions": int(ddf.npartitions), "columns": [str(c) for c in ddf.columns]}
    done = _check_job(fs, root, job, resume)
    todo = [i for i in range(ddf.npartitions) if i not in done]
    if not todo:
        return 0
    parts = ddf.to_delayed()
    tasks = [dask.delayed(_write_part)(parts[i], fs, root, i) for i in todo]
    client = _current_client()
    gpu_workers = any(w.get("resources", {}).get("GPU") for w in _workers(client))
    annotations = {"resources": {"GPU": 1}} if gpu_workers else {}
    with dask.annotate(**annotations):
        if client is not None:
            futures = client.compute(tasks)
            try:
                if progress:
                    from distributed import progress as show_progress

                    show_progress(futures)
                # Let every partition that can be written finish (a rerun then redoes only the
                # failures, and no task is left writing after we return), then raise the first error.
                wait(futures)
                return sum(client.gather(futures))
            except BaseException:
                client.cancel(futures)  # interrupted: stop the rest, and let a rerun recompute failed keys
                raise
        if progress:
            from dask.diagnostics import ProgressBar

            with ProgressBar(out=sys.stderr):
                return sum(dask.compute(*tasks))
        return sum(dask.compute(*tasks))
