"""Helpers shared by the benchmarks: timing, machine description, result files (data: :mod:`dask_ocr.datasets`)."""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
RESULTS = Path(__file__).resolve().parent / "results"

from fsspec.implementations.local import LocalFileSystem  # noqa: E402

from dask_ocr.datasets import line_crops, load_manifest  # noqa: E402,F401  (re-exported for the benchmarks)


class LatencyFileSystem(LocalFileSystem):
    """Local files behind a round trip (``latency://`` paths once registered with fsspec): each open waits
    :attr:`latency` seconds first, as an object store's request would.  Defined here, in an imported module, so
    that dask pickles (and tokenizes) it by reference."""

    protocol = ("latency",)
    latency = 0.0

    @classmethod
    def _strip_protocol(cls, path):
        return super()._strip_protocol(str(path).removeprefix("latency://"))

    def _open(self, path, mode="rb", **kwargs):
        time.sleep(self.latency)
        return super()._open(path, mode, **kwargs)


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
