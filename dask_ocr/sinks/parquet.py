"""A resumable Parquet writer: one part per partition, written whole or not at all; and Parquet any tool reads.

The output folder holds ``part.NNNNNN.parquet`` per partition and ``_dask_ocr_job.json``, the job record:
the job's partitioning, columns and fingerprint, and the token its temporary files are named with.  Only the
parts and temporaries that record names are ever removed; a folder holding anything else is refused.

pyarrow records ``str(dtype)`` of every pandas column in a file's pandas metadata (``numpy_type``) and pandas
parses it back on reading; it cannot parse nested Arrow names such as ``list<item: struct<...>>[pyarrow]``
(pandas-dev/pandas#53011, #57411), so ``pd.read_parquet`` fails on a frame with our nested columns written by
``to_parquet``.  Our writers (:func:`write_parquet`, :func:`to_portable_parquet`, the command line) record a nested
Arrow column as ``"object"`` instead, its real dtype name kept as ``{"arrow_dtype": name}`` in the column's
metadata: plain pandas reads an object column of lists and dicts, and ``pd.read_parquet(path,
dtype_backend="pyarrow")`` the same ``ArrowDtype`` columns that were written.  The Arrow schema is untouched, so
pyarrow, DuckDB and polars see the nested types as they are.  Nothing is registered with pandas or pyarrow.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass

import dask
import pandas as pd
import pyarrow as pa

from ..schema import is_nested_arrow_dtype
from .files import LOCK_FILE, FolderLock, RecordError, read_record, write_atomically, write_record
from .fingerprint import fingerprint
from .lazy import LazyWrite, compute_writes, partitions

__all__ = ["JOB_FILE", "ARROW_DTYPE_KEY", "JobStatus", "job_status", "parquet_write", "part_path", "portable_table",
           "to_portable_parquet", "write_parquet"]

JOB_FILE = "_dask_ocr_job.json"
_PART = re.compile(r"part\.\d{6}\.parquet")
#: Key, in a column's pandas metadata, of the Arrow dtype name a nested column was recorded without.
ARROW_DTYPE_KEY = "arrow_dtype"


def portable_table(frame: pd.DataFrame, preserve_index: bool = False) -> pa.Table:
    """``frame`` as an Arrow table whose pandas metadata plain pandas parses: nested Arrow columns recorded as
    ``"object"``, their dtype names under :data:`ARROW_DTYPE_KEY` (see the module's notes)."""
    table = pa.Table.from_pandas(frame, preserve_index=preserve_index)
    metadata, dtypes = table.schema.pandas_metadata or {}, dict(frame.dtypes.items())
    columns = []
    for column in metadata.get("columns", []):
        dtype = dtypes.get(column.get("name"))
        if is_nested_arrow_dtype(dtype) and column.get("numpy_type") != "object":
            column = {**column, "numpy_type": "object",
                      "metadata": {**(column.get("metadata") or {}), ARROW_DTYPE_KEY: str(dtype)}}
        columns.append(column)
    pandas = json.dumps({**metadata, "columns": columns}).encode()
    return table.replace_schema_metadata({**(table.schema.metadata or {}), b"pandas": pandas})


def to_portable_parquet(frame: pd.DataFrame, path: str, index: bool = False, storage_options: dict | None = None,
                        **options) -> None:
    """Write a pandas DataFrame to one Parquet file that plain pandas, pyarrow, DuckDB and polars all read.

    For frames written with your own ``to_parquet``: ``DataFrame.to_parquet`` records the names of nested Arrow
    dtypes (our ``regions`` and ``positions`` columns), which plain ``pd.read_parquet`` cannot parse back; this
    writes them as plain pandas reads them (see the module's notes).  A Dask DataFrame: :func:`write_parquet`.
    Any of these files, and those of ``to_parquet``, read back with their Arrow dtypes by
    ``pd.read_parquet(path, dtype_backend="pyarrow")`` (``dd.read_parquet`` alike).

    Parameters
    ----------
    frame : pandas.DataFrame
    path : str
        The file (local or fsspec URL), written atomically: a failed write leaves no file.
    index : bool
        Store the index as a column (default: only the columns, as :func:`write_parquet`).
    storage_options : dict, optional
        Passed to fsspec.
    **options
        Passed to ``pyarrow.parquet.write_table`` (``compression``, ``row_group_size``, ...).
    """
    import fsspec.core
    import pyarrow.parquet as pq

    fs, target = fsspec.core.url_to_fs(str(path), **(storage_options or {}))
    table = portable_table(frame, preserve_index=index)
    write_atomically(fs, target, lambda handle: pq.write_table(table, handle, **options))


def _part_name(index: int) -> str:
    return f"part.{index:06d}.parquet"


def part_path(path: str, index: int) -> str:
    """Where :func:`write_parquet` writes partition ``index`` under ``path``."""
    return f"{str(path).rstrip('/')}/{_part_name(index)}"


def _temporary_name(index: int, run: str) -> str:
    """The hidden file partition ``index`` is written to by the run whose record holds ``run``."""
    return f".{_part_name(index)}.{run}"


def _write_part(frame, fs, root: str, index: int, run: str) -> int:
    """Write one partition to a hidden temporary file named for ``run``, then move it into place (all or
    nothing)."""
    import pyarrow.parquet as pq

    table = portable_table(frame)
    write_atomically(fs, f"{root}/{_part_name(index)}", lambda handle: pq.write_table(table, handle),
                     temporary=f"{root}/{_temporary_name(index, run)}")
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
    """What identifies a job: its partitioning, columns, and a fingerprint of what defines it (inputs, steps,
    models, settings; see :mod:`dask_ocr.sinks.fingerprint`), the same across processes for the same job."""
    return {"writer": "dask_ocr", "npartitions": int(ddf.npartitions), "columns": [str(c) for c in ddf.columns],
            "fingerprint": fingerprint(ddf)}


def _same_job(previous: dict, job: dict) -> bool:
    return all(previous.get(key) == value for key, value in job.items())


def _listing(fs, root: str) -> set[str]:
    if fs.isfile(root):
        raise FileExistsError(f"{root} is a file; write_parquet writes a directory of Parquet parts: "
                              "give a directory path")
    if not fs.exists(root):
        return set()
    return {p.rstrip("/").rsplit("/", 1)[-1] for p in fs.ls(root, detail=False)} - {LOCK_FILE}


def _our_files(names: set[str], record: dict) -> tuple[list[str], list[str]]:
    """The parts and half-written temporaries among ``names`` that the job ``record`` names."""
    npartitions, run = int(record.get("npartitions", 0)), record.get("run")
    if not record:  # an unreadable record (overwrite=True): the parts named as ours are taken as its job's
        return sorted(name for name in names if _PART.fullmatch(name)), []
    parts = sorted(_part_name(i) for i in range(npartitions) if _part_name(i) in names)
    temporaries = sorted(name for i in range(npartitions) if run
                         for name in [_temporary_name(i, str(run))] if name in names)
    return parts, temporaries


def _previous_job(fs, root: str, names: set[str], overwrite: bool = False) -> dict | None:
    """The record of the job that wrote ``root`` (``{}`` for an unreadable one with ``overwrite``)."""
    if JOB_FILE not in names:
        if names:
            shown = ", ".join(sorted(names)[:5]) + (", ..." if len(names) > 5 else "")
            raise FileExistsError(f"{root} holds files not written by dask_ocr ({shown}); they are left alone: "
                                  "write to a new or empty directory")
        return None
    try:
        return read_record(fs, f"{root}/{JOB_FILE}")
    except RecordError as exc:
        if overwrite:
            return {}
        raise RecordError(f"{exc}: pass overwrite=True (--overwrite) to write the job again") from None


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
    previous, job = _previous_job(fs, root, names, overwrite), _job_record(ddf)
    if previous is None or overwrite:
        return JobStatus((), job["npartitions"], 0)
    if not _same_job(previous, job):
        raise ValueError(f"{root} holds the output of a different job ({previous.get('npartitions')} partitions, "
                         f"columns {previous.get('columns')}, other inputs or settings); write elsewhere or pass "
                         "overwrite=True (--overwrite) to replace it")
    if not resume:
        raise FileExistsError(f"{root} already holds this job's output; pass resume=True (--resume) to finish it "
                              "or overwrite=True (--overwrite) to write it again")
    parts, _ = _our_files(names, previous)
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


def _prepare(fs, root: str, ddf, status: JobStatus, overwrite: bool) -> str:
    """Clear what a replaced or interrupted run of ours left (only files its record names), record the job,
    and return the token this run names its temporary files with."""
    names = _listing(fs, root)
    previous = _previous_job(fs, root, names, overwrite)
    if previous is not None:
        parts, temporaries = _our_files(names, previous)
        stale = temporaries + ([] if status.done else parts)
        if stale:
            fs.rm([f"{root}/{name}" for name in stale])
    run = uuid.uuid4().hex
    write_record(fs, f"{root}/{JOB_FILE}", {**_job_record(ddf), "run": run})
    return run


def write_parquet(ddf, path: str, resume: bool = True, overwrite: bool = False, progress: bool = True,
                  storage_options: dict | None = None, compute: bool = True):
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
        Skip partitions already written by the same job.  The same job is the same partitioning and
        columns, the same inputs (paths and reading options), and the same steps with the same parameters;
        a user's function counts by its module, qualified name and code, an instance of a user's class by
        its class (and the code of its methods) and its attributes, so the job built again in a new process
        resumes.  The contents of input files are not read: a file changed under the same path is the same
        input.
    overwrite : bool
        Replace what an earlier job of ours wrote there (only the files its record names are removed);
        over an unreadable record (a full disk), the ``part.NNNNNN.parquet`` files are taken as its own.
    progress : bool
        Report finished partitions on standard error (see :mod:`dask_ocr.cluster.progress`).
    storage_options : dict, optional
        Passed to fsspec.
    compute : bool
        False: check and prepare the folder now (the errors below are raised by this call), take its lock, and
        return the write as a ``dask.delayed`` object, to compute together with other writes of the same frame
        (``dask.compute(write_parquet(..., compute=False), write_pdf(..., compute=False))`` runs the OCR
        once).  Its ``compute()`` gives what this call returns.  The lock is released by its last task, or,
        where that runs in another process (a distributed cluster), when the object is dropped; until then
        another write to ``path`` is refused.  On GPU workers, compute it inside
        ``dask.annotate(resources={"GPU": 1})``.  No progress is reported.

    Returns
    -------
    int
        Rows written by this call (not counting skipped partitions; :func:`job_status` tells those).

    Raises
    ------
    FileExistsError
        ``path`` is a file, or a directory holding files dask_ocr did not write (never removed), or
        this job's output while neither ``resume`` nor ``overwrite`` is set, or another job is writing there
        now (local folders are locked while a job writes; the same job started twice waits instead and
        then finds its work done).
    ValueError
        ``path`` holds another job's output and ``overwrite`` is not set, or an unreadable job record
        (:class:`~dask_ocr.sinks.files.RecordError`) and ``overwrite`` is not set.
    """
    write = parquet_write(ddf, path, resume, overwrite, storage_options, lazy=not compute)
    return compute_writes([write], progress)[0] if compute else write.result


def parquet_write(ddf, path: str, resume: bool = True, overwrite: bool = False, storage_options: dict | None = None,
                  lazy: bool = True) -> LazyWrite:
    """:func:`write_parquet` built, not run: the folder checked, locked and prepared, the partitions to write
    (``steps``) and the row count (``result``) as delayed objects.  ``lazy``: see
    :func:`~dask_ocr.sinks.lazy.partitions`."""
    job_status(ddf, path, resume, overwrite, storage_options)  # refuse before touching the folder
    fs, root = _filesystem(path, storage_options)
    lock = FolderLock(fs, root, f"{root} is being written by another dask_ocr job now; wait for it to finish or "
                                "write elsewhere", wait=lambda: resume and _recorded_job_is(fs, root, ddf), lazy=lazy)
    try:
        status = job_status(ddf, path, resume, overwrite, storage_options)
        run = _prepare(fs, root, ddf, status, overwrite)
    except BaseException:
        lock.release()
        raise
    todo = [i for i in range(ddf.npartitions) if i not in status.done]
    parts = partitions(ddf, lazy) if todo else []
    steps = [dask.delayed(_write_part)(parts[i], fs, root, i, run) for i in todo]
    return LazyWrite(steps, dask.delayed(_finish)(steps, lock), lock)


def _finish(rows: list[int], lock: FolderLock) -> int:
    """The last task of a write: release the folder and count the rows written."""
    lock.release()
    return sum(rows)


def _recorded_job_is(fs, root: str, ddf) -> bool:
    """Whether the job recorded in ``root`` is ``ddf`` (the same job started twice)."""
    try:
        record = read_record(fs, f"{root}/{JOB_FILE}")
    except RecordError:
        return False
    return record is not None and _same_job(record, _job_record(ddf))
