"""Fine-tuning the PP-OCR recognizer on labelled crops: CTC in torch, early stopping, checkpoints, ONNX out.

The loop is deterministic for a seed: each epoch's batches and each step's augmentations are drawn from
generators seeded by ``(seed, epoch[, batch])``, so a run resumed from its checkpoint takes the same steps as
one that was never stopped.
"""

from __future__ import annotations

import contextlib
import copy
import datetime
import hashlib
import json
import logging
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from functools import partial
from pathlib import Path

import numpy as np
import torch
from fsspec.implementations.local import LocalFileSystem

from ..batching import padded_width
from ..metrics import cer
from ..models.ppocr import PPOCRRecognizer, ctc_decode, recognition_input, resized_width
from ..models.registry import CARD_NAME, ModelSpec, create_recognizer, finetuned_spec
from ..sinks.files import write_atomically
from .augment import augment, trim
from .examples import Example
from .network import export_onnx, recognizer_network
from .settings import CHECKPOINT_NAME, DICTIONARY_NAME, MODEL_NAME, TrainingSettings

__all__ = ["train_recognizer", "torch_threads"]

logger = logging.getLogger("dask_ocr")

#: Margin (px) left around validation crops: about what the detector's boxes leave around a line.
VALIDATION_MARGIN = 3
#: Training batches are padded to a multiple of this width (px at height 48).
WIDTH_QUANTUM = 32
#: Crops per batch when reading the validation crops.
EVALUATION_BATCH = 64


def train_recognizer(train: Sequence[Example], validation: Sequence[Example], output: Path, base: ModelSpec,
                     settings: TrainingSettings, device: str = "cpu", resume: bool = True, progress: bool = True,
                     data: dict | None = None) -> ModelSpec:
    """Fine-tune ``base``'s recognizer on ``train``, keep the weights with the lowest CER on ``validation``,
    and write them to ``output`` as ONNX with their dictionary and a card; the :class:`ModelSpec` of the result.

    ``data`` (where the examples came from) is recorded in the card.
    """
    reader = create_recognizer(base.with_recognizer_options(runtime="onnxruntime", precision="f32"))
    dictionary, rows = _classes(reader, [e.text for e in train])
    if settings.ignore_case is None:
        settings = replace(settings, ignore_case=not any(c.islower() for e in train for c in e.text))
    settings = replace(settings, precision=_training_precision(settings.precision, device))
    labels = ["<blank>", *dictionary, " "]
    torch.manual_seed(settings.seed)
    network = recognizer_network(reader.model_path, rows).to(device)
    val_crops = [trim(e.image, e.margin, (VALIDATION_MARGIN,) * 4) for e in validation]
    val_texts = [e.text for e in validation]
    run = _Run(network, list(train), labels, settings, device, output / CHECKPOINT_NAME,
               _fingerprint(train, validation, base, settings, rows))
    if resume:
        run.restore()
    score = partial(cer, ignore_case=settings.ignore_case)
    stopped = run.fit(lambda: score(val_texts, _readings(network, val_crops, labels, device)), progress)
    network.load_state_dict(run.best_state)
    card = _export(network.cpu().eval(), output, dictionary, base, reader, val_crops, val_texts, score)
    card["training"] = {**asdict(settings), "examples": len(train), "pages": len({e.page for e in train}),
                        "validation_examples": len(validation), "steps": run.step, "stopped": stopped,
                        "seconds": round(run.seconds, 1),
                        "examples_per_second": round(run.examples / max(run.seconds, 1e-9), 2),
                        "device": device, "threads": torch.get_num_threads(), "history": run.history,
                        **(data or {})}
    _write(output / CARD_NAME, (json.dumps(card, indent=2, ensure_ascii=False) + "\n").encode())
    (output / CHECKPOINT_NAME).unlink(missing_ok=True)
    return finetuned_spec(output)


def _classes(reader: PPOCRRecognizer, texts: Sequence[str]) -> tuple[list[str], list[int | None]]:
    """The new model's dictionary (the base's decoded characters, then any new ones; the space stays last, as
    the recognizer appends it) and, per class, the base class it starts from (None: a new character)."""
    kept = [int(i) for i in reader.classes if i and reader.characters[i] != " "]
    known = {reader.characters[i] for i in kept} | {" "}
    new = sorted({character for text in texts for character in text} - known)
    if new:
        logger.info("fine-tuning adds %d characters to the dictionary: %s", len(new), "".join(new))
    space = reader.characters.index(" ", 1)
    return [reader.characters[i] for i in kept] + new, [0, *kept, *[None] * len(new), space]


class _Run:
    """The optimiser, the schedule and the state a checkpoint holds."""

    def __init__(self, network: torch.nn.Module, train: list[Example], labels: list[str], settings: TrainingSettings,
                 device: str, checkpoint: Path, fingerprint: str):
        self.network, self.train, self.settings, self.device = network, train, settings, device
        self.checkpoint, self.fingerprint = checkpoint, fingerprint
        self.classes = _LossClasses(labels, settings.ignore_case)
        self.precision = _training_precision(settings.precision, device)
        self.widths = np.array([resized_width(e.image) for e in train])
        self.per_epoch = math.ceil(len(train) / settings.batch_size)
        self.total = settings.epochs * self.per_epoch
        if settings.max_steps is not None:
            self.total = min(self.total, settings.max_steps)
        self.every = settings.evaluate_every or max(1, self.per_epoch // 2)
        self.optimizer = torch.optim.AdamW(network.parameters(), lr=settings.learning_rate,
                                           weight_decay=settings.weight_decay)
        self.schedule = torch.optim.lr_scheduler.LambdaLR(self.optimizer, self._factor)
        self.ctc = torch.nn.CTCLoss(blank=0, zero_infinity=True)
        self.step, self.examples, self.seconds, self.bad, self.history = 0, 0, 0.0, 0, []
        self.best_cer, self.best_state = math.inf, copy.deepcopy(network.state_dict())

    def _factor(self, step: int) -> float:
        warmup = max(1, self.settings.warmup_steps)
        if step < warmup:
            return (step + 1) / warmup
        done = (step - warmup) / max(1, self.total - warmup)
        return 0.1 + 0.45 * (1 + math.cos(math.pi * min(1.0, done)))

    def fit(self, validate: Callable[[], float], progress: bool) -> str:
        """Train until the last step or early stopping; the reason it stopped."""
        from tqdm.auto import tqdm

        if not self.history:
            self._evaluated(validate(), "base")
        bar = tqdm(total=self.total, initial=self.step, desc="fine-tuning", unit="step", disable=not progress)
        stopped = "max_steps" if self.settings.max_steps is not None else "epochs"
        try:
            while self.step < self.total:
                epoch, position = divmod(self.step, self.per_epoch)
                started = time.perf_counter()
                loss = self._train_step(self._batches(epoch)[position], np.random.default_rng(
                    [self.settings.seed, epoch, position]))
                self.seconds += time.perf_counter() - started
                self.step += 1
                bar.update(1)
                bar.set_postfix(loss=f"{loss:.3f}", best_cer=f"{self.best_cer:.4f}")
                if self.step % self.every == 0 or self.step == self.total:
                    if self._evaluated(validate(), loss):
                        stopped = "early stopping"
                        break
        finally:
            bar.close()
        return stopped

    def _batches(self, epoch: int) -> list[np.ndarray]:
        """An epoch's batches: crops of similar width together, the batches in a random order."""
        rng = np.random.default_rng([self.settings.seed, epoch])
        order = np.lexsort((rng.random(len(self.widths)), self.widths))
        batches = [order[i:i + self.settings.batch_size] for i in range(0, len(order), self.settings.batch_size)]
        return [batches[i] for i in rng.permutation(len(batches))]

    def _train_step(self, batch: np.ndarray, rng: np.random.Generator) -> float:
        examples = [self.train[i] for i in batch]
        crops = [augment(e.image, e.margin, rng) if self.settings.augment else trim(e.image, e.margin, (0,) * 4)
                 for e in examples]
        width = padded_width(max(resized_width(c) for c in crops), WIDTH_QUANTUM, WIDTH_QUANTUM * 2)
        inputs = torch.from_numpy(recognition_input(crops, width)).to(self.device)
        targets = [self.classes.target(e.text) for e in examples]
        self.network.train()
        _freeze_batch_norm(self.network)
        with torch.autocast(self.device.split(":")[0], dtype=torch.bfloat16, enabled=self.precision == "bf16"):
            logits = self.network(inputs)
        log_probs = self.classes.log_probabilities(logits.float()).transpose(0, 1)  # (T, N, classes)
        loss = self.ctc(log_probs, torch.tensor([i for t in targets for i in t], dtype=torch.long),
                        torch.full((len(crops),), log_probs.shape[0], dtype=torch.long),
                        torch.tensor([len(t) for t in targets], dtype=torch.long))
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.network.parameters(), 5.0)
        self.optimizer.step()
        self.schedule.step()
        self.examples += len(crops)
        return float(loss.detach())

    def _evaluated(self, error: float, loss) -> bool:
        """Record a validation; save a checkpoint; whether to stop early."""
        self.history.append({"step": self.step, "loss": loss if isinstance(loss, str) else round(loss, 4),
                             "validation_cer": round(error, 5)})
        logger.info("fine-tuning step %d: validation CER %.4f", self.step, error)
        if error < self.best_cer:
            self.best_cer, self.best_state, self.bad = error, copy.deepcopy(self.network.state_dict()), 0
        elif self.step:
            self.bad += 1
        self._save()
        return self.bad >= self.settings.patience

    def _save(self) -> None:
        state = {"fingerprint": self.fingerprint, "network": self.network.state_dict(),
                 "optimizer": self.optimizer.state_dict(), "schedule": self.schedule.state_dict(),
                 "best_state": self.best_state, "best_cer": self.best_cer, "bad": self.bad, "step": self.step,
                 "examples": self.examples, "seconds": self.seconds, "history": self.history}
        write_atomically(LocalFileSystem(), str(self.checkpoint), lambda handle: torch.save(state, handle))

    def restore(self) -> None:
        """Continue from the checkpoint, if one of this same run is there."""
        if not self.checkpoint.is_file():
            return
        state = torch.load(self.checkpoint, map_location=self.device, weights_only=True)
        if state.get("fingerprint") != self.fingerprint:
            raise ValueError(f"{self.checkpoint} is from a run with other data or settings: pass resume=False "
                             "(--no-resume) to start again, or another output folder")
        self.network.load_state_dict(state["network"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.schedule.load_state_dict(state["schedule"])
        for name in ("best_state", "best_cer", "bad", "step", "examples", "seconds", "history"):
            setattr(self, name, state[name])
        logger.info("fine-tuning resumes at step %d of %d", self.step, self.total)


def _freeze_batch_norm(network: torch.nn.Module) -> None:
    """Batch norms keep the statistics of the base model's large training set: a small batch of padded crops
    would drag them (their scale and shift still train)."""
    for module in network.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.eval()


class _LossClasses:
    """The classes the loss scores: the model's, or with ``ignore_case`` one per letter whatever its case (the
    probabilities of ``A`` and ``a`` added), for labels that do not keep the case of what is printed."""

    def __init__(self, labels: list[str], ignore_case: bool):
        self.ignore_case = ignore_case
        keys = [self._key(label) for label in labels]
        self.groups = {key: number for number, key in enumerate(dict.fromkeys(keys))}
        self.merge = None
        if len(self.groups) < len(labels):
            self.merge = torch.zeros(len(labels), len(self.groups))
            self.merge[torch.arange(len(labels)), torch.tensor([self.groups[key] for key in keys])] = 1.0

    def _key(self, label: str) -> str:
        folded = label.casefold() if self.ignore_case and label != "<blank>" else label
        return folded if len(folded) == 1 else label

    def target(self, text: str) -> list[int]:
        return [self.groups[self._key(character)] for character in text]

    def log_probabilities(self, logits: torch.Tensor) -> torch.Tensor:
        if self.merge is None:
            return logits.log_softmax(-1)
        merged = logits.softmax(-1) @ self.merge.to(logits.device)
        return merged.clamp_min(1e-30).log()


def _training_precision(precision: str, device: str) -> str:
    """``"bf16"`` (autocast; the weights stay float32) where the hardware computes in it natively, else ``"f32"``."""
    if precision != "auto":
        return precision
    if device.startswith("cuda"):
        return "bf16" if torch.cuda.is_bf16_supported() else "f32"
    from ..models.onnx import cpu_has_bf16

    return "bf16" if cpu_has_bf16() else "f32"


def _probabilities(network: torch.nn.Module, crops: Sequence[np.ndarray], device: str) -> list[np.ndarray]:
    """Per crop, the ``(T, C)`` probabilities of ``network`` in inference mode, batched by padded width."""
    network.eval()
    widths = [padded_width(resized_width(c), 64, 64) for c in crops]
    order = np.argsort(widths, kind="stable")
    found: list[np.ndarray | None] = [None] * len(crops)
    with torch.inference_mode():
        for start in range(0, len(order), EVALUATION_BATCH):
            batch = order[start:start + EVALUATION_BATCH]
            for width in sorted({widths[i] for i in batch}):
                same = [i for i in batch if widths[i] == width]
                inputs = torch.from_numpy(recognition_input([crops[i] for i in same], width)).to(device)
                for i, p in zip(same, network(inputs).softmax(-1).cpu().numpy(), strict=True):
                    found[i] = p
    return found


def _readings(network, crops, labels, device) -> list[str]:
    return [ctc_decode(p, labels).text for p in _probabilities(network, crops, device)]


def _export(network: torch.nn.Module, output: Path, dictionary: list[str], base: ModelSpec,
            reader: PPOCRRecognizer, val_crops: list[np.ndarray], val_texts: list[str],
            score: Callable[[list[str], list[str]], float]) -> dict:
    """Write the model and its dictionary; check that the ONNX file reads the validation crops as the network
    does; measure the base and the new model on them as ``recognize`` reads (the card's first fields)."""
    from .. import __version__

    _write(output / DICTIONARY_NAME, ("\n".join(dictionary) + "\n").encode())
    _write(output / MODEL_NAME, export_onnx(network, {"character": "\n".join(dictionary)}))
    exported = PPOCRRecognizer(model_path=output / MODEL_NAME, charset=None, runtime="onnxruntime",
                               precision="f32", space_boost=1.0)
    check = _export_check(network, exported, val_crops)
    # The space boost the base model needs (it drops spaces) may not suit the tuned one: keep what reads better.
    boosts = {boost: score(val_texts, [r.text for r in PPOCRRecognizer(
        model_path=output / MODEL_NAME, charset=None, runtime="onnxruntime", precision="f32",
        space_boost=boost).recognize(val_crops)]) for boost in sorted({1.0, reader.space_boost})}
    boost = min(boosts, key=boosts.get)
    base_cer = score(val_texts, [r.text for r in reader.recognize(val_crops)])
    return {"format": 1, "family": "ppocr", "base": base.name,
            "model": MODEL_NAME, "dictionary": DICTIONARY_NAME,
            "recognizer_options": {"charset": None, "space_boost": boost},
            "detector_options": dict(base.detector_options),
            "validation": {"crops": len(val_crops), "base_cer": round(base_cer, 5), "cer": round(boosts[boost], 5),
                           "cer_by_space_boost": {str(k): round(v, 5) for k, v in boosts.items()}},
            "export_check": check, "new_characters": dictionary[len(reader.labels) - 2:],
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "dask_ocr_version": __version__}


def _export_check(network: torch.nn.Module, exported: PPOCRRecognizer, crops: list[np.ndarray]) -> dict:
    """Read ``crops`` with the torch network and with its ONNX export on the same inputs: every text must agree."""
    ours = _probabilities(network, crops, "cpu")
    differences, mismatches = [], 0
    for crop, probabilities in zip(crops, ours, strict=True):
        width = padded_width(resized_width(crop), 64, 64)
        theirs = exported.session.run(None, {exported.input_name: recognition_input([crop], width)})[0][0]
        differences.append(float(np.abs(theirs - probabilities).max()))
        mismatches += ctc_decode(theirs, exported.labels).text != ctc_decode(probabilities, exported.labels).text
    if mismatches:
        raise RuntimeError(f"the ONNX export reads {mismatches} of {len(crops)} validation crops differently "
                           "from the trained network")
    return {"crops": len(crops), "identical_texts": len(crops), "max_abs_difference": max(differences, default=0.0)}


def _fingerprint(train, validation, base: ModelSpec, settings: TrainingSettings, rows) -> str:
    """What makes a run the same run: its examples, base model, classes and settings."""
    digest = hashlib.sha256(repr((base, asdict(settings), rows)).encode())
    for example in [*train, None, *validation]:
        if example is not None:
            digest.update(example.text.encode())
            digest.update(example.image.tobytes())
        digest.update(b"\0")
    return digest.hexdigest()


def _write(path: Path, content: bytes) -> None:
    write_atomically(LocalFileSystem(), str(path), lambda handle: handle.write(content))


@contextlib.contextmanager
def torch_threads(threads: int | None):
    """Run torch on ``threads`` threads (default all cores) inside the block, as it was afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads or os.cpu_count() or 1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
