"""Helpers shared by the benchmarks: data loading, timing, machine description, result files."""

from __future__ import annotations

import io
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
RESULTS = Path(__file__).resolve().parent / "results"


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


def timed(function, repeats: int) -> tuple[list[float], object]:
    """Wall times of ``repeats`` calls and the last result."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return times, result


def median(values: list[float]) -> float:
    return statistics.median(values)


def machine() -> dict:
    """What the numbers were measured on."""
    import onnxruntime

    return {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count(),
            "processor": platform.processor() or platform.machine(), "onnxruntime": onnxruntime.__version__}


def write_results(name: str, payload: dict, markdown: str, folder: Path = RESULTS) -> None:
    """Write ``<folder>/<name>.json`` and ``<folder>/<name>.md`` and echo the Markdown."""
    folder.mkdir(parents=True, exist_ok=True)
    payload = {"command": " ".join([Path(sys.executable).name, *sys.argv]), "machine": machine(), **payload}
    (folder / f"{name}.json").write_text(json.dumps(payload, indent=2) + "\n")
    (folder / f"{name}.md").write_text(markdown + "\n")
    print(markdown)
