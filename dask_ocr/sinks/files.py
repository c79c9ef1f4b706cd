"""What both sinks need of an output folder: atomic writes, a job record, and a lock.

A sink owns only the files its record names.  The record is written atomically (a temporary file moved into
place), so a full disk leaves the previous record or none, never half of one; an unreadable record is reported
in one line.  A folder lock keeps two jobs from writing into one folder at once (local folders only: fsspec
has no portable lock for object stores).
"""

from __future__ import annotations

import contextlib
import json
import uuid

__all__ = ["LOCK_FILE", "RecordError", "folder_lock", "read_record", "write_atomically", "write_record"]

#: The lock file a sink holds in its output folder while it writes there (never counted as a user's file).
LOCK_FILE = ".dask_ocr.lock"


class RecordError(ValueError):
    """A sink's job record exists but cannot be read (empty or damaged)."""


def write_atomically(fs, target: str, write, mode: str = "wb", temporary: str | None = None) -> None:
    """``write(handle)`` into a hidden temporary file beside ``target``, then move it into place.

    A failure (a full disk, an exception in ``write``) removes the temporary file and leaves ``target`` as it was.
    ``temporary`` names the temporary file (default: ``.<name>.<random>`` beside ``target``).
    """
    if temporary is None:
        folder, name = target.rsplit("/", 1) if "/" in target else (".", target)
        temporary = f"{folder}/.{name}.{uuid.uuid4().hex}"
    try:
        with fs.open(temporary, mode) as handle:
            write(handle)
        fs.mv(temporary, target)
    except BaseException:
        with contextlib.suppress(Exception):
            if fs.exists(temporary):
                fs.rm(temporary)
        raise


def read_record(fs, path: str) -> dict | None:
    """The JSON record at ``path``; None when there is none.

    Raises
    ------
    RecordError
        The record exists but is empty or not a JSON object.
    """
    if not fs.exists(path):
        return None
    try:
        with fs.open(path, "rb") as handle:
            record = json.loads(handle.read().decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise RecordError(f"{path} is unreadable ({_why(exc)})") from None
    if not isinstance(record, dict):
        raise RecordError(f"{path} is unreadable (not a dask_ocr job record)")
    return record


def _why(exc: Exception) -> str:
    return "empty" if isinstance(exc, json.JSONDecodeError) and not exc.doc.strip() else f"{type(exc).__name__}: {exc}"


def write_record(fs, path: str, record: dict) -> None:
    """Write ``record`` as JSON to ``path``, atomically."""
    data = json.dumps(record, indent=1, sort_keys=True).encode("utf-8")
    write_atomically(fs, path, lambda handle: handle.write(data))


@contextlib.contextmanager
def folder_lock(fs, root: str, busy: str, wait=None):
    """Hold the lock of the output folder ``root`` (created if needed) for the duration of the block.

    Parameters
    ----------
    fs : fsspec.AbstractFileSystem
        The folder's filesystem; only local folders are locked (others are written unlocked).
    root : str
        The output folder.
    busy : str
        The message of the :class:`FileExistsError` raised when another process holds the lock.
    wait : callable, optional
        Called when the lock is held elsewhere: True waits for it (the same job, started twice) instead of
        raising.
    """
    from fsspec.implementations.local import LocalFileSystem

    fs.makedirs(root, exist_ok=True)
    if not isinstance(fs, LocalFileSystem):
        yield
        return
    import filelock

    lock = filelock.FileLock(f"{root}/{LOCK_FILE}")
    try:
        lock.acquire(timeout=0)
    except filelock.Timeout:
        if wait is None or not wait():
            raise FileExistsError(busy) from None
        lock.acquire()
    try:
        yield
    finally:
        lock.release()
