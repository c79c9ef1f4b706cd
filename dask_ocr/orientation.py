"""Page orientation and skew: found from the text lines a detector sees, undone before detection.

A page may come off the scanner turned by a quarter turn (0, 90, 180 or 270 degrees clockwise,
its *orientation*) and a few degrees more (its *skew*).  Both are found without any model of
their own:

1. the axis of the text lines is the length-weighted median direction of the detector's long,
   thin regions (a text line is much longer than high, whichever way it runs);
2. which way along that axis the text reads is decided by the recognizer: a few of the longest
   lines are read as they lie along the axis and turned by 180 degrees, and the more confident
   reading wins (upside-down text reads as low-confidence noise).

:func:`detect_upright` then detects again on the upright page and maps the regions back to the
pixels of the original image; :func:`map_page` does the same for the words ``recognize`` places.
Everything here is numpy and OpenCV on arrays, with the detector and recognizer passed in.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from . import defaults
from .geometry import Region, affine_points, affine_region, clip_region, invert_affine, upright_matrix, warp_upright
from .layout import Char, Page, Word

__all__ = ["ORIENTATION_COL", "SKEW_COL", "PageAngle", "region_axes", "text_angle", "reading_crop",
           "reads_upside_down", "estimate_angle", "detect_upright", "UprightFrame", "upright_frame", "map_page"]

#: Columns ``detect`` adds: the clockwise quarter turns (int degrees) and the clockwise skew (float degrees)
#: found on each page; ``recognize`` reads the page in that upright frame.
ORIENTATION_COL = "orientation"
SKEW_COL = "skew"


@dataclass(frozen=True)
class PageAngle:
    """How a page lies in its image: turned ``orientation`` (0/90/180/270) plus ``skew`` degrees clockwise."""

    orientation: int = 0
    skew: float = 0.0

    @property
    def total(self) -> float:
        """The whole clockwise turn, in degrees."""
        return self.orientation + self.skew


def _wrap(angle: np.ndarray | float, period: float = 180.0):
    """Angles brought into ``[-period / 2, period / 2)``."""
    return (np.asarray(angle) + period / 2) % period - period / 2


def region_axes(regions: Sequence[Region]) -> np.ndarray:
    """Per region, the direction of its long side (degrees clockwise in ``[-90, 90)``), its length and width.

    Regions that are not quads are taken by their minimum-area rectangle.
    """
    axes = np.zeros((len(regions), 3))
    for row, region in zip(axes, regions, strict=True):
        quad = region.polygon
        if len(quad) != 4:
            quad = cv2.boxPoints(cv2.minAreaRect(quad.astype(np.float32))).astype(np.float64)
        first, second = quad[1] - quad[0], quad[2] - quad[1]
        along, across = (first, second) if np.hypot(*first) >= np.hypot(*second) else (second, first)
        row[:] = math.degrees(math.atan2(along[1], along[0])), np.hypot(*along), np.hypot(*across)
    axes[:, 0] = _wrap(axes[:, 0])
    return axes


def _weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    order = np.argsort(values)
    cumulative = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cumulative, cumulative[-1] / 2)])


def text_angle(regions: Sequence[Region], min_aspect: float = defaults.LINE_ASPECT,
               spread: float = 10.0) -> tuple[float | None, np.ndarray]:
    """The direction the text lines run (degrees clockwise, ``[-90, 90)``), and the lines that run so.

    Only regions at least ``min_aspect`` times longer than wide say which way they run.  Their
    directions are averaged on the doubled-angle circle (so that 89° and -89° agree), weighted by
    length; the answer is the weighted median of those within ``spread`` degrees of that mean.

    Returns
    -------
    angle : float or None
        ``None`` when no region is long enough to tell.
    lines : numpy.ndarray
        Indices of the regions within ``spread`` of ``angle``.
    """
    axes = region_axes(regions)
    long = axes[:, 1] >= min_aspect * np.maximum(axes[:, 2], 1e-6) if len(axes) else np.zeros(0, bool)
    if not long.any():
        return None, np.zeros(0, dtype=int)
    doubled, weights = np.radians(2 * axes[long, 0]), axes[long, 1]
    mean = math.degrees(math.atan2((weights * np.sin(doubled)).sum(), (weights * np.cos(doubled)).sum())) / 2
    offsets = _wrap(axes[:, 0] - mean)
    near = long & (np.abs(offsets) <= spread)
    if not near.any():
        return None, np.zeros(0, dtype=int)
    angle = float(_wrap(mean + _weighted_median(offsets[near], axes[near, 1])))
    return angle, np.flatnonzero(near)


def reading_crop(image: np.ndarray, polygon: np.ndarray, angle: float, max_ratio: float = defaults.ORIENTATION_WINDOW,
                 height: int = 48) -> np.ndarray:
    """The middle of a text line, cut out to read along ``angle`` (degrees clockwise), ``height`` pixels high.

    At most ``max_ratio`` heights of the line are kept: enough to tell upright text from
    upside-down text, at a fraction of the cost of reading the whole line.
    """
    cos, sin = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    turn = np.array([[cos, -sin], [sin, cos]])  # clockwise by ``angle``; ``points @ turn`` undoes it
    local = np.asarray(polygon, dtype=np.float64) @ turn
    (x0, y0), (x1, y1) = local.min(axis=0), local.max(axis=0)
    line_height = max(y1 - y0, 1.0)
    if x1 - x0 > max_ratio * line_height:
        middle = (x0 + x1) / 2
        x0, x1 = middle - max_ratio * line_height / 2, middle + max_ratio * line_height / 2
    width = max(1, int(round((x1 - x0) * height / line_height)))
    corners = np.array([[x0, y0], [x1, y0], [x1, y1]]) @ turn.T
    target = np.array([[0, 0], [width, 0], [width, height]], dtype=np.float32)
    matrix = cv2.getAffineTransform(corners.astype(np.float32) - 0.5, target - 0.5)
    return cv2.warpAffine(image, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _reading_score(readings) -> float:
    """Mean confidence of readings, weighted by their letters and digits (rows of ``****`` or ``----``
    read the same both ways, and say nothing); 0 when none has any."""
    counts = np.array([sum(c.isalnum() for c in r.text) for r in readings], dtype=np.float64)
    if counts.sum() == 0:
        return 0.0
    return float(np.dot(counts, [r.confidence for r in readings]) / counts.sum())


def reads_upside_down(image: np.ndarray, regions: Sequence[Region], lines: np.ndarray, angle: float, recognizer,
                      count: int = defaults.ORIENTATION_LINES, sure: float = defaults.UPRIGHT_CONFIDENCE,
                      batch_size: int = defaults.BATCH_SIZE) -> bool:
    """Whether the longest ``count`` of ``lines`` read better turned by 180° than along ``angle``.

    The lines are read along ``angle`` first; a mean confidence (weighted by the letters and digits
    read) of at least ``sure`` settles it (on the dev pages, no upside-down reading scored above
    0.74, and 96 % of the right ones scored above 0.9), else they are read turned too and the more
    confident way wins.
    """
    lengths = region_axes([regions[i] for i in lines])[:, 1]
    chosen = [int(lines[i]) for i in np.argsort(-lengths, kind="stable")[:count]]
    crops = [reading_crop(image, regions[i].polygon, angle) for i in chosen]
    along = _reading_score(recognizer.recognize(crops, batch_size))
    if along >= sure:
        return False
    turned = [np.ascontiguousarray(crop[::-1, ::-1]) for crop in crops]
    return _reading_score(recognizer.recognize(turned, batch_size)) > along


def estimate_angle(image: np.ndarray, regions: Sequence[Region], recognizer=None, orientation: bool = True,
                   deskew: bool = True, max_skew: float = defaults.MAX_SKEW) -> PageAngle:
    """How the page in ``image`` lies, from the ``regions`` a detector found on it.

    Parameters
    ----------
    image : numpy.ndarray
        The page as detected (RGB ``uint8``).
    regions : sequence of Region
        What the detector found on ``image``.
    recognizer : Recognizer, optional
        Reads sample lines both ways (needed with ``orientation``).
    orientation : bool
        Find the quarter turn (else it is 0).
    deskew : bool
        Find the skew: the turn of the lines from the nearest axis, within ``max_skew`` degrees
        (else, and beyond that, it is 0).
    """
    angle, lines = text_angle(regions)
    if angle is None:
        return PageAngle()
    base = int(round(angle / 90)) * 90  # -90, 0 or 90: the axis the lines run nearest to
    skew = float(angle - base)
    turn = 0
    if orientation:
        turn = (base + (180 if reads_upside_down(image, regions, lines, angle, recognizer) else 0)) % 360
    if not deskew or abs(skew) > max_skew:
        skew = 0.0
    return PageAngle(int(turn), round(skew, 2) + 0.0)


def detect_upright(image: np.ndarray, detector, recognizer=None, orientation: bool = True, deskew: bool = True,
                   min_skew: float = defaults.REDETECT_MIN_ANGLE) -> tuple[list[Region], PageAngle]:
    """Detect text on ``image`` brought upright; regions in ``image``'s own pixels.

    The page is detected as it is; if :func:`estimate_angle` finds it turned (or skewed by at least
    ``min_skew`` degrees), it is detected again upright and the regions are mapped back.
    """
    regions = detector.detect([image])[0]
    found = estimate_angle(image, regions, recognizer, orientation, deskew)
    turn = found.orientation + (found.skew if abs(found.skew) >= min_skew else 0.0)
    if turn == 0:
        return regions, found
    upright, matrix = warp_upright(image, turn)
    back = invert_affine(matrix)
    height, width = image.shape[:2]
    mapped = [clip_region(affine_region(region, back), width, height) for region in detector.detect([upright])[0]]
    return [region for region in mapped if region is not None], found


@dataclass(frozen=True)
class UprightFrame:
    """Where ``recognize`` reads a turned page: the image turned by its quarter turns (exactly), in which
    crops are cut, and that frame further turned by the skew, in which lines are grouped.

    Attributes
    ----------
    to_turned : numpy.ndarray
        Original pixels → quarter-turned image pixels.
    to_upright : numpy.ndarray
        Quarter-turned pixels → deskewed pixels (for line grouping only).
    """

    angle: PageAngle
    to_turned: np.ndarray
    to_upright: np.ndarray

    @property
    def back(self) -> np.ndarray:
        """Quarter-turned pixels → original pixels."""
        return invert_affine(self.to_turned)


def upright_frame(image: np.ndarray, angle: PageAngle) -> tuple[np.ndarray, UprightFrame]:
    """``image`` turned by ``angle.orientation`` (exact), and the :class:`UprightFrame` it lies in."""
    turned, to_turned = warp_upright(image, angle.orientation)
    height, width = turned.shape[:2]
    return turned, UprightFrame(angle, to_turned, upright_matrix(width, height, angle.skew)[0])


def _mapped(quad: np.ndarray, matrix: np.ndarray, limits: np.ndarray) -> np.ndarray:
    return np.clip(affine_points(quad, matrix), 0, limits)


def map_page(page: Page, matrix: np.ndarray, width: int, height: int) -> Page:
    """``page`` with every word and character quad mapped by ``matrix`` onto a ``width`` x ``height`` image."""
    limits = np.array([width, height], dtype=np.float64)

    def word(w: Word) -> Word:
        chars = tuple(Char(c.text, _mapped(c.quad, matrix, limits), c.confidence) for c in w.chars)
        return Word(w.text, _mapped(w.quad, matrix, limits), w.confidence, w.region, chars)

    return Page(width, height, tuple(tuple(word(w) for w in line) for line in page.lines))
