"""What the current scheduler offers, and how many partitions suit it.

``distributed`` is imported inside the functions only: ``import dask_ocr`` does not need it.
"""

from __future__ import annotations

import os
import sys

__all__ = ["connect", "current_client", "worker_info", "has_gpu_workers", "default_partition_count",
           "PARTITIONS_PER_CPU_THREAD", "PARTITIONS_PER_GPU_WORKER"]

#: Partitions per worker thread on CPU and per worker on GPU (the Visual NLP advice: 2-3 and 1-2).
PARTITIONS_PER_CPU_THREAD = 3
PARTITIONS_PER_GPU_WORKER = 2


def connect(address: str):
    """A ``distributed.Client`` of the running scheduler at ``address`` (``tcp://host:8786``)."""
    from distributed import Client

    return Client(address)


def current_client():
    """The default ``distributed.Client`` of this process, or ``None`` (at once where ``distributed`` is not
    imported: making a client imports it, and importing it to find out costs a small job 0.1-0.2 s)."""
    if sys.modules.get("distributed") is None:
        return None
    from distributed import default_client

    try:
        return default_client()
    except ValueError:
        return None


def worker_info(client) -> list[dict]:
    """What the scheduler knows of each worker (threads, resources); none without a client."""
    return [] if client is None else list(client.scheduler_info(n_workers=-1)["workers"].values())


def has_gpu_workers(client) -> bool:
    """Whether any worker of ``client`` declares a ``GPU`` resource."""
    return any(w.get("resources", {}).get("GPU") for w in worker_info(client))


def default_partition_count(client=None) -> int:
    """How many partitions a job should have here: 3 per worker thread on CPU, 2 per GPU worker.

    Uses ``client`` (default: the current client, if any) to see the workers; without one, the
    local scheduler's cores.
    """
    client = client or current_client()
    if client is None:
        return PARTITIONS_PER_CPU_THREAD * (os.cpu_count() or 1)
    workers = worker_info(client)
    gpu_workers = sum(1 for w in workers if w.get("resources", {}).get("GPU"))
    if gpu_workers:
        return PARTITIONS_PER_GPU_WORKER * gpu_workers
    return PARTITIONS_PER_CPU_THREAD * max(1, sum(w.get("nthreads", 1) for w in workers))
