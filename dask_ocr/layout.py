"""Reading order: group regions into lines and order them top to bottom, left to right."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["estimate_line_tolerance", "group_lines"]


def estimate_line_tolerance(heights: Sequence[float]) -> float:
    """Half the median region height: words of one line are closer, adjacent lines farther."""
    heights = [h for h in heights if h > 0]
    return max(1.0, 0.5 * float(np.median(heights))) if heights else 1.0


def group_lines(boxes: Sequence[Sequence[float]], line_tolerance: float = 15,
                heights: Sequence[float] | None = None) -> list[list[int]]:
    """Group region boxes into text lines in reading order.

    Regions are taken top to bottom by vertical centre; a region joins the current line when its
    centre is within ``line_tolerance`` pixels of the line's mean centre, else it starts a new one.
    Each line is then ordered left to right.

    Parameters
    ----------
    boxes : sequence of [x0, y0, x1, y1]
    line_tolerance : float
        Pixels; ``0`` estimates it from ``heights`` (or the box heights) per image.
    heights : sequence of float, optional
        Text heights, for rotated regions whose boxes overstate them.

    Returns
    -------
    list of list of int
        Region indices, one list per line, lines top to bottom.
    """
    if len(boxes) == 0:
        return []
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if line_tolerance < 0:
        raise ValueError(f"line_tolerance must be >= 0, got {line_tolerance}")
    if line_tolerance == 0:
        line_tolerance = estimate_line_tolerance(heights if heights is not None else boxes[:, 3] - boxes[:, 1])
    centres = (boxes[:, 1] + boxes[:, 3]) / 2
    lines: list[list[int]] = []
    line_centre = 0.0
    for index in np.argsort(centres, kind="stable"):
        if lines and abs(centres[index] - line_centre) <= line_tolerance:
            lines[-1].append(int(index))
            line_centre = float(np.mean(centres[lines[-1]]))
        else:
            lines.append([int(index)])
            line_centre = float(centres[index])
    return [sorted(line, key=lambda i: (boxes[i, 0], boxes[i, 1])) for line in lines]
