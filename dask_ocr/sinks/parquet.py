"""A resumable Parquet writer: one part per partition, written whole or not at all."""

from __future__ import annotations

import json
import uuid

import dask

from ..progress import compute_with_progress
from ..scheduling import current_client, has_gpu_workers

__all__ = ["JOB_FILE", "write_parquet"]

JOB_FILE = "_dask_ocr_job.json"


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
        Report finished partitions on standard error (see :mod:`dask_ocr.progress`).
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
    client = current_client()
    annotations = {"resources": {"GPU": 1}} if has_gpu_workers(client) else {}
    with dask.annotate(**annotations):
        return sum(compute_with_progress(tasks, client, progress))
