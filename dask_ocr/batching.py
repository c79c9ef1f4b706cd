"""Group crops into model batches, run them, and put the results back in input order.

Every engine batches through :func:`run_batched`.  A batch only ever holds items of one *shape*
(for PP-OCR, the padded width: a crop's own width rounded up to a fixed quantum), so an item's
model input — and therefore its text — is the same whichever other items share the call.  Inside
a shape, items are sorted (by width, or by aspect ratio for TrOCR) so that a batch's members cost
alike.  When a batch runs out of memory (a GPU mostly), it is halved and retried, and the smaller
size holds for the rest of the call.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TypeVar

import numpy as np

__all__ = ["padded_width", "plan_batches", "run_batched", "is_out_of_memory"]

T = TypeVar("T")

_OOM_MESSAGES = ("out of memory", "failed to allocate memory", "cudnn_status_alloc_failed")


def padded_width(width: int, quantum: int, minimum: int) -> int:
    """Round ``width`` up to a multiple of ``quantum``, and to at least ``minimum``."""
    return max(minimum, quantum * math.ceil(max(width, 1) / quantum))


def plan_batches(shapes: Sequence, batch_size: int, order: Sequence | None = None) -> list[np.ndarray]:
    """Split item indices into batches of one shape each, smallest shape first.

    Parameters
    ----------
    shapes : sequence
        Per item, what its batch must share with it (e.g. the padded width).
    batch_size : int
        The most items in one batch.
    order : sequence, optional
        Per item, a sort key inside its shape (default: input order).

    Returns
    -------
    list of numpy.ndarray
        Index arrays; together they cover every item exactly once.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    shapes = np.asarray(shapes)
    keys = np.arange(len(shapes)) if order is None else np.asarray(order)
    batches = []
    for shape in np.unique(shapes):
        members = np.nonzero(shapes == shape)[0]
        members = members[np.argsort(keys[members], kind="stable")]
        batches.extend(members[i:i + batch_size] for i in range(0, len(members), batch_size))
    return batches


def is_out_of_memory(error: BaseException) -> bool:
    """Whether ``error`` reports exhausted memory: ``MemoryError``, torch's ``OutOfMemoryError``,
    or an onnxruntime / CUDA allocation failure (told apart by its message; no torch import)."""
    if isinstance(error, MemoryError) or type(error).__name__ == "OutOfMemoryError":
        return True
    message = str(error).lower()
    return any(text in message for text in _OOM_MESSAGES)


def run_batched(items: Sequence, batch_size: int, call: Callable[[list, object], Sequence[T]],
                shapes: Sequence | None = None, order: Sequence | None = None,
                release: Callable[[], None] | None = None) -> list[T]:
    """Call ``call(batch_items, shape)`` per planned batch; one result per item, in input order.

    Parameters
    ----------
    items : sequence
    batch_size : int
        The most items per call; halved (down to 1) each time a call runs out of memory.
    call : callable
        Returns one result per item of the batch it is given.
    shapes, order : sequence, optional
        See :func:`plan_batches`; default every item has the same shape, in input order.
    release : callable, optional
        Called after an out-of-memory error, before the retry (e.g. ``torch.cuda.empty_cache``).
    """
    results: list = [None] * len(items)
    shapes = [0] * len(items) if shapes is None else shapes
    limit = batch_size
    for indices in plan_batches(shapes, batch_size, order):
        start = 0
        while start < len(indices):
            chunk = indices[start:start + limit]
            try:
                outputs = call([items[i] for i in chunk], shapes[chunk[0]])
            except Exception as error:
                if len(chunk) == 1 or not is_out_of_memory(error):
                    raise
                if release is not None:
                    release()
                limit = max(1, len(chunk) // 2)
                continue
            for index, output in zip(chunk, outputs, strict=True):
                results[index] = output
            start += len(chunk)
    return results
