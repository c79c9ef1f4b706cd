"""What both sinks need of an output folder: atomic writes, a job record, and a lock.

A sink owns only the files its record names.  The record is written atomically (a temporary file moved into
place), so a full disk leaves the previous record or none, never half of one; an unreadable record is reported
in one line.  A folder lock keeps two jobs from writing into one folder at once (local folders only: fsspec
has no portable lock for object stores).

The lock belongs to the process that builds a write (it is taken when the write is built, before its graph
runs) and is given back by the write's last task when that runs in the same process, else when the write is
dropped or the process ends: a lock taken inside a task would belong to whichever worker ran it, and no other
worker could give it back.
"""

from __future__ import annotations

import contextlib
import json
import uuid
import weakref

__all__ = ["LOCK_FILE", "FolderLock", "RecordError", "read_record", "write_atomically", "write_record"]

#: The lock file a sink holds in its output folder while it writes there (never counted as a user's file).
LOCK_FILE = ".dask_ocr.lock"
#: The folders whose lock a write built with ``compute=False`` in this process holds (not yet computed).
_HELD_LAZILY: set[str] = set()


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


class FolderLock:
    """The lock of the output folder ``root`` (created if needed), held by this process until :meth:`release`.

    A write's graph carries its lock to its last task, which releases it.  Where that task runs in another
    process (a distributed cluster, the processes scheduler) it gets a copy that releases nothing, and the lock
    is released when the write is dropped here (garbage collected) or this process ends.  Release is idempotent.

    Parameters
    ----------
    fs : fsspec.AbstractFileSystem
        The folder's filesystem; only local folders are locked (others are written unlocked).
    root : str
        The output folder.
    busy : str
        The message of the :class:`FileExistsError` raised when another job holds the lock.
    wait : callable, optional
        Called when the lock is held elsewhere: True waits for it (the same job, started twice) instead of
        raising.  Never waits for a write of this process built with ``compute=False`` (it could wait forever).
    lazy : bool
        Held for a write built with ``compute=False``: until it is computed, another write of this process
        to ``root`` is refused instead of waiting for it.
    """

    def __init__(self, fs, root: str, busy: str, wait=None, lazy: bool = False):
        from fsspec.implementations.local import LocalFileSystem

        fs.makedirs(root, exist_ok=True)
        lock = _acquire(root, busy, wait) if isinstance(fs, LocalFileSystem) else None
        if lazy:
            _HELD_LAZILY.add(root)
        self.token = uuid.uuid4().hex
        self._release = weakref.finalize(self, _let_go, lock, root if lazy else None)

    def release(self) -> None:
        """Give the lock back (no-op after the first call, and in any other process)."""
        self._release()

    def __reduce__(self):
        return _Elsewhere, ()

    def __dask_tokenize__(self):
        return self.token


class _Elsewhere:
    """What a :class:`FolderLock` becomes in another process: it holds nothing there, so releases nothing."""

    def release(self) -> None:
        pass


def _acquire(root: str, busy: str, wait):
    import filelock

    lock = filelock.FileLock(f"{root}/{LOCK_FILE}", thread_local=False)  # the last task may run on another thread
    try:
        lock.acquire(timeout=0)
    except filelock.Timeout:
        if root in _HELD_LAZILY:
            raise FileExistsError(f"{busy} (a write of this process built with compute=False holds it: compute "
                                  "or drop that write first)") from None
        if wait is None or not wait():
            raise FileExistsError(busy) from None
        lock.acquire()
    return lock


def _let_go(lock, lazy_root: str | None) -> None:
    _HELD_LAZILY.discard(lazy_root)
    if lock is not None:
        lock.release()
