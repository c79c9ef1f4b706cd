"""Process settings for inference in a Dask worker: heap allocation and OpenCV threads."""

from __future__ import annotations

__all__ = ["tune_worker_process"]

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
