"""PP-OCR: DB text detection, angle classification and CTC recognition on onnxruntime.

The ONNX files come from the ``rapidocr`` wheel, so the default engine works offline.  Unlike a
plain ``RapidOCR()(image)`` loop, detection maps regions straight back to original-image pixels,
crops are cut from the full-resolution image, and recognition takes the crops of many images at
once in batches of one padded width (see :mod:`dask_ocr.batching`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from .. import defaults
from ..batching import padded_width, run_batched
from ..geometry import Region
from .base import DecodingOptions, Recognition
from .onnx import make_session

__all__ = ["bundled_model_path", "PPOCRDetector", "PPOCRRecognizer", "ctc_decode", "character_spans", "detection_size",
           "latin_character"]

REC_HEIGHT = 48
CLS_SHAPE = (48, 192)
MAX_REC_WIDTH = 3200


def bundled_model_path(kind: str) -> Path:
    """Path of the ``det``, ``rec`` or ``cls`` ONNX model inside the installed ``rapidocr`` wheel."""
    try:
        import rapidocr
    except ImportError:
        raise ImportError("the 'ppocr' engine needs the rapidocr package: pip install rapidocr onnxruntime") from None
    found = sorted((Path(rapidocr.__file__).parent / "models").glob(f"*_{kind}_*.onnx"))
    if not found:
        raise FileNotFoundError(f"rapidocr ships no '{kind}' ONNX model in {Path(rapidocr.__file__).parent / 'models'}")
    return found[-1]


def _normalise(image_rgb: np.ndarray) -> np.ndarray:
    """RGB uint8 (H, W, 3) → BGR float32 (3, H, W) in [-1, 1], the PaddleOCR convention."""
    return (image_rgb[:, :, ::-1].astype(np.float32).transpose(2, 0, 1) / 127.5) - 1.0


def detection_size(height: int, width: int, limit_side_len: int = 736, max_side_len: int = 2000,
                   min_side_len: int = 30) -> tuple[int, int]:
    """The ``(height, width)`` detection runs at, both multiples of 32.

    As PP-OCR's own pre-processing: sides first brought within ``min_side_len..max_side_len``, then
    the short side raised to ``limit_side_len``.  Unlike it, the long side never exceeds twice
    ``max_side_len``, so extreme aspect ratios (a 1-pixel-wide strip) cannot explode the input.
    """
    short, long = min(height, width), max(height, width)
    scale = min(1.0, max_side_len / long)
    if short * scale < min_side_len:
        scale = min_side_len / short
    if short * scale < limit_side_len:
        scale = limit_side_len / short
    scale = min(scale, 2 * max_side_len / long)
    return (max(32, int(round(int(height * scale) / 32) * 32)), max(32, int(round(int(width * scale) / 32) * 32)))


class PPOCRDetector:
    """DB detector: an image in, quadrilateral text regions in its own pixel coordinates out.

    Parameters
    ----------
    model_path : path, optional
        An ONNX DB model; default the one bundled with rapidocr.
    threads : int
        onnxruntime intra-op threads.
    use_gpu : bool or None
        See :func:`dask_ocr.models.onnx.make_session`.
    thresh, box_thresh, unclip_ratio : float
        DB post-processing: pixel threshold, minimum mean box score, polygon expansion.
    limit_side_len, max_side_len : int
        Detection resolution rule, see :func:`detection_size`.
    """

    def __init__(self, model_path=None, threads: int = 1, use_gpu: bool | None = None, thresh: float = 0.3,
                 box_thresh: float = 0.5, unclip_ratio: float = 1.6, limit_side_len: int = 736,
                 max_side_len: int = 2000):
        from rapidocr.ch_ppocr_det.utils import DBPostProcess

        self.session = make_session(model_path or bundled_model_path("det"), threads, use_gpu)
        self.input_name = self.session.get_inputs()[0].name
        self.postprocess = DBPostProcess(thresh=thresh, box_thresh=box_thresh, max_candidates=1000,
                                         unclip_ratio=unclip_ratio, score_mode="fast", use_dilation=True)
        self.limit_side_len, self.max_side_len = limit_side_len, max_side_len

    def detect(self, images: Sequence[np.ndarray]) -> list[list[Region]]:
        """Regions per image (unsorted; reading order is :mod:`dask_ocr.layout`'s job)."""
        return [self._detect_one(image) for image in images]

    def _detect_one(self, image: np.ndarray) -> list[Region]:
        height, width = image.shape[:2]
        pad = _vertical_padding(height, width)
        canvas = cv2.copyMakeBorder(image, pad, pad, 0, 0, cv2.BORDER_CONSTANT, value=(0, 0, 0)) if pad else image
        det_h, det_w = detection_size(*canvas.shape[:2], self.limit_side_len, self.max_side_len)
        resized = cv2.resize(canvas, (det_w, det_h))
        probabilities = self.session.run(None, {self.input_name: _normalise(resized)[None]})[0]
        quads, scores = self.postprocess(probabilities, canvas.shape[:2])
        regions = []
        for quad, score in zip(quads, scores):
            polygon = np.asarray(quad, dtype=np.float64) - (0, pad)
            polygon[:, 0] = polygon[:, 0].clip(0, width)
            polygon[:, 1] = polygon[:, 1].clip(0, height)
            if np.ptp(polygon[:, 1]) >= 1 and np.ptp(polygon[:, 0]) >= 1:
                regions.append(Region(polygon, float(score)))
        return regions


def _vertical_padding(height: int, width: int, max_ratio: float = 8, min_height: int = 30) -> int:
    """Rows to add above and below a very flat image (a single line) so DB sees a page-like input."""
    if height > min_height and width / height <= max_ratio:
        return 0
    return int(abs(max(int(width / max_ratio), min_height) * 2 - height) / 2)


def ctc_decode(probabilities: np.ndarray, characters: Sequence[str], space_boost: float = 1.0,
               step_width: float | None = None) -> Recognition:
    """Greedy CTC decoding of one ``(T, C)`` probability matrix; index 0 is the blank.

    Parameters
    ----------
    probabilities : numpy.ndarray
        Per time step, the probability of each class.
    characters : sequence of str
        The class labels, blank first and space last.
    space_boost : float
        Multiplies the probability of the space class before the argmax: PP-OCR models, trained
        mostly on text without spaces, tend to drop the narrow spaces around punctuation in Latin
        text (``TEL : 07`` read as ``TEL:07``).
    step_width : float, optional
        The width of one time step as a fraction of the crop.  When given, the result carries
        each character's span (see :class:`~dask_ocr.models.base.Recognition`).

    Returns
    -------
    Recognition
        The confidence is the mean unboosted probability of the emitted characters (0 for no text).
    """
    scores = probabilities
    if space_boost != 1.0:
        scores = probabilities.copy()
        scores[:, -1] *= space_boost
    best = scores.argmax(axis=1)
    keep = best != 0
    keep[1:] &= best[1:] != best[:-1]
    if not keep.any():
        return Recognition("", 0.0)
    steps = np.nonzero(keep)[0]
    text = "".join(characters[i] for i in best[keep])
    char_confidences = probabilities[steps, best[keep]]
    spans = None
    if step_width is not None:
        spans = character_spans(np.clip((steps + 0.5) * step_width, 0.0, 1.0))
    return Recognition(text, float(char_confidences.mean()), spans, tuple(char_confidences.astype(float).tolist()))


def latin_character(character: str) -> bool:
    """Whether a class label belongs to Latin-script text: Latin letters (with their accented and
    extended forms), ASCII digits and punctuation, and the general punctuation and currency signs."""
    code = ord(character[0]) if character else 0
    return code < 0x250 or 0x2000 <= code < 0x2200


def character_spans(centres: np.ndarray) -> tuple[tuple[float, float], ...]:
    """Extents of characters from their centres (fractions of the crop width, increasing).

    Neighbouring characters meet half way between their centres; the outer edges of the first
    and last characters sit as far out as their inner ones (a lone character spans the crop).
    """
    if len(centres) == 1:
        return ((0.0, 1.0),)
    middles = (centres[1:] + centres[:-1]) / 2
    first = max(0.0, 2 * centres[0] - middles[0])
    last = min(1.0, 2 * centres[-1] - middles[-1])
    edges = np.concatenate([[first], middles, [last]])
    return tuple(zip(edges[:-1].tolist(), edges[1:].tolist()))


class PPOCRRecognizer:
    """CTC text recognition over batches of crops, with optional 180° angle classification.

    Parameters
    ----------
    model_path, cls_model_path : path, optional
        ONNX models; default the ones bundled with rapidocr.
    threads, use_gpu
        As for :class:`PPOCRDetector`.
    use_angle_cls : bool
        Run PP-OCR's 180° classifier and turn crops it finds upside down.  Off by default: on
        upright documents it flips more good crops than it fixes.
    width_quantum, min_width : int
        Crops are resized to height 48 and right-padded to a multiple of ``width_quantum`` (at least
        ``min_width``); only crops of one padded width share a batch, so batching never changes text.
    cls_thresh : float
        Classifier confidence needed to turn a crop upside down.
    space_boost : float
        See :func:`ctc_decode`; 3 recovers most spaces the model drops around punctuation.
    charset : {"latin", None}
        ``"latin"`` decodes only Latin-script characters (:func:`latin_character`): the bundled
        model also knows some 18,000 CJK and other characters, and reads smudges and logos as
        them.  ``None`` keeps the whole dictionary (Chinese, Japanese ... documents).

    Notes
    -----
    A crop at least 1.5 times taller than wide is either vertical text or a short word of one or
    two characters; both the crop and its 90°-rotated copy are read and the more confident
    reading wins.
    """

    def __init__(self, model_path=None, cls_model_path=None, threads: int = 1, use_gpu: bool | None = None,
                 use_angle_cls: bool = False, width_quantum: int = 64, min_width: int = 64, cls_thresh: float = 0.9,
                 space_boost: float = 3.0, charset: str | None = "latin"):
        self.session = make_session(model_path or bundled_model_path("rec"), threads, use_gpu)
        self.input_name = self.session.get_inputs()[0].name
        metadata = self.session.get_modelmeta().custom_metadata_map
        if "character" not in metadata:
            raise ValueError(f"{model_path} carries no 'character' metadata; not a PP-OCR CTC recognizer")
        self.characters = ["<blank>", *metadata["character"].splitlines(), " "]
        self.classifier = None
        if use_angle_cls:
            self.classifier = make_session(cls_model_path or bundled_model_path("cls"), threads, use_gpu)
        self.width_quantum, self.min_width, self.cls_thresh = width_quantum, min_width, cls_thresh
        self.space_boost = space_boost
        if charset not in (None, "latin"):
            raise ValueError(f"charset must be 'latin' or None, got {charset!r}")
        # The classes decoded: all, or the blank plus the Latin ones (the space, last, stays last).
        self.classes = np.arange(len(self.characters))
        if charset == "latin":
            self.classes = np.array([0] + [i for i, c in enumerate(self.characters) if i and latin_character(c)])
        self.labels = [self.characters[i] for i in self.classes]

    def recognize(self, crops: Sequence[np.ndarray], batch_size: int = defaults.BATCH_SIZE,
                  decoding: DecodingOptions | None = None) -> list[Recognition]:
        """Read each crop (RGB ``uint8``); results in input order.  CTC has no decoding options."""
        crops = list(crops)
        tall = [i for i, crop in enumerate(crops) if crop.shape[0] >= 1.5 * crop.shape[1]]
        candidates = crops + [np.rot90(crops[i]) for i in tall]
        if self.classifier is not None and candidates:
            candidates = self._upright(candidates, batch_size)
        widths = [padded_width(self._resized_width(c), self.width_quantum, self.min_width) for c in candidates]
        readings = run_batched(candidates, batch_size, self._recognize_batch, shapes=widths)
        for offset, index in enumerate(tall):
            rotated = readings[len(crops) + offset]
            if rotated.confidence > readings[index].confidence:  # text runs down the crop: no spans across it
                readings[index] = Recognition(rotated.text, rotated.confidence, None, rotated.char_confidences)
        return readings[:len(crops)]

    @staticmethod
    def _resized_width(crop: np.ndarray) -> int:
        return min(MAX_REC_WIDTH, max(1, math.ceil(REC_HEIGHT * crop.shape[1] / crop.shape[0])))

    def _recognize_batch(self, crops: list[np.ndarray], width: int) -> list[Recognition]:
        batch = np.zeros((len(crops), 3, REC_HEIGHT, width), dtype=np.float32)
        for slot, crop in zip(batch, crops):
            resized_w = min(width, self._resized_width(crop))
            slot[:, :, :resized_w] = _normalise(cv2.resize(crop, (resized_w, REC_HEIGHT)))
        probabilities = self.session.run(None, {self.input_name: batch})[0]
        if len(self.classes) < probabilities.shape[-1]:
            probabilities = probabilities[:, :, self.classes]
        step = width / probabilities.shape[1]
        return [ctc_decode(p, self.labels, self.space_boost, step / min(width, self._resized_width(crop)))
                for p, crop in zip(probabilities, crops)]

    def _upright(self, crops: list[np.ndarray], batch_size: int) -> list[np.ndarray]:
        """Turn crops that the classifier finds upside down (fixed input shape: batch-independent)."""
        flipped = run_batched(crops, batch_size, self._classify_batch)
        return [cv2.rotate(crop, cv2.ROTATE_180) if flip else crop for crop, flip in zip(crops, flipped)]

    def _classify_batch(self, crops: list[np.ndarray], _shape) -> list[bool]:
        height, width = CLS_SHAPE
        batch = np.zeros((len(crops), 3, height, width), dtype=np.float32)
        for slot, crop in zip(batch, crops):
            resized_w = min(width, math.ceil(height * crop.shape[1] / crop.shape[0]))
            slot[:, :, :resized_w] = _normalise(cv2.resize(crop, (resized_w, height)))
        scores = self.classifier.run(None, {self.classifier.get_inputs()[0].name: batch})[0]
        return ((scores.argmax(axis=1) == 1) & (scores.max(axis=1) > self.cls_thresh)).tolist()
