"""Quickstart: write generated sample pages to a folder, OCR them with Dask, save Parquet.

    python examples/quickstart.py [OUTPUT_DIR]
"""

import sys
import tempfile
from pathlib import Path

import pandas as pd

import dask_ocr
from dask_ocr.metrics import cer
from dask_ocr.synthetic import make_sample_pages


def main(output: Path) -> None:
    scans = output / "scans"
    scans.mkdir(parents=True, exist_ok=True)
    pages = make_sample_pages(6)
    for page in pages:
        (scans / page.name).write_bytes(page.content)

    ddf = dask_ocr.read_images(str(scans / "*.jpg"), files_per_partition=2)
    out = ddf.ocr.detect().ocr.recognize()
    out.drop(columns="content").to_parquet(output / "results.parquet")

    results = pd.read_parquet(output / "results.parquet", dtype_backend="pyarrow")  # the nested columns as written
    truth = {page.name: page.text for page in pages}
    for path, text in zip(results["path"], results["text"], strict=True):
        name = Path(path).name
        print(f"{name}: CER {cer(truth[name], text):.2%}  first line: {text.splitlines()[0]!r}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="dask_ocr_")))
