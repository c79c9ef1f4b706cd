"""Evaluation data beside the checkout (../shared/data) and small frames built from it."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from dask_ocr import datasets
from dask_ocr.datasets import line_crops  # noqa: F401  (re-exported for the tests)
from dask_ocr.schema import BINARY_DTYPE, STRING_DTYPE

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
