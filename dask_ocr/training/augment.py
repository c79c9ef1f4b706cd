"""Augmentations that look like scanning: margins, small turns, blur, noise, contrast and width changes.

Each takes an RGB ``uint8`` crop and a :class:`numpy.random.Generator`, so a seed fixes every draw.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["trim", "augment"]


def trim(crop: np.ndarray, margin: int, keep: tuple[int, int, int, int]) -> np.ndarray:
    """``crop`` (cut with ``margin`` px each side) with ``keep`` = (left, top, right, bottom) px of that margin left."""
    height, width = crop.shape[:2]
    left, top, right, bottom = (min(margin, k) for k in keep)
    return crop[margin - top:height - margin + bottom, margin - left:width - margin + right]


def augment(crop: np.ndarray, margin: int, rng: np.random.Generator) -> np.ndarray:
    """A randomly degraded copy of a training crop: a random share of its margin, then each of a turn of up
    to 1.5°, a width change of ±15 %, blur, contrast and brightness, and Gaussian noise, each with its odds."""
    crop = trim(crop, margin, tuple(int(k) for k in rng.integers(0, margin + 1, size=4)))
    if rng.random() < 0.3:
        crop = _turn(crop, rng.uniform(-1.5, 1.5))
    if rng.random() < 0.5:
        width = max(1, round(crop.shape[1] * rng.uniform(0.85, 1.15)))
        crop = cv2.resize(crop, (width, crop.shape[0]), interpolation=cv2.INTER_AREA)
    if rng.random() < 0.2:
        crop = cv2.GaussianBlur(crop, (0, 0), rng.uniform(0.4, 1.0))
    if rng.random() < 0.5:
        crop = cv2.convertScaleAbs(crop, alpha=rng.uniform(0.7, 1.2), beta=rng.uniform(-30, 30))
    if rng.random() < 0.2:
        noise = rng.normal(0.0, rng.uniform(3, 10), size=crop.shape)
        crop = np.clip(crop + noise, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(crop)


def _turn(crop: np.ndarray, degrees: float) -> np.ndarray:
    height, width = crop.shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), degrees, 1.0)
    return cv2.warpAffine(crop, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
