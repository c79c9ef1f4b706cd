"""What every backend provides: detectors map images to regions, recognizers map crops to text.

Backends take lists of RGB ``uint8`` arrays and return plain dataclasses; they never see pandas.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from .. import defaults
from ..geometry import Region

__all__ = ["Recognition", "DecodingOptions", "Detector", "Recognizer"]


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


@dataclass(frozen=True)
class DecodingOptions:
    """How an autoregressive recognizer (TrOCR) decodes: settings of the call, not of the model.

    Attributes
    ----------
    max_new_tokens : int
        The most tokens per line, end-of-sequence included.
    num_beams : int
        1 = greedy (with the batch-compacting cached decoder); more = beam search.
    use_caching : bool
        Decode with the key/value cache (``False`` only to compare: every step recomputes the prefix).
    """

    max_new_tokens: int = defaults.MAX_NEW_TOKENS
    num_beams: int = defaults.NUM_BEAMS
    use_caching: bool = defaults.USE_CACHING

    def __post_init__(self):
        if self.max_new_tokens < 1 or self.num_beams < 1:
            raise ValueError(f"max_new_tokens and num_beams must be >= 1, got {self.max_new_tokens}, {self.num_beams}")

    def is_default(self) -> bool:
        """Whether these are the defaults (the only settings engines without a decoder accept)."""
        return self == DecodingOptions()


class Detector(Protocol):
    """Finds text regions, in the coordinates of the image it was given."""

    def detect(self, images: Sequence[np.ndarray]) -> list[list[Region]]:
        """Regions per image, each image an ``(H, W, 3)`` RGB ``uint8`` array."""


class Recognizer(Protocol):
    """Reads the text of crops, batching them as it sees fit."""

    def recognize(self, crops: Sequence[np.ndarray], batch_size: int,
                  decoding: DecodingOptions | None = None) -> list[Recognition]:
        """One :class:`Recognition` per crop, in input order (engines without a decoder ignore ``decoding``)."""
