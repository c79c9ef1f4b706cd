"""OCR model families behind one registry; see :mod:`dask_ocr.models.registry`."""

from .base import Detector, Recognition, Recognizer
from .registry import ModelSpec, available_models, create_detector, create_recognizer, register_trocr, resolve_model

__all__ = ["Detector", "Recognizer", "Recognition", "ModelSpec", "available_models", "resolve_model",
           "register_trocr", "create_detector", "create_recognizer"]
