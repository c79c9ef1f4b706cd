"""Group variable-width crops into model batches and put the results back in input order.

A crop's padded width depends only on the crop (its own width rounded up to a fixed quantum), and a
batch only ever holds crops of one padded width.  So a crop's model input — and therefore its text —
is the same whichever other crops share the partition, whatever the partitioning.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TypeVar

import numpy as np

__all__ = ["padded_width", "plan_batches", "run_batched"]

T = TypeVar("T")


def padded_width(width: int, quantum: int, minimum: int) -> int:
    """Round ``width`` up to a multiple of ``quantum``, and to at least ``minimum``."""
    return max(minimum, quantum * math.ceil(max(width, 1) / quantum))


def plan_batches(widths: Sequence[int], batch_size: int) -> list[np.ndarray]:
    """Split item indices into batches of equal padded width, narrowest first.

    Parameters
    ----------
    widths : sequence of int
        The padded width of each item.
    batch_size : int
        The most items in one batch.

    Returns
    -------
    list of numpy.ndarray
        Index arrays; together they cover every item exactly once.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    widths = np.asarray(widths)
    order = np.argsort(widths, kind="stable")
    batches = []
    for width in np.unique(widths):
        members = order[widths[order] == width]
        batches.extend(members[i:i + batch_size] for i in range(0, len(members), batch_size))
    return batches


def run_batched(items: Sequence, widths: Sequence[int], batch_size: int,
                call: Callable[[list, int], Sequence[T]]) -> list[T]:
    """Call ``call(batch_items, padded_width)`` per planned batch; results in input order."""
    results: list = [None] * len(items)
    for indices in plan_batches(widths, batch_size):
        outputs = call([items[i] for i in indices], int(widths[indices[0]]))
        for index, output in zip(indices, outputs):
            results[index] = output
    return results
