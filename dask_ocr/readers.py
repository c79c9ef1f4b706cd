"""Files in: list paths on the client and build Dask frames whose partitions read them on the workers.

The client only lists files (and, for documents, counts pages); every byte is read inside the tasks.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

from .schema import ERROR_COL

__all__ = ["IMAGE_SUFFIXES", "list_files", "read_images"]

#: What a directory given to :func:`read_images` is expanded to.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".gif", ".webp", ".jp2", ".pnm", ".pgm", ".ppm")
_GLOB_CHARACTERS = set("*?[")


def _expand_one(fs, path: str, suffixes: Sequence[str], recursive: bool) -> list[str]:
    """The files one path names: itself, a directory's files with ``suffixes``, or a glob's matches."""
    if fs.isfile(path):  # an existing file is taken literally, even if its name holds [ ] * ?
        return [path]
    if fs.isdir(path):
        found = fs.find(path, maxdepth=None if recursive else 1)
        return [p for p in found if p.lower().endswith(tuple(suffixes))]
    if _GLOB_CHARACTERS & set(path):
        return [p for p in fs.glob(path) if not fs.isdir(p)]
    return []


def list_files(paths: str | Sequence[str], storage_options: dict | None = None,
               suffixes: Sequence[str] = IMAGE_SUFFIXES, recursive: bool = False):
    """Expand local paths, directories, globs and fsspec URLs to ``(filesystem, sorted paths)``.

    An existing file is taken as it is; a directory gives the files inside it whose names end
    in one of ``suffixes`` (its subdirectories too with ``recursive``); anything else is a glob.

    Raises
    ------
    FileNotFoundError
        Naming every path or glob that matched no file.
    """
    import fsspec.core

    paths = [os.fspath(paths)] if isinstance(paths, (str, os.PathLike)) else [os.fspath(p) for p in paths]
    if not paths:
        raise ValueError("give at least one path, directory or glob")
    fs, _, _ = fsspec.core.get_fs_token_paths(paths[0], mode="rb", storage_options=storage_options or {})
    found, missing = [], []
    for path in paths:
        matches = _expand_one(fs, fs._strip_protocol(path), suffixes, recursive)
        found.extend(matches)
        if not matches:
            missing.append(path)
    if missing:
        kinds = ", ".join(f"{p!r} ({_why_nothing(fs, fs._strip_protocol(p), recursive)})" for p in missing[:10])
        more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
        raise FileNotFoundError(f"found no files for {kinds}{more}")
    return fs, sorted(dict.fromkeys(found))


def _why_nothing(fs, path: str, recursive: bool) -> str:
    if fs.isdir(path):
        hint = "" if recursive else "; pass recursive=True to look in its subdirectories"
        return f"a directory with no {'/'.join(s[1:] for s in IMAGE_SUFFIXES[:4])}... files{hint}"
    return "a glob that matches nothing" if _GLOB_CHARACTERS & set(path) else "no such file"


def default_files_per_partition(n_items: int) -> int:
    """Items per partition for :func:`dask_ocr.scheduling.default_partition_count` partitions, 1..64."""
    from .scheduling import default_partition_count

    return max(1, min(64, math.ceil(n_items / default_partition_count())))


def read_images(paths, files_per_partition: int | None = None, storage_options: dict | None = None,
                recursive: bool = False):
    """Read image files into a Dask DataFrame with columns ``path``, ``content`` and ``ocr_error``.

    Parameters
    ----------
    paths : str, path or list of them
        Local paths, directories, globs (``"scans/**/*.jpg"``) or fsspec URLs (``"s3://bucket/*.png"``).
        An existing file is taken literally (``scan[1].jpg``); a directory gives its image files.
    files_per_partition : int, optional
        Files per partition.  The default follows the Visual NLP advice for the current client
        (3 partitions per worker thread on CPU, 2 per GPU worker) or, without one, 3 per local
        core; at most 64 files each, so a partition's decoded pages fit in memory.
    storage_options : dict, optional
        Passed to fsspec (credentials, endpoint, ...).
    recursive : bool
        Directories: also read the images in their subdirectories.

    Returns
    -------
    dask.dataframe.DataFrame
        ``path`` (string) and ``content`` (Arrow ``binary``) columns, one row per file, in sorted
        path order, with a unique index ``0..n-1``.  A file that cannot be read gets a null
        ``content`` cell and the reason in ``ocr_error``, which the ``ocr`` methods pass on.

    Raises
    ------
    FileNotFoundError
        A path, directory or glob that names no file.
    """
    import dask.dataframe as dd

    fs, files = list_files(paths, storage_options, recursive=recursive)
    per_partition = files_per_partition or default_files_per_partition(len(files))
    if per_partition < 1:
        raise ValueError(f"files_per_partition must be >= 1, got {per_partition}")
    starts = range(0, len(files), per_partition)
    chunks = [(start, files[start:start + per_partition]) for start in starts]
    divisions = (*starts, len(files) - 1)
    return dd.from_map(_ReadFiles(fs), chunks, meta=files_frame([], [], []), divisions=divisions,
                       enforce_metadata=False)


class _ReadFiles:
    """Picklable partition reader: ``(first row number, paths)`` → a pandas frame of bytes."""

    def __init__(self, fs):
        self.fs = fs

    def __call__(self, chunk: tuple[int, list[str]]):
        from fsspec.implementations.local import LocalFileSystem

        start, paths = chunk
        contents, errors = [], []
        for path in paths:
            try:
                contents.append(self.fs.cat_file(path))
                errors.append(None)
            except Exception as exc:  # permissions, a file removed since listing, a network error
                contents.append(None)
                errors.append(f"cannot read {path}: {type(exc).__name__}: {exc}")
        local = isinstance(self.fs, LocalFileSystem)
        names = [p if local else self.fs.unstrip_protocol(p) for p in paths]
        return files_frame(names, contents, errors, start)


def files_frame(paths: list[str], contents: list, errors: list, start: int = 0):
    """The pandas frame :func:`read_images` partitions hold (index ``start, start + 1, ...``)."""
    import pandas as pd
    import pyarrow as pa

    from .schema import BINARY_DTYPE, STRING_DTYPE

    index = pd.RangeIndex(start, start + len(paths))
    return pd.DataFrame({
        "path": pd.array(paths, dtype=STRING_DTYPE),
        "content": pd.array(pa.array(contents, type=pa.binary()), dtype=BINARY_DTYPE),
        ERROR_COL: pd.array(errors, dtype=STRING_DTYPE),
    }, index=index)
