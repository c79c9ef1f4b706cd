"""Writes as dask graphs: built (folder checked and locked) when the writer is called, run when computed.

A writer called with ``compute=False`` returns the ``result`` of its :class:`LazyWrite`, a ``dask.delayed``
object; ``dask.compute`` of several such results runs what their graphs share once.  They share the steps of
the frame they were given (the OCR of each partition) because a lazy write takes the frame's partitions with
the keys of its own graph, not of a graph optimised for that one write (dask would fuse the steps of each
write into tasks of its own).  Called with ``compute=True`` (the default), a writer builds the same graph and
runs it with :func:`compute_writes`.
"""

from __future__ import annotations

from dataclasses import dataclass

from .files import FolderLock

__all__ = ["LazyWrite", "compute_writes", "partitions"]


@dataclass(frozen=True)
class LazyWrite:
    """A write built but not run.

    Attributes
    ----------
    steps : list of dask.delayed.Delayed
        One per partition written: what progress counts.
    result : dask.delayed.Delayed
        The writer's return value; its task releases ``lock`` (see :class:`~dask_ocr.sinks.files.FolderLock`).
    lock : FolderLock
        The output folder's lock, held since the write was built.
    """

    steps: list
    result: object
    lock: FolderLock


def partitions(frame, lazy: bool) -> list:
    """The partitions of a Dask frame as delayed objects; a pandas frame is one.

    ``lazy``: keep the keys of the frame's own graph, so that writes of one frame computed together share its
    steps; otherwise optimise the graph for this write alone (fused tasks).
    """
    import dask

    if not hasattr(frame, "to_delayed"):
        return [dask.delayed(frame)]
    return frame.to_delayed(optimize_graph=not lazy)


def compute_writes(writes: list[LazyWrite], progress: bool = True, what: str = "partitions",
                   local: bool = False) -> list:
    """Run ``writes`` in one computation (what they share once) and return their results, in order.

    Progress counts the steps of every write.  On a cluster whose workers declare a ``GPU`` resource the tasks
    are pinned to them; ``local`` runs them in this process instead (the write of a pandas frame), whatever
    the default scheduler.  Every write's folder lock is released when this returns or raises.
    """
    import dask
    import dask.local

    from ..cluster.progress import compute_with_progress
    from ..cluster.scheduling import current_client, has_gpu_workers

    steps = [step for write in writes for step in write.steps]
    try:
        client = None if local else current_client()
        annotations = {"resources": {"GPU": 1}} if has_gpu_workers(client) else {}
        with dask.config.set({"scheduler": dask.local.get_sync} if local else {}), dask.annotate(**annotations):
            results = compute_with_progress([*steps, *(write.result for write in writes)], client, progress, what,
                                            counted=len(steps))
    finally:
        for write in writes:
            write.lock.release()
    return results[len(steps):]
