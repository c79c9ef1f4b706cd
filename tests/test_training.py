"""Fine-tuning the recognizer: the torch copy of the bundled model, the loss, the data, the loop and its files.

Training runs a few steps on a few receipts of ``../shared/train`` (never ``../shared/data``, which judges);
real runs are ``benchmarks/finetune.py``.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys

import numpy as np
import onnx
import onnxruntime
import pandas as pd
import pytest
import torch
from onnx import TensorProto, helper

import dask_ocr
from dask_ocr.cli import main
from dask_ocr.models.ppocr import PPOCRRecognizer, bundled_model_path, recognition_input
from dask_ocr.models.registry import CARD_NAME, resolve_model
from dask_ocr.training import TrainingSettings, read_manifest
from dask_ocr.training.augment import augment, trim
from dask_ocr.training.examples import examples_from_frame, split_by_page
from dask_ocr.training.network import _explicit_same_upper_pads, recognizer_network
from dask_ocr.training.train import _LossClasses

from ocrdata import DATA, png

TRAIN = DATA.parent / "train"
#: Training needs the ``train`` extra (onnx2torch, and the torchvision build of the installed torch).
needs_onnx2torch = pytest.mark.skipif(importlib.util.find_spec("onnx2torch") is None,
                                      reason="the train extra (onnx2torch) is not installed")
#: A few optimiser steps, on float32 (bfloat16 would make the figures depend on the CPU) and at a learning rate that
#: shows in four steps.
QUICK = {"max_steps": 4, "batch_size": 8, "evaluate_every": 2, "learning_rate": 2e-4, "precision": "f32",
         "progress": False, "threads": 2}


@pytest.fixture(scope="module")
def receipts():
    if not (TRAIN / "sroie" / "manifest.jsonl").is_file():
        pytest.skip(f"training data not found at {TRAIN}")
    frame = read_manifest(TRAIN / "sroie")
    return frame.iloc[:3].reset_index(drop=True), frame.iloc[3:4].reset_index(drop=True)


@pytest.fixture(scope="module")
def recognizer():
    return PPOCRRecognizer(runtime="onnxruntime", precision="f32")


def test_same_upper_pads_become_the_explicit_pads_they_mean():
    weight = helper.make_tensor("w", TensorProto.FLOAT, [1, 1, 2, 2], [1.0, 2.0, 3.0, 4.0])
    node = helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[2, 2], strides=[1, 1], auto_pad="SAME_UPPER")
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 3, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 3, 4])], [weight])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)])
    x = np.arange(12, dtype=np.float32).reshape(1, 1, 3, 4)
    before = onnxruntime.InferenceSession(model.SerializeToString()).run(None, {"x": x})[0]
    _explicit_same_upper_pads(model)
    attributes = {a.name: helper.get_attribute_value(a) for a in model.graph.node[0].attribute}
    assert "auto_pad" not in attributes and attributes["pads"] == [0, 0, 1, 1]
    after = onnxruntime.InferenceSession(model.SerializeToString()).run(None, {"x": x})[0]
    np.testing.assert_array_equal(before, after)
    assert after[0, 0, -1, -1] == 11 * 1.0  # the extra pad is at the end: the last pixel meets zeros only


@needs_onnx2torch
def test_the_torch_network_reads_as_the_bundled_model(receipts, recognizer):
    rows = [int(i) for i in recognizer.classes]
    network = recognizer_network(bundled_model_path("rec"), [*rows[:-1], None, rows[-1]]).eval()
    examples, _ = examples_from_frame(receipts[0], id_col="id")
    crops = [trim(e.image, e.margin, (3,) * 4) for e in examples[:6]]
    inputs = recognition_input(crops, 448)
    full = onnxruntime.InferenceSession(str(bundled_model_path("rec"))).run(None, {"x": inputs})[0][:, :, rows]
    with torch.inference_mode():
        probabilities = network(torch.from_numpy(inputs)).softmax(-1).numpy()
    kept = np.delete(probabilities, -2, axis=-1)
    np.testing.assert_allclose(kept, full / full.sum(-1, keepdims=True), atol=2e-4)
    assert probabilities[..., -2].max() < 1e-6  # a new character is silent until trained
    assert sum(p.numel() for p in network.parameters()) > 3_000_000  # linear layers and classifier train too


def test_case_free_labels_score_a_letter_whatever_its_case():
    classes = _LossClasses(["<blank>", "A", "a", "b", " "], ignore_case=True)
    assert classes.target("Ab a") == classes.target("aB A") == [1, 2, 3, 1]
    logits = torch.log(torch.tensor([[[0.1, 0.2, 0.3, 0.25, 0.15]]]))
    merged = classes.log_probabilities(logits).exp()
    np.testing.assert_allclose(merged.numpy(), [[[0.1, 0.5, 0.25, 0.15]]], atol=1e-6)
    plain = _LossClasses(["<blank>", "A", "a", " "], ignore_case=False)
    assert plain.merge is None and plain.target("aA") == [2, 1]


def test_manifests_pages_and_crops_and_their_errors(tmp_path, receipts):
    page = receipts[0].iloc[0]
    (tmp_path / "page.jpg").write_bytes(page["content"])
    crop = trim(examples_from_frame(receipts[0].iloc[:1], id_col="id")[0][0].image, 6, (0,) * 4)
    (tmp_path / "crop.png").write_bytes(png(crop))
    regions = [{"box": r["box"], "text": r["text"]} for r in page["regions"]]
    lines = [{"id": "p", "image": "page.jpg", "regions": regions}, {"id": "c", "image": "crop.png", "text": "B.I.G."}]
    (tmp_path / "manifest.jsonl").write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    frame = read_manifest(tmp_path)
    examples, skipped = examples_from_frame(frame, id_col="id")
    assert not skipped and len(examples) == len(page["regions"]) + 1
    assert examples[-1].text == "B.I.G." and examples[-1].page == "c"
    assert examples[0].text == page["regions"][0]["text"]
    (tmp_path / "manifest.jsonl").write_text(json.dumps(lines[0]) + "\n{not json\n")
    with pytest.raises(ValueError, match=r"manifest.jsonl:2: not a manifest record"):
        read_manifest(tmp_path)
    (tmp_path / "manifest.jsonl").write_text(json.dumps({"image": "missing.png", "text": "x"}) + "\n")
    with pytest.raises(FileNotFoundError, match="missing.png not found"):
        read_manifest(tmp_path)
    bad = pd.DataFrame({"content": [b"not an image", page["content"]], "text": ["x", None]})
    examples, skipped = examples_from_frame(bad, regions_col=None)
    assert examples == [] and len(skipped) == 2 and "not a recognised image" in skipped[0]


def test_validation_pages_are_held_out_whole_and_by_the_seed(receipts):
    examples, _ = examples_from_frame(receipts[0], id_col="id")
    train, held = split_by_page(examples, 0.34, seed=1)
    assert {e.page for e in train}.isdisjoint({e.page for e in held}) and len(held) > 0
    again, _ = split_by_page(examples, 0.34, seed=1)
    assert [e.text for e in again] == [e.text for e in train]


def test_augmentation_is_fixed_by_its_generator_and_trim_cuts_the_margin():
    crop = np.random.default_rng(0).integers(0, 255, (40, 120, 3), dtype=np.uint8)
    first = augment(crop, 6, np.random.default_rng(5))
    np.testing.assert_array_equal(first, augment(crop, 6, np.random.default_rng(5)))
    assert trim(crop, 6, (0, 0, 0, 0)).shape == (28, 108, 3)
    np.testing.assert_array_equal(trim(crop, 6, (2, 1, 3, 4)), crop[5:38, 4:117])


@needs_onnx2torch
def test_a_few_steps_lower_the_validation_cer_and_the_export_reads_as_torch(tmp_path, receipts):
    train, validation = receipts
    spec = dask_ocr.finetune(train, tmp_path / "model", validation, id_col="id", **QUICK)
    card = json.loads((tmp_path / "model" / CARD_NAME).read_text())
    assert card["base"] == "ppocr" and card["training"]["steps"] == 4 and card["training"]["ignore_case"] is True
    assert card["export_check"]["identical_texts"] == card["export_check"]["crops"] == card["validation"]["crops"]
    assert card["validation"]["cer"] < card["validation"]["base_cer"]
    assert [h["step"] for h in card["training"]["history"]] == [0, 2, 4]
    assert not (tmp_path / "model" / "checkpoint.pt").exists()
    # The model is a name like any other: the spec, the folder path, the accessor and the CLI take it.
    assert resolve_model(str(tmp_path / "model")) == spec and spec.supports("detect")
    crops = [trim(e.image, e.margin, (3,) * 4) for e in examples_from_frame(validation, id_col="id")[0][:5]]
    frame = pd.DataFrame({"content": [png(c) for c in crops]})
    read = frame.ocr.recognize(regions_col=None, model=str(tmp_path / "model"), runtime="onnxruntime",
                               min_confidence=0.0)
    direct = PPOCRRecognizer(**{**dict(spec.recognizer_options), "runtime": "onnxruntime"}).recognize(crops)
    assert read["text"].tolist() == [r.text for r in direct]


@needs_onnx2torch
def test_new_characters_extend_the_dictionary(tmp_path, receipts):
    train, validation = receipts
    examples, _ = examples_from_frame(train, id_col="id")
    crops = pd.DataFrame({"content": [png(e.image) for e in examples[:8]],
                          "text": [f"☑ {e.text}" for e in examples[:8]]})
    dask_ocr.finetune(crops, tmp_path / "model", validation, regions_col=None, **{**QUICK, "max_steps": 1})
    dictionary = (tmp_path / "model" / "dictionary.txt").read_text(encoding="utf-8").splitlines()
    card = json.loads((tmp_path / "model" / CARD_NAME).read_text())
    assert dictionary[-1] == "☑" and card["new_characters"] == ["☑"]
    classes = onnx.load(str(tmp_path / "model" / "recognizer.onnx")).graph.output[0].type.tensor_type.shape.dim[-1]
    assert classes.dim_value == len(dictionary) + 2  # blank and space


@needs_onnx2torch
def test_a_stopped_run_resumes_to_the_same_model_as_one_never_stopped(tmp_path, receipts, monkeypatch):
    train, validation = receipts
    dask_ocr.finetune(train, tmp_path / "whole", validation, id_col="id", **QUICK)
    from dask_ocr.training.train import _Run

    original, calls = _Run._train_step, []

    def stop_on_the_third_step(self, *args):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return original(self, *args)

    monkeypatch.setattr(_Run, "_train_step", stop_on_the_third_step)
    with pytest.raises(KeyboardInterrupt):
        dask_ocr.finetune(train, tmp_path / "stopped", validation, id_col="id", **QUICK)
    assert (tmp_path / "stopped" / "checkpoint.pt").is_file() and not (tmp_path / "stopped" / CARD_NAME).exists()
    monkeypatch.setattr(_Run, "_train_step", original)
    with pytest.raises(ValueError, match="other data or settings"):
        dask_ocr.finetune(train, tmp_path / "stopped", validation, id_col="id", **{**QUICK, "seed": 9})
    dask_ocr.finetune(train, tmp_path / "stopped", validation, id_col="id", **QUICK)
    model = "recognizer.onnx"
    assert (tmp_path / "stopped" / model).read_bytes() == (tmp_path / "whole" / model).read_bytes()
    whole, resumed = (json.loads((tmp_path / n / CARD_NAME).read_text())["training"] for n in ("whole", "stopped"))
    assert resumed["history"] == whole["history"]


def test_the_output_folder_never_loses_a_file(tmp_path, receipts):
    train, validation = receipts
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="notes.txt"):
        dask_ocr.finetune(train, tmp_path / "mine", validation, id_col="id", **QUICK)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
    (tmp_path / "done").mkdir()
    (tmp_path / "done" / CARD_NAME).write_text("{}")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        dask_ocr.finetune(train, tmp_path / "done", validation, id_col="id", **QUICK)
    (tmp_path / "lookalike").mkdir()
    (tmp_path / "lookalike" / "recognizer.onnx").write_bytes(b"a user's model")
    with pytest.raises(FileExistsError, match="no model card or checkpoint"):
        dask_ocr.finetune(train, tmp_path / "lookalike", validation, id_col="id", **QUICK)
    assert (tmp_path / "lookalike" / "recognizer.onnx").read_bytes() == b"a user's model"
    with pytest.raises(ValueError, match="PP-OCR"):
        dask_ocr.finetune(train, tmp_path / "new", validation, base="tesseract", id_col="id", **QUICK)


@needs_onnx2torch
def test_the_cli_trains_from_a_manifest_folder(tmp_path, receipts, capsys):
    source = TRAIN / "sroie"
    data = tmp_path / "data"
    (data / "images").mkdir(parents=True)
    lines = (source / "manifest.jsonl").read_text().splitlines()[:4]
    for line in lines:
        image = json.loads(line)["image"]
        shutil.copy(source / image, data / image)
    (data / "manifest.jsonl").write_text("\n".join(lines) + "\n")
    code = main(["finetune", "--train", str(data), "-o", str(tmp_path / "model"), "--max-steps", "2",
                 "--batch-size", "8", "--validation-share", "0.25", "--threads", "2"])
    assert code == 0 and "validation CER" in capsys.readouterr().out
    card = json.loads((tmp_path / "model" / CARD_NAME).read_text())
    assert card["training"]["pages"] == 3 and card["training"]["train_source"] == str(data.resolve())
    assert main(["finetune", "--train", str(tmp_path / "nowhere"), "-o", str(tmp_path / "m2")]) == 2
    assert "no manifest.jsonl" in capsys.readouterr().err


def test_importing_the_package_or_the_cli_loads_no_torch():
    code = ("import sys, dask_ocr, dask_ocr.cli; dask_ocr.cli.build_parser()\n"
            "assert 'torch' not in sys.modules, 'torch was imported'\n"
            "assert callable(dask_ocr.finetune) and 'torch' not in sys.modules\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_settings_reject_unknown_options(receipts, tmp_path):
    with pytest.raises(TypeError, match="no_such_option"):
        dask_ocr.finetune(receipts[0], tmp_path / "m", no_such_option=1)
    assert TrainingSettings().epochs >= 1


def test_without_onnx2torch_training_says_what_to_install(tmp_path, receipts, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx2torch", None)
    with pytest.raises(ImportError, match=r"dask_ocr\[train\]"):
        dask_ocr.finetune(receipts[0], tmp_path / "m", receipts[1], id_col="id", **QUICK)
