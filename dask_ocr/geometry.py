"""Boxes, polygons and crops, in original-image pixel coordinates (numpy and OpenCV only).

A region arrives in many shapes — a dict with ``box`` and/or ``polygon`` from our own detector or
somebody else's, a bare ``[x0, y0, x1, y1]`` list, an ``(N, 2)`` point array, or the numpy-wrapped
versions of those that Parquet round trips produce.  :func:`parse_region` turns each into a
:class:`Region`; :func:`crop_region` cuts it out of the full-resolution image.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from .errors import RegionError

__all__ = ["Region", "parse_region", "clip_region", "crop_region", "crop_quad", "sub_quad", "join_crops", "order_quad",
           "region_record", "upright_matrix", "invert_affine", "compose_affine", "affine_points", "affine_region",
           "background_colour", "warp_upright", "box_iou"]


@dataclass(frozen=True)
class Region:
    """A text region: a closed polygon (``(N, 2)`` float array, N >= 4) and a detection score."""

    polygon: np.ndarray
    score: float = 1.0

    @property
    def box(self) -> tuple[float, float, float, float]:
        """Axis-aligned bounds ``(x0, y0, x1, y1)``."""
        xs, ys = self.polygon[:, 0], self.polygon[:, 1]
        return float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max())

    @property
    def height(self) -> float:
        """Height of the text, taken across the line for rotated quads."""
        if len(self.polygon) == 4:
            quad = order_quad(self.polygon)
            return float((np.linalg.norm(quad[3] - quad[0]) + np.linalg.norm(quad[2] - quad[1])) / 2)
        x0, y0, x1, y1 = self.box
        return y1 - y0


def _box_polygon(x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float64)


def _xywh_box(value: dict) -> list[float]:
    try:
        x, y, w, h = (float(value[key]) for key in ("x", "y", "width", "height"))
    except (KeyError, TypeError, ValueError):
        raise RegionError(f"a region with 'width' needs numeric x, y, width and height, got {value!r:.80}") from None
    return [x, y, x + w, y + h]


def _as_points(value: Any, what: str) -> np.ndarray:
    try:
        points = np.array([np.asarray(p, dtype=np.float64) for p in value], dtype=np.float64)
    except (TypeError, ValueError):
        raise RegionError(f"{what} must be a list of [x, y] points, got {value!r:.80}") from None
    if points.ndim != 2 or points.shape[1] != 2 or len(points) < 3:
        raise RegionError(f"{what} must have at least 3 [x, y] points, got shape {points.shape}")
    return points


def parse_region(value: Any) -> Region:
    """Normalise one region description to a :class:`Region`.

    Accepts a mapping with ``polygon`` (list of ``[x, y]``) and/or ``box`` (``[x0, y0, x1, y1]``)
    and an optional ``score``; a mapping with ``x, y, width, height`` and ``confidence`` (a word of
    a ``positions`` column); a bare 4-number box; or an ``(N, 2)`` point sequence.  When both are given, the
    polygon wins (it is the more precise shape).

    Raises
    ------
    RegionError
        Malformed structure, non-finite coordinates, or a box with x1 < x0 / y1 < y0.
    """
    score = 1.0
    polygon = box = None
    if isinstance(value, dict):
        polygon, box = value.get("polygon"), value.get("box")
        if box is None and polygon is None and value.get("width") is not None:
            box = _xywh_box(value)
        confidence = value.get("score", value.get("confidence"))
        if confidence is not None:
            score = float(confidence)
    else:
        flat = np.asarray(value, dtype=object) if value is not None else None
        if flat is not None and flat.ndim == 1 and len(flat) == 4 and all(np.ndim(v) == 0 for v in flat):
            box = value
        else:
            polygon = value
    if polygon is not None and len(polygon) > 0:
        points = _as_points(polygon, "polygon")
    elif box is not None:
        try:
            x0, y0, x1, y1 = (float(v) for v in box)
        except (TypeError, ValueError):
            raise RegionError(f"box must be [x0, y0, x1, y1], got {box!r:.80}") from None
        if x1 < x0 or y1 < y0:
            raise RegionError(f"box must satisfy x0 <= x1 and y0 <= y1, got {[x0, y0, x1, y1]}")
        points = _box_polygon(x0, y0, x1, y1)
    else:
        raise RegionError(f"a region needs a 'box' or a 'polygon', got {value!r:.80}")
    if not np.isfinite(points).all():
        raise RegionError("region coordinates must be finite numbers (found NaN or inf)")
    return Region(points, score if math.isfinite(score) else 0.0)


def clip_region(region: Region, width: int, height: int) -> Region | None:
    """Clip a region to the image; ``None`` when nothing of at least 1x1 pixel is left."""
    x0, y0, x1, y1 = region.box
    if x1 - x0 < 1 or y1 - y0 < 1:
        return None
    if x0 >= width or y0 >= height or x1 <= 0 or y1 <= 0:
        return None
    clipped = np.column_stack([np.clip(region.polygon[:, 0], 0, width), np.clip(region.polygon[:, 1], 0, height)])
    if np.array_equal(clipped, region.polygon):
        return region
    cx0, cy0, cx1, cy1 = clipped[:, 0].min(), clipped[:, 1].min(), clipped[:, 0].max(), clipped[:, 1].max()
    if cx1 - cx0 < 1 or cy1 - cy0 < 1:
        return None
    return Region(clipped, region.score)


def order_quad(points: np.ndarray) -> np.ndarray:
    """Order four points as top-left, top-right, bottom-right, bottom-left."""
    points = np.asarray(points, dtype=np.float32)
    by_x = points[np.argsort(points[:, 0], kind="stable")]
    left, right = by_x[:2], by_x[2:]
    top_left, bottom_left = left[np.argsort(left[:, 1], kind="stable")]
    top_right, bottom_right = right[np.argsort(right[:, 1], kind="stable")]
    return np.array([top_left, top_right, bottom_right, bottom_left], dtype=np.float32)


def _quad(region: Region) -> np.ndarray:
    if len(region.polygon) == 4:
        return order_quad(region.polygon)
    rect = cv2.minAreaRect(region.polygon.astype(np.float32))
    return order_quad(cv2.boxPoints(rect))


def _is_axis_aligned(quad: np.ndarray) -> bool:
    horizontal = quad[0, 1] == quad[1, 1] and quad[2, 1] == quad[3, 1]
    vertical = quad[0, 0] == quad[3, 0] and quad[1, 0] == quad[2, 0]
    return bool(horizontal and vertical)


def _grow_quad(quad: np.ndarray, border: float) -> np.ndarray:
    """Move each edge of an ordered quad outwards by ``border`` pixels."""
    along = quad[1] - quad[0]
    across = quad[3] - quad[0]
    along = along / max(np.linalg.norm(along), 1e-6) * border
    across = across / max(np.linalg.norm(across), 1e-6) * border
    return (quad + np.array([-along - across, along - across, along + across, -along + across])).astype(np.float32)


def crop_quad(region: Region, border_width: float = 0) -> np.ndarray:
    """The quad (top-left, top-right, bottom-right, bottom-left) that :func:`crop_region` cuts out."""
    quad = _quad(region)
    return _grow_quad(quad, float(border_width)) if border_width else quad


def sub_quad(quad: np.ndarray, start: float, end: float) -> np.ndarray:
    """The part of an ordered quad between fractions ``start`` and ``end`` of its width."""
    quad = np.asarray(quad, dtype=np.float64)
    top, bottom = quad[1] - quad[0], quad[2] - quad[3]
    return np.array([quad[0] + start * top, quad[0] + end * top, quad[3] + end * bottom, quad[3] + start * bottom])


def join_crops(crops: list[np.ndarray], gap: float) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """Put crops side by side at one height, ``gap`` heights apart, to be read as one line.

    Each crop keeps its aspect ratio at the height of the tallest; the gap to its right is filled
    with its own background (the median colour of its outermost pixels).

    Returns
    -------
    image : numpy.ndarray
        The joined crop.
    segments : list of (float, float)
        Where each crop lies, as fractions of the joined width.
    """
    height = max(crop.shape[0] for crop in crops)
    gap_width = max(1, round(gap * height))
    pieces, segments, x = [], [], 0
    for number, crop in enumerate(crops):
        width = max(1, round(crop.shape[1] * height / crop.shape[0]))
        pieces.append(cv2.resize(crop, (width, height)) if crop.shape[:2] != (height, width) else crop)
        segments.append((x, x + width))
        x += width
        if number < len(crops) - 1:
            edge = np.concatenate([crop[0], crop[-1], crop[:, 0], crop[:, -1]])
            pieces.append(np.broadcast_to(np.median(edge, axis=0).astype(np.uint8), (height, gap_width, 3)))
            x += gap_width
    return np.hstack(pieces), [(start / x, end / x) for start, end in segments]


def crop_region(image: np.ndarray, region: Region, border_width: float = 0) -> np.ndarray:
    """Cut a region out of ``image`` (H, W, C), growing it by ``border_width`` pixels each side.

    Axis-aligned boxes are sliced; rotated or perspective quads (and other polygons, via their
    minimum-area rectangle) are rectified with a perspective warp, as PP-OCR does.  Where the grown
    region reaches past the image, the edge pixels are repeated, so a region at the page edge (or
    a whole line image) still gets its margin.
    """
    height, width = image.shape[:2]
    quad = crop_quad(region, border_width)
    if _is_axis_aligned(quad):
        x0, y0 = int(math.floor(quad[0, 0])), int(math.floor(quad[0, 1]))
        x1, y1 = max(int(math.ceil(quad[2, 0])), x0 + 1), max(int(math.ceil(quad[2, 1])), y0 + 1)
        inside = image[max(0, y0):min(height, y1), max(0, x0):min(width, x1)]
        outside = (max(0, -y0), max(0, y1 - height), max(0, -x0), max(0, x1 - width))
        if any(outside) and inside.size:
            return cv2.copyMakeBorder(np.ascontiguousarray(inside), *outside, cv2.BORDER_REPLICATE)
        return inside
    crop_w = max(1, int(max(np.linalg.norm(quad[0] - quad[1]), np.linalg.norm(quad[2] - quad[3]))))
    crop_h = max(1, int(max(np.linalg.norm(quad[0] - quad[3]), np.linalg.norm(quad[1] - quad[2]))))
    target = np.array([[0, 0], [crop_w, 0], [crop_w, crop_h], [0, crop_h]], dtype=np.float32)
    matrix = cv2.getPerspectiveTransform(quad, target)
    return cv2.warpPerspective(image, matrix, (crop_w, crop_h), borderMode=cv2.BORDER_REPLICATE, flags=cv2.INTER_CUBIC)


def region_record(region: Region, width: int, height: int) -> dict:
    """The output struct of a region: integer ``box`` clipped to the image, ``polygon``, ``score``."""
    x0, y0, x1, y1 = region.box
    box = [max(0, math.floor(x0)), max(0, math.floor(y0)), min(width, math.ceil(x1)), min(height, math.ceil(y1))]
    return {"box": box, "polygon": region.polygon.astype(float).tolist(), "score": float(region.score)}


# ------------------------------------------------------------------------------- page rotation
#
# A page turned by ``angle`` degrees clockwise (as seen on screen: x right, y down) is brought upright by
# the affine map of :func:`upright_matrix`, onto a canvas that holds the whole turned image.  Coordinates
# are continuous pixels (pixel ``i`` spans ``[i, i + 1]``), as everywhere in this module; the inverse map
# takes what is found on the upright canvas back to the pixels of the original image.


def _cos_sin(angle: float) -> tuple[float, float]:
    """``cos`` and ``sin`` of ``angle`` degrees, exact for multiples of 90."""
    if float(angle) % 90 == 0:
        quarter = int(round(angle / 90)) % 4
        return ((1.0, 0.0), (0.0, 1.0), (-1.0, 0.0), (0.0, -1.0))[quarter]
    radians = math.radians(angle)
    return math.cos(radians), math.sin(radians)


def upright_matrix(width: int, height: int, angle: float) -> tuple[np.ndarray, tuple[int, int]]:
    """The map that turns a ``width`` x ``height`` image by ``angle`` degrees counter-clockwise.

    It undoes a clockwise turn of the page by ``angle``: the result is centred on a canvas just
    large enough for the whole turned image.

    Returns
    -------
    matrix : numpy.ndarray
        ``(2, 3)`` affine matrix, original pixels → upright canvas pixels.
    size : (int, int)
        The canvas ``(width, height)``.
    """
    cos, sin = _cos_sin(angle)
    new_width = int(math.ceil(abs(width * cos) + abs(height * sin) - 1e-3))
    new_height = int(math.ceil(abs(width * sin) + abs(height * cos) - 1e-3))
    rotation = np.array([[cos, sin], [-sin, cos]])
    shift = np.array([new_width / 2, new_height / 2]) - rotation @ np.array([width / 2, height / 2])
    return np.column_stack([rotation, shift]), (new_width, new_height)


def invert_affine(matrix: np.ndarray) -> np.ndarray:
    """The inverse of a ``(2, 3)`` affine matrix."""
    linear = np.linalg.inv(matrix[:, :2])
    return np.column_stack([linear, -linear @ matrix[:, 2]])


def compose_affine(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """The ``(2, 3)`` affine matrix of ``outer`` applied after ``inner``."""
    return np.column_stack([outer[:, :2] @ inner[:, :2], outer[:, :2] @ inner[:, 2] + outer[:, 2]])


def affine_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Points ``(N, 2)`` mapped by a ``(2, 3)`` affine matrix."""
    points = np.asarray(points, dtype=np.float64)
    return points @ matrix[:, :2].T + matrix[:, 2]


def affine_region(region: Region, matrix: np.ndarray) -> Region:
    """A region with its polygon mapped by ``matrix`` (same score)."""
    return Region(affine_points(region.polygon, matrix), region.score)


def background_colour(image: np.ndarray) -> tuple[int, ...]:
    """The median colour of the outermost pixels: the paper, for a scanned page."""
    edge = np.concatenate([image[0], image[-1], image[:, 0], image[:, -1]]).reshape(-1, image.shape[2])
    return tuple(int(v) for v in np.median(edge, axis=0))


def warp_upright(image: np.ndarray, angle: float) -> tuple[np.ndarray, np.ndarray]:
    """``image`` turned by ``angle`` degrees counter-clockwise (see :func:`upright_matrix`).

    Multiples of 90° are exact pixel permutations; other angles are interpolated, the corners of
    the canvas filled with the page's :func:`background_colour`.

    Returns
    -------
    image : numpy.ndarray
        The upright image.
    matrix : numpy.ndarray
        The map from ``image``'s pixels to the upright image's.
    """
    height, width = image.shape[:2]
    matrix, size = upright_matrix(width, height, angle)
    if float(angle) % 90 == 0:
        return np.ascontiguousarray(np.rot90(image, int(round(angle / 90)) % 4)), matrix
    # OpenCV puts pixel centres at integers: shift by half a pixel either side.
    shifted = matrix.copy()
    shifted[:, 2] = affine_points(np.array([[0.5, 0.5]]), matrix)[0] - 0.5
    warped = cv2.warpAffine(image, shifted, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                            borderValue=background_colour(image))
    return warped, matrix


def box_iou(a, b) -> float:
    """Intersection over union of two ``(x0, y0, x1, y1)`` boxes (0 when either is empty)."""
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0
