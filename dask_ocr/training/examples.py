"""Labelled examples for fine-tuning: manifests and DataFrames in, text crops out.

Two shapes of labelled data are accepted, as :meth:`~dask_ocr.accessor.OcrAccessor.recognize` reads them:
one crop per row (an image and its ``text``), or one page per row (an image and its ``regions``, each a
``box`` ``[x0, y0, x1, y1]`` and/or a ``polygon`` with its ``text``).  Crops are cut the way ``recognize``
cuts them (:func:`~dask_ocr.geometry.crop_region`), with a margin that training trims at random.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..decode import decode_image, is_missing
from ..geometry import crop_region, parse_region

__all__ = ["Example", "read_manifest", "examples_from_frame", "split_by_page", "MANIFEST_NAME"]

MANIFEST_NAME = "manifest.jsonl"
#: Pixels kept around every training crop, of which augmentation trims a random share.
MARGIN = 6


@dataclass(frozen=True)
class Example:
    """One labelled crop (RGB ``uint8``, cut with ``margin`` extra pixels each side) and the page it came from."""

    image: np.ndarray
    text: str
    page: str
    margin: int


def read_manifest(path: str | Path) -> pd.DataFrame:
    """A labelled set in the manifest format as a DataFrame: ``id``, ``content`` (image bytes), ``regions``, ``text``.

    ``path`` is a folder holding ``manifest.jsonl`` (or the file itself); each line is a JSON object with
    ``image`` (a path relative to the manifest's folder) and either ``regions`` (a list of ``{"box": [x0, y0,
    x1, y1] and/or "polygon": [[x, y], ...], "text": ...}``: a page) or ``text`` alone (the image is one crop).
    """
    manifest = Path(path)
    if manifest.is_dir():
        manifest = manifest / MANIFEST_NAME
    if not manifest.is_file():
        raise FileNotFoundError(f"no {MANIFEST_NAME} in {path}: see the manifest format in the fine-tuning docs")
    rows = []
    for number, line in enumerate(manifest.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            image = manifest.parent / record["image"]
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ValueError(f"{manifest}:{number}: not a manifest record ({exc})") from None
        if not image.is_file():
            raise FileNotFoundError(f"{manifest}:{number}: image {image} not found")
        regions = record.get("regions")
        rows.append({"id": str(record.get("id", record["image"])), "content": image.read_bytes(),
                     "regions": [_region_fields(r) for r in regions] if regions else None,
                     "text": record.get("text")})
    if not rows:
        raise ValueError(f"{manifest} holds no records")
    return pd.DataFrame(rows)


def _region_fields(region: dict) -> dict:
    return {key: region[key] for key in ("box", "polygon", "text") if key in region}


def examples_from_frame(df: pd.DataFrame, image_col: str = "content", regions_col: str | None = "regions",
                        text_col: str = "text", id_col: str | None = None) -> tuple[list[Example], list[str]]:
    """Every labelled crop of ``df``, and a line per row or region that could not be used (and why).

    A row whose ``regions_col`` cell holds regions gives one example per region with a non-empty ``text``;
    otherwise its image is one crop labelled by its ``text_col`` cell.  Rows are grouped into pages by
    ``id_col`` (default: the row's index), so that a validation split never shares a page with training.
    """
    if image_col not in df.columns:
        raise KeyError(f"no image column {image_col!r} in {list(df.columns)}")
    has_regions = regions_col is not None and regions_col in df.columns
    if not has_regions and text_col not in df.columns:
        raise KeyError(f"labelled examples need a {regions_col!r} column (regions with text) or a {text_col!r} "
                       f"column (one crop per row); the columns are {list(df.columns)}")
    examples, skipped = [], []
    ids = df[id_col] if id_col else df.index
    missing = [None] * len(df)
    regions_cells = df[regions_col] if has_regions else missing
    texts = df[text_col] if text_col in df.columns else missing
    for page, image_cell, regions, text in zip(ids.astype(str), df[image_col], regions_cells, texts, strict=True):
        try:
            image = decode_image(image_cell)
        except Exception as exc:  # one unreadable page costs its own examples only
            skipped.append(f"{page}: {exc}")
            continue
        if _has_regions(regions):
            examples += _region_examples(image, regions, page, skipped)
        elif isinstance(text, str) and text.strip():
            examples.append(Example(_with_margin(image), text.strip(), page, MARGIN))
        else:
            skipped.append(f"{page}: no regions and no text")
    return examples, skipped


def _has_regions(cell) -> bool:
    return not is_missing(cell) and len(cell) > 0


def _region_examples(image: np.ndarray, regions: Iterable[dict], page: str, skipped: list[str]) -> list[Example]:
    found = []
    for number, region in enumerate(regions):
        text = (region.get("text") or "").strip()
        if not text:
            continue
        try:
            crop = crop_region(image, parse_region(region), border_width=MARGIN)
        except Exception as exc:
            skipped.append(f"{page} region {number}: {exc}")
            continue
        if min(crop.shape[:2]) <= 2 * MARGIN:
            skipped.append(f"{page} region {number}: an empty box")
            continue
        found.append(Example(np.array(crop), text, page, MARGIN))  # a copy: a slice would keep the page alive
    return found


def _with_margin(image: np.ndarray) -> np.ndarray:
    """A crop that is already the whole line, given the margin the others carry (edge pixels repeated)."""
    import cv2

    return cv2.copyMakeBorder(image, MARGIN, MARGIN, MARGIN, MARGIN, cv2.BORDER_REPLICATE)


def split_by_page(examples: list[Example], share: float, seed: int) -> tuple[list[Example], list[Example]]:
    """(training, validation): about ``share`` of the pages, drawn with ``seed``, held out whole."""
    pages = sorted({e.page for e in examples})
    if len(pages) < 2:
        raise ValueError("holding out validation pages needs at least two pages (or pass validation data)")
    rng = np.random.default_rng(seed)
    held = set(rng.permutation(pages)[:max(1, round(share * len(pages)))].tolist())
    return [e for e in examples if e.page not in held], [e for e in examples if e.page in held]
