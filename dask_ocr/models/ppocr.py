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
from ..decode import decode_image
from ..geometry import Region
from .base import DecodingOptions, Recognition
from .calibration import calibration_pages, calibration_tag
from .db_boxes import DBPostProcess
from .download import model_file
from .onnx import cached_int8_model, class_subset_model, make_session, resolve_runtime, uses_gpu
from .onnx_file import model_metadata, output_classes

__all__ = ["bundled_model_path", "PPOCRDetector", "PPOCRRecognizer", "ctc_decode", "character_spans", "detection_size",
           "latin_character", "normalise", "read_dictionary", "recognition_input", "resized_width", "DETECTOR_RUNTIMES",
           "RECOGNIZER_RUNTIMES"]

#: What ``runtime="auto"`` runs each model on, on a CPU: the first pair this machine can run.  Measured on the dev
#: split (``benchmarks/tiers.py``, ``benchmarks/throughput.py``; README "Speed"): OpenVINO in bf16 — on CPUs with
#: AVX512-BF16 or AMX — is within the accuracy rule and fastest (detector 0.16 s per SROIE page against 0.31 s for
#: onnxruntime's int8 copy, recognizer 8.7 against 28 ms per line crop, one thread).  Without native bfloat16,
#: onnxruntime: OpenVINO in f32 measured no faster (detector 0.33-0.41 s against 0.31 s; recognizer 24 against
#: 28 ms) and pays about 0.25 s for every new input shape.
DETECTOR_RUNTIMES = (("openvino", "bf16"), ("onnxruntime", "f32"))
RECOGNIZER_RUNTIMES = (("openvino", "bf16"), ("onnxruntime", "f32"))
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


def normalise(image_rgb: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """RGB uint8 (H, W, 3) → BGR float32 (3, H, W) in [-1, 1], the PaddleOCR convention.

    Written channel by channel into ``out`` (a new array, or e.g. a slot of a batch tensor), with
    no temporary copies of the image: the same values as ``bgr.astype(float32) / 127.5 - 1``.
    """
    if out is None:
        out = np.empty((3, *image_rgb.shape[:2]), dtype=np.float32)
    for channel in range(3):
        np.divide(image_rgb[:, :, 2 - channel], np.float32(127.5), out=out[channel], dtype=np.float32)
    out -= np.float32(1.0)
    return out


def read_dictionary(path: str | Path) -> list[str]:
    """The characters of a PaddleOCR dictionary file (one per line), as the CTC labels 1..N."""
    return Path(model_file(path)).read_text(encoding="utf-8").splitlines()


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
    """DB detector: images in, quadrilateral text regions in their own pixel coordinates out.

    Parameters
    ----------
    model_path : path or str, optional
        An ONNX DB model, or a source :func:`~dask_ocr.models.download.model_file` knows; default
        the one bundled with rapidocr.
    threads : int
        onnxruntime intra-op threads.
    use_gpu : bool or None
        See :func:`dask_ocr.models.onnx.make_session`.
    thresh, box_thresh, unclip_ratio : float
        DB post-processing: pixel threshold, minimum mean box score, polygon expansion.
    limit_side_len, max_side_len : int
        Detection resolution rule, see :func:`detection_size`.
    batch_size : int
        The most images of one detection size per model call.
    session_options : tuple of (str, object) pairs
        onnxruntime settings, see :func:`dask_ocr.models.onnx.session_settings`.
    runtime, precision : str
        Who runs the model and in what arithmetic (see :func:`dask_ocr.models.onnx.resolve_runtime`); ``"auto"``
        picks from :data:`DETECTOR_RUNTIMES`.
    quantize : bool or None
        ``True`` runs a static int8 copy of the model on onnxruntime
        (:func:`~dask_ocr.models.onnx.cached_int8_model`), built on first use, calibrated on generated pages (no
        evaluation data), and cached; ``False`` runs the model file as it is; ``None``, the default, quantizes
        when the model runs on onnxruntime on a CPU.

    Notes
    -----
    ``benchmarks/tiers.py`` measured the int8 detector 0.003 word F1 below the fp32 one on SROIE
    (the same on FUNSD) at 1.6-2x the pages/s, on a CPU with AVX-512 VNNI (the README's tiers table).
    """

    def __init__(self, model_path=None, threads: int = 1, use_gpu: bool | None = None, thresh: float = 0.3,
                 box_thresh: float = 0.5, unclip_ratio: float = 1.6, limit_side_len: int = 736,
                 max_side_len: int = 2000, batch_size: int = 1, session_options: tuple = (),
                 runtime: str = defaults.RUNTIME, precision: str = defaults.PRECISION, quantize: bool | None = None):
        self.limit_side_len, self.max_side_len, self.batch_size = limit_side_len, max_side_len, batch_size
        self.model_path = model_file(model_path) if model_path else bundled_model_path("det")
        self.runtime, self.precision = resolve_runtime(runtime, precision, use_gpu, DETECTOR_RUNTIMES)
        if quantize or (quantize is None and self.runtime == "onnxruntime" and not uses_gpu(use_gpu)):
            if self.runtime != "onnxruntime":
                raise ValueError("quantize=True makes an int8 copy for onnxruntime: pass runtime='onnxruntime'")
            pages = calibration_pages()
            self.model_path = cached_int8_model(self.model_path, lambda: self._calibration_inputs(pages),
                                                calibration_tag(pages, limit_side_len, max_side_len))
        self.session = make_session(self.model_path, threads, use_gpu, self.runtime, self.precision,
                                    **dict(session_options))
        self.input_name = self.session.get_inputs()[0].name
        self.postprocess = DBPostProcess(thresh=thresh, box_thresh=box_thresh, max_candidates=1000,
                                         unclip_ratio=unclip_ratio, use_dilation=True)

    def detect(self, images: Sequence[np.ndarray]) -> list[list[Region]]:
        """Regions per image (unsorted; reading order is :mod:`dask_ocr.layout`'s job).

        Images that detection resizes to the same size share model calls, up to ``batch_size``.
        """
        images = list(images)
        canvases = [_padded_canvas(image) for image in images]
        sizes = [detection_size(*canvas.shape[:2], self.limit_side_len, self.max_side_len) for canvas, _ in canvases]
        distinct = sorted(set(sizes))
        maps = run_batched(canvases, self.batch_size, lambda batch, shape: self._probabilities(batch, distinct[shape]),
                           shapes=[distinct.index(size) for size in sizes])
        return [self._regions(probabilities, canvas.shape[:2], pad, image.shape[:2])
                for probabilities, (canvas, pad), image in zip(maps, canvases, images, strict=True)]

    def _probabilities(self, canvases: list[tuple[np.ndarray, int]], size: tuple[int, int]) -> list[np.ndarray]:
        """The DB probability map of each canvas, all resized to ``size`` = ``(height, width)``."""
        batch = self._batch_input([canvas for canvas, _ in canvases], size)
        probabilities = self.session.run(None, {self.input_name: batch})[0]
        return [probabilities[i:i + 1] for i in range(len(canvases))]

    @staticmethod
    def _batch_input(canvases: list[np.ndarray], size: tuple[int, int]) -> np.ndarray:
        """Resize and normalise canvases into one ``(N, 3, height, width)`` tensor."""
        height, width = size
        batch = np.empty((len(canvases), 3, height, width), dtype=np.float32)
        for slot, canvas in zip(batch, canvases, strict=True):
            normalise(cv2.resize(canvas, (width, height)), slot)
        return batch

    def _calibration_inputs(self, pages: Sequence[bytes]) -> list[np.ndarray]:
        """Model inputs from the encoded ``pages``, as :meth:`detect` prepares them, to calibrate int8 on.

        Each page's input is cut into two squares (its two ends along the long side): the same
        content at the same scale, with activations half as large, which halves the calibration's
        peak memory (onnxruntime keeps every activation of the instrumented graph).
        """
        inputs = []
        for page in pages:
            canvas = _padded_canvas(decode_image(page))[0]
            batch = self._batch_input([canvas], detection_size(*canvas.shape[:2], self.limit_side_len,
                                                                self.max_side_len))
            side = min(batch.shape[2:])
            inputs += [batch[:, :, :side, :side], batch[:, :, -side:, -side:]]
        return inputs

    def _regions(self, probabilities: np.ndarray, canvas_shape: tuple[int, int], pad: int,
                 shape: tuple[int, int]) -> list[Region]:
        """DB post-processing of one map, back in the pixels of the image (before its padding)."""
        height, width = shape
        quads, scores = self.postprocess(probabilities, canvas_shape)
        regions = []
        for quad, score in zip(quads, scores, strict=True):
            polygon = np.asarray(quad, dtype=np.float64) - (0, pad)
            polygon[:, 0] = polygon[:, 0].clip(0, width)
            polygon[:, 1] = polygon[:, 1].clip(0, height)
            if np.ptp(polygon[:, 1]) >= 1 and np.ptp(polygon[:, 0]) >= 1:
                regions.append(Region(polygon, float(score)))
        return regions


def _padded_canvas(image: np.ndarray) -> tuple[np.ndarray, int]:
    """The image detection runs on (a flat line padded above and below), and the rows added each side."""
    pad = _vertical_padding(*image.shape[:2])
    if not pad:
        return image, 0
    return cv2.copyMakeBorder(image, pad, pad, 0, 0, cv2.BORDER_CONSTANT, value=(0, 0, 0)), pad


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
    return tuple(zip(edges[:-1].tolist(), edges[1:].tolist(), strict=True))


def resized_width(crop: np.ndarray) -> int:
    """The width of ``crop`` scaled to the recognizer's height (at most :data:`MAX_REC_WIDTH`)."""
    return min(MAX_REC_WIDTH, max(1, math.ceil(REC_HEIGHT * crop.shape[1] / crop.shape[0])))


def recognition_input(crops: Sequence[np.ndarray], width: int) -> np.ndarray:
    """The recognizer's input for ``crops``: each resized to height 48, normalised, right-padded with zeros to
    ``width`` — for inference and for fine-tuning alike."""
    batch = np.zeros((len(crops), 3, REC_HEIGHT, width), dtype=np.float32)
    for slot, crop in zip(batch, crops, strict=True):
        resized_w = min(width, resized_width(crop))
        normalise(cv2.resize(crop, (resized_w, REC_HEIGHT)), slot[:, :, :resized_w])
    return batch


class PPOCRRecognizer:
    """CTC text recognition over batches of crops, with optional 180° angle classification.

    Parameters
    ----------
    model_path, cls_model_path : path or str, optional
        ONNX models, or sources :func:`~dask_ocr.models.download.model_file` knows; default the
        ones bundled with rapidocr.
    dict_path : path or str, optional
        The model's dictionary file (one character per line), for models that do not carry it as
        ``character`` metadata.
    threads, use_gpu, session_options
        As for :class:`PPOCRDetector`.
    runtime, precision : str
        As for :class:`PPOCRDetector`; ``"auto"`` picks from :data:`RECOGNIZER_RUNTIMES` (the angle classifier
        runs where the recognizer does).
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
                 space_boost: float = 3.0, charset: str | None = "latin", dict_path=None, session_options: tuple = (),
                 runtime: str = defaults.RUNTIME, precision: str = defaults.PRECISION):
        self.model_path = model_file(model_path) if model_path else bundled_model_path("rec")
        self.runtime, self.precision = resolve_runtime(runtime, precision, use_gpu, RECOGNIZER_RUNTIMES)
        self.characters = ["<blank>", *self._dictionary(dict_path), " "]
        if charset not in (None, "latin"):
            raise ValueError(f"charset must be 'latin' or None, got {charset!r}")
        # The classes decoded: all, or the blank plus the Latin ones (the space, last, stays last).
        self.classes = np.arange(len(self.characters))
        if charset == "latin":
            self.classes = np.array([0] + [i for i, c in enumerate(self.characters) if i and latin_character(c)])
        self.labels = [self.characters[i] for i in self.classes]
        full = self._checked_classes(self.model_path)
        # On OpenVINO a copy of the model that outputs the decoded classes only reads 1.1-1.2x faster (with the same
        # probabilities); onnxruntime runs that copy slower (22 against 24 ms per crop), so it keeps the model.
        subset = None
        if self.runtime == "openvino" and len(self.classes) < full:
            subset = class_subset_model(self.model_path, self.classes)
        self.session = make_session(subset or self.model_path, threads, use_gpu, self.runtime, self.precision,
                                    **dict(session_options))
        self.input_name = self.session.get_inputs()[0].name
        self.classifier = None
        if use_angle_cls:
            cls_path = model_file(cls_model_path) if cls_model_path else bundled_model_path("cls")
            self.classifier = make_session(cls_path, threads, use_gpu, self.runtime, self.precision,
                                           **dict(session_options))
        self.width_quantum, self.min_width, self.cls_thresh = width_quantum, min_width, cls_thresh
        self.space_boost = space_boost

    def _checked_classes(self, path: Path) -> int:
        """The classes the model at ``path`` scores, checked against its dictionary."""
        classes = output_classes(path)
        if classes and classes != len(self.characters):
            raise ValueError(f"{path} has {classes} classes but its dictionary gives {len(self.characters)} "
                             "(blank + characters + space): wrong dict_path?")
        return classes or len(self.characters)

    def recognize(self, crops: Sequence[np.ndarray], batch_size: int = defaults.BATCH_SIZE,
                  decoding: DecodingOptions | None = None) -> list[Recognition]:
        """Read each crop (RGB ``uint8``); results in input order.  CTC has no decoding options."""
        crops = list(crops)
        tall = [i for i, crop in enumerate(crops) if crop.shape[0] >= 1.5 * crop.shape[1]]
        candidates = crops + [np.rot90(crops[i]) for i in tall]
        if self.classifier is not None and candidates:
            candidates = self._upright(candidates, batch_size)
        widths = [padded_width(resized_width(c), self.width_quantum, self.min_width) for c in candidates]
        readings = run_batched(candidates, batch_size, self._recognize_batch, shapes=widths)
        for offset, index in enumerate(tall):
            rotated = readings[len(crops) + offset]
            if rotated.confidence > readings[index].confidence:  # text runs down the crop: no spans across it
                readings[index] = Recognition(rotated.text, rotated.confidence, None, rotated.char_confidences)
        return readings[:len(crops)]

    def _dictionary(self, dict_path) -> list[str]:
        """The characters: from ``dict_path`` if given, else from the model's ``character`` metadata."""
        if dict_path is not None:
            return read_dictionary(dict_path)
        metadata = model_metadata(self.model_path)
        if "character" not in metadata:
            raise ValueError("the recognizer carries no 'character' metadata: pass its dictionary file as dict_path "
                             "(or it is not a PP-OCR CTC recognizer)")
        return metadata["character"].splitlines()

    def _recognize_batch(self, crops: list[np.ndarray], width: int) -> list[Recognition]:
        probabilities = self.session.run(None, {self.input_name: recognition_input(crops, width)})[0]
        return self._decode(probabilities, crops, width)


    def _decode(self, probabilities: np.ndarray, crops: list[np.ndarray], width: int) -> list[Recognition]:
        """CTC decoding of a batch's ``(N, T, C)`` output, over the classes of the charset."""
        if len(self.classes) < probabilities.shape[-1]:
            probabilities = probabilities[:, :, self.classes]
        step = width / probabilities.shape[1]
        return [ctc_decode(p, self.labels, self.space_boost, step / min(width, resized_width(crop)))
                for p, crop in zip(probabilities, crops, strict=True)]

    def _upright(self, crops: list[np.ndarray], batch_size: int) -> list[np.ndarray]:
        """Turn crops that the classifier finds upside down (fixed input shape: batch-independent)."""
        flipped = run_batched(crops, batch_size, self._classify_batch)
        return [cv2.rotate(crop, cv2.ROTATE_180) if flip else crop for crop, flip in zip(crops, flipped, strict=True)]

    def _classify_batch(self, crops: list[np.ndarray], _shape) -> list[bool]:
        height, width = CLS_SHAPE
        batch = np.zeros((len(crops), 3, height, width), dtype=np.float32)
        for slot, crop in zip(batch, crops, strict=True):
            resized_w = min(width, math.ceil(height * crop.shape[1] / crop.shape[0]))
            normalise(cv2.resize(crop, (resized_w, height)), slot[:, :, :resized_w])
        scores = self.classifier.run(None, {self.classifier.get_inputs()[0].name: batch})[0]
        return ((scores.argmax(axis=1) == 1) & (scores.max(axis=1) > self.cls_thresh)).tolist()
