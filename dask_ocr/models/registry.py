"""Model names → :class:`ModelSpec`, and the one place that turns a spec into a live model.

A spec is small, frozen and hashable: it travels in the task graph and keys the per-worker model
cache, while the model itself (sessions, weights) never leaves the process that loaded it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import ModelNotFoundError

__all__ = ["ModelSpec", "available_models", "resolve_model", "create_detector", "create_recognizer"]


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
    """

    name: str
    family: str
    tasks: tuple[str, ...]
    detector_options: tuple[tuple[str, object], ...] = field(default=())
    recognizer_options: tuple[tuple[str, object], ...] = field(default=())

    def supports(self, task: str) -> bool:
        """Whether this model can ``detect`` or ``recognize``."""
        return task in self.tasks


_REGISTRY: dict[str, ModelSpec] = {
    "ppocr": ModelSpec("ppocr", "ppocr", ("detect", "recognize")),
}


def available_models() -> list[str]:
    """Names :func:`resolve_model` accepts."""
    return sorted(_REGISTRY)


def resolve_model(model: str | ModelSpec, task: str) -> ModelSpec:
    """Look a model up by name and check that it can do ``task``.

    Raises
    ------
    ModelNotFoundError
        Unknown name, or a model that cannot do ``task``.
    """
    spec = model if isinstance(model, ModelSpec) else _REGISTRY.get(str(model).lower())
    if spec is None:
        raise ModelNotFoundError(f"unknown model {model!r}; available: {', '.join(available_models())}")
    if not spec.supports(task):
        raise ModelNotFoundError(f"model {spec.name!r} cannot {task}; it supports {', '.join(spec.tasks)}")
    return spec


def create_detector(spec: ModelSpec, threads: int = 1, use_gpu: bool | None = None):
    """Build the detector of ``spec`` (slow: loads weights; go through :mod:`dask_ocr.runtime`)."""
    if spec.family == "ppocr":
        from .ppocr import PPOCRDetector

        return PPOCRDetector(threads=threads, use_gpu=use_gpu, **dict(spec.detector_options))
    raise ModelNotFoundError(f"model family {spec.family!r} has no detector")


def create_recognizer(spec: ModelSpec, threads: int = 1, use_gpu: bool | None = None):
    """Build the recognizer of ``spec`` (slow: loads weights; go through :mod:`dask_ocr.runtime`)."""
    if spec.family == "ppocr":
        from .ppocr import PPOCRRecognizer

        return PPOCRRecognizer(threads=threads, use_gpu=use_gpu, **dict(spec.recognizer_options))
    raise ModelNotFoundError(f"model family {spec.family!r} has no recognizer")
