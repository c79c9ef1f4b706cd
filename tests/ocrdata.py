"""Test inputs: evaluation data beside the checkout (../shared/data) and small frames built from it,
generated images that need no data, and an instant fake model."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from dask_ocr import datasets
from dask_ocr.datasets import line_crops  # noqa: F401  (re-exported for the tests)
from dask_ocr.geometry import Region
from dask_ocr.models.base import Recognition
from dask_ocr.schema import BINARY_DTYPE, STRING_DTYPE
from dask_ocr.synthetic import render_line_crops

DATA = Path(os.environ.get("DASK_OCR_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def load_manifest(name: str, limit: int | None = None) -> list[dict]:
    """Records of ``../shared/data/<name>/manifest.jsonl`` with the image bytes under ``content``."""
    manifest = DATA / name / "manifest.jsonl"
    if not manifest.exists():
        pytest.skip(f"evaluation data not found at {manifest}")
    return datasets.load_manifest(DATA, name, limit)


def image_frame(records: list[dict]) -> pd.DataFrame:
    """A pandas frame with ``path`` and Arrow-binary ``content`` columns."""
    return pd.DataFrame({
        "path": pd.Series([r.get("image", str(i)) for i, r in enumerate(records)], dtype=STRING_DTYPE),
        "content": pd.Series([r["content"] for r in records], dtype=BINARY_DTYPE),
    })


def png(array) -> bytes:
    """PNG bytes of an RGB ``uint8`` array (lossless: it decodes back to the same array)."""
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def noise_crops(count: int = 8, seed: int = 0) -> list:
    """Random RGB crops of line-like sizes: the tiny random TrOCR reads each differently (clean
    white lines all read alike to it)."""
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (int(rng.integers(20, 60)), int(rng.integers(60, 400)), 3), dtype=np.uint8)
            for _ in range(count)]


def line_frame(count: int = 32, seed: int = 0) -> pd.DataFrame:
    """``path`` and Arrow-binary ``content`` of ``count`` generated single-line images (no data needed)."""
    return pd.DataFrame({"path": pd.Series([f"line-{i:03d}" for i in range(count)], dtype=STRING_DTYPE),
                         "content": pd.Series([png(c) for c in render_line_crops(count, seed)], dtype=BINARY_DTYPE)})


class FakeModel:
    """A detector and recognizer in one, instant and exact: one region on the left half of each image,
    and each crop read as its size (``"w20h10"``), so every row's text tells what was cropped."""

    def __init__(self):
        self.detect_calls, self.recognize_calls = 0, 0
        self.keys = []  # the model keys it was fetched for (see the ``fake`` fixture)

    def detect(self, images):
        self.detect_calls += 1
        regions = []
        for image in images:
            height, width = image.shape[:2]
            half = max(1, width // 2)
            polygon = [[0, 0], [half, 0], [half, height], [0, height]]
            regions.append([Region(np.array(polygon, dtype=float), 0.75)])
        return regions

    def recognize(self, crops, batch_size, decoding=None):
        self.recognize_calls += 1
        return [Recognition(f"w{crop.shape[1]}h{crop.shape[0]}", 0.9) for crop in crops]
