"""Fine-tuning the recognizer on a user's own labelled pages (torch loads on the first call of :func:`finetune`)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ..models.registry import CARD_NAME, ModelSpec, resolve_model
from .examples import MANIFEST_NAME, examples_from_frame, read_manifest, split_by_page
from .settings import CHECKPOINT_NAME, MODEL_FILES, TrainingSettings

__all__ = ["finetune", "read_manifest", "TrainingSettings", "MANIFEST_NAME"]


def finetune(train, output: str | Path, validation=None, *, base: str | ModelSpec = "ppocr",
             image_col: str = "content", regions_col: str | None = "regions", text_col: str = "text",
             id_col: str | None = None, validation_share: float = 0.1, settings: TrainingSettings | None = None,
             device: str = "auto", threads: int | None = None, resume: bool = True, overwrite: bool = False,
             progress: bool = True, **options) -> ModelSpec:
    """Fine-tune the PP-OCR recognizer of ``base`` on labelled examples; the model is usable by name.

    Parameters
    ----------
    train, validation : DataFrame or path
        Labelled examples: a pandas or Dask DataFrame with one page per row (``image_col`` and ``regions_col``,
        each region a ``box`` and/or ``polygon`` with its ``text``) or one crop per row (``image_col`` and
        ``text_col``), or a folder in the manifest format (:func:`read_manifest`).  Without ``validation``,
        ``validation_share`` of the training pages is held out (whole pages, drawn with the seed).
    output : path
        A new or empty folder, or one a stopped run left (it resumes): the model (``recognizer.onnx``), its
        ``dictionary.txt`` and a card ``dask_ocr_model.json`` (base model, data, steps, validation CER, date).
    base : str or ModelSpec
        A PP-OCR model to start from: ``"ppocr"``, ``"ppocr_fast"``, or an earlier fine-tuned folder.
    id_col : str, optional
        The column naming each row's page (default the index): examples of a page stay on one side of the split.
    settings : TrainingSettings, optional
        Epochs, batch size, learning rate, early stopping, augmentation, seed; ``**options`` override its fields
        (``finetune(..., epochs=1, max_steps=200)``).
    device : {"auto", "cpu", "cuda"}
        Where torch trains (``"auto"``: a GPU when torch sees one).
    threads : int, optional
        Torch threads while training (default: every core), restored afterwards.
    resume : bool
        Continue from the checkpoint a stopped run of the same data and settings left in ``output``.
    overwrite : bool
        Replace a finished model in ``output``.
    progress : bool
        Show a progress bar.

    Returns
    -------
    ModelSpec
        The fine-tuned model with ``base``'s detector: pass it (or the ``output`` path) wherever a model name
        goes: ``df.ocr.recognize(model=...)``, ``dask-ocr run --model PATH``, ``register_models``.

    Raises
    ------
    FileExistsError
        ``output`` holds a finished model (without ``overwrite``) or files this function did not write.
    ValueError
        No usable example, a base that is not a PP-OCR CTC recognizer, or a checkpoint of another run.
    """
    import torch

    from .train import torch_threads, train_recognizer

    spec = resolve_model(base, "recognize")
    if spec.family != "ppocr":
        raise ValueError(f"fine-tuning starts from a PP-OCR recognizer; {spec.name!r} is a {spec.family} model")
    settings = replace(settings or TrainingSettings(), **options)
    output = _checked_output(Path(output), overwrite)
    columns = {"image_col": image_col, "regions_col": regions_col, "text_col": text_col, "id_col": id_col}
    train_examples, skipped = _examples(train, columns)
    if validation is None:
        train_examples, validation_examples = split_by_page(train_examples, validation_share, settings.seed)
    else:
        validation_examples, more = _examples(validation, columns)
        skipped += more
    if not train_examples or not validation_examples:
        raise ValueError("fine-tuning needs labelled examples to train on and to validate on; "
                         f"skipped: {skipped[:5]}")
    data = {"train_source": _describe(train), "validation_source": _describe(validation), "skipped": len(skipped)}
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    with torch_threads(threads):
        return train_recognizer(train_examples, validation_examples, output, spec, settings, device, resume,
                                progress, data)


def _examples(data, columns: dict) -> tuple[list, list[str]]:
    if isinstance(data, (str, Path)):
        return examples_from_frame(read_manifest(data), **{**columns, "id_col": "id"})
    if hasattr(data, "compute"):  # a Dask DataFrame: the labelled set fits in memory, as training needs
        data = data.compute()
    return examples_from_frame(data, **columns)


def _describe(data) -> str | None:
    if data is None:
        return None
    return str(Path(data).resolve()) if isinstance(data, (str, Path)) else f"DataFrame of {len(data)} rows"


def _checked_output(output: Path, overwrite: bool) -> Path:
    """``output``, made if need be, once it is sure no file of the user's will be replaced."""
    if output.exists() and not output.is_dir():
        raise FileExistsError(f"{output} is a file, not a folder for the model")
    if output.is_dir():
        foreign = sorted(p.name for p in output.iterdir() if p.name not in MODEL_FILES and not p.name.startswith("."))
        if foreign:
            raise FileExistsError(f"{output} holds files fine-tuning did not write ({', '.join(foreign[:5])}): "
                                  "name a new or empty folder")
        if (output / CARD_NAME).is_file() and not overwrite:
            raise FileExistsError(f"{output} already holds a fine-tuned model: pass overwrite=True (--overwrite) "
                                  "to replace it, or name another folder")
        ours = {p.name for p in output.iterdir()} & set(MODEL_FILES)
        if ours and not ours & {CARD_NAME, CHECKPOINT_NAME} and not overwrite:  # named like ours, written by no run
            raise FileExistsError(f"{output} holds {', '.join(sorted(ours))} but no model card or checkpoint: "
                                  "pass overwrite=True (--overwrite) to replace them, or name another folder")
    output.mkdir(parents=True, exist_ok=True)
    return output.resolve()
