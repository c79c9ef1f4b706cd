"""Reading order and page structure.

Regions are grouped into lines (:func:`group_lines`); each region's reading is split into words
placed on the image (:func:`region_words`), giving a :class:`Page` that every output format renders.
With ``group_images``, word regions of one line are read as joined crops (:func:`plan_groups`) and
the text is shared back out to the words (:func:`split_reading`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .geometry import Region, sub_quad
from .models.base import Recognition

__all__ = ["estimate_line_tolerance", "group_lines", "Char", "Word", "Page", "line_box", "region_words",
           "build_page", "plan_groups", "split_reading"]


def estimate_line_tolerance(heights: Sequence[float], fraction: float = 0.6) -> float:
    """A ``fraction`` of the median region height: centres of one line lie closer, adjacent lines farther.

    0.6 is the best fraction on the ground-truth boxes of both SROIE (line boxes) and FUNSD (word
    boxes) of the dev split (``benchmarks/line_order.py``).
    """
    heights = [h for h in heights if h > 0]
    return max(1.0, fraction * float(np.median(heights))) if heights else 1.0


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


@dataclass(frozen=True)
class Char:
    """One recognised character: its text, its quad in image pixels and its confidence."""

    text: str
    quad: np.ndarray
    confidence: float


@dataclass(frozen=True)
class Word:
    """A run of non-space characters of one region, with its quad in image pixels.

    ``quad`` is ordered top-left, top-right, bottom-right, bottom-left; ``region`` is the index of
    the region it was read from; ``chars`` is empty when the engine gives no character positions.
    """

    text: str
    quad: np.ndarray
    confidence: float
    region: int
    chars: tuple[Char, ...] = ()

    @property
    def box(self) -> tuple[int, int, int, int]:
        """Integer axis-aligned bounds ``(x0, y0, x1, y1)``."""
        return _int_box(self.quad)


@dataclass(frozen=True)
class Page:
    """The words of one image, grouped into lines in reading order, and the image size."""

    width: int
    height: int
    lines: tuple[tuple[Word, ...], ...]

    @property
    def words(self) -> list[Word]:
        return [word for line in self.lines for word in line]


def _int_box(quad: np.ndarray) -> tuple[int, int, int, int]:
    return (int(math.floor(quad[:, 0].min())), int(math.floor(quad[:, 1].min())),
            int(math.ceil(quad[:, 0].max())), int(math.ceil(quad[:, 1].max())))


def line_box(line: Sequence[Word]) -> tuple[int, int, int, int]:
    """Integer bounds of the words of a line."""
    return _int_box(np.concatenate([word.quad for word in line]))


def region_words(reading: Recognition, quad: np.ndarray, region: int, width: int, height: int,
                 with_chars: bool = True) -> list[Word]:
    """Split a region's reading into words placed on the image.

    Parameters
    ----------
    reading : Recognition
        The text of the crop; its character spans, when present, place each word and character.
        Without them, words are placed in proportion to their character counts.
    quad : numpy.ndarray
        The ordered quad the crop was cut from (:func:`dask_ocr.geometry.crop_quad`).
    region : int
        The region's index, recorded on each word.
    width, height : int
        The image size; word and character quads are clipped to it.
    with_chars : bool
        Also place each character (only the page matrix and ALTO use them).
    """
    text = reading.text
    spans = reading.char_spans or [(i / len(text), (i + 1) / len(text)) for i in range(len(text))]
    confidences = reading.char_confidences or [reading.confidence] * len(text)
    limits = np.array([width, height], dtype=np.float64)

    def place(start: float, end: float) -> np.ndarray:
        return np.clip(sub_quad(quad, start, end), 0, limits)

    words = []
    for match in re.finditer(r"\S+", text):
        first, last = match.start(), match.end() - 1
        chars = ()
        if with_chars and reading.char_spans is not None:
            chars = tuple(Char(text[i], place(*spans[i]), float(confidences[i])) for i in range(first, last + 1))
        words.append(Word(match.group(), place(spans[first][0], spans[last][1]),
                          float(np.mean(confidences[first:last + 1])), region, chars))
    return words


def build_page(regions: Sequence[Region], quads: Sequence[np.ndarray], readings: Sequence[Recognition],
               ids: Sequence[int], line_tolerance: float, width: int, height: int, with_chars: bool = True) -> Page:
    """Lines of words in reading order.

    ``regions`` are grouped into lines; each region's reading is placed on the quad its crop came
    from (``quads``), and its words are tagged with its number in the input (``ids``).
    ``with_chars``: see :func:`region_words`.
    """
    lines = group_lines([r.box for r in regions], line_tolerance, [r.height for r in regions])
    return Page(width, height, tuple(
        tuple(word for i in line for word in region_words(readings[i], quads[i], ids[i], width, height, with_chars))
        for line in lines))


def plan_groups(lines: Sequence[Sequence[int]], aspects: Sequence[float], max_image_ratio: float,
                gap: float) -> list[list[int]]:
    """Split each line of regions into runs that, joined side by side, stay within ``max_image_ratio``.

    Parameters
    ----------
    lines : sequence of sequence of int
        Region indices per line, left to right (:func:`group_lines`).
    aspects : sequence of float
        Width / height of each region's crop.
    max_image_ratio : float
        The widest joined crop allowed, as width / height.  A crop wider on its own stays alone.
    gap : float
        The space put between joined crops, in heights (:func:`dask_ocr.geometry.join_crops`).
    """
    groups = []
    for line in lines:
        current: list[int] = []
        ratio = 0.0
        for index in line:
            if current and ratio + gap + aspects[index] > max_image_ratio:
                groups.append(current)
                current, ratio = [], 0.0
            ratio += (gap if current else 0.0) + aspects[index]
            current.append(index)
        if current:
            groups.append(current)
    return groups


def split_reading(reading: Recognition, segments: Sequence[tuple[float, float]]) -> list[Recognition]:
    """Share the reading of joined crops out to the crops, by where each character lies.

    Each character goes to the segment that holds its centre (or the nearest one); its span is
    re-expressed in that crop's width.  Without character positions, space-separated tokens are
    handed out one per crop when their counts match; otherwise the first crop gets the whole text.
    """
    if reading.char_spans is None:
        tokens = reading.text.split()
        if len(tokens) == len(segments):
            return [Recognition(token, reading.confidence) for token in tokens]
        return [reading] + [Recognition("", 0.0)] * (len(segments) - 1)
    starts = np.array([start for start, _ in segments])
    ends = np.array([end for _, end in segments])
    members: list[list[int]] = [[] for _ in segments]
    for position, (start, end) in enumerate(reading.char_spans):
        centre = (start + end) / 2
        distance = np.maximum(starts - centre, 0) + np.maximum(centre - ends, 0)
        if reading.text[position] != " " or distance.min() == 0:
            members[int(distance.argmin())].append(position)
    results = []
    for (start, end), positions in zip(segments, members, strict=True):
        while positions and reading.text[positions[0]] == " ":
            positions = positions[1:]
        while positions and reading.text[positions[-1]] == " ":
            positions = positions[:-1]
        if not positions:
            results.append(Recognition("", 0.0))
            continue
        scale = end - start
        spans = tuple((min(max((a - start) / scale, 0.0), 1.0), min(max((b - start) / scale, 0.0), 1.0))
                      for a, b in (reading.char_spans[p] for p in positions))
        confidences = tuple(reading.char_confidences[p] for p in positions)
        results.append(Recognition("".join(reading.text[p] for p in positions), float(np.mean(confidences)),
                                   spans, confidences))
    return results
