"""What every backend provides: detectors map images to regions, recognizers map crops to text.

Backends take lists of RGB ``uint8`` arrays and return plain dataclasses; they never see pandas.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ..geometry import Region

__all__ = ["Recognition", "Detector", "Recognizer"]


@dataclass(frozen=True)
class Recognition:
    """The text read from one crop and the model's confidence in it (0..1).

    Engines that know where each character sits (CTC models do) also give, per character of
    ``text``, its horizontal extent as fractions of the crop width (``char_spans``, ``0`` = left
    edge, ``1`` = right edge) and its confidence (``char_confidences``); others leave both ``None``.
    """

    text: str
    confidence: float
    char_spans: tuple[tuple[float, float], ...] | None = None
    char_confidences: tuple[float, ...] | None = None


class Detector(Protocol):
    """Finds text regions, in the coordinates of the image it was given."""

    def detect(self, images: Sequence[np.ndarray]) -> list[list[Region]]:
        """Regions per image, each image an ``(H, W, 3)`` RGB ``uint8`` array."""


class Recognizer(Protocol):
    """Reads the text of crops, batching them as it sees fit."""

    def recognize(self, crops: Sequence[np.ndarray], batch_size: int) -> list[Recognition]:
        """One :class:`Recognition` per crop, in input order."""
