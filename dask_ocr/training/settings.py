"""What a fine-tuning run is told, and the files it writes (no torch here: the CLI reads it to build its parser)."""

from __future__ import annotations

from dataclasses import dataclass

from ..models.registry import CARD_NAME

__all__ = ["TrainingSettings", "MODEL_FILES", "MODEL_NAME", "DICTIONARY_NAME", "CHECKPOINT_NAME"]

MODEL_NAME, DICTIONARY_NAME, CHECKPOINT_NAME = "recognizer.onnx", "dictionary.txt", "checkpoint.pt"
#: Every file a fine-tuning run writes into its output folder.
MODEL_FILES = (MODEL_NAME, DICTIONARY_NAME, CARD_NAME, CHECKPOINT_NAME)


@dataclass(frozen=True)
class TrainingSettings:
    """How to train; every field is recorded in the model card.

    Attributes
    ----------
    epochs : int
        Passes over the training crops (early stopping may end sooner).
    max_steps : int, optional
        Stop after this many optimiser steps, whatever ``epochs`` says.
    batch_size : int
        Crops per step; a batch holds crops of similar width.
    learning_rate, weight_decay : float
        AdamW's, with a linear warm-up over ``warmup_steps`` and a cosine decay to a tenth.
    evaluate_every : int, optional
        Steps between validations (default: twice an epoch).
    patience : int
        Validations in a row without a lower CER before training stops.
    augment : bool
        Degrade training crops at random (:func:`~dask_ocr.training.augment.augment`).
    ignore_case : bool, optional
        Score a letter as right whatever its case, for labels that do not keep the case printed (SROIE writes
        every receipt in capitals); the model keeps reading case as its base did.  Default: when no label holds
        a lower-case letter.
    precision : {"auto", "f32", "bf16"}
        ``"auto"``: bfloat16 autocast where the CPU (AVX512-BF16, AMX) or GPU computes in it, else float32.
    seed : int
        Fixes the validation split, the batches and the augmentations.
    """

    epochs: int = 3
    max_steps: int | None = None
    batch_size: int = 32
    learning_rate: float = 5e-5
    weight_decay: float = 1e-2
    warmup_steps: int = 100
    evaluate_every: int | None = None
    patience: int = 3
    augment: bool = True
    ignore_case: bool | None = None
    precision: str = "auto"
    seed: int = 0
