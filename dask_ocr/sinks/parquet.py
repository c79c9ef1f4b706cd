"""A resumable Parquet writer: one part per partition, written whole or not at all."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

import dask
from dask.base import tokenize

from ..progress import compute_with_progress
from ..scheduling import current_client, has_gpu_workers

__all__ = ["JOB_FILE", "JobStatus", "job_status", "part_path", "write_parquet"]

JOB_FILE = "_dask_ocr_job.json"


def _part_name(index: int) -> str:
    return f"part.{index:06d}.parquet"


def part_path(path: str, index: int) -> str:
    """Where :func:`write_parquet` writes partition ``index`` under ``path``."""
    return f"{str(path).rstrip('/')}/{_part_name(index)}"


def _write_part(frame, fs, root: str, index: int) -> int:
    """Write one partition to a hidden temporary file, then move it into place (all or nothing)."""
    import pyarrow.parquet as pq

    from ..portable_parquet import portable_parquet_table

    temporary = f"{root}/.{_part_name(index)}.{uuid.uuid4().hex}"
    with fs.open(temporary, "wb") as handle:  # nested columns recorded so that plain pandas reads them too
        pq.write_table(portable_parquet_table(frame), handle)
    fs.mv(temporary, f"{root}/{_part_name(index)}")
    return len(frame)


@dataclass(frozen=True)
class JobStatus:
    """What an output directory holds of a job: the partitions already written, and their rows."""

    done: tuple[int, ...]
    total: int
    rows_done: int

    @property
    def finished(self) -> bool:
        return len(self.done) == self.total


def _job_record(ddf) -> dict:
    """What identifies a job: its partitioning, columns, and a fingerprint of its whole graph (inputs,
    models, settings), deterministic across processes for the same files and calls."""
    return {"writer": "dask_ocr", "npartitions": int(ddf.npartitions), "columns": [str(c) for c in ddf.columns],
            "fingerprint": tokenize(ddf)}


def _listing(fs, root: str) -> set[str]:
    if fs.isfile(root):
        raise FileExistsError(f"{root} is a file; write_parquet writes a directory of Parquet parts: "
                              "give a directory path")
    return {p.rsplit("/", 1)[-1] for p in fs.ls(root, detail=False)} if fs.exists(root) else set()


def _our_files(names: set[str], npartitions: int) -> tuple[list[str], list[str]]:
    """The parts (and half-written temporaries) of a recorded job among ``names``."""
    parts = sorted(_part_name(i) for i in range(npartitions) if _part_name(i) in names)
    temporaries = sorted(n for n in names if n.startswith(".part.") and n.split(".")[2].isdigit())
    return parts, temporaries


def _previous_job(fs, root: str, names: set[str]) -> dict | None:
    if JOB_FILE not in names:
        if names:
            shown = ", ".join(sorted(names)[:5]) + (", ..." if len(names) > 5 else "")
            raise FileExistsError(f"{root} holds files not written by dask_ocr ({shown}); they are left alone: "
                                  "write to a new or empty directory")
        return None
    with fs.open(f"{root}/{JOB_FILE}", "r") as handle:
        return json.load(handle)


def job_status(ddf, path: str, resume: bool = True, overwrite: bool = False,
               storage_options: dict | None = None) -> JobStatus:
    """Check, without writing, what :func:`write_parquet` would do with ``path`` (same arguments).

    Raises
    ------
    FileExistsError
        ``path`` is a file, holds files dask_ocr did not write, or holds this job's output while
        neither ``resume`` nor ``overwrite`` is set.
    ValueError
        ``path`` holds another job's output and ``overwrite`` is not set.
    """
    fs, root = _filesystem(path, storage_options)
    names = _listing(fs, root)
    previous, job = _previous_job(fs, root, names), _job_record(ddf)
    if previous is None or overwrite:
        return JobStatus((), job["npartitions"], 0)
    if previous != job:
        raise ValueError(f"{root} holds the output of a different job ({previous.get('npartitions')} partitions, "
                         f"columns {previous.get('columns')}, other inputs or settings); write elsewhere or pass "
                         "overwrite=True (--overwrite) to replace it")
    if not resume:
        raise FileExistsError(f"{root} already holds this job's output; pass resume=True (--resume) to finish it "
                              "or overwrite=True (--overwrite) to write it again")
    parts, _ = _our_files(names, job["npartitions"])
    rows = sum(_rows(fs, f"{root}/{name}") for name in parts)
    return JobStatus(tuple(int(name.split(".")[1]) for name in parts), job["npartitions"], rows)


def _rows(fs, path: str) -> int:
    import pyarrow.parquet as pq

    with fs.open(path, "rb") as handle:
        return pq.ParquetFile(handle).metadata.num_rows


def _filesystem(path: str, storage_options: dict | None):
    import fsspec.core

    fs, root = fsspec.core.url_to_fs(path, **(storage_options or {}))
    return fs, root.rstrip("/")


def _prepare(fs, root: str, ddf, status: JobStatus) -> None:
    """Clear what a replaced or interrupted run of ours left (never other files), and record the job."""
    names = _listing(fs, root)
    previous = _previous_job(fs, root, names)
    if previous is not None:
        parts, temporaries = _our_files(names, int(previous.get("npartitions", 0)))
        stale = temporaries + ([] if status.done else parts)
        if stale:
            fs.rm([f"{root}/{name}" for name in stale])
    fs.makedirs(root, exist_ok=True)
    with fs.open(f"{root}/{JOB_FILE}", "w") as handle:
        json.dump(_job_record(ddf), handle)


def write_parquet(ddf, path: str, resume: bool = True, overwrite: bool = False, progress: bool = True,
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
        Skip partitions already written by the same job (same inputs, settings, partitioning and
        columns: a fingerprint of the whole graph is recorded in ``_dask_ocr_job.json``).
    overwrite : bool
        Replace what an earlier job of ours wrote there (only its own parts are removed).
    progress : bool
        Report finished partitions on standard error (see :mod:`dask_ocr.progress`).
    storage_options : dict, optional
        Passed to fsspec.

    Returns
    -------
    int
        Rows written by this call (not counting skipped partitions; :func:`job_status` tells those).

    Raises
    ------
    FileExistsError
        ``path`` is a file, or a directory holding files dask_ocr did not write (never removed), or
        this job's output while neither ``resume`` nor ``overwrite`` is set.
    ValueError
        ``path`` holds another job's output and ``overwrite`` is not set.
    """
    status = job_status(ddf, path, resume, overwrite, storage_options)
    fs, root = _filesystem(path, storage_options)
    _prepare(fs, root, ddf, status)
    todo = [i for i in range(ddf.npartitions) if i not in status.done]
    if not todo:
        return 0
    parts = ddf.to_delayed()
    tasks = [dask.delayed(_write_part)(parts[i], fs, root, i) for i in todo]
    client = current_client()
    annotations = {"resources": {"GPU": 1}} if has_gpu_workers(client) else {}
    with dask.annotate(**annotations):
        return sum(compute_with_progress(tasks, client, progress))
