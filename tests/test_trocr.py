"""dask_ocr.models.trocr, offline: random-weight checkpoints built from config and loaded by path.

The crops are random noise of line-like sizes, which the tiny random model reads differently one
from another; only the detector test reads a real page (marked ``data``).
"""

from __future__ import annotations

from pathlib import Path

import dask.dataframe as dd
import pandas as pd
import pytest
import torch

import dask_ocr
from dask_ocr import defaults
from dask_ocr.errors import ModelNotFoundError
from dask_ocr.models.base import DecodingOptions
from dask_ocr.models.registry import register_trocr, resolve_model
from dask_ocr.models.trocr import TrOCRRecognizer, greedy_decode, trocr_source
from dask_ocr.schema import BINARY_DTYPE
from dask_ocr.testing import EOS, ForcedLengths, save_trocr

from ocrdata import image_frame, noise_crops, png


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return str(save_trocr(tmp_path_factory.mktemp("trocr") / "tiny", "tiny", init_std=0.5))


@pytest.fixture(scope="module")
def crops():
    return noise_crops(8)


def generate_one_by_one(recognizer, crops, max_new_tokens, forced=None):
    """The reference: plain ``generate`` per line, greedy, without the key/value cache."""
    tokens = []
    with torch.inference_mode():
        for i, crop in enumerate(crops):
            processors = [forced.processor([i])] if forced else []
            output = recognizer.model.generate(recognizer.pixel_values([crop]), max_new_tokens=max_new_tokens,
                                               num_beams=1, do_sample=False, use_cache=False,
                                               logits_processor=processors)
            tokens.append([t for t in output[0].tolist()[1:] if t != EOS])
    return tokens


def test_names_resolve_to_checkpoints(tiny):
    assert trocr_source("ocr_base_printed_v2") == "microsoft/trocr-base-printed"
    assert trocr_source("OCR_small_handwritten") == "microsoft/trocr-small-handwritten"
    assert trocr_source("microsoft/trocr-large-printed") == "microsoft/trocr-large-printed"
    assert trocr_source(tiny) == tiny and trocr_source("ppocr") is None
    spec = resolve_model("ocr_large_handwritten", "recognize")
    assert spec.family == "trocr" and dict(spec.recognizer_options)["source"] == "microsoft/trocr-large-handwritten"
    with pytest.raises(ModelNotFoundError, match="cannot detect"):
        resolve_model(tiny, "detect")


@pytest.mark.parametrize("shape, count, max_new_tokens", [("tiny", 8, 24), ("small", 3, 8)])
def test_cached_compacting_decoder_equals_plain_generate(tmp_path, crops, shape, count, max_new_tokens):
    path = save_trocr(tmp_path / shape, shape, init_std=0.5 if shape == "tiny" else 0.02)
    recognizer = TrOCRRecognizer(str(path))
    lines = crops[:count]
    forced = ForcedLengths([3, 0, 7, 1, 12, 5, 20, 2][:count])     # rows leave the batch at different steps
    with torch.inference_mode():
        ours, _ = greedy_decode(recognizer.model, recognizer.pixel_values(lines), max_new_tokens, forced)
    assert ours == generate_one_by_one(recognizer, lines, max_new_tokens, forced)
    assert [len(t) for t in ours] == [min(n, max_new_tokens) for n in forced.lengths.tolist()]
    if shape == "tiny":                                              # free-running: the model decides
        with torch.inference_mode():
            free, _ = greedy_decode(recognizer.model, recognizer.pixel_values(lines), max_new_tokens)
        assert free == generate_one_by_one(recognizer, lines, max_new_tokens)


def test_public_api_reads_with_the_checkpoint_in_pandas_and_dask(tiny, crops):
    frame = pd.DataFrame({"content": pd.Series([png(crop) for crop in crops], dtype=BINARY_DTYPE)})
    out = frame.ocr.recognize(model=tiny, regions_col=None, batch_size=3, max_new_tokens=24, min_confidence=0)
    reference = TrOCRRecognizer(tiny)
    expected = [" ".join(reference.tokenizer.decode(t, skip_special_tokens=True).split())   # words: one space
                for t in generate_one_by_one(reference, crops, 24)]
    assert out["text"].fillna("").tolist() == expected and len(set(expected)) > 1
    assert out["text_confidence"].dropna().between(0, 1).all() and out["ocr_error"].isna().all()
    lazy = dd.from_pandas(frame, npartitions=3).ocr.recognize(model=tiny, regions_col=None, batch_size=3,
                                                             max_new_tokens=24, min_confidence=0)
    assert lazy.compute()["text"].fillna("").tolist() == expected


@pytest.mark.data
def test_detector_regions_and_beam_search(tiny, sroie_pages):
    frame = image_frame(sroie_pages[:1]).ocr.detect()
    out = frame.ocr.recognize(model=tiny, max_new_tokens=6, min_confidence=0, output_format="positions")
    assert out["ocr_error"].isna().all() and len(out["positions"].iloc[0]) > 0
    assert out["text"].iloc[0].count("\n") > 5                                    # one line per detected row
    beams = frame.ocr.recognize(model=tiny, max_new_tokens=6, num_beams=2, min_confidence=0)
    assert beams["ocr_error"].isna().all() and 0 < beams["text_confidence"].iloc[0] <= 1


def test_loading_is_safe_and_errors_name_the_model(tmp_path, tiny, crops, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotFoundError, match="microsoft/trocr-base-printed.*HF_HUB_OFFLINE"):
        TrOCRRecognizer("microsoft/trocr-base-printed")
    pickled = tmp_path / "pickled"                     # the same checkpoint with pickle weights only
    pickled.mkdir()
    for name in ("config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
                 "preprocessor_config.json"):
        (pickled / name).write_bytes((Path(tiny) / name).read_bytes())
    torch.save(TrOCRRecognizer(tiny).model.state_dict(), pickled / "pytorch_model.bin")
    with pytest.raises(ModelNotFoundError, match="allow_pickle"):
        TrOCRRecognizer(str(pickled))
    register_trocr("my-trusted-trocr", str(pickled), allow_pickle=True)
    assert "my-trusted-trocr" in dask_ocr.available_models()
    frame = pd.DataFrame({"content": pd.Series([png(crop) for crop in crops[:2]], dtype=BINARY_DTYPE)})
    trusted = frame.ocr.recognize(model="my-trusted-trocr", regions_col=None, max_new_tokens=8, min_confidence=0)
    direct = frame.ocr.recognize(model=tiny, regions_col=None, max_new_tokens=8, min_confidence=0)
    assert trusted["text"].tolist() == direct["text"].tolist()


def test_decoding_arguments_are_checked(tiny):
    frame = pd.DataFrame({"content": pd.Series([b"x"], dtype=BINARY_DTYPE)})
    with pytest.raises(ValueError, match="apply to TrOCR"):
        frame.ocr.recognize(regions_col=None, num_beams=4)
    with pytest.raises(ValueError, match=">= 1"):
        frame.ocr.recognize(regions_col=None, model=tiny, max_new_tokens=0)
    assert defaults.MAX_NEW_TOKENS >= 70                 # SROIE's longest dev line, in characters


def test_one_model_serves_every_decoding_setting(tiny, crops):
    from dask_ocr.accessor import _model_key
    from dask_ocr.cluster.plugins import model_keys

    (registered,) = model_keys(tiny)                            # TrOCR can only recognize
    ddf = dd.from_pandas(pd.DataFrame({"content": pd.Series([b"x"], dtype=BINARY_DTYPE)}), npartitions=1)
    assert _model_key(ddf, tiny, "recognize", None, None) == registered     # decoding is not part of the key
    recognizer, crop = TrOCRRecognizer(tiny), crops[0]
    short = recognizer.recognize([crop], 1, DecodingOptions(max_new_tokens=2))[0].text
    longer = recognizer.recognize([crop], 1, DecodingOptions(max_new_tokens=12))[0].text
    assert len(short) <= 2 < len(longer) and longer.startswith(short)       # the call's settings, one model
