"""Evaluation sets in the manifest format: JSON Lines of images with their regions and transcripts.

Each line of ``<root>/<name>/manifest.jsonl`` is a record with ``image`` (a path relative to the
set's folder), ``text`` and ``regions`` (``box`` ``[x0, y0, x1, y1]`` and ``text``).  The tests and
the benchmarks read ``../shared/data`` through these helpers.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

__all__ = ["load_manifest", "line_crops", "region_texts"]


def load_manifest(data: Path, name: str, limit: int | None = None) -> list[dict]:
    """Manifest records with the image bytes under ``content``."""
    lines = (Path(data) / name / "manifest.jsonl").read_text().splitlines()[:limit]
    records = [json.loads(line) for line in lines]
    for record in records:
        record["content"] = (Path(data) / name / record["image"]).read_bytes()
    return records


def line_crops(records: list[dict], margin: int = 0) -> tuple[list[bytes], list[str]]:
    """PNG bytes of every manifest region (line or word box, grown by ``margin`` px), and its transcript."""
    from PIL import Image

    crops, texts = [], []
    for record in records:
        page = Image.open(io.BytesIO(record["content"])).convert("RGB")
        for region in record["regions"]:
            x0, y0, x1, y1 = region["box"]
            box = (max(0, x0 - margin), max(0, y0 - margin),
                   min(page.width, x1 + margin), min(page.height, y1 + margin))
            buffer = io.BytesIO()
            page.crop(box).save(buffer, format="PNG")
            crops.append(buffer.getvalue())
            texts.append(region["text"])
    return crops, texts


def region_texts(positions, count: int) -> list[str]:
    """Each region's text, from the words of a ``positions`` cell (``count`` regions, by their ``region`` index)."""
    texts = [[] for _ in range(count)]
    for word in positions if positions is not None else []:
        texts[word["region"]].append(word["text"])
    return [" ".join(words) for words in texts]
