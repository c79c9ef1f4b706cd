"""Offline testing helpers: random-weight TrOCR-style checkpoints built from config (no download).

``save_trocr(path, shape)`` writes a ``VisionEncoderDecoderModel`` with a character-level tokenizer
and a ViT image processor, loadable by path like any Hub checkpoint, so code using TrOCR can be
tested without a model hub.  ``ForcedLengths`` makes every decoder stop after a given number of
tokens, identically in ``generate`` and in :func:`dask_ocr.models.trocr.greedy_decode`.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["save_trocr", "ForcedLengths", "SHAPES", "EOS"]

CHARACTERS = " !\\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[]_abcdefghijklmnopqrstuvwxyz"
SPECIAL = ["<s>", "<pad>", "</s>", "<unk>"]
BOS, PAD, EOS = 0, 1, 2

#: encoder (ViT) and decoder (TrOCR) sizes: tiny for unit tests; small/base as microsoft/trocr-*.
SHAPES = {
    "tiny": {"image_size": 32, "patch_size": 8, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
             "intermediate_size": 64, "d_model": 32, "decoder_layers": 2, "decoder_attention_heads": 2,
             "decoder_ffn_dim": 64, "vocab_size": None},
    "small": {"image_size": 384, "patch_size": 16, "hidden_size": 384, "num_hidden_layers": 12,
              "num_attention_heads": 6, "intermediate_size": 1536, "d_model": 256, "decoder_layers": 6,
              "decoder_attention_heads": 8, "decoder_ffn_dim": 1024, "vocab_size": 64044},
    "base": {"image_size": 384, "patch_size": 16, "hidden_size": 768, "num_hidden_layers": 12,
             "num_attention_heads": 12, "intermediate_size": 3072, "d_model": 1024, "decoder_layers": 12,
             "decoder_attention_heads": 16, "decoder_ffn_dim": 4096, "vocab_size": 50265},
}


def _tokenizer(vocab_size: int | None):
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    tokens = SPECIAL + list(CHARACTERS)
    if vocab_size:  # pad the vocabulary to the real model's size (its output layer's cost)
        tokens += [f"<extra_{i}>" for i in range(vocab_size - len(tokens))]
    core = Tokenizer(models.WordLevel({token: i for i, token in enumerate(tokens)}, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    core.decoder = decoders.Fuse()
    return PreTrainedTokenizerFast(tokenizer_object=core, bos_token="<s>", eos_token="</s>", pad_token="<pad>",
                                   unk_token="<unk>"), len(tokens)


def save_trocr(path: Path, shape: str = "tiny", seed: int = 0, init_std: float = 0.02) -> Path:
    """Write a random-weight checkpoint of ``shape`` to ``path`` (safetensors) and return ``path``.

    ``init_std`` scales the random weights; a large one (0.5) makes the outputs of a tiny model
    depend on its input, so that comparisons between decoders are not trivially equal.
    """
    import torch
    from transformers import (
        TrOCRConfig,
        VisionEncoderDecoderConfig,
        VisionEncoderDecoderModel,
        ViTConfig,
        ViTImageProcessor,
    )

    sizes = SHAPES[shape]
    tokenizer, vocab_size = _tokenizer(sizes["vocab_size"])
    encoder = ViTConfig(image_size=sizes["image_size"], patch_size=sizes["patch_size"],
                        hidden_size=sizes["hidden_size"], num_hidden_layers=sizes["num_hidden_layers"],
                        num_attention_heads=sizes["num_attention_heads"], intermediate_size=sizes["intermediate_size"],
                        initializer_range=init_std)
    decoder = TrOCRConfig(vocab_size=vocab_size, d_model=sizes["d_model"], decoder_layers=sizes["decoder_layers"],
                          decoder_attention_heads=sizes["decoder_attention_heads"],
                          decoder_ffn_dim=sizes["decoder_ffn_dim"], max_position_embeddings=512,
                          pad_token_id=PAD, bos_token_id=BOS, eos_token_id=EOS, decoder_start_token_id=EOS,
                          init_std=init_std)
    config = VisionEncoderDecoderConfig.from_encoder_decoder_configs(encoder, decoder)
    config.decoder_start_token_id, config.pad_token_id, config.eos_token_id = EOS, PAD, EOS
    torch.manual_seed(seed)
    model = VisionEncoderDecoderModel(config=config)
    model.generation_config.decoder_start_token_id = EOS
    model.generation_config.pad_token_id, model.generation_config.eos_token_id = PAD, EOS
    path = Path(path)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    size = sizes["image_size"]
    ViTImageProcessor(size={"height": size, "width": size}, image_mean=[0.5] * 3,
                      image_std=[0.5] * 3).save_pretrained(path)
    return path


class ForcedLengths:
    """Forces row ``i`` to emit exactly ``lengths[i]`` tokens and then end-of-sequence.

    Usable as :func:`~dask_ocr.models.trocr.greedy_decode`'s ``logits_processor(rows, step, logits)``
    (``rows`` are original row numbers) and, through :meth:`processor`, as a ``generate`` logits processor.
    """

    def __init__(self, lengths):
        import torch

        self.lengths = torch.as_tensor(list(lengths))

    def __call__(self, rows, step, logits):
        import torch

        ending = self.lengths[rows] == step
        logits = logits.clone()
        logits[:, EOS] = torch.where(ending, torch.zeros_like(logits[:, EOS]), torch.full_like(logits[:, EOS], -1e9))
        logits[ending] = torch.where(torch.arange(logits.shape[1]) == EOS, logits[ending], torch.tensor(-1e9))
        return logits

    def processor(self, rows):
        """A ``generate`` logits processor for the batch made of original ``rows``."""
        import torch
        from transformers import LogitsProcessor

        forced, rows = self, torch.as_tensor(list(rows))

        class Processor(LogitsProcessor):
            def __call__(self, input_ids, scores):
                return forced(rows, input_ids.shape[1] - 1, scores)

        return Processor()
