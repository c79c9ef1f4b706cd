"""Smoke run of the accuracy benchmark (2 items per dataset), so that it never rots."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from PIL import Image

from _trocr import save_trocr  # benchmarks/_trocr.py, on the path through ocrdata
from ocrdata import DATA, load_manifest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def test_accuracy_benchmark_smoke(tmp_path):
    load_manifest("sroie", 1)  # skips when the evaluation data is absent
    trocr = save_trocr(tmp_path / "trocr", "tiny", init_std=0.5)
    command = [sys.executable, str(BENCHMARKS / "accuracy.py"), "--data", str(DATA), "--pages", "2", "--crops", "2",
               "--trocr", str(trocr), "--out", str(tmp_path / "out")]
    subprocess.run(command, check=True, timeout=600)

    rows = json.loads((tmp_path / "out" / "accuracy.json").read_text())["rows"]
    engines = {"dask_ocr ppocr", "dask_ocr trocr", "raw RapidOCR loop"}
    if shutil.which("tesseract"):
        engines |= {"dask_ocr tesseract", "raw tesseract CLI loop"}
    crops = {(r["engine"], r["dataset"]) for r in rows if r["task"] == "crops"}
    pages = {(r["engine"], r["dataset"]) for r in rows if r["task"] == "pages"}
    datasets = {"sroie", "funsd", "iam_lines", "hooker_lines", "fondue_en_print"}
    assert crops == {(e, d) for e in engines for d in datasets}
    assert pages == {(e, d) for e in engines for d in ("sroie", "funsd", "fondue_en_print")}
    for row in rows:
        assert row["items"] == 2 and row["per_s"] > 0
        assert 0 <= row.get("f1", 0) <= 1 and row.get("cer", 0) >= 0
    # The real engines read these pages well; the random-weight TrOCR cannot.
    ppocr = {(r["dataset"], r["task"]): r for r in rows if r["engine"] == "dask_ocr ppocr"}
    assert ppocr["sroie", "pages"]["f1"] > 0.7 and ppocr["fondue_en_print", "crops"]["cer"] < 0.1

    table = (tmp_path / "out" / "accuracy.md").read_text()
    assert "| sroie | dask_ocr ppocr | 2 |" in table and "accuracy.py" in table
    with Image.open(tmp_path / "out" / "accuracy.png") as plot:
        assert plot.format == "PNG" and plot.width > 600
