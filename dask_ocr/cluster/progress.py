"""Compute a list of tasks with progress that suits where it runs, and never fails the job.

On a terminal one line is updated in place; in a log file or a notebook a plain line is printed
now and then (every tenth of the work, or every 30 s).  The same reporter serves a distributed
client (futures as they complete) and the local schedulers (a dask callback).
"""

from __future__ import annotations

import sys
import time

import dask
from dask.callbacks import Callback

__all__ = ["ProgressLines", "compute_with_progress"]

#: At most this many seconds between two plain progress lines.
LINE_INTERVAL_S = 30.0


class ProgressLines:
    """Reports ``done/total`` items to ``stream``; reporting errors are swallowed, never raised."""

    def __init__(self, total: int, what: str = "partitions", stream=None):
        self.total, self.what, self.done = total, what, 0
        self.stream = stream if stream is not None else sys.stderr
        self.start = self.last = time.monotonic()
        self.inline = _is_terminal(self.stream)
        self.next_share = 0.1

    def step(self, count: int = 1) -> None:
        self.done += count
        now = time.monotonic()
        share = self.done / max(self.total, 1)
        if self.inline or share >= self.next_share or now - self.last >= LINE_INTERVAL_S or self.done == self.total:
            self.last, self.next_share = now, share + 0.1
            self._write(f"dask-ocr: {self.done}/{self.total} {self.what} ({share:.0%}), {now - self.start:.0f} s")

    def close(self) -> None:
        if self.inline:
            self._write("", end="\n")

    def _write(self, line: str, end: str = "") -> None:
        try:
            if self.inline:
                self.stream.write(f"\r{line}{end}")
            else:
                self.stream.write(line + "\n")
            self.stream.flush()
        except Exception:  # a closed or broken stream must not fail the job
            self.inline = False


def _is_terminal(stream) -> bool:
    try:
        return bool(stream.isatty())
    except Exception:
        return False


class _LocalProgress(Callback):
    """Steps a reporter whenever one of ``keys`` finishes on a local scheduler."""

    def __init__(self, keys, reporter: ProgressLines):
        super().__init__()
        self.keys, self.reporter = set(keys), reporter

    def _posttask(self, key, result, dsk, state, worker_id):
        if key in self.keys:
            self.reporter.step()


def compute_with_progress(tasks: list, client=None, progress: bool = True, what: str = "partitions",
                          stream=None, counted: int | None = None) -> list:
    """Compute ``tasks`` (delayed objects) and return their results in order.

    Progress counts the first ``counted`` tasks (default all); the others are computed with them.  With
    ``client``, every counted task that can finish does (the first error is raised after the others are
    done, so a rerun redoes only failures); an interruption cancels the rest.
    """
    counted = len(tasks) if counted is None else counted
    reporter = ProgressLines(counted, what, stream) if progress else None
    try:
        if client is not None:
            return _on_cluster(client, tasks, counted, reporter)
        if reporter is None:
            return list(dask.compute(*tasks, scheduler=_local_scheduler()))
        with _LocalProgress([task.key for task in tasks[:counted]], reporter):
            return list(dask.compute(*tasks, scheduler=_local_scheduler()))
    finally:
        if reporter is not None:
            reporter.close()


def _local_scheduler():
    """The scheduler of a computation without a client: the configured one, else the threaded one given as a
    function (given no scheduler, or one by name, dask imports ``distributed`` to look for a client, which costs
    a small job 0.1-0.2 s)."""
    import dask.threaded

    return dask.config.get("scheduler", None) or dask.threaded.get


def _on_cluster(client, tasks: list, counted: int, reporter: ProgressLines | None) -> list:
    from distributed import as_completed

    futures = client.compute(tasks)
    try:
        for _ in as_completed(futures[:counted]):
            if reporter is not None:
                reporter.step()
        return client.gather(futures)
    except BaseException:
        client.cancel(futures)  # interrupted: stop the rest, and let a rerun recompute failed keys
        raise
