"""TrOCR (any Hugging Face ``VisionEncoderDecoderModel`` OCR checkpoint) with batched, cached decoding.

Crops are sorted by width (a proxy for text length), batched, encoded once per batch, and decoded
greedily with the decoder's key/value cache.  A row that emits end-of-sequence leaves the batch at
once: its rows of the cache and of the encoder states are dropped, so short lines stop costing
compute while long ones finish.  Beam search (``num_beams > 1``) and ``use_caching=False`` go
through ``generate``.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from .. import defaults
from ..batching import run_batched
from ..errors import ModelNotFoundError
from .base import DecodingOptions, Recognition

__all__ = ["TROCR_ALIASES", "trocr_source", "TrOCRRecognizer", "greedy_decode"]

#: Visual NLP model names → Hugging Face checkpoints (with or without ``_v2``).
TROCR_ALIASES = {
    f"ocr_{size}_{kind}{suffix}": f"microsoft/trocr-{size}-{kind}"
    for size in ("small", "base", "large") for kind in ("printed", "handwritten") for suffix in ("", "_v2")
}
_DTYPES = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}
#: Crops of the first call that decide ``precision="auto"`` on a GPU.
_PRECISION_CHECK_CROPS = 8

#: ``processor(rows, step, logits) -> logits``, see :func:`greedy_decode`.
LogitsProcessor = Callable[..., object]


def trocr_source(name: str) -> str | None:
    """The checkpoint (Hub id or local directory) a model name means, or ``None`` if not TrOCR.

    Aliases map to ``microsoft/trocr-*``; a directory holding a ``vision-encoder-decoder``
    ``config.json`` is itself; ``org/name`` is taken for a Hugging Face id.
    """
    lowered = name.lower()
    if lowered in TROCR_ALIASES:
        return TROCR_ALIASES[lowered]
    path = Path(name).expanduser()
    if (path / "config.json").is_file():
        import json

        config = json.loads((path / "config.json").read_text())
        return str(path) if config.get("model_type") == "vision-encoder-decoder" else None
    if name.count("/") == 1 and not os.path.exists(name) and "trocr" in lowered:
        return name
    return None


def greedy_decode(model, pixel_values, max_new_tokens: int, logits_processor: LogitsProcessor | None = None):
    """Greedy decoding with the key/value cache, compacting the batch as rows finish.

    Parameters
    ----------
    model : transformers.VisionEncoderDecoderModel
    pixel_values : torch.Tensor
        ``(batch, 3, H, W)``, as the image processor makes them.
    max_new_tokens : int
        The most tokens per row, end-of-sequence included.
    logits_processor : callable, optional
        ``processor(rows, step, logits) -> logits`` on each step's next-token logits, as a
        ``generate`` logits processor, told the original row numbers still decoding (``rows``)
        since finished rows leave the batch (to constrain the vocabulary or force lengths).

    Returns
    -------
    tokens : list of list of int
        Per row, the generated tokens without end-of-sequence.
    log_probabilities : list of float
        Per row, the mean log-probability of its tokens (end-of-sequence included when emitted).
    """
    import torch
    from transformers.cache_utils import DynamicCache, EncoderDecoderCache

    config = model.config
    start, eos = config.decoder_start_token_id, config.eos_token_id
    if start is None or eos is None:
        raise ValueError("the model config needs decoder_start_token_id and eos_token_id")
    states = model.encoder(pixel_values=pixel_values).last_hidden_state
    if getattr(model, "enc_to_dec_proj", None) is not None:
        states = model.enc_to_dec_proj(states)
    rows = torch.arange(len(pixel_values), device=states.device)
    tokens: list[list[int]] = [[] for _ in range(len(pixel_values))]
    scores = [0.0] * len(pixel_values)
    counts = [0] * len(pixel_values)
    cache = EncoderDecoderCache(DynamicCache(), DynamicCache())
    cache_keyword = _cache_keyword(model.decoder)
    next_ids = torch.full((len(pixel_values), 1), start, dtype=torch.long, device=states.device)
    for step in range(max_new_tokens):
        logits = model.decoder(input_ids=next_ids, encoder_hidden_states=states, use_cache=True,
                               **{cache_keyword: cache}).logits[:, -1, :]
        if logits_processor is not None:
            logits = logits_processor(rows, step, logits)
        log_probabilities = torch.log_softmax(logits.float(), dim=-1)
        best = log_probabilities.argmax(dim=-1)
        chosen = log_probabilities.gather(1, best[:, None])[:, 0]
        for row, token, score in zip(rows.tolist(), best.tolist(), chosen.tolist(), strict=True):
            scores[row] += score
            counts[row] += 1
            if token != eos:
                tokens[row].append(token)
        going = best != eos
        if not bool(going.any()):
            break
        if not bool(going.all()):  # finished rows leave the batch, their cache rows with them
            keep = going.nonzero()[:, 0]
            cache.batch_select_indices(keep)
            states, rows, best = states[keep], rows[keep], best[keep]
        next_ids = best[:, None]
    return tokens, [score / max(count, 1) for score, count in zip(scores, counts, strict=True)]


def _cache_keyword(decoder) -> str:
    """``cache`` in current transformers; ``past_key_values`` before it was renamed."""
    import inspect

    return "cache" if "cache" in inspect.signature(decoder.forward).parameters else "past_key_values"


class TrOCRRecognizer:
    """Recognize crops with a TrOCR-style ``VisionEncoderDecoderModel``.

    Parameters
    ----------
    source : str
        A Hugging Face id or a local directory (see :func:`trocr_source`).
    threads : int
        torch intra-op threads on CPU.
    use_gpu : bool or None
        ``None`` uses CUDA when torch sees it.
    allow_pickle : bool
        Also accept ``pytorch_model.bin`` (pickle) weights; by default only safetensors load.
    precision : {"auto", "fp32", "fp16", "bf16"}
        ``auto``: fp32 on CPU; on GPU, fp16 if the first crops it is given read exactly as in fp32,
        else fp32 (decided once, on the first call).

    Notes
    -----
    Decoding settings (:class:`~dask_ocr.models.base.DecodingOptions`) are arguments of
    :meth:`recognize`, so one loaded model serves every setting.
    """

    def __init__(self, source: str, threads: int = 1, use_gpu: bool | None = None, allow_pickle: bool = False,
                 precision: str = "auto"):
        import torch

        if precision not in ("auto", *_DTYPES):
            raise ValueError(f"precision must be auto, fp32, fp16 or bf16, got {precision!r}")
        self.device = torch.device("cuda" if (use_gpu or (use_gpu is None and torch.cuda.is_available())) else "cpu")
        if use_gpu and not torch.cuda.is_available():
            raise RuntimeError("use_gpu=True but torch sees no CUDA device")
        if self.device.type == "cpu":
            if precision not in ("auto", "fp32"):
                raise ValueError(f"precision {precision!r} needs a GPU; on CPU TrOCR runs in fp32")
            torch.set_num_threads(max(1, int(threads)))
        self.model, self.tokenizer, self.processor = _load(source, allow_pickle)
        self.model.to(self.device).eval()
        self.source = source
        self.precision = "fp32" if self.device.type == "cpu" else precision
        self._precision_lock = threading.Lock()
        self.dtype = torch.float32
        if self.precision != "auto":
            self._set_precision(self.precision)

    def recognize(self, crops: Sequence[np.ndarray], batch_size: int = defaults.BATCH_SIZE,
                  decoding: DecodingOptions | None = None) -> list[Recognition]:
        """Read each crop; results in input order.

        Crops are sorted by aspect ratio (a proxy for text length) and cut into batches of
        ``batch_size``, so the lines of a batch finish decoding at similar steps.  Every crop is
        resized to the encoder's fixed input, so batching never changes a crop's text.
        """
        crops, decoding = list(crops), decoding or DecodingOptions()
        if self.precision == "auto" and crops:
            self._choose_gpu_precision(crops[:_PRECISION_CHECK_CROPS], decoding)
        release = None
        if self.device.type == "cuda":
            import torch

            release = torch.cuda.empty_cache
        aspects = [crop.shape[1] / max(crop.shape[0], 1) for crop in crops]
        return run_batched(crops, batch_size, lambda batch, _: self._read(batch, decoding), order=aspects,
                           release=release)

    def pixel_values(self, crops: Sequence[np.ndarray]):
        """The model input for ``crops`` (RGB ``uint8``), on the model's device and dtype."""
        return self.processor(images=list(crops), return_tensors="pt").pixel_values.to(self.device, self.dtype)

    def _read(self, crops, decoding: DecodingOptions) -> list[Recognition]:
        import torch

        with torch.inference_mode():
            pixels = self.pixel_values(crops)
            if decoding.num_beams == 1 and decoding.use_caching:
                tokens, log_probabilities = greedy_decode(self.model, pixels, decoding.max_new_tokens)
            else:
                tokens, log_probabilities = self._generate(pixels, decoding)
        texts = self.tokenizer.batch_decode(tokens, skip_special_tokens=True)
        return [Recognition(text.strip(), float(math.exp(score)))
                for text, score in zip(texts, log_probabilities, strict=True)]

    def _generate(self, pixels, decoding: DecodingOptions):
        output = self.model.generate(pixels, max_new_tokens=decoding.max_new_tokens, num_beams=decoding.num_beams,
                                     do_sample=False, use_cache=decoding.use_caching, output_scores=True,
                                     return_dict_in_generate=True)
        if decoding.num_beams > 1:
            scores = output.sequences_scores.tolist()
        else:
            steps = self.model.compute_transition_scores(output.sequences, output.scores, normalize_logits=True)
            scores = [float(row[row > -math.inf].mean()) if (row > -math.inf).any() else 0.0 for row in steps]
        eos, start = self.model.config.eos_token_id, self.model.config.decoder_start_token_id
        sequences = [[t for t in row.tolist()[1:] if t not in (eos, start)] for row in output.sequences]
        return sequences, scores

    def _set_precision(self, precision: str) -> None:
        import torch

        self.dtype = getattr(torch, _DTYPES[precision])
        self.model.to(self.dtype)
        self.precision = precision

    def _choose_gpu_precision(self, check: list[np.ndarray], decoding: DecodingOptions) -> None:
        """fp16 on GPU only when it reads ``check`` exactly as fp32 does; decided once."""
        with self._precision_lock:
            if self.precision != "auto":
                return
            reference = [r.text for r in self._read(check, decoding)]
            self._set_precision("fp16")
            if [r.text for r in self._read(check, decoding)] != reference:
                self._set_precision("fp32")


def _load(source: str, allow_pickle: bool):
    """Model, tokenizer and image processor from a Hub id or directory, safely."""
    from transformers import AutoImageProcessor, AutoTokenizer, VisionEncoderDecoderModel

    try:
        model = VisionEncoderDecoderModel.from_pretrained(source, trust_remote_code=False,
                                                          use_safetensors=None if allow_pickle else True)
        tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=False)
        processor = AutoImageProcessor.from_pretrained(source, trust_remote_code=False)
    except OSError as exc:
        offline = os.environ.get("HF_HUB_OFFLINE") not in (None, "", "0")
        hint = (" (HF_HUB_OFFLINE is set: download it once with network access, or pass a local directory)"
                if offline else "")
        safetensors = "" if allow_pickle else (" Only safetensors weights are loaded; a checkpoint with only "
                                                "pytorch_model.bin needs allow_pickle=True.")
        raise ModelNotFoundError(f"TrOCR model {source!r} could not be loaded{hint}.{safetensors} "
                                 f"Cause: {str(exc).splitlines()[0]}") from None
    return model, tokenizer, processor
