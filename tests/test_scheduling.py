"""dask_ocr.cluster.scheduling: partition counts for the local machine, CPU workers and GPU workers."""

from __future__ import annotations

import os

import pytest

from dask_ocr.cluster import scheduling
from dask_ocr.cluster.scheduling import (
    PARTITIONS_PER_CPU_THREAD,
    PARTITIONS_PER_GPU_WORKER,
    default_partition_count,
    has_gpu_workers,
    worker_info,
)


class FakeClient:
    """Answers ``scheduler_info`` as a ``distributed.Client`` does, for the workers given."""

    def __init__(self, *workers: dict):
        self.workers = {f"tcp://10.0.0.{i}:4000": w for i, w in enumerate(workers)}

    def scheduler_info(self, n_workers=5):
        assert n_workers == -1, "every worker must be listed, not the first 5"
        return {"workers": self.workers}


def test_the_visual_nlp_advice():
    assert (PARTITIONS_PER_CPU_THREAD, PARTITIONS_PER_GPU_WORKER) == (3, 2)


def test_without_a_client_three_per_local_core(monkeypatch):
    monkeypatch.setattr(scheduling, "current_client", lambda: None)
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    assert default_partition_count() == 12
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    assert default_partition_count() == 3
    assert worker_info(None) == [] and not has_gpu_workers(None)


def test_cpu_workers_three_per_thread():
    client = FakeClient({"nthreads": 2}, {"nthreads": 1}, {"nthreads": 4, "resources": {}})
    assert default_partition_count(client) == 21 and not has_gpu_workers(client)
    assert default_partition_count(FakeClient()) == 3                 # no workers yet: as for one thread


def test_gpu_workers_two_each():
    gpu = {"nthreads": 1, "resources": {"GPU": 1}}
    client = FakeClient(gpu, gpu, gpu, {"nthreads": 8})                # the CPU-only worker adds nothing
    assert has_gpu_workers(client) and default_partition_count(client) == 6


def test_the_current_client_is_used(monkeypatch):
    distributed = pytest.importorskip("distributed")
    client = FakeClient({"nthreads": 5})
    monkeypatch.setattr(distributed, "default_client", lambda: client)
    assert scheduling.current_client() is client and default_partition_count() == 15

    def no_client():
        raise ValueError("No clients found")

    monkeypatch.setattr(distributed, "default_client", no_client)
    assert scheduling.current_client() is None
